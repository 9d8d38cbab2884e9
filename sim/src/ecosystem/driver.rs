//! The ecosystem driver: every clinic's six actors (the same sans-IO actors and the
//! same [`Parties::build`] as single-clinic mode, `sim::runner`) on one event queue
//! ([`super::queue`], the order of `engine::EventQueue`), with the shared resources of
//! [`super::resources`] between them.
//!
//! The loop is the runner's: pop the earliest message, hand it to its addressee (the
//! clinic's own actor of that kind), queue what it sent, never earlier than now.
//! Five kinds of message pass a gate first (docs/ecosystem.md, "Gates"):
//!
//! | message | resource | when it is asked |
//! |---|---|---|
//! | clinic → reader vendor `ReaderOrder` (first order) | the maker's stock | on delivery |
//! | implementing body → clinic `ReaderDelivered` (r2021 free reader) | the maker's stock | when sent |
//! | bureau → clinic `ReceptionAnswer` | the bureau's answers | when sent, on the dispatch day |
//! | implementing body → clinic `AccountReady` | the portal accounts | when sent |
//! | carrier → clinic `LineReady` | the carrier's openings in the region | when sent |
//! | system vendor → itself `InstallationDay` | the vendor's crews in the region | on delivery |
//!
//! Asked on delivery, the message is held until the day served (same time of day).
//! Asked when sent, the request reaches the resource at the start of the day it is
//! for (the dispatch day, the day the account or line would be ready); then the
//! message and the sender's trace event for it move by the days waited. Every
//! resource serves first come, first served in the order requests reach it (equal
//! times: in the order they were sent).

use chrono::NaiveDate;

use fakes::calendar::BusinessCalendar;
use fakes::process::clinic::{Clinic, ClinicSetup};
use fakes::process::fault::Faults;
use fakes::process::{Actor, ActorId, Envelope, Event, EventKind, Msg, Outbox};
use fakes::schedule::{ClinicKind, Schedule};
use fakes::time::VirtualTime;

use super::file::{default_service, Ecosystem};
use super::population::{self, ClinicSpec};
use super::queue::ClinicQueue;
use super::resources::{ResourceId, Resources};
use crate::engine::derive_seed_indexed;
use crate::runner::{self, Parties, PartySetup, EVENT_LIMIT, HORIZON_MONTHS};
use crate::scenario::{self, Actors, Claims, Outcome, Scenario};

/// Default shipping after a reader is allotted *(our choice: 3–7 calendar days)*.
pub fn default_shipping() -> fakes::dist::Dist {
    fakes::dist::Dist::Uniform { min: 3.0, max: 7.0 }
}

/// Default carrier lead before an opening can be booked *(our choice: 10–30 days)*.
pub fn default_line_lead() -> fakes::dist::Dist {
    fakes::dist::Dist::Uniform {
        min: 10.0,
        max: 30.0,
    }
}

/// Days waited at each kind of resource by one clinic.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Waits {
    pub reader: i64,
    pub answer: i64,
    pub account: i64,
    pub line: i64,
    /// Summed over every visit (a postponed installation is visited again).
    pub crews: i64,
    pub visits: u32,
}

/// One clinic's result.
#[derive(Debug, Clone)]
pub struct ClinicResult {
    pub spec: ClinicSpec,
    pub outcome: Outcome,
    pub refused: Option<String>,
    pub online_start: Option<NaiveDate>,
    pub installation_planned: Option<NaiveDate>,
    pub reader_ordered: Option<NaiveDate>,
    pub reader_delivered: Option<NaiveDate>,
    pub answer_received: Option<NaiveDate>,
    pub account_ready: Option<NaiveDate>,
    pub line_ready: Option<NaiveDate>,
    pub installation_done: Option<NaiveDate>,
    pub waits: Waits,
    pub events_handled: usize,
    /// Broken invariants (src/invariants.rs); none in a correct run.
    pub broken: Vec<String>,
}

impl ClinicResult {
    /// Days from designation to online start (negative: never; see `online_start`).
    pub fn delay_days(&self) -> Option<i64> {
        self.online_start
            .map(|d| (d - self.spec.designation).num_days())
    }
}

/// A finished ecosystem run.
pub struct EcoRun {
    pub seed: u64,
    pub clinics: Vec<ClinicResult>,
    pub resources: Resources,
    /// First day of the resources' series.
    pub origin: NaiveDate,
    /// Last day simulated (the latest clinic's horizon).
    pub end: NaiveDate,
    pub events_handled: u64,
}

/// Room for a clinic's trace: a whole onboarding records about 40 events, so one
/// allocation usually holds them all *(our choice; only the allocation, not the trace,
/// depends on it)*.
const TIMELINE_CAPACITY: usize = 64;

struct Live {
    clinic: Clinic,
    parties: Parties,
    horizon: VirtualTime,
    timeline: Vec<Event>,
    handled: usize,
    waits: Waits,
    reader_gated: bool,
}

/// What happens when a queued item comes up.
#[derive(Debug, Clone, Copy)]
enum Stage {
    /// Deliver the message (`true`: its gate was passed).
    Deliver(bool),
    /// Ask `resource` on this day; then deliver at `at` moved by the days waited, and
    /// move the clinic's trace event `event` (an index into its timeline) as much.
    Book {
        resource: ResourceId,
        event: Option<usize>,
        at: VirtualTime,
    },
}

/// A queued item: from, to, what, and its stage (the clinic is the queue's).
type Item = (ActorId, ActorId, Msg, Stage);

/// Room for pending items per clinic: its plan timers and a few messages *(our
/// choice; only the allocation depends on it)*.
const PENDING_PER_CLINIC: usize = 16;

fn template(eco: &Ecosystem, c: &ClinicSpec) -> Scenario {
    let spec = scenario::ScenarioFile {
        scenario: scenario::Meta {
            name: format!("{} clinic {}", eco.spec.ecosystem.name, c.index),
            description: None,
            rules: eco.spec.ecosystem.rules,
            seed: 0,
            calendar: Default::default(),
        },
        clinic: scenario::ClinicSection {
            kind: c.kind,
            prefecture: c.prefecture.code().to_string(),
            bureau: None,
            designation: c.designation,
            claims: Claims::Online,
            limited_type: false,
            postal_application: false,
            device: None,
            device_cost: None,
            county: 1,
            as_of: None,
        },
        plan: Default::default(),
        actors: eco.spec.actors.clone(),
        faults: Vec::new(),
        expect: Vec::new(),
        live: Default::default(),
    };
    Scenario {
        file: eco.file.clone(),
        spec,
        prefecture: c.prefecture,
        bureau: c.bureau,
        checks: Vec::new(),
        published: None,
    }
}

/// What a clinic's actors are built from, shared by clinics with the same
/// designation, bureau and kind.
struct PreparedKey {
    schedule: Schedule,
    setup: ClinicSetup,
    bureau_calendar: BusinessCalendar,
}

/// Run the ecosystem with master seed `seed`.
pub fn run(eco: &Ecosystem, seed: u64) -> EcoRun {
    let specs = population::draw(eco, seed);
    let s = &eco.spec;
    // Actors' parameters per (maker, carrier): the maker's model and shipping, the
    // carrier's service and lead.
    let mut actors: Vec<Vec<Actors>> = Vec::new();
    for m in &s.reader_makers {
        let mut row = Vec::new();
        for c in &s.carriers {
            let mut a = s.actors.clone();
            a.reader_vendor.model = m.model;
            a.reader_vendor.lead = Some(m.shipping.clone().unwrap_or_else(default_shipping));
            a.carrier.service = c.service.clone().unwrap_or_else(default_service);
            if let Some(l) = c.line {
                a.carrier.line = l;
            }
            a.carrier.lead = c.lead.clone().unwrap_or_else(default_line_lead);
            row.push(a);
        }
        actors.push(row);
    }
    let cal = BusinessCalendar::standard();
    let no_faults = Faults::new(Vec::new());
    let mut cache: std::collections::BTreeMap<(NaiveDate, u8, u8), Result<PreparedKey, String>> =
        std::collections::BTreeMap::new();
    let kind_key = |k: ClinicKind| match k {
        ClinicKind::Medical => 0u8,
        ClinicKind::Dental => 1,
        ClinicKind::Pharmacy => 2,
        ClinicKind::MedicalDental => 3,
    };
    let mut lives: Vec<Option<Live>> = Vec::with_capacity(specs.len());
    let mut refused: Vec<Option<String>> = Vec::with_capacity(specs.len());
    let mut planned: Vec<Option<NaiveDate>> = Vec::with_capacity(specs.len());
    let mut origin = specs
        .iter()
        .map(|c| c.designation)
        .min()
        .expect("at least one clinic");
    let mut end = origin;
    for c in &specs {
        let key = (c.designation, c.region() as u8, kind_key(c.kind));
        let prepared = cache.entry(key).or_insert_with(|| {
            let sc = template(eco, c);
            runner::prepare(&sc).map(|p| PreparedKey {
                schedule: p.schedule.clone(),
                setup: p.setup.clone(),
                bureau_calendar: p.bureau_calendar.clone(),
            })
        });
        let p = match prepared {
            Ok(p) => &*p,
            Err(reason) => {
                lives.push(None);
                refused.push(Some(reason.clone()));
                planned.push(None);
                continue;
            }
        };
        let mut setup = p.setup.clone();
        let order = cal
            .open_on_or_after(setup.plan.installation - chrono::Duration::days(c.order_margin))
            .unwrap_or(setup.plan.reader_order);
        setup.plan.reader_order = order;
        setup.plan.network_order = order;
        setup.plan.system_vendor_order = order;
        for d in [order, setup.plan.reception_request]
            .into_iter()
            .chain(setup.plan.temporary_code_request)
        {
            origin = origin.min(d);
        }
        planned.push(Some(setup.plan.installation));
        let cseed = derive_seed_indexed(seed, "clinic-", u64::from(c.index));
        let fees = setup.fees();
        let full = setup.full_installation();
        let parties = Parties::build(
            PartySetup {
                schedule: &p.schedule,
                bureau_calendar: p.bureau_calendar.clone(),
                params: &actors[c.maker][c.carrier],
                faults: &no_faults,
                prefecture: c.prefecture,
                county: 1,
                fees,
                full_installation: full,
            },
            cseed,
        );
        let clinic = Clinic::new(
            setup,
            no_faults.clone(),
            crate::engine::rng_for(cseed, "clinic"),
        );
        let horizon_day = c
            .designation
            .checked_add_months(chrono::Months::new(HORIZON_MONTHS))
            .unwrap_or(c.designation);
        end = end.max(horizon_day);
        lives.push(Some(Live {
            clinic,
            parties,
            horizon: VirtualTime::start_of(horizon_day),
            timeline: Vec::with_capacity(TIMELINE_CAPACITY),
            handled: 0,
            waits: Waits::default(),
            reader_gated: false,
        }));
        refused.push(None);
    }
    let rules = s.ecosystem.rules.rules();
    let free_reader = rules.implementing_body_supplies_reader();
    let mut res = Resources::build(eco, origin);
    let mut queue = ClinicQueue::new(specs.len() * PENDING_PER_CLINIC);
    let mut out = Outbox::new(false);
    let mut now_at = VirtualTime(i64::MIN);
    // Start every clinic, in index order.
    for (i, live) in lives.iter_mut().enumerate() {
        if let Some(l) = live {
            l.clinic.start(&mut out);
            drain(
                &mut out,
                i as u32,
                l,
                &specs[i],
                &mut queue,
                now_at,
                free_reader,
            );
        }
    }
    let mut total: u64 = 0;
    while let Some((now, ci, (from, to, msg, stage))) = queue.pop() {
        let i = ci as usize;
        let Some(l) = lives[i].as_mut() else { continue };
        if now > l.horizon || l.handled >= EVENT_LIMIT {
            continue;
        }
        now_at = now;
        let c = &specs[i];
        let passed = match stage {
            Stage::Book {
                resource,
                event,
                at,
            } => {
                let day = now.date();
                let served = res.serve(resource, day);
                let waited = (served - day).num_days();
                match resource {
                    ResourceId::Answers(_) => l.waits.answer += waited,
                    ResourceId::Accounts => l.waits.account += waited,
                    ResourceId::Lines(..) => l.waits.line += waited,
                    _ => l.waits.reader += waited,
                }
                if let Some(e) = event.and_then(|e| l.timeline.get_mut(e)) {
                    e.at = e.at.plus_days(waited);
                }
                queue.push(
                    ci,
                    at.plus_days(waited).max(now),
                    (from, to, msg, Stage::Deliver(true)),
                );
                continue;
            }
            Stage::Deliver(passed) => passed,
        };
        if !passed {
            let gate = match (&msg, to) {
                (Msg::ReaderOrder { replacement: false }, ActorId::ReaderVendor)
                    if !l.reader_gated =>
                {
                    Some(ResourceId::Reader(c.maker))
                }
                (Msg::InstallationDay, ActorId::SystemVendor) => {
                    Some(ResourceId::Crews(c.vendor, c.region()))
                }
                _ => None,
            };
            if let Some(id) = gate {
                let day = now.date();
                let served = res.serve(id, day);
                let waited = (served - day).num_days();
                match id {
                    ResourceId::Reader(_) => {
                        l.reader_gated = true;
                        l.waits.reader += waited;
                    }
                    _ => {
                        l.waits.crews += waited;
                        l.waits.visits += 1;
                    }
                }
                if waited > 0 {
                    let (h, m) = now.hour_minute();
                    queue.push(
                        ci,
                        VirtualTime::at(served, h, m),
                        (from, to, msg, Stage::Deliver(true)),
                    );
                    continue;
                }
            }
        }
        l.handled += 1;
        total += 1;
        let actor: &mut dyn Actor = match to {
            ActorId::Clinic => &mut l.clinic,
            ActorId::Bureau => &mut l.parties.bureau,
            ActorId::ImplementingBody => &mut l.parties.implementing_body,
            ActorId::ReaderVendor => &mut l.parties.reader_vendor,
            ActorId::Carrier => &mut l.parties.carrier,
            ActorId::SystemVendor => &mut l.parties.system_vendor,
        };
        actor.handle(now, from, msg, &mut out);
        drain(&mut out, ci, l, c, &mut queue, now_at, free_reader);
    }
    // The outcome reads only the clinic's claims, limited type, transitional notice
    // (the same for every clinic of the run) and designation: one template, its
    // designation set per clinic.
    let mut judged = template(eco, &specs[0]);
    let clinics = specs
        .into_iter()
        .zip(lives.iter_mut())
        .zip(refused)
        .zip(planned)
        .map(|(((spec, live), refused), planned)| {
            finish(&mut judged, spec, live.as_mut(), refused, planned)
        })
        .collect();
    EcoRun {
        seed,
        clinics,
        resources: res,
        origin,
        end,
        events_handled: total,
    }
}

/// Queue what one actor sent; a message with a gate asked when sent is queued as a
/// request to its resource at the start of the day it is for.
fn drain(
    out: &mut Outbox,
    ci: u32,
    l: &mut Live,
    c: &ClinicSpec,
    queue: &mut ClinicQueue<Item>,
    now_at: VirtualTime,
    free_reader: bool,
) {
    for Envelope { at, from, to, msg } in out.sends.drain(..) {
        // The resource, and the sender's trace event that dates the request.
        let gate = match (&msg, from) {
            (Msg::ReceptionAnswer { .. }, ActorId::Bureau) => Some((
                ResourceId::Answers(c.region()),
                EventKind::BureauAnswerDispatched,
            )),
            (Msg::AccountReady { .. }, ActorId::ImplementingBody) => {
                Some((ResourceId::Accounts, EventKind::AccountReady))
            }
            (Msg::LineReady, ActorId::Carrier) => Some((
                ResourceId::Lines(c.carrier, c.region()),
                EventKind::LineReady,
            )),
            (Msg::ReaderDelivered { .. }, ActorId::ImplementingBody)
                if free_reader && !l.reader_gated =>
            {
                l.reader_gated = true;
                Some((ResourceId::Reader(c.maker), EventKind::ReaderShipped))
            }
            _ => None,
        };
        let stage = match gate {
            Some((resource, kind)) => {
                // The event this actor just recorded for the message (the last of its kind).
                let pos = out
                    .events
                    .iter()
                    .rposition(|e| e.actor == from && e.kind == kind);
                let day = pos.map_or(at.date(), |p| out.events[p].at.date());
                let stage = Stage::Book {
                    resource,
                    event: pos.map(|p| l.timeline.len() + p),
                    at,
                };
                queue.push(
                    ci,
                    VirtualTime::start_of(day).max(now_at),
                    (from, to, msg, stage),
                );
                continue;
            }
            None => Stage::Deliver(false),
        };
        queue.push(ci, at.max(now_at), (from, to, msg, stage));
    }
    l.timeline.append(&mut out.events);
}

fn finish(
    judged: &mut Scenario,
    spec: ClinicSpec,
    live: Option<&mut Live>,
    refused: Option<String>,
    planned: Option<NaiveDate>,
) -> ClinicResult {
    let Some(l) = live else {
        return ClinicResult {
            spec,
            outcome: Outcome::Refused,
            refused,
            online_start: None,
            installation_planned: planned,
            reader_ordered: None,
            reader_delivered: None,
            answer_received: None,
            account_ready: None,
            line_ready: None,
            installation_done: None,
            waits: Waits::default(),
            events_handled: 0,
            broken: Vec::new(),
        };
    };
    let horizon = l.horizon;
    l.timeline.retain(|e| e.at <= horizon);
    sort_by_time(&mut l.timeline);
    judged.spec.clinic.designation = spec.designation;
    let outcome = runner::judge_outcome(judged, &l.timeline);
    let first = |k: EventKind, who: Option<ActorId>| {
        l.timeline
            .iter()
            .find(|e| e.kind == k && who.is_none_or(|w| e.actor == w))
            .map(|e| e.at.date())
    };
    let mut broken = crate::invariants::check(&l.timeline);
    if l.handled >= EVENT_LIMIT {
        broken.push(format!("event limit {EVENT_LIMIT} reached"));
    }
    ClinicResult {
        outcome,
        refused: None,
        online_start: first(EventKind::OnlineStart, None),
        installation_planned: planned,
        reader_ordered: first(EventKind::ReaderOrdered, None)
            .or(first(EventKind::ReaderApplied, None)),
        reader_delivered: first(EventKind::ReaderDelivered, None),
        answer_received: first(EventKind::BureauAnswerReceived, None),
        account_ready: first(EventKind::AccountReady, None),
        line_ready: first(EventKind::LineReady, None),
        installation_done: first(EventKind::InstallationDone, None),
        waits: std::mem::take(&mut l.waits),
        events_handled: l.handled,
        broken,
        spec,
    }
}

/// Longest trace sorted by insertion (longer ones: the standard library's stable
/// sort) *(our choice)*.
const INSERTION_SORT_MAX: usize = 128;

/// Sorts a trace by time, equal times kept in their order: the order of
/// `sort_by_key(|e| e.at)` (a proptest holds them equal). A clinic's trace comes
/// almost in time order (only the events a gate moved, or dated ahead, are out of
/// place), so an insertion sort moves little.
fn sort_by_time(events: &mut [Event]) {
    if events.len() > INSERTION_SORT_MAX {
        events.sort_by_key(|e| e.at);
        return;
    }
    for i in 1..events.len() {
        let at = events[i].at;
        let mut j = i;
        while j > 0 && events[j - 1].at > at {
            j -= 1;
        }
        // Moved down by swaps: it moves only a few places (cheaper than a rotation).
        for k in (j..i).rev() {
            events.swap(k, k + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The insertion sort orders a trace as the standard library's stable sort:
        /// short traces (insertion) and long ones, almost sorted or not.
        #[test]
        fn sort_by_time_is_the_stable_sort(
            times in prop::collection::vec(0i64..40, 0..200),
            swaps in prop::collection::vec((0usize..200, 0usize..200), 0..5),
        ) {
            let mut times = times;
            times.sort_unstable();
            for (a, b) in swaps {
                if a < times.len() && b < times.len() {
                    times.swap(a, b);
                }
            }
            let events: Vec<Event> = times
                .iter()
                .enumerate()
                .map(|(k, &t)| Event {
                    at: VirtualTime(t * 60),
                    actor: ActorId::Clinic,
                    kind: EventKind::LineReady,
                    why: ["a", "b", "c"][k % 3],
                    detail: Some(k.to_string()),
                })
                .collect();
            let mut ours = events.clone();
            sort_by_time(&mut ours);
            let mut std = events.clone();
            std.sort_by_key(|e| e.at);
            prop_assert_eq!(ours, std);
            // Shuffled, too.
            let mut rev = events.clone();
            rev.reverse();
            let mut ours = rev.clone();
            sort_by_time(&mut ours);
            rev.sort_by_key(|e| e.at);
            prop_assert_eq!(ours, rev);
        }
    }
}
