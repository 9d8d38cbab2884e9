//! A scenario's `client-certificate` fault as the certificate itself (`onsim serve
//! --scenario`, issue 17 item 1): when the portal issues the terminal's client
//! certificate (電子証明書, on the implementing body's certificate notice), the fault's
//! problem is written into that certificate, so the system under test meets it where
//! a real clinic would — the mutual-TLS verifier of the eligibility API refuses it on
//! the virtual clock — and not as a flag inside onsim.
//!
//! | problem | the certificate issued |
//! |---|---|
//! | `expired` | valid from the issue day until the fault's day (00:00 UTC), expired from then on; with no day, already expired when issued |
//! | `not-yet-valid` | valid only from the day after the fault's day; with no day, not before the end of the judged horizon |
//! | `revoked` | sound, and revoked on the terminal CA's CRL from the fault's day (with no day: from the issue day) — [`super::revocations`] |
//! | `other-institution` | bound to another institution code (the credential matrix's `other-institution` code) |
//!
//! The fault's day is its `at`, else the *planned* day of the step it names (`on =
//! "installation"`: the schedule's system installation; `on = "go-live"`: the
//! designation day): the certificate is issued before the step happens, so it can only
//! follow the plan *(our choice)*. A fault with a `probability` stays the implementing
//! body's alone (its connectivity check draws it, as in timeline mode); the
//! certificate is then sound. Listed in docs/SEEDS.md.

use chrono::{Duration, Months, NaiveDate};
use fakes::codes::InstitutionCode;
use fakes::pki::CertSpec;
use fakes::process::fault::{CertProblem, Fault, FaultKind, FaultStep};
use fakes::schedule::{MilestoneId, Schedule};

/// The certificate to issue, and from when it is revoked (UTC day), if it is.
#[derive(Debug, Clone)]
pub struct Shaped {
    pub spec: CertSpec,
    pub revoked_from: Option<NaiveDate>,
    /// The problem written in, for the log and the portal's record.
    pub problem: Option<CertProblem>,
}

/// What the portal issues to `institution`'s terminal `terminal` on `today`, given
/// the scenario's `faults`. `other` is the code an `other-institution` certificate
/// names; `horizon_end` the last judged day.
pub fn shape(
    faults: &[Fault],
    schedule: &Schedule,
    horizon_end: NaiveDate,
    institution: &InstitutionCode,
    other: &InstitutionCode,
    terminal: &str,
    today: NaiveDate,
) -> Shaped {
    let sound = CertSpec::client(institution, terminal, today);
    let Some((problem, day)) = faults
        .iter()
        .filter(|f| f.kind == FaultKind::ClientCertificate && f.probability.is_none())
        .find_map(|f| Some((f.certificate?, fault_day(f, schedule))))
    else {
        return Shaped {
            spec: sound,
            revoked_from: None,
            problem: None,
        };
    };
    let mut revoked_from = None;
    let spec = match problem {
        CertProblem::Expired => match day.filter(|d| *d > today) {
            Some(d) => CertSpec {
                not_after: d,
                ..sound
            },
            None => CertSpec {
                not_after: today,
                ..CertSpec::client(institution, terminal, today - Months::new(13))
            },
        },
        CertProblem::NotYetValid => {
            let from = day.unwrap_or(horizon_end) + Duration::days(1);
            CertSpec::client(institution, terminal, from.max(today + Duration::days(1)))
        }
        CertProblem::Revoked => {
            revoked_from = Some(day.unwrap_or(today).max(today));
            sound
        }
        CertProblem::OtherInstitution => CertSpec::client(other, terminal, today),
    };
    Shaped {
        spec,
        revoked_from,
        problem: Some(problem),
    }
}

/// The day a fault bites: its `at`, else the planned day of its step, else none.
fn fault_day(f: &Fault, schedule: &Schedule) -> Option<NaiveDate> {
    if f.at.is_some() {
        return f.at;
    }
    match f.on? {
        FaultStep::Installation => schedule.date(MilestoneId::SystemInstallation),
        FaultStep::GoLive => Some(schedule.designation),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fakes::schedule::{self, RuleSet, ScheduleRequest};

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn schedule() -> Schedule {
        schedule::compute(&ScheduleRequest::new(d("2025-07-01"), RuleSet::R2024), None).unwrap()
    }

    fn cert_fault(problem: CertProblem, on: Option<FaultStep>, at: Option<&str>) -> Fault {
        let mut f = Fault::new(FaultKind::ClientCertificate);
        f.certificate = Some(problem);
        f.on = on;
        f.at = at.map(d);
        f
    }

    fn shaped(f: Vec<Fault>) -> Shaped {
        shape(
            &f,
            &schedule(),
            d("2025-12-31"),
            &crate::live::clinic_institution(),
            &crate::live::other_institution(),
            "T1",
            d("2025-05-20"),
        )
    }

    #[test]
    fn no_fault_or_a_probable_one_gives_the_sound_certificate() {
        let s = shaped(vec![]);
        assert_eq!(s.spec.not_before, d("2025-05-20"));
        assert!(s.problem.is_none() && s.revoked_from.is_none());
        let mut maybe = cert_fault(CertProblem::Expired, Some(FaultStep::GoLive), None);
        maybe.probability = Some(0.5);
        assert!(shaped(vec![maybe]).problem.is_none());
    }

    #[test]
    fn expired_on_go_live_is_good_until_the_designation_day() {
        let s = shaped(vec![cert_fault(
            CertProblem::Expired,
            Some(FaultStep::GoLive),
            None,
        )]);
        assert_eq!(
            (s.spec.not_before, s.spec.not_after),
            (d("2025-05-20"), d("2025-07-01"))
        );
        // With no day: already expired when issued.
        let s = shaped(vec![cert_fault(CertProblem::Expired, None, None)]);
        assert_eq!(s.spec.not_after, d("2025-05-20"));
        assert!(s.spec.not_before < s.spec.not_after);
    }

    #[test]
    fn not_yet_valid_at_installation_is_valid_from_the_day_after() {
        let inst = schedule().date(MilestoneId::SystemInstallation).unwrap();
        let s = shaped(vec![cert_fault(
            CertProblem::NotYetValid,
            Some(FaultStep::Installation),
            None,
        )]);
        assert_eq!(s.spec.not_before, inst + Duration::days(1));
        let s = shaped(vec![cert_fault(CertProblem::NotYetValid, None, None)]);
        assert_eq!(s.spec.not_before, d("2026-01-01"));
    }

    #[test]
    fn revoked_from_the_window_or_the_issue_day_and_other_institution_names_the_other_code() {
        let s = shaped(vec![cert_fault(
            CertProblem::Revoked,
            None,
            Some("2025-06-10"),
        )]);
        assert_eq!(s.revoked_from, Some(d("2025-06-10")));
        let s = shaped(vec![cert_fault(
            CertProblem::Revoked,
            None,
            Some("2025-01-10"),
        )]);
        assert_eq!(
            s.revoked_from,
            Some(d("2025-05-20")),
            "never before the issue day"
        );
        let s = shaped(vec![cert_fault(CertProblem::OtherInstitution, None, None)]);
        assert_eq!(
            s.spec.institution,
            Some(crate::live::other_institution().to_string())
        );
    }
}
