//! The qualification terminal (資格確認端末) file drop, pure part: given a request
//! file's name and bytes, decide the response file's name and bytes. The thin driver
//! that watches folders is `sim::terminal`.
//!
//! Names (docs/INTERFACE.md §1): the clinic writes `req/OQSsiquc01req_<id>.xml`; the
//! answer is `res/OQSsiquc01res_<id>.xml` (`req` replaced by `res`). A failed bulk
//! request is also reported in `OQSmuquc0Nreq_<id>.err` (the request's name, `.err`
//! for its extension: [`OutFile::err`]). Card confirmations arrive unsolicited as
//! `face/OQSsiquc01res_face_<institution code><20 hex>_<yyyyMMddHHmmss>.xml`
//! ([`face_file_name`]).

use chrono::NaiveDateTime;

use super::answer::{abnormal_at, reference_of, ReaderConsents, Service, VerifiedCardHolder};
use super::error::{EligibilityError, ErrorCode};
use super::other::Answered;
use super::values::{QualificationValidity, SegmentOfResult};
use super::xml::{
    parse_request, parse_response, MessageKind, Refusal, RequestEcho, Response, ResponseBody,
};
use crate::codes::InstitutionCode;
use crate::time::VirtualTime;

/// A file to write, and a log line about it that holds no personal data.
#[derive(Clone, PartialEq, Eq)]
pub struct OutFile {
    pub name: String,
    pub bytes: Vec<u8>,
    pub summary: Summary,
    /// For a failed bulk request (abnormal answer to `OQSmuquc01`/`OQSmuquc02`): the
    /// `.err` file to write beside the answer, named after the request with `.err`
    /// for its extension (`OQSmuquc01req_X.err`: docs/INTERFACE.md §1, SK agent).
    /// Its content is the abnormal XmlMsg answer *(our choice)*: the real content
    /// is not public.
    pub err: Option<ErrFile>,
}

/// The `.err` report of a failed bulk request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The `.err` name for a request name: its extension (if any) replaced by `.err`.
pub fn err_name(request_name: &str) -> String {
    let stem = match request_name.rfind('.') {
        Some(i) if i > 0 => &request_name[..i],
        _ => request_name,
    };
    format!("{stem}.err")
}

impl OutFile {
    fn new(name: String, kind: Option<MessageKind>, request_name: &str, r: &Response) -> Self {
        let bytes = r.render();
        let bulk = matches!(
            kind,
            Some(MessageKind::BulkUpload | MessageKind::BulkDownload)
        );
        let err =
            (bulk && r.header.segment_of_result == SegmentOfResult::Abnormal).then(|| ErrFile {
                name: err_name(request_name),
                bytes: bytes.clone(),
            });
        OutFile {
            name,
            summary: Summary::of(kind, r),
            bytes,
            err,
        }
    }
}

/// `OQSsiquc01res_face_<10-digit institution code><20 hex>_<yyyyMMddHHmmss>.xml`, the
/// real face-file name form (MR docs §20, e.g.
/// `OQSsiquc01res_face_27142063864da5260a16de5a3d3ad7_20260929160112.xml`). The 20
/// hex digits are a pure function of `(seed, serial)`, distinct for distinct serials
/// *(our choice)*: 4 from the seed, 16 from a bijective mix of seed and serial.
/// `stamp` is the time in the name (the driver picks wall clock or virtual time).
pub fn face_file_name(
    institution: InstitutionCode,
    seed: u64,
    serial: u64,
    stamp: NaiveDateTime,
) -> String {
    format!(
        "OQSsiquc01res_face_{}{:04x}{:016x}_{}.xml",
        institution.digits(),
        mix(seed) & 0xffff,
        mix(seed ^ serial),
        stamp.format("%Y%m%d%H%M%S")
    )
}

/// Whether `name` passes MR's filter `OQSsiquc01res_face_.+_(\d{14})\.xml`
/// (`FaceCaptureMonitor.cs`), read as a whole-name match.
pub fn is_face_file_name(name: &str) -> bool {
    face_file_stamp(name).is_some()
}

/// The 14-digit stamp of a face file name, if it is one.
pub fn face_file_stamp(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("OQSsiquc01res_face_")?;
    let rest = rest.strip_suffix(".xml")?;
    let (head, stamp) = rest.rsplit_once('_')?;
    (!head.is_empty() && stamp.len() == 14 && stamp.bytes().all(|b| b.is_ascii_digit()))
        .then_some(stamp)
}

/// splitmix64's finaliser: a bijection on u64.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl std::fmt::Debug for OutFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutFile")
            .field("name", &self.name)
            .field("bytes", &self.bytes.len())
            .field("summary", &self.summary)
            .finish()
    }
}

/// What a response said, for logs: kind, result segment, error code, validities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub kind: Option<MessageKind>,
    pub segment: SegmentOfResult,
    pub error_code: Option<ErrorCode>,
    pub validities: Vec<QualificationValidity>,
    pub reception_number: Option<String>,
}

impl Summary {
    pub fn of(kind: Option<MessageKind>, r: &Response) -> Self {
        let header_number = r.header.reception_number.clone();
        let (validities, reception_number) = match &r.body {
            ResponseBody::Empty => (Vec::new(), header_number),
            ResponseBody::Single(a) => (a.qualification_validity.into_iter().collect(), None),
            ResponseBody::BulkAccepted {
                reception_number, ..
            } => (Vec::new(), Some(reception_number.clone())),
            ResponseBody::BulkPending => (Vec::new(), header_number),
            ResponseBody::BulkResults { answers } => (
                answers
                    .iter()
                    .filter_map(|a| a.qualification_validity)
                    .collect(),
                header_number,
            ),
        };
        Summary {
            kind,
            segment: r.header.segment_of_result,
            error_code: r.header.error_code,
            validities,
            reception_number,
        }
    }
}

/// Longest file name the terminal writes *(our choice: 255 bytes, the limit of ext4,
/// XFS, APFS, NTFS (in UTF-16 units) and SMB shares)*.
pub const MAX_NAME_BYTES: usize = 255;

/// Prefix of answers to names that are not `<id>req_…`.
pub const UNKNOWN_PREFIX: &str = "onsim_unknown_";

/// Prefix of answers whose name would be too long.
pub const LONG_NAME_PREFIX: &str = "onsim_longname_";

/// The answer's name for a request name. Rule *(our choice; injective, so no
/// request can take another's answer name)*:
///
/// 1. `<A>req_<rest>`, `A` one or more ASCII letters or digits — every real request
///    kind (`OQSsiquc01req_…`, docs/INTERFACE.md §1) and kinds onsim does not know —
///    → `<A>res_<rest>` (the real rule: `req` replaced by `res`).
/// 2. anything else → `onsim_unknown_<name>`. So a mis-named
///    `OQSsiquc01res_A.xml` is answered as `onsim_unknown_OQSsiquc01res_A.xml`, not
///    under the name `OQSsiquc01req_A.xml`'s answer takes.
///
/// Rule 1 is one-to-one (`<A>res` is the longest alphanumeric prefix of the answer,
/// so `A` can be read back); rule 2 is; and the two never meet (the longest
/// alphanumeric prefix of `onsim_…` is `onsim`, which does not end in `res`).
/// Answers that would exceed [`MAX_NAME_BYTES`] take [`long_response_name`] instead.
pub fn response_name(request_name: &str) -> String {
    // The longest ASCII alphanumeric prefix: `<A>req` when rule 1 applies.
    let p = request_name
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    if p > 3 && request_name[..p].ends_with("req") && request_name[p..].starts_with('_') {
        format!("{}res{}", &request_name[..p - 3], &request_name[p..])
    } else {
        format!("{UNKNOWN_PREFIX}{request_name}")
    }
}

/// The short name an answer takes when [`response_name`] is longer than
/// [`MAX_NAME_BYTES`]: `onsim_longname_<16 hex of SHA-256 of the request name>.xml`
/// (35 bytes) *(our choice)*. The client finds it by the echoed
/// `ArbitraryFileIdentifier`. Its own namespace (never `<A>res_…` or
/// `onsim_unknown_…`); two request names sharing the 64-bit hash would meet the
/// driver's never-overwrite rule, not replace each other.
pub fn long_response_name(request_name: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(request_name.as_bytes());
    let mut out = String::with_capacity(35);
    out.push_str(LONG_NAME_PREFIX);
    for b in &d[..8] {
        out.push_str(&format!("{b:02x}"));
    }
    out.push_str(".xml");
    out
}

/// The pure terminal: an answering [`Service`] plus the serial of face files.
#[derive(Debug, Clone)]
pub struct Terminal {
    pub service: Service,
    face_serial: u64,
    /// Seed of the face-file names (the population's seed).
    face_seed: u64,
}

impl Terminal {
    pub fn new(service: Service) -> Self {
        let face_seed = service.population.config().seed;
        Terminal {
            service,
            face_serial: 0,
            face_seed,
        }
    }

    /// Answer a request file. Unknown prefixes and malformed content get an abnormal
    /// response file too, never silence.
    pub fn handle_file(&mut self, name: &str, bytes: &[u8], now: VirtualTime) -> OutFile {
        let kind = MessageKind::of_request_file(name);
        // Every kind, the other interfaces (docs/INTERFACE.md §5) included.
        match self.service.answer_any(kind, bytes, now) {
            Answered::Qualification(r) => OutFile::new(response_name(name), kind, name, &r),
            Answered::Other(r) => OutFile {
                name: response_name(name),
                bytes: r.render(),
                summary: r.summary(),
                // `.err` files are documented for OQSmuquc01/02 only (SK agent).
                err: None,
            },
        }
    }

    /// What the terminal answers by itself, without asking the implementing body:
    /// an unknown file-name prefix, a request that does not parse, or one naming
    /// another institution than the terminal's (the same rules as
    /// [`Service::handle`]). `None`: the request is fit to be forwarded.
    ///
    /// The other interfaces (薬剤情報, 特定健診, 照会番号, the 医療扶助 / オンライン /
    /// 訪問 bulk kinds; docs/INTERFACE.md §5) are answered here, by the terminal
    /// itself *(our choice: the implementing body's API has no routes for them)*;
    /// an unknown kind's refusal echoes the document's identifiers.
    pub fn local_refusal(&mut self, name: &str, bytes: &[u8], now: VirtualTime) -> Option<OutFile> {
        let kind = MessageKind::of_request_file(name);
        if kind.is_some_and(MessageKind::is_other) {
            return Some(self.handle_file(name, bytes, now));
        }
        let cfg = &self.service.config;
        let refusal = match kind {
            None => Refusal {
                error: EligibilityError::new(
                    ErrorCode::UnknownMessage,
                    format!("expected one of {}", super::other::known_prefixes()),
                ),
                echo: super::other::salvage_echo(bytes, &cfg.limits),
            },
            Some(k) => match parse_request(k, bytes, &cfg.limits) {
                Err(r) => r,
                Ok(req)
                    if cfg.check_institution
                        && req.header.medical_institution_code != self.service.institution =>
                {
                    Refusal {
                        error: EligibilityError::new(
                            ErrorCode::InstitutionMismatch,
                            format!(
                                "request {}, terminal {}",
                                req.header.medical_institution_code, self.service.institution
                            ),
                        ),
                        echo: echo_of(&req.header),
                    }
                }
                Ok(_) => return None,
            },
        };
        Some(self.abnormal_file(name, kind, &refusal, now))
    }

    /// The answer file for what the implementing body said about a forwarded
    /// request: its XmlMsg response as it came (after checking that it is one), or,
    /// when the centre could not be reached or answered with an error, an abnormal
    /// answer (`SegmentOfResult` 9, [`ErrorCode::CentreUnreachable`] or
    /// [`ErrorCode::CentreError`]) that echoes the request's header. Never silence.
    pub fn remote_answer(
        &self,
        name: &str,
        request: &[u8],
        answer: Result<Vec<u8>, EligibilityError>,
        now: VirtualTime,
    ) -> OutFile {
        let kind = MessageKind::of_request_file(name);
        let error = match answer {
            Ok(bytes) => match parse_response(&bytes) {
                Ok(r) => {
                    let bulk_failed = matches!(
                        kind,
                        Some(MessageKind::BulkUpload | MessageKind::BulkDownload)
                    ) && r.header.segment_of_result == SegmentOfResult::Abnormal;
                    return OutFile {
                        name: response_name(name),
                        summary: Summary::of(kind, &r),
                        err: bulk_failed.then(|| ErrFile {
                            name: err_name(name),
                            bytes: bytes.clone(),
                        }),
                        bytes,
                    };
                }
                Err(e) => EligibilityError::new(
                    ErrorCode::CentreError,
                    format!("the answer is not an XmlMsg response ({})", e.code),
                ),
            },
            Err(e) => e,
        };
        let echo = kind
            .and_then(|k| parse_request(k, request, &self.service.config.limits).ok())
            .map(|r| echo_of(&r.header))
            .unwrap_or_default();
        self.abnormal_file(name, kind, &Refusal { error, echo }, now)
    }

    fn abnormal_file(
        &self,
        name: &str,
        kind: Option<MessageKind>,
        refusal: &Refusal,
        now: VirtualTime,
    ) -> OutFile {
        let response = abnormal_at(
            refusal,
            reference_of(kind),
            self.service.stamp(now),
            self.service.config.default_character_code,
        );
        OutFile::new(response_name(name), kind, name, &response)
    }

    /// The unsolicited answer to a card confirmation at the reader, its name
    /// stamped with the answer's `ProcessExecutionTime` (virtual time). See
    /// [`Terminal::face_at`] to stamp the name otherwise.
    pub fn face(
        &mut self,
        holder: &VerifiedCardHolder,
        consents: ReaderConsents,
        now: VirtualTime,
    ) -> OutFile {
        self.face_at(holder, consents, now, None)
    }

    /// The face-file name for `serial` and `stamp` ([`face_file_name`] with this
    /// terminal's institution and seed), for a driver that picks its own serials
    /// (e.g. to step past names a previous run left in `face/`).
    pub fn face_name(&self, serial: u64, stamp: NaiveDateTime) -> String {
        face_file_name(self.service.institution, self.face_seed, serial, stamp)
    }

    /// The unsolicited answer to a card confirmation at the reader, named by
    /// [`face_file_name`] with this terminal's institution, a per-terminal serial
    /// (from 1) and `name_time` — e.g. the wall clock, since MR takes only files
    /// stamped today — or, when `None`, the answer's `ProcessExecutionTime`.
    pub fn face_at(
        &mut self,
        holder: &VerifiedCardHolder,
        consents: ReaderConsents,
        now: VirtualTime,
        name_time: Option<NaiveDateTime>,
    ) -> OutFile {
        self.face_serial += 1;
        // With the registered 照会番号, and the consents remembered for the
        // 薬剤情報 / 特定健診 requests that follow.
        let response = self.service.card_with_references(holder, consents, now);
        let stamp = name_time.unwrap_or(response.header.process_execution_time);
        let name = face_file_name(
            self.service.institution,
            self.face_seed,
            self.face_serial,
            stamp,
        );
        OutFile::new(name, Some(MessageKind::Single), "", &response)
    }
}

fn echo_of(h: &super::xml::RequestHeader) -> RequestEcho {
    RequestEcho {
        qualification_confirmation_date: h.qualification_confirmation_date,
        medical_institution_code: Some(h.medical_institution_code.to_string()),
        arbitrary_file_identifier: h.arbitrary_file_identifier.clone(),
        character_code_identifier: h.character_code_identifier,
        reception_number: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_names() {
        assert_eq!(
            response_name("OQSsiquc01req_20240401_1.xml"),
            "OQSsiquc01res_20240401_1.xml"
        );
        assert_eq!(
            response_name("OQSmuquc02req_req.xml"),
            "OQSmuquc02res_req.xml"
        );
        assert_eq!(response_name("foo_req.xml"), "onsim_unknown_foo_req.xml");
        assert_eq!(response_name("hello.xml"), "onsim_unknown_hello.xml");
        assert_eq!(
            response_name("OQSsiquc01res_A.xml"),
            "onsim_unknown_OQSsiquc01res_A.xml"
        );
        let long = long_response_name(&"x".repeat(300));
        assert!(
            long.starts_with(LONG_NAME_PREFIX) && long.len() == 35,
            "{long}"
        );
    }

    /// docs/INTERFACE.md §1 row 4: `.err` beside the request name.
    #[test]
    fn interface_1_err_file_beside_the_request_name() {
        assert_eq!(err_name("OQSmuquc01req_x.xml"), "OQSmuquc01req_x.err");
        assert_eq!(err_name("OQSmuquc02req_a.b.xml"), "OQSmuquc02req_a.b.err");
        assert_eq!(err_name("OQSmuquc02req_x"), "OQSmuquc02req_x.err");
    }

    /// docs/INTERFACE.md §1 row 6: the face-file name form and MR's filter.
    #[test]
    fn interface_1_face_file_names_pass_the_real_filter() {
        let inst: InstitutionCode = "1313120014".parse().unwrap();
        let t = chrono::NaiveDate::from_ymd_opt(2026, 9, 29)
            .unwrap()
            .and_hms_opt(16, 1, 12)
            .unwrap();
        let names: Vec<String> = (1..=1000).map(|n| face_file_name(inst, 7, n, t)).collect();
        for n in &names {
            assert!(is_face_file_name(n), "{n}");
            assert_eq!(face_file_stamp(n), Some("20260929160112"));
            let body = &n["OQSsiquc01res_face_".len()..n.len() - "_20260929160112.xml".len()];
            assert_eq!(body.len(), 30, "{n}");
            assert!(body.starts_with("1313120014"));
            assert!(body[10..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        }
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
        assert_eq!(face_file_name(inst, 7, 5, t), face_file_name(inst, 7, 5, t));
        // The real example, and names the filter refuses.
        assert!(is_face_file_name(
            "OQSsiquc01res_face_27142063864da5260a16de5a3d3ad7_20260929160112.xml"
        ));
        for bad in [
            "OQSsiquc01res_face_20260929160112.xml",
            "OQSsiquc01res_face__20260929160112.xml",
            "OQSsiquc01res_face_x_2026092916011.xml",
            "OQSsiquc01res_face_x_20260929160112.xml.tmp",
            "OQSsiquc01res_x_20260929160112.xml",
        ] {
            assert!(!is_face_file_name(bad), "{bad}");
        }
    }
}
