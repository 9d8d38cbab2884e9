//! Pure judges of the newer requirements: each takes the evidence the harness
//! collected (request files as bytes, the driver's log summaries, the client's
//! result lines) and decides one requirement, with no I/O, so each rule can be
//! unit-tested on hand-made evidence.

use fakes::eligibility::encoding::{code_of_label, declared_encoding, decode, CharacterCode};
use fakes::eligibility::terminal::is_face_file_name;
use fakes::eligibility::tree::{parse, TreeLimits};
use fakes::eligibility::values::SegmentOfResult;
use fakes::eligibility::xml::{parse_request, Limits, MessageKind, RequestBody};

use super::{check, CheckResult};
use crate::conformance::{DrugTask, ResultLine, Task};

/// A request file: its name and bytes.
pub type File = (String, Vec<u8>);

/// REQ-ENCODING: the declared label is one the terminal reads
/// ([`code_of_label`]) and the bytes decode as the terminal decodes them
/// ([`decode`]) into that same encoding. A declaration is required by the gate *(our
/// choice)*: every real request seen carries one (docs/INTERFACE.md §2), and without
/// it the terminal can only guess Shift_JIS, which misreads a UTF-8 client's kanji.
pub fn encoding(taken: &[File]) -> CheckResult {
    let mut p = Vec::new();
    for (n, b) in taken {
        let after_bom = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
        let problem = match declared_encoding(after_bom) {
            None => Some("no XML declaration naming its encoding".to_string()),
            Some(label) => match code_of_label(label) {
                None => Some(format!(
                    "declared encoding {label:?} is not one the terminal reads"
                )),
                Some(code) => match decode(b) {
                    Err(e) => Some(e.to_string()),
                    Ok((_, used)) if used != code => Some(format!(
                        "declared {label:?} but the terminal reads it as {} (byte order mark)",
                        used.xml_label()
                    )),
                    Ok(_) => None,
                },
            },
        };
        if let Some(e) = problem {
            p.push(format!("{n}: {e}"));
        }
    }
    if taken.is_empty() {
        p.push("no request file was written".into());
    }
    check(
        "REQ-ENCODING",
        p,
        "every request declares an encoding the terminal reads and is valid in it",
    )
}

/// A task that names a `CharacterCodeIdentifier`, with the population's
/// InsurerName for it (`None`: the answer has no result).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CciTask {
    pub id: String,
    /// 0 = UTF-8, 1 = Shift_JIS.
    pub code: u8,
    pub insurer_name: Option<String>,
}

/// Whether `name` is a single-inquiry request file of task `id`.
fn of_task(name: &str, id: &str) -> bool {
    name.strip_prefix("OQSsiquc01req_")
        .and_then(|m| m.strip_suffix(".xml"))
        .is_some_and(|m| m == id || m.strip_prefix(id).is_some_and(|r| r.starts_with('_')))
}

/// REQ-ENCODING-CCI.
pub fn encoding_cci(tasks: &[CciTask], taken: &[File], results: &[ResultLine]) -> CheckResult {
    let mut p = Vec::new();
    for t in tasks {
        let want = CharacterCode::from_identifier(&t.code.to_string());
        let files: Vec<&File> = taken.iter().filter(|(n, _)| of_task(n, &t.id)).collect();
        if files.is_empty() {
            p.push(format!("task {}: no request reached the terminal", t.id));
        }
        for (n, b) in files {
            match parse_request(MessageKind::Single, b, &Limits::default()) {
                Err(r) => p.push(format!("{n}: {}", r.error)),
                Ok(r) if r.header.character_code_identifier != want => p.push(format!(
                    "{n}: CharacterCodeIdentifier {:?}, the task asks for {}",
                    r.header.character_code_identifier.map(|c| c.identifier()),
                    t.code
                )),
                Ok(_) => {}
            }
        }
        let lines: Vec<&ResultLine> = results
            .iter()
            .filter(|r| r.task.as_deref() == Some(t.id.as_str()))
            .collect();
        match lines.as_slice() {
            [l] if l.insurer_name == t.insurer_name => {}
            [l] => p.push(format!(
                "task {} (CharacterCodeIdentifier {}): InsurerName reported {} — expected {}",
                t.id,
                t.code,
                if l.insurer_name.is_some() {
                    "differently (mis-decoded)"
                } else {
                    "absent"
                },
                if t.insurer_name.is_some() {
                    "the population's name"
                } else {
                    "none"
                }
            )),
            v => p.push(format!(
                "task {}: {} result lines, expected 1",
                t.id,
                v.len()
            )),
        }
    }
    if tasks.is_empty() {
        p.push("no task names a CharacterCodeIdentifier".into());
    }
    check(
        "REQ-ENCODING-CCI",
        p,
        format!(
            "{} task(s) asked for their CharacterCodeIdentifier and decoded InsurerName right",
            tasks.len()
        ),
    )
}

/// REQ-FACE-NAME: every face file the reader dropped (all named by the terminal's
/// rule) is reported by exactly one line.
pub fn face_name(faces: &[(String, &'static str)], results: &[ResultLine]) -> CheckResult {
    let mut p = Vec::new();
    if faces.is_empty() {
        p.push("no card confirmation was dropped (client ended during the outage)".into());
    }
    for (f, _) in faces {
        if !is_face_file_name(f) {
            p.push(format!(
                "face/{f}: the harness wrote a name outside the filter"
            ));
        }
        let k = results
            .iter()
            .filter(|r| r.face.as_deref() == Some(f.as_str()))
            .count();
        if k != 1 {
            p.push(format!("face/{f}: {k} result lines, expected 1"));
        }
    }
    check(
        "REQ-FACE-NAME",
        p,
        format!("{} face files found by the real name filter", faces.len()),
    )
}

/// What REQ-BULK is judged on.
#[derive(Debug, Clone, Copy)]
pub struct BulkEvidence<'a> {
    pub institution: &'a str,
    /// The bulk group and each patient's QualificationValidity.
    pub tasks: &'a [(Task, u8)],
    /// Every request file the terminal took.
    pub taken: &'a [File],
    /// The segments of the download answers, in the order written.
    pub download_segments: &'a [SegmentOfResult],
    pub results: &'a [ResultLine],
}

fn download_problems(n: &str, b: &[u8], institution: &str) -> Result<(), String> {
    let (text, _) = decode(b).map_err(|e| e.to_string())?;
    let doc = parse(&text, TreeLimits::default()).map_err(|e| e.to_string())?;
    let root = doc.root();
    let h = root.req_child("MessageHeader").map_err(|e| e.to_string())?;
    let names: Vec<&str> = h.children().map(|c| c.name()).collect();
    if names != ["MedicalInstitutionCode"] {
        return Err(format!(
            "{n}: header holds {names:?}; only MedicalInstitutionCode expected"
        ));
    }
    if h.opt_text("MedicalInstitutionCode")
        .map_err(|e| e.to_string())?
        != Some(institution)
    {
        return Err(format!("{n}: MedicalInstitutionCode is not {institution}"));
    }
    let body = root.req_child("MessageBody").map_err(|e| e.to_string())?;
    body.req_text("ReceptionNumber")
        .map_err(|e| format!("{n}: {e}"))?;
    Ok(())
}

/// REQ-BULK.
pub fn bulk(e: &BulkEvidence<'_>) -> CheckResult {
    let mut p = Vec::new();
    let uploads: Vec<&File> = e
        .taken
        .iter()
        .filter(|(n, _)| n.starts_with("OQSmuquc01req_"))
        .collect();
    match uploads.as_slice() {
        [(n, b)] => match parse_request(MessageKind::BulkUpload, b, &Limits::default()) {
            Err(r) => p.push(format!("{n}: {}", r.error)),
            Ok(r) => match r.body {
                RequestBody::BulkUpload(list) => {
                    for (t, _) in e.tasks {
                        let found = list.iter().any(|s| {
                            s.insured_identification_number == t.insured_identification_number
                                && s.insurer_number.to_string() == t.insurer_number
                                && s.birthdate.format("%Y%m%d").to_string() == t.birthdate
                        });
                        if !found {
                            p.push(format!("{n}: patient {} is not in the upload", t.id));
                        }
                    }
                    if list.len() != e.tasks.len() {
                        p.push(format!(
                            "{n}: {} inquiries, the group has {}",
                            list.len(),
                            e.tasks.len()
                        ));
                    }
                }
                _ => p.push(format!("{n}: not a bulk upload")),
            },
        },
        v => p.push(format!("{} bulk uploads, expected 1", v.len())),
    }
    let downloads: Vec<&File> = e
        .taken
        .iter()
        .filter(|(n, _)| n.starts_with("OQSmuquc02req_"))
        .collect();
    if downloads.is_empty() {
        p.push("no bulk download request".into());
    }
    for (n, b) in downloads {
        if let Err(m) = download_problems(n, b, e.institution) {
            p.push(m);
        }
    }
    if e.download_segments.first() == Some(&SegmentOfResult::Processing)
        && !e.download_segments[1..]
            .iter()
            .any(|s| *s != SegmentOfResult::Processing)
    {
        p.push(
            "the download was answered processing (SegmentOfResult 2) and never retried to the end"
                .into(),
        );
    }
    for (t, v) in e.tasks {
        let lines: Vec<&ResultLine> = e
            .results
            .iter()
            .filter(|r| r.task.as_deref() == Some(t.id.as_str()))
            .collect();
        match lines.as_slice() {
            [l] if l.outcome.as_deref() == Some("answered") && l.validity == Some(*v) => {}
            [l] => p.push(format!(
                "bulk patient {}: expected answered, validity {v}; reported {:?}, validity {:?}",
                t.id, l.outcome, l.validity
            )),
            k => p.push(format!(
                "bulk patient {}: {} result lines, expected 1",
                t.id,
                k.len()
            )),
        }
    }
    check(
        "REQ-BULK",
        p,
        format!(
            "{} patients uploaded at once, downloaded ({} download answers) and reported from their own BulkConfirmUnit",
            e.tasks.len(),
            e.download_segments.len()
        ),
    )
}

/// What REQ-ERR-FILE is judged on.
#[derive(Debug, Clone, Copy)]
pub struct ErrEvidence<'a> {
    /// The result line's task id.
    pub id: &'a str,
    /// The refused download's request file name.
    pub request: &'a str,
    /// Whether the terminal took it.
    pub taken: bool,
    /// The ErrorCode of the terminal's answer (outer `None`: not answered).
    pub answer_error: Option<Option<&'a str>>,
    /// `.err` files left in `req/`.
    pub err_files: &'a [String],
    pub results: &'a [ResultLine],
}

/// REQ-ERR-FILE.
pub fn err_file(e: &ErrEvidence<'_>) -> CheckResult {
    let mut p = Vec::new();
    let err = fakes::eligibility::terminal::err_name(e.request);
    if !e.taken {
        p.push(format!("{}: never reached the terminal", e.request));
    } else {
        match e.answer_error {
            None => p.push(format!("{}: the terminal did not answer it", e.request)),
            Some(None) => p.push(format!("{}: answered without an ErrorCode", e.request)),
            Some(Some(_)) => {}
        }
        if !e.err_files.contains(&err) {
            p.push(format!(
                "req/{err}: no .err file beside the refused request"
            ));
        }
    }
    let want = e.answer_error.flatten();
    let lines: Vec<&ResultLine> = e
        .results
        .iter()
        .filter(|r| r.task.as_deref() == Some(e.id))
        .collect();
    match lines.as_slice() {
        [l] if l.outcome.as_deref() == Some("abnormal")
            && (want.is_none() || l.error_code.as_deref() == want) => {}
        [l] => p.push(format!(
            "{}: refused (ErrorCode {want:?}); reported outcome {:?}, error_code {:?}",
            e.id, l.outcome, l.error_code
        )),
        v => p.push(format!("{}: {} result lines, expected 1", e.id, v.len())),
    }
    check(
        "REQ-ERR-FILE",
        p,
        format!("refused download reported abnormal with ErrorCode {want:?}; {err} written"),
    )
}

/// What REQ-DRUG-INFO and REQ-CONSENT are judged on.
#[derive(Debug, Clone, Copy)]
pub struct DrugEvidence<'a> {
    pub institution: &'a str,
    /// The drug tasks and whether the harness chose the patient as consenting.
    pub tasks: &'a [(DrugTask, bool)],
    /// Every request file the terminal took.
    pub taken: &'a [File],
    /// The terminal's `YZKsiquc01res_*` answers, as written to `res/`.
    pub answers: &'a [File],
    pub results: &'a [ResultLine],
}

/// Whether `name` is a request file of drug task `id`:
/// `YZKsiquc01req_<id>.xml` or `YZKsiquc01req_<id>_<n>.xml`.
pub fn is_drug_request_of(name: &str, id: &str) -> bool {
    name.strip_prefix("YZKsiquc01req_")
        .and_then(|m| m.strip_suffix(".xml"))
        .is_some_and(|m| m == id || m.strip_prefix(id).is_some_and(|r| r.starts_with('_')))
}

/// The request must be one the terminal reads as 薬剤情報
/// ([`fakes::eligibility::health_info::read_request`]), for this institution and the
/// task's card.
fn drug_request_problems(b: &[u8], t: &DrugTask, institution: &str) -> Result<(), String> {
    use fakes::eligibility::health_info::read_request;
    let (text, _) = decode(b).map_err(|e| e.to_string())?;
    let doc = parse(&text, TreeLimits::default()).map_err(|e| e.to_string())?;
    let root = doc.root();
    if root.name() != "XmlMsg" {
        return Err(format!("root is {} not XmlMsg", root.name()));
    }
    let h = root.req_child("MessageHeader").map_err(|e| e.to_string())?;
    let body = root.req_child("MessageBody").map_err(|e| e.to_string())?;
    read_request(MessageKind::DrugInfo, h, body).map_err(|e| e.to_string())?;
    let want = [
        ("MedicalInstitutionCode", Some(institution)),
        ("InsurerNumber", Some(t.insurer_number.as_str())),
        ("InsuranceCardSymbol", t.insured_card_symbol.as_deref()),
        (
            "InsuredPersonIdentificationNumber",
            Some(t.insured_identification_number.as_str()),
        ),
        ("BranchNumber", Some(t.insured_branch_number.as_str())),
    ];
    for (name, want) in want {
        let got = h.opt_text(name).map_err(|e| e.to_string())?.map(str::trim);
        if got != want {
            return Err(format!("{name}: expected {want:?}, got {got:?}"));
        }
    }
    if h.opt_text("ArbitraryFileIdentifier")
        .map_err(|e| e.to_string())?
        .is_none_or(|s| s.trim().is_empty())
    {
        return Err("no ArbitraryFileIdentifier".into());
    }
    Ok(())
}

/// The terminal's normal answer to drug task `t` (its last request), or why there is
/// none to judge on.
fn drug_answer(
    e: &DrugEvidence<'_>,
    t: &DrugTask,
) -> Result<fakes::eligibility::health_info::HealthResult, String> {
    use fakes::eligibility::other::parse_other_response;
    let Some((n, b)) = e.taken.iter().rfind(|(n, _)| is_drug_request_of(n, &t.id)) else {
        return Err(format!(
            "{}: no YZKsiquc01req_{}.xml reached the terminal",
            t.id, t.id
        ));
    };
    drug_request_problems(b, t, e.institution).map_err(|p| format!("{n}: {p}"))?;
    let res = fakes::eligibility::terminal::response_name(n);
    let Some((_, a)) = e.answers.iter().find(|(m, _)| *m == res) else {
        return Err(format!("{n}: the terminal did not answer it"));
    };
    let r = parse_other_response(MessageKind::DrugInfo, a).map_err(|x| format!("{res}: {x}"))?;
    if r.header.segment_of_result != SegmentOfResult::Normal {
        return Err(format!(
            "{n}: refused by the terminal (ErrorCode {:?})",
            r.header.error_code.map(|c| c.code())
        ));
    }
    r.header
        .result_code
        .ok_or_else(|| format!("{res}: no ResultCode"))
}

fn drug_line<'a>(results: &'a [ResultLine], id: &str) -> Result<&'a ResultLine, String> {
    let v: Vec<&ResultLine> = results
        .iter()
        .filter(|r| r.task.as_deref() == Some(id))
        .collect();
    match v.as_slice() {
        [l] => Ok(l),
        v => Err(format!("{id}: {} result lines, expected 1", v.len())),
    }
}

/// REQ-DRUG-INFO.
pub fn drug_info(e: &DrugEvidence<'_>) -> CheckResult {
    let mut p = Vec::new();
    for (t, _) in e.tasks {
        match (drug_answer(e, t), drug_line(e.results, &t.id)) {
            (Err(x), _) | (_, Err(x)) => p.push(x),
            (Ok(code), Ok(l)) if l.result_code.as_deref() != Some(code.code()) => p.push(format!(
                "{}: the answer's ResultCode is {}; reported result_code {:?}",
                t.id,
                code.code(),
                l.result_code
            )),
            _ => {}
        }
    }
    if e.tasks.is_empty() {
        p.push("no drug task was set".into());
    }
    check(
        "REQ-DRUG-INFO",
        p,
        format!(
            "{} 薬剤情報 requests well formed, answered, ResultCode reported",
            e.tasks.len()
        ),
    )
}

/// REQ-CONSENT.
pub fn consent(e: &DrugEvidence<'_>) -> CheckResult {
    use fakes::eligibility::health_info::HealthResult;
    let mut p = Vec::new();
    for (t, consenting) in e.tasks {
        let code = match drug_answer(e, t) {
            Ok(c) => c,
            Err(x) => {
                p.push(format!("no answer to judge on: {x}"));
                continue;
            }
        };
        if !consenting && code != HealthResult::NotProvided {
            p.push(format!(
                "{}: the patient without consent was answered ResultCode {} (harness set-up)",
                t.id,
                code.code()
            ));
        }
        let want = if code == HealthResult::Provided {
            "provided"
        } else {
            "not-provided"
        };
        match drug_line(e.results, &t.id) {
            Err(x) => p.push(x),
            Ok(l) if l.outcome.as_deref() != Some(want) => p.push(format!(
                "{}: ResultCode {} ({}); reported outcome {:?}",
                t.id,
                code.code(),
                if *consenting {
                    "consent given"
                } else {
                    "no consent"
                },
                l.outcome
            )),
            Ok(_) => {}
        }
    }
    if !e.tasks.iter().any(|(_, c)| !c) {
        p.push("no drug task for a patient without consent was set".into());
    }
    check(
        "REQ-CONSENT",
        p,
        "records reported provided only where the answer provides them; no consent reported not-provided",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(n: &str, b: &[u8]) -> File {
        (n.to_string(), b.to_vec())
    }

    #[test]
    fn encoding_accepts_what_the_terminal_reads() {
        for label in [
            "Shift_JIS",
            "Shift-JIS",
            "shift_jis",
            "Windows-31J",
            "CP932",
            "UTF-8",
        ] {
            let b = format!("<?xml version=\"1.0\" encoding=\"{label}\"?><XmlMsg/>");
            assert!(decode(b.as_bytes()).is_ok(), "{label}");
            let c = encoding(&[f("OQSsiquc01req_a.xml", b.as_bytes())]);
            assert!(c.passed, "{label}: {}", c.detail);
        }
        for (b, why) in [
            (&b"<XmlMsg/>"[..], "no XML declaration"),
            (
                b"<?xml version=\"1.0\" encoding=\"EUC-JP\"?><XmlMsg/>",
                "EUC-JP",
            ),
            (
                b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><X>\x82\xa0</X>",
                "not valid",
            ),
            (
                b"\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><X/>",
                "byte order mark",
            ),
        ] {
            let c = encoding(&[f("OQSsiquc01req_a.xml", b)]);
            assert!(!c.passed && c.detail.contains(why), "{why}: {}", c.detail);
        }
        assert!(!encoding(&[]).passed);
    }

    fn cci_request(code: Option<u8>) -> Vec<u8> {
        let c = code
            .map(|c| format!("<CharacterCodeIdentifier>{c}</CharacterCodeIdentifier>"))
            .unwrap_or_default();
        format!(
            "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><XmlMsg><MessageHeader>\
             <QualificationConfirmationDate>20240401</QualificationConfirmationDate>\
             <MedicalInstitutionCode>1313120014</MedicalInstitutionCode>{c}\
             <ArbitraryFileIdentifier>t1_1</ArbitraryFileIdentifier></MessageHeader>\
             <MessageBody><QualificationConfirmSearchInfo><InsurerNumber>06139992</InsurerNumber>\
             <InsuredIdentificationNumber>1</InsuredIdentificationNumber>\
             <Birthdate>19800101</Birthdate></QualificationConfirmSearchInfo></MessageBody></XmlMsg>"
        )
        .into_bytes()
    }

    #[test]
    fn cci_needs_the_identifier_and_the_decoded_name() {
        let tasks = [CciTask {
            id: "t1".into(),
            code: 0,
            insurer_name: Some("全国健康保険協会".into()),
        }];
        let line = |name: &str| ResultLine {
            task: Some("t1".into()),
            outcome: Some("answered".into()),
            insurer_name: Some(name.into()),
            ..Default::default()
        };
        let good = [f("OQSsiquc01req_t1_1.xml", &cci_request(Some(0)))];
        let c = encoding_cci(&tasks, &good, &[line("全国健康保険協会")]);
        assert!(c.passed, "{}", c.detail);
        let c = encoding_cci(&tasks, &good, &[line("蜈ｨ蝗ｽ")]);
        assert!(
            !c.passed && c.detail.contains("mis-decoded"),
            "{}",
            c.detail
        );
        for code in [None, Some(1)] {
            let bad = [f("OQSsiquc01req_t1_1.xml", &cci_request(code))];
            let c = encoding_cci(&tasks, &bad, &[line("全国健康保険協会")]);
            assert!(!c.passed, "{code:?}");
        }
    }

    #[test]
    fn face_name_wants_one_line_per_file() {
        let faces = [(
            "OQSsiquc01res_face_131312001400000000000000000000_20240401090000.xml".to_string(),
            "valid",
        )];
        let line = ResultLine {
            face: Some(faces[0].0.clone()),
            status: Some("valid".into()),
            ..Default::default()
        };
        assert!(face_name(&faces, std::slice::from_ref(&line)).passed);
        assert!(!face_name(&faces, &[]).passed);
        assert!(!face_name(&faces, &[line.clone(), line]).passed);
        assert!(!face_name(&[], &[]).passed);
    }

    #[test]
    fn err_file_needs_the_file_and_the_abnormal_line() {
        let line = |o: &str| ResultLine {
            task: Some("e01".into()),
            outcome: Some(o.into()),
            error_code: Some("4001".into()),
            ..Default::default()
        };
        let errs = ["OQSmuquc02req_b_e01.err".to_string()];
        fn judge(err_files: &[String], results: &[ResultLine]) -> bool {
            err_file(&ErrEvidence {
                id: "e01",
                request: "OQSmuquc02req_b_e01.xml",
                taken: true,
                answer_error: Some(Some("4001")),
                err_files,
                results,
            })
            .passed
        }
        assert!(judge(&errs, &[line("abnormal")]));
        assert!(!judge(&errs, &[line("no-answer")]));
        assert!(!judge(&[], &[line("abnormal")]));
    }

    #[test]
    fn bulk_download_header_only_institution() {
        let ok = b"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><XmlMsg><MessageHeader>\
            <MedicalInstitutionCode>1313120014</MedicalInstitutionCode></MessageHeader>\
            <MessageBody><ReceptionNumber>R1</ReceptionNumber></MessageBody></XmlMsg>";
        assert!(download_problems("d", ok, "1313120014").is_ok());
        let dated = b"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><XmlMsg><MessageHeader>\
            <QualificationConfirmationDate>20240401</QualificationConfirmationDate>\
            <MedicalInstitutionCode>1313120014</MedicalInstitutionCode></MessageHeader>\
            <MessageBody><ReceptionNumber>R1</ReceptionNumber></MessageBody></XmlMsg>";
        assert!(download_problems("d", dated, "1313120014").is_err());
        // Not retried after "processing".
        let e = BulkEvidence {
            institution: "1313120014",
            tasks: &[],
            taken: &[f("OQSmuquc02req_b_1.xml", ok)],
            download_segments: &[SegmentOfResult::Processing],
            results: &[],
        };
        let c = bulk(&e);
        assert!(
            !c.passed && c.detail.contains("never retried"),
            "{}",
            c.detail
        );
    }

    /// A drug task for a person with a branch number and one record, the request
    /// the reference client writes, and the answering core's answer to it.
    fn drug_case(want_consent: bool) -> (DrugTask, File, File) {
        use fakes::eligibility::health_info::standing_consents;
        use fakes::eligibility::{AnswerConfig, Population, PopulationConfig, Service};
        let pop = Population::new(PopulationConfig {
            seed: 1,
            households: 400,
            ..Default::default()
        });
        let inst = "1313120014".parse().unwrap();
        let mut svc = Service::new(pop.clone(), inst, AnswerConfig::default());
        let c = svc.others.config.clone();
        let date = pop.config().epoch;
        let k = (0..400u64)
            .flat_map(|h| (0..2).map(move |i| (h, i)))
            .find_map(|(h, i)| {
                let k = pop.key_of(h, i)?;
                (k.branch.is_some()
                    && pop.lookup(&k, date).records.len() == 1
                    && standing_consents(&pop, h, i, c.p_drug_consent, c.p_checkup_consent).0
                        == want_consent)
                    .then_some(k)
            })
            .expect("a person");
        let t = DrugTask {
            id: "d01".into(),
            insurer_number: k.insurer_number.to_string(),
            insured_card_symbol: k.symbol.clone(),
            insured_identification_number: k.number.clone(),
            insured_branch_number: k.branch.clone().unwrap(),
            start_month: "202305".into(),
            end_month: "202404".into(),
        };
        let req = crate::conformance::clients::drug_request(&t, "1313120014", "d01");
        let ans = svc
            .answer_other(
                MessageKind::DrugInfo,
                &req,
                fakes::time::VirtualTime::at(date, 9, 0),
            )
            .render();
        (
            t,
            f("YZKsiquc01req_d01.xml", &req),
            f("YZKsiquc01res_d01.xml", &ans),
        )
    }

    fn drug_line(outcome: &str, code: &str) -> ResultLine {
        ResultLine {
            task: Some("d01".into()),
            outcome: Some(outcome.into()),
            result_code: Some(code.into()),
            ..Default::default()
        }
    }

    #[test]
    fn drug_info_wants_the_answers_result_code() {
        let (t, req, ans) = drug_case(true);
        let tasks = [(t.clone(), true)];
        let (taken, answers) = ([req.clone()], [ans.clone()]);
        let e = |results: &[ResultLine]| {
            drug_info(&DrugEvidence {
                institution: "1313120014",
                tasks: &tasks,
                taken: &taken,
                answers: &answers,
                results,
            })
        };
        let c = e(&[drug_line("provided", "1")]);
        assert!(c.passed, "{}", c.detail);
        assert!(!e(&[drug_line("provided", "2")]).passed);
        assert!(!e(&[]).passed);
        // Never asked, or asked for another institution: nothing to report from.
        let none = drug_info(&DrugEvidence {
            institution: "1313120014",
            tasks: &tasks,
            taken: &[],
            answers: &[],
            results: &[drug_line("provided", "1")],
        });
        assert!(
            !none.passed && none.detail.contains("reached"),
            "{}",
            none.detail
        );
        let other = drug_info(&DrugEvidence {
            institution: "1313120022",
            tasks: &tasks,
            taken: &taken,
            answers: &answers,
            results: &[drug_line("provided", "1")],
        });
        assert!(
            !other.passed && other.detail.contains("MedicalInstitutionCode"),
            "{}",
            other.detail
        );
    }

    #[test]
    fn consent_wants_no_consent_reported_not_provided() {
        let (t, req, ans) = drug_case(false);
        let tasks = [(t, false)];
        let (taken, answers) = ([req], [ans]);
        let e = |results: &[ResultLine]| {
            consent(&DrugEvidence {
                institution: "1313120014",
                tasks: &tasks,
                taken: &taken,
                answers: &answers,
                results,
            })
        };
        let c = e(&[drug_line("not-provided", "2")]);
        assert!(c.passed, "{}", c.detail);
        let c = e(&[drug_line("provided", "2")]);
        assert!(!c.passed && c.detail.contains("no consent"), "{}", c.detail);
        // The consenting patient alone does not test the gate.
        let (t, req, ans) = drug_case(true);
        let c = consent(&DrugEvidence {
            institution: "1313120014",
            tasks: &[(t, true)],
            taken: &[req],
            answers: &[ans],
            results: &[drug_line("provided", "1")],
        });
        assert!(
            !c.passed && c.detail.contains("without consent"),
            "{}",
            c.detail
        );
    }
}
