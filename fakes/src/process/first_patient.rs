//! The clinic's first patient at the face-auth reader (顔認証付きカードリーダー): the
//! events it leaves, from the fee tables, the day and the card's problem.
//!
//! One rule in one place: the timeline's [`super::clinic::Clinic`] records them when
//! it goes online, and the live verdict's observer (`onsim serve --scenario`, a
//! system under test playing the clinic) records them when the first patient is
//! presented at the simulated reader, so a scenario's first-patient checks mean the
//! same in both modes.
//!
//! - the confirmation itself (`first-confirmation`);
//! - the consent screens, only for the information this institution may view on this
//!   day (seeds 002, 003; [`crate::eligibility::health_info::viewable`]); asking for
//!   nothing else is *(our choice)*: the seeds say what may be viewed, not which
//!   screens the reader shows;
//! - the card's problem: a failed face match (or camera) falls back to the 4-digit PIN
//!   a minute later; a locked PIN leaves the visual check by staff (目視確認); an
//!   expired or revoked certificate is refused (docs/DOMAIN.md §8).

use chrono::NaiveDate;

use super::fault::CardProblem;
use super::EventKind;
use crate::codes::FeeTable;
use crate::eligibility::health_info::viewable;
use crate::time::VirtualTime;

/// One event of the first patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstPatientEvent {
    pub at: VirtualTime,
    pub kind: EventKind,
    pub why: &'static str,
    detail: Detail,
}

/// An event's detail, made only when asked for (sweeps keep none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    None,
    Text(&'static str),
    Card(CardProblem),
}

impl FirstPatientEvent {
    fn new(at: VirtualTime, kind: EventKind, why: &'static str, detail: Detail) -> Self {
        FirstPatientEvent {
            at,
            kind,
            why,
            detail,
        }
    }

    /// The event's detail text (as the timeline has always written it).
    pub fn detail(&self) -> String {
        match self.detail {
            Detail::None => String::new(),
            Detail::Text(t) => t.to_string(),
            Detail::Card(p) => format!("{:?}", Some(p)),
        }
    }
}

/// The events of a first patient confirmed at `at` on `today`, at an institution
/// with `fees`, whose card has `problem`.
pub fn events(
    fees: &[FeeTable],
    today: NaiveDate,
    at: VirtualTime,
    problem: Option<CardProblem>,
) -> Vec<FirstPatientEvent> {
    use FirstPatientEvent as E;
    let mut out = vec![E::new(
        at,
        EventKind::FirstConfirmation,
        "the first patient confirms eligibility with a My Number card at the face-auth reader",
        Detail::None,
    )];
    let cfg = crate::eligibility::other::OtherConfig::default();
    for (drug, kind) in [
        (true, EventKind::DrugInfoConsentAsked),
        (false, EventKind::CheckupConsentAsked),
    ] {
        let refused = fees
            .iter()
            .filter(|f| viewable(drug, **f, today, &cfg).is_err())
            .count();
        if refused < fees.len() {
            let what = if drug {
                "薬剤情報 (seed 003: from 2021-10)"
            } else {
                "特定健診情報 (seed 003: from 2021-03, 医療機関 only)"
            };
            out.push(E::new(
                at,
                kind,
                "the reader asks the patient's consent to show their health information to the doctor",
                Detail::Text(what),
            ));
        }
    }
    match problem {
        Some(p @ (CardProblem::FaceMismatch | CardProblem::CameraFault)) => {
            out.push(E::new(
                at,
                EventKind::FaceAuthFailed,
                "face authentication failed",
                Detail::Card(p),
            ));
            out.push(E::new(
                at.plus_minutes(1),
                EventKind::PinFallback,
                "fallback to the 4-digit PIN",
                Detail::None,
            ));
        }
        Some(CardProblem::PinLocked) => {
            out.push(E::new(
                at,
                EventKind::FaceAuthFailed,
                "face authentication failed",
                Detail::None,
            ));
            out.push(E::new(
                at.plus_minutes(1),
                EventKind::VisualCheckFallback,
                "PIN locked after 3 wrong tries: visual check by staff (目視確認)",
                Detail::None,
            ));
        }
        Some(CardProblem::CertificateExpired) => out.push(E::new(
            at,
            EventKind::CardConfirmationRefused,
            "the card's user-authentication certificate has expired",
            Detail::None,
        )),
        Some(CardProblem::CertificateRevoked) => out.push(E::new(
            at,
            EventKind::CardConfirmationRefused,
            "the card's user-authentication certificate is revoked",
            Detail::None,
        )),
        None => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn kinds(e: &[FirstPatientEvent]) -> Vec<EventKind> {
        e.iter().map(|e| e.kind).collect()
    }

    #[test]
    fn a_face_mismatch_falls_back_to_the_pin_a_minute_later() {
        let at = VirtualTime::at(d("2026-01-01"), 9, 30);
        let e = events(
            &[FeeTable::Medical],
            d("2026-01-01"),
            at,
            Some(CardProblem::FaceMismatch),
        );
        assert_eq!(
            kinds(&e),
            [
                EventKind::FirstConfirmation,
                EventKind::DrugInfoConsentAsked,
                EventKind::CheckupConsentAsked,
                EventKind::FaceAuthFailed,
                EventKind::PinFallback
            ]
        );
        assert_eq!(e[3].detail(), "Some(FaceMismatch)");
        assert_eq!(e[4].at, at.plus_minutes(1));
    }

    #[test]
    fn consent_screens_follow_what_may_be_viewed_on_the_day() {
        let at = VirtualTime::at(d("2021-04-01"), 9, 30);
        // 特定健診 from 2021-03, 薬剤情報 only from 2021-10; a pharmacy never gets 特定健診.
        let e = events(&[FeeTable::Medical], d("2021-04-01"), at, None);
        assert_eq!(
            kinds(&e),
            [EventKind::FirstConfirmation, EventKind::CheckupConsentAsked]
        );
        let e = events(&[FeeTable::Pharmacy], d("2021-04-01"), at, None);
        assert_eq!(kinds(&e), [EventKind::FirstConfirmation]);
    }

    #[test]
    fn a_locked_pin_leaves_the_visual_check_and_a_bad_certificate_is_refused() {
        let at = VirtualTime::at(d("2026-01-01"), 9, 30);
        let e = events(
            &[FeeTable::Pharmacy],
            d("2026-01-01"),
            at,
            Some(CardProblem::PinLocked),
        );
        assert_eq!(
            kinds(&e)[1..],
            [
                EventKind::DrugInfoConsentAsked,
                EventKind::FaceAuthFailed,
                EventKind::VisualCheckFallback
            ]
        );
        for p in [
            CardProblem::CertificateExpired,
            CardProblem::CertificateRevoked,
        ] {
            let e = events(&[FeeTable::Pharmacy], d("2026-01-01"), at, Some(p));
            assert_eq!(e.last().unwrap().kind, EventKind::CardConfirmationRefused);
        }
    }
}
