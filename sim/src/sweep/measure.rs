//! What a sweep measures in each run: the slacks (how far ahead of its deadline each
//! key event happened), the first and last time of every event kind, business days on
//! a calendar, and the integer counts ([`Accum`]) a set of runs reduces to.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use strum::IntoEnumIterator;

use fakes::calendar::BusinessCalendar;
use fakes::process::{Event, EventKind};
use fakes::schedule::MilestoneId;
use fakes::time::VirtualTime;

use super::cause::CAUSES;
use super::hist::{Hist, HIST_RANGE};
use super::OUTCOMES;

/// Units of a slack distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    BusinessDays,
    CalendarDays,
}

/// The reference date a slack is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    Milestone(MilestoneId),
    /// The planned installation day (the plan's, which may differ from the rule's).
    PlannedInstallation,
}

/// One slack: how far ahead of its deadline a key event happened (negative: late).
#[derive(Debug, Clone, Copy)]
pub struct SlackDef {
    pub id: &'static str,
    pub event: EventKind,
    pub reference: Reference,
    pub reference_name: &'static str,
    pub unit: Unit,
    /// Business days on the bureau's own calendar (its closures) rather than the
    /// standard government calendar.
    pub bureau_calendar: bool,
}

/// The slacks every sweep reports (those whose reference exists under the rule set).
pub const SLACKS: [SlackDef; 10] = [
    SlackDef {
        id: "reception-request",
        event: EventKind::ReceptionRequestSent,
        reference: Reference::Milestone(MilestoneId::ReceptionRequestDeadline),
        reference_name: "reception-request-deadline",
        unit: Unit::BusinessDays,
        bureau_calendar: true,
    },
    SlackDef {
        id: "bureau-answer",
        event: EventKind::BureauAnswerDispatched,
        reference: Reference::Milestone(MilestoneId::BureauAnswerDispatch),
        reference_name: "bureau-answer-dispatch",
        unit: Unit::BusinessDays,
        bureau_calendar: true,
    },
    SlackDef {
        id: "reception-number",
        event: EventKind::ReceptionNumberSubmitted,
        reference: Reference::Milestone(MilestoneId::ImplementingBodyDeadline),
        reference_name: "implementing-body-deadline",
        unit: Unit::BusinessDays,
        bureau_calendar: false,
    },
    SlackDef {
        id: "certificate-application",
        event: EventKind::CertificateApplicationSent,
        reference: Reference::Milestone(MilestoneId::CertificateApplicationDeadline),
        reference_name: "certificate-application-deadline",
        unit: Unit::BusinessDays,
        bureau_calendar: false,
    },
    SlackDef {
        id: "designation-application",
        event: EventKind::DesignationApplicationSent,
        reference: Reference::Milestone(MilestoneId::DesignationApplicationDeadline),
        reference_name: "designation-application-deadline",
        unit: Unit::BusinessDays,
        bureau_calendar: true,
    },
    SlackDef {
        id: "certificate-notice",
        event: EventKind::CertificateNoticeReceived,
        reference: Reference::PlannedInstallation,
        reference_name: "planned installation",
        unit: Unit::CalendarDays,
        bureau_calendar: false,
    },
    SlackDef {
        id: "reader",
        event: EventKind::ReaderDelivered,
        reference: Reference::PlannedInstallation,
        reference_name: "planned installation",
        unit: Unit::CalendarDays,
        bureau_calendar: false,
    },
    SlackDef {
        id: "line",
        event: EventKind::LineReady,
        reference: Reference::PlannedInstallation,
        reference_name: "planned installation",
        unit: Unit::CalendarDays,
        bureau_calendar: false,
    },
    SlackDef {
        id: "portal-account",
        event: EventKind::AccountReady,
        reference: Reference::PlannedInstallation,
        reference_name: "planned installation",
        unit: Unit::CalendarDays,
        bureau_calendar: false,
    },
    SlackDef {
        id: "installation",
        event: EventKind::InstallationDone,
        reference: Reference::Milestone(MilestoneId::Designation),
        reference_name: "designation",
        unit: Unit::BusinessDays,
        bureau_calendar: false,
    },
];

/// The slack definition of an id.
pub fn slack_def(id: &str) -> Option<&'static SlackDef> {
    SLACKS.iter().find(|d| d.id == id)
}

/// First and last time of each event kind in one run. One slot per [`EventKind`],
/// sized from the enum itself, so a kind added to `fakes` is counted like the others.
pub struct Seen {
    first: Vec<Option<VirtualTime>>,
    last: Vec<Option<VirtualTime>>,
}

impl Seen {
    /// How many event kinds there are.
    pub fn kinds() -> usize {
        EventKind::iter().len()
    }

    pub fn of(timeline: &[Event]) -> Seen {
        let n = Self::kinds();
        let mut s = Seen {
            first: vec![None; n],
            last: vec![None; n],
        };
        for e in timeline {
            let k = e.kind as usize;
            if s.first[k].is_none() {
                s.first[k] = Some(e.at);
            }
            s.last[k] = Some(e.at);
        }
        s
    }
    pub fn has(&self, k: EventKind) -> bool {
        self.first[k as usize].is_some()
    }
    pub fn last(&self, k: EventKind) -> Option<VirtualTime> {
        self.last[k as usize]
    }
    pub fn first(&self, k: EventKind) -> Option<VirtualTime> {
        self.first[k as usize]
    }
}

/// Open days as prefix sums, so "business days between" is one subtraction.
pub struct OpenDays {
    base: NaiveDate,
    prefix: Vec<i32>,
}

impl OpenDays {
    const SPAN: i64 = 2 * HIST_RANGE as i64 + 400;

    pub fn new(cal: &BusinessCalendar, around: NaiveDate) -> OpenDays {
        let base = around - chrono::Duration::days(Self::SPAN / 2);
        let mut prefix = Vec::with_capacity(Self::SPAN as usize);
        let mut n = 0;
        for i in 0..Self::SPAN {
            let d = base + chrono::Duration::days(i);
            if cal.is_open(d).unwrap_or(false) {
                n += 1;
            }
            prefix.push(n);
        }
        OpenDays { base, prefix }
    }

    fn idx(&self, d: NaiveDate) -> usize {
        (d - self.base).num_days().clamp(0, Self::SPAN - 1) as usize
    }

    /// Open days in (`from`, `to`]; negative when `to` is earlier.
    pub fn between(&self, from: NaiveDate, to: NaiveDate) -> i32 {
        self.prefix[self.idx(to)] - self.prefix[self.idx(from)]
    }
}

/// Integer counts of a set of runs: everything a report needs, and exactly mergeable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accum {
    pub runs: u64,
    pub outcomes: [u64; OUTCOMES.len()],
    /// Calendar days from designation to online start.
    pub delay: Hist,
    pub never_online: u64,
    pub slack: Vec<Hist>,
    pub slack_missing: Vec<u64>,
    pub causes: [u64; CAUSES.len()],
}

impl Accum {
    pub fn new(slacks: usize) -> Accum {
        Accum {
            runs: 0,
            outcomes: [0; OUTCOMES.len()],
            delay: Hist::default(),
            never_online: 0,
            slack: vec![Hist::default(); slacks],
            slack_missing: vec![0; slacks],
            causes: [0; CAUSES.len()],
        }
    }

    pub fn merge(&mut self, o: &Accum) {
        self.runs += o.runs;
        for (a, b) in self.outcomes.iter_mut().zip(&o.outcomes) {
            *a += b;
        }
        self.delay.merge(&o.delay);
        self.never_online += o.never_online;
        for (a, b) in self.slack.iter_mut().zip(&o.slack) {
            a.merge(b);
        }
        for (a, b) in self.slack_missing.iter_mut().zip(&o.slack_missing) {
            *a += b;
        }
        for (a, b) in self.causes.iter_mut().zip(&o.causes) {
            *a += b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fakes::process::ActorId;

    #[test]
    fn every_event_kind_is_counted() {
        // One event of every kind, each at its own minute: each is seen, first and
        // last, whatever the number of kinds (a fixed-size table would miss or panic
        // on the kinds past its end).
        let all: Vec<EventKind> = EventKind::iter().collect();
        assert_eq!(Seen::kinds(), all.len());
        let timeline: Vec<Event> = all
            .iter()
            .enumerate()
            .map(|(i, k)| Event {
                at: VirtualTime(i as i64),
                actor: ActorId::Clinic,
                kind: *k,
                why: "test",
                detail: None,
            })
            .collect();
        let seen = Seen::of(&timeline);
        for (i, k) in all.iter().enumerate() {
            assert!(seen.has(*k), "{k} not counted");
            assert_eq!(seen.first(*k), Some(VirtualTime(i as i64)), "{k}");
            assert_eq!(seen.last(*k), Some(VirtualTime(i as i64)), "{k}");
        }
        // Every discriminant indexes inside the table.
        assert!(all.iter().all(|k| (*k as usize) < Seen::kinds()));
    }

    #[test]
    fn slack_ids_are_unique_and_found() {
        for d in &SLACKS {
            assert_eq!(slack_def(d.id).map(|x| x.event), Some(d.event));
        }
        assert!(slack_def("nope").is_none());
    }
}
