//! The judge: every requirement of [`super::REQUIREMENTS`] decided on the
//! [`Evidence`] of one run, without I/O. The older requirements are judged here; the
//! newer ones (encodings, face names, `.err` files, 薬剤情報, consent, bulk) each by a
//! function of [`requirements`].

pub mod requirements;

use serde::Serialize;

use super::evidence::Evidence;
use super::plan::{task_of, Purpose, BULK_ID};
use super::{ResultLine, Task, REQUIREMENTS};
use requirements::{BulkEvidence, DrugEvidence};

/// One requirement's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub id: String,
    /// True also when skipped: a skipped requirement fails nothing.
    pub passed: bool,
    pub detail: String,
    /// Not exercised: the gate leaves out the fault this requirement needs
    /// ([`super::gate`]). Counted neither in the score nor as passed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
}

/// A requirement the gate does not exercise.
pub fn skipped(id: &str, why: impl Into<String>) -> CheckResult {
    CheckResult {
        id: id.into(),
        passed: true,
        detail: why.into(),
        skipped: true,
    }
}

/// Whether a request file is one of the bulk group's.
fn is_bulk_file(n: &str) -> bool {
    n.starts_with("OQSmuquc01req_") || n.starts_with("OQSmuquc02req_")
}

fn valid_name(n: &str) -> bool {
    let Some(mid) = [
        "OQSsiquc01req_",
        "OQSmuquc01req_",
        "OQSmuquc02req_",
        "YZKsiquc01req_",
    ]
    .iter()
    .find_map(|p| n.strip_prefix(p))
    .and_then(|m| m.strip_suffix(".xml")) else {
        return false;
    };
    (1..=64).contains(&mid.len())
        && mid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn fields_ok(bytes: &[u8], task: &Task, institution: &str, date: &str) -> Result<(), String> {
    use fakes::eligibility::tree::{parse, TreeLimits};
    let (text, _) = fakes::eligibility::encoding::decode(bytes).map_err(|e| e.to_string())?;
    let doc = parse(&text, TreeLimits::default()).map_err(|e| e.to_string())?;
    let root = doc.root();
    if root.name() != "XmlMsg" {
        return Err(format!("root is {} not XmlMsg", root.name()));
    }
    let h = root.req_child("MessageHeader").map_err(|e| e.to_string())?;
    let b = root.req_child("MessageBody").map_err(|e| e.to_string())?;
    let s = b
        .req_child("QualificationConfirmSearchInfo")
        .map_err(|e| e.to_string())?;
    let want = [
        (h, "MedicalInstitutionCode", Some(institution.to_string())),
        (h, "QualificationConfirmationDate", Some(date.to_string())),
        (s, "InsurerNumber", Some(task.insurer_number.clone())),
        (s, "InsuredCardSymbol", task.insured_card_symbol.clone()),
        (
            s,
            "InsuredIdentificationNumber",
            Some(task.insured_identification_number.clone()),
        ),
        (s, "InsuredBranchNumber", task.insured_branch_number.clone()),
        (s, "Birthdate", Some(task.birthdate.clone())),
    ];
    for (e, name, want) in want {
        let got = e.opt_text(name).map_err(|e| e.to_string())?;
        if got.map(str::trim) != want.as_deref() {
            return Err(format!("{name}: expected {want:?}, got {got:?}"));
        }
    }
    Ok(())
}

pub fn check(id: &str, problems: Vec<String>, ok_detail: impl Into<String>) -> CheckResult {
    CheckResult {
        id: id.into(),
        passed: problems.is_empty(),
        detail: if problems.is_empty() {
            ok_detail.into()
        } else {
            let n = problems.len();
            let mut d: Vec<String> = problems.into_iter().take(5).collect();
            if n > 5 {
                d.push(format!("… {} more", n - 5));
            }
            d.join("; ")
        },
        skipped: false,
    }
}

/// Judge every requirement, in the order of [`REQUIREMENTS`].
pub fn judge(j: &Evidence) -> Vec<CheckResult> {
    let (taken, leftover) = (&j.taken, &j.leftover);
    let tasks = j.tasks.as_slice();
    let mut results: Vec<ResultLine> = Vec::new();
    let mut bad_lines = Vec::new();
    for (i, l) in j.results_text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<ResultLine>(l) {
            Ok(r) => results.push(r),
            Err(e) => bad_lines.push(format!("ONSIM_RESULTS line {}: {e}", i + 1)),
        }
    }
    let task_lines = |id: &str| -> Vec<&ResultLine> {
        results
            .iter()
            .filter(|r| r.task.as_deref() == Some(id))
            .collect()
    };
    let mut out = Vec::new();

    // REQ-FILE-NAME
    let mut p = Vec::new();
    for (n, _) in taken.iter().chain(leftover.iter()) {
        if !valid_name(n) {
            p.push(format!("{n}: not OQSsiquc01req_<id>.xml"));
        } else if n.starts_with("YZKsiquc01req_") {
            if !j
                .drug
                .iter()
                .any(|(t, _)| requirements::is_drug_request_of(n, &t.id))
            {
                p.push(format!("{n}: names no drug task"));
            }
        } else if is_bulk_file(n) {
            let mid = &n["OQSmuquc01req_".len()..n.len() - ".xml".len()];
            if mid != BULK_ID && !mid.starts_with(&format!("{BULK_ID}_")) {
                p.push(format!("{n}: names no bulk group"));
            }
        } else if task_of(n, tasks).is_none() {
            p.push(format!("{n}: names no task"));
        }
    }
    if taken.is_empty() {
        p.push("no request file was written".into());
    }
    out.push(check(
        "REQ-FILE-NAME",
        p,
        format!("{} request files, all well named", taken.len()),
    ));

    out.push(requirements::encoding(taken));
    let task_results: Vec<ResultLine> = results
        .iter()
        .filter(|r| r.task.is_some())
        .cloned()
        .collect();
    out.push(requirements::encoding_cci(&j.cci, taken, &task_results));
    out.push(requirements::face_name(&j.faces, &results));
    out.push(requirements::err_file(&requirements::ErrEvidence {
        id: &j.unknown.id,
        request: &j.unknown_request,
        taken: taken.iter().any(|(n, _)| *n == j.unknown_request),
        answer_error: j.unknown_error.as_ref().map(|c| c.as_deref()),
        err_files: &j.err_files,
        results: &task_results,
    }));
    let drug_evidence = DrugEvidence {
        institution: &j.institution,
        tasks: &j.drug,
        taken,
        answers: &j.drug_answers,
        results: &task_results,
    };
    out.push(requirements::drug_info(&drug_evidence));
    out.push(requirements::consent(&drug_evidence));
    let bulk_taken: Vec<_> = taken
        .iter()
        .filter(|(n, _)| *n != j.unknown_request && !n.starts_with("YZKsiquc01req_"))
        .cloned()
        .collect();
    out.push(requirements::bulk(&BulkEvidence {
        institution: &j.institution,
        tasks: &j.bulk,
        taken: &bulk_taken,
        download_segments: &j.download_segments,
        results: &task_results,
    }));

    // REQ-FIELDS
    let mut p = Vec::new();
    for (n, b) in taken {
        let Some(t) = task_of(n, tasks) else {
            continue;
        };
        let Some((task, _)) = j.tasks.iter().find(|(x, _)| x.id == t) else {
            continue;
        };
        if let Err(e) = fields_ok(b, task, &j.institution, &j.date) {
            p.push(format!("{n}: {e}"));
        }
    }
    if taken.is_empty() {
        p.push("no request file was written".into());
    }
    out.push(check(
        "REQ-FIELDS",
        p,
        "every request carries its task's fields",
    ));

    // REQ-VALIDITY-n and REQ-ABNORMAL
    for (task, purpose) in tasks {
        match purpose {
            Purpose::Validity(n) => {
                let lines = task_lines(&task.id);
                let p = match lines.as_slice() {
                    [l] if l.outcome.as_deref() == Some("answered") && l.validity == Some(*n) => {
                        vec![]
                    }
                    [l] => vec![format!(
                        "task {}: expected outcome answered, validity {n}; reported {:?}, validity {:?}",
                        task.id, l.outcome, l.validity
                    )],
                    v => vec![format!("task {}: {} result lines, expected 1", task.id, v.len())],
                };
                out.push(check(
                    &format!("REQ-VALIDITY-{n}"),
                    p,
                    format!("task {} reported as validity {n}", task.id),
                ));
            }
            Purpose::Abnormal => {
                let want = j.error_codes.get(&task.id).cloned().flatten();
                let lines = task_lines(&task.id);
                let p = match lines.as_slice() {
                    [l] if l.outcome.as_deref() == Some("abnormal")
                        && l.validity.is_none()
                        && (l.error_code == want || want.is_none()) => vec![],
                    [l] => vec![format!(
                        "task {}: the answer was SegmentOfResult 9 (ErrorCode {want:?}); reported outcome {:?}, validity {:?}, error_code {:?}",
                        task.id, l.outcome, l.validity, l.error_code
                    )],
                    v => vec![format!("task {}: {} result lines, expected 1", task.id, v.len())],
                };
                out.push(check(
                    "REQ-ABNORMAL",
                    p,
                    format!("task {} reported abnormal with ErrorCode {want:?}", task.id),
                ));
            }
            Purpose::Plain => {}
        }
    }

    // REQ-RETRY
    if !j.outage_planned {
        out.push(skipped(
            "REQ-RETRY",
            "not exercised: the gate has no outage",
        ));
    } else {
        let mut p = Vec::new();
        match j.outage_task.as_deref().filter(|t| !t.is_empty()) {
            None => p.push("no request for a task arrived during the outage".into()),
            Some(t) => {
                let mut attempts: Vec<(u128, &String)> = j
                    .first_seen
                    .iter()
                    .filter(|(n, _)| task_of(n, tasks) == Some(t))
                    .map(|(n, at)| (*at, n))
                    .collect();
                attempts.sort();
                if attempts.len() <= j.swallowed_n {
                    p.push(format!(
                        "task {t}: {} attempt(s) for {} swallowed by the outage: not retried",
                        attempts.len(),
                        j.swallowed_n
                    ));
                }
                if attempts.len() > j.max_attempts as usize {
                    p.push(format!(
                        "task {t}: {} attempts, more than ONSIM_MAX_ATTEMPTS {}",
                        attempts.len(),
                        j.max_attempts
                    ));
                }
                let min = j.retry_min_interval_ms;
                // 20 ms tolerance for the harness's own polling.
                if let Some(w) = attempts
                    .windows(2)
                    .find(|w| w[1].0.saturating_sub(w[0].0) + 20 < min)
                {
                    p.push(format!(
                        "task {t}: {} and {} only {} ms apart (ONSIM_RETRY_MIN_INTERVAL_MS {min})",
                        w[0].1,
                        w[1].1,
                        w[1].0.saturating_sub(w[0].0)
                    ));
                }
                if !task_lines(t)
                    .iter()
                    .any(|l| l.outcome.as_deref() == Some("answered"))
                {
                    p.push(format!(
                        "task {t}: never reported answered after the outage"
                    ));
                }
            }
        }
        out.push(check(
            "REQ-RETRY",
            p,
            format!(
                "{} attempt(s) swallowed by the outage, retried within limits and answered",
                j.swallowed_n
            ),
        ));
    }

    // REQ-CARD-*
    for (name, want, id) in [
        ("valid", "valid", "REQ-CARD-VALID"),
        ("card-expired", "card-expired", "REQ-CARD-EXPIRED"),
        ("card-locked", "card-locked", "REQ-CARD-LOCKED"),
    ] {
        if !j.faces_planned.contains(&name) {
            out.push(skipped(
                id,
                format!("not exercised: the gate drops no {name} card confirmation"),
            ));
            continue;
        }
        let p = match j.faces.iter().find(|(_, s)| *s == name) {
            None => vec![
                "the card confirmation was never dropped (client ended during the outage)".into(),
            ],
            Some((file, _)) => {
                let lines: Vec<_> = results
                    .iter()
                    .filter(|r| r.face.as_deref() == Some(file.as_str()))
                    .collect();
                // A face file not found or reported more than once is
                // REQ-FACE-NAME's failure; here: what a reported line says.
                lines
                    .iter()
                    .filter(|l| {
                        !(l.status.as_deref() == Some(want)
                            && (want != "valid" || l.validity == Some(1)))
                    })
                    .map(|l| {
                        format!(
                            "face/{file}: expected status {want:?}; reported {:?} (validity {:?})",
                            l.status, l.validity
                        )
                    })
                    .collect()
            }
        };
        out.push(check(
            id,
            p,
            format!("{name} card confirmation reported as {want}"),
        ));
    }

    // REQ-NO-LOSS
    let mut p = bad_lines;
    for (task, _) in tasks {
        let n_taken = taken
            .iter()
            .filter(|(n, _)| task_of(n, tasks) == Some(task.id.as_str()))
            .count();
        if n_taken == 0 {
            p.push(format!(
                "task {}: no request ever reached the terminal",
                task.id
            ));
        }
        if let Some(a) = j.answered.get(&task.id).filter(|a| a.len() > 1) {
            p.push(format!(
                "task {}: answered {} times ({})",
                task.id,
                a.len(),
                a.join(", ")
            ));
        }
        let k = task_lines(&task.id).len();
        if k != 1 {
            p.push(format!("task {}: {k} result lines, expected 1", task.id));
        }
    }
    for (n, _) in leftover {
        p.push(format!("{n}: left unanswered in req/"));
    }
    out.push(check(
        "REQ-NO-LOSS",
        p,
        "every task reached the terminal once-answered and was reported once",
    ));

    // REQ-EXIT
    let p = if j.timed_out {
        vec![format!(
            "killed after the time limit of {} ms",
            j.time_limit_ms
        )]
    } else if j.exit_status != Some(0) {
        vec![format!("exit status {:?}", j.exit_status)]
    } else {
        vec![]
    };
    out.push(check("REQ-EXIT", p, "exited 0 within the time limit"));

    // Report order: as in REQUIREMENTS.
    out.sort_by_key(|c| {
        REQUIREMENTS
            .iter()
            .position(|(id, _)| *id == c.id)
            .unwrap_or(usize::MAX)
    });
    out
}

#[cfg(test)]
mod tests {
    //! The judge on evidence written by hand: no SUT, no folders.
    use super::*;

    fn task(id: &str) -> Task {
        Task {
            id: id.into(),
            insurer_number: "06130125".into(),
            insured_card_symbol: None,
            insured_identification_number: "1".into(),
            insured_branch_number: None,
            birthdate: "19800101".into(),
            character_code: None,
        }
    }

    fn request(id: &str) -> (String, Vec<u8>) {
        (
            format!("OQSsiquc01req_{id}.xml"),
            b"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><XmlMsg/>".to_vec(),
        )
    }

    /// One plain task, taken once and reported once; the client exited 0.
    fn one_task_answered() -> Evidence {
        Evidence {
            institution: "1313120014".into(),
            date: "20240401".into(),
            tasks: vec![(task("t01"), Purpose::Plain)],
            max_attempts: 5,
            retry_min_interval_ms: 200,
            time_limit_ms: 20_000,
            taken: vec![request("t01")],
            results_text: "{\"task\":\"t01\",\"outcome\":\"answered\",\"validity\":1}\n".into(),
            answered: [("t01".to_string(), vec!["OQSsiquc01req_t01.xml".to_string()])].into(),
            exit_status: Some(0),
            ..Evidence::default()
        }
    }

    fn verdict<'a>(checks: &'a [CheckResult], id: &str) -> &'a CheckResult {
        checks.iter().find(|c| c.id == id).expect(id)
    }

    #[test]
    fn a_task_answered_once_and_reported_once_is_not_lost() {
        let checks = judge(&one_task_answered());
        assert!(verdict(&checks, "REQ-NO-LOSS").passed);
        assert!(verdict(&checks, "REQ-EXIT").passed);
        assert!(verdict(&checks, "REQ-FILE-NAME").passed);
        assert!(verdict(&checks, "REQ-ENCODING").passed);
    }

    #[test]
    fn a_timed_out_client_fails_req_exit() {
        let e = Evidence {
            timed_out: true,
            exit_status: None,
            ..one_task_answered()
        };
        let c = judge(&e);
        let c = verdict(&c, "REQ-EXIT");
        assert!(!c.passed);
        assert!(c.detail.contains("20000 ms"), "{}", c.detail);
    }

    #[test]
    fn a_request_left_in_req_and_a_bad_result_line_are_losses() {
        let e = Evidence {
            leftover: vec![request("t01")],
            results_text: "not json\n".into(),
            ..one_task_answered()
        };
        let c = judge(&e);
        let c = verdict(&c, "REQ-NO-LOSS");
        assert!(!c.passed);
        assert!(c.detail.contains("ONSIM_RESULTS line 1"), "{}", c.detail);
        assert!(c.detail.contains("left unanswered in req/"), "{}", c.detail);
    }

    #[test]
    fn attempts_swallowed_by_the_outage_and_never_repeated_fail_req_retry() {
        let e = Evidence {
            outage_task: Some("t01".into()),
            outage_planned: true,
            swallowed_n: 1,
            first_seen: [("OQSsiquc01req_t01.xml".to_string(), 5)].into(),
            ..one_task_answered()
        };
        let c = judge(&e);
        let c = verdict(&c, "REQ-RETRY");
        assert!(!c.passed);
        assert!(c.detail.contains("not retried"), "{}", c.detail);
    }

    #[test]
    fn retries_closer_than_the_minimum_interval_fail_req_retry() {
        let e = Evidence {
            outage_task: Some("t01".into()),
            outage_planned: true,
            swallowed_n: 1,
            first_seen: [
                ("OQSsiquc01req_t01.xml".to_string(), 5),
                ("OQSsiquc01req_t01_2.xml".to_string(), 50),
            ]
            .into(),
            ..one_task_answered()
        };
        let c = judge(&e);
        let c = verdict(&c, "REQ-RETRY");
        assert!(!c.passed);
        assert!(c.detail.contains("only 45 ms apart"), "{}", c.detail);
    }

    #[test]
    fn a_fault_the_gate_leaves_out_skips_its_requirement_and_fails_nothing() {
        let e = Evidence {
            faces_planned: vec!["valid", "card-locked"],
            ..one_task_answered()
        };
        let c = judge(&e);
        let retry = verdict(&c, "REQ-RETRY");
        assert!(retry.skipped && retry.passed, "{retry:?}");
        let expired = verdict(&c, "REQ-CARD-EXPIRED");
        assert!(expired.skipped, "{expired:?}");
        // Planned but never dropped: judged, and failed.
        let locked = verdict(&c, "REQ-CARD-LOCKED");
        assert!(!locked.skipped && !locked.passed, "{locked:?}");
    }

    #[test]
    fn the_report_follows_the_requirement_order() {
        let checks = judge(&one_task_answered());
        let pos = |id: &str| REQUIREMENTS.iter().position(|(r, _)| *r == id).unwrap();
        assert!(checks.windows(2).all(|w| pos(&w[0].id) <= pos(&w[1].id)));
    }
}
