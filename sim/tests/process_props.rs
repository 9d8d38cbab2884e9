//! Property tests of the whole process model: random scenarios (plans, faults,
//! seeds) never panic, are deterministic, and keep the invariants of the rules.

use chrono::{Datelike, NaiveDate};
use proptest::prelude::*;

use fakes::calendar::BusinessCalendar;
use fakes::process::{ActorId, Event, EventKind};
use sim::runner::{self, Detail};
use sim::scenario;

const PREFECTURES: [&str; 9] = [
    "北海道",
    "宮城県",
    "東京都",
    "愛知県",
    "大阪府",
    "広島県",
    "香川県",
    "福岡県",
    "沖縄県",
];
const KINDS: [&str; 4] = ["medical", "dental", "pharmacy", "medical-dental"];
const FAULTS: [&str; 20] = [
    "kind = \"late-request\"",
    "kind = \"bureau-answer-delay\"\nbusiness_days = 4",
    "kind = \"late-reception-submission\"",
    "kind = \"reader-delay\"\ndays = 40",
    "kind = \"reader-doa\"",
    "kind = \"line-not-connectable\"",
    "kind = \"carrier-outage\"\non = \"go-live\"",
    "kind = \"carrier-outage\"\non = \"installation\"",
    "kind = \"late-certificate-application\"\nbusiness_days = 1",
    "kind = \"certificate-notice-lost\"",
    "kind = \"certificate-notice-delay\"\ndays = 20",
    "kind = \"plan-incomplete\"",
    "kind = \"designation-refused\"",
    "kind = \"single-request\"",
    "kind = \"client-certificate\"\ncertificate = \"revoked\"",
    "kind = \"card\"\ncard = \"pin-locked\"",
    "kind = \"implementing-body-slow\"\nbusiness_days = 6",
    "kind = \"implementing-body-down\"\non = \"go-live\"",
    "kind = \"reader-doa\"\nprobability = 0.5",
    "kind = \"card\"\ncard = \"face-mismatch\"\nprobability = 0.5",
];

#[derive(Debug, Clone)]
struct Gen {
    r2024: bool,
    year: i32,
    month: u32,
    pref: usize,
    kind: usize,
    paper: bool,
    limited: bool,
    seed: u64,
    request_shift: i64,
    closure_shift: Option<i64>,
    faults: Vec<usize>,
}

fn gen() -> impl Strategy<Value = Gen> {
    (
        any::<bool>(),
        2021i32..=2027,
        1u32..=12,
        0..PREFECTURES.len(),
        0..KINDS.len(),
        (any::<bool>(), any::<bool>()),
        0u64..(i64::MAX as u64),
        -40i64..=20,
        prop::option::of(-3i64..=3),
        prop::collection::vec(0..FAULTS.len(), 0..4),
    )
        .prop_map(
            |(
                r2024,
                year,
                month,
                pref,
                kind,
                (paper, limited),
                seed,
                request_shift,
                closure_shift,
                faults,
            )| Gen {
                r2024,
                year: if r2024 {
                    year.max(2024)
                } else {
                    year.min(2024)
                },
                month,
                pref,
                kind,
                paper: paper && limited, // keep most runs full installations
                limited: paper && limited && r2024,
                seed,
                request_shift,
                closure_shift,
                faults,
            },
        )
}

fn designation(g: &Gen) -> NaiveDate {
    let d = NaiveDate::from_ymd_opt(g.year, g.month, 1).unwrap();
    let first = NaiveDate::from_ymd_opt(
        if g.r2024 { 2024 } else { 2021 },
        if g.r2024 { 4 } else { 3 },
        1,
    )
    .unwrap();
    d.max(first)
}

fn toml(g: &Gen) -> String {
    let d = designation(g);
    let mut t = format!(
        "[scenario]\nname = \"prop\"\nrules = \"{}\"\nseed = {}\n\n[clinic]\nkind = \"{}\"\nprefecture = \"{}\"\ndesignation = {d}\nclaims = \"{}\"\nlimited_type = {}\n\n",
        if g.r2024 { "r2024" } else { "r2021" },
        g.seed,
        KINDS[g.kind],
        PREFECTURES[g.pref],
        if g.paper { "paper" } else { "online" },
        g.limited && d >= NaiveDate::from_ymd_opt(2024, 6, 1).unwrap(),
    );
    // Move the request around the deadline: before, on, after.
    let months_before = if g.r2024 { 3 } else { 2 };
    let base = d
        .checked_sub_months(chrono::Months::new(months_before))
        .unwrap();
    let end_of_month = base
        .checked_add_months(chrono::Months::new(1))
        .unwrap()
        .pred_opt()
        .unwrap();
    let request = end_of_month + chrono::Duration::days(g.request_shift);
    t.push_str(&format!("[plan]\nreception_request = {request}\n\n"));
    if let Some(shift) = g.closure_shift {
        let answer_month = d
            .checked_sub_months(chrono::Months::new(months_before - 1))
            .unwrap();
        let tenth = NaiveDate::from_ymd_opt(answer_month.year(), answer_month.month(), 10).unwrap();
        t.push_str(&format!(
            "[actors.bureau]\nclosures = [{}]\n\n",
            tenth + chrono::Duration::days(shift)
        ));
    }
    for f in &g.faults {
        t.push_str(&format!("[[faults]]\n{}\n\n", FAULTS[*f]));
    }
    t.push_str("[[expect]]\nnever = \"number-reuse-hazard\"\n");
    t
}

/// The validator's refusals of what a run would ignore (`sim/src/scenario/ignored.rs`)
/// and of new paper-claims clinics under r2024 (001 ※3).
fn refused_on_purpose(message: &str) -> bool {
    [
        "never bites",
        "would be ignored",
        "vendor's delay",
        "has no onboarding plan",
        "is waived",
        "single-request needs",
        "※3",
    ]
    .iter()
    .any(|k| message.contains(k))
}

fn first(tl: &[Event], k: EventKind) -> Option<&Event> {
    tl.iter().find(|e| e.kind == k)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_scenarios_keep_the_rules(g in gen()) {
        let text = toml(&g);
        let s = match scenario::parse("prop.toml", &text) {
            Ok(s) => s,
            // A random combination may hold a fault or key the run would ignore, or a
            // paper-claims clinic after 001 ※3: refused on purpose, not a bug.
            Err(e) if refused_on_purpose(&e.message) => return Err(TestCaseError::reject(e.message)),
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n{text}"))),
        };
        let a = runner::run(&s, Detail::Full);
        let b = runner::run(&s, Detail::Full);
        // Deterministic, to the byte.
        prop_assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
        prop_assert!(a.events_handled < runner::EVENT_LIMIT, "event limit reached:\n{}", text);
        let tl = &a.timeline;
        prop_assert!(tl.windows(2).all(|w| w[0].at <= w[1].at), "trace out of order");
        // The driver's invariants (no refused message, replies after requests).
        let broken = sim::invariants::check(tl);
        prop_assert!(broken.is_empty(), "invariants broken: {:?}\n{}", broken, text);

        // No step before its prerequisites. The certificate application needs the
        // portal account: under r2021 the one made with the 仮コード (000 別紙3 ②),
        // the applications going with the reception number (⑥); under r2024 the one
        // the number opens (guide ⑦).
        let account = if g.r2024 {
            EventKind::AccountReady
        } else {
            EventKind::PortalUserRegistered
        };
        let pairs = [
            (EventKind::BureauAnswerDispatched, EventKind::BureauAnswerReceived),
            (EventKind::BureauAnswerReceived, EventKind::ReceptionNumberSubmitted),
            (EventKind::ReceptionNumberSubmitted, EventKind::AccountReady),
            (account, EventKind::CertificateApplicationSent),
            (EventKind::ReceptionNumberSubmitted, EventKind::CertificateApplicationSent),
            (EventKind::CertificateApplicationSent, EventKind::CertificateIssued),
            (EventKind::CertificateIssued, EventKind::CertificateNoticeReceived),
            (EventKind::ReaderDelivered, EventKind::InstallationDone),
            (EventKind::CertificateNoticeReceived, EventKind::InstallationDone),
            (EventKind::AccountReady, EventKind::InstallationDone),
            (EventKind::InstallationDone, EventKind::OnlineStart),
            (EventKind::Designated, EventKind::OnlineStart),
            (EventKind::DesignationApplicationAccepted, EventKind::Designated),
            (EventKind::ReceptionRequestSent, EventKind::ReceptionRequestReceived),
        ];
        for (before, after) in pairs {
            if let Some(x) = first(tl, after) {
                let p = first(tl, before);
                prop_assert!(p.is_some(), "{} without {}\n{}", after, before, text);
                prop_assert!(p.unwrap().at <= x.at, "{} before {}\n{}", after, before, text);
            }
        }
        if let Some(o) = first(tl, EventKind::OnlineStart) {
            prop_assert!(o.at.date() >= designation(&g));
        }
        // The bureau acts only on its open days.
        let closures: Vec<NaiveDate> = s.spec.actors.bureau.closures.clone();
        let cal = BusinessCalendar::with_closures(closures);
        for e in tl.iter().filter(|e| e.actor == ActorId::Bureau) {
            if matches!(e.kind, EventKind::Designated | EventKind::NotDesignated | EventKind::NumberReuseHazard) {
                continue; // effective on the 1st, whatever day it is
            }
            prop_assert!(cal.is_open(e.at.date()).unwrap(), "bureau {} on closed day {}\n{}", e.kind, e.at, text);
        }
        // A returned request never yields a day-1 start; a day-1 start means
        // everything was in place by the designation day.
        if a.outcome == sim::scenario::Outcome::OnlineOnDesignationDay {
            prop_assert!(first(tl, EventKind::RequestReturned).is_none());
            prop_assert!(first(tl, EventKind::ReceptionNumberLate).is_none());
        }
    }
}

const BASE: &str = include_str!("../../scenarios/happy/r2024-medical-tokyo.toml");

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Mutated scenario files are either refused with a located error or run
    /// without panicking.
    #[test]
    fn mutated_files_never_panic(ops in prop::collection::vec((0usize..4, any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let mut bytes = BASE.as_bytes().to_vec();
        for (op, idx, b) in ops {
            if bytes.is_empty() { break; }
            let i = idx.index(bytes.len());
            match op {
                0 => bytes[i] = b,                       // overwrite a byte
                1 => { bytes.remove(i); }                 // delete a byte
                2 => {
                    // insert TOML punctuation
                    const P: &[u8] = b"=[]\"#\n0-9az";
                    bytes.insert(i, P[usize::from(b) % P.len()]);
                }
                _ => bytes.truncate(i),                   // cut the file
            }
        }
        let Ok(text) = String::from_utf8(bytes) else { return Ok(()) };
        match scenario::parse("m.toml", &text) {
            Ok(s) => { let _ = runner::run(&s, Detail::Lean); }
            Err(e) => {
                prop_assert!(e.line >= 1 && e.column >= 1);
                prop_assert!(e.line <= text.lines().count().max(1) + 1, "line {} of {}", e.line, text.lines().count());
                prop_assert!(e.to_string().starts_with("m.toml:"));
            }
        }
    }
}
