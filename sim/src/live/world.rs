//! The live driver: the very actors of [`fakes::process`] that timeline mode runs,
//! behind a mutex, fed by HTTP handlers and by the virtual clock.
//!
//! The system under test plays the clinic. Its HTTP calls become the clinic's
//! messages ([`Msg::ReceptionRequest`], [`Msg::ReceptionNumberSubmission`], …),
//! handed to the addressed actor at the current virtual instant; what the actors send
//! goes into the same [`Driver`] as in [`crate::runner`], and is delivered when the
//! clock reaches its time. Messages to [`ActorId::Clinic`] land in an inbox the
//! client reads. Every deadline (the 10th, the 15th, business days) is therefore the
//! actors' own rule, not a copy.
//!
//! The portal's bookkeeping that the sans-IO actors do not model (which reception
//! number was submitted for which fee table, whether the account is usable yet, the
//! real client certificate behind a certificate notice, the operation start date)
//! lives here, keyed off the messages the actors deliver.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{json, Value};

use fakes::calendar::BusinessCalendar;
use fakes::codes::{FeeTable, InstitutionCode, Prefecture, ReceptionNumber};
use fakes::process::carrier::Carrier;
use fakes::process::fault::{FaultKind, Faults};
use fakes::process::params::{CarrierParams, LineType};
use fakes::process::{codec, ActorId, Event, EventKind, Msg};
use fakes::schedule::{self, MilestoneId, RuleSet, Schedule, ScheduleRequest};
use fakes::time::VirtualTime;

use super::clock::VirtualClock;
use super::environment::{Environment, Unavailable};
use super::pki::LivePki;
use super::revocations::TerminalRevocations;
use super::verdict::{self, ClinicObserver, Verdict};
use crate::driver::{Delivery, Driver, Stop};
use crate::engine::rng_for;
use crate::runner::{Parties, PartySetup};
use crate::scenario::{ClinicPlayer, Scenario};

/// Most messages handled in one delivery round; reaching it is logged, not hidden.
pub const DELIVERY_LIMIT: usize = 100_000;
/// The trace keeps at most this many events (oldest dropped first).
pub const TRACE_LIMIT: usize = 100_000;
/// The inbox keeps at most this many messages (oldest dropped first).
pub const INBOX_LIMIT: usize = 10_000;

/// How a live world is set up.
#[derive(Debug, Clone)]
pub struct WorldConfig {
    pub rules: RuleSet,
    pub designation: NaiveDate,
    pub seed: u64,
    pub prefecture: Prefecture,
    pub county: u8,
}

/// One message delivered to the clinic (the system under test).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InboxItem {
    /// Its place in the inbox (`GET /inbox?since=` takes it).
    pub seq: u64,
    /// When it arrived, like `2025-04-15T09:00`.
    #[schema(value_type = String)]
    pub at: VirtualTime,
    /// Who sent it (`bureau`, `implementing-body`, `reader-vendor`, `carrier`,
    /// `system-vendor`).
    #[schema(value_type = String)]
    pub from: ActorId,
    /// The message's kind (the codec's, e.g. `reception-answer`).
    pub kind: &'static str,
    /// The message's fields (and for a certificate notice, the certificate itself).
    #[schema(value_type = Object)]
    pub body: Value,
}

/// A client certificate the portal issued.
#[derive(Debug, Clone, Serialize)]
pub struct PortalCertificate {
    pub institution_code: String,
    pub terminal: String,
    pub fee_table: &'static str,
    pub issued: NaiveDate,
    pub not_after: NaiveDate,
    /// The problem a scenario's `client-certificate` fault wrote into it
    /// ([`super::certificate_fault`]), and from when it is revoked if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<fakes::process::fault::CertProblem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_from: Option<NaiveDate>,
    pub certificate_pem: String,
    pub key_pem: String,
}

/// What the portal knows about the clinic.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PortalState {
    /// Reception numbers submitted, by fee table.
    pub reception_numbers: BTreeMap<&'static str, String>,
    /// When the account became usable, and the month it is registered for.
    pub account_ready_at: Option<VirtualTime>,
    pub registered_for: Option<NaiveDate>,
    pub usage_application: Option<Value>,
    pub certificates: Vec<PortalCertificate>,
    pub operation_start: Option<NaiveDate>,
    #[serde(skip)]
    pending_terminals: BTreeMap<&'static str, Vec<String>>,
}

/// A clinic request refused by the portal's own state (HTTP 409).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub field: Option<&'static str>,
    pub message: String,
}

struct State {
    /// The parties other than the clinic, their queue, clamp and trace: the one
    /// driver ([`crate::driver`]). The clinic is away: the system under test.
    driver: Driver,
    carrier_params: CarrierParams,
    faults: Faults,
    seed: u64,
    inbox: Vec<InboxItem>,
    next_seq: u64,
    portal: PortalState,
    /// Missing or invalid onboarding-plan fields of the last incomplete application,
    /// named in the correction request when it arrives.
    correction_fields: Vec<String>,
    /// The clinic's last line order, for the carrier proxy.
    line: Option<(String, LineType, bool)>,
    /// When the system under test plays a scenario's clinic: its events, from what it
    /// sends and receives ([`ClinicObserver`]).
    observer: Option<ClinicObserver>,
    /// The scenario's `card` faults as the simulated reader meets them
    /// ([`World::card_fault_at_reader`]), their own random stream, and whether one
    /// was already spent on a patient.
    reader_faults: Faults,
    reader_rng: rand_chacha::ChaCha8Rng,
    card_fault_spent: bool,
}

/// The actors of one live run.
pub struct World {
    clock: Arc<VirtualClock>,
    pki: Arc<LivePki>,
    schedule: Schedule,
    state: Mutex<State>,
    /// The scenario judged by [`World::verdict`] (`onsim serve --scenario`).
    judged: Option<(Scenario, ClinicPlayer)>,
    /// The scenario's environment faults, applied where requests are delivered
    /// ([`super::environment`]); outside the lock.
    environment: Environment,
    /// Where a certificate a scenario's fault says is revoked gets revoked (set by
    /// the services once they run: [`World::attach_revocations`]).
    revocations: OnceLock<Arc<TerminalRevocations>>,
    /// The code a portal certificate with an `other-institution` fault is bound to
    /// (the clinic's `other-institution.crt` code: [`World::with_other_institution`]).
    other_institution: InstitutionCode,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("designation", &self.schedule.designation)
            .finish_non_exhaustive()
    }
}

/// Parse a fee table as clients write it (the codec's rule).
pub use fakes::process::codec::parse_fee;

impl World {
    /// Build the actors for `cfg`, the way [`crate::runner`] builds them for a scenario
    /// with no faults and default parameters.
    pub fn new(
        cfg: &WorldConfig,
        clock: Arc<VirtualClock>,
        pki: Arc<LivePki>,
    ) -> Result<Self, String> {
        let mut req = ScheduleRequest::new(cfg.designation, cfg.rules);
        req.allow_projected = true;
        let schedule = schedule::compute(&req, None).map_err(|e| e.to_string())?;
        let faults = Faults::new(Vec::new());
        let params = crate::scenario::Actors::default();
        let parties = Parties::build(
            PartySetup {
                schedule: &schedule,
                bureau_calendar: BusinessCalendar::standard(),
                params: &params,
                faults: &faults,
                prefecture: cfg.prefecture,
                county: cfg.county,
                fees: vec![FeeTable::Medical],
                full_installation: true,
            },
            cfg.seed,
        );
        Ok(World::assemble(
            clock,
            pki,
            schedule,
            parties,
            params.carrier,
            faults,
            cfg.seed,
        ))
    }

    /// The world around built actors; everything else starts empty.
    fn assemble(
        clock: Arc<VirtualClock>,
        pki: Arc<LivePki>,
        schedule: Schedule,
        parties: Parties,
        carrier_params: CarrierParams,
        faults: Faults,
        seed: u64,
    ) -> Self {
        let now = clock.now();
        let environment = Environment::of(faults.list());
        let reader_faults = Faults::new(
            faults
                .list()
                .iter()
                .filter(|f| f.kind == FaultKind::Card)
                .cloned()
                .collect(),
        );
        World {
            environment,
            revocations: OnceLock::new(),
            other_institution: pki.other_institution,
            clock,
            pki,
            schedule,
            state: Mutex::new(State {
                driver: Driver::new(None, Some(parties), true)
                    .starting_at(now)
                    .logging(),
                carrier_params,
                faults,
                seed,
                inbox: Vec::new(),
                next_seq: 1,
                portal: PortalState::default(),
                correction_fields: Vec::new(),
                line: None,
                observer: None,
                reader_faults,
                reader_rng: rng_for(seed, "live-reader"),
                card_fault_spent: false,
            }),
            judged: None,
        }
    }

    /// The world of `onsim serve --scenario`: [`World::from_prepared`], judged by the
    /// scenario's `[[expect]]` ([`World::verdict`]). Its `[live] clinic` says who
    /// plays the clinic: the system under test (observed, [`ClinicObserver`]) or
    /// onsim's own clinic, started here on the scenario's plan.
    pub fn for_scenario(
        p: &crate::runner::Prepared<'_>,
        seed: u64,
        clock: Arc<VirtualClock>,
        pki: Arc<LivePki>,
    ) -> Self {
        let player = p.scenario.spec.live.clinic;
        let mut w = World::from_prepared(p, seed, clock, pki);
        {
            let s = w.state.get_mut().unwrap_or_else(|e| e.into_inner());
            match player {
                ClinicPlayer::SystemUnderTest => {
                    let o = ClinicObserver::new(&p.setup);
                    s.driver.record(o.start());
                    s.observer = Some(o);
                }
                ClinicPlayer::Onsim => {
                    s.driver.clinic = Some(p.clinic(seed));
                    s.driver.start_clinic();
                }
            }
        }
        w.judged = Some((p.scenario.clone(), player));
        w
    }

    /// Does the system under test play the clinic (everything but `[live] clinic =
    /// "onsim"`)? When onsim does, the clinic's service routes refuse with 409.
    pub fn system_under_test_plays_clinic(&self) -> bool {
        !matches!(&self.judged, Some((_, ClinicPlayer::Onsim)))
    }

    /// The scenario's verdict at the current virtual instant, when the world runs
    /// one (`GET /verdict`; [`super::verdict`]).
    pub fn verdict(&self, with_timeline: bool) -> Option<Verdict> {
        let (scenario, player) = self.judged.as_ref()?;
        let (trace, _) = self.trace();
        Some(verdict::judge(
            scenario,
            trace,
            self.clock.now(),
            *player,
            with_timeline,
        ))
    }

    /// Is a carrier outage with a window (`[[faults]] kind = "carrier-outage"` with
    /// `at`/`until`, or with neither) in force today? Then the carrier proxy refuses
    /// every connection, as the carrier actor fails every connectivity check. A
    /// step-bound outage (`on = "..."`) or one with a `probability` is the actor's
    /// alone: it happens at the step, drawn from the actor's random stream
    /// ([`super::environment`]).
    pub fn carrier_outage_now(&self) -> bool {
        self.environment
            .carrier_outage(self.clock.now().date())
            .is_some()
    }

    /// Is the implementing body down today (`implementing-body-down` with a window)?
    /// Then the eligibility API answers 503 naming the fault
    /// ([`super::environment`]), while its actor's work waits and its connectivity
    /// checks fail.
    pub fn implementing_body_down_now(&self) -> Option<Unavailable> {
        self.environment
            .implementing_body_down(self.clock.now().date())
    }

    /// The problem a scenario's `card` fault gives the card presented at the
    /// simulated reader now (`POST /reader/present` without an `outcome`), when the
    /// system under test plays the clinic. As in timeline mode the fault is the first
    /// patient's: with `on = "go-live"` it meets the first presentation on or after
    /// the day the clinic went online; with a window, the first presentation inside
    /// it; a `probability` is drawn from the reader's own stream (`live-reader`).
    /// Once one presentation got it, later ones are sound. When onsim plays the
    /// clinic, its own first patient meets the fault and the reader never does.
    pub fn card_fault_at_reader(&self) -> Option<fakes::process::fault::CardProblem> {
        if !self.system_under_test_plays_clinic() {
            return None;
        }
        let now = self.clock.now();
        let today = now.date();
        let mut s = self.lock();
        self.run_until(&mut s, now);
        if s.card_fault_spent || s.reader_faults.is_empty() {
            return None;
        }
        let online = s
            .driver
            .trace()
            .0
            .iter()
            .filter(|e| e.at <= now)
            .filter(|e| matches!(e.kind, EventKind::OnlineStart | EventKind::LimitedTypeReady))
            .map(|e| e.at.date())
            .min();
        let step = online
            .filter(|d| today >= *d)
            .map(|_| fakes::process::fault::FaultStep::GoLive);
        let State {
            reader_faults,
            reader_rng,
            ..
        } = &mut *s;
        let problem = reader_faults
            .fires(FaultKind::Card, today, step, reader_rng)?
            .card?;
        s.card_fault_spent = true;
        tracing::info!(?problem, %today, "the scenario's card fault meets the patient at the reader");
        Some(problem)
    }

    /// A patient presented at the simulated reader now, whose card had `problem`:
    /// when the system under test plays the clinic and is online, the first such
    /// patient is the clinic's first patient, and its events
    /// ([`fakes::process::first_patient`]) go into the trace the verdict judges.
    pub fn reader_presented(&self, problem: Option<fakes::process::fault::CardProblem>) {
        let now = self.clock.now();
        let mut s = self.lock();
        self.run_until(&mut s, now);
        if let Some(o) = s.observer.as_mut() {
            let events = o.first_patient(now, problem);
            s.driver.record(events);
        }
    }

    /// The world of one clinic of several (issue 17 item 2): a portal certificate
    /// with an `other-institution` fault is bound to `code` (that clinic's
    /// `other-institution.crt` code) instead of the run's first clinic's.
    pub fn with_other_institution(mut self, code: InstitutionCode) -> Self {
        self.other_institution = code;
        self
    }

    /// Did the clinic submit `code` as a reception number on the portal (its
    /// portal certificates are bound to it)?
    pub fn submitted(&self, code: InstitutionCode) -> bool {
        let code = code.to_string();
        self.lock()
            .portal
            .reception_numbers
            .values()
            .any(|n| *n == code)
    }

    /// Revoke through `r` the certificates a scenario's `client-certificate` fault
    /// says are revoked (the services call it once, at start).
    pub fn attach_revocations(&self, r: Arc<TerminalRevocations>) {
        let _ = self.revocations.set(r);
    }

    /// The last day judged: the horizon after the designation
    /// ([`crate::runner::horizon_after`], the scenario's when there is one).
    fn horizon_end(&self) -> NaiveDate {
        crate::runner::horizon_after(self.schedule.designation).date()
    }

    /// Build the actors of a prepared scenario exactly as [`crate::runner`] does
    /// (its schedule, bureau calendar, actor parameters and faults, seeds from
    /// `seed`): `onsim run --live`.
    pub fn from_prepared(
        p: &crate::runner::Prepared<'_>,
        seed: u64,
        clock: Arc<VirtualClock>,
        pki: Arc<LivePki>,
    ) -> Self {
        let parties = Parties::build(p.party_setup(), seed);
        let carrier_params = p.scenario.spec.actors.carrier.clone();
        World::assemble(
            clock,
            pki,
            p.schedule.clone(),
            parties,
            carrier_params,
            p.faults.clone(),
            seed,
        )
    }

    /// When the next queued message is due, if any.
    pub fn next_due(&self) -> Option<VirtualTime> {
        self.lock().driver.next_due()
    }

    /// The carrier parameters (service and line type the clinic ordered or will).
    pub fn carrier_params(&self) -> CarrierParams {
        self.lock().carrier_params.clone()
    }

    pub fn clock(&self) -> &Arc<VirtualClock> {
        &self.clock
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Deliver every message due by the clock's current time. Returns how many.
    pub fn tick(&self) -> usize {
        let now = self.clock.now();
        let mut s = self.lock();
        self.run_until(&mut s, now)
    }

    fn run_until(&self, s: &mut State, until: VirtualTime) -> usize {
        let before = s.driver.handled();
        let mut away = Vec::new();
        let stop = s.driver.run(until, DELIVERY_LIMIT, |_, at, from, _, msg| {
            away.push((at, from, msg))
        });
        if stop == Stop::Limit {
            tracing::warn!(
                limit = DELIVERY_LIMIT,
                "delivery limit reached; the rest waits for the next tick"
            );
        }
        // Only the clinic is away; its messages land in the inbox, in delivery order.
        for (at, from, msg) in away {
            self.to_inbox(s, at, from, msg);
        }
        // The clinic's own go-live checks that came due (a system under test plays it).
        if let Some(o) = s.observer.as_mut() {
            let events = o.due(until);
            s.driver.record(events);
        }
        s.driver.trim_trace(TRACE_LIMIT);
        s.driver.handled() - before
    }

    /// A message from the clinic (the system under test) to `to`, at the current
    /// virtual instant. Everything already due is delivered first, and whatever the
    /// message causes at once after.
    pub fn clinic_sends(&self, to: ActorId, msg: Msg) -> VirtualTime {
        let now = self.clock.now();
        let mut s = self.lock();
        self.run_until(&mut s, now);
        s.driver.advance_to(now);
        let at = s.driver.now();
        tracing::info!(%at, %to, kind = codec::kind(&msg), "clinic sends");
        if let Some(o) = s.observer.as_mut() {
            let events = o.sent(at, to, &msg);
            s.driver.record(events);
        }
        if let Delivery::Away { at, from, msg, .. } = s.driver.deliver(at, ActorId::Clinic, to, msg)
        {
            self.to_inbox(&mut s, at, from, msg);
        }
        self.run_until(&mut s, now);
        at
    }

    fn to_inbox(&self, s: &mut State, at: VirtualTime, from: ActorId, msg: Msg) {
        // The message's own fields come from the codec; the world adds what the
        // portal and the offices write beside them.
        let kind = codec::kind(&msg);
        let mut body = codec::body(&msg);
        if let Some(o) = s.observer.as_mut() {
            let events = o.received(at, from, &msg);
            s.driver.record(events);
        }
        match &msg {
            Msg::RequestReturned { .. } => {
                body.insert(
                    "reason".into(),
                    json!("received after the bureau's deadline (返戻)"),
                );
            }
            Msg::CorrectionRequest => {
                body.insert(
                    "fields".into(),
                    json!(std::mem::take(&mut s.correction_fields)),
                );
            }
            Msg::AccountReady { registered_for } => {
                s.portal.account_ready_at.get_or_insert(at);
                s.portal.registered_for = Some(*registered_for);
            }
            Msg::CertificateNotice { fee, .. } => {
                let cert = self.issue_certificate(s, *fee, at.date());
                body.insert("certificate".into(), cert);
            }
            Msg::LineRejected => {
                body.insert(
                    "reason".into(),
                    json!("the line is not on the connectable list (接続可能回線一覧)"),
                );
            }
            Msg::ConnectivityResult { failure, .. } => {
                body.insert("ok".into(), json!(failure.is_none()));
            }
            _ => {}
        }
        let body = Value::Object(body);
        let seq = s.next_seq;
        s.next_seq += 1;
        tracing::info!(%at, %from, kind, seq, "clinic inbox");
        s.inbox.push(InboxItem {
            seq,
            at,
            from,
            kind,
            body,
        });
        if s.inbox.len() > INBOX_LIMIT {
            let excess = s.inbox.len() - INBOX_LIMIT;
            s.inbox.drain(..excess);
        }
    }

    fn issue_certificate(&self, s: &mut State, fee: FeeTable, today: NaiveDate) -> Value {
        let key = codec::fee_name(fee);
        let Some(number) = s.portal.reception_numbers.get(key).cloned() else {
            return json!({"error": "no reception number was submitted for this fee table"});
        };
        let Ok(code) = number.parse::<InstitutionCode>() else {
            return json!({"error": format!("reception number {number} is not an institution code")});
        };
        let terminal = s
            .portal
            .pending_terminals
            .get_mut(key)
            .and_then(|v| (!v.is_empty()).then(|| v.remove(0)))
            .unwrap_or_else(|| "T1".into());
        let shaped = super::certificate_fault::shape(
            s.faults.list(),
            &self.schedule,
            self.horizon_end(),
            &code,
            &self.other_institution,
            &terminal,
            today,
        );
        let issued = match self.pki.issue_client_spec(&shaped.spec) {
            Ok(c) => c,
            Err(e) => return json!({"error": e.to_string()}),
        };
        if let Some(from) = shaped.revoked_from {
            match self.revocations.get() {
                Some(r) => {
                    if let Err(e) = r.revoke(issued.serial.clone(), from, today) {
                        tracing::error!(error = %e, "cannot publish the revocation a scenario fault asks for");
                    }
                }
                None => tracing::warn!(
                    "a scenario fault revokes the portal's certificate, but nothing publishes revocations here"
                ),
            }
        }
        if let Some(problem) = shaped.problem {
            tracing::info!(?problem, revoked_from = ?shaped.revoked_from, not_before = %issued.not_before, not_after = %issued.not_after, "the portal's client certificate carries the scenario's certificate fault");
        }
        let pc = PortalCertificate {
            institution_code: shaped.spec.institution.clone().unwrap_or_default(),
            terminal,
            fee_table: key,
            issued: issued.not_before,
            not_after: issued.not_after,
            fault: shaped.problem,
            revoked_from: shaped.revoked_from,
            certificate_pem: issued.pem(),
            key_pem: issued.key.pem(),
        };
        let v = serde_json::to_value(&pc).unwrap_or(Value::Null);
        s.portal.certificates.push(pc);
        v
    }

    /// Inbox items with `seq > since`, oldest first, up to `limit`.
    pub fn inbox(&self, since: u64, limit: usize) -> Vec<InboxItem> {
        self.tick();
        let s = self.lock();
        s.inbox
            .iter()
            .filter(|i| i.seq > since)
            .take(limit)
            .cloned()
            .collect()
    }

    /// The trace up to the current virtual instant, in time order (events decided
    /// now but dated later stay hidden until their time), and how many were dropped.
    pub fn trace(&self) -> (Vec<Event>, u64) {
        self.tick();
        let now = self.clock.now();
        let s = self.lock();
        let (trace, dropped) = s.driver.trace();
        let mut t: Vec<Event> = trace.iter().filter(|e| e.at <= now).cloned().collect();
        t.sort_by_key(|e| e.at);
        (t, dropped)
    }

    /// Messages waiting for their time.
    pub fn pending(&self) -> usize {
        self.lock().driver.pending()
    }

    pub fn portal(&self) -> PortalState {
        self.tick();
        self.lock().portal.clone()
    }

    /// Portal: submit a reception number (受付番号の登録).
    pub fn submit_reception_number(&self, number: ReceptionNumber) -> VirtualTime {
        {
            let mut s = self.lock();
            let fee = FeeTable::from_digit(fee_digit(&number)).map_or("medical", codec::fee_name);
            s.portal.reception_numbers.insert(fee, number.to_string());
        }
        self.clinic_sends(
            ActorId::ImplementingBody,
            Msg::ReceptionNumberSubmission { number },
        )
    }

    fn account_usable(&self) -> Result<(), Conflict> {
        self.tick();
        let s = self.lock();
        if s.portal.account_ready_at.is_some() {
            return Ok(());
        }
        let message = if s.portal.reception_numbers.is_empty() {
            "no portal account: submit the reception number first".to_string()
        } else {
            "the portal account is not usable yet (about 4 business days after the reception number; watch /inbox for account-ready)".to_string()
        };
        Err(Conflict {
            field: None,
            message,
        })
    }

    /// Portal: usage application (利用申請).
    pub fn usage_application(&self, details: Value) -> Result<VirtualTime, Conflict> {
        self.account_usable()?;
        self.lock().portal.usage_application = Some(details);
        Ok(self.clinic_sends(ActorId::ImplementingBody, Msg::UsageApplication))
    }

    /// Portal: certificate application (電子証明書発行申請) for one terminal.
    pub fn certificate_application(
        &self,
        fee: FeeTable,
        terminal: String,
    ) -> Result<VirtualTime, Conflict> {
        self.account_usable()?;
        {
            let mut s = self.lock();
            // Guide 3-4: "「オンライン資格確認利用申請」完了後に電子証明書の発行画面へ進みます"
            // (the rule the timeline clinic keeps too).
            fakes::process::portal::certificate_allowed(s.portal.usage_application.is_some())
                .map_err(|e| Conflict {
                    field: Some("usage_application"),
                    message: e.to_string(),
                })?;
            let key = codec::fee_name(fee);
            if !s.portal.reception_numbers.contains_key(key) {
                return Err(Conflict {
                    field: Some("fee_table"),
                    message: format!("no reception number was submitted for fee table {key}"),
                });
            }
            s.portal
                .pending_terminals
                .entry(key)
                .or_default()
                .push(terminal);
        }
        Ok(self.clinic_sends(
            ActorId::ImplementingBody,
            Msg::CertificateApplication { fee },
        ))
    }

    /// Portal: the operation start date (運用開始日).
    pub fn set_operation_start(&self, date: NaiveDate) -> Result<(), Conflict> {
        self.account_usable()?;
        self.lock().portal.operation_start = Some(date);
        Ok(())
    }

    /// Bureau: designation application; `missing` lists the onboarding-plan fields
    /// that are absent or invalid (empty: complete).
    pub fn designation_application(&self, missing: Vec<String>) -> VirtualTime {
        let complete = missing.is_empty();
        self.lock().correction_fields = missing;
        self.clinic_sends(ActorId::Bureau, Msg::DesignationApplication { complete })
    }

    /// Carrier: a line order for `service` of type `line`. The carrier actor judges it
    /// against the connectable list; the proxy follows its verdict.
    pub fn line_order(&self, service: String, line: LineType) -> VirtualTime {
        {
            let mut s = self.lock();
            let params = CarrierParams {
                service: service.clone(),
                line,
                ..s.carrier_params.clone()
            };
            let connectable = params.connectable();
            let rng = rng_for(s.seed, "carrier");
            // The carrier's only state is the line it was ordered; a new order is a
            // new contract.
            let carrier = Carrier::new(params.clone(), s.faults.clone(), rng);
            if let Some(p) = s.driver.parties.as_mut() {
                p.carrier = carrier;
            }
            s.carrier_params = params;
            s.line = Some((service, line, connectable));
        }
        self.clinic_sends(ActorId::Carrier, Msg::LineOrder)
    }

    /// The clinic's ordered line and whether it is on the connectable list.
    pub fn line(&self) -> Option<(String, LineType, bool)> {
        self.lock().line.clone()
    }

    /// The milestone dates that matter to a client.
    pub fn deadlines(&self) -> Value {
        let d = |id: MilestoneId| self.schedule.date(id);
        json!({
            "rules": self.schedule.rules.id(),
            "designation": self.schedule.designation,
            "reception_request_deadline": d(MilestoneId::ReceptionRequestDeadline),
            "bureau_answer_dispatch": d(MilestoneId::BureauAnswerDispatch),
            "implementing_body_deadline": d(MilestoneId::ImplementingBodyDeadline),
            "designation_application_deadline": d(MilestoneId::DesignationApplicationDeadline),
            "milestones": self.schedule.milestones.iter().map(|m| json!({"id": m.id, "date": m.date})).collect::<Vec<_>>(),
        })
    }
}

/// The fee-table digit of a reception number (the 3rd digit of the institution code).
fn fee_digit(n: &ReceptionNumber) -> u8 {
    n.to_string()
        .as_bytes()
        .get(2)
        .map(|b| b.wrapping_sub(b'0'))
        .unwrap_or(1)
}

/// A problem with one onboarding-plan field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    pub field: String,
    pub problem: String,
}

/// Check the onboarding plan (導入計画書, 001 別紙2 ①–⑬) with the one rule in
/// `fakes::process::plan::validate_json`, which the timeline's clinic and the
/// `plan-incomplete` fault use too: every missing item by number, wrong values, and
/// unknown fields (so a typo does not pass as a missing field silently).
pub fn validate_plan(plan: &serde_json::Map<String, Value>) -> Vec<FieldProblem> {
    fakes::process::plan::validate_json(plan)
        .into_iter()
        .map(|p| FieldProblem {
            field: p.field,
            problem: p.problem,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> serde_json::Map<String, Value> {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        fakes::process::plan::timeline_plan(
            d("2025-06-02"),
            d("2025-07-01"),
            fakes::process::plan::NetworkKind::IpVpn,
        )
        .to_json_without(&[])
    }

    #[test]
    fn plan_validation_names_each_field() {
        assert!(validate_plan(&plan()).is_empty());
        let mut p = plan();
        p.remove("reader_maker");
        p.insert("network_kind".into(), json!("internet"));
        p.insert("care_start".into(), json!(""));
        p.insert("colour".into(), json!("blue"));
        let problems: Vec<String> = validate_plan(&p).into_iter().map(|f| f.field).collect();
        assert_eq!(
            problems,
            ["reader_maker", "network_kind", "care_start", "colour"]
        );
        // ⑤ contracted needs its month; quoting does not.
        let mut q = plan();
        q.insert("reader".into(), json!({"status": "contracted"}));
        assert_eq!(validate_plan(&q)[0].field, "reader");
        q.insert("reader".into(), json!({"status": "quoting"}));
        assert!(validate_plan(&q).is_empty(), "month only when contracted");
    }
}
