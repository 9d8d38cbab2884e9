//! Why a request was refused, and the `ErrorCode` table of abnormal answers
//! (`SegmentOfResult` 9, 異常終了).
//!
//! *(our choice)* The real error codes of the qualification terminal are not public
//! (docs/DOMAIN.md §9). This module is the **one place** that defines ours: four digits,
//! grouped by layer — 1xxx bytes and encoding, 2xxx XML structure, 3xxx field values,
//! 4xxx flow (bulk reception numbers, institution), 5xxx the terminal's link to
//! the implementing body (unreachable, or answered with an error). Every code has a Japanese and an
//! English message; the answer carries both as `日本語 / English`.

use std::fmt;

/// An error code of an abnormal answer. The table is [`ErrorCode::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorCode {
    /// 1001: the file is larger than the configured limit.
    TooLarge,
    /// 1002: the bytes are not valid in the encoding they claim (or Shift_JIS).
    Undecodable,
    /// 1003: the XML declaration names an encoding we do not accept.
    UnsupportedEncoding,
    /// 2001: not well-formed XML.
    NotXml,
    /// 2002: the root element is not `XmlMsg`, or `MessageHeader`/`MessageBody` is missing.
    WrongRoot,
    /// 2003: a required element is missing or empty.
    MissingField,
    /// 2004: an element occurs more often than allowed.
    DuplicateField,
    /// 2005: the file name prefix names no message we know.
    UnknownMessage,
    /// 2006: nesting or element count beyond the limits.
    TooComplex,
    /// 3001: a value has the wrong form (length, characters, flag value).
    InvalidValue,
    /// 3002: a date (YYYYMMDD) or time (YYYYMMDDHHmmss) is malformed or impossible.
    InvalidDate,
    /// 3003: the insurer number (保険者番号) is malformed or its check digit is wrong.
    InvalidInsurerNumber,
    /// 3004: the institution code (医療機関等コード) is malformed or its check digit is wrong.
    InvalidInstitutionCode,
    /// 3005: a bulk upload holds no inquiry or more than the limit.
    BulkSize,
    /// 4001: no bulk job with that reception number (unknown, expired or another institution's).
    UnknownReceptionNumber,
    /// 4002: the request names another institution than the terminal's own.
    InstitutionMismatch,
    /// 5001: the terminal could not reach the implementing body (connection refused
    /// or reset, timeout, TLS handshake refused).
    CentreUnreachable,
    /// 5002: the implementing body answered with an error (HTTP 4xx/5xx) or with a
    /// body that is not an XmlMsg response.
    CentreError,
}

impl ErrorCode {
    /// The whole table, in code order.
    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::TooLarge,
        ErrorCode::Undecodable,
        ErrorCode::UnsupportedEncoding,
        ErrorCode::NotXml,
        ErrorCode::WrongRoot,
        ErrorCode::MissingField,
        ErrorCode::DuplicateField,
        ErrorCode::UnknownMessage,
        ErrorCode::TooComplex,
        ErrorCode::InvalidValue,
        ErrorCode::InvalidDate,
        ErrorCode::InvalidInsurerNumber,
        ErrorCode::InvalidInstitutionCode,
        ErrorCode::BulkSize,
        ErrorCode::UnknownReceptionNumber,
        ErrorCode::InstitutionMismatch,
        ErrorCode::CentreUnreachable,
        ErrorCode::CentreError,
    ];

    /// The code as written in `ErrorCode`, and its Japanese and English messages.
    pub fn entry(self) -> (&'static str, &'static str, &'static str) {
        use ErrorCode::*;
        match self {
            TooLarge => (
                "1001",
                "ファイルサイズが上限を超えています",
                "file too large",
            ),
            Undecodable => (
                "1002",
                "文字コードが不正です",
                "bytes are not valid in the declared encoding",
            ),
            UnsupportedEncoding => (
                "1003",
                "対応していない文字コードです",
                "unsupported encoding",
            ),
            NotXml => ("2001", "XMLの形式が不正です", "not well-formed XML"),
            WrongRoot => (
                "2002",
                "電文の構造が不正です",
                "root must be XmlMsg with MessageHeader and MessageBody",
            ),
            MissingField => (
                "2003",
                "必須項目が設定されていません",
                "required element missing",
            ),
            DuplicateField => ("2004", "項目が重複しています", "element repeated"),
            UnknownMessage => (
                "2005",
                "電文種別が不正です",
                "unknown message (file name prefix)",
            ),
            TooComplex => (
                "2006",
                "電文の要素数が上限を超えています",
                "too many or too deeply nested elements",
            ),
            InvalidValue => ("3001", "項目の値が不正です", "invalid value"),
            InvalidDate => ("3002", "日付または日時が不正です", "invalid date or time"),
            InvalidInsurerNumber => ("3003", "保険者番号が不正です", "invalid insurer number"),
            InvalidInstitutionCode => (
                "3004",
                "医療機関等コードが不正です",
                "invalid institution code",
            ),
            BulkSize => (
                "3005",
                "一括照会の件数が不正です",
                "bulk upload holds no inquiry or too many",
            ),
            UnknownReceptionNumber => (
                "4001",
                "受付番号に該当する照会がありません",
                "unknown reception number",
            ),
            InstitutionMismatch => (
                "4002",
                "医療機関等コードが端末の設定と一致しません",
                "institution code differs from the terminal's",
            ),
            CentreUnreachable => (
                "5001",
                "資格確認システムに接続できません",
                "eligibility centre unreachable",
            ),
            CentreError => (
                "5002",
                "資格確認システムでエラーが発生しました",
                "eligibility centre error",
            ),
        }
    }

    pub fn code(self) -> &'static str {
        self.entry().0
    }

    pub fn from_code(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == s)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A refused request: the code, and a detail naming what was wrong (an element name,
/// a position). The detail never holds personal data, only names and positions, and
/// values of codes (institution, insurer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EligibilityError {
    pub code: ErrorCode,
    pub detail: String,
}

impl EligibilityError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        EligibilityError {
            code,
            detail: detail.into(),
        }
    }

    /// The `ErrorMessage` of the abnormal answer: `日本語 / English: detail`.
    pub fn message(&self) -> String {
        let (_, ja, en) = self.code.entry();
        if self.detail.is_empty() {
            format!("{ja} / {en}")
        } else {
            format!("{ja} / {en}: {}", self.detail)
        }
    }
}

impl fmt::Display for EligibilityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.message())
    }
}

impl std::error::Error for EligibilityError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_four_digits_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ErrorCode::ALL {
            let (code, ja, en) = c.entry();
            assert_eq!(code.len(), 4);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
            assert!(seen.insert(code), "duplicate {code}");
            assert!(!ja.is_empty() && !en.is_empty());
            assert_eq!(ErrorCode::from_code(code), Some(c));
        }
    }
}
