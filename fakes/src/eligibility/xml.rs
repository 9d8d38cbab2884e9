//! The XmlMsg vocabulary (docs/DOMAIN.md §7): requests the clinic system writes into
//! `req/`, responses the qualification terminal (資格確認端末) writes into `res/`.
//!
//! Shape: root `XmlMsg` with `MessageHeader` and `MessageBody`. The element names are
//! those reconstructed from open-source clinic software; where the public material
//! stops (bulk bodies, code values), the layout here is *(our choice)* and marked so.
//!
//! Requests are parsed strictly: a missing required element, a bad date, a bad check
//! digit all give an [`EligibilityError`], which `answer` turns into an abnormal
//! response. Responses are written and can be read back (clinic-side simulations
//! and the round-trip tests use [`parse_response`]).
//!
//! The vocabulary lives in two modules, one per direction of the file drop:
//! [`super::request`] and [`super::response`]; this module re-exports both and holds
//! the request entry point, [`parse_request`].

use super::encoding;
use super::error::{EligibilityError, ErrorCode};
use super::tree;

pub use super::request::*;
pub use super::response::*;

/// Decode and parse a request file of the given kind.
pub fn parse_request(kind: MessageKind, bytes: &[u8], limits: &Limits) -> Result<Request, Refusal> {
    if bytes.len() > limits.max_file_bytes {
        return Err(EligibilityError::new(
            ErrorCode::TooLarge,
            format!("{} bytes, limit {}", bytes.len(), limits.max_file_bytes),
        )
        .into());
    }
    let (text, _) = encoding::decode(bytes)?;
    if kind == MessageKind::Single {
        if let Some(request) = super::single::read(&text) {
            return Ok(request);
        }
    }
    let doc = tree::parse(&text, limits.tree)?;
    read_request(kind, doc.root(), limits).map_err(|error| Refusal {
        error,
        echo: salvage(doc.root()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::InsurerNumber;
    use crate::eligibility::encoding::CharacterCode;

    const SINGLE: &str = r#"<?xml version="1.0" encoding="Shift_JIS"?>
<XmlMsg>
  <MessageHeader>
    <QualificationConfirmationDate>20240401</QualificationConfirmationDate>
    <MedicalInstitutionCode>1313120014</MedicalInstitutionCode>
    <ArbitraryFileIdentifier>受付-001</ArbitraryFileIdentifier>
  </MessageHeader>
  <MessageBody>
    <QualificationConfirmSearchInfo>
      <InsurerNumber>06130125</InsurerNumber>
      <InsuredCardSymbol>記号１</InsuredCardSymbol>
      <InsuredIdentificationNumber>0000001203</InsuredIdentificationNumber>
      <InsuredBranchNumber>00</InsuredBranchNumber>
      <Birthdate>19800115</Birthdate>
      <LimitApplicationCertificateRelatedConsFlg>1</LimitApplicationCertificateRelatedConsFlg>
    </QualificationConfirmSearchInfo>
  </MessageBody>
</XmlMsg>"#;

    fn sjis(s: &str) -> Vec<u8> {
        encoding::encode(s, CharacterCode::ShiftJis)
    }

    fn valid_insurer() -> String {
        let p = crate::codes::Prefecture::new(13).unwrap();
        InsurerNumber::new(Some(6), p, 12).unwrap().to_string()
    }

    #[test]
    fn parses_a_shift_jis_single_request_and_renders_it_back() {
        let text = SINGLE.replace("06130125", &valid_insurer());
        let req = parse_request(MessageKind::Single, &sjis(&text), &Limits::default()).unwrap();
        assert_eq!(
            req.header.arbitrary_file_identifier.as_deref(),
            Some("受付-001")
        );
        let RequestBody::Single(s) = &req.body else {
            panic!()
        };
        assert_eq!(s.insured_card_symbol.as_deref(), Some("記号１"));
        assert_eq!(s.limit_consent, Some(true));
        let again = parse_request(
            MessageKind::Single,
            &req.render(CharacterCode::Utf8),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(again, req);
    }

    #[test]
    fn each_defect_has_its_code() {
        let ok = SINGLE.replace("06130125", &valid_insurer());
        let cases: Vec<(String, ErrorCode)> = vec![
            (
                ok.replace("<XmlMsg>", "<Other>")
                    .replace("</XmlMsg>", "</Other>"),
                ErrorCode::WrongRoot,
            ),
            (
                ok.replace("<Birthdate>19800115</Birthdate>", ""),
                ErrorCode::MissingField,
            ),
            (ok.replace("19800115", "19800230"), ErrorCode::InvalidDate),
            (
                ok.replace(&valid_insurer(), "06130120"),
                ErrorCode::InvalidInsurerNumber,
            ),
            (
                ok.replace("1313120014", "1313120015"),
                ErrorCode::InvalidInstitutionCode,
            ),
            (
                ok.replace("<InsuredBranchNumber>00", "<InsuredBranchNumber>0a"),
                ErrorCode::InvalidValue,
            ),
            (
                ok.replace("</MessageBody>", "</MessageBod>"),
                ErrorCode::NotXml,
            ),
            (
                ok.replace(
                    "<MessageHeader>",
                    "<MessageHeader><ArbitraryFileIdentifier/>",
                ),
                ErrorCode::DuplicateField,
            ),
        ];
        for (text, code) in cases {
            let r =
                parse_request(MessageKind::Single, &sjis(&text), &Limits::default()).unwrap_err();
            assert_eq!(r.error.code, code, "{}", r.error);
        }
        let big = Limits {
            max_file_bytes: 100,
            ..Limits::default()
        };
        let r = parse_request(MessageKind::Single, &sjis(&ok), &big).unwrap_err();
        assert_eq!(r.error.code, ErrorCode::TooLarge);
    }

    #[test]
    fn refusals_keep_the_file_identifier() {
        let text = SINGLE.replace("19800115", "1980");
        let r = parse_request(MessageKind::Single, &sjis(&text), &Limits::default()).unwrap_err();
        assert_eq!(
            r.echo.arbitrary_file_identifier.as_deref(),
            Some("受付-001")
        );
    }

    #[test]
    fn request_file_kinds() {
        assert_eq!(
            MessageKind::of_request_file("OQSsiquc01req_1.xml"),
            Some(MessageKind::Single)
        );
        assert_eq!(
            MessageKind::of_request_file("OQSmuquc02req_x.xml"),
            Some(MessageKind::BulkDownload)
        );
        assert_eq!(MessageKind::of_request_file("OQSsiquc01res_1.xml"), None);
        assert_eq!(MessageKind::of_request_file("hello.xml"), None);
    }
}
