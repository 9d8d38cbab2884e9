//! システム事業者: installs the terminal and router on the planned day if everything
//! is in hand (reader, line, portal account, a certificate notice per code), runs the
//! connectivity check and the operation test (運用テスト); otherwise postpones.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use super::params::SystemVendorParams;
use super::{Actor, ActorId, CheckPurpose, EventKind, Msg, Outbox, Prerequisite, OFFICE_OPENS};
use crate::calendar::BusinessCalendar;
use crate::codes::FeeTable;
use crate::time::VirtualTime;

const ME: ActorId = ActorId::SystemVendor;

pub struct SystemVendor {
    params: SystemVendorParams,
    cal: BusinessCalendar,
    fees: Vec<FeeTable>,
    /// Limited type: no line, no installation visit.
    needs_line: bool,
    have: BTreeSet<PrerequisiteKey>,
    attempts: u32,
    installed: bool,
    planned: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PrerequisiteKey {
    Reader,
    Line,
    Account,
    Certificate(u8),
}

fn key(p: Prerequisite) -> PrerequisiteKey {
    match p {
        Prerequisite::Reader => PrerequisiteKey::Reader,
        Prerequisite::Line => PrerequisiteKey::Line,
        Prerequisite::PortalAccount => PrerequisiteKey::Account,
        Prerequisite::CertificateNotice(f) => PrerequisiteKey::Certificate(f.digit()),
    }
}

impl SystemVendor {
    /// This actor on another calendar (a counterfactual, `[scenario] calendar`).
    pub fn with_calendar(mut self, cal: BusinessCalendar) -> Self {
        self.cal = cal;
        self
    }

    pub fn new(params: SystemVendorParams, fees: Vec<FeeTable>, needs_line: bool) -> Self {
        SystemVendor {
            params,
            cal: BusinessCalendar::standard(),
            fees,
            needs_line,
            have: BTreeSet::new(),
            attempts: 0,
            installed: false,
            planned: None,
        }
    }

    fn missing(&self) -> Vec<&'static str> {
        let mut m = Vec::new();
        if !self.have.contains(&PrerequisiteKey::Reader) {
            m.push("reader");
        }
        if self.needs_line && !self.have.contains(&PrerequisiteKey::Line) {
            m.push("line");
        }
        if !self.have.contains(&PrerequisiteKey::Account) {
            m.push("portal account");
        }
        for f in &self.fees {
            if !self.have.contains(&PrerequisiteKey::Certificate(f.digit())) {
                m.push(match f {
                    FeeTable::Medical => "certificate notice (医科)",
                    FeeTable::Dental => "certificate notice (歯科)",
                    FeeTable::Pharmacy => "certificate notice (薬局)",
                });
            }
        }
        m
    }

    fn retry(&mut self, today: NaiveDate, out: &mut Outbox) {
        if self.attempts >= self.params.max_attempts {
            return;
        }
        let at = super::business_days_later(
            &self.cal,
            today,
            self.params.retry_after as i32,
            OFFICE_OPENS,
        );
        out.send(at, ME, ME, Msg::InstallationDay);
    }
}

impl Actor for SystemVendor {
    fn id(&self) -> ActorId {
        ME
    }

    fn handle(&mut self, now: VirtualTime, from: ActorId, msg: Msg, out: &mut Outbox) {
        let today = now.date();
        match msg {
            Msg::SystemOrder { installation } => {
                self.planned = Some(installation);
                out.event(
                    now,
                    ME,
                    EventKind::SystemOrdered,
                    "r2024 guide ③④: estimate and order (\"システム導入等の依頼と同時\")",
                    || format!("installation planned {installation}"),
                );
                out.send(
                    super::open_at(&self.cal, installation, OFFICE_OPENS),
                    ME,
                    ME,
                    Msg::InstallationDay,
                );
            }
            Msg::PrerequisiteReady(p) => {
                self.have.insert(key(p));
            }
            Msg::InstallationDay => {
                if self.installed {
                    return;
                }
                self.attempts += 1;
                let missing = self.missing();
                if !missing.is_empty() {
                    out.event(now, ME, EventKind::InstallationPostponed, "installation needs the reader, the line, the portal account and the certificate notice in hand", || format!("missing: {}", missing.join(", ")));
                    out.send(now, ME, ActorId::Clinic, Msg::InstallationPostponed);
                    self.retry(today, out);
                    return;
                }
                let target = if self.needs_line {
                    ActorId::Carrier
                } else {
                    ActorId::ImplementingBody
                };
                out.send(
                    now.plus_minutes(60),
                    ME,
                    target,
                    Msg::ConnectivityCheck {
                        purpose: CheckPurpose::Installation,
                    },
                );
            }
            Msg::ConnectivityResult {
                purpose: CheckPurpose::Installation,
                failure,
            } => match failure {
                None => {
                    self.installed = true;
                    out.event(
                        now,
                        ME,
                        EventKind::InstallationDone,
                        "terminal and router installed; connectivity check passed",
                        String::new,
                    );
                    out.event(
                        now.plus_minutes(120),
                        ME,
                        EventKind::OperationTestPassed,
                        "operation test (運用テスト) passed",
                        String::new,
                    );
                    out.send(
                        now.plus_minutes(120),
                        ME,
                        ActorId::Clinic,
                        Msg::InstallationDone,
                    );
                }
                Some(f) => {
                    out.event(
                        now,
                        ME,
                        EventKind::ConnectivityFailed,
                        "connectivity check on installation day failed",
                        || f.as_str().to_string(),
                    );
                    if f.is_transient() {
                        self.retry(today, out);
                    }
                }
            },
            other => out.refuse(now, ME, from, &other),
        }
    }
}
