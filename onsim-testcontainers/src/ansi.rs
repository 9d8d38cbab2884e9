//! Terminal colour codes out of a log.

/// `s` without ANSI escape sequences (`ESC [ … letter`): onsim's log on stderr is
/// coloured when it thinks it has a terminal, and tests search it for plain text.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::strip_ansi;

    #[test]
    fn colour_codes_go_text_stays() {
        assert_eq!(
            strip_ansi("\x1b[2m2025\x1b[0m \x1b[32m INFO\x1b[0m onsim serve: ready"),
            "2025  INFO onsim serve: ready"
        );
        assert_eq!(strip_ansi("plain 日本語"), "plain 日本語");
        assert_eq!(strip_ansi(""), "");
    }
}
