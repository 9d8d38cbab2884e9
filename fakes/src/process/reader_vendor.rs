//! 顔認証付きカードリーダーメーカー: sells face-auth readers with a 3–4 month lead
//! time (r2024). Under r2021 the implementing body shipped free readers instead (see
//! [`super::implementing_body`]).

use rand_chacha::ChaCha8Rng;

use super::fault::{FaultKind, Faults};
use super::params::{ReaderModel, ReaderVendorParams};
use super::{Actor, ActorId, EventKind, Msg, Outbox, MAIL_ARRIVES};
use crate::time::VirtualTime;

const ME: ActorId = ActorId::ReaderVendor;

pub struct ReaderVendor {
    params: ReaderVendorParams,
    faults: Faults,
    rng: ChaCha8Rng,
}

impl ReaderVendor {
    pub fn new(params: ReaderVendorParams, faults: Faults, rng: ChaCha8Rng) -> Self {
        ReaderVendor {
            params,
            faults,
            rng,
        }
    }
}

impl Actor for ReaderVendor {
    fn id(&self) -> ActorId {
        ME
    }

    fn handle(&mut self, now: VirtualTime, from: ActorId, msg: Msg, out: &mut Outbox) {
        let Msg::ReaderOrder { replacement } = msg else {
            out.refuse(now, ME, from, &msg);
            return;
        };
        let today = now.date();
        let mut days = if replacement {
            self.params.replacement.sample_days(&mut self.rng)
        } else {
            let lead = self
                .params
                .lead
                .clone()
                .unwrap_or_else(|| self.params.model.default_lead());
            lead.sample_days(&mut self.rng)
        };
        let mut why = if replacement {
            "replacement for a reader dead on arrival"
        } else if self.params.model == ReaderModel::Generic {
            "generic card reader (資格確認限定型): delivered within days"
        } else {
            "vendor lead time (3–4 months for face-auth readers)"
        };
        if !replacement {
            if let Some(f) = self
                .faults
                .fires(FaultKind::ReaderDelay, today, None, &mut self.rng)
            {
                days += f.days.unwrap_or(30);
                why = "fault reader-delay: the vendor's delivery slips";
            }
        }
        let working = replacement
            || self
                .faults
                .fires(FaultKind::ReaderDoa, today, None, &mut self.rng)
                .is_none();
        let at = VirtualTime::at(
            today + chrono::Duration::days(i64::from(days)),
            MAIL_ARRIVES,
            0,
        );
        out.event(at, ME, EventKind::ReaderShipped, why, || {
            format!("{days} days after the order")
        });
        out.send(at, ME, ActorId::Clinic, Msg::ReaderDelivered { working });
    }
}
