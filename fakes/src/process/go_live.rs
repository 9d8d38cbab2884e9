//! The go-live rule (運用開始の条件): what must be in place before a clinic starts
//! online eligibility confirmation, kept from the messages the clinic receives.
//!
//! One rule in one place: the timeline's [`super::clinic::Clinic`] asks it before it
//! goes online, and the live verdict (`onsim serve --scenario`, where a system under
//! test plays the clinic) asks it when the system under test declares its go-live, so
//! both judge "online on the designation day" by the same conditions:
//!
//! - designated (保険医療機関の指定) on or before the day (002 and 001: the designation
//!   month's 1st);
//! - the reception number registered at the implementing body for a month on or before
//!   the day (r2024 guide 3-2: the account opens for the designation month);
//! - a full installation done by the system vendor (guide ④).
//!
//! A 資格確認限定型 clinic is an existing institution (004, [`super::limited_type`]): it
//! needs only its application approved and its device delivered, and starts on the day
//! both hold (004: 運用開始日 is the day the implementing body registered it).

use chrono::NaiveDate;

use super::Msg;

/// What the clinic has received so far that counts towards going live.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Readiness {
    /// A 資格確認限定型 clinic (no system installation; a generic reader).
    pub limited_type: bool,
    /// The designation date (指定日) the bureau announced.
    pub designated: Option<NaiveDate>,
    /// The regional council refused the designation (未指定).
    pub not_designated: bool,
    /// The latest month the implementing body registered the reception number for.
    pub registered_for: Option<NaiveDate>,
    /// A working face-auth reader was delivered.
    pub reader: bool,
    /// The system vendor finished the installation.
    pub installed: bool,
    /// The implementing body approved the limited-type application.
    pub limited_approved: bool,
}

impl Readiness {
    pub fn new(limited_type: bool) -> Self {
        Readiness {
            limited_type,
            ..Readiness::default()
        }
    }

    /// Take in one message delivered to the clinic. Messages that do not count
    /// towards going live change nothing (this is an observer, not an actor: the
    /// clinic's own handling of every message is [`super::clinic::Clinic`]'s).
    pub fn observe(&mut self, msg: &Msg) {
        match msg {
            Msg::Designated { date } => self.designated = Some(*date),
            Msg::NotDesignated => self.not_designated = true,
            Msg::AccountReady { registered_for } => {
                self.registered_for = Some(
                    self.registered_for
                        .map_or(*registered_for, |r| r.max(*registered_for)),
                );
            }
            Msg::ReaderDelivered { working: true } => self.reader = true,
            Msg::InstallationDone => self.installed = true,
            Msg::LimitedTypeApproved => self.limited_approved = true,
            _ => {}
        }
    }

    /// `Ok` when the clinic may go online on `today`; `Err` lists everything missing,
    /// joined by "; ".
    pub fn check(&self, today: NaiveDate) -> Result<(), String> {
        let mut missing = Vec::new();
        if self.limited_type {
            // 004: an existing institution, already designated and holding its code;
            // it starts on the day the implementing body registers it.
            if !self.limited_approved {
                missing.push("limited-type application not approved".to_string());
            }
            if !self.reader {
                missing.push("no card reader".to_string());
            }
            return if missing.is_empty() {
                Ok(())
            } else {
                Err(missing.join("; "))
            };
        }
        match self.designated {
            Some(d) if d <= today => {}
            Some(d) => missing.push(format!("designated only from {d}")),
            None if self.not_designated => missing.push("not designated".to_string()),
            None => missing.push("not designated yet".to_string()),
        }
        match self.registered_for {
            Some(d) if d <= today => {}
            Some(d) => missing.push(format!("reception number registered only from {d}")),
            None => missing.push("no reception number at the implementing body".to_string()),
        }
        if !self.installed {
            missing.push("system not installed".to_string());
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(missing.join("; "))
        }
    }

    /// The dates in the future that would change [`Readiness::check`]'s answer (the
    /// designation date, the registered month): the clinic retries on the latest.
    pub fn waiting_for(&self, today: NaiveDate) -> Option<NaiveDate> {
        [self.designated, self.registered_for]
            .into_iter()
            .flatten()
            .filter(|d| *d > today)
            .max()
    }
}

/// Where a clinic's going live stands: the flags the timeline's
/// [`super::clinic::Clinic`] and the live verdict's observer both keep, so the
/// guard "is an attempt due at all?" is written once ([`GoLive::attempt`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GoLive {
    /// Online (the go-live check succeeded, or a limited-type clinic got ready).
    pub online: bool,
    /// The designation day (or a retry day) has come: attempts are due.
    pub due: bool,
    /// A go-live connectivity check is out, its result not back yet.
    pub pending: bool,
    /// A go-live check failed for good (not transient): no more attempts.
    pub gave_up: bool,
}

/// What one attempt to go live comes to ([`GoLive::attempt`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Nothing to do: already online, not due, a check pending, given up, or a
    /// clinic that does not go online (paper claims, 経過措置).
    Skip,
    /// A 資格確認限定型 clinic with everything in place: online without a check.
    LimitedTypeReady,
    /// Everything in place: the go-live connectivity check decides.
    Check,
    /// Something is missing (`why`, joined by "; "); retry on `retry` if a future
    /// date would change the answer.
    Missing {
        why: String,
        retry: Option<NaiveDate>,
    },
}

impl GoLive {
    /// Attempt to go live on `today` with what `ready` holds. A paper-claims clinic
    /// (001 ※3) that is not limited-type and a 経過措置 clinic never go online. Sets
    /// `online` for a limited-type clinic that is ready; the caller sets `pending`
    /// when it sends the check.
    pub fn attempt(
        &mut self,
        ready: &Readiness,
        today: NaiveDate,
        paper_claims: bool,
        transitional_notice: bool,
    ) -> Attempt {
        // A limited-type clinic starts when it is registered (004), not on a due day.
        if self.online
            || !self.due && !ready.limited_type
            || self.pending
            || self.gave_up
            || paper_claims && !ready.limited_type
            || transitional_notice
        {
            return Attempt::Skip;
        }
        match ready.check(today) {
            Ok(()) if ready.limited_type => {
                self.online = true;
                Attempt::LimitedTypeReady
            }
            Ok(()) => Attempt::Check,
            Err(why) => Attempt::Missing {
                why,
                retry: ready.waiting_for(today),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_full_installation_needs_designation_registration_and_installation() {
        let mut r = Readiness::new(false);
        let today = d("2025-07-01");
        assert_eq!(
            r.check(today).unwrap_err(),
            "not designated yet; no reception number at the implementing body; system not installed"
        );
        r.observe(&Msg::AccountReady {
            registered_for: today,
        });
        r.observe(&Msg::Designated { date: today });
        assert_eq!(r.check(today).unwrap_err(), "system not installed");
        // A working reader does not stand in for the installation.
        r.observe(&Msg::ReaderDelivered { working: true });
        assert!(r.check(today).is_err());
        r.observe(&Msg::InstallationDone);
        assert_eq!(r.check(today), Ok(()));
        // Not before the designation day.
        assert_eq!(
            r.check(d("2025-06-30")).unwrap_err(),
            "designated only from 2025-07-01; reception number registered only from 2025-07-01"
        );
        assert_eq!(r.waiting_for(d("2025-06-30")), Some(today));
        assert_eq!(r.waiting_for(today), None);
    }

    #[test]
    fn limited_type_needs_approval_and_a_working_reader() {
        // An existing institution (004): no designation and no reception number to wait for.
        let mut r = Readiness::new(true);
        let today = d("2025-07-01");
        r.observe(&Msg::ReaderDelivered { working: false });
        assert_eq!(
            r.check(today).unwrap_err(),
            "limited-type application not approved; no card reader"
        );
        r.observe(&Msg::LimitedTypeApproved);
        r.observe(&Msg::ReaderDelivered { working: true });
        assert_eq!(r.check(today), Ok(()));
    }

    #[test]
    fn the_latest_registration_wins_and_refusal_is_named() {
        let mut r = Readiness::new(false);
        r.observe(&Msg::AccountReady {
            registered_for: d("2025-08-01"),
        });
        r.observe(&Msg::AccountReady {
            registered_for: d("2025-07-01"),
        });
        assert_eq!(r.registered_for, Some(d("2025-08-01")));
        r.observe(&Msg::NotDesignated);
        assert!(r
            .check(d("2025-09-01"))
            .unwrap_err()
            .starts_with("not designated;"));
    }

    fn ready_clinic() -> Readiness {
        let mut r = Readiness::new(false);
        r.observe(&Msg::Designated {
            date: d("2025-07-01"),
        });
        r.observe(&Msg::AccountReady {
            registered_for: d("2025-07-01"),
        });
        r.observe(&Msg::InstallationDone);
        r
    }

    #[test]
    fn an_attempt_is_skipped_unless_due_and_open() {
        let r = ready_clinic();
        let day = d("2025-07-01");
        let mut g = GoLive::default();
        assert_eq!(g.attempt(&r, day, false, false), Attempt::Skip, "not due");
        g.due = true;
        assert_eq!(
            g.attempt(&r, day, true, false),
            Attempt::Skip,
            "paper claims"
        );
        assert_eq!(g.attempt(&r, day, false, true), Attempt::Skip, "経過措置");
        for flag in [
            |g: &mut GoLive| g.online = true,
            |g: &mut GoLive| g.pending = true,
            |g: &mut GoLive| g.gave_up = true,
        ] {
            let mut h = g;
            flag(&mut h);
            assert_eq!(h.attempt(&r, day, false, false), Attempt::Skip);
        }
        assert_eq!(g.attempt(&r, day, false, false), Attempt::Check);
        assert!(
            !g.online,
            "a full installation goes online on the check's result"
        );
    }

    #[test]
    fn a_missing_piece_names_itself_and_the_retry_day() {
        let mut r = Readiness::new(false);
        r.observe(&Msg::Designated {
            date: d("2025-07-01"),
        });
        r.observe(&Msg::AccountReady {
            registered_for: d("2025-08-01"),
        });
        let mut g = GoLive {
            due: true,
            ..GoLive::default()
        };
        match g.attempt(&r, d("2025-07-01"), false, false) {
            Attempt::Missing { why, retry } => {
                assert!(why.contains("registered only from 2025-08-01"), "{why}");
                assert!(why.contains("system not installed"), "{why}");
                assert_eq!(retry, Some(d("2025-08-01")));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_ready_limited_type_clinic_is_online_without_a_check_even_with_paper_claims() {
        let mut r = Readiness::new(true);
        r.observe(&Msg::LimitedTypeApproved);
        r.observe(&Msg::ReaderDelivered { working: true });
        // Not due: a limited-type clinic starts on the day it is registered (004),
        // before the month it planned (2025-07) if the approval comes early.
        let mut g = GoLive::default();
        assert_eq!(
            g.attempt(&r, d("2025-06-12"), true, false),
            Attempt::LimitedTypeReady
        );
        assert!(g.online);
        assert_eq!(g.attempt(&r, d("2025-07-02"), true, false), Attempt::Skip);
    }
}
