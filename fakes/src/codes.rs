//! Codes of the insurance system: institution codes (医療機関等コード), reception
//! numbers (受付番号), temporary codes (仮コード), insurer numbers (保険者番号),
//! prefectures and the regional bureaus (地方厚生（支）局) that serve them.
//!
//! Every code but the temporary code carries a check digit computed by [`check_digit`]
//! (docs/DOMAIN.md §3).
//! Parsing refuses a bad code with a message that says exactly what is wrong.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("{what} must have {expected} digits, got {got} in {input:?}")]
    Length {
        what: &'static str,
        expected: &'static str,
        got: usize,
        input: String,
    },
    #[error("{what} {input:?} has {ch:?} at position {pos}; only digits 0-9 are allowed")]
    NotADigit {
        what: &'static str,
        input: String,
        pos: usize,
        ch: char,
    },
    #[error("{what} {input:?} has check digit {given}, expected {expected}")]
    CheckDigit {
        what: &'static str,
        input: String,
        expected: u8,
        given: u8,
    },
    #[error("{what} {input:?} starts with prefecture {code:02}, which does not exist (01-47)")]
    Prefecture {
        what: &'static str,
        input: String,
        code: u8,
    },
    #[error("{what} {input:?} has fee-table digit {digit}; expected 1 (medical), 3 (dental) or 4 (pharmacy)")]
    FeeTable {
        what: &'static str,
        input: String,
        digit: u8,
    },
    #[error("temporary code {input:?} must start with \"00\"")]
    TemporaryPrefix { input: String },
    #[error("unknown {what} {input:?}; expected one of: {choices}")]
    Unknown {
        what: &'static str,
        input: String,
        choices: String,
    },
}

/// The check digit of a digit string (MHLW notice 001275316): weights 2,1,2,1,… from
/// the rightmost digit; a product of 10 or more counts as its digit sum;
/// check = (10 − sum mod 10) mod 10. `None` if `body` holds a non-digit.
pub fn check_digit(body: &str) -> Option<u8> {
    let mut sum = 0u32;
    for (i, c) in body.bytes().rev().enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = u32::from(c - b'0');
        let p = if i % 2 == 0 { d * 2 } else { d };
        sum += p / 10 + p % 10;
    }
    Some(((10 - sum % 10) % 10) as u8)
}

/// `n` in decimal, zero-padded to `width` digits (as `format!("{n:0width$}")`),
/// without the formatting machinery: codes and numbers are written on every
/// eligibility request and answer.
pub(crate) fn push_digits(out: &mut String, n: impl Into<u64>, width: usize) {
    const PAIRS: &str = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";
    const ZEROS: &str = "00000000";
    let pair = |p: u64| &PAIRS[2 * p as usize..2 * p as usize + 2];
    // Two digits at a time, least significant first; `lead` is what is left (< 100).
    let mut low = [0u8; 10];
    let mut pairs = 0;
    let mut lead: u64 = n.into();
    while lead >= 100 {
        low[pairs] = (lead % 100) as u8;
        lead /= 100;
        pairs += 1;
    }
    let digits = 2 * pairs + if lead >= 10 { 2 } else { 1 };
    let mut pad = width.saturating_sub(digits);
    while pad > 0 {
        let k = pad.min(ZEROS.len());
        out.push_str(&ZEROS[..k]);
        pad -= k;
    }
    out.push_str(if lead >= 10 {
        pair(lead)
    } else {
        &pair(lead)[1..]
    });
    for &p in low[..pairs].iter().rev() {
        out.push_str(pair(u64::from(p)));
    }
}

/// Append the check digit of the digits written to `out` since `start` (the body
/// just pushed): codes and insured numbers are written as body, then check digit.
pub(crate) fn push_check_digit(out: &mut String, start: usize) {
    let c = check_digit(&out[start..]).expect("digits");
    push_digits(out, c, 0);
}

fn digits_only(what: &'static str, s: &str) -> Result<(), CodeError> {
    if let Some((pos, ch)) = s.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
        return Err(CodeError::NotADigit {
            what,
            input: s.to_string(),
            pos: pos + 1,
            ch,
        });
    }
    Ok(())
}

fn check_length(
    what: &'static str,
    s: &str,
    n: usize,
    expected: &'static str,
) -> Result<(), CodeError> {
    let got = s.chars().count();
    if got != n {
        return Err(CodeError::Length {
            what,
            expected,
            got,
            input: s.to_string(),
        });
    }
    Ok(())
}

fn verify_check(what: &'static str, s: &str, body: &str) -> Result<(), CodeError> {
    let expected = check_digit(body).expect("digits checked");
    let given = s.as_bytes()[s.len() - 1] - b'0';
    if expected != given {
        return Err(CodeError::CheckDigit {
            what,
            input: s.to_string(),
            expected,
            given,
        });
    }
    Ok(())
}

/// The 47 prefectures, by JIS X 0401 code.
pub const PREFECTURES: [&str; 47] = [
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
];

/// A prefecture (都道府県), by its JIS code 1..=47.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefecture(u8);

impl Prefecture {
    pub fn new(code: u8) -> Option<Self> {
        (1..=47).contains(&code).then_some(Prefecture(code))
    }
    pub fn code(self) -> u8 {
        self.0
    }
    pub fn name(self) -> &'static str {
        PREFECTURES[usize::from(self.0 - 1)]
    }
    pub fn all() -> impl Iterator<Item = Prefecture> {
        (1..=47).map(Prefecture)
    }
    /// The bureau whose jurisdiction holds this prefecture.
    pub fn bureau(self) -> Bureau {
        Bureau::ALL
            .into_iter()
            .find(|b| b.prefectures().contains(&self.0))
            .expect("every prefecture has a bureau")
    }
}

impl fmt::Display for Prefecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Prefecture {
    type Err = CodeError;
    /// Accepts the JIS code ("13"), the full name ("東京都") or the name without its
    /// suffix ("東京").
    fn from_str(s: &str) -> Result<Self, CodeError> {
        if let Ok(n) = s.parse::<u8>() {
            if let Some(p) = Prefecture::new(n) {
                return Ok(p);
            }
        }
        for p in Prefecture::all() {
            let name = p.name();
            let short = name.trim_end_matches(['都', '府', '県']);
            if s == name || (s == short && name != "北海道") || s == "北海道" && name == "北海道"
            {
                return Ok(p);
            }
        }
        Err(CodeError::Unknown {
            what: "prefecture",
            input: s.to_string(),
            choices: "a JIS code 01-47 or a name such as 東京都".into(),
        })
    }
}

impl Serialize for Prefecture {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Prefecture {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A regional bureau of health and welfare (地方厚生局), or the Shikoku branch
/// (四国厚生支局). Each keeps its own deadlines and closures.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Bureau {
    /// 北海道厚生局
    Hokkaido,
    /// 東北厚生局
    Tohoku,
    /// 関東信越厚生局
    KantoShinetsu,
    /// 東海北陸厚生局
    TokaiHokuriku,
    /// 近畿厚生局
    Kinki,
    /// 中国四国厚生局
    ChugokuShikoku,
    /// 四国厚生支局 (a branch of 中国四国厚生局 serving the four Shikoku prefectures)
    Shikoku,
    /// 九州厚生局
    Kyushu,
}

impl Bureau {
    pub const ALL: [Bureau; 8] = [
        Bureau::Hokkaido,
        Bureau::Tohoku,
        Bureau::KantoShinetsu,
        Bureau::TokaiHokuriku,
        Bureau::Kinki,
        Bureau::ChugokuShikoku,
        Bureau::Shikoku,
        Bureau::Kyushu,
    ];

    /// The identifier used on the command line and in files.
    pub fn id(self) -> &'static str {
        match self {
            Bureau::Hokkaido => "hokkaido",
            Bureau::Tohoku => "tohoku",
            Bureau::KantoShinetsu => "kanto-shinetsu",
            Bureau::TokaiHokuriku => "tokai-hokuriku",
            Bureau::Kinki => "kinki",
            Bureau::ChugokuShikoku => "chugoku-shikoku",
            Bureau::Shikoku => "shikoku",
            Bureau::Kyushu => "kyushu",
        }
    }

    pub fn name_ja(self) -> &'static str {
        match self {
            Bureau::Hokkaido => "北海道厚生局",
            Bureau::Tohoku => "東北厚生局",
            Bureau::KantoShinetsu => "関東信越厚生局",
            Bureau::TokaiHokuriku => "東海北陸厚生局",
            Bureau::Kinki => "近畿厚生局",
            Bureau::ChugokuShikoku => "中国四国厚生局",
            Bureau::Shikoku => "四国厚生支局",
            Bureau::Kyushu => "九州厚生局",
        }
    }

    /// JIS codes of the prefectures in this bureau's jurisdiction.
    pub fn prefectures(self) -> &'static [u8] {
        match self {
            Bureau::Hokkaido => &[1],
            Bureau::Tohoku => &[2, 3, 4, 5, 6, 7],
            Bureau::KantoShinetsu => &[8, 9, 10, 11, 12, 13, 14, 15, 19, 20],
            Bureau::TokaiHokuriku => &[16, 17, 21, 22, 23, 24],
            Bureau::Kinki => &[18, 25, 26, 27, 28, 29, 30],
            Bureau::ChugokuShikoku => &[31, 32, 33, 34, 35],
            Bureau::Shikoku => &[36, 37, 38, 39],
            Bureau::Kyushu => &[40, 41, 42, 43, 44, 45, 46, 47],
        }
    }

    pub fn serves(self, p: Prefecture) -> bool {
        self.prefectures().contains(&p.code())
    }
}

impl fmt::Display for Bureau {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Bureau {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, CodeError> {
        Bureau::ALL
            .into_iter()
            .find(|b| b.id() == s || b.name_ja() == s)
            .ok_or_else(|| CodeError::Unknown {
                what: "bureau",
                input: s.to_string(),
                choices: Bureau::ALL.map(|b| b.id()).join(", "),
            })
    }
}

/// The fee table (点数表) digit of an institution code.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum FeeTable {
    /// 医科 (digit 1)
    Medical,
    /// 歯科 (digit 3)
    Dental,
    /// 薬局 (digit 4)
    Pharmacy,
}

impl FeeTable {
    pub fn digit(self) -> u8 {
        match self {
            FeeTable::Medical => 1,
            FeeTable::Dental => 3,
            FeeTable::Pharmacy => 4,
        }
    }
    pub fn from_digit(d: u8) -> Option<Self> {
        match d {
            1 => Some(FeeTable::Medical),
            3 => Some(FeeTable::Dental),
            4 => Some(FeeTable::Pharmacy),
            _ => None,
        }
    }
    pub fn name_ja(self) -> &'static str {
        match self {
            FeeTable::Medical => "医科",
            FeeTable::Dental => "歯科",
            FeeTable::Pharmacy => "薬局",
        }
    }
}

/// An institution code (医療機関等コード), 10 digits: prefecture (2) + fee table (1) +
/// county/city (2) + institution number (4) + check digit (1). The check digit covers
/// all nine digits before it, prefecture and fee table included (MHLW notice;
/// worked example `0110113719`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstitutionCode {
    prefecture: Prefecture,
    fee_table: FeeTable,
    county: u8,
    number: u16,
}

impl InstitutionCode {
    /// Build a code; the check digit is computed. `None` if `county` > 99 or
    /// `number` > 9999.
    pub fn new(
        prefecture: Prefecture,
        fee_table: FeeTable,
        county: u8,
        number: u16,
    ) -> Option<Self> {
        (county <= 99 && number <= 9999).then_some(InstitutionCode {
            prefecture,
            fee_table,
            county,
            number,
        })
    }
    pub fn prefecture(&self) -> Prefecture {
        self.prefecture
    }
    pub fn fee_table(&self) -> FeeTable {
        self.fee_table
    }
    pub fn county(&self) -> u8 {
        self.county
    }
    pub fn number(&self) -> u16 {
        self.number
    }
    fn body(&self) -> String {
        let mut s = String::with_capacity(10);
        self.push_body(&mut s);
        s
    }
    /// As `format!("{:02}{}{:02}{:04}", …)`, without the formatting machinery:
    /// every eligibility answer echoes the code.
    fn push_body(&self, s: &mut String) {
        push_digits(s, self.prefecture.code(), 2);
        push_digits(s, self.fee_table.digit(), 0);
        push_digits(s, self.county, 2);
        push_digits(s, self.number, 4);
    }
    pub fn check(&self) -> u8 {
        check_digit(&self.body()).expect("digits")
    }

    fn parse_as(s: &str, what: &'static str) -> Result<Self, CodeError> {
        check_length(what, s, 10, "10")?;
        digits_only(what, s)?;
        let pref: u8 = s[0..2].parse().expect("digits");
        let prefecture = Prefecture::new(pref).ok_or(CodeError::Prefecture {
            what,
            input: s.to_string(),
            code: pref,
        })?;
        let fee_digit = s.as_bytes()[2] - b'0';
        let fee_table = FeeTable::from_digit(fee_digit).ok_or(CodeError::FeeTable {
            what,
            input: s.to_string(),
            digit: fee_digit,
        })?;
        verify_check(what, s, &s[..9])?;
        Ok(InstitutionCode {
            prefecture,
            fee_table,
            county: s[3..5].parse().expect("digits"),
            number: s[5..9].parse().expect("digits"),
        })
    }

    /// The 10 digits (as `to_string`, without the formatting machinery: every
    /// eligibility answer echoes the code).
    pub fn digits(&self) -> String {
        let mut s = String::with_capacity(10);
        self.push_to(&mut s);
        s
    }
    /// Append the 10 digits to `out`.
    pub fn push_to(&self, out: &mut String) {
        let start = out.len();
        self.push_body(out);
        push_check_digit(out, start);
    }
}

impl fmt::Display for InstitutionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.digits())
    }
}

impl FromStr for InstitutionCode {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, CodeError> {
        InstitutionCode::parse_as(s, "institution code")
    }
}

/// A reception number (受付番号): the institution code the bureau plans to assign,
/// handed out before designation and used in its place until then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReceptionNumber(pub InstitutionCode);

impl fmt::Display for ReceptionNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for ReceptionNumber {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, CodeError> {
        InstitutionCode::parse_as(s, "reception number").map(ReceptionNumber)
    }
}

/// A temporary code (仮コード) from the implementing body under the 2021 rules: 7
/// digits, `00` and a 5-digit serial, as the boxes of seed 000 別紙1 show it
/// ("仮コード 0 0 X X X X X"); no check digit (the form has none). The `00` prefix can
/// never begin a real institution code (its first two digits are a prefecture).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TemporaryCode {
    serial: u32,
}

impl TemporaryCode {
    /// The largest serial (five digits).
    pub const MAX_SERIAL: u32 = 99_999;

    pub fn new(serial: u32) -> Option<Self> {
        (serial <= Self::MAX_SERIAL).then_some(TemporaryCode { serial })
    }
    pub fn serial(&self) -> u32 {
        self.serial
    }
}

impl fmt::Display for TemporaryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "00{:05}", self.serial)
    }
}

impl FromStr for TemporaryCode {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, CodeError> {
        let what = "temporary code";
        check_length(what, s, 7, "7")?;
        digits_only(what, s)?;
        if !s.starts_with("00") {
            return Err(CodeError::TemporaryPrefix { input: s.into() });
        }
        Ok(TemporaryCode {
            serial: s[2..].parse().expect("digits"),
        })
    }
}

/// An insurer number (保険者番号). Employee insurance and others have 8 digits:
/// law number (2) + prefecture (2) + insurer (3) + check (1). National health
/// insurance (国民健康保険) has 6: prefecture (2) + insurer (3) + check (1), shown
/// right-aligned in 8 columns with spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InsurerNumber {
    /// `None` for a 6-digit national-health-insurance number.
    law: Option<u8>,
    prefecture: Prefecture,
    insurer: u16,
}

impl InsurerNumber {
    pub fn new(law: Option<u8>, prefecture: Prefecture, insurer: u16) -> Option<Self> {
        (law.is_none_or(|l| l <= 99) && insurer <= 999).then_some(InsurerNumber {
            law,
            prefecture,
            insurer,
        })
    }
    pub fn law(&self) -> Option<u8> {
        self.law
    }
    pub fn prefecture(&self) -> Prefecture {
        self.prefecture
    }
    pub fn is_national_health_insurance(&self) -> bool {
        self.law.is_none()
    }
    /// As `format!("{l:02}{:02}{:03}", …)`, without the formatting machinery.
    fn push_body(&self, s: &mut String) {
        if let Some(l) = self.law {
            push_digits(s, l, 2);
        }
        push_digits(s, self.prefecture.code(), 2);
        push_digits(s, self.insurer, 3);
    }
    /// The number as shown on forms: 8 columns, a 6-digit number padded with spaces.
    pub fn padded(&self) -> String {
        format!("{:>8}", self.to_string())
    }

    /// Append the number in 8 columns to `out`: a 6-digit number right-aligned with
    /// two spaces (`  123456`), as real terminals write it (MC fixture, MR spec:
    /// docs/INTERFACE.md §2).
    pub fn push_padded_to(&self, out: &mut String) {
        if self.law.is_none() {
            out.push_str("  ");
        }
        self.push_to(out);
    }

    /// Append the 6 or 8 digits to `out` (as `to_string`, without the formatting
    /// machinery: every eligibility answer carries one).
    pub fn push_to(&self, out: &mut String) {
        let start = out.len();
        self.push_body(out);
        push_check_digit(out, start);
    }
}

impl fmt::Display for InsurerNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(8);
        self.push_to(&mut s);
        f.write_str(&s)
    }
}

impl FromStr for InsurerNumber {
    type Err = CodeError;
    /// Accepts 8 digits, 6 digits, or 6 digits right-aligned in 8 columns with spaces
    /// (MC fixture, MR spec: docs/INTERFACE.md §2) or with zeros (`00123456`: some
    /// clients pad so; 法別番号 00 does not exist, so the reading is unambiguous).
    fn from_str(raw: &str) -> Result<Self, CodeError> {
        let what = "insurer number";
        let s = raw.trim_start_matches(' ');
        let s = match s.strip_prefix("00") {
            Some(six) if raw.len() == 8 && s.len() == 8 => six,
            _ => s,
        };
        if raw.len() != s.len() && raw.len() != 8 {
            return Err(CodeError::Length {
                what,
                expected: "6 (padded to 8 with spaces) or 8",
                got: raw.chars().count(),
                input: raw.into(),
            });
        }
        digits_only(what, s)?;
        let n = s.len();
        if n != 6 && n != 8 {
            return Err(CodeError::Length {
                what,
                expected: "6 or 8",
                got: n,
                input: raw.into(),
            });
        }
        verify_check(what, s, &s[..n - 1])?;
        let (law, rest) = if n == 8 {
            (Some(s[0..2].parse().expect("digits")), &s[2..])
        } else {
            (None, s)
        };
        let pref: u8 = rest[0..2].parse().expect("digits");
        let prefecture = Prefecture::new(pref).ok_or(CodeError::Prefecture {
            what,
            input: raw.into(),
            code: pref,
        })?;
        Ok(InsurerNumber {
            law,
            prefecture,
            insurer: rest[2..5].parse().expect("digits"),
        })
    }
}

macro_rules! serde_via_string {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
serde_via_string!(InstitutionCode);
serde_via_string!(ReceptionNumber);
serde_via_string!(TemporaryCode);
serde_via_string!(InsurerNumber);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn worked_examples_from_the_notice() {
        assert_eq!(check_digit("0613048"), Some(8));
        assert_eq!(check_digit("3312001"), Some(5));
        assert_eq!(check_digit("341071236"), Some(2));
        assert_eq!(check_digit("011011371"), Some(9));
        assert_eq!(check_digit("12a"), None);
    }

    #[test]
    fn institution_code_round_trip_and_errors() {
        let c: InstitutionCode = "1313120014".parse().unwrap();
        assert_eq!(c.prefecture().name(), "東京都");
        assert_eq!(c.fee_table(), FeeTable::Medical);
        assert_eq!(c.to_string(), "1313120014");
        let e = "1313120016".parse::<InstitutionCode>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "institution code \"1313120016\" has check digit 6, expected 4"
        );
        assert!(matches!(
            "131312001".parse::<InstitutionCode>(),
            Err(CodeError::Length { got: 9, .. })
        ));
        assert!(matches!(
            "13131200x5".parse::<InstitutionCode>(),
            Err(CodeError::NotADigit { pos: 9, .. })
        ));
        assert!(matches!(
            "4813120015".parse::<InstitutionCode>(),
            Err(CodeError::Prefecture { code: 48, .. })
        ));
        assert!(matches!(
            "1323120015".parse::<InstitutionCode>(),
            Err(CodeError::FeeTable { digit: 2, .. })
        ));
    }

    #[test]
    fn insurer_numbers_of_both_lengths() {
        let p = Prefecture::new(13).unwrap();
        let nhi = InsurerNumber::new(None, p, 12).unwrap();
        let s = nhi.to_string();
        assert_eq!(s.len(), 6);
        assert_eq!(nhi.padded().len(), 8);
        assert_eq!(nhi.padded().parse::<InsurerNumber>().unwrap(), nhi);
        assert_eq!(s.parse::<InsurerNumber>().unwrap(), nhi);
        let emp = InsurerNumber::new(Some(6), p, 123).unwrap();
        assert_eq!(emp.to_string().parse::<InsurerNumber>().unwrap(), emp);
        assert!("1234567".parse::<InsurerNumber>().is_err());
        // Zero-padded 6-digit numbers are the same national-health-insurance number.
        assert_eq!(format!("00{nhi}").parse::<InsurerNumber>().unwrap(), nhi);
        let mut p8 = String::new();
        nhi.push_padded_to(&mut p8);
        assert_eq!(p8, nhi.padded());
        let mut e8 = String::new();
        emp.push_padded_to(&mut e8);
        assert_eq!(e8, emp.to_string());
    }

    #[test]
    fn temporary_code_needs_00() {
        let t = TemporaryCode::new(1234).unwrap();
        // 000 別紙1: "0 0 X X X X X".
        assert_eq!(t.to_string(), "0001234");
        assert_eq!(t.to_string().parse::<TemporaryCode>().unwrap(), t);
        assert!(matches!(
            "1101234".parse::<TemporaryCode>(),
            Err(CodeError::TemporaryPrefix { .. })
        ));
        assert!("00012345".parse::<TemporaryCode>().is_err());
        assert!(TemporaryCode::new(100_000).is_none());
    }

    #[test]
    fn every_prefecture_has_exactly_one_bureau() {
        for p in Prefecture::all() {
            let n = Bureau::ALL.iter().filter(|b| b.serves(p)).count();
            assert_eq!(n, 1, "{p}");
        }
        assert_eq!(Prefecture::new(18).unwrap().bureau(), Bureau::Kinki); // 福井
        assert_eq!(Prefecture::new(47).unwrap().bureau(), Bureau::Kyushu); // 沖縄
        assert_eq!("東京".parse::<Prefecture>().unwrap().code(), 13);
        assert_eq!(
            "kanto-shinetsu".parse::<Bureau>().unwrap(),
            Bureau::KantoShinetsu
        );
    }

    fn corruptions(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        for i in 0..s.len() {
            for d in b'0'..=b'9' {
                if s.as_bytes()[i] != d {
                    let mut b = s.as_bytes().to_vec();
                    b[i] = d;
                    out.push(String::from_utf8(b).unwrap());
                }
            }
        }
        out
    }

    proptest! {
        /// `push_digits` is `format!("{n:0width$}")`, for any number and width.
        #[test]
        fn digits_are_format_zero_padded(n in any::<u64>(), width in 0usize..30, small in 0u64..1000) {
            for n in [n, small] {
                let mut s = String::from("x");
                push_digits(&mut s, n, width);
                prop_assert_eq!(s, format!("x{n:0width$}"));
            }
        }

        /// The hand-written digits are what `format!` wrote before.
        #[test]
        fn codes_are_written_as_format_would(p in 1u8..=47, f in prop::sample::select(vec![1u8, 3, 4]), c in 0u8..=99, n in 0u16..=9999, law in prop::option::of(0u8..=99), i in 0u16..=999) {
            let code = InstitutionCode::new(Prefecture::new(p).unwrap(), FeeTable::from_digit(f).unwrap(), c, n).unwrap();
            let body = format!("{p:02}{f}{c:02}{n:04}");
            prop_assert_eq!(code.to_string(), format!("{body}{}", check_digit(&body).unwrap()));
            if let Some(ins) = InsurerNumber::new(law, Prefecture::new(p).unwrap(), i) {
                let body = match law {
                    Some(l) => format!("{l:02}{p:02}{i:03}"),
                    None => format!("{p:02}{i:03}"),
                };
                prop_assert_eq!(ins.to_string(), format!("{body}{}", check_digit(&body).unwrap()));
            }
        }

        #[test]
        fn institution_codes_detect_single_digit_errors(p in 1u8..=47, f in prop::sample::select(vec![1u8, 3, 4]), c in 0u8..=99, n in 0u16..=9999) {
            let code = InstitutionCode::new(Prefecture::new(p).unwrap(), FeeTable::from_digit(f).unwrap(), c, n).unwrap();
            let s = code.to_string();
            prop_assert_eq!(s.parse::<InstitutionCode>().unwrap(), code);
            for bad in corruptions(&s) {
                prop_assert!(bad.parse::<InstitutionCode>().is_err(), "{} accepted", bad);
            }
        }

        #[test]
        fn insurer_numbers_detect_single_digit_errors(law in prop::option::of(1u8..=99), p in 1u8..=47, i in 0u16..=999) {
            let num = InsurerNumber::new(law, Prefecture::new(p).unwrap(), i).unwrap();
            let s = num.to_string();
            prop_assert_eq!(s.parse::<InsurerNumber>().unwrap(), num);
            for bad in corruptions(&s) {
                prop_assert!(bad.parse::<InsurerNumber>().is_err(), "{} accepted", bad);
            }
        }

        #[test]
        fn temporary_codes_round_trip_as_seven_digits(serial in 0u32..=TemporaryCode::MAX_SERIAL) {
            let t = TemporaryCode::new(serial).unwrap();
            let s = t.to_string();
            prop_assert_eq!(s.len(), 7);
            prop_assert!(s.starts_with("00"));
            prop_assert_eq!(s.parse::<TemporaryCode>().unwrap(), t);
        }

        #[test]
        fn parsing_arbitrary_strings_never_panics(s in ".{0,14}") {
            let _ = s.parse::<InstitutionCode>();
            let _ = s.parse::<InsurerNumber>();
            let _ = s.parse::<TemporaryCode>();
            let _ = s.parse::<Prefecture>();
        }
    }
}
