//! A card the face-auth reader (顔認証付きカードリーダー) could not confirm: the
//! unsolicited `face/` answer the terminal writes for it. One rule for every driver:
//! the live reader (`POST /reader/present`), the conformance gate and the tests.
//!
//! The real terminal's answer for a refused card is not public. *(our choice)*: a
//! normal header (`SegmentOfResult` 1: the terminal worked) whose body says
//! `ProcessingResultStatus` 2 with a `ProcessingResultCode` of our own table below and
//! no qualification, so a client can tell "card refused" from "centre failed"
//! (`SegmentOfResult` 9). Listed in docs/SEEDS.md and reports/notes/eligibility.md.

use chrono::NaiveDateTime;

use super::answer::abnormal_at;
use super::encoding::CharacterCode;
use super::error::EligibilityError;
use super::terminal::{OutFile, Summary, Terminal};
use super::values::{ProcessingResultStatus, ReferenceClassification, SegmentOfResult};
use super::xml::{Answer, Refusal, RequestEcho, Response, ResponseBody, ResponseHeader};
use crate::codes::InstitutionCode;
use crate::time::VirtualTime;

/// Why the reader refused the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardRefusal {
    /// The card's user-authentication certificate (利用者証明用電子証明書) has expired.
    CertificateExpired,
    /// The PIN is locked after three wrong tries (docs/DOMAIN.md §8).
    PinLocked,
    /// The card's certificate was revoked (失効).
    CertificateRevoked,
}

impl CardRefusal {
    pub const ALL: [CardRefusal; 3] = [
        CardRefusal::CertificateExpired,
        CardRefusal::PinLocked,
        CardRefusal::CertificateRevoked,
    ];

    /// `ProcessingResultCode` *(our choice)*.
    pub fn code(self) -> &'static str {
        match self {
            CardRefusal::CertificateExpired => "C001",
            CardRefusal::PinLocked => "C002",
            CardRefusal::CertificateRevoked => "C003",
        }
    }

    /// `ProcessingResultMessage`, Japanese then English *(our choice)*.
    pub fn message(self) -> &'static str {
        match self {
            CardRefusal::CertificateExpired => {
                "利用者証明用電子証明書の有効期限が切れています / card certificate expired"
            }
            CardRefusal::PinLocked => "暗証番号がロックされています / PIN locked",
            CardRefusal::CertificateRevoked => {
                "利用者証明用電子証明書は失効しています / card certificate revoked"
            }
        }
    }

    /// The refusal a `ProcessingResultCode` stands for.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// The answer for a refused card, stamped `stamp`, in `encoding`.
pub fn refused_card_response(
    institution: InstitutionCode,
    reason: CardRefusal,
    stamp: NaiveDateTime,
    encoding: CharacterCode,
) -> Response {
    Response {
        header: ResponseHeader {
            process_execution_time: stamp,
            qualification_confirmation_date: Some(stamp.date()),
            medical_institution_code: Some(institution.to_string()),
            arbitrary_file_identifier: None,
            reception_number: None,
            reference_classification: Some(ReferenceClassification::Card),
            segment_of_result: SegmentOfResult::Normal,
            error_code: None,
            error_message: None,
            counts: None,
            character_code_identifier: encoding,
        },
        body: ResponseBody::Single(Answer {
            search: None,
            processing_result_status: ProcessingResultStatus::Error,
            processing_result_code: Some(reason.code().into()),
            processing_result_message: Some(reason.message().into()),
            qualification_validity: None,
            results: vec![],
            prescription_issue_select: None,
            reference_number: None,
        }),
    }
}

/// A card presentation that produced no confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unconfirmed {
    /// The reader or the implementing body refused the card.
    Refused(CardRefusal),
    /// The implementing body could not be reached or failed
    /// ([`ErrorCode::CentreUnreachable`] / [`ErrorCode::CentreError`]): an abnormal
    /// answer (`SegmentOfResult` 9), as for a failed inquiry.
    CentreFailed(EligibilityError),
}

impl Terminal {
    /// The `face/` file for a card presentation that confirmed nothing, stamped from
    /// this terminal's clock and named like every face file
    /// ([`Terminal::face_name`]; the driver renames it with its own serial and stamp).
    pub fn unconfirmed_face(&mut self, what: Unconfirmed, now: VirtualTime) -> OutFile {
        let stamp = self.service.stamp(now);
        let encoding = self.service.config.default_character_code;
        let institution = self.service.institution;
        let response = match what {
            Unconfirmed::Refused(reason) => {
                refused_card_response(institution, reason, stamp, encoding)
            }
            Unconfirmed::CentreFailed(error) => abnormal_at(
                &Refusal {
                    error,
                    echo: RequestEcho {
                        medical_institution_code: Some(institution.to_string()),
                        ..RequestEcho::default()
                    },
                },
                Some(ReferenceClassification::Card),
                stamp,
                encoding,
            ),
        };
        OutFile {
            name: self.face_name(0, stamp),
            bytes: response.render(),
            summary: Summary::of(Some(super::xml::MessageKind::Single), &response),
            err: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eligibility::xml::parse_response;

    #[test]
    fn refused_answers_re_parse_with_their_code() {
        let inst: InstitutionCode = "1313120014".parse().unwrap();
        let t = chrono::NaiveDate::from_ymd_opt(2025, 4, 1)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        for reason in CardRefusal::ALL {
            for enc in [CharacterCode::Utf8, CharacterCode::ShiftJis] {
                let r = refused_card_response(inst, reason, t, enc);
                let back = parse_response(&r.render()).unwrap();
                assert_eq!(back, r);
                let ResponseBody::Single(a) = &back.body else {
                    panic!()
                };
                assert_eq!(
                    a.processing_result_code
                        .as_deref()
                        .and_then(CardRefusal::from_code),
                    Some(reason)
                );
            }
        }
    }
}
