//! Faults a scenario injects (docs/DOMAIN.md §6). Each fault names its kind and, when it
//! applies, a trigger: a date window (`at`/`until`), a step (`on`), a probability, or
//! none (always). Actors ask [`Faults::fires`] at the point where the fault would bite.

use chrono::NaiveDate;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Every kind of fault.
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
    strum::IntoStaticStr,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum FaultKind {
    /// The clinic sends its reception-number request `5 + business_days` (default 3)
    /// business days after its planned day; with the recommended plan (5 business
    /// days before the bureau's deadline) that is `business_days` after the deadline,
    /// and the bureau returns it (返戻). Window: the planned request day.
    LateRequest,
    /// The bureau's answer goes out `business_days` (default 3) after the day it
    /// would have gone out. Window: that dispatch day.
    BureauAnswerDelay,
    /// The clinic presents the reception number `business_days` (default 2) after the
    /// implementing body's deadline (the 15th, or the next open day). Window: the day
    /// the answer arrives.
    LateReceptionSubmission,
    /// The vendor's reader arrives `days` (default 30) later than its lead time. Not
    /// for r2021's free reader (set `actors.implementing_body.free_reader_lead`).
    /// Window: the order day.
    ReaderDelay,
    /// The reader is dead on arrival; the supplier (vendor, or under r2021 the
    /// implementing body) sends a replacement. Window: the order (r2021: shipping) day.
    ReaderDoa,
    /// The ordered line is treated as not on the connectable list: rejected two
    /// business days after the order, never usable. Window: the order day.
    LineNotConnectable,
    /// The carrier's line is down: a connectivity check fails (transient, retried).
    /// With `at`/`until`: every check in the window; with `on`: the step's actual day.
    CarrierOutage,
    /// The clinic applies for the certificate only `business_days` (default 2) before
    /// installation instead of the day after its account opens (r2021: instead of
    /// with the reception number). Window: the day the account opens (r2021: the day
    /// the number is presented).
    LateCertificateApplication,
    /// The certificate notice is lost in the mail and never reissued. Window: the
    /// issuing day.
    CertificateNoticeLost,
    /// The certificate notice arrives `days` (default 10) late. Window: the issuing day.
    CertificateNoticeDelay,
    /// The onboarding plan (001 別紙2) lacks the items `missing` names (numbers ①–⑬,
    /// field names or labels; default ⑥ reader maker); the bureau asks for a
    /// correction (補正). r2024 only, and not with the 経過措置. Window: the
    /// designation-application day.
    PlanIncomplete,
    /// The regional council does not approve: not designated (未指定). Window: the
    /// designation day.
    DesignationRefused,
    /// A medical+dental clinic files one request instead of two (the dental one is
    /// missing). Window: the request day.
    SingleRequest,
    /// The terminal's client certificate has a `problem`; final (not reissued).
    /// With `on`: at that step's actual day; else at every connectivity check.
    ClientCertificate,
    /// The first patient's card has a `problem` at the reader (`on` = "go-live": the
    /// day the clinic actually goes online).
    Card,
    /// The implementing body is down. With `at`/`until`: its work finishing in the
    /// window waits for the next open day after it, and its connectivity checks fail;
    /// with `on`: only the connectivity check on the step's actual day fails.
    ImplementingBodyDown,
    /// The implementing body takes `business_days` (default 5) longer for each piece
    /// of work started in the window.
    ImplementingBodySlow,
}

impl FaultKind {
    /// The kind as scenario files write it, e.g. `reader-doa`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Steps a fault can be tied to with `on = "..."`.
///
/// Without a window (`at`), a step-bound fault hits the step on the day it actually
/// happens: the first day the party that suffers the fault takes part in that step
/// (the carrier and the implementing body: the first connectivity check of that
/// purpose that reaches them; the clinic: its first patient). A step that slips is
/// met on the day it slipped to; retries on later days are not hit again. With a
/// window, the fault hits the step on any day inside the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FaultStep {
    /// The system installation: the vendor's connectivity check on the day it
    /// actually installs (the planned day, or later when something was missing).
    Installation,
    /// Going online: the go-live connectivity check and the first patient, on the day
    /// the clinic actually tries to start (the designation day, or later).
    GoLive,
}

impl FaultStep {
    fn index(self) -> usize {
        match self {
            FaultStep::Installation => 0,
            FaultStep::GoLive => 1,
        }
    }
}

/// Problems of a terminal's client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CertProblem {
    Expired,
    NotYetValid,
    Revoked,
    OtherInstitution,
}

/// Problems of a patient's My Number card at the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CardProblem {
    /// The face does not match: PIN fallback.
    FaceMismatch,
    /// The camera fails: PIN fallback.
    CameraFault,
    /// PIN locked after 3 wrong tries: visual check by staff.
    PinLocked,
    /// The card's certificate expired: confirmation refused.
    CertificateExpired,
    /// The card's certificate was revoked: confirmation refused.
    CertificateRevoked,
}

/// One fault as written in a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub kind: FaultKind,
    /// Chance the fault happens when its moment comes (default: certain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// First day of the fault's window (outages) or the day it applies.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::serde_date::opt_date"
    )]
    pub at: Option<NaiveDate>,
    /// Last day of the window (inclusive; default: same as `at`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::serde_date::opt_date"
    )]
    pub until: Option<NaiveDate>,
    /// The step the fault is tied to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<FaultStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertProblem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<CardProblem>,
}

impl Fault {
    pub fn new(kind: FaultKind) -> Self {
        Fault {
            kind,
            probability: None,
            at: None,
            until: None,
            on: None,
            business_days: None,
            days: None,
            missing: None,
            certificate: None,
            card: None,
        }
    }

    /// Check that the fields given make sense for the kind. The message names the
    /// field and says what to write instead.
    pub fn validate(&self) -> Result<(), String> {
        use FaultKind::*;
        if let Some(p) = self.probability {
            if !(0.0..=1.0).contains(&p) || p.is_nan() {
                return Err(format!("probability must be between 0 and 1, got {p}"));
            }
        }
        if let (Some(a), Some(u)) = (self.at, self.until) {
            if u < a {
                return Err(format!("until {u} is before at {a}"));
            }
        }
        let allowed: &[&str] = match self.kind {
            LateRequest
            | BureauAnswerDelay
            | LateReceptionSubmission
            | LateCertificateApplication
            | ImplementingBodySlow => &["business_days"],
            ReaderDelay | CertificateNoticeDelay => &["days"],
            PlanIncomplete => &["missing"],
            ClientCertificate => &["certificate"],
            Card => &["card"],
            ReaderDoa
            | LineNotConnectable
            | CertificateNoticeLost
            | DesignationRefused
            | SingleRequest => &[],
            CarrierOutage | ImplementingBodyDown => &[],
        };
        let given = [
            ("business_days", self.business_days.is_some()),
            ("days", self.days.is_some()),
            ("missing", self.missing.is_some()),
            ("certificate", self.certificate.is_some()),
            ("card", self.card.is_some()),
        ];
        for (name, present) in given {
            if present && !allowed.contains(&name) {
                return Err(format!(
                    "fault {} takes no `{name}`{}",
                    self.kind.as_str(),
                    if allowed.is_empty() {
                        String::new()
                    } else {
                        format!(" (it takes: {})", allowed.join(", "))
                    }
                ));
            }
        }
        if let Some(missing) = &self.missing {
            for m in missing {
                if super::plan::PlanItem::parse(m).is_none() {
                    let items: Vec<String> = super::plan::PlanItem::ALL
                        .iter()
                        .map(|i| format!("{} {}", i.number(), i.field()))
                        .collect();
                    return Err(format!(
                        "`missing` names {m:?}, not an item of the onboarding plan (001 別紙2): {}",
                        items.join(", ")
                    ));
                }
            }
        }
        match self.kind {
            ClientCertificate if self.certificate.is_none() => Err(
                "fault client-certificate needs `certificate` = expired | not-yet-valid | revoked | other-institution".into(),
            ),
            Card if self.card.is_none() => Err(
                "fault card needs `card` = face-mismatch | camera-fault | pin-locked | certificate-expired | certificate-revoked".into(),
            ),
            CarrierOutage | ImplementingBodyDown if self.at.is_none() && self.on.is_none() => Err(format!(
                "fault {} needs a window (`at`, optional `until`) or a step (`on` = \"installation\" | \"go-live\")",
                self.kind.as_str()
            )),
            _ => Ok(()),
        }
    }

    /// Is `date` inside this fault's window (if it has one)?
    fn in_window(&self, date: NaiveDate) -> bool {
        match self.at {
            None => true,
            Some(a) => date >= a && date <= self.until.unwrap_or(a),
        }
    }
}

/// The faults of one run, as one party sees them. Each party holds its own copy and
/// resolves the day of each step (see [`FaultStep`]) when the step first reaches it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    list: Vec<Fault>,
    /// The day each step first happened for this party (indexed by `FaultStep`).
    step_day: [Option<NaiveDate>; 2],
}

impl Faults {
    pub fn new(list: Vec<Fault>) -> Self {
        Faults {
            list,
            step_day: [None; 2],
        }
    }

    /// The faults as written.
    pub fn list(&self) -> &[Fault] {
        &self.list
    }

    /// The day `step` first happened for this party, once it has.
    pub fn step_day(&self, step: FaultStep) -> Option<NaiveDate> {
        self.step_day[step.index()]
    }

    /// Does fault `f` apply on `date` at `step`? A step-bound fault without a window
    /// applies only on the step's actual (first) day.
    fn applies(&self, f: &Fault, date: NaiveDate, step: Option<FaultStep>) -> bool {
        if !f.in_window(date) {
            return false;
        }
        match f.on {
            None => true,
            Some(on) if step != Some(on) => false,
            Some(on) if f.at.is_none() => self.step_day(on).is_none_or(|d| d == date),
            Some(_) => true,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The first fault of `kind` that applies on `date` at `step`, after drawing its
    /// probability from `rng` (only when it has one, so adding a certain fault does
    /// not shift any other random draw). Asking with a step records `date` as the
    /// step's actual day if it is the first time this party meets the step.
    pub fn fires<R: Rng + ?Sized>(
        &mut self,
        kind: FaultKind,
        date: NaiveDate,
        step: Option<FaultStep>,
        rng: &mut R,
    ) -> Option<&Fault> {
        if let Some(s) = step {
            self.step_day[s.index()].get_or_insert(date);
        }
        let mut hit = None;
        for (i, f) in self.list.iter().enumerate() {
            if f.kind != kind || !self.applies(f, date, step) {
                continue;
            }
            if let Some(p) = f.probability {
                if rng.gen::<f64>() >= p {
                    continue;
                }
            }
            hit = Some(i);
            break;
        }
        hit.map(|i| &self.list[i])
    }

    /// Like [`Faults::fires`] without a probability draw: is a window fault active?
    pub fn active(
        &self,
        kind: FaultKind,
        date: NaiveDate,
        step: Option<FaultStep>,
    ) -> Option<&Fault> {
        self.list
            .iter()
            .find(|f| f.kind == kind && f.probability.is_none() && self.applies(f, date, step))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_step_fault_meets_the_step_on_its_actual_first_day_only() {
        let mut f = Fault::new(FaultKind::CarrierOutage);
        f.on = Some(FaultStep::Installation);
        let mut faults = Faults::new(vec![f]);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let k = FaultKind::CarrierOutage;
        // Another step does not resolve this one.
        assert!(faults
            .fires(k, d("2025-05-15"), Some(FaultStep::GoLive), &mut rng)
            .is_none());
        // The installation slipped to the 20th: hit there, not on the retry.
        let step = Some(FaultStep::Installation);
        assert!(faults.fires(k, d("2025-05-20"), step, &mut rng).is_some());
        assert_eq!(
            faults.step_day(FaultStep::Installation),
            Some(d("2025-05-20"))
        );
        assert!(faults.fires(k, d("2025-05-23"), step, &mut rng).is_none());
        // With a window every check of the step inside it is hit.
        let mut w = Fault::new(k);
        w.on = Some(FaultStep::Installation);
        w.at = Some(d("2025-05-20"));
        w.until = Some(d("2025-05-23"));
        let mut faults = Faults::new(vec![w]);
        assert!(faults.fires(k, d("2025-05-20"), step, &mut rng).is_some());
        assert!(faults.fires(k, d("2025-05-23"), step, &mut rng).is_some());
        assert!(faults.fires(k, d("2025-05-26"), step, &mut rng).is_none());
    }
}
