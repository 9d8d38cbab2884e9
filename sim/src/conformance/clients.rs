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
//!    An answer counts only if it echoes the request's `ArbitraryFileIdentifier`
//!    (docs/INTERFACE.md §1), and is read in the encoding its XML declaration names
//!    (UTF-8 or Shift_JIS, whatever `CharacterCodeIdentifier` the task asked for).
//! 4. Write one result line per task: `answered` + validity + InsurerName, or
//!    `abnormal` + ErrorCode.
//! 5. Bulk group: one `OQSmuquc01req_<bulk id>.xml` with every patient (each with
//!    `ArbitraryIdentifier` = task id); from its answer the `ReceptionNumber`; then
//!    `OQSmuquc02req_<bulk id>_<attempt>.xml` (header: `MedicalInstitutionCode`
//!    only) until the answer is no longer `SegmentOfResult` 2; one line per patient
//!    from the `BulkConfirmUnit` that echoes its id.
//! 6. Read the `ONSIM_EXPECTED_FACE_FILES` card confirmations in `face/` (names
//!    matching `OQSsiquc01res_face_.+_(\d{14})\.xml`, MR `FaceCaptureMonitor.cs`) and
//!    write one line each: `valid` + validity, `card-expired` (C001), `card-locked`
//!    (C002).
//! 7. Drug tasks (薬剤情報, docs/INTERFACE.md §5): one `YZKsiquc01req_<task id>.xml`
//!    each (header: the institution, the card numbers, `ArbitraryFileIdentifier`;
//!    body: `StartDate` / `EndDate` yyyyMM, `FileCategory` 2 (XML),
//!    `PrDiInfClassification` 1, `MedicalTreatmentFlag` 1, as OD `Form1.cs`
//!    `GenerateXML` writes them); one line each with the answer's `ResultCode` as
//!    `result_code` and outcome `provided` only for `ResultCode` 1 (no consent, and
//!    every other reason `MessageContents` gives, is `not-provided`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fakes::eligibility::encoding::{encode, CharacterCode};
use fakes::eligibility::terminal::is_face_file_name;
use fakes::eligibility::values::{ProcessingResultStatus, SegmentOfResult};
use fakes::eligibility::xml::{parse_response, Answer, Response, ResponseBody};

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
    Broken {
        name: "assumes-shift-jis",
        violates: &["REQ-ENCODING-CCI"],
        flaw: "decodes every answer as Shift_JIS, whatever its XML declaration says",
    },
    Broken {
        name: "first-bulk-unit-only",
        violates: &["REQ-BULK"],
        flaw: "reads only the first BulkConfirmUnit of a bulk download",
    },
    Broken {
        name: "ignores-bulk-errors",
        violates: &["REQ-ERR-FILE"],
        flaw: "waits only for finished bulk results: a refused download (.err file, SegmentOfResult 9) is reported as no answer",
    },
    Broken {
        name: "guesses-result-code",
        violates: &["REQ-DRUG-INFO"],
        flaw: "reports result_code 1 for every 薬剤情報 answer instead of reading its ResultCode",
    },
    Broken {
        name: "ignores-consent",
        violates: &["REQ-CONSENT"],
        flaw: "reports every normal 薬剤情報 answer as records provided, a patient without consent included",
    },
    Broken {
        name: "old-face-names",
        violates: &["REQ-FACE-NAME"],
        flaw: "only reads face files named OQSsiquc01res_face_<14 digits>_<n>.xml (the old form)",
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
    assume_sjis: bool,
    first_bulk_unit: bool,
    old_face_names: bool,
    ignore_bulk_errors: bool,
    guess_result_code: bool,
    ignore_consent: bool,
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
        "assumes-shift-jis" => f.assume_sjis = true,
        "first-bulk-unit-only" => f.first_bulk_unit = true,
        "old-face-names" => f.old_face_names = true,
        "ignores-bulk-errors" => f.ignore_bulk_errors = true,
        "guesses-result-code" => f.guess_result_code = true,
        "ignores-consent" => f.ignore_consent = true,
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
                    if let Some(b) = read_answer(&res.join(response_name(n)), n) {
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
                if let Some(b) = wait_for(&answer_path, &n, timeout) {
                    answer = Some(b);
                    break;
                }
                // Withdraw: if the terminal has not taken it yet, it never will.
                let _ = fs::remove_file(req.join(&n));
                // Answered while we withdrew?
                if let Some(b) = read_answer(&answer_path, &n) {
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

    if !tasks.bulk.is_empty() {
        for line in bulk(
            &tasks,
            &req,
            &res,
            &institution,
            &date,
            timeout,
            interval,
            deadline,
            flaws,
        )? {
            emit(&line)?;
        }
    }

    if let Some(u) = &tasks.unknown_download {
        let line = unknown_download(u, &tasks.bulk_id, &req, &res, &institution, timeout, flaws)?;
        emit(&line)?;
    }

    for t in &tasks.drug {
        let line = drug_info(t, &req, &res, &institution, timeout, flaws)?;
        emit(&line)?;
    }

    // Card confirmations: wait (bounded: the run's deadline, and at most ten answer
    // timeouts, since the reader drops them while the tasks run) for the expected
    // number, then read them all.
    let until = deadline
        .min(Instant::now() + timeout * 10)
        .max(Instant::now());
    let mut seen: Vec<String>;
    loop {
        seen = list(&face)
            .into_iter()
            .filter(|n| {
                if flaws.old_face_names {
                    old_face_name(n)
                } else {
                    is_face_file_name(n)
                }
            })
            .collect();
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

/// The old face-file name form `OQSsiquc01res_face_<14 digits>_<n>.xml` that the
/// broken `old-face-names` client looks for.
fn old_face_name(n: &str) -> bool {
    let Some(mid) = n
        .strip_prefix("OQSsiquc01res_face_")
        .and_then(|m| m.strip_suffix(".xml"))
    else {
        return false;
    };
    let Some((stamp, serial)) = mid.split_once('_') else {
        return false;
    };
    stamp.len() == 14
        && stamp.bytes().all(|b| b.is_ascii_digit())
        && !serial.is_empty()
        && serial.bytes().all(|b| b.is_ascii_digit())
}

/// The identifier a request file carries: its name without prefix and `.xml`.
fn file_id(request: &str) -> &str {
    let mid = request.strip_suffix(".xml").unwrap_or(request);
    mid.split_once("req_").map_or(mid, |(_, r)| r)
}

/// The answer at `path` if it is complete and echoes the request's
/// `ArbitraryFileIdentifier` (an answer that does not is not ours: SK agent,
/// docs/INTERFACE.md §1). A file being written (no `</XmlMsg>` yet) is not read.
fn read_answer(path: &Path, request: &str) -> Option<Vec<u8>> {
    let b = fs::read(path).ok()?;
    if !b.windows(9).any(|w| w == b"</XmlMsg>") {
        return None;
    }
    match parse_response(&b) {
        Ok(r) if r.header.arbitrary_file_identifier.as_deref() != Some(file_id(request)) => None,
        // An unreadable answer is still the answer (reported abnormal).
        _ => Some(b),
    }
}

fn wait_for(path: &Path, request: &str, timeout: Duration) -> Option<Vec<u8>> {
    let until = Instant::now() + timeout;
    loop {
        if let Some(b) = read_answer(path, request) {
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
        s.push_str("<?xml version=\"1.0\" encoding=\"Shift_JIS\" standalone=\"no\"?>\n");
    }
    let id = file_id(file);
    header_start(&mut s, date, institution, id);
    if let Some(c) = task.character_code {
        s.push_str(&format!(
            "    <CharacterCodeIdentifier>{c}</CharacterCodeIdentifier>\n"
        ));
    }
    s.push_str("  </MessageHeader>\n  <MessageBody>\n");
    search_info(&mut s, task, None);
    s.push_str("  </MessageBody>\n</XmlMsg>\n");
    if f.utf8_no_declaration {
        s.into_bytes()
    } else {
        encode(&s, CharacterCode::ShiftJis)
    }
}

/// `<XmlMsg><MessageHeader>` with the three header fields of a qualification request
/// (single or bulk upload); the caller adds what follows.
fn header_start(s: &mut String, date: &str, institution: &str, id: &str) {
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
}

/// A bulk download request, Shift_JIS: the header holds only MedicalInstitutionCode
/// (OD BulkQualificationService.cs, docs/INTERFACE.md §2).
fn download_request(institution: &str, reception_number: &str) -> Vec<u8> {
    let s = format!(
        "<?xml version=\"1.0\" encoding=\"Shift_JIS\" standalone=\"no\"?>\n<XmlMsg>\n  <MessageHeader>\n    <MedicalInstitutionCode>{}</MedicalInstitutionCode>\n  </MessageHeader>\n  <MessageBody>\n    <ReceptionNumber>{}</ReceptionNumber>\n  </MessageBody>\n</XmlMsg>\n",
        esc(institution),
        esc(reception_number)
    );
    encode(&s, CharacterCode::ShiftJis)
}

/// One `QualificationConfirmSearchInfo` (with `ArbitraryIdentifier` in bulk).
fn search_info(s: &mut String, task: &Task, arbitrary: Option<&str>) {
    s.push_str("    <QualificationConfirmSearchInfo>\n");
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
    leaf("ArbitraryIdentifier", &arbitrary.map(str::to_string));
    s.push_str("    </QualificationConfirmSearchInfo>\n");
}

/// Parse an answer; the `assumes-shift-jis` flaw decodes the bytes as Shift_JIS
/// whatever the declaration says, as a reader hard-wired to one encoding does.
fn parse_as(bytes: &[u8], f: Flaws) -> Option<Response> {
    if f.assume_sjis {
        let (text, _, _) = encoding_rs::SHIFT_JIS.decode(bytes);
        let text = text
            .replacen("encoding=\"UTF-8\"", "encoding=\"Shift_JIS\"", 1)
            .replacen("encoding='UTF-8'", "encoding='Shift_JIS'", 1);
        parse_response(&encode(&text, CharacterCode::ShiftJis)).ok()
    } else {
        parse_response(bytes).ok()
    }
}

fn validity_of(a: &Answer) -> Option<u8> {
    a.qualification_validity.and_then(|v| v.code().parse().ok())
}

fn insurer_name_of(a: &Answer) -> Option<String> {
    a.results.first().map(|q| q.insurer_name.clone())
}

/// A download for a reception number nobody issued: the terminal refuses it with an
/// abnormal answer and an `.err` file beside the request (SK agent reads
/// `OQSmuquc02req_*.err`: docs/INTERFACE.md §1). Either one is the refusal; the
/// ErrorCode comes from the answer, or from the `.err` content.
fn unknown_download(
    u: &super::UnknownDownload,
    bulk_id: &str,
    req: &Path,
    res: &Path,
    institution: &str,
    timeout: Duration,
    f: Flaws,
) -> Result<ResultLine, String> {
    let n = format!("OQSmuquc02req_{bulk_id}_{}.xml", u.id);
    drop_request(req, &n, &download_request(institution, &u.reception_number))?;
    let answer = res.join(response_name(&n));
    let err = req.join(fakes::eligibility::terminal::err_name(&n));
    let until = Instant::now() + timeout * 5;
    let mut line = ResultLine {
        task: Some(u.id.clone()),
        outcome: Some("no-answer".into()),
        ..Default::default()
    };
    while Instant::now() < until {
        let got = [&answer, &err].into_iter().find_map(|p| {
            fs::read(p)
                .ok()
                .filter(|b| b.windows(9).any(|w| w == b"</XmlMsg>"))
                .and_then(|b| parse_as(&b, f))
                .filter(|r| r.header.reception_number.as_deref() == Some(&u.reception_number))
        });
        if let Some(r) = got {
            if r.header.segment_of_result == SegmentOfResult::Abnormal {
                if f.ignore_bulk_errors {
                    // Keeps waiting for results that never come.
                } else {
                    line.outcome = Some("abnormal".into());
                    line.error_code = r.header.error_code.map(|c| c.code().to_string());
                    return Ok(line);
                }
            } else {
                line.outcome = Some("answered".into());
                return Ok(line);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = fs::remove_file(req.join(&n));
    Ok(line)
}

/// A 薬剤情報 request as OD `Form1.cs` `GenerateXML` writes it (docs/INTERFACE.md
/// §5; `FileCategory` 2 asks for XML, odd categories are PDF).
pub(crate) fn drug_request(t: &super::DrugTask, institution: &str, id: &str) -> Vec<u8> {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"Shift_JIS\" standalone=\"no\"?>\n");
    s.push_str("<XmlMsg>\n  <MessageHeader>\n");
    let mut leaf = |n: &str, v: Option<&str>| {
        if let Some(v) = v {
            s.push_str(&format!("    <{n}>{}</{n}>\n", esc(v)));
        }
    };
    leaf("MedicalInstitutionCode", Some(institution));
    leaf("InsurerNumber", Some(&t.insurer_number));
    leaf("InsuranceCardSymbol", t.insured_card_symbol.as_deref());
    leaf(
        "InsuredPersonIdentificationNumber",
        Some(&t.insured_identification_number),
    );
    leaf("BranchNumber", Some(&t.insured_branch_number));
    leaf("ArbitraryFileIdentifier", Some(id));
    s.push_str("  </MessageHeader>\n  <MessageBody>\n");
    s.push_str(&format!(
        "    <StartDate>{}</StartDate>\n    <EndDate>{}</EndDate>\n",
        esc(&t.start_month),
        esc(&t.end_month)
    ));
    s.push_str("    <FileCategory>2</FileCategory>\n    <PrDiInfClassification>1</PrDiInfClassification>\n    <MedicalTreatmentFlag>1</MedicalTreatmentFlag>\n");
    s.push_str("  </MessageBody>\n</XmlMsg>\n");
    encode(&s, CharacterCode::ShiftJis)
}

/// Ask for one patient's 薬剤情報 and report its `ResultCode`: `1` is records
/// provided (what OD `Form1.cs` takes as success); anything else is not provided,
/// the reason in `MessageContents` (fakes::eligibility::health_info).
fn drug_info(
    t: &super::DrugTask,
    req: &Path,
    res: &Path,
    institution: &str,
    timeout: Duration,
    f: Flaws,
) -> Result<ResultLine, String> {
    use fakes::eligibility::health_info::HealthResult;
    use fakes::eligibility::other::{parse_other_response, OtherBody};
    use fakes::eligibility::xml::MessageKind;
    let n = format!("YZKsiquc01req_{}.xml", t.id);
    let id = file_id(&n).to_string();
    drop_request(req, &n, &drug_request(t, institution, &id))?;
    let path = res.join(response_name(&n));
    let until = Instant::now() + timeout * 5;
    let mut line = ResultLine {
        task: Some(t.id.clone()),
        outcome: Some("no-answer".into()),
        ..Default::default()
    };
    while Instant::now() < until {
        // Ours only if it echoes the ArbitraryFileIdentifier (docs/INTERFACE.md §1).
        let got = fs::read(&path)
            .ok()
            .filter(|b| b.windows(9).any(|w| w == b"</XmlMsg>"))
            .and_then(|b| parse_other_response(MessageKind::DrugInfo, &b).ok())
            .filter(|r| r.header.arbitrary_file_identifier.as_deref() == Some(id.as_str()));
        if let Some(r) = got {
            line.result_code = r.header.result_code.map(|c| c.code().to_string());
            if r.header.segment_of_result == SegmentOfResult::Abnormal {
                line.outcome = Some("abnormal".into());
                line.error_code = r.header.error_code.map(|c| c.code().to_string());
                return Ok(line);
            }
            let provided = if f.guess_result_code {
                // Decides by the body, and fills the code in as success.
                line.result_code = Some(HealthResult::Provided.code().into());
                matches!(r.body, OtherBody::Health(_))
            } else {
                f.ignore_consent || r.header.result_code == Some(HealthResult::Provided)
            };
            line.outcome = Some(if provided { "provided" } else { "not-provided" }.into());
            return Ok(line);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = fs::remove_file(req.join(&n));
    Ok(line)
}

/// Most download attempts per bulk job *(our choice)*.
const MAX_DOWNLOADS: u32 = 20;

/// The bulk group: upload, then download until finished; one line per patient.
#[allow(clippy::too_many_arguments)]
fn bulk(
    tasks: &TasksFile,
    req: &Path,
    res: &Path,
    institution: &str,
    date: &str,
    timeout: Duration,
    interval: Duration,
    deadline: Instant,
    f: Flaws,
) -> Result<Vec<ResultLine>, String> {
    let no_answer = |outcome: &str| -> Vec<ResultLine> {
        tasks
            .bulk
            .iter()
            .map(|t| ResultLine {
                task: Some(t.id.clone()),
                outcome: Some(outcome.into()),
                ..Default::default()
            })
            .collect()
    };
    let id = &tasks.bulk_id;
    let up = format!("OQSmuquc01req_{id}.xml");
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"Shift_JIS\" standalone=\"no\"?>\n");
    header_start(&mut s, date, institution, id);
    s.push_str("  </MessageHeader>\n  <MessageBody>\n");
    for t in &tasks.bulk {
        search_info(&mut s, t, Some(&t.id));
    }
    s.push_str("  </MessageBody>\n</XmlMsg>\n");
    drop_request(req, &up, &encode(&s, CharacterCode::ShiftJis))?;
    let Some(b) = wait_for(&res.join(response_name(&up)), &up, timeout * 5) else {
        return Ok(no_answer("no-answer"));
    };
    let Some(Response {
        body: ResponseBody::BulkAccepted {
            reception_number, ..
        },
        ..
    }) = parse_as(&b, f)
    else {
        return Ok(no_answer("abnormal"));
    };
    for attempt in 1..=MAX_DOWNLOADS {
        let n = format!("OQSmuquc02req_{id}_{attempt}.xml");
        drop_request(req, &n, &download_request(institution, &reception_number))?;
        // Matched by the echoed ReceptionNumber (docs/INTERFACE.md §1).
        let path = res.join(response_name(&n));
        let until = Instant::now() + timeout * 5;
        let r = loop {
            if let Some(r) = fs::read(&path)
                .ok()
                .filter(|b| b.windows(9).any(|w| w == b"</XmlMsg>"))
                .and_then(|b| parse_as(&b, f))
                .filter(|r| r.header.reception_number.as_deref() == Some(&reception_number))
            {
                break Some(r);
            }
            if Instant::now() >= until {
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let Some(r) = r else {
            let _ = fs::remove_file(req.join(&n));
            return Ok(no_answer("no-answer"));
        };
        match (&r.header.segment_of_result, r.body) {
            (SegmentOfResult::Processing, _) => {
                if Instant::now() + interval > deadline {
                    return Ok(no_answer("no-answer"));
                }
                std::thread::sleep(interval);
            }
            (_, ResponseBody::BulkResults { answers }) => {
                let answers: &[Answer] = if f.first_bulk_unit {
                    &answers[..answers.len().min(1)]
                } else {
                    &answers
                };
                return Ok(tasks
                    .bulk
                    .iter()
                    .map(|t| {
                        let unit = answers
                            .iter()
                            .find(|a| a.arbitrary_identifier() == Some(t.id.as_str()));
                        match unit {
                            None => ResultLine {
                                task: Some(t.id.clone()),
                                outcome: Some("no-answer".into()),
                                ..Default::default()
                            },
                            Some(a) => ResultLine {
                                task: Some(t.id.clone()),
                                outcome: Some("answered".into()),
                                validity: validity_of(a),
                                insurer_name: insurer_name_of(a),
                                ..Default::default()
                            },
                        }
                    })
                    .collect());
            }
            (_, _) => {
                let code = r.header.error_code.map(|c| c.code().to_string());
                return Ok(tasks
                    .bulk
                    .iter()
                    .map(|t| ResultLine {
                        task: Some(t.id.clone()),
                        outcome: Some("abnormal".into()),
                        error_code: code.clone(),
                        ..Default::default()
                    })
                    .collect());
            }
        }
    }
    Ok(no_answer("no-answer"))
}

fn interpret(task: &str, bytes: &[u8], f: Flaws) -> ResultLine {
    let mut line = ResultLine {
        task: Some(task.to_string()),
        ..Default::default()
    };
    let Some(r) = parse_as(bytes, f) else {
        line.outcome = Some("abnormal".into());
        return line;
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
        line.validity = validity_of(a);
        line.insurer_name = insurer_name_of(a);
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
    let Some(r) = parse_as(bytes, f) else {
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
