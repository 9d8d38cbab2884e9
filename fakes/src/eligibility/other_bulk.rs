//! The 医療扶助 (`OQSmutic01/02`), オンライン診療 (`OQSmuonq01/02`) and 訪問診療
//! (`OQSmuhvq01/02`) bulk kinds (docs/INTERFACE.md §1, request kinds), and the bulk
//! job bookkeeping they share with the bulk 照会番号 registration.
//!
//! **Partial.** Uploads are read as OD `BulkQualificationService.cs`
//! (`CreateRequestAsync`) writes them — `MessageHeader` with
//! `MedicalInstitutionCode` and `ArbitraryFileIdentifier`, `MessageBody/
//! QualificationConfirmSearchInfo` with `MedicalTreatmentMonth` (`yyyyMM`, 医療扶助)
//! or `ExaminationDateFrom`/`To` or `ConsentDateFrom`/`To` (`yyyyMMdd`) and
//! `MedicalTreatmentFlag` (2 訪問診療, 3 オンライン診療) — checked, and accepted with a
//! `ReceptionNumber` and `ReceptionDateTime` (what OD `ReadUploadResultAsync`
//! reads). The download (`…02`, `MessageBody/ReceptionNumber`) is answered with
//! the identifiers echoed (`MedicalInstitutionCode`, the upload's
//! `ArbitraryFileIdentifier`, `ReceptionNumber` in header and body) and a
//! `ProcessingResultMessage` saying that no result records are simulated: the real
//! results (possibly ZIP files) are not public.

use super::error::{EligibilityError, ErrorCode};
use super::other::{Ctx, JobPayload, OtherBody, OtherDesk, OtherJob, OtherResponse};
use super::tree::Element;
use super::values::*;
use super::xml::MessageKind;

/// A download kind of these bulk interfaces (or of the bulk registration).
pub fn is_download(kind: MessageKind) -> bool {
    upload_of(kind).is_some()
}

/// The upload kind whose jobs a download kind fetches.
fn upload_of(kind: MessageKind) -> Option<MessageKind> {
    match kind {
        MessageKind::ReferenceBulkDownload => Some(MessageKind::ReferenceBulkUpload),
        MessageKind::MedicalAidDownload => Some(MessageKind::MedicalAidUpload),
        MessageKind::OnlineDownload => Some(MessageKind::OnlineUpload),
        MessageKind::HomeVisitDownload => Some(MessageKind::HomeVisitUpload),
        _ => None,
    }
}

/// Keep an accepted job; its reception number.
pub(crate) fn accept(
    desk: &mut OtherDesk,
    ctx: &Ctx<'_>,
    kind: MessageKind,
    payload: JobPayload,
) -> String {
    desk.prune(ctx.now);
    let rn = desk.next_reception_number(ctx.now);
    let delay = desk.config.bulk_delay_minutes;
    desk.jobs.insert(
        rn.clone(),
        OtherJob {
            kind,
            institution: ctx.institution,
            arbitrary_file_identifier: ctx.echo.arbitrary_file_identifier.clone(),
            accepted_at: ctx.now,
            ready_at: ctx.now.plus_minutes(delay),
            payload,
        },
    );
    rn
}

/// Answer a download: 4001 for an unknown, expired, another institution's or
/// another kind's number; `SegmentOfResult` 2 until the job is ready; then
/// `ready(job, reception_number)`.
pub(crate) fn download(
    desk: &mut OtherDesk,
    ctx: &Ctx<'_>,
    kind: MessageKind,
    b: Element<'_, '_>,
    ready: impl Fn(&OtherJob, String) -> OtherBody,
) -> Result<OtherResponse, EligibilityError> {
    desk.prune(ctx.now);
    let rn = check_text("ReceptionNumber", b.req_text("ReceptionNumber")?, 64)?.to_string();
    let job = desk
        .jobs
        .get(&rn)
        .filter(|j| Some(j.kind) == upload_of(kind) && j.institution == ctx.institution)
        .ok_or_else(|| EligibilityError::new(ErrorCode::UnknownReceptionNumber, rn.clone()))?;
    let pending = ctx.now < job.ready_at;
    let mut header = ctx.header(if pending {
        SegmentOfResult::Processing
    } else {
        SegmentOfResult::Normal
    });
    header.reception_number = Some(rn.clone());
    if header.arbitrary_file_identifier.is_none() {
        header.arbitrary_file_identifier = job.arbitrary_file_identifier.clone();
    }
    let body = if pending {
        OtherBody::BulkPending {
            reception_number: rn,
        }
    } else {
        ready(job, rn)
    };
    Ok(OtherResponse { kind, header, body })
}

fn date_pair(e: Element<'_, '_>, from: &str, to: &str) -> Result<bool, EligibilityError> {
    match (e.opt_text(from)?, e.opt_text(to)?) {
        (None, None) => Ok(false),
        (Some(f), Some(t)) => {
            if parse_date(from, f)? > parse_date(to, t)? {
                return Err(EligibilityError::new(
                    ErrorCode::InvalidDate,
                    format!("{from} is after {to}"),
                ));
            }
            Ok(true)
        }
        _ => Err(EligibilityError::new(
            ErrorCode::MissingField,
            format!("{from} and {to} go together"),
        )),
    }
}

pub(crate) fn answer(
    desk: &mut OtherDesk,
    ctx: &Ctx<'_>,
    kind: MessageKind,
    b: Element<'_, '_>,
) -> Result<OtherResponse, EligibilityError> {
    if is_download(kind) {
        return download(desk, ctx, kind, b, |job, rn| match &job.payload {
            JobPayload::Partial(count) => OtherBody::Partial {
                reception_number: rn,
                count: *count,
            },
            JobPayload::Registrations(units) => OtherBody::Registrations {
                reception_number: rn,
                units: units.clone(),
            },
        });
    }
    let items: Vec<Element<'_, '_>> = b.all("QualificationConfirmSearchInfo").collect();
    if items.is_empty() || items.len() > desk.config.max_bulk {
        return Err(EligibilityError::new(
            ErrorCode::BulkSize,
            format!(
                "{} inquiries, allowed 1 to {}",
                items.len(),
                desk.config.max_bulk
            ),
        ));
    }
    for (i, e) in items.iter().enumerate() {
        let at = |mut err: EligibilityError| {
            err.detail = format!("inquiry {}: {}", i + 1, err.detail);
            err
        };
        if kind == MessageKind::MedicalAidUpload {
            super::health_info::parse_month(
                "MedicalTreatmentMonth",
                e.req_text("MedicalTreatmentMonth").map_err(at)?,
            )
            .map_err(at)?;
        } else {
            let exam = date_pair(*e, "ExaminationDateFrom", "ExaminationDateTo").map_err(at)?;
            let consent = date_pair(*e, "ConsentDateFrom", "ConsentDateTo").map_err(at)?;
            if !exam && !consent {
                return Err(at(EligibilityError::new(
                    ErrorCode::MissingField,
                    "ExaminationDateFrom/To or ConsentDateFrom/To",
                )));
            }
            let want = if kind == MessageKind::HomeVisitUpload {
                "2"
            } else {
                "3"
            };
            let flag = e.req_text("MedicalTreatmentFlag").map_err(at)?;
            if flag != want {
                return Err(at(EligibilityError::new(
                    ErrorCode::InvalidValue,
                    format!("MedicalTreatmentFlag must be {want} for {}", kind.id()),
                )));
            }
        }
    }
    let count = items.len();
    let reception_number = accept(desk, ctx, kind, JobPayload::Partial(count));
    Ok(OtherResponse {
        kind,
        header: ctx.header(SegmentOfResult::Normal),
        body: OtherBody::BulkAccepted {
            reception_number,
            reception_date_time: ctx.stamp,
            count,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eligibility::encoding::{encode, CharacterCode};
    use crate::eligibility::other::tests::{now, service};
    use crate::eligibility::other::{parse_other_response, PARTIAL_MESSAGE};

    fn doc(header: &str, body: &str) -> Vec<u8> {
        encode(
            &format!(
                "<?xml version=\"1.0\" encoding=\"Shift_JIS\" standalone=\"no\"?>\r\n<XmlMsg>\r\n  <MessageHeader>\r\n    \
                 <MedicalInstitutionCode>1313120014</MedicalInstitutionCode>{header}\r\n  </MessageHeader>\r\n  \
                 <MessageBody>{body}</MessageBody>\r\n</XmlMsg>\r\n"
            ),
            CharacterCode::ShiftJis,
        )
    }

    #[test]
    fn each_bulk_kind_is_accepted_and_downloaded_with_its_identifiers() {
        let mut s = service("1313120014");
        let t = now(&s);
        let afi = "<ArbitraryFileIdentifier>OQSDrug-1</ArbitraryFileIdentifier>";
        for (up, down, body) in [
            (
                MessageKind::MedicalAidUpload,
                MessageKind::MedicalAidDownload,
                "<QualificationConfirmSearchInfo><MedicalTreatmentMonth>202403</MedicalTreatmentMonth></QualificationConfirmSearchInfo>",
            ),
            (
                MessageKind::OnlineUpload,
                MessageKind::OnlineDownload,
                "<QualificationConfirmSearchInfo><ExaminationDateFrom>20240301</ExaminationDateFrom><ExaminationDateTo>20240331</ExaminationDateTo><MedicalTreatmentFlag>3</MedicalTreatmentFlag></QualificationConfirmSearchInfo>",
            ),
            (
                MessageKind::HomeVisitUpload,
                MessageKind::HomeVisitDownload,
                "<QualificationConfirmSearchInfo><ConsentDateFrom>20240301</ConsentDateFrom><ConsentDateTo>20240331</ConsentDateTo><MedicalTreatmentFlag>2</MedicalTreatmentFlag></QualificationConfirmSearchInfo>",
            ),
        ] {
            let r = s.answer_other(up, &doc(afi, body), t);
            assert_eq!(r.header.arbitrary_file_identifier.as_deref(), Some("OQSDrug-1"), "{up:?}");
            let OtherBody::BulkAccepted { reception_number, .. } = r.body.clone() else { panic!("{r:?}") };
            assert_eq!(parse_other_response(up, &r.render()).unwrap(), r);
            let d = doc("", &format!("<ReceptionNumber>{reception_number}</ReceptionNumber>"));
            let r = s.answer_other(down, &d, t.plus_minutes(10));
            assert_eq!(r.header.medical_institution_code.as_deref(), Some("1313120014"));
            assert_eq!(r.header.arbitrary_file_identifier.as_deref(), Some("OQSDrug-1"));
            assert_eq!(r.header.reception_number.as_deref(), Some(reception_number.as_str()));
            assert_eq!(r.body, OtherBody::Partial { reception_number: reception_number.clone(), count: 1 });
            let bytes = r.render();
            assert!(crate::eligibility::encoding::decode(&bytes).unwrap().0.contains(PARTIAL_MESSAGE));
            assert_eq!(parse_other_response(down, &bytes).unwrap(), r);
            // Another kind's download does not fetch this job.
            let wrong = if down == MessageKind::OnlineDownload { MessageKind::HomeVisitDownload } else { MessageKind::OnlineDownload };
            let r = s.answer_other(wrong, &d, t.plus_minutes(10));
            assert_eq!(r.header.error_code, Some(ErrorCode::UnknownReceptionNumber));
        }
        // The wrong flag, a missing period, and no inquiry are refused, naming what.
        let bad = "<QualificationConfirmSearchInfo><ConsentDateFrom>20240301</ConsentDateFrom><ConsentDateTo>20240331</ConsentDateTo><MedicalTreatmentFlag>3</MedicalTreatmentFlag></QualificationConfirmSearchInfo>";
        let r = s.answer_other(MessageKind::HomeVisitUpload, &doc(afi, bad), t);
        assert_eq!(r.header.error_code, Some(ErrorCode::InvalidValue));
        assert!(r
            .header
            .error_message
            .unwrap()
            .contains("MedicalTreatmentFlag"));
        let r = s.answer_other(
            MessageKind::OnlineUpload,
            &doc(afi, "<QualificationConfirmSearchInfo/>"),
            t,
        );
        assert_eq!(r.header.error_code, Some(ErrorCode::MissingField));
        let r = s.answer_other(MessageKind::MedicalAidUpload, &doc(afi, ""), t);
        assert_eq!(r.header.error_code, Some(ErrorCode::BulkSize));
        assert_eq!(
            r.header.arbitrary_file_identifier.as_deref(),
            Some("OQSDrug-1")
        );
    }
}
