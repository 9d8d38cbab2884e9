//! Built-in clinic clients for the conformance gate: one conforming reference client
//! and deliberately broken ones, each failing for its documented requirement ids.
//!
//! They run as real processes (`onsim conformance --run-client NAME`), launched by the
//! harness exactly like a vendor's command, and speak only through the file drop and
//! the environment variables in [`super::env`]. The reference client is also the
//! executable specification of the protocol a vendor implements:
//!
//! 1. For each task, in order: write the request to a hidden temp file in `req/`,
//!    then rename it to `OQSsiquc01req_<task id>_<attempt>.xml` (Shift_JIS, declared).
//! 2. Wait up to `ONSIM_ANSWER_TIMEOUT_MS` for `res/OQSsiquc01res_<task id>_<attempt>.xml`.
//! 3. No answer: withdraw the request if it is still in `req/` (the terminal has not
//!    taken it), wait `ONSIM_RETRY_MIN_INTERVAL_MS`, and drop attempt + 1; give up
//!    after `ONSIM_MAX_ATTEMPTS` (outcome `no-answer`).
//! 4. Write one result line per task: `answered` + validity, or `abnormal` + ErrorCode.
//! 5. Read the `ONSIM_EXPECTED_FACE_FILES` card confirmations in `face/` and write one
//!    line each: `valid` + validity, `card-expired` (C001), `card-locked` (C002).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fakes::eligibility::encoding::{encode, CharacterCode};
use fakes::eligibility::values::{ProcessingResultStatus, SegmentOfResult};
use fakes::eligibility::xml::{parse_response, ResponseBody};

use super::{env, ResultLine, Task, TasksFile, CARD_EXPIRED_CODE, CARD_LOCKED_CODE};

/// The conforming client.
pub const REFERENCE: &str = "reference";

/// A deliberately broken client: name, the requirements it must fail, and its flaw.
#[derive(Debug, Clone, Copy)]
pub struct Broken {
    pub name: &'static str,
    pub violates: &'static [&'static str],
    pub flaw: &'static str,
}

pub const BROKEN: &[Broken] = &[
    Broken {
        name: "utf8-without-declaration",
        violates: &["REQ-ENCODING"],
        flaw: "writes requests as UTF-8 without an XML declaration",
    },
    Broken {
        name: "ignores-validity",
        violates: &[
            "REQ-VALIDITY-2",
            "REQ-VALIDITY-3",
            "REQ-VALIDITY-4",
            "REQ-VALIDITY-5",
        ],
        flaw: "reports every answered inquiry as validity 1",
    },
    Broken {
        name: "no-retry",
        violates: &["REQ-RETRY"],
        flaw: "gives up after the first unanswered attempt",
    },
    Broken {
        name: "retry-flood",
        violates: &["REQ-RETRY", "REQ-NO-LOSS"],
        flaw: "drops 20 copies 10 ms apart without withdrawing any: too many attempts, too close, answered many times",
    },
    Broken {
        name: "drops-requests",
        violates: &["REQ-NO-LOSS"],
        flaw: "silently skips the last task",
    },
    Broken {
        name: "treats-abnormal-as-valid",
        violates: &["REQ-ABNORMAL"],
        flaw: "reports a SegmentOfResult 9 answer as a valid qualification",
    },
    Broken {
        name: "ignores-card-status",
        violates: &["REQ-CARD-EXPIRED", "REQ-CARD-LOCKED"],
        flaw: "reports every face/ confirmation as a valid card",
    },
];

/// Every built-in client name, reference first.
pub fn names() -> Vec<&'static str> {
    std::iter::once(REFERENCE)
        .chain(BROKEN.iter().map(|b| b.name))
        .collect()
}

#[derive(Debug, Default, Clone, Copy)]
struct Flaws {
    utf8_no_declaration: bool,
    ignore_validity: bool,
    no_retry: bool,
    flood: bool,
    drop_last: bool,
    abnormal_as_valid: bool,
    ignore_card_status: bool,
}

fn flaws_of(name: &str) -> Option<Flaws> {
    let mut f = Flaws::default();
    match name {
        REFERENCE => {}
        "utf8-without-declaration" => f.utf8_no_declaration = true,
        "ignores-validity" => f.ignore_validity = true,
        "no-retry" => f.no_retry = true,
        "retry-flood" => f.flood = true,
        "drops-requests" => f.drop_last = true,
        "treats-abnormal-as-valid" => f.abnormal_as_valid = true,
        "ignores-card-status" => f.ignore_card_status = true,
        _ => return None,
    }
    Some(f)
}

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

fn var_num(name: &str) -> Result<u64, String> {
    var(name)?
        .parse()
        .map_err(|e| format!("{name}: not a number: {e}"))
}

/// Run the built-in client `name` in this process (the SUT side). Exit code 0 when it
/// finished its protocol (whether or not the answers were what the harness wanted).
pub fn run(name: &str) -> Result<(), String> {
    let flaws = flaws_of(name).ok_or_else(|| {
        format!(
            "unknown built-in client {name:?}; known: {}",
            names().join(", ")
        )
    })?;
    let t0 = Instant::now();
    let term = PathBuf::from(var(env::TERMINAL_DIR)?);
    let tasks: TasksFile = serde_json::from_slice(
        &fs::read(var(env::TASKS)?).map_err(|e| format!("{}: {e}", env::TASKS))?,
    )
    .map_err(|e| format!("{}: {e}", env::TASKS))?;
    let institution = var(env::INSTITUTION_CODE)?;
    let date = var(env::CONFIRMATION_DATE)?;
    let limit = Duration::from_millis(var_num(env::TIME_LIMIT_MS)?);
    let timeout = Duration::from_millis(var_num(env::ANSWER_TIMEOUT_MS)?);
    let max_attempts = var_num(env::MAX_ATTEMPTS)?.max(1);
    let interval = Duration::from_millis(var_num(env::RETRY_MIN_INTERVAL_MS)?);
    let faces = var_num(env::EXPECTED_FACE_FILES)? as usize;
    let mut out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(var(env::RESULTS)?)
        .map_err(|e| format!("{}: {e}", env::RESULTS))?;
    let mut emit = |line: &ResultLine| -> Result<(), String> {
        let mut s = serde_json::to_string(line).map_err(|e| e.to_string())?;
        s.push('\n');
        out.write_all(s.as_bytes()).map_err(|e| e.to_string())
    };
    // Leave a margin for the face files and the exit.
    let deadline = t0 + limit.saturating_sub(Duration::from_millis(1_000));
    let (req, res, face) = (term.join("req"), term.join("res"), term.join("face"));

    for (i, task) in tasks.tasks.iter().enumerate() {
        if flaws.drop_last && i + 1 == tasks.tasks.len() {
            continue;
        }
        let mut answer = None;
        if flaws.flood {
            let mut names = Vec::new();
            for attempt in 1..=20 {
                let n = format!("OQSsiquc01req_{}_{attempt}.xml", task.id);
                drop_request(
                    &req,
                    &n,
                    &request_bytes(task, &institution, &date, &n, flaws),
                )?;
                names.push(n);
                std::thread::sleep(Duration::from_millis(10));
            }
            let until = Instant::now() + timeout * 3;
            'wait: while Instant::now() < until {
                for n in &names {
                    if let Ok(b) = fs::read(res.join(response_name(n))) {
                        answer = Some(b);
                        break 'wait;
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        } else {
            for attempt in 1..=max_attempts {
                let n = format!("OQSsiquc01req_{}_{attempt}.xml", task.id);
                drop_request(
                    &req,
                    &n,
                    &request_bytes(task, &institution, &date, &n, flaws),
                )?;
                let answer_path = res.join(response_name(&n));
                if let Some(b) = wait_for(&answer_path, timeout) {
                    answer = Some(b);
                    break;
                }
                // Withdraw: if the terminal has not taken it yet, it never will.
                let _ = fs::remove_file(req.join(&n));
                // Answered while we withdrew?
                if let Ok(b) = fs::read(&answer_path) {
                    answer = Some(b);
                    break;
                }
                if flaws.no_retry || Instant::now() + interval > deadline {
                    break;
                }
                std::thread::sleep(interval);
            }
        }
        let line = match answer {
            None => ResultLine {
                task: Some(task.id.clone()),
                outcome: Some("no-answer".into()),
                ..Default::default()
            },
            Some(b) => interpret(&task.id, &b, flaws),
        };
        emit(&line)?;
    }

    // Card confirmations: wait (bounded) for the expected number, then read them all.
    let until = deadline.max(Instant::now());
    let mut seen: Vec<String>;
    loop {
        seen = list(&face);
        if seen.len() >= faces || Instant::now() >= until {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for n in seen {
        let Ok(b) = fs::read(face.join(&n)) else {
            continue;
        };
        emit(&interpret_face(&n, &b, flaws))?;
    }
    Ok(())
}

fn list(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.') && n.ends_with(".xml"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn wait_for(path: &Path, timeout: Duration) -> Option<Vec<u8>> {
    let until = Instant::now() + timeout;
    loop {
        if let Ok(b) = fs::read(path) {
            return Some(b);
        }
        if Instant::now() >= until {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `OQSsiquc01req_X.xml` → `OQSsiquc01res_X.xml`.
pub fn response_name(request: &str) -> String {
    fakes::eligibility::terminal::response_name(request)
}

/// Write to a hidden temp file, then rename: the terminal never sees half a file.
fn drop_request(req: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    let tmp = req.join(format!(".{name}.tmp"));
    fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
    fs::rename(&tmp, req.join(name)).map_err(|e| format!("{name}: {e}"))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn request_bytes(task: &Task, institution: &str, date: &str, file: &str, f: Flaws) -> Vec<u8> {
    let mut s = String::new();
    if !f.utf8_no_declaration {
        s.push_str("<?xml version=\"1.0\" encoding=\"Shift_JIS\" standalone=\"yes\"?>\n");
    }
    let id = file
        .trim_start_matches("OQSsiquc01req_")
        .trim_end_matches(".xml");
    s.push_str("<XmlMsg>\n  <MessageHeader>\n");
    s.push_str(&format!(
        "    <QualificationConfirmationDate>{}</QualificationConfirmationDate>\n",
        esc(date)
    ));
    s.push_str(&format!(
        "    <MedicalInstitutionCode>{}</MedicalInstitutionCode>\n",
        esc(institution)
    ));
    s.push_str(&format!(
        "    <ArbitraryFileIdentifier>{}</ArbitraryFileIdentifier>\n",
        esc(id)
    ));
    s.push_str("  </MessageHeader>\n  <MessageBody>\n    <QualificationConfirmSearchInfo>\n");
    let mut leaf = |n: &str, v: &Option<String>| {
        if let Some(v) = v {
            s.push_str(&format!("      <{n}>{}</{n}>\n", esc(v)));
        }
    };
    leaf("InsurerNumber", &Some(task.insurer_number.clone()));
    leaf("InsuredCardSymbol", &task.insured_card_symbol);
    leaf(
        "InsuredIdentificationNumber",
        &Some(task.insured_identification_number.clone()),
    );
    leaf("InsuredBranchNumber", &task.insured_branch_number);
    leaf("Birthdate", &Some(task.birthdate.clone()));
    s.push_str("    </QualificationConfirmSearchInfo>\n  </MessageBody>\n</XmlMsg>\n");
    if f.utf8_no_declaration {
        s.into_bytes()
    } else {
        encode(&s, CharacterCode::ShiftJis)
    }
}

fn interpret(task: &str, bytes: &[u8], f: Flaws) -> ResultLine {
    let mut line = ResultLine {
        task: Some(task.to_string()),
        ..Default::default()
    };
    let r = match parse_response(bytes) {
        Ok(r) => r,
        Err(_) => {
            line.outcome = Some("abnormal".into());
            return line;
        }
    };
    if r.header.segment_of_result == SegmentOfResult::Abnormal {
        if f.abnormal_as_valid {
            line.outcome = Some("answered".into());
            line.validity = Some(1);
        } else {
            line.outcome = Some("abnormal".into());
            line.error_code = r.header.error_code.map(|c| c.code().to_string());
        }
        return line;
    }
    line.outcome = Some("answered".into());
    if let ResponseBody::Single(a) = &r.body {
        line.validity = a.qualification_validity.and_then(|v| v.code().parse().ok());
    }
    if f.ignore_validity {
        line.validity = Some(1);
    }
    line
}

fn interpret_face(name: &str, bytes: &[u8], f: Flaws) -> ResultLine {
    let mut line = ResultLine {
        face: Some(name.to_string()),
        status: Some("error".into()),
        ..Default::default()
    };
    let Ok(r) = parse_response(bytes) else {
        return line;
    };
    let ResponseBody::Single(a) = &r.body else {
        return line;
    };
    if r.header.segment_of_result == SegmentOfResult::Abnormal {
        return line;
    }
    line.validity = a.qualification_validity.and_then(|v| v.code().parse().ok());
    let status = if f.ignore_card_status || a.processing_result_status == ProcessingResultStatus::Ok
    {
        "valid"
    } else {
        match a.processing_result_code.as_deref() {
            Some(CARD_EXPIRED_CODE) => "card-expired",
            Some(CARD_LOCKED_CODE) => "card-locked",
            _ => "error",
        }
    };
    line.status = Some(status.into());
    line
}
