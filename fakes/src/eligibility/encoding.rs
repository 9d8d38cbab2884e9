//! Bytes ⇄ text for XmlMsg files.
//!
//! Requests from clinic systems are Shift_JIS (docs/DOMAIN.md §7). We also accept UTF-8
//! when the XML declaration says so or the file starts with a UTF-8 BOM, because
//! newer clinic software writes UTF-8. Decoding is strict: a byte sequence that is
//! not valid in the chosen encoding is refused ([`ErrorCode::Undecodable`]), never
//! replaced with U+FFFD, so the clinic learns its file is broken.
//!
//! Shift_JIS here is the WHATWG `Shift_JIS` of `encoding_rs`, i.e. Windows-31J
//! (CP932) — what Japanese Windows software actually writes, NEC and IBM extensions
//! included.

use std::borrow::Cow;

use encoding_rs::{Encoding, SHIFT_JIS, UTF_8};

use super::error::{EligibilityError, ErrorCode};

/// The encoding of a response, as named by `CharacterCodeIdentifier`:
/// `"0"` = UTF-8, `"1"` = Shift_JIS (docs/INTERFACE.md §2: MC `codes.ts` and its face
/// fixture, the res watcher citing 別紙3-1 Ver8.07, MR's "real OQS response" test).
///
/// The `Default` is Shift_JIS *(our choice)*: the requests clinic software is seen
/// writing (OD's bulk requests, SX) are Shift_JIS, and a Shift_JIS reader (OD) fails
/// on UTF-8 text, while the UTF-8 readers follow the XML declaration or are told by
/// `CharacterCodeIdentifier`. The terminal's setting
/// (`AnswerConfig::default_character_code`) and each request's
/// `CharacterCodeIdentifier` override it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CharacterCode {
    #[default]
    ShiftJis,
    Utf8,
}

impl CharacterCode {
    pub fn identifier(self) -> &'static str {
        match self {
            CharacterCode::Utf8 => "0",
            CharacterCode::ShiftJis => "1",
        }
    }

    pub fn from_identifier(s: &str) -> Option<Self> {
        match s {
            "0" => Some(CharacterCode::Utf8),
            "1" => Some(CharacterCode::ShiftJis),
            _ => None,
        }
    }

    /// The label written in the XML declaration.
    pub fn xml_label(self) -> &'static str {
        match self {
            CharacterCode::ShiftJis => "Shift_JIS",
            CharacterCode::Utf8 => "UTF-8",
        }
    }

    fn encoding(self) -> &'static Encoding {
        match self {
            CharacterCode::ShiftJis => SHIFT_JIS,
            CharacterCode::Utf8 => UTF_8,
        }
    }
}

/// Decode a request file. Order: a UTF-8 BOM wins; then the `encoding` of the XML
/// declaration (Shift_JIS / Windows-31J / CP932 or UTF-8, any case); no declaration
/// or no encoding in it means Shift_JIS. Returns the text without the BOM and the
/// encoding that was used. Borrowed when the bytes are already the text (UTF-8, or
/// Shift_JIS that is all ASCII, as most requests are): no copy on the hot path.
pub fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, CharacterCode), EligibilityError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return strict(rest, CharacterCode::Utf8).map(|s| (s, CharacterCode::Utf8));
    }
    if bytes.starts_with(b"\xFE\xFF") || bytes.starts_with(b"\xFF\xFE") {
        return Err(EligibilityError::new(
            ErrorCode::UnsupportedEncoding,
            "UTF-16 byte order mark",
        ));
    }
    let code = match declared_encoding(bytes) {
        None => CharacterCode::ShiftJis,
        Some(label) => match code_of_label(label) {
            Some(code) => code,
            None => {
                return Err(EligibilityError::new(
                    ErrorCode::UnsupportedEncoding,
                    format!("encoding {label:?} in the XML declaration; use Shift_JIS or UTF-8"),
                ))
            }
        },
    };
    strict(bytes, code).map(|s| (s, code))
}

/// Labels of the XML declaration read as Shift_JIS (any case).
const SHIFT_JIS_LABELS: &[&str] = &[
    "shift_jis",
    "shift-jis",
    "sjis",
    "x-sjis",
    "windows-31j",
    "cp932",
    "ms_kanji",
    "csshiftjis",
];

/// Labels read as UTF-8 (any case).
const UTF_8_LABELS: &[&str] = &["utf-8", "utf8"];

/// The encoding an XML-declaration label stands for, as [`decode`] reads it (any
/// case); `None`: a label the terminal refuses.
pub fn code_of_label(label: &str) -> Option<CharacterCode> {
    if is_one_of(label, SHIFT_JIS_LABELS) {
        Some(CharacterCode::ShiftJis)
    } else if is_one_of(label, UTF_8_LABELS) {
        Some(CharacterCode::Utf8)
    } else {
        None
    }
}

fn is_one_of(label: &str, labels: &[&str]) -> bool {
    labels.iter().any(|l| l.eq_ignore_ascii_case(label))
}

fn strict(bytes: &[u8], code: CharacterCode) -> Result<Cow<'_, str>, EligibilityError> {
    code.encoding()
        .decode_without_bom_handling_and_without_replacement(bytes)
        .ok_or_else(|| {
            let at = first_bad_byte(bytes, code);
            EligibilityError::new(
                ErrorCode::Undecodable,
                format!("not valid {} at byte {at}", code.xml_label()),
            )
        })
}

/// Offset of the first byte the decoder rejects (for the error message).
fn first_bad_byte(bytes: &[u8], code: CharacterCode) -> usize {
    let mut dec = code.encoding().new_decoder_without_bom_handling();
    let mut out = String::with_capacity(bytes.len() * 3 + 16);
    let (res, read) = dec.decode_to_string_without_replacement(bytes, &mut out, true);
    match res {
        encoding_rs::DecoderResult::Malformed(bad, after) => {
            read.saturating_sub(usize::from(bad) + usize::from(after))
        }
        _ => read,
    }
}

/// The `encoding="…"` label of a leading XML declaration, read as ASCII (both
/// accepted encodings are ASCII-compatible there).
pub fn declared_encoding(bytes: &[u8]) -> Option<&str> {
    let head = &bytes[..bytes.len().min(256)];
    let head = head.strip_prefix(b"<?xml")?;
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let i = decl.find("encoding")?;
    let rest = decl[i + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?;
    let rest = rest.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &rest[1..];
    Some(&rest[..rest.find(quote)?])
}

/// Encode a response. Characters that Shift_JIS cannot hold become XML numeric
/// character references (`&#NNNN;`), which any XML reader turns back into the
/// character, so nothing is lost.
pub fn encode(text: &str, code: CharacterCode) -> Vec<u8> {
    match code {
        CharacterCode::Utf8 => text.as_bytes().to_vec(),
        CharacterCode::ShiftJis => SHIFT_JIS.encode(text).0.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_jis_is_the_default() {
        let sjis = encode("<a>資格確認ｼｶｸ</a>", CharacterCode::ShiftJis);
        assert_eq!(
            decode(&sjis).unwrap(),
            ("<a>資格確認ｼｶｸ</a>".into(), CharacterCode::ShiftJis)
        );
    }

    #[test]
    fn utf8_by_declaration_or_bom() {
        let decl = "<?xml version=\"1.0\" encoding='utf-8'?><a>資格</a>";
        assert_eq!(decode(decl.as_bytes()).unwrap().1, CharacterCode::Utf8);
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice("<a>資格</a>".as_bytes());
        assert_eq!(
            decode(&bom).unwrap(),
            ("<a>資格</a>".into(), CharacterCode::Utf8)
        );
    }

    #[test]
    fn bad_bytes_and_labels_are_refused() {
        let e = decode(b"<a>\x82</a>").unwrap_err();
        assert_eq!(e.code, ErrorCode::Undecodable);
        let e = decode(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>\xff</a>").unwrap_err();
        assert_eq!(e.code, ErrorCode::Undecodable);
        assert!(e.detail.contains("byte 41"), "{}", e.detail);
        let e = decode(b"<?xml version=\"1.0\" encoding=\"EUC-JP\"?><a/>").unwrap_err();
        assert_eq!(e.code, ErrorCode::UnsupportedEncoding);
    }

    /// docs/INTERFACE.md §2 row 1: 0 = UTF-8, 1 = Shift_JIS.
    #[test]
    fn interface_2_character_code_identifier_0_is_utf8_1_is_shift_jis() {
        assert_eq!(
            CharacterCode::from_identifier("0"),
            Some(CharacterCode::Utf8)
        );
        assert_eq!(
            CharacterCode::from_identifier("1"),
            Some(CharacterCode::ShiftJis)
        );
        assert_eq!(CharacterCode::Utf8.identifier(), "0");
        assert_eq!(CharacterCode::ShiftJis.identifier(), "1");
        assert_eq!(CharacterCode::from_identifier("2"), None);
    }

    #[test]
    fn unmappable_characters_become_references() {
        let b = encode("<a>😀</a>", CharacterCode::ShiftJis);
        assert_eq!(b, b"<a>&#128512;</a>");
    }
}
