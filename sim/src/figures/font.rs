//! The font figures lay text out with (SVG) and draw it with (PNG).
//!
//! plotters measures every label with a registered font, for SVG too (it places
//! labels by their width), so no font means no figure: [`ensure`] finds one or says
//! exactly what to install. The search order *(our choice)*: `--font FILE`, then
//! IPAPGothic from Debian's `fonts-ipafont-gothic` (scripts/install-deps installs it),
//! its `fonts-japanese-gothic` alternative, Noto Sans CJK (`fonts-noto-cjk`), and for
//! English labels only DejaVu Sans. The same font on every machine that has the
//! package gives the same bytes; the SVG names the family `sans-serif`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ab_glyph::{Font, FontRef};

use super::text::Lang;

/// The family figures ask plotters for (and the SVG names).
pub const FAMILY: &str = "sans-serif";

/// Fonts tried in order when `--font` is not given (IPAPGothic, the proportional
/// face, first: the fixed-width one spaces Latin labels out).
pub const CANDIDATES: &[&str] = &[
    "/usr/share/fonts/opentype/ipafont-gothic/ipagp.ttf",
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
];

/// Characters a font must have for each language (the Japanese set comes from the
/// labels in [`super::text`]).
fn probe(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "AZaz09%()",
        Lang::Ja => "指定日運用開始遅れ確率原因割合",
    }
}

/// The font registered with plotters (its path), once per process.
static REGISTERED: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Why `bytes` cannot serve `lang`, or `None` when it can.
fn unfit(bytes: &[u8], lang: Lang) -> Option<String> {
    let Ok(font) = FontRef::try_from_slice(bytes) else {
        return Some("not a TrueType/OpenType font".into());
    };
    let missing: String = probe(lang)
        .chars()
        .filter(|c| font.glyph_id(*c).0 == 0)
        .collect();
    (!missing.is_empty())
        .then(|| format!("has no glyphs for {missing:?} ({} labels)", lang.as_str()))
}

/// Register a font that has the glyphs `lang` needs and return its path: `explicit`
/// if given (an error names it when it does not fit), else the first fitting
/// [`CANDIDATES`]. A font registered earlier in this process that fits is kept.
pub fn ensure(explicit: Option<&Path>, lang: Lang) -> Result<PathBuf, String> {
    let mut reg = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = reg.as_ref() {
        if explicit.is_none_or(|e| e == p) {
            let bytes = std::fs::read(p).map_err(|e| format!("font {}: {e}", p.display()))?;
            if unfit(&bytes, lang).is_none() {
                return Ok(p.clone());
            }
        }
    }
    let (path, bytes) = match explicit {
        Some(p) => {
            let bytes = std::fs::read(p)
                .map_err(|e| format!("--font {}: cannot read it: {e}", p.display()))?;
            if let Some(why) = unfit(&bytes, lang) {
                return Err(format!("--font {}: {why}", p.display()));
            }
            (p.to_path_buf(), bytes)
        }
        None => {
            let mut tried = Vec::new();
            let found = CANDIDATES.iter().find_map(|c| {
                let bytes = std::fs::read(c).ok()?;
                match unfit(&bytes, lang) {
                    None => Some((PathBuf::from(c), bytes)),
                    Some(why) => {
                        tried.push(format!("{c} {why}"));
                        None
                    }
                }
            });
            found.ok_or_else(|| {
                let detail = if tried.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", tried.join("; "))
                };
                format!(
                    "no font for {} figure labels{detail}: install Debian's fonts-ipafont-gothic (scripts/install-deps) or pass --font FILE (a .ttf/.otf/.ttc with Japanese glyphs for --lang ja)",
                    lang.as_str()
                )
            })?
        }
    };
    // plotters keeps fonts for the life of the process (`&'static`); one font file a
    // process, a few MB, so leaking it is bounded.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, bytes)
        .map_err(|_| format!("font {}: plotters cannot read it", path.display()))?;
    *reg = Some(path.clone());
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_no_font_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.ttf");
        std::fs::write(&p, b"not a font").unwrap();
        let e = ensure(Some(&p), Lang::En).unwrap_err();
        assert!(e.contains("x.ttf") && e.contains("not a TrueType"), "{e}");
        let e = ensure(Some(&dir.path().join("missing.ttf")), Lang::En).unwrap_err();
        assert!(
            e.contains("missing.ttf") && e.contains("cannot read"),
            "{e}"
        );
    }

    #[test]
    fn dejavu_has_no_japanese() {
        let p = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
        let Ok(bytes) = std::fs::read(p) else {
            return; // not installed here: nothing to check
        };
        assert!(unfit(&bytes, Lang::En).is_none());
        assert!(unfit(&bytes, Lang::Ja).unwrap().contains("no glyphs"));
    }
}
