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

/// The bit of an event kind in a set of kinds (a unit test holds every kind below
/// 128).
#[inline(always)]
fn bit(kind: EventKind) -> u128 {
    1u128 << ((kind as u32) & 127)
}

/// The reply kinds of [`CAUSES`], as a set.
const REPLIES: u128 = {
    let mut set = 0u128;
    let mut i = 0;
    while i < CAUSES.len() {
        set |= 1u128 << ((CAUSES[i].0 as u32) & 127);
        i += 1;
    }
    set
};

/// Every invariant the timeline (in trace order) breaks, in words; empty when none.
///
/// One pass over the trace notes the first step back in time, whether any message
/// was refused, and each reply kind's first event with no cause before it; the words
/// follow in the order of [`check_by_passes`] (the first written form, one pass per
/// invariant, kept as the oracle of a proptest).
pub fn check(timeline: &[Event]) -> Vec<String> {
    let mut backwards = None;
    let mut refused = false;
    let mut seen = 0u128;
    let mut orphans = [None; CAUSES.len()];
    let mut prev = None;
    for (i, e) in timeline.iter().enumerate() {
        if backwards.is_none() && prev.is_some_and(|p| e.at < p) {
            backwards = Some(i);
        }
        prev = Some(e.at);
        let b = bit(e.kind);
        if b & REPLIES != 0 && seen & b == 0 {
            for (j, (reply, cause)) in CAUSES.iter().enumerate() {
                if *reply == e.kind && seen & bit(*cause) == 0 {
                    orphans[j] = Some(i);
                }
            }
        }
        refused |= e.kind == EventKind::MessageRefused;
        seen |= b;
    }
    let mut broken = Vec::new();
    if let Some(i) = backwards {
        let (a, b) = (&timeline[i - 1], &timeline[i]);
        broken.push(format!(
            "time ran backwards: {} at {} after {} at {}",
            b.kind, b.at, a.kind, a.at
        ));
    }
    if refused {
        for e in timeline
            .iter()
            .filter(|e| e.kind == EventKind::MessageRefused)
        {
            broken.push(refused_words(e));
        }
    }
    for ((reply, cause), r) in CAUSES.iter().zip(orphans) {
        if let Some(r) = r {
            broken.push(format!(
                "{reply} at {} without an earlier {cause}",
                timeline[r].at
            ));
        }
    }
    broken
}

fn refused_words(e: &Event) -> String {
    format!(
        "message refused at {} by {}: {}",
        e.at,
        e.actor.as_str(),
        e.why
    )
}

/// [`check`] one pass per invariant, as first written: the oracle of its proptest.
#[cfg(test)]
fn check_by_passes(timeline: &[Event]) -> Vec<String> {
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
        broken.push(refused_words(e));
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
    use proptest::prelude::*;

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
    fn every_kind_has_a_bit_of_its_own() {
        use strum::IntoEnumIterator;
        let mut all = 0u128;
        for k in EventKind::iter() {
            assert!((k as u32) < 128, "{k} does not fit the kind set");
            assert_eq!(all & bit(k), 0);
            all |= bit(k);
        }
    }

    proptest! {
        /// One pass finds what the seven passes find, in the same order: traces of
        /// the kinds the invariants name (and others), times going back or not.
        #[test]
        fn one_pass_is_the_passes(
            trace in proptest::collection::vec((0u32..6, 0usize..10), 0..40),
        ) {
            let kinds = [
                EventKind::ReceptionRequestReceived,
                EventKind::RequestReturned,
                EventKind::BureauAnswerDispatched,
                EventKind::ReceptionNumberSubmitted,
                EventKind::ReceptionNumberRegistered,
                EventKind::ReceptionNumberLate,
                EventKind::InstallationDone,
                EventKind::OnlineStart,
                EventKind::MessageRefused,
                EventKind::LineReady,
            ];
            let t: Vec<Event> = trace.iter().map(|&(d, k)| ev(d + 1, kinds[k])).collect();
            prop_assert_eq!(check(&t), check_by_passes(&t));
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
