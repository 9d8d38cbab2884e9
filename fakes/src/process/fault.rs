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
    /// The clinic sends its reception-number request after the bureau's deadline.
    LateRequest,
    /// The bureau's answer goes out `business_days` late.
    BureauAnswerDelay,
    /// The clinic submits the reception number `business_days` after the 15th.
    LateReceptionSubmission,
    /// The reader arrives `days` late.
    ReaderDelay,
    /// The reader is dead on arrival and must be replaced.
    ReaderDoa,
    /// The ordered line is not on the connectable list.
    LineNotConnectable,
    /// The carrier's line is down (window or step).
    CarrierOutage,
    /// The clinic applies for the certificate only `business_days` before installation.
    LateCertificateApplication,
    /// The certificate notice is lost in the mail.
    CertificateNoticeLost,
    /// The certificate notice arrives `days` late.
    CertificateNoticeDelay,
    /// The onboarding plan lacks fields (`missing`); the bureau asks for a correction.
    PlanIncomplete,
    /// The regional council does not approve: not designated (未指定).
    DesignationRefused,
    /// A medical+dental clinic files one request instead of two.
    SingleRequest,
    /// The terminal's client certificate has a `problem`.
    ClientCertificate,
    /// The first patient's card has a `problem`.
    Card,
    /// The implementing body is down (window or step).
    ImplementingBodyDown,
    /// The implementing body takes `business_days` longer for everything.
    ImplementingBodySlow,
}

impl FaultKind {
    /// The kind as scenario files write it, e.g. `reader-doa`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Steps a fault can be tied to with `on = "..."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FaultStep {
    /// The system installation day(s).
    Installation,
    /// The designation day, when the clinic goes online.
    GoLive,
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

/// The faults of one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    list: Vec<Fault>,
}

impl Faults {
    pub fn new(list: Vec<Fault>) -> Self {
        Faults { list }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The first fault of `kind` that applies on `date` at `step`, after drawing its
    /// probability from `rng` (only when it has one, so adding a certain fault does
    /// not shift any other random draw).
    pub fn fires<R: Rng + ?Sized>(
        &self,
        kind: FaultKind,
        date: NaiveDate,
        step: Option<FaultStep>,
        rng: &mut R,
    ) -> Option<&Fault> {
        for f in &self.list {
            if f.kind != kind || !f.in_window(date) {
                continue;
            }
            if let Some(on) = f.on {
                if step != Some(on) {
                    continue;
                }
            }
            if let Some(p) = f.probability {
                if rng.gen::<f64>() >= p {
                    continue;
                }
            }
            return Some(f);
        }
        None
    }

    /// Like [`Faults::fires`] without a probability draw: is a window fault active?
    pub fn active(
        &self,
        kind: FaultKind,
        date: NaiveDate,
        step: Option<FaultStep>,
    ) -> Option<&Fault> {
        self.list.iter().find(|f| {
            f.kind == kind
                && f.probability.is_none()
                && f.in_window(date)
                && f.on.is_none_or(|on| step == Some(on))
        })
    }
}
