//! The onboarding plan (オンライン資格確認の導入計画書), exactly as seed 001 別紙2 prints
//! it: items ①–⑬, with the facility (①) and the opener (②), and ⑤ and ⑦ with their
//! "イ 契約済み（　月整備予定）" month. One typed struct and its validation, used by the
//! timeline (the clinic's designation application), the `plan-incomplete` fault
//! (which items it leaves out) and the live portal (`validate_json`).
//!
//! 001 第2: the plan goes with the designation application, except for a clinic that
//! files the 経過措置 届出 ("この限りでない", see `clinic::Plan::transitional_notice`).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// ⑤ 調達状況 / ⑦ 整備状況: "ア 整備済み イ 契約済み（　月整備予定） ウ 見積もり中".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum Readiness {
    /// ア 整備済み.
    Ready,
    /// イ 契約済み, with the month it will be in place (the 1st of that month).
    Contracted {
        #[serde(with = "year_month")]
        month: NaiveDate,
    },
    /// ウ 見積もり中.
    Quoting,
}

/// ⑨ ネットワーク種類.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetworkKind {
    #[serde(rename = "ip-vpn")]
    IpVpn,
    #[serde(rename = "ipsec-ike")]
    IpsecIke,
}

/// A postal address (〒 and 所在地 / 住所).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// 〒, 7 digits with or without the hyphen.
    pub postcode: String,
    pub address: String,
}

/// ① 医療機関・薬局.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facility {
    /// フリガナ.
    pub kana: String,
    /// 名称.
    pub name: String,
    /// 所在地.
    pub location: Address,
}

/// ② 開設者（法人の場合は代表者）.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Opener {
    pub kana: String,
    /// 氏名.
    pub name: String,
    /// 住所.
    pub residence: Address,
    /// 電話番号.
    pub phone: String,
    /// Email（任意）.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// 保険医又は保険薬剤師の登録の記号及び番号.
    pub registration: String,
}

/// The whole plan, items ①–⑬ in form order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnboardingPlan {
    /// ① 医療機関・薬局.
    pub facility: Facility,
    /// ② 開設者.
    pub opener: Opener,
    /// ③ アカウント作成（済み／未実施）.
    pub account_created: bool,
    /// ④ 利用申請・電子証明書の発行申請（済み／未実施）.
    pub applications_done: bool,
    /// ⑤ カードリーダー 調達状況.
    pub reader: Readiness,
    /// ⑥ メーカー名.
    pub reader_maker: String,
    /// ⑦ ネットワーク 整備状況.
    pub network: Readiness,
    /// ⑧ ネットワーク導入事業者名.
    pub network_carrier: String,
    /// ⑨ ネットワーク種類 (IP-VPN／IPsec+IKE).
    pub network_kind: NetworkKind,
    /// ⑩ 導入作業開始（予定）日.
    pub installation_start: NaiveDate,
    /// ⑪ システム導入事業者名.
    pub system_vendor: String,
    /// ⑫ 運用開始（予定）日.
    pub operation_start: NaiveDate,
    /// ⑬ 診療・調剤開始（予定）日.
    pub care_start: NaiveDate,
}

/// The items of the form, as the fault's `missing` and the problems name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PlanItem {
    Facility,
    Opener,
    AccountCreated,
    ApplicationsDone,
    Reader,
    ReaderMaker,
    Network,
    NetworkCarrier,
    NetworkKind,
    InstallationStart,
    SystemVendor,
    OperationStart,
    CareStart,
}

impl PlanItem {
    /// ①–⑬ in form order.
    pub const ALL: [PlanItem; 13] = [
        PlanItem::Facility,
        PlanItem::Opener,
        PlanItem::AccountCreated,
        PlanItem::ApplicationsDone,
        PlanItem::Reader,
        PlanItem::ReaderMaker,
        PlanItem::Network,
        PlanItem::NetworkCarrier,
        PlanItem::NetworkKind,
        PlanItem::InstallationStart,
        PlanItem::SystemVendor,
        PlanItem::OperationStart,
        PlanItem::CareStart,
    ];

    /// The item's number on the form.
    pub fn number(self) -> char {
        [
            '①', '②', '③', '④', '⑤', '⑥', '⑦', '⑧', '⑨', '⑩', '⑪', '⑫', '⑬',
        ][self as usize]
    }

    /// The JSON field name.
    pub fn field(self) -> &'static str {
        [
            "facility",
            "opener",
            "account_created",
            "applications_done",
            "reader",
            "reader_maker",
            "network",
            "network_carrier",
            "network_kind",
            "installation_start",
            "system_vendor",
            "operation_start",
            "care_start",
        ][self as usize]
    }

    /// The form's own words.
    pub fn label_ja(self) -> &'static str {
        [
            "医療機関・薬局",
            "開設者",
            "アカウント作成",
            "利用申請・電子証明書の発行申請",
            "カードリーダー調達状況",
            "メーカー名",
            "ネットワーク整備状況",
            "ネットワーク導入事業者名",
            "ネットワーク種類",
            "導入作業開始（予定）日",
            "システム導入事業者名",
            "運用開始（予定）日",
            "診療・調剤開始（予定）日",
        ][self as usize]
    }

    /// The item a name means: its number (⑥), its field (`reader_maker`), the same in
    /// words with spaces or hyphens ("reader maker"), or its Japanese label.
    pub fn parse(name: &str) -> Option<PlanItem> {
        let n: String = name
            .trim()
            .chars()
            .map(|c| if c == ' ' || c == '-' { '_' } else { c })
            .collect::<String>()
            .to_lowercase();
        let alias = match n.as_str() {
            "operation_start_date" => Some(PlanItem::OperationStart),
            "installation_start_date" => Some(PlanItem::InstallationStart),
            "care_start_date" => Some(PlanItem::CareStart),
            "reader_status" => Some(PlanItem::Reader),
            "network_status" => Some(PlanItem::Network),
            "line_type" => Some(PlanItem::NetworkKind),
            "portal_account" | "portal_account_done" => Some(PlanItem::AccountCreated),
            _ => None,
        };
        alias.or_else(|| {
            PlanItem::ALL.into_iter().find(|i| {
                n == i.field() || name.trim() == i.label_ja() || name.trim().starts_with(i.number())
            })
        })
    }
}

/// One problem, naming the item by number and field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanProblem {
    /// `reader_maker`, `facility.name`, …
    pub field: String,
    pub problem: String,
}

impl std::fmt::Display for PlanProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

fn postcode_ok(p: &str) -> bool {
    let digits: String = p.chars().filter(|c| *c != '-').collect();
    digits.len() == 7 && digits.chars().all(|c| c.is_ascii_digit())
}

impl OnboardingPlan {
    /// Every problem of a parsed plan: blank texts, postcodes, the months of ⑤ and ⑦
    /// and the order of the dates (⑩ ≤ ⑫ ≤ ⑬... ⑫ may not be after ⑬).
    pub fn problems(&self) -> Vec<PlanProblem> {
        let mut out = Vec::new();
        let mut bad = |field: &str, problem: &str| {
            out.push(PlanProblem {
                field: field.into(),
                problem: problem.into(),
            })
        };
        let f = &self.facility;
        for (k, v) in [
            ("facility.kana", &f.kana),
            ("facility.name", &f.name),
            ("facility.location.address", &f.location.address),
        ] {
            if blank(v) {
                bad(k, "① missing");
            }
        }
        if !postcode_ok(&f.location.postcode) {
            bad("facility.location.postcode", "① 〒 must be 7 digits");
        }
        let o = &self.opener;
        for (k, v) in [
            ("opener.kana", &o.kana),
            ("opener.name", &o.name),
            ("opener.residence.address", &o.residence.address),
            ("opener.phone", &o.phone),
            ("opener.registration", &o.registration),
        ] {
            if blank(v) {
                bad(k, "② missing");
            }
        }
        if !postcode_ok(&o.residence.postcode) {
            bad("opener.residence.postcode", "② 〒 must be 7 digits");
        }
        for (k, v) in [
            ("reader_maker", &self.reader_maker),
            ("network_carrier", &self.network_carrier),
            ("system_vendor", &self.system_vendor),
        ] {
            if blank(v) {
                bad(k, "missing");
            }
        }
        if self.installation_start > self.operation_start {
            bad("installation_start", "⑩ is after ⑫ 運用開始（予定）日");
        }
        if self.operation_start > self.care_start {
            bad("operation_start", "⑫ is after ⑬ 診療・調剤開始（予定）日");
        }
        out
    }

    /// The plan without `missing` items, as a JSON object (what an incomplete form
    /// looks like), for the fault and the tests.
    pub fn to_json_without(
        &self,
        missing: &[PlanItem],
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut m = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        for i in missing {
            m.remove(i.field());
        }
        m
    }

    /// What [`validate_json`] says of [`Self::to_json_without`]`(missing)`, without
    /// the JSON round trip: the timeline asks it once per run, so a sweep asks it
    /// millions of times. A property test holds the two equal.
    pub fn problems_without(&self, missing: &[PlanItem]) -> Vec<PlanProblem> {
        let out: Vec<PlanProblem> = PlanItem::ALL
            .into_iter()
            .filter(|i| missing.contains(i))
            .map(|i| PlanProblem {
                field: i.field().into(),
                problem: format!("{} {} missing", i.number(), i.label_ja()),
            })
            .collect();
        if out.is_empty() {
            self.problems()
        } else {
            out
        }
    }
}

/// Check a plan as submitted (JSON): every missing item ①–⑬ by number, unknown
/// fields, wrong values, then [`OnboardingPlan::problems`]. Empty means complete.
pub fn validate_json(plan: &serde_json::Map<String, serde_json::Value>) -> Vec<PlanProblem> {
    let mut out = Vec::new();
    for i in PlanItem::ALL {
        match plan.get(i.field()) {
            None | Some(serde_json::Value::Null) => out.push(PlanProblem {
                field: i.field().into(),
                problem: format!("{} {} missing", i.number(), i.label_ja()),
            }),
            Some(v) => {
                // Each item on its own, so every bad one is named.
                if let Err(e) = check_item(i, v) {
                    out.push(PlanProblem {
                        field: i.field().into(),
                        problem: format!("{} {}: {e}", i.number(), i.label_ja()),
                    });
                }
            }
        }
    }
    for k in plan.keys() {
        if !PlanItem::ALL.iter().any(|i| i.field() == k) {
            out.push(PlanProblem {
                field: k.clone(),
                problem: "unknown field (the plan has items ①–⑬ only)".into(),
            });
        }
    }
    if out.is_empty() {
        match serde_json::from_value::<OnboardingPlan>(serde_json::Value::Object(plan.clone())) {
            Ok(p) => out.extend(p.problems()),
            Err(e) => out.push(PlanProblem {
                field: String::new(),
                problem: e.to_string(),
            }),
        }
    }
    out
}

fn check_item(i: PlanItem, v: &serde_json::Value) -> Result<(), String> {
    use serde_json::from_value as from;
    let v = v.clone();
    let r = match i {
        PlanItem::Facility => from::<Facility>(v).map(drop),
        PlanItem::Opener => from::<Opener>(v).map(drop),
        PlanItem::AccountCreated | PlanItem::ApplicationsDone => from::<bool>(v).map(drop),
        PlanItem::Reader | PlanItem::Network => from::<Readiness>(v).map(drop),
        PlanItem::NetworkKind => from::<NetworkKind>(v).map(drop),
        PlanItem::ReaderMaker | PlanItem::NetworkCarrier | PlanItem::SystemVendor => {
            from::<String>(v).map(drop)
        }
        PlanItem::InstallationStart | PlanItem::OperationStart | PlanItem::CareStart => {
            from::<NaiveDate>(v).map(drop)
        }
    };
    r.map_err(|e| e.to_string())
}

/// `YYYY-MM` for ⑤'s and ⑦'s month.
mod year_month {
    use chrono::NaiveDate;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.format("%Y-%m").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        let s = String::deserialize(d)?;
        NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
            .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a month like 2025-05")))
    }
}

/// The plan the timeline's clinic files: the recommended dates and placeholder
/// names *(our choice: synthetic facility and opener)*; ⑤ and ⑦ contracted for the
/// installation month.
pub fn timeline_plan(
    installation: NaiveDate,
    designation: NaiveDate,
    line: NetworkKind,
) -> OnboardingPlan {
    let month = crate::calendar::first_of_month_before(installation, 0);
    OnboardingPlan {
        facility: Facility {
            kana: "シミュレーションクリニック".into(),
            name: "シミュレーションクリニック".into(),
            location: Address {
                postcode: "100-0001".into(),
                address: "(synthetic)".into(),
            },
        },
        opener: Opener {
            kana: "シミュレーション タロウ".into(),
            name: "試行 太郎".into(),
            residence: Address {
                postcode: "100-0001".into(),
                address: "(synthetic)".into(),
            },
            phone: "03-0000-0000".into(),
            email: None,
            registration: "医(synthetic)".into(),
        },
        account_created: false,
        applications_done: false,
        reader: Readiness::Contracted { month },
        reader_maker: "(vendor)".into(),
        network: Readiness::Contracted { month },
        network_carrier: "(carrier)".into(),
        network_kind: line,
        installation_start: installation,
        system_vendor: "(system vendor)".into(),
        operation_start: designation,
        care_start: designation,
    }
}

/// What the bureau finds wrong with [`timeline_plan`]`(installation, designation,
/// line)` submitted without the items `missing`: the same as building the plan and
/// calling [`OnboardingPlan::problems_without`], but a complete form's answer is kept
/// per thread for the last 16 plans asked *(our choice, for speed: an ecosystem run
/// checks one plan per clinic, and clinics of one designation, bureau and kind file
/// the same plan)*; the answer depends on the three arguments alone (a proptest holds
/// it equal to checking the plan each time).
pub fn timeline_plan_problems(
    installation: NaiveDate,
    designation: NaiveDate,
    line: NetworkKind,
    missing: &[PlanItem],
) -> Vec<PlanProblem> {
    if !missing.is_empty() {
        return timeline_plan(installation, designation, line).problems_without(missing);
    }
    type Kept = Vec<((NaiveDate, NaiveDate, NetworkKind), Vec<PlanProblem>)>;
    thread_local! {
        static RECENT: std::cell::RefCell<Kept> = const { std::cell::RefCell::new(Vec::new()) };
    }
    /// How many answers are kept; when full, the list starts again.
    const KEPT: usize = 16;
    let key = (installation, designation, line);
    let kept = RECENT.with(|r| {
        r.borrow()
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, p)| p.clone())
    });
    kept.unwrap_or_else(|| {
        let p = timeline_plan(installation, designation, line).problems_without(&[]);
        RECENT.with(|r| {
            let mut r = r.borrow_mut();
            if r.len() >= KEPT {
                r.clear();
            }
            r.push((key, p.clone()));
        });
        p
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn plan() -> OnboardingPlan {
        timeline_plan(d("2025-05-15"), d("2025-06-01"), NetworkKind::IpVpn)
    }

    proptest::proptest! {
        /// The typed check and the JSON check agree on every subset of items left
        /// out and on dates in any order (⑩ after ⑫ included).
        #[test]
        fn problems_without_is_validate_json_of_the_form(
            mask in 0u16..(1 << 13),
            install in 0i64..400,
            designation in 0i64..400,
        ) {
            let base = d("2024-01-01");
            let p = timeline_plan(
                base + chrono::Duration::days(install),
                base + chrono::Duration::days(designation),
                NetworkKind::IpVpn,
            );
            let missing: Vec<PlanItem> = PlanItem::ALL
                .into_iter()
                .enumerate()
                .filter(|(k, _)| mask & (1 << k) != 0)
                .map(|(_, i)| i)
                .collect();
            proptest::prop_assert_eq!(
                p.problems_without(&missing),
                validate_json(&p.to_json_without(&missing))
            );
        }
    }

    proptest::proptest! {
        /// The kept answers are the plan checked each time, asked twice in a row and
        /// for a few plans at once (more than are kept).
        #[test]
        fn timeline_plan_problems_is_the_plan_checked(
            asks in proptest::collection::vec(
                (0i64..30, 0i64..30, proptest::bool::ANY, 0u16..(1 << 13)), 1..60),
        ) {
            let base = d("2024-01-01");
            for (install, designation, ipvpn, mask) in asks {
                let line = if ipvpn { NetworkKind::IpVpn } else { NetworkKind::IpsecIke };
                // Most asks complete (the kept answers), some with items left out.
                let missing: Vec<PlanItem> = PlanItem::ALL
                    .into_iter()
                    .enumerate()
                    .filter(|(k, _)| mask % 3 == 0 && mask & (1 << k) != 0)
                    .map(|(_, i)| i)
                    .collect();
                let (i, des) = (
                    base + chrono::Duration::days(install),
                    base + chrono::Duration::days(designation),
                );
                for _ in 0..2 {
                    proptest::prop_assert_eq!(
                        timeline_plan_problems(i, des, line, &missing),
                        timeline_plan(i, des, line).problems_without(&missing)
                    );
                }
            }
        }
    }

    #[test]
    fn the_timeline_plan_is_complete() {
        assert_eq!(validate_json(&plan().to_json_without(&[])), vec![]);
    }

    #[test]
    fn each_missing_item_is_named_by_number() {
        for i in PlanItem::ALL {
            let p = validate_json(&plan().to_json_without(&[i]));
            assert_eq!(p.len(), 1, "{i:?}: {p:?}");
            assert_eq!(p[0].field, i.field());
            assert!(p[0].problem.starts_with(i.number()), "{p:?}");
        }
    }

    #[test]
    fn months_of_5_and_7_and_blank_names() {
        let mut m = plan().to_json_without(&[]);
        m.insert(
            "reader".into(),
            serde_json::json!({"status": "contracted", "month": "2025-13"}),
        );
        let p = validate_json(&m);
        assert_eq!(p[0].field, "reader", "{p:?}");
        let mut m = plan().to_json_without(&[]);
        m.insert(
            "network".into(),
            serde_json::json!({"status": "contracted"}),
        );
        assert_eq!(validate_json(&m)[0].field, "network");
        let mut m = plan().to_json_without(&[]);
        m.insert("colour".into(), serde_json::json!("red"));
        assert_eq!(validate_json(&m)[0].field, "colour");
        let mut p = plan();
        p.opener.registration = " ".into();
        p.facility.location.postcode = "12".into();
        let f: Vec<String> = p.problems().into_iter().map(|x| x.field).collect();
        assert_eq!(f, ["facility.location.postcode", "opener.registration"]);
    }

    #[test]
    fn names_parse() {
        assert_eq!(PlanItem::parse("reader maker"), Some(PlanItem::ReaderMaker));
        assert_eq!(PlanItem::parse("reader-maker"), Some(PlanItem::ReaderMaker));
        assert_eq!(
            PlanItem::parse("operation start date"),
            Some(PlanItem::OperationStart)
        );
        assert_eq!(
            PlanItem::parse("network carrier"),
            Some(PlanItem::NetworkCarrier)
        );
        assert_eq!(PlanItem::parse("①"), Some(PlanItem::Facility));
        assert_eq!(PlanItem::parse("開設者"), Some(PlanItem::Opener));
        assert_eq!(PlanItem::parse("colour"), None);
    }
}
