//! The qualification terminal (資格確認端末) file drop, pure part: given a request
//! file's name and bytes, decide the response file's name and bytes. The thin driver
//! that watches folders is `sim::terminal`.
//!
//! Names (docs/DOMAIN.md §7): the clinic writes `req/OQSsiquc01req_<id>.xml`; the answer is
//! `res/OQSsiquc01res_<id>.xml` (`req` replaced by `res`). Card confirmations arrive
//! unsolicited as `face/OQSsiquc01res_face_<YYYYMMDDHHmmss>_<n>.xml`.

use super::answer::{abnormal, ReaderConsents, Service, VerifiedCardHolder};
use super::error::{EligibilityError, ErrorCode};
use super::values::{QualificationValidity, ReferenceClassification, SegmentOfResult};
use super::xml::{
    parse_request, parse_response, MessageKind, Refusal, RequestEcho, Response, ResponseBody,
};
use crate::time::VirtualTime;

/// A file to write, and a log line about it that holds no personal data.
#[derive(Clone, PartialEq, Eq)]
pub struct OutFile {
    pub name: String,
    pub bytes: Vec<u8>,
    pub summary: Summary,
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
        let (validities, reception_number) = match &r.body {
            ResponseBody::Empty => (Vec::new(), None),
            ResponseBody::Single(a) => (a.qualification_validity.into_iter().collect(), None),
            ResponseBody::BulkAccepted {
                reception_number, ..
            }
            | ResponseBody::BulkPending { reception_number } => {
                (Vec::new(), Some(reception_number.clone()))
            }
            ResponseBody::BulkResults {
                reception_number,
                answers,
            } => (
                answers
                    .iter()
                    .filter_map(|a| a.qualification_validity)
                    .collect(),
                Some(reception_number.clone()),
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

/// The response name for a request name: the `req` of a known prefix becomes `res`;
/// for other names the first `req` becomes `res`; a name without `req` is kept
/// (the answer goes to another folder, so it cannot collide with the request).
pub fn response_name(request_name: &str) -> String {
    if let Some(k) = MessageKind::of_request_file(request_name) {
        let n = k.id().len();
        return format!("{}res{}", &request_name[..n], &request_name[n + 3..]);
    }
    request_name.replacen("req", "res", 1)
}

/// The pure terminal: an answering [`Service`] plus the serial of face files.
#[derive(Debug, Clone)]
pub struct Terminal {
    pub service: Service,
    face_serial: u64,
}

impl Terminal {
    pub fn new(service: Service) -> Self {
        Terminal {
            service,
            face_serial: 0,
        }
    }

    /// Answer a request file. Unknown prefixes and malformed content get an abnormal
    /// response file too, never silence.
    pub fn handle_file(&mut self, name: &str, bytes: &[u8], now: VirtualTime) -> OutFile {
        let kind = MessageKind::of_request_file(name);
        // H4: every kind, the other interfaces (docs/INTERFACE.md §5) included.
        let answered = self.service.answer_any(kind, bytes, now);
        OutFile {
            name: response_name(name),
            summary: answered.summary(kind),
            bytes: answered.render(),
        }
    }

    /// What the terminal answers by itself, without asking the implementing body:
    /// an unknown file-name prefix, a request that does not parse, or one naming
    /// another institution than the terminal's (the same rules as
    /// [`Service::handle`]). `None`: the request is fit to be forwarded.
    ///
    /// H4: the other interfaces (薬剤情報, 特定健診, 照会番号, the 医療扶助 / オンライン /
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
                    return OutFile {
                        name: response_name(name),
                        summary: Summary::of(kind, &r),
                        bytes,
                    }
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
        let response = abnormal(
            refusal,
            ReferenceClassification::InsuranceCard,
            now,
            self.service.config.default_character_code,
        );
        OutFile {
            name: response_name(name),
            summary: Summary::of(kind, &response),
            bytes: response.render(),
        }
    }

    /// The unsolicited answer to a card confirmation at the reader, named
    /// `OQSsiquc01res_face_<YYYYMMDDHHmmss>_<n>.xml` (n counts from 1 per terminal,
    /// so two confirmations in the same virtual minute do not collide).
    pub fn face(
        &mut self,
        holder: &VerifiedCardHolder,
        consents: ReaderConsents,
        now: VirtualTime,
    ) -> OutFile {
        self.face_serial += 1;
        let response = self.service.card(holder, consents, now);
        let stamp = super::values::fmt_time(super::values::naive(now));
        OutFile {
            name: format!("OQSsiquc01res_face_{stamp}_{}.xml", self.face_serial),
            summary: Summary::of(Some(MessageKind::Single), &response),
            bytes: response.render(),
        }
    }
}

fn echo_of(h: &super::xml::RequestHeader) -> RequestEcho {
    RequestEcho {
        qualification_confirmation_date: Some(h.qualification_confirmation_date),
        medical_institution_code: Some(h.medical_institution_code.to_string()),
        arbitrary_file_identifier: h.arbitrary_file_identifier.clone(),
        character_code_identifier: h.character_code_identifier,
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
        assert_eq!(response_name("foo_req.xml"), "foo_res.xml");
        assert_eq!(response_name("hello.xml"), "hello.xml");
    }
}
