//! Invariants every run must keep, checked by the driver while it runs (as
//! TigerBeetle's simulator does): a violation is a bug in onsim, never an outcome.
//!
//! - the trace never runs backwards (the driver clamps deliveries to "now");
//! - no actor refused a message (`message-refused`: misrouted, or an input the actor
//!   has no handling for);
//! - every reply follows its request: a returned request (返戻) or an answer follows
//!   the bureau's receipt of a request, a registered or late reception number follows
//!   its submission, an online start follows the installation.

use fakes::process::{Event, EventKind};

/// Each "reply" kind and the kind that must come before it.
const CAUSES: [(EventKind, EventKind); 5] = [
    (
        EventKind::RequestReturned,
        EventKind::ReceptionRequestReceived,
    ),
    (
        EventKind::BureauAnswerDispatched,
        EventKind::ReceptionRequestReceived,
    ),
    (
        EventKind::ReceptionNumberRegistered,
        EventKind::ReceptionNumberSubmitted,
    ),
    (
        EventKind::ReceptionNumberLate,
        EventKind::ReceptionNumberSubmitted,
    ),
    (EventKind::OnlineStart, EventKind::InstallationDone),
];

/// Every invariant the timeline (in trace order) breaks, in words; empty when none.
pub fn check(timeline: &[Event]) -> Vec<String> {
    let mut broken = Vec::new();
    for w in timeline.windows(2) {
        if w[1].at < w[0].at {
            broken.push(format!(
                "time ran backwards: {} at {} after {} at {}",
                w[1].kind, w[1].at, w[0].kind, w[0].at
            ));
            break;
        }
    }
    for e in timeline
        .iter()
        .filter(|e| e.kind == EventKind::MessageRefused)
    {
        broken.push(format!(
            "message refused at {} by {}: {}",
            e.at,
            e.actor.as_str(),
            e.why
        ));
    }
    for (reply, cause) in CAUSES {
        if let Some(r) = timeline.iter().position(|e| e.kind == reply) {
            if !timeline[..r].iter().any(|e| e.kind == cause) {
                broken.push(format!(
                    "{reply} at {} without an earlier {cause}",
                    timeline[r].at
                ));
            }
        }
    }
    broken
}

#[cfg(test)]
mod tests {
    use super::*;
    use fakes::process::ActorId;
    use fakes::time::VirtualTime;

    fn ev(day: u32, kind: EventKind) -> Event {
        Event {
            at: VirtualTime::at(chrono::NaiveDate::from_ymd_opt(2025, 4, day).unwrap(), 9, 0),
            actor: ActorId::Clinic,
            kind,
            why: "test",
            detail: None,
        }
    }

    #[test]
    fn a_clean_trace_keeps_every_invariant() {
        let t = [
            ev(1, EventKind::ReceptionRequestReceived),
            ev(2, EventKind::BureauAnswerDispatched),
            ev(3, EventKind::ReceptionNumberSubmitted),
            ev(3, EventKind::ReceptionNumberRegistered),
        ];
        assert!(check(&t).is_empty());
    }

    #[test]
    fn each_broken_invariant_is_named() {
        let back = [ev(2, EventKind::LineReady), ev(1, EventKind::LineOrdered)];
        assert!(check(&back)[0].contains("time ran backwards"));
        let refused = [ev(1, EventKind::MessageRefused)];
        assert!(check(&refused)[0].contains("refused"));
        let orphan = [ev(1, EventKind::RequestReturned)];
        assert!(check(&orphan)[0].contains("without an earlier reception-request-received"));
    }
}
