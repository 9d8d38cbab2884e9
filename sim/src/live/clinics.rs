//! The clinics of one `onsim serve` (issue 17 item 2: several clinics in one serve,
//! for multi-tenant clinic systems).
//!
//! Each clinic is one scenario file (or, without `--scenario`, the one default
//! clinic): its own live [`World`] (actors, seed, faults, verdict), its institution
//! code, its credential matrix (`pki/<code>/` when there are several), its
//! population and its terminal folder. Every clinic runs on the serve's one virtual
//! clock, behind the same service ports. A request says which clinic it is for:
//!
//! - on the JSON services, the header [`HEADER`] (`Onsim-Clinic: <id>`) *(our
//!   choice: a header leaves every path and body as it is, so a single-clinic client
//!   works unchanged and a generated client adds one parameter)*. Without it, a serve
//!   of one clinic means that clinic (everything works as before there were several);
//!   a serve of several answers 400 naming the header and listing the ids; an id no
//!   clinic has is a 404 naming it ([`choose`]);
//! - on the eligibility API (mutual TLS), the institution code the client
//!   certificate is bound to ([`by_code`]).
//!
//! A clinic's id is its scenario file's stem (`outage-on-go-live` for
//! `scenarios/network/outage-on-go-live.toml`), or the `ID` of `--scenario ID=FILE`
//! *(our choice: a file stem is already unique in a folder, readable, and fits in a
//! header; a scenario's `name` is free text)*; ids are checked by [`check_id`], and
//! two clinics of one id are refused at start naming both files.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use fakes::codes::InstitutionCode;
use fakes::eligibility::Population;
use fakes::pki::Issued;

use super::reader::FaceSink;
use super::world::World;

/// The header that names the clinic a JSON request is for *(our choice)*.
pub const HEADER: &str = "Onsim-Clinic";

/// The id of the one clinic of a serve without `--scenario` *(our choice)*.
pub const DEFAULT_ID: &str = "clinic";

/// Longest clinic id *(our choice)*.
pub const MAX_ID_LEN: usize = 64;

/// The pattern every clinic id matches (written into the OpenAPI documents).
pub const ID_PATTERN: &str = "^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$";

/// One clinic of a running serve.
pub struct LiveClinic {
    /// Its id (the [`HEADER`]'s value).
    pub id: String,
    /// The code its bureau hands out first: `valid.crt` and its terminal are bound to it.
    pub institution: InstitutionCode,
    /// The code `other-institution.crt` is bound to.
    pub other_institution: InstitutionCode,
    /// Its actors, clock-driven like every clinic's.
    pub world: Arc<World>,
    /// Its credential matrix, in [`super::pki::MATRIX`] order.
    pub credentials: Vec<(&'static str, Issued)>,
    /// Its insured persons (its terminal, its reader and `POST /cards` draw on them).
    pub population: Population,
    /// Where the simulated reader sends its card confirmations (the clinic's own
    /// listener on the carrier proxy, judged by its line and faults).
    pub reader_centre: SocketAddr,
    /// Where its face files go (set once its file drop runs).
    pub face: OnceLock<FaceSink>,
}

impl std::fmt::Debug for LiveClinic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveClinic")
            .field("id", &self.id)
            .field("institution", &self.institution)
            .finish_non_exhaustive()
    }
}

impl LiveClinic {
    /// The credential `name` of its matrix.
    pub fn credential(&self, name: &str) -> Option<&Issued> {
        self.credentials
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| c)
    }
}

/// Is `id` a usable clinic id: 1 to [`MAX_ID_LEN`] letters, digits, `_`, `.` or `-`,
/// not starting with `.` or `-`? `Err` says what is wrong.
pub fn check_id(id: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(format!(
            "clinic id {id:?} must have 1 to {MAX_ID_LEN} characters"
        ));
    }
    if id.starts_with(['.', '-']) || !id.chars().all(ok_char) {
        return Err(format!(
            "clinic id {id:?} may hold only letters, digits, '_', '.' and '-' (not first: '.' or '-')"
        ));
    }
    Ok(())
}

/// Why a request names no clinic of the serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unchosen {
    /// No [`HEADER`], and the serve runs several clinics (their ids).
    Missing(Vec<String>),
    /// The header names no clinic of the serve (the value, the ids).
    Unknown(String, Vec<String>),
    /// The header's value is not text.
    NotText,
}

impl Unchosen {
    /// The HTTP status: 400 for a missing or unreadable header, 404 for an unknown id.
    pub fn status(&self) -> u16 {
        match self {
            Unchosen::Missing(_) | Unchosen::NotText => 400,
            Unchosen::Unknown(..) => 404,
        }
    }
}

impl std::fmt::Display for Unchosen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unchosen::Missing(ids) => write!(
                f,
                "this serve runs {} clinics: name one with the {HEADER} header (one of {})",
                ids.len(),
                ids.join(", ")
            ),
            Unchosen::Unknown(v, ids) => write!(
                f,
                "no clinic {v:?} in this serve ({HEADER}: one of {})",
                ids.join(", ")
            ),
            Unchosen::NotText => write!(f, "the {HEADER} header is not text"),
        }
    }
}

/// The index of the clinic a request names with the [`HEADER`] value `header`
/// among clinics of ids `ids` (in serve order). Absent: the only clinic, if there
/// is one.
pub fn choose(ids: &[&str], header: Option<&[u8]>) -> Result<usize, Unchosen> {
    let all = || ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match header {
        None if ids.len() == 1 => Ok(0),
        None => Err(Unchosen::Missing(all())),
        Some(raw) => {
            let v = std::str::from_utf8(raw)
                .map_err(|_| Unchosen::NotText)?
                .trim();
            ids.iter()
                .position(|id| *id == v)
                .ok_or_else(|| Unchosen::Unknown(v.to_string(), all()))
        }
    }
}

/// The clinic whose institution code is `code` among `codes` (the eligibility API's
/// routing by client certificate); `None` when none has it.
pub fn by_code(codes: &[InstitutionCode], code: InstitutionCode) -> Option<usize> {
    codes.iter().position(|c| *c == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_clinic_needs_no_header_several_do() {
        assert_eq!(choose(&["a"], None), Ok(0));
        assert_eq!(choose(&["a"], Some(b"a")), Ok(0));
        let e = choose(&["a", "b"], None).unwrap_err();
        assert_eq!(e.status(), 400);
        let m = e.to_string();
        assert!(m.contains(HEADER) && m.contains("a, b"), "{m}");
        assert_eq!(choose(&["a", "b"], Some(b"b")), Ok(1));
        assert_eq!(choose(&["a", "b"], Some(b" b ")), Ok(1));
        let e = choose(&["a", "b"], Some(b"c")).unwrap_err();
        assert_eq!(e.status(), 404);
        assert!(e.to_string().contains("\"c\""), "{e}");
        // With one clinic, a header naming another is still an unknown id.
        assert_eq!(choose(&["a"], Some(b"b")).unwrap_err().status(), 404);
        assert_eq!(
            choose(&["a"], Some(&[0xff, 0xfe])).unwrap_err(),
            Unchosen::NotText
        );
    }

    #[test]
    fn ids_are_checked() {
        for ok in ["clinic", "outage-on-go-live", "r2024_medical.tokyo", "a"] {
            check_id(ok).unwrap();
        }
        for bad in ["", ".hidden", "-x", "a b", "a/b", "日本", &"x".repeat(65)] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn codes_choose_their_clinic() {
        let code = |pref: u8, n: u16| {
            InstitutionCode::new(
                fakes::codes::Prefecture::new(pref).unwrap(),
                fakes::codes::FeeTable::Medical,
                1,
                n,
            )
            .unwrap()
        };
        let a = code(4, 101);
        let b = code(13, 101);
        assert_eq!(by_code(&[a, b], b), Some(1));
        assert_eq!(by_code(&[a, b], a), Some(0));
        let other = code(13, 9001);
        assert_eq!(by_code(&[a, b], other), None);
    }

    proptest! {
        /// Every valid id of a serve chooses itself; every other valid id is a 404.
        #[test]
        fn every_id_chooses_itself(ids in proptest::collection::btree_set("[a-z][a-z0-9-]{0,8}", 1..6), other in "[a-z][a-z0-9-]{0,8}") {
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            for (i, id) in ids.iter().enumerate() {
                prop_assert!(check_id(id).is_ok());
                prop_assert_eq!(choose(&ids, Some(id.as_bytes())), Ok(i));
            }
            if !ids.contains(&other.as_str()) {
                prop_assert_eq!(choose(&ids, Some(other.as_bytes())).unwrap_err().status(), 404);
            }
        }
    }
}
