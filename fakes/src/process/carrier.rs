//! ネットワーク事業者: provides the line. Only services on the connectable list reach
//! the implementing body; outages are faults with a window or a step.

use rand_chacha::ChaCha8Rng;

use super::fault::{FaultKind, FaultStep, Faults};
use super::params::CarrierParams;
use super::{
    Actor, ActorId, CheckPurpose, ConnectivityFailure, EventKind, Msg, Outbox, OFFICE_OPENS,
};
use crate::calendar::BusinessCalendar;
use crate::time::VirtualTime;

const ME: ActorId = ActorId::Carrier;

pub struct Carrier {
    params: CarrierParams,
    faults: Faults,
    rng: ChaCha8Rng,
    cal: BusinessCalendar,
    connectable: bool,
}

impl Carrier {
    /// This actor on another calendar (a counterfactual, `[scenario] calendar`).
    pub fn with_calendar(mut self, cal: BusinessCalendar) -> Self {
        self.cal = cal;
        self
    }

    pub fn new(params: CarrierParams, faults: Faults, rng: ChaCha8Rng) -> Self {
        let connectable = params.connectable();
        Carrier {
            params,
            faults,
            rng,
            cal: BusinessCalendar::standard(),
            connectable,
        }
    }
}

impl Actor for Carrier {
    fn id(&self) -> ActorId {
        ME
    }

    fn handle(&mut self, now: VirtualTime, from: ActorId, msg: Msg, out: &mut Outbox) {
        let today = now.date();
        match msg {
            Msg::LineOrder => {
                if !self.connectable
                    || self
                        .faults
                        .fires(FaultKind::LineNotConnectable, today, None, &mut self.rng)
                        .is_some()
                {
                    self.connectable = false;
                    let at = super::business_days_later(&self.cal, today, 2, OFFICE_OPENS);
                    let service = self.params.service.clone();
                    out.event(
                        at,
                        ME,
                        EventKind::LineRejected,
                        "the line is not on the connectable list (接続可能回線一覧)",
                        || service,
                    );
                    out.send(at, ME, ActorId::Clinic, Msg::LineRejected);
                    return;
                }
                let (lead, why) = if self.params.existing_line {
                    (
                        &self.params.extra_contract_lead,
                        "既設回線: the existing line needs an extra contract with an IPsec+IKE provider (guide: 上記4業者との追加契約が別途必要)",
                    )
                } else {
                    (&self.params.lead, "carrier contract lead time")
                };
                let days = lead.sample_days(&mut self.rng);
                let at = VirtualTime::at(
                    today + chrono::Duration::days(i64::from(days)),
                    OFFICE_OPENS,
                    0,
                );
                out.event(at, ME, EventKind::LineReady, why, || {
                    format!("{days} days after the order")
                });
                out.send(at, ME, ActorId::Clinic, Msg::LineReady);
            }
            Msg::ConnectivityCheck { purpose } => {
                let step = match purpose {
                    CheckPurpose::Installation => FaultStep::Installation,
                    CheckPurpose::GoLive => FaultStep::GoLive,
                };
                let failure = if !self.connectable {
                    Some(ConnectivityFailure::LineNotConnectable)
                } else if self
                    .faults
                    .fires(FaultKind::CarrierOutage, today, Some(step), &mut self.rng)
                    .is_some()
                {
                    Some(ConnectivityFailure::CarrierOutage)
                } else {
                    None
                };
                match failure {
                    Some(f) => out.send(
                        now.plus_minutes(1),
                        ME,
                        from,
                        Msg::ConnectivityResult {
                            purpose,
                            failure: Some(f),
                        },
                    ),
                    // The line is up: the check goes through to the implementing body,
                    // which answers the one who asked.
                    None => out.send(
                        now.plus_minutes(1),
                        from,
                        ActorId::ImplementingBody,
                        Msg::ConnectivityCheck { purpose },
                    ),
                }
            }
            other => out.refuse(now, ME, from, &other),
        }
    }
}
