//! Scalar values of the XmlMsg vocabulary: dates, times, flags and the small code
//! lists (区分). Each parses strictly and writes back the same text.

use chrono::{NaiveDate, NaiveDateTime, Timelike};

use super::error::{EligibilityError, ErrorCode};
use crate::time::VirtualTime;

/// `YYYYMMDD`, a real calendar date.
pub fn parse_date(field: &str, s: &str) -> Result<NaiveDate, EligibilityError> {
    let bad = || EligibilityError::new(ErrorCode::InvalidDate, format!("{field} must be YYYYMMDD"));
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    // Read by hand: on the eligibility API this runs for every request, and chrono's
    // format-string parser costs more than the rest of the field checks together.
    let n =
        |r: std::ops::Range<usize>| s[r].bytes().fold(0u32, |a, b| a * 10 + u32::from(b - b'0'));
    let year = i32::try_from(n(0..4)).map_err(|_| bad())?;
    NaiveDate::from_ymd_opt(year, n(4..6), n(6..8)).ok_or_else(bad)
}

pub fn fmt_date(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

/// `YYYYMMDDHHmmss`, a real instant.
pub fn parse_time(field: &str, s: &str) -> Result<NaiveDateTime, EligibilityError> {
    let bad = || {
        EligibilityError::new(
            ErrorCode::InvalidDate,
            format!("{field} must be YYYYMMDDHHmmss"),
        )
    };
    if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M%S").map_err(|_| bad())
}

pub fn fmt_time(t: NaiveDateTime) -> String {
    t.format("%Y%m%d%H%M%S").to_string()
}

/// A virtual instant as a calendar time (seconds are always 00: virtual time counts
/// minutes).
pub fn naive(t: VirtualTime) -> NaiveDateTime {
    let (h, m) = t.hour_minute();
    t.date()
        .and_hms_opt(h, m, 0)
        .expect("hour and minute in range")
        .with_nanosecond(0)
        .expect("zero nanoseconds")
}

/// A `0`/`1` flag (フラグ).
pub fn parse_flag(field: &str, s: &str) -> Result<bool, EligibilityError> {
    match s {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(EligibilityError::new(
            ErrorCode::InvalidValue,
            format!("{field} must be 0 or 1"),
        )),
    }
}

pub fn fmt_flag(b: bool) -> &'static str {
    if b {
        "1"
    } else {
        "0"
    }
}

/// Free text of at most `max` characters, without control characters.
pub fn check_text<'a>(field: &str, s: &'a str, max: usize) -> Result<&'a str, EligibilityError> {
    if s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(EligibilityError::new(
            ErrorCode::InvalidValue,
            format!("{field} must be at most {max} characters, no control characters"),
        ));
    }
    Ok(s)
}

/// Declares a code list: an enum whose variants are written as fixed strings.
macro_rules! code_list {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vm])* $v),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            pub fn code(self) -> &'static str {
                match self { $($name::$v => $s),+ }
            }
            pub fn parse(field: &str, s: &str) -> Result<Self, EligibilityError> {
                match s {
                    $($s => Ok($name::$v),)+
                    _ => Err(EligibilityError::new(
                        ErrorCode::InvalidValue,
                        format!("{field} must be one of {}", [$($s),+].join("/")),
                    )),
                }
            }
        }
    };
}

code_list! {
    /// 照会区分 (`ReferenceClassification`): how the patient was identified.
    ReferenceClassification {
        /// 1: マイナンバーカード (card at the reader)
        Card = "1",
        /// 2: 被保険者証 (numbers typed from the insurance card)
        InsuranceCard = "2",
    }
}

code_list! {
    /// 処理結果区分 (`SegmentOfResult`).
    SegmentOfResult {
        /// 1: 正常終了
        Normal = "1",
        /// 2: 処理中 (bulk result not ready yet)
        Processing = "2",
        /// 9: 異常終了 (see `ErrorCode`)
        Abnormal = "9",
    }
}

code_list! {
    /// 処理結果状況 (`ProcessingResultStatus`) of one inquiry.
    ProcessingResultStatus {
        /// 1: 正常
        Ok = "1",
        /// 2: エラー
        Error = "2",
    }
}

code_list! {
    /// 資格有効性 (`QualificationValidity`).
    QualificationValidity {
        /// 1: 有効
        Valid = "1",
        /// 2: 無効
        Invalid = "2",
        /// 3: 無効（新しい資格あり）: this record ended, a newer one exists
        InvalidNewerExists = "3",
        /// 4: 該当資格なし
        NoRecord = "4",
        /// 5: 複数該当
        SeveralMatches = "5",
    }
}

code_list! {
    /// 本人・家族の別.
    PersonFamily {
        /// 1: 本人 (the insured)
        Person = "1",
        /// 2: 家族 (a dependant)
        Family = "2",
    }
}

code_list! {
    /// 性別 (`Sex1`).
    Sex {
        /// 1: 男
        Male = "1",
        /// 2: 女
        Female = "2",
    }
}

code_list! {
    /// 被保険者証区分 (`InsuredCardClassification`). *(our choice)* values.
    InsuredCardClass {
        /// 01: 被保険者証 (employee insurance, the insured)
        Insured = "01",
        /// 02: 被扶養者証 (employee insurance, a dependant)
        Dependant = "02",
        /// 03: 国民健康保険被保険者証
        NationalHealthInsurance = "03",
    }
}

code_list! {
    /// 限度額適用認定証区分. *(our choice)* values.
    LimitCertificateClass {
        /// 01: 限度額適用認定証
        Limit = "01",
        /// 02: 限度額適用・標準負担額減額認定証 (low income, meal costs reduced too)
        LimitAndReduction = "02",
    }
}

code_list! {
    /// 適用区分 of a high-cost limit (所得区分 ア–オ). *(our choice)* codes A01–A05.
    LimitCategory {
        /// ア
        A = "A01",
        /// イ
        I = "A02",
        /// ウ
        U = "A03",
        /// エ
        E = "A04",
        /// オ
        O = "A05",
    }
}

code_list! {
    /// 特定疾病 (長期高額疾病) category. *(our choice)* codes.
    SpecificDisease {
        /// 01: 人工透析を要する慢性腎不全
        Dialysis = "01",
        /// 02: 血友病
        Hemophilia = "02",
        /// 03: 抗ウイルス剤を投与している後天性免疫不全症候群 (HIV)
        Hiv = "03",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_strict() {
        assert!(parse_date("d", "20240229").is_ok());
        for bad in [
            "20230229",
            "2024-02-01",
            "2024021",
            "202402011",
            "２０２４０２０１",
        ] {
            assert!(parse_date("d", bad).is_err(), "{bad}");
        }
        assert!(parse_time("t", "20240401093000").is_ok());
        assert!(parse_time("t", "20240401246000").is_err());
    }

    proptest::proptest! {
        /// The hand-written date reader accepts exactly what chrono's `%Y%m%d` does
        /// on eight digits, and reads the same date.
        #[test]
        fn date_reader_agrees_with_chrono(
            n in 0u32..100_000_000,
            s in "[0-9]{8}",
            (y, m, d) in (0u32..10_000, 0u32..14, 0u32..33),
        ) {
            for text in [format!("{n:08}"), s, format!("{y:04}{m:02}{d:02}")] {
                let ours = parse_date("d", &text).ok();
                let chrono = NaiveDate::parse_from_str(&text, "%Y%m%d").ok();
                proptest::prop_assert_eq!(ours, chrono, "{}", text);
            }
        }
    }

    #[test]
    fn code_lists_round_trip() {
        for v in QualificationValidity::ALL {
            assert_eq!(QualificationValidity::parse("x", v.code()).unwrap(), *v);
        }
        assert!(Sex::parse("Sex1", "3").is_err());
    }
}
