//! The one driver loop (issue 15 item 3): the queue of envelopes, the "time never
//! runs backwards" clamp, the parties, the trace and the invariant check, used by the
//! timeline runner ([`crate::runner::run_prepared`]), the live world
//! ([`crate::live::world`]) and the `--live` replay ([`crate::live::replay`]).
//!
//! A driver holds the parties that run *here*; a message to a party that runs
//! elsewhere is handed back to the caller as [`Delivery::Away`]: in the live world
//! the clinic is the system under test (its messages go to the inbox), in the replay
//! the other parties are the live services (their messages become HTTP calls).
//! Timeline mode holds everyone, so nothing is ever away.
//!
//! The clamp: a message dated before the current instant (an actor's "at 09:00"
//! decided at 10:00) is delivered at the current instant. The current instant is the
//! latest delivery, or a clock the caller moved it to ([`Driver::advance_to`]).

use fakes::process::clinic::Clinic;
use fakes::process::{Actor, ActorId, Envelope, Event, Msg, Outbox};
use fakes::time::VirtualTime;

use crate::engine::EventQueue;
use crate::runner::Parties;

/// What became of one delivered message.
#[derive(Debug, PartialEq)]
pub enum Delivery {
    /// Handled by a party held here.
    Handled,
    /// For a party that runs elsewhere: the caller carries it.
    Away {
        at: VirtualTime,
        from: ActorId,
        to: ActorId,
        msg: Msg,
    },
}

/// Why [`Driver::run`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Nothing is due by the time asked for.
    Idle,
    /// The delivery limit was reached; the rest is still queued.
    Limit,
}

/// The queue, the clock clamp, the parties and the trace of one run.
pub struct Driver {
    queue: EventQueue<(ActorId, ActorId, Msg)>,
    now: VirtualTime,
    /// The clinic, when it runs here (not in the live world: the system under test).
    pub clinic: Option<Clinic>,
    /// The other parties, when they run here (not in the replay: the live services).
    pub parties: Option<Parties>,
    out: Outbox,
    trace: Vec<Event>,
    /// Events dropped from the front of the trace by [`Driver::trim_trace`].
    dropped: u64,
    handled: usize,
    /// Log each event with `tracing` (the live services).
    log: bool,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("now", &self.now)
            .field("pending", &self.queue.len())
            .field("handled", &self.handled)
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// A driver for the parties given; `detailed` fills event details.
    pub fn new(clinic: Option<Clinic>, parties: Option<Parties>, detailed: bool) -> Self {
        Driver {
            queue: EventQueue::new(),
            now: VirtualTime(i64::MIN),
            clinic,
            parties,
            out: Outbox::new(detailed),
            trace: Vec::new(),
            dropped: 0,
            handled: 0,
            log: false,
        }
    }

    /// Log every event with `tracing::debug!` as it is recorded.
    pub fn logging(mut self) -> Self {
        self.log = true;
        self
    }

    /// Start at `now`: nothing is delivered before it.
    pub fn starting_at(mut self, now: VirtualTime) -> Self {
        self.now = now;
        self
    }

    /// Let the clinic (when it runs here) schedule its plan.
    pub fn start_clinic(&mut self) {
        if let Some(c) = self.clinic.as_mut() {
            c.start(&mut self.out);
        }
        self.absorb();
    }

    /// The current instant: the latest delivery or clock move.
    pub fn now(&self) -> VirtualTime {
        self.now
    }

    /// Move the current instant to `t` (never backwards): a clock the caller follows.
    pub fn advance_to(&mut self, t: VirtualTime) {
        self.now = self.now.max(t);
    }

    /// When the next queued message is due.
    pub fn next_due(&self) -> Option<VirtualTime> {
        self.queue.peek_time()
    }

    /// Messages waiting for their time.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Messages delivered so far.
    pub fn handled(&self) -> usize {
        self.handled
    }

    /// The trace as recorded (decision order), and how many were trimmed.
    pub fn trace(&self) -> (&[Event], u64) {
        (&self.trace, self.dropped)
    }

    /// Record an event that happened outside any actor (the caller's own).
    pub fn record(&mut self, events: impl IntoIterator<Item = Event>) {
        self.trace.extend(events);
    }

    /// Keep at most `limit` events, dropping the oldest.
    pub fn trim_trace(&mut self, limit: usize) {
        if self.trace.len() > limit {
            let excess = self.trace.len() - limit;
            self.trace.drain(..excess);
            self.dropped += excess as u64;
        }
    }

    /// Queue what the last handler sent (clamped to now) and record its events.
    fn absorb(&mut self) {
        let now = self.now;
        for Envelope { at, from, to, msg } in self.out.sends.drain(..) {
            self.queue.push(at.max(now), (from, to, msg));
        }
        if self.log {
            for e in &self.out.events {
                tracing::debug!(at = %e.at, actor = %e.actor, kind = %e.kind, why = e.why, "event");
            }
        }
        self.trace.append(&mut self.out.events);
    }

    /// Hand `msg` to `to` at `at` (clamped to now; the current instant moves there).
    pub fn deliver(&mut self, at: VirtualTime, from: ActorId, to: ActorId, msg: Msg) -> Delivery {
        self.now = self.now.max(at);
        let at = self.now;
        self.handled += 1;
        let actor: &mut dyn Actor = match (to, self.clinic.as_mut(), self.parties.as_mut()) {
            (ActorId::Clinic, Some(c), _) => c,
            (ActorId::Bureau, _, Some(p)) => &mut p.bureau,
            (ActorId::ImplementingBody, _, Some(p)) => &mut p.implementing_body,
            (ActorId::ReaderVendor, _, Some(p)) => &mut p.reader_vendor,
            (ActorId::Carrier, _, Some(p)) => &mut p.carrier,
            (ActorId::SystemVendor, _, Some(p)) => &mut p.system_vendor,
            (ActorId::Clinic, None, _)
            | (
                ActorId::Bureau
                | ActorId::ImplementingBody
                | ActorId::ReaderVendor
                | ActorId::Carrier
                | ActorId::SystemVendor,
                _,
                None,
            ) => return Delivery::Away { at, from, to, msg },
        };
        actor.handle(at, from, msg, &mut self.out);
        self.absorb();
        Delivery::Handled
    }

    /// Deliver the earliest message if it is due by `until`.
    pub fn step(&mut self, until: VirtualTime) -> Option<Delivery> {
        if self.queue.peek_time()? > until {
            return None;
        }
        let (at, (from, to, msg)) = self.queue.pop()?;
        Some(self.deliver(at, from, to, msg))
    }

    /// Deliver everything due by `until`, at most `limit` messages; each message for
    /// a party away goes to `away`.
    pub fn run(
        &mut self,
        until: VirtualTime,
        limit: usize,
        mut away: impl FnMut(&mut Self, VirtualTime, ActorId, ActorId, Msg),
    ) -> Stop {
        let mut n = 0usize;
        while self.queue.peek_time().is_some_and(|t| t <= until) {
            if n >= limit {
                return Stop::Limit;
            }
            n += 1;
            if let Some(Delivery::Away { at, from, to, msg }) = self.step(until) {
                away(self, at, from, to, msg);
            }
        }
        Stop::Idle
    }

    /// The trace up to `horizon` in time order (stable: events decided together keep
    /// their order), and every invariant it breaks ([`crate::invariants`]).
    pub fn finish(self, horizon: VirtualTime) -> Finished {
        let mut timeline = self.trace;
        timeline.retain(|e| e.at <= horizon);
        timeline.sort_by_key(|e| e.at);
        let broken = crate::invariants::check(&timeline);
        Finished {
            timeline,
            broken,
            handled: self.handled,
        }
    }
}

/// The end of a run: its trace and the invariants it broke.
#[derive(Debug)]
pub struct Finished {
    pub timeline: Vec<Event>,
    /// Broken invariants in words; empty when none (a non-empty list is a bug in onsim).
    pub broken: Vec<String>,
    pub handled: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use fakes::process::EventKind;

    fn t(h: u32) -> VirtualTime {
        VirtualTime::at(
            chrono::NaiveDate::from_ymd_opt(2025, 4, 1).expect("date"),
            h,
            0,
        )
    }

    #[test]
    fn away_messages_come_back_clamped_to_now() {
        let mut d = Driver::new(None, None, true);
        d.advance_to(t(10));
        // A message dated 09:00 decided at 10:00 is delivered at 10:00.
        let got = d.deliver(
            t(9),
            ActorId::Bureau,
            ActorId::Clinic,
            Msg::CorrectionRequest,
        );
        assert_eq!(
            got,
            Delivery::Away {
                at: t(10),
                from: ActorId::Bureau,
                to: ActorId::Clinic,
                msg: Msg::CorrectionRequest
            }
        );
        d.advance_to(t(8));
        assert_eq!(d.now(), t(10), "the clock never runs backwards");
    }

    #[test]
    fn run_stops_at_until_and_at_the_limit() {
        let mut d = Driver::new(None, None, false);
        for h in [9, 11, 13] {
            d.queue.push(
                t(h),
                (ActorId::Clinic, ActorId::Bureau, Msg::CouncilDecision),
            );
        }
        let mut seen = Vec::new();
        let stop = d.run(t(12), 1, |_, at, _, _, _| seen.push(at));
        assert_eq!((stop, seen.clone()), (Stop::Limit, vec![t(9)]));
        let stop = d.run(t(12), 10, |_, at, _, _, _| seen.push(at));
        assert_eq!((stop, seen), (Stop::Idle, vec![t(9), t(11)]));
        assert_eq!((d.pending(), d.next_due()), (1, Some(t(13))));
    }

    #[test]
    fn finish_reports_a_refused_message() {
        let mut d = Driver::new(None, None, true);
        d.record([Event {
            at: t(9),
            actor: ActorId::Bureau,
            kind: EventKind::MessageRefused,
            why: "test",
            detail: None,
        }]);
        let f = d.finish(t(23));
        assert_eq!(f.broken.len(), 1, "{:?}", f.broken);
    }
}
