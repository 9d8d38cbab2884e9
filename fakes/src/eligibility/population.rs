//! A synthetic insured population (被保険者), generated from a seed, never stored.
//!
//! *(our choice)* **Key scheme.** People live in households (世帯) numbered
//! `h = 0..households`. Household `h` is a pure function of `(seed, h)`: a ChaCha8
//! generator seeded with the population seed, on stream `h` (ChaCha's 64-bit stream
//! id), so every household is independent and any one can be regenerated in O(1).
//! The insured number (被保険者証番号) encodes `h`:
//!
//! ```text
//! InsuredIdentificationNumber = HHHHHHHH G C   (10 digits)
//!   HHHHHHHH  the household index, zero-padded
//!   G         record generation: 0 the current record, 1 the record before a change
//!             of insurer (only households that changed insurer have one)
//!   C         check digit of the nine digits before it (same rule as codes::check_digit)
//! ```
//!
//! so a lookup parses `h`, regenerates the household and compares insurer number,
//! symbol (記号), branch (枝番: 00 the insured, 01 a spouse, 02.. children) and
//! birthdate. A number that does not decode is simply not found (validity 4).
//!
//! **Validity.** Each household is *current*, *lapsed* (資格喪失, no successor) or
//! *switched* (changed insurer: the old record ended, a new one began). All those
//! events lie in the two years before [`PopulationConfig::epoch`], so for every
//! confirmation date on or after the epoch the outcome depends only on the key:
//! 1 valid, 2 lapsed, 3 the old record of a switched household, 4 unknown key,
//! 5 a key without branch number that matches twins (same birthdate, same card).
//! [`Population::example`] finds a key for each.
//!
//! **Names** are synthetic by construction: surnames are made of two kanji chosen so
//! they read as obviously invented (試田, 模川, 仮﨑 …), with half-width kana
//! readings. Records have a redacted `Debug`; nothing here logs.

use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};

use crate::codes::{push_check_digit, push_digits};
use rand_chacha::ChaCha8Rng;

use super::values::*;
use super::xml::{
    ElderlyRecipient, LimitCertificate, MedicalAid, MedicalTicket, Qualification, SearchInfo,
    SpecificDiseaseCertificate,
};
use crate::codes::{check_digit, InsurerNumber, Prefecture};

/// Parameters of a population. All *(our choice)*.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationConfig {
    pub seed: u64,
    /// Number of households (about 2.5 people each). At most 10^8.
    pub households: u64,
    /// Number of distinct insurers (保険者); a quarter are national health insurance.
    pub insurers: u32,
    /// Reference date: ages are counted at it and every lapse or change of insurer
    /// happened in the two years before it.
    pub epoch: NaiveDate,
    /// Share of households whose record lapsed without a successor.
    pub p_lapsed: f64,
    /// Share of households that changed insurer.
    pub p_switched: f64,
    /// Share of four-person households whose two children are twins.
    pub p_twins: f64,
    /// Share of people holding a high-cost-limit certificate (限度額適用認定証).
    pub p_limit: f64,
    /// Share of people holding a specific-disease certificate (特定疾病療養受療証).
    pub p_specific_disease: f64,
    /// Share of households of people aged 75 and over, insured with the
    /// 後期高齢者医療広域連合 (insurer numbers 39…, each member insured in their own
    /// right, with `InsuredPartialContributionRatio`).
    pub p_late_elderly: f64,
    /// Share of households on public assistance (医療扶助, card class A1, public
    /// expense numbers 12…).
    pub p_medical_aid: f64,
    /// Of national-health-insurance households: share holding short-term cards
    /// (短期被保険者証, class 03/04), a 資格証明書 (05), and 退職 cards (02/04).
    pub p_short_term: f64,
    pub p_qualification_certificate: f64,
    /// Of heads aged 60–74 (national health insurance): share on 退職 cards. High
    /// (0.2) so that even class 04 appears in a population of 20,000 households
    /// *(our choice)*.
    pub p_retired: f64,
    /// Of health-insurance-society households with a head aged 60 or more: share of
    /// 特例退職被保険者 (class 06).
    pub p_special_retired: f64,
    /// Share of people with a registered alias (氏名（その他）).
    pub p_alias: f64,
    /// Share of people whose card shows sex on its back (`Sex1` 3, `Sex2` set).
    pub p_sex2: f64,
}

impl Default for PopulationConfig {
    fn default() -> Self {
        PopulationConfig {
            seed: 1,
            households: 1_000_000,
            insurers: 64,
            epoch: NaiveDate::from_ymd_opt(2024, 4, 1).expect("valid"),
            p_lapsed: 0.03,
            p_switched: 0.05,
            p_twins: 0.05,
            p_limit: 0.10,
            p_specific_disease: 0.02,
            p_late_elderly: 0.10,
            p_medical_aid: 0.02,
            p_short_term: 0.03,
            p_qualification_certificate: 0.01,
            p_retired: 0.2,
            p_special_retired: 0.05,
            p_alias: 0.02,
            p_sex2: 0.005,
        }
    }
}

/// What identifies a record: the numbers on an insurance card plus the birthdate.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SearchKey {
    pub insurer_number: InsurerNumber,
    pub symbol: Option<String>,
    pub number: String,
    /// `None` searches without 枝番 (older cards).
    pub branch: Option<String>,
    pub birthdate: NaiveDate,
}

impl std::fmt::Debug for SearchKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchKey")
            .field("insurer_number", &self.insurer_number)
            .field("person", &"<redacted>")
            .finish()
    }
}

impl SearchKey {
    /// A request body for this key (no consent asked, no identifier).
    pub fn to_search_info(&self) -> SearchInfo {
        SearchInfo {
            insurer_number: self.insurer_number,
            insured_card_symbol: self.symbol.clone(),
            insured_identification_number: self.number.clone(),
            insured_branch_number: self.branch.clone(),
            birthdate: self.birthdate,
            limit_consent: None,
            arbitrary_identifier: None,
        }
    }

    pub fn of_search_info(s: &SearchInfo) -> Self {
        SearchKey {
            insurer_number: s.insurer_number,
            symbol: s.insured_card_symbol.clone(),
            number: s.insured_identification_number.clone(),
            branch: s.insured_branch_number.clone(),
            birthdate: s.birthdate,
        }
    }
}

/// One person's record as the population holds it: the qualification without any
/// consent fields, and the certificates that are only shown with consent
/// (docs/INTERFACE.md §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRecord {
    pub qualification: Qualification,
    pub limit: Option<LimitCertificate>,
    pub specific_diseases: Vec<SpecificDiseaseCertificate>,
}

/// The outcome of a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub validity: QualificationValidity,
    /// The matching records (empty for 4; several for 5).
    pub records: Vec<PersonRecord>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Current,
    Lapsed(NaiveDate),
    Switched(NaiveDate),
}

struct Member {
    sex: Sex,
    birthdate: NaiveDate,
    given: usize,
}

/// How a household is insured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// National health insurance or employee insurance, by the insurer index.
    Ordinary,
    /// 後期高齢者医療 (75 and over).
    LateElderly,
    /// 医療扶助 (public assistance).
    MedicalAid,
}

struct Household {
    kind: Kind,
    /// Card class of a national-health-insurance household (01, 02, 03, 04, 05).
    nhi_class: InsuredCardClass,
    /// 特例退職 (health-insurance-society households with a head aged 60+).
    special_retired: bool,
    status: Status,
    /// Insurer index and symbol of generation 0 (current) and 1 (previous).
    insurer: [u32; 2],
    symbol: [String; 2],
    surname: usize,
    members: Vec<Member>,
    twins: bool,
    address: (u32, u32, u32, u32),
}

/// The population: its configuration, and the insurer numbers worked out once (every
/// lookup needs one or two; the table is a cache of a pure function, nothing more).
#[derive(Debug, Clone)]
pub struct Population {
    cfg: PopulationConfig,
    insurers: std::sync::Arc<[InsurerNumber]>,
    /// 保険者名称 of the tabled insurers (every answer carries one).
    names: std::sync::Arc<[String]>,
}

/// Insurers beyond this index are worked out on each call instead of tabled.
const INSURER_TABLE_MAX: u32 = 65_536;

const SURNAME_HEAD: [(&str, &str); 8] = [
    ("試", "ｼ"),
    ("模", "ﾓ"),
    ("仮", "ｶﾘ"),
    ("架", "ｶ"),
    ("例", "ﾚｲ"),
    ("検", "ｹﾝ"),
    ("擬", "ｷﾞ"),
    ("虚", "ｷｮ"),
];
// 﨑 (an IBM extension of CP932) and 髙 exercise the Windows-31J encoder.
const SURNAME_TAIL: [(&str, &str); 10] = [
    ("野", "ﾉ"),
    ("田", "ﾀ"),
    ("川", "ｶﾜ"),
    ("山", "ﾔﾏ"),
    ("本", "ﾓﾄ"),
    ("森", "ﾓﾘ"),
    ("原", "ﾊﾗ"),
    ("沢", "ｻﾜ"),
    ("﨑", "ｻｷ"),
    ("髙", "ﾀｶ"),
];
const GIVEN_MALE: [(&str, &str); 8] = [
    ("太郎", "ﾀﾛｳ"),
    ("一郎", "ｲﾁﾛｳ"),
    ("健太", "ｹﾝﾀ"),
    ("翔", "ｼｮｳ"),
    ("大輔", "ﾀﾞｲｽｹ"),
    ("蓮", "ﾚﾝ"),
    ("悠真", "ﾕｳﾏ"),
    ("誠", "ﾏｺﾄ"),
];
const GIVEN_FEMALE: [(&str, &str); 8] = [
    ("花子", "ﾊﾅｺ"),
    ("陽子", "ﾖｳｺ"),
    ("美咲", "ﾐｻｷ"),
    ("結衣", "ﾕｲ"),
    ("桜", "ｻｸﾗ"),
    ("恵", "ﾒｸﾞﾐ"),
    ("葵", "ｱｵｲ"),
    ("優子", "ﾕｳｺ"),
];

/// Largest supported household count (8 digits in the insured number).
pub const MAX_HOUSEHOLDS: u64 = 100_000_000;

impl Population {
    /// # Panics
    /// If `households` is 0 or above [`MAX_HOUSEHOLDS`], or `insurers` is 0.
    pub fn new(cfg: PopulationConfig) -> Self {
        assert!(
            (1..=MAX_HOUSEHOLDS).contains(&cfg.households),
            "households must be 1..={MAX_HOUSEHOLDS}"
        );
        assert!(cfg.insurers > 0, "at least one insurer");
        let insurers = (0..cfg.insurers.min(INSURER_TABLE_MAX))
            .map(|i| Self::make_insurer(cfg.seed, i))
            .collect();
        let mut p = Population {
            cfg,
            insurers,
            names: std::sync::Arc::from(Vec::new()),
        };
        p.names = (0..p.insurers.len() as u32)
            .map(|i| p.make_insurer_name(i))
            .collect();
        p
    }

    pub fn config(&self) -> &PopulationConfig {
        &self.cfg
    }

    /// The insurer with index `i`: a pure function of (seed, i). By `i mod 8`: 0 and
    /// 4 national health insurance (6 digits), 1 協会けんぽ (法別 01), 2 and 5
    /// 健保組合 (06), 3 共済 (31), 6 自衛官等 (07), 7 後期高齢者医療 (39, only for
    /// households aged 75+).
    pub fn insurer(&self, i: u32) -> InsurerNumber {
        match self.insurers.get(i as usize) {
            Some(n) => *n,
            None => Self::make_insurer(self.cfg.seed, i),
        }
    }

    fn make_insurer(seed: u64, i: u32) -> InsurerNumber {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x1f5a_c0de_0000_0000);
        rng.set_stream(u64::from(i));
        let pref = Prefecture::new(rng.gen_range(1..=47)).expect("1..=47");
        let law = match i % 8 {
            0 | 4 => None,
            1 => Some(1),
            2 | 5 => Some(6),
            3 => Some(31),
            6 => Some(7),
            _ => Some(39),
        };
        InsurerNumber::new(law, pref, rng.gen_range(0..=999)).expect("in range")
    }

    /// The welfare office (福祉事務所) with index `i` as a public expense number
    /// (公費負担者番号, 法別 12, 8 digits with check digit): a pure function of (seed, i).
    pub fn welfare_office(&self, i: u32) -> InsurerNumber {
        let mut rng = ChaCha8Rng::seed_from_u64(self.cfg.seed ^ 0x3e1f_a1d0_0000_0000);
        rng.set_stream(u64::from(i));
        let pref = Prefecture::new(rng.gen_range(1..=47)).expect("1..=47");
        InsurerNumber::new(Some(12), pref, rng.gen_range(0..=999)).expect("in range")
    }

    /// The number that stands for the insurer in household `hh`'s generation `gi`.
    fn insurer_of(&self, hh: &Household, gi: usize) -> InsurerNumber {
        match hh.kind {
            Kind::MedicalAid => self.welfare_office(hh.insurer[gi]),
            _ => self.insurer(hh.insurer[gi]),
        }
    }

    /// 保険者名称 of insurer index `i` (or welfare office, for 医療扶助): synthetic,
    /// recognisably invented names of the real kinds *(our choice)*. Tabled for the
    /// first insurers like their numbers.
    pub fn insurer_name(&self, kind_medical_aid: bool, i: u32) -> String {
        match self.names.get(i as usize) {
            Some(n) if !kind_medical_aid => n.clone(),
            _ if kind_medical_aid => self.welfare_office_name(i),
            _ => self.make_insurer_name(i),
        }
    }

    fn welfare_office_name(&self, i: u32) -> String {
        let pref = self.welfare_office(i).prefecture();
        format!("{}架空市第{}福祉事務所", pref.name(), i + 1)
    }

    fn make_insurer_name(&self, i: u32) -> String {
        let n = self.insurer(i);
        let pref = n.prefecture().name();
        match i % 8 {
            0 | 4 => format!("{pref}架空市第{}国民健康保険", i / 4 + 1),
            1 => format!("全国健康保険協会{pref}支部"),
            2 | 5 => format!("試験第{}健康保険組合", i + 1),
            3 => format!("模擬第{}共済組合", i + 1),
            6 => "防衛省".to_string(),
            _ => format!("{pref}後期高齢者医療広域連合"),
        }
    }

    fn household(&self, h: u64) -> Household {
        let c = &self.cfg;
        let mut rng = ChaCha8Rng::seed_from_u64(c.seed);
        rng.set_stream(h);
        let kind_roll: f64 = rng.gen();
        let kind = if kind_roll < c.p_late_elderly {
            Kind::LateElderly
        } else if kind_roll < c.p_late_elderly + c.p_medical_aid {
            Kind::MedicalAid
        } else {
            Kind::Ordinary
        };
        let roll: f64 = rng.gen();
        let event_date = c.epoch - chrono::Days::new(rng.gen_range(1..=730));
        let status = if roll < c.p_lapsed {
            Status::Lapsed(event_date)
        } else if roll < c.p_lapsed + c.p_switched {
            Status::Switched(event_date)
        } else {
            Status::Current
        };
        let insurer = [
            insurer_slot(kind, rng.gen_range(0..c.insurers)),
            insurer_slot(kind, rng.gen_range(0..c.insurers)),
        ];
        let symbol = [
            self.symbol_for(kind, insurer[0], &mut rng),
            self.symbol_for(kind, insurer[1], &mut rng),
        ];
        let mut size = [1, 1, 2, 2, 3, 4, 4][rng.gen_range(0..7)];
        let head_age = match kind {
            Kind::LateElderly => {
                size = size.min(2);
                rng.gen_range(75..=95)
            }
            _ => rng.gen_range(20..=74),
        };
        let twins = size == 4 && rng.gen_bool(c.p_twins);
        let mut members = Vec::with_capacity(size);
        let head_sex = if rng.gen_bool(0.5) {
            Sex::Male
        } else {
            Sex::Female
        };
        members.push(self.member(&mut rng, head_sex, head_age));
        if size >= 2 {
            let other = if head_sex == Sex::Male {
                Sex::Female
            } else {
                Sex::Male
            };
            let age = (head_age + rng.gen_range(0..=6)).saturating_sub(3);
            let age = match kind {
                Kind::LateElderly => age.clamp(75, 99),
                _ => age.clamp(18, 74),
            };
            members.push(self.member(&mut rng, other, age));
        }
        for k in 2..size {
            let sex = if rng.gen_bool(0.5) {
                Sex::Male
            } else {
                Sex::Female
            };
            let age = rng.gen_range(0..=head_age.saturating_sub(18).min(19));
            let mut m = self.member(&mut rng, sex, age);
            if twins && k == 3 {
                m.birthdate = members[2].birthdate;
            }
            members.push(m);
        }
        let address = (
            rng.gen_range(100..=999),
            rng.gen_range(1..=9),
            rng.gen_range(1..=30),
            rng.gen_range(1..=20),
        );
        let nhi_roll: f64 = rng.gen();
        let retired = (60..=74).contains(&head_age) && rng.gen_bool(c.p_retired);
        let nhi_class = if nhi_roll < c.p_short_term {
            if retired {
                InsuredCardClass::ShortTermRetired
            } else {
                InsuredCardClass::ShortTerm
            }
        } else if nhi_roll < c.p_short_term + c.p_qualification_certificate {
            InsuredCardClass::QualificationCertificate
        } else if retired {
            InsuredCardClass::Retired
        } else {
            InsuredCardClass::General
        };
        let special_retired = head_age >= 60 && rng.gen_bool(c.p_special_retired);
        Household {
            kind,
            nhi_class,
            special_retired,
            status,
            insurer,
            symbol,
            surname: rng.gen_range(0..SURNAME_HEAD.len() * SURNAME_TAIL.len()),
            members,
            twins,
            address,
        }
    }

    fn symbol_for(&self, kind: Kind, insurer: u32, rng: &mut ChaCha8Rng) -> String {
        if kind != Kind::Ordinary {
            // 医療扶助 and 後期高齢者 cards have no symbol; the lookup compares an
            // empty one.
            return String::new();
        }
        if insurer & 3 == 0 {
            // (`& 3`, not `is_multiple_of`: the workspace declares rust 1.85.)
            // NHI cards often carry a kanji symbol.
            format!("国{:02}", rng.gen_range(1..=99))
        } else {
            let len = rng.gen_range(1..=8);
            (0..len)
                .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
                .collect()
        }
    }

    fn member(&self, rng: &mut ChaCha8Rng, sex: Sex, age: u32) -> Member {
        let year = self.cfg.epoch.year() - age as i32 - 1;
        let start = NaiveDate::from_ymd_opt(year, 4, 2).expect("valid");
        let birthdate = start + chrono::Days::new(rng.gen_range(0..365));
        Member {
            sex,
            birthdate,
            given: rng.gen_range(0..8),
        }
    }

    /// The insured number of household `h`, record generation `g`.
    pub fn number(h: u64, g: u8) -> String {
        let mut number = String::with_capacity(10);
        push_digits(&mut number, h, 8);
        push_digits(&mut number, g, 0);
        push_check_digit(&mut number, 0);
        number
    }

    fn decode_number(&self, s: &str) -> Option<(u64, u8)> {
        if s.len() != 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if check_digit(&s[..9])? != s.as_bytes()[9] - b'0' {
            return None;
        }
        let h: u64 = s[..8].parse().ok()?;
        let g = s.as_bytes()[8] - b'0';
        (h < self.cfg.households && g <= 1).then_some((h, g))
    }

    /// Look a key up on `date` (資格確認日).
    pub fn lookup(&self, key: &SearchKey, date: NaiveDate) -> Lookup {
        let none = Lookup {
            validity: QualificationValidity::NoRecord,
            records: Vec::new(),
        };
        let Some((h, g)) = self.decode_number(&key.number) else {
            return none;
        };
        let hh = self.household(h);
        if g == 1 && !matches!(hh.status, Status::Switched(_)) {
            return none;
        }
        let gi = usize::from(g);
        // No symbol on the card (医療扶助, 後期高齢者) is an absent or empty one.
        let symbol_ok = key.symbol.as_deref().map_or("", str::trim) == hh.symbol[gi].as_str();
        if self.insurer_of(&hh, gi) != key.insurer_number || !symbol_ok {
            return none;
        }
        let matches: Vec<usize> = (0..hh.members.len())
            .filter(|&i| key.branch.as_deref().is_none_or(|b| b == branch(i)))
            .filter(|&i| hh.members[i].birthdate == key.birthdate)
            .collect();
        let records: Vec<PersonRecord> =
            matches.iter().map(|&i| self.record(h, &hh, g, i)).collect();
        let validity = match records.len() {
            0 => QualificationValidity::NoRecord,
            1 => {
                let q = &records[0].qualification;
                if date < q.qualification_date {
                    QualificationValidity::Invalid
                } else if q.disqualification_date.is_some_and(|d| date >= d) {
                    if g == 1 {
                        QualificationValidity::InvalidNewerExists
                    } else {
                        QualificationValidity::Invalid
                    }
                } else {
                    QualificationValidity::Valid
                }
            }
            _ => QualificationValidity::SeveralMatches,
        };
        Lookup { validity, records }
    }

    fn record(&self, h: u64, hh: &Household, g: u8, i: usize) -> PersonRecord {
        let c = &self.cfg;
        // Per-person extras come from their own stream so adding fields to the
        // household does not shift them.
        let mut rng = ChaCha8Rng::seed_from_u64(c.seed ^ 0x7e75_0000_0000_0000 ^ u64::from(g));
        rng.set_stream(h * 8 + i as u64);
        let gi = usize::from(g);
        let insurer_i = hh.insurer[gi];
        let insurer = self.insurer_of(hh, gi);
        let nhi = insurer.is_national_health_insurance();
        let m = &hh.members[i];
        // Card class and 本人・家族 (docs/INTERFACE.md §3): a dependant is class 01
        // with PersonalFamilyClassification 2; everyone in national health
        // insurance, 後期高齢者医療 and 医療扶助 is insured in their own right *(our
        // choice for 医療扶助)*.
        let (card_class, person_family) = match (hh.kind, nhi, i) {
            (Kind::MedicalAid, _, _) => (InsuredCardClass::MedicalAid, PersonFamily::Person),
            (Kind::LateElderly, _, _) => (InsuredCardClass::General, PersonFamily::Person),
            (_, true, _) => (hh.nhi_class, PersonFamily::Person),
            (_, false, 0) if insurer.law() == Some(7) => {
                (InsuredCardClass::SelfDefenseForces, PersonFamily::Person)
            }
            (_, false, 0) if hh.special_retired && insurer.law() == Some(6) => {
                (InsuredCardClass::SpecialRetired, PersonFamily::Person)
            }
            (_, false, 0) => (InsuredCardClass::General, PersonFamily::Person),
            (_, false, _) => (InsuredCardClass::General, PersonFamily::Family),
        };
        let age = age_at(m.birthdate, c.epoch);
        let (qualification_date, disqualification_date) = match (hh.status, g) {
            (Status::Current, _) => (first_date(hh, m, c.epoch, &mut rng), None),
            (Status::Lapsed(d), _) => (first_date(hh, m, d, &mut rng), Some(d)),
            (Status::Switched(d), 0) => (d.max(m.birthdate), None),
            (Status::Switched(d), _) => (first_date(hh, m, d, &mut rng), Some(d)),
        };
        let name_of = |k: usize| {
            let m = &hh.members[k];
            let (sh, st) = (
                hh.surname / SURNAME_TAIL.len(),
                hh.surname % SURNAME_TAIL.len(),
            );
            let (given, given_kana) = given_name(m.sex, m.given);
            (
                [SURNAME_HEAD[sh].0, SURNAME_TAIL[st].0, "　", given].concat(),
                [SURNAME_HEAD[sh].1, SURNAME_TAIL[st].1, " ", given_kana].concat(),
            )
        };
        let (name, name_kana) = name_of(i);
        let insured_name = if person_family == PersonFamily::Family {
            name_of(0).0
        } else {
            name.clone()
        };
        let elderly_high = rng.gen_bool(0.1);
        let fiscal_start = fiscal_year_start(c.epoch);
        let late_elderly = hh.kind == Kind::LateElderly;
        // 一部負担金割合 of 後期高齢者 only (MC, SK OnlineKogakuHelper.cs): 1, 2 or 3割.
        let contribution_ratio = late_elderly.then(|| [10, 10, 10, 20, 30][rng.gen_range(0..5)]);
        let elderly = ((70..=74).contains(&age) && !late_elderly).then(|| ElderlyRecipient {
            certificate_date: fiscal_start - chrono::Days::new(20),
            valid_start: fiscal_start.max(birthday(m.birthdate, 70)),
            valid_end: end_of_month(birthday(m.birthdate, 75)),
            contribution_ratio: if elderly_high { 30 } else { 20 },
        });
        let limit = rng.gen_bool(c.p_limit).then(|| {
            // A01–A06 under 70, B01–B10 from 70 (SK KogakuKbnToLimitConsFlgConverter.cs,
            // MC codes.ts); a low-income category comes with the 標準負担額減額.
            let band = if age >= 70 {
                LimitCategory::FROM_70
            } else {
                LimitCategory::UNDER_70
            };
            let category = band[rng.gen_range(0..band.len())];
            let low = category.is_low_income();
            let class = match (low, rng.gen_bool(0.1)) {
                (true, true) => LimitCertificateClass::StandardReduction,
                (true, false) => LimitCertificateClass::LimitAndReduction,
                (false, _) => LimitCertificateClass::Limit,
            };
            LimitCertificate {
                class,
                category,
                certificate_date: fiscal_start - chrono::Days::new(10),
                valid_start: fiscal_start,
                valid_end: fiscal_start + chrono::Months::new(16) - chrono::Days::new(1),
                long_term_date: (low && rng.gen_bool(0.2))
                    .then(|| fiscal_start + chrono::Days::new(rng.gen_range(0..90))),
            }
        });
        let specific_diseases = if rng.gen_bool(c.p_specific_disease) {
            let category = SpecificDisease::ALL[rng.gen_range(0..SpecificDisease::ALL.len())];
            vec![SpecificDiseaseCertificate {
                category,
                certificate_date: qualification_date,
                valid_start: qualification_date,
                valid_end: disqualification_date,
                self_pay: if category == SpecificDisease::Dialysis && rng.gen_bool(0.3) {
                    20_000
                } else {
                    10_000
                },
            }]
        } else {
            Vec::new()
        };
        let reason_of_loss = match (hh.status, g) {
            (Status::Switched(_), 1) => Some(ReasonOfLoss::OtherInsurance),
            (Status::Lapsed(_), _) => Some(
                [
                    ReasonOfLoss::Death,
                    ReasonOfLoss::PublicAssistance,
                    ReasonOfLoss::OtherInsurance,
                    ReasonOfLoss::OtherInsurance,
                    ReasonOfLoss::Other,
                ][rng.gen_range(0..5)],
            ),
            _ => None,
        };
        let alias = rng.gen_bool(c.p_alias);
        let (name_of_other, name_of_other_kana) = if alias {
            let (g, gk) = given_name(m.sex, (m.given + 3) % 8);
            let (surname, _) = name.split_once('　').unwrap_or((&name, ""));
            let (surname_kana, _) = name_kana.split_once(' ').unwrap_or((&name_kana, ""));
            (
                Some([surname, "　", g].concat()),
                Some([surname_kana, " ", gk].concat()),
            )
        } else {
            (None, None)
        };
        let (sex, sex2) = if rng.gen_bool(c.p_sex2) {
            (Sex::Unset, Some(m.sex))
        } else {
            (m.sex, None)
        };
        // Short-term cards (短期被保険者証) run six months from the fiscal year start
        // *(our choice)*; other cards until the record ends.
        let valid_end = match card_class {
            InsuredCardClass::ShortTerm | InsuredCardClass::ShortTermRetired => Some(
                disqualification_date
                    .map(|d| d - chrono::Days::new(1))
                    .unwrap_or(fiscal_start + chrono::Months::new(6) - chrono::Days::new(1)),
            ),
            _ => disqualification_date.map(|d| d - chrono::Days::new(1)),
        };
        let number = Self::number(h, g);
        let medical_aid = (hh.kind == Kind::MedicalAid).then(|| {
            let month = NaiveDate::from_ymd_opt(c.epoch.year(), c.epoch.month(), 1).expect("valid");
            MedicalAid {
                public_expense_number: insurer.to_string(),
                beneficiary_number: number.clone(),
                welfare_office_name: self.insurer_name(true, insurer_i),
                tickets: vec![MedicalTicket {
                    ticket_type: "1".into(),
                    valid_date: month,
                    expiration_date: Some(end_of_month(month)),
                    issue_number: format!("{:06}", rng.gen_range(0..1_000_000)),
                    treatment_month: month.format("%Y%m").to_string(),
                    designated_institution_name: None,
                    treatment_type: "1".into(),
                    self_pay_amount: if rng.gen_bool(0.1) { 1_000 } else { 0 },
                    district_contact_name: Some("試験担当".into()),
                    handling_contact_name: None,
                    single_or_combined_use: "1".into(),
                    status_of_social_insurance: "0".into(),
                }],
            }
        });
        let pref = insurer.prefecture();
        let (p, a, b, n) = hh.address;
        PersonRecord {
            qualification: Qualification {
                card_class,
                insurer_number: insurer,
                insured_card_symbol: (!hh.symbol[gi].is_empty()).then(|| hh.symbol[gi].clone()),
                insured_identification_number: number,
                insured_branch_number: Some(branch(i).to_string()),
                person_family,
                insured_name: Some(insured_name),
                name,
                name_of_other,
                name_kana,
                name_of_other_kana,
                sex,
                sex2,
                birthdate: m.birthdate,
                address: Some(address(pref.name(), a, b, n)),
                post_number: Some(post_number(pref.code() as u32 * 10 + p % 10, n * 100 + a)),
                qualification_date,
                disqualification_date,
                certificate_issuance_date: Some(qualification_date),
                valid_start: qualification_date,
                valid_end,
                contribution_ratio,
                preschool: is_preschool(m.birthdate, c.epoch)
                    .then_some(PreschoolClassification::Preschool),
                reason_of_loss,
                insurer_name: if hh.kind == Kind::MedicalAid {
                    // MC refuses a result without InsurerName; OD reads the welfare
                    // office name where InsurerName is missing: the same name in both
                    // *(our choice)*.
                    self.insurer_name(true, insurer_i)
                } else {
                    self.insurer_name(false, insurer_i)
                },
                medical_aid,
                elderly,
                limit_consent: None,
                limit: None,
                specific_diseases_consent: None,
                specific_diseases: Vec::new(),
                specific_health_checkups_consent: None,
                pharmacists_info_consent: None,
                // Filled from the registered 照会番号 when answered
                // (`answer::reference_key`).
                reference_number: None,
                diagnosis_info_consent: None,
                operation_info_consent: None,
                qualification_confirmation_key: None,
            },
            limit,
            specific_diseases,
        }
    }

    /// A findable key whose lookup on any date from the epoch on gives `validity`.
    /// Deterministic: the first suitable household in index order.
    ///
    /// # Panics
    /// If the population is too small or its shares are zero so that no household
    /// fits (e.g. `p_twins = 0` for validity 5).
    pub fn example(&self, validity: QualificationValidity) -> SearchKey {
        self.try_example(validity).unwrap_or_else(|| {
            panic!(
                "no household in the first {} gives validity {validity:?}",
                self.cfg.households.min(1_000_000)
            )
        })
    }

    /// [`Population::example`], or `None` when no household fits (a population too
    /// small for every outcome: `onsim serve` refuses it naming the outcome).
    pub fn try_example(&self, validity: QualificationValidity) -> Option<SearchKey> {
        use QualificationValidity as V;
        let limit = self.cfg.households.min(1_000_000);
        if validity == V::NoRecord {
            // A valid key with a birthdate nobody in that household has.
            let mut key = self.try_example(V::Valid)?;
            key.birthdate = NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid");
            return Some(key);
        }
        for h in 0..limit {
            let hh = self.household(h);
            let pick = match (validity, hh.status) {
                (V::Valid, Status::Current) => Some((0, 0, true)),
                (V::Invalid, Status::Lapsed(_)) => Some((0, 0, true)),
                (V::InvalidNewerExists, Status::Switched(_)) => Some((1, 0, true)),
                (V::SeveralMatches, Status::Current) if hh.twins => Some((0, 2, false)),
                _ => None,
            };
            if let Some((g, i, with_branch)) = pick {
                let gi = usize::from(g);
                return Some(SearchKey {
                    insurer_number: self.insurer_of(&hh, gi),
                    symbol: symbol_key(&hh.symbol[gi]),
                    number: Self::number(h, g),
                    branch: with_branch.then(|| branch(i).to_string()),
                    birthdate: hh.members[i].birthdate,
                });
            }
        }
        None
    }

    /// The key of the first person (in household order) with feature `want`: valid
    /// (a current record), except for [`Feature::ReasonOfLoss`], which looks among
    /// lapsed records.
    ///
    /// # Panics
    /// If nobody in the first 10^6 households has it.
    pub fn example_with(&self, want: Feature) -> SearchKey {
        self.try_example_with(want)
            .unwrap_or_else(|| panic!("no person with {want:?} in the population"))
    }

    /// [`Population::example_with`], or `None` when nobody has `want`.
    pub fn try_example_with(&self, want: Feature) -> Option<SearchKey> {
        for h in 0..self.cfg.households.min(1_000_000) {
            let hh = self.household(h);
            let lapsed = matches!(hh.status, Status::Lapsed(_));
            match want {
                Feature::ReasonOfLoss(_) if !lapsed => continue,
                Feature::ReasonOfLoss(_) => {}
                _ if hh.status != Status::Current => continue,
                _ => {}
            }
            for i in 0..hh.members.len() {
                let r = self.record(h, &hh, 0, i);
                let q = &r.qualification;
                let hit = match want {
                    Feature::LimitCertificate => r.limit.is_some(),
                    Feature::Elderly => q.elderly.is_some(),
                    Feature::SpecificDisease => !r.specific_diseases.is_empty(),
                    Feature::CardClass(c) => q.card_class == c,
                    Feature::Dependant => q.person_family == PersonFamily::Family,
                    Feature::LateElderly => q.contribution_ratio.is_some(),
                    Feature::NationalHealthInsurance => {
                        q.insurer_number.is_national_health_insurance()
                            && q.card_class == InsuredCardClass::General
                    }
                    Feature::Preschool => q.preschool.is_some(),
                    Feature::Alias => q.name_of_other.is_some(),
                    Feature::Sex2 => q.sex2.is_some(),
                    Feature::ReasonOfLoss(why) => q.reason_of_loss == Some(why),
                    Feature::LimitCategory(c) => r.limit.as_ref().is_some_and(|l| l.category == c),
                    Feature::LimitClass(c) => r.limit.as_ref().is_some_and(|l| l.class == c),
                };
                if hit {
                    return Some(SearchKey::of_search_info(&SearchInfo {
                        insurer_number: r.qualification.insurer_number,
                        insured_card_symbol: r.qualification.insured_card_symbol.clone(),
                        insured_identification_number: r
                            .qualification
                            .insured_identification_number
                            .clone(),
                        insured_branch_number: r.qualification.insured_branch_number.clone(),
                        birthdate: r.qualification.birthdate,
                        limit_consent: None,
                        arbitrary_identifier: None,
                    }));
                }
            }
        }
        None
    }

    /// The key of person `i` of household `h`, current record (for load generators).
    /// `None` if there is no such person.
    pub fn key_of(&self, h: u64, i: usize) -> Option<SearchKey> {
        if h >= self.cfg.households {
            return None;
        }
        let hh = self.household(h);
        let m = hh.members.get(i)?;
        Some(SearchKey {
            insurer_number: self.insurer_of(&hh, 0),
            symbol: symbol_key(&hh.symbol[0]),
            number: Self::number(h, 0),
            branch: Some(branch(i).to_string()),
            birthdate: m.birthdate,
        })
    }
}

/// Features [`Population::example_with`] can look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    LimitCertificate,
    /// 高齢受給者 (70–74).
    Elderly,
    SpecificDisease,
    /// A record of this card class (A1: a 医療扶助 recipient).
    CardClass(InsuredCardClass),
    /// A dependant (被扶養者: class 01, `PersonalFamilyClassification` 2).
    Dependant,
    /// 後期高齢者 (insurer 39…, with `InsuredPartialContributionRatio`).
    LateElderly,
    /// A national-health-insurance member with a general card (class 01).
    NationalHealthInsurance,
    /// 未就学 child.
    Preschool,
    /// A person with 氏名（その他）.
    Alias,
    /// A card with `Sex2` (and `Sex1` 3).
    Sex2,
    /// A lapsed record with this 資格喪失事由.
    ReasonOfLoss(ReasonOfLoss),
    /// A high-cost-limit certificate of this category.
    LimitCategory(LimitCategory),
    /// A high-cost-limit certificate of this class.
    LimitClass(LimitCertificateClass),
}

/// Where household insurer draws land: 後期高齢者 households on index ≡ 7 (mod 8),
/// others never there; 医療扶助 draws index welfare offices.
fn insurer_slot(kind: Kind, raw: u32) -> u32 {
    match kind {
        Kind::LateElderly => raw - raw % 8 + 7,
        Kind::MedicalAid => raw,
        Kind::Ordinary if raw % 8 == 7 => raw - 1,
        Kind::Ordinary => raw,
    }
}

/// The symbol a search key carries: none for cards without one.
fn symbol_key(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn given_name(sex: Sex, i: usize) -> (&'static str, &'static str) {
    match sex {
        Sex::Female => GIVEN_FEMALE[i],
        _ => GIVEN_MALE[i],
    }
}

/// 未就学: before the 1 April on which the child starts school, i.e. 1 April of the
/// fiscal year (年度) of birth + 7 (a child born 2 April 2017 – 1 April 2018 starts
/// school in April 2024).
fn is_preschool(birth: NaiveDate, at: NaiveDate) -> bool {
    let fy = if (birth.month(), birth.day()) >= (4, 2) {
        birth.year()
    } else {
        birth.year() - 1
    };
    NaiveDate::from_ymd_opt(fy + 7, 4, 1).is_some_and(|entry| at < entry)
}

/// `NNN-NNNN` (as `format!("{:03}-{:04}")`, without the formatting machinery: this
/// runs for every person an answer carries).
fn post_number(head: u32, tail: u32) -> String {
    let mut s = String::with_capacity(8);
    push_digits(&mut s, head, 3);
    s.push('-');
    push_digits(&mut s, tail, 4);
    s
}

/// `<prefecture>架空市試験町<a>丁目<b>番<n>号`.
fn address(prefecture: &str, a: u32, b: u32, n: u32) -> String {
    let mut s = String::with_capacity(prefecture.len() + 48);
    s.push_str(prefecture);
    s.push_str("架空市試験町");
    push_digits(&mut s, a, 0);
    s.push_str("丁目");
    push_digits(&mut s, b, 0);
    s.push('番');
    push_digits(&mut s, n, 0);
    s.push('号');
    s
}

fn branch(i: usize) -> &'static str {
    ["00", "01", "02", "03", "04", "05", "06", "07"][i]
}

/// When a member first joined: the later of birth and some day in the ten years
/// before `before`.
fn first_date(_hh: &Household, m: &Member, before: NaiveDate, rng: &mut ChaCha8Rng) -> NaiveDate {
    let d = before - chrono::Days::new(rng.gen_range(30..3650));
    d.max(m.birthdate)
}

fn age_at(birth: NaiveDate, at: NaiveDate) -> u32 {
    at.years_since(birth).unwrap_or(0)
}

fn birthday(birth: NaiveDate, years: u32) -> NaiveDate {
    birth + chrono::Months::new(12 * years)
}

fn end_of_month(d: NaiveDate) -> NaiveDate {
    let first = NaiveDate::from_ymd_opt(d.year(), d.month(), 1).expect("valid");
    first + chrono::Months::new(1) - chrono::Days::new(1)
}

/// 1 April on or before `d` (the fiscal year, 年度).
fn fiscal_year_start(d: NaiveDate) -> NaiveDate {
    let y = if d.month() >= 4 {
        d.year()
    } else {
        d.year() - 1
    };
    NaiveDate::from_ymd_opt(y, 4, 1).expect("valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pop() -> Population {
        Population::new(PopulationConfig {
            households: 10_000,
            ..Default::default()
        })
    }

    #[test]
    fn every_validity_has_a_findable_key() {
        let p = pop();
        let date = p.config().epoch;
        for v in QualificationValidity::PRODUCED {
            let key = p.example(*v);
            let l = p.lookup(&key, date);
            assert_eq!(l.validity, *v);
            assert_eq!(p.lookup(&key, date + chrono::Days::new(400)).validity, *v);
            match v {
                QualificationValidity::NoRecord => assert!(l.records.is_empty()),
                QualificationValidity::SeveralMatches => assert!(l.records.len() >= 2),
                _ => assert_eq!(l.records.len(), 1),
            }
        }
    }

    #[test]
    fn features_are_findable() {
        let p = pop();
        for f in [
            Feature::LimitCertificate,
            Feature::Elderly,
            Feature::SpecificDisease,
        ] {
            let key = p.example_with(f);
            let l = p.lookup(&key, p.config().epoch);
            assert_eq!(l.validity, QualificationValidity::Valid, "{f:?}");
        }
    }

    proptest::proptest! {
        /// The hand-written number formatting writes what `format!` would.
        #[test]
        fn hand_formatting_is_format(
            head in 0u32..2_000,
            tail in 0u32..20_000,
            (a, b, n) in (0u32..1_000, 0u32..100, 0u32..100),
            h in 0u64..MAX_HOUSEHOLDS,
            g in 0u8..2,
        ) {
            proptest::prop_assert_eq!(post_number(head, tail), format!("{head:03}-{tail:04}"));
            proptest::prop_assert_eq!(
                address("東京都", a, b, n),
                format!("東京都架空市試験町{a}丁目{b}番{n}号")
            );
            let body = format!("{h:08}{g}");
            let c = check_digit(&body).unwrap();
            proptest::prop_assert_eq!(Population::number(h, g), format!("{body}{c}"));
        }
    }

    #[test]
    fn the_insurer_table_is_the_function_it_caches() {
        let p = Population::new(PopulationConfig {
            insurers: 300,
            ..Default::default()
        });
        for i in 0..400 {
            assert_eq!(p.insurer(i), Population::make_insurer(p.cfg.seed, i), "{i}");
            assert_eq!(p.insurer_name(false, i), p.make_insurer_name(i), "{i}");
        }
        // Beyond the table, worked out on the spot.
        let big = INSURER_TABLE_MAX + 5;
        assert_eq!(p.insurer(big), Population::make_insurer(p.cfg.seed, big));
    }

    #[test]
    fn same_seed_same_people_other_seed_other_people() {
        let a = pop();
        let b = pop();
        let c = Population::new(PopulationConfig {
            seed: 2,
            households: 10_000,
            ..Default::default()
        });
        for h in [0, 1, 77, 9_999] {
            let ka = a.key_of(h, 0).unwrap();
            assert_eq!(ka, b.key_of(h, 0).unwrap());
            let d = a.config().epoch;
            assert_eq!(a.lookup(&ka, d), b.lookup(&ka, d));
            assert_ne!(Some(ka), c.key_of(h, 0));
        }
    }

    #[test]
    fn wrong_details_are_not_found() {
        let p = pop();
        let key = p.example(QualificationValidity::Valid);
        let d = p.config().epoch;
        let mut k = key.clone();
        k.symbol = Some("X".into());
        assert_eq!(p.lookup(&k, d).validity, QualificationValidity::NoRecord);
        let mut k = key.clone();
        k.number = "12345".into();
        assert_eq!(p.lookup(&k, d).validity, QualificationValidity::NoRecord);
        let mut k = key.clone();
        k.number = Population::number(10_000, 0);
        assert_eq!(p.lookup(&k, d).validity, QualificationValidity::NoRecord);
        let mut k = key;
        k.branch = Some("07".into());
        assert_eq!(p.lookup(&k, d).validity, QualificationValidity::NoRecord);
    }

    #[test]
    fn debug_output_hides_names() {
        let p = pop();
        let key = p.example(QualificationValidity::Valid);
        let l = p.lookup(&key, p.config().epoch);
        let s = format!("{l:?} {key:?}");
        assert!(!s.contains(&l.records[0].qualification.name), "{s}");
        assert!(!s.contains(&key.number), "{s}");
    }
}
