//! The critical path: for a run not online on designation day, the step that made the
//! clinic late ([`Cause`]), read off the run's events.

use chrono::NaiveDate;

use fakes::process::EventKind;
use fakes::time::VirtualTime;

use super::measure::Seen;
use crate::scenario::Outcome;

/// Why a run was not online on day 1: the step that made the clinic late.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    RequestReturned,
    BureauAnswerLate,
    ReceptionNumberLate,
    PlanCorrection,
    DesignationApplicationLate,
    DesignationRefused,
    ReaderDeadOnArrival,
    ReaderLate,
    LineNotConnectable,
    LineLate,
    PortalAccountLate,
    CertificateNoticeLost,
    CertificateNoticeLate,
    InstallationConnectivity,
    GoLiveConnectivity,
    Other,
}

pub const CAUSES: [Cause; 16] = [
    Cause::RequestReturned,
    Cause::BureauAnswerLate,
    Cause::ReceptionNumberLate,
    Cause::PlanCorrection,
    Cause::DesignationApplicationLate,
    Cause::DesignationRefused,
    Cause::ReaderDeadOnArrival,
    Cause::ReaderLate,
    Cause::LineNotConnectable,
    Cause::LineLate,
    Cause::PortalAccountLate,
    Cause::CertificateNoticeLost,
    Cause::CertificateNoticeLate,
    Cause::InstallationConnectivity,
    Cause::GoLiveConnectivity,
    Cause::Other,
];

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::RequestReturned => "request-returned",
            Cause::BureauAnswerLate => "bureau-answer-late",
            Cause::ReceptionNumberLate => "reception-number-late",
            Cause::PlanCorrection => "onboarding-plan-correction",
            Cause::DesignationApplicationLate => "designation-application-late",
            Cause::DesignationRefused => "designation-refused",
            Cause::ReaderDeadOnArrival => "reader-dead-on-arrival",
            Cause::ReaderLate => "reader-late",
            Cause::LineNotConnectable => "line-not-connectable",
            Cause::LineLate => "line-late",
            Cause::PortalAccountLate => "portal-account-late",
            Cause::CertificateNoticeLost => "certificate-notice-lost",
            Cause::CertificateNoticeLate => "certificate-notice-late",
            Cause::InstallationConnectivity => "installation-connectivity",
            Cause::GoLiveConnectivity => "go-live-connectivity",
            Cause::Other => "other",
        }
    }
    /// What the cause means, for reports.
    pub fn explain(self) -> &'static str {
        match self {
            Cause::RequestReturned => {
                "the reception-number request reached the bureau after its deadline (返戻)"
            }
            Cause::BureauAnswerLate => {
                "the bureau's answer went out late, so the number missed the 15th"
            }
            Cause::ReceptionNumberLate => {
                "the clinic submitted the reception number after the 15th"
            }
            Cause::PlanCorrection => {
                "the onboarding plan needed a correction (補正) and the designation moved"
            }
            Cause::DesignationApplicationLate => {
                "the designation application was late and the designation moved"
            }
            Cause::DesignationRefused => "not designated (未指定)",
            Cause::ReaderDeadOnArrival => {
                "the reader was dead on arrival; its replacement was the last prerequisite"
            }
            Cause::ReaderLate => {
                "the reader was the last prerequisite, after the planned installation"
            }
            Cause::LineNotConnectable => "the line is not on the connectable list",
            Cause::LineLate => "the line was the last prerequisite, after the planned installation",
            Cause::PortalAccountLate => {
                "the portal account was the last prerequisite, after the planned installation"
            }
            Cause::CertificateNoticeLost => "the certificate notice was lost in the mail",
            Cause::CertificateNoticeLate => {
                "the certificate notice was the last prerequisite, after the planned installation"
            }
            Cause::InstallationConnectivity => "the connectivity check failed on installation day",
            Cause::GoLiveConnectivity => {
                "everything was installed, but the go-live connectivity check failed"
            }
            Cause::Other => "none of the above",
        }
    }
    pub fn parse(s: &str) -> Option<Cause> {
        CAUSES.iter().copied().find(|c| c.as_str() == s)
    }
}

/// The dates a run's causes are judged against.
#[derive(Debug, Clone, Copy)]
pub struct Dates {
    pub designation: NaiveDate,
    /// The planned installation day.
    pub installation: Option<NaiveDate>,
    /// The bureau's answer-dispatch milestone, when the rule set has one.
    pub bureau_answer_dispatch: Option<NaiveDate>,
}

/// For a run not online on day 1, the step that most plausibly made it late: the
/// first deadline missed in process order, else the last prerequisite to arrive
/// before installation, else the go-live check.
pub fn attribute(outcome: Outcome, seen: &Seen, dates: &Dates) -> Option<Cause> {
    use EventKind as K;
    if matches!(
        outcome,
        Outcome::OnlineOnDesignationDay
            | Outcome::Exempt
            | Outcome::Refused
            | Outcome::LimitedTypeReady
    ) {
        return None;
    }
    if seen.has(K::RequestReturned) {
        return Some(Cause::RequestReturned);
    }
    if seen.has(K::NotDesignated) {
        return Some(Cause::DesignationRefused);
    }
    if seen.has(K::ReceptionNumberLate) {
        let answer_late = match (
            dates.bureau_answer_dispatch,
            seen.last(K::BureauAnswerDispatched),
        ) {
            (Some(d), Some(t)) => t.date() > d,
            _ => false,
        };
        return Some(if answer_late {
            Cause::BureauAnswerLate
        } else {
            Cause::ReceptionNumberLate
        });
    }
    if seen.has(K::DesignationApplicationLate) {
        return Some(if seen.has(K::CorrectionRequested) {
            Cause::PlanCorrection
        } else {
            Cause::DesignationApplicationLate
        });
    }
    let designation_day = VirtualTime::start_of(dates.designation).plus_days(1);
    let installed = seen.first(K::InstallationDone);
    if installed.is_none_or(|t| t >= designation_day) {
        let planned = dates
            .installation
            .map(|d| VirtualTime::start_of(d).plus_days(1));
        // The prerequisite that arrived last (never = latest of all).
        let prereqs = [
            (K::ReaderDelivered, 0u8),
            (K::LineReady, 1),
            (K::AccountReady, 2),
            (K::CertificateNoticeReceived, 3),
        ];
        let mut worst: Option<(Option<VirtualTime>, u8)> = None;
        for (k, tag) in prereqs {
            let t = seen.first(k);
            let later = match (&worst, t) {
                (None, _) => true,
                (Some((Some(_), _)), None) => true,
                (Some((Some(w), _)), Some(t)) => t > *w,
                (Some((None, _)), _) => false,
            };
            if later {
                worst = Some((t, tag));
            }
        }
        if let Some((t, tag)) = worst {
            let after_plan = match (t, planned) {
                (None, _) => true,
                (Some(t), Some(p)) => t >= p,
                (Some(_), None) => false,
            };
            if after_plan {
                return Some(match tag {
                    0 if seen.has(K::ReaderDeadOnArrival) => Cause::ReaderDeadOnArrival,
                    0 => Cause::ReaderLate,
                    1 if seen.has(K::LineRejected) => Cause::LineNotConnectable,
                    1 => Cause::LineLate,
                    2 => Cause::PortalAccountLate,
                    _ if t.is_none() && seen.has(K::CertificateNoticeLost) => {
                        Cause::CertificateNoticeLost
                    }
                    _ => Cause::CertificateNoticeLate,
                });
            }
        }
        if seen.has(K::ConnectivityFailed) {
            return Some(Cause::InstallationConnectivity);
        }
        return Some(Cause::Other);
    }
    if seen.has(K::OnlineStartFailed) {
        return Some(Cause::GoLiveConnectivity);
    }
    Some(Cause::Other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cause_ids_round_trip() {
        for c in CAUSES {
            assert_eq!(Cause::parse(c.as_str()), Some(c));
            assert!(!c.explain().is_empty());
        }
        assert_eq!(Cause::parse("nope"), None);
    }
}
