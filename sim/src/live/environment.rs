//! The environment's faults as the live services meet them (`onsim serve
//! --scenario`, issue 17 item 1): what a scenario's `[[faults]]` do to the network
//! and the implementing body *around* the actors, applied where a request is
//! delivered, not inside each handler (issue 15 item 3).
//!
//! | fault (with a window: `at`/`until`, or neither) | what the live services do while it is in force |
//! |---|---|
//! | `carrier-outage` | the carrier proxy refuses every connection ([`super::carrier`]) |
//! | `implementing-body-down` | the eligibility API (the online system itself, single and bulk inquiries and card confirmations) answers 503 with the fault named; the terminal turns that into its abnormal answer 5002 ([`fakes::eligibility::error::ErrorCode::CentreError`]). The portal keeps taking submissions: the implementing body's actor holds their work until the window ends, exactly as in timeline mode, so a scenario's verdict is the same in both modes |
//!
//! A step-bound fault (`on = "..."`) or one with a `probability` belongs to the actor
//! that suffers it alone: it happens at the step, drawn from that actor's random
//! stream, exactly as in timeline mode; it is not applied here, so the live services
//! and the timeline never disagree about it. That the eligibility API refuses with
//! 503 (rather than, say, hanging) is *(our choice)*: the seeds say the body is down,
//! not how its services fail (docs/SEEDS.md).
//!
//! The faults are kept here, outside the world's lock, so the eligibility path (the
//! measured one) asks without taking it.

use chrono::NaiveDate;
use fakes::process::fault::{Fault, FaultKind, Faults};

/// The environment faults of one scenario: those with a window and no probability.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    faults: Faults,
}

/// A service the environment makes unavailable, and why (the body of its 503).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    pub kind: FaultKind,
    pub reason: String,
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl Environment {
    /// Keep the faults of `list` that are the environment's (see the module doc).
    pub fn of(list: &[Fault]) -> Self {
        let kept = list
            .iter()
            .filter(|f| {
                matches!(
                    f.kind,
                    FaultKind::CarrierOutage | FaultKind::ImplementingBodyDown
                ) && f.on.is_none()
                    && f.probability.is_none()
            })
            .cloned()
            .collect();
        Environment {
            faults: Faults::new(kept),
        }
    }

    /// Is there no environment fault at all (every lookup answers "none")?
    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    /// A carrier outage in force on `date`.
    pub fn carrier_outage(&self, date: NaiveDate) -> Option<Unavailable> {
        self.unavailable(FaultKind::CarrierOutage, date, "the carrier's line is down")
    }

    /// The implementing body down on `date`: the eligibility API refuses.
    pub fn implementing_body_down(&self, date: NaiveDate) -> Option<Unavailable> {
        self.unavailable(
            FaultKind::ImplementingBodyDown,
            date,
            "the implementing body (支払基金・国保中央会) is down",
        )
    }

    fn unavailable(&self, kind: FaultKind, date: NaiveDate, what: &str) -> Option<Unavailable> {
        if self.faults.is_empty() {
            return None;
        }
        let f = self.faults.active(kind, date, None)?;
        let window = match (f.at, f.until) {
            (Some(a), Some(u)) if u != a => format!("from {a} to {u}"),
            (Some(a), _) => format!("on {a}"),
            (None, _) => "for the whole run".to_string(),
        };
        Some(Unavailable {
            kind,
            reason: format!(
                "{what} (scenario fault {} {window}; virtual date {date})",
                kind.as_str()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fakes::process::fault::FaultStep;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn down(at: Option<&str>, until: Option<&str>) -> Fault {
        let mut f = Fault::new(FaultKind::ImplementingBodyDown);
        f.at = at.map(d);
        f.until = until.map(d);
        f
    }

    #[test]
    fn a_window_is_in_force_on_its_days_only_and_names_itself() {
        let e = Environment::of(&[down(Some("2025-06-02"), Some("2025-06-04"))]);
        assert!(e.implementing_body_down(d("2025-06-01")).is_none());
        let u = e.implementing_body_down(d("2025-06-02")).unwrap();
        assert!(
            u.reason
                .contains("implementing-body-down from 2025-06-02 to 2025-06-04"),
            "{u}"
        );
        assert!(e.implementing_body_down(d("2025-06-04")).is_some());
        assert!(e.implementing_body_down(d("2025-06-05")).is_none());
        // Another kind is not the body's.
        assert!(e.carrier_outage(d("2025-06-03")).is_none());
    }

    #[test]
    fn step_bound_and_probable_faults_stay_with_the_actors() {
        let mut on = down(None, None);
        on.on = Some(FaultStep::GoLive);
        let mut maybe = down(Some("2025-06-02"), None);
        maybe.probability = Some(0.5);
        let e = Environment::of(&[on, maybe, Fault::new(FaultKind::ReaderDoa)]);
        assert!(e.is_empty());
        assert!(e.implementing_body_down(d("2025-06-02")).is_none());
    }

    #[test]
    fn a_fault_without_a_window_holds_for_the_whole_run() {
        let e = Environment::of(&[Fault::new(FaultKind::CarrierOutage)]);
        let u = e.carrier_outage(d("2030-01-01")).unwrap();
        assert!(u.reason.contains("for the whole run"), "{u}");
    }
}
