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
    /// 資格有効性 (`QualificationValidity`, OQSCD006). 1–5: MC `codes.ts`; 6: the
    /// res-watcher tables (docs/INTERFACE.md §3).
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
        /// 6: 有効（未登録）: valid, but not yet registered with the system. Never
        /// produced by the synthetic population *(our choice)*; read back only.
        ValidUnregistered = "6",
    }
}

impl QualificationValidity {
    /// The validities the synthetic population produces (1–5; 6 is read back only).
    pub const PRODUCED: &'static [QualificationValidity] = &[
        QualificationValidity::Valid,
        QualificationValidity::Invalid,
        QualificationValidity::InvalidNewerExists,
        QualificationValidity::NoRecord,
        QualificationValidity::SeveralMatches,
    ];
}

code_list! {
    /// 本人・家族の別 (`PersonalFamilyClassification`).
    PersonFamily {
        /// 1: 本人 (the insured)
        Person = "1",
        /// 2: 家族 (a dependant)
        Family = "2",
    }
}

code_list! {
    /// 性別 (`Sex1`, `Sex2`): MC `codes.ts`.
    Sex {
        /// 1: 男
        Male = "1",
        /// 2: 女
        Female = "2",
        /// 3: 未設定
        Unset = "3",
    }
}

code_list! {
    /// 被保険者証区分 (`InsuredCardClassification`, OQSCD): MC `codes.ts`, SK
    /// `PatientInfoConverter.cs`, res-watcher tables (docs/INTERFACE.md §3). A
    /// dependant holds class 01 with `PersonalFamilyClassification` 2.
    InsuredCardClass {
        /// 01: 被保険者証（一般）
        General = "01",
        /// 02: 被保険者証（退職）
        Retired = "02",
        /// 03: 短期被保険者証（一般）
        ShortTerm = "03",
        /// 04: 短期被保険者証（退職）
        ShortTermRetired = "04",
        /// 05: 被保険者資格証明書
        QualificationCertificate = "05",
        /// 06: 特例退職被保険者証
        SpecialRetired = "06",
        /// 07: 自衛官診療証
        SelfDefenseForces = "07",
        /// A1: 医療扶助 (a public-assistance medical ticket)
        MedicalAid = "A1",
    }
}

code_list! {
    /// 限度額適用認定証区分 (`LimitApplicationCertificateClassification`): MC `codes.ts`.
    LimitCertificateClass {
        /// 01: 限度額適用認定証
        Limit = "01",
        /// 02: 限度額適用・標準負担額減額認定証 (low income, meal costs reduced too)
        LimitAndReduction = "02",
        /// 03: 標準負担額減額認定証
        StandardReduction = "03",
    }
}

code_list! {
    /// 適用区分 (`LimitApplicationCertificateClassificationFlag`, OQSCD012): MC
    /// `codes.ts`, SK `KogakuKbnToLimitConsFlgConverter.cs`. A01–A06 under 70,
    /// B01–B10 from 70.
    LimitCategory {
        /// ア (年収約1,160万円以上)
        A = "A01",
        /// イ
        I = "A02",
        /// ウ
        U = "A03",
        /// エ
        E = "A04",
        /// オ (住民税非課税)
        O = "A05",
        /// オ（境）(境界層該当)
        OBorder = "A06",
        /// 現役並みⅢ
        WorkingIII = "B01",
        /// 現役並みⅡ
        WorkingII = "B02",
        /// 現役並みⅠ
        WorkingI = "B03",
        /// 一般
        General = "B04",
        /// 低所得Ⅱ
        LowII = "B05",
        /// 低所得Ⅰ
        LowI = "B06",
        /// 低所得Ⅰ（老福）
        LowIWelfare = "B07",
        /// 低所得Ⅰ（境）
        LowIBorder = "B08",
        /// 一般Ⅱ
        GeneralII = "B09",
        /// 一般Ⅰ
        GeneralI = "B10",
    }
}

impl LimitCategory {
    /// The categories of someone under 70 (A01–A06).
    pub const UNDER_70: &'static [LimitCategory] = &[
        LimitCategory::A,
        LimitCategory::I,
        LimitCategory::U,
        LimitCategory::E,
        LimitCategory::O,
        LimitCategory::OBorder,
    ];
    /// The categories from 70 (B01–B10).
    pub const FROM_70: &'static [LimitCategory] = &[
        LimitCategory::WorkingIII,
        LimitCategory::WorkingII,
        LimitCategory::WorkingI,
        LimitCategory::General,
        LimitCategory::LowII,
        LimitCategory::LowI,
        LimitCategory::LowIWelfare,
        LimitCategory::LowIBorder,
        LimitCategory::GeneralII,
        LimitCategory::GeneralI,
    ];

    /// Whether the category is one of the low-income ones (住民税非課税: オ, 低所得),
    /// which come with the 標準負担額減額 (a 02 certificate).
    pub fn is_low_income(self) -> bool {
        matches!(
            self,
            LimitCategory::O
                | LimitCategory::OBorder
                | LimitCategory::LowII
                | LimitCategory::LowI
                | LimitCategory::LowIWelfare
                | LimitCategory::LowIBorder
        )
    }
}

code_list! {
    /// 特定疾病療養受療証認定疾病区分 (`SpecificDiseasesDiseaseCategory`, OQSCD013):
    /// MC `codes.ts` (which refuses `01`).
    SpecificDisease {
        /// 1: 人工透析を必要とする慢性腎不全
        Dialysis = "1",
        /// 2: 先天性血液凝固因子障害（第VIII因子、第IX因子）
        Hemophilia = "2",
        /// 3: 血液凝固因子製剤の投与に起因するHIV感染症
        Hiv = "3",
    }
}

code_list! {
    /// 同意フラグ of the consent fields (`…ConsFlg`): MC `codes.ts`, res-watcher
    /// tables (docs/INTERFACE.md §3).
    ConsentFlag {
        /// 0: 同意なし / 未同意
        NotGiven = "0",
        /// 1: 同意あり
        Given = "1",
        /// 2: 同意有効期限切れ
        Expired = "2",
        /// 3: 同意取得困難
        Difficult = "3",
    }
}

impl ConsentFlag {
    pub fn of(given: bool) -> Self {
        if given {
            ConsentFlag::Given
        } else {
            ConsentFlag::NotGiven
        }
    }
    pub fn is_given(self) -> bool {
        self == ConsentFlag::Given
    }
}

code_list! {
    /// 資格喪失事由 (`ReasonOfLoss`): MC `codes.ts`.
    ReasonOfLoss {
        /// 01: 死亡
        Death = "01",
        /// 02: 生活保護受給開始
        PublicAssistance = "02",
        /// 03: 医療保険等の資格取得
        OtherInsurance = "03",
        /// 99: その他
        Other = "99",
    }
}

code_list! {
    /// 未就学区分 (`PreschoolClassification`): MC `codes.ts` has only 1; written only
    /// for preschool children.
    PreschoolClassification {
        /// 1: 未就学該当
        Preschool = "1",
    }
}

code_list! {
    /// 処方箋発行形態 (`PrescriptionIssueSelect`, in `MessageBody`): MC `codes.ts`,
    /// `MessageBody.ts`. (SK's model has it inside the result; we follow MC.)
    PrescriptionIssueSelect {
        /// 1: 電子処方箋
        Electronic = "1",
        /// 2: 紙の処方箋
        Paper = "2",
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
        assert_eq!(Sex::parse("Sex1", "3").unwrap(), Sex::Unset);
        assert!(Sex::parse("Sex1", "4").is_err());
        assert!(SpecificDisease::parse("c", "01").is_err());
        assert_eq!(
            InsuredCardClass::parse("c", "A1").unwrap(),
            InsuredCardClass::MedicalAid
        );
        assert_eq!(
            LimitCategory::UNDER_70.len() + LimitCategory::FROM_70.len(),
            LimitCategory::ALL.len()
        );
    }
}
