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
    ElderlyRecipient, LimitCertificate, Qualification, SearchInfo, SpecificDiseaseCertificate,
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
/// consent fields, and the high-cost-limit certificate that is only shown with
/// consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRecord {
    pub qualification: Qualification,
    pub limit: Option<LimitCertificate>,
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

struct Household {
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
        Population { cfg, insurers }
    }

    pub fn config(&self) -> &PopulationConfig {
        &self.cfg
    }

    /// The insurer with index `i`: a pure function of (seed, i). Index ≡ 0 mod 4 is
    /// national health insurance (6 digits); the others are 協会けんぽ (01),
    /// 健保組合 (06) and 共済 (31).
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
        let law = match i % 4 {
            0 => None,
            1 => Some(1),
            2 => Some(6),
            _ => Some(31),
        };
        InsurerNumber::new(law, pref, rng.gen_range(0..=999)).expect("in range")
    }

    fn household(&self, h: u64) -> Household {
        let c = &self.cfg;
        let mut rng = ChaCha8Rng::seed_from_u64(c.seed);
        rng.set_stream(h);
        let roll: f64 = rng.gen();
        let event_date = c.epoch - chrono::Days::new(rng.gen_range(1..=730));
        let status = if roll < c.p_lapsed {
            Status::Lapsed(event_date)
        } else if roll < c.p_lapsed + c.p_switched {
            Status::Switched(event_date)
        } else {
            Status::Current
        };
        let insurer = [rng.gen_range(0..c.insurers), rng.gen_range(0..c.insurers)];
        let symbol = [
            self.symbol_for(insurer[0], &mut rng),
            self.symbol_for(insurer[1], &mut rng),
        ];
        let size = [1, 1, 2, 2, 3, 4, 4][rng.gen_range(0..7)];
        let twins = size == 4 && rng.gen_bool(c.p_twins);
        let head_age = rng.gen_range(20..=74);
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
            let age = (head_age + rng.gen_range(0..=6))
                .saturating_sub(3)
                .clamp(18, 74);
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
        Household {
            status,
            insurer,
            symbol,
            surname: rng.gen_range(0..SURNAME_HEAD.len() * SURNAME_TAIL.len()),
            members,
            twins,
            address,
        }
    }

    fn symbol_for(&self, insurer: u32, rng: &mut ChaCha8Rng) -> String {
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
        let symbol_ok = key.symbol.as_deref().map(str::trim) == Some(hh.symbol[gi].as_str());
        if self.insurer(hh.insurer[gi]) != key.insurer_number || !symbol_ok {
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
        let insurer = self.insurer(insurer_i);
        let nhi = insurer.is_national_health_insurance();
        let m = &hh.members[i];
        let (card_class, person_family) = match (nhi, i) {
            (true, _) => (
                InsuredCardClass::NationalHealthInsurance,
                PersonFamily::Person,
            ),
            (false, 0) => (InsuredCardClass::Insured, PersonFamily::Person),
            (false, _) => (InsuredCardClass::Dependant, PersonFamily::Family),
        };
        let age = age_at(m.birthdate, c.epoch);
        let (qualification_date, disqualification_date) = match (hh.status, g) {
            (Status::Current, _) => (first_date(hh, m, c.epoch, &mut rng), None),
            (Status::Lapsed(d), _) => (first_date(hh, m, d, &mut rng), Some(d)),
            (Status::Switched(d), 0) => (d.max(m.birthdate), None),
            (Status::Switched(d), _) => (first_date(hh, m, d, &mut rng), Some(d)),
        };
        let (sh, st) = (
            hh.surname / SURNAME_TAIL.len(),
            hh.surname % SURNAME_TAIL.len(),
        );
        let (given, given_kana) = match m.sex {
            Sex::Male => GIVEN_MALE[m.given],
            Sex::Female => GIVEN_FEMALE[m.given],
        };
        let elderly_high = rng.gen_bool(0.1);
        let contribution_ratio = match age {
            0..=5 => 20,
            70..=74 if !elderly_high => 20,
            _ => 30,
        };
        let fiscal_start = fiscal_year_start(c.epoch);
        let elderly = (70..=74).contains(&age).then(|| ElderlyRecipient {
            certificate_date: fiscal_start - chrono::Days::new(20),
            valid_start: fiscal_start.max(birthday(m.birthdate, 70)),
            valid_end: end_of_month(birthday(m.birthdate, 75)),
            contribution_ratio,
        });
        let limit = rng.gen_bool(c.p_limit).then(|| {
            let low = rng.gen_bool(0.3);
            LimitCertificate {
                class: if low {
                    LimitCertificateClass::LimitAndReduction
                } else {
                    LimitCertificateClass::Limit
                },
                category: LimitCategory::ALL[rng.gen_range(0..LimitCategory::ALL.len())],
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
        let pref = insurer.prefecture();
        let (p, a, b, n) = hh.address;
        PersonRecord {
            qualification: Qualification {
                card_class,
                insurer_number: insurer,
                insured_card_symbol: Some(hh.symbol[gi].clone()),
                insured_identification_number: Self::number(h, g),
                insured_branch_number: Some(branch(i).to_string()),
                person_family,
                name: [SURNAME_HEAD[sh].0, SURNAME_TAIL[st].0, "　", given].concat(),
                name_kana: [SURNAME_HEAD[sh].1, SURNAME_TAIL[st].1, " ", given_kana].concat(),
                sex: m.sex,
                birthdate: m.birthdate,
                post_number: Some(post_number(pref.code() as u32 * 10 + p % 10, n * 100 + a)),
                address: Some(address(pref.name(), a, b, n)),
                qualification_date,
                disqualification_date,
                valid_start: qualification_date,
                valid_end: disqualification_date.map(|d| d - chrono::Days::new(1)),
                contribution_ratio,
                elderly,
                limit_consent: None,
                limit: None,
                specific_diseases,
                pharmacists_info_consent: None,
                specific_health_checkups_consent: None,
                // H4: set by `other::OtherDesk::stamp_references` when registered.
                reference_number: None,
            },
            limit,
        }
    }

    /// A findable key whose lookup on any date from the epoch on gives `validity`.
    /// Deterministic: the first suitable household in index order.
    ///
    /// # Panics
    /// If the population is too small or its shares are zero so that no household
    /// fits (e.g. `p_twins = 0` for validity 5).
    pub fn example(&self, validity: QualificationValidity) -> SearchKey {
        use QualificationValidity as V;
        let limit = self.cfg.households.min(1_000_000);
        if validity == V::NoRecord {
            // A valid key with a birthdate nobody in that household has.
            let mut key = self.example(V::Valid);
            key.birthdate = NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid");
            return key;
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
                return SearchKey {
                    insurer_number: self.insurer(hh.insurer[gi]),
                    symbol: Some(hh.symbol[gi].clone()),
                    number: Self::number(h, g),
                    branch: with_branch.then(|| branch(i).to_string()),
                    birthdate: hh.members[i].birthdate,
                };
            }
        }
        panic!("no household in the first {limit} gives validity {validity:?}");
    }

    /// A key of the first person holding a high-cost-limit certificate, and of the
    /// first in the elderly-recipient age band (70–74), both valid.
    pub fn example_with(&self, want: Feature) -> SearchKey {
        for h in 0..self.cfg.households.min(1_000_000) {
            let hh = self.household(h);
            if hh.status != Status::Current {
                continue;
            }
            for i in 0..hh.members.len() {
                let r = self.record(h, &hh, 0, i);
                let hit = match want {
                    Feature::LimitCertificate => r.limit.is_some(),
                    Feature::Elderly => r.qualification.elderly.is_some(),
                    Feature::SpecificDisease => !r.qualification.specific_diseases.is_empty(),
                };
                if hit {
                    return SearchKey::of_search_info(&SearchInfo {
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
                    });
                }
            }
        }
        panic!("no person with {want:?} in the population");
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
            insurer_number: self.insurer(hh.insurer[0]),
            symbol: Some(hh.symbol[0].clone()),
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
    Elderly,
    SpecificDisease,
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
        for v in QualificationValidity::ALL {
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
