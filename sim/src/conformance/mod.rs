//! The vendor conformance gate (`onsim conformance`): run a clinic system (the
//! system under test, SUT) against the qualification terminal's file drop and judge
//! what it does, requirement by requirement.
//!
//! The harness plays everyone else: the patients (the tasks it hands the SUT), the
//! card and reader (confirmations it drops into `face/`, including an expired and a
//! locked card), the terminal (the real file-drop driver, [`crate::terminal`]), and
//! the carrier/implementing body (an outage during which requests are taken and never
//! answered, so `res/` stays empty).
//!
//! The SUT is a command (`--client "CMD ARGS"`, run with `sh -c`) that reads its
//! instructions from environment variables ([`env`]) and writes its interpretation of
//! every answer to `ONSIM_RESULTS` (JSON lines, [`ResultLine`]). Built-in clients
//! ([`clients`]) show both a conforming implementation and deliberately broken ones.
//!
//! What the harness does to the client (the outage, the card refusals, slow answers)
//! and the limits it gives it come from a gate file ([`gate`]); the built-in gate is
//! one, and `onsim conformance --scenario FILE` runs a vendor's own.
//!
//! Every run is bounded: the SUT gets a time limit (default 20 s) and is killed after
//! it; a conforming client finishes in about two seconds.

pub mod clients;
pub mod evidence;
pub mod gate;
pub mod judge;
pub mod plan;
pub mod report;
pub mod session;

pub use gate::GateSpec;
pub use judge::CheckResult;
pub use report::{junit, RunReport};
pub use session::{run, ClientSpec, RunConfig};

use serde::{Deserialize, Serialize};

/// The requirements, in report order: (id, what is checked).
pub const REQUIREMENTS: &[(&str, &str)] = &[
    (
        "REQ-FILE-NAME",
        "every request file is named req/OQSsiquc01req_<task id>[_<attempt>].xml (letters, digits, '-', '_'), written atomically (no partial file is ever taken)",
    ),
    (
        "REQ-ENCODING",
        "every request declares in its XML declaration an encoding the terminal reads (fakes::eligibility::encoding::code_of_label: Shift_JIS and its aliases, or UTF-8) and is valid in it, exactly as the terminal decodes it",
    ),
    (
        "REQ-ENCODING-CCI",
        "a task with character_code asks for it (MessageHeader/CharacterCodeIdentifier: 0 UTF-8, 1 Shift_JIS), and the client reads the answer in the encoding it declares: the reported insurer_name is the population's InsurerName",
    ),
    (
        "REQ-FIELDS",
        "every request is a well-formed single inquiry (XmlMsg/MessageHeader/MessageBody/QualificationConfirmSearchInfo) carrying the task's card numbers and birthdate, ONSIM_INSTITUTION_CODE and ONSIM_CONFIRMATION_DATE",
    ),
    ("REQ-VALIDITY-1", "QualificationValidity 1 (valid) reported as validity 1"),
    ("REQ-VALIDITY-2", "QualificationValidity 2 (invalid) reported as validity 2"),
    (
        "REQ-VALIDITY-3",
        "QualificationValidity 3 (invalid, newer record exists) reported as validity 3",
    ),
    ("REQ-VALIDITY-4", "QualificationValidity 4 (no record) reported as validity 4"),
    (
        "REQ-VALIDITY-5",
        "QualificationValidity 5 (several matches) reported as validity 5",
    ),
    (
        "REQ-ABNORMAL",
        "an answer with SegmentOfResult 9 is reported as outcome \"abnormal\" with its ErrorCode, never as a valid qualification",
    ),
    (
        "REQ-RETRY",
        "a request the terminal took but never answered (outage) is withdrawn and dropped again under a new attempt name, at most ONSIM_MAX_ATTEMPTS times, at least ONSIM_RETRY_MIN_INTERVAL_MS apart, until answered",
    ),
    (
        "REQ-CARD-VALID",
        "a card confirmation arriving in face/ is read: status \"valid\" and its QualificationValidity",
    ),
    (
        "REQ-CARD-EXPIRED",
        "a face/ confirmation with ProcessingResultCode C001 (card certificate expired) is reported as status \"card-expired\"",
    ),
    (
        "REQ-CARD-LOCKED",
        "a face/ confirmation with ProcessingResultCode C002 (PIN locked) is reported as status \"card-locked\"",
    ),
    (
        "REQ-FACE-NAME",
        "every face/ file, named OQSsiquc01res_face_<institution><20 hex>_<yyyyMMddHHmmss>.xml, is found by the filter OQSsiquc01res_face_.+_(\\d{14})\\.xml and reported by exactly one result line",
    ),
    (
        "REQ-BULK",
        "the bulk group is uploaded in one OQSmuquc01req carrying every patient of the group, downloaded with OQSmuquc02req whose header holds only MedicalInstitutionCode and whose body holds the ReceptionNumber, retried while SegmentOfResult is 2, and each patient is reported from its own BulkConfirmUnit (matched by the echoed ArbitraryIdentifier) with its QualificationValidity",
    ),
    (
        "REQ-ERR-FILE",
        "a bulk download for a reception number the terminal never issued gets an abnormal answer (ErrorCode 4001) and an .err file beside the request in req/; the client reports it as outcome \"abnormal\" with that ErrorCode",
    ),
    (
        "REQ-DRUG-INFO",
        "each drug task is asked with a well-formed req/YZKsiquc01req_<task id>.xml (docs/INTERFACE.md §5: the card numbers of the task, ONSIM_INSTITUTION_CODE, ArbitraryFileIdentifier, StartDate/EndDate yyyyMM, FileCategory, PrDiInfClassification, MedicalTreatmentFlag, as fakes::eligibility::health_info::read_request reads them) that the terminal answers normally, and the reported result_code is the answer's ResultCode",
    ),
    (
        "REQ-CONSENT",
        "a drug task is reported outcome \"provided\" exactly when the answer's ResultCode is 1 (records provided); the task of a patient without consent (ResultCode 2) is reported \"not-provided\", never as records provided",
    ),
    (
        "REQ-NO-LOSS",
        "every task reaches the terminal, no task is answered twice (a retry never leaves its earlier attempt behind), and ONSIM_RESULTS has exactly one line per task",
    ),
    (
        "REQ-EXIT",
        "the client exits with status 0 within ONSIM_TIME_LIMIT_MS",
    ),
];

/// Environment variables the harness sets for the SUT.
pub mod env {
    /// The terminal's link folder, with `req/`, `res/` and `face/`.
    pub const TERMINAL_DIR: &str = "ONSIM_TERMINAL_DIR";
    /// The institution code (医療機関等コード) the terminal is set up for.
    pub const INSTITUTION_CODE: &str = "ONSIM_INSTITUTION_CODE";
    /// A JSON file: [`super::TasksFile`].
    pub const TASKS: &str = "ONSIM_TASKS";
    /// Where the SUT writes its interpretation, one JSON object per line.
    pub const RESULTS: &str = "ONSIM_RESULTS";
    /// The confirmation date to put in requests (YYYYMMDD).
    pub const CONFIRMATION_DATE: &str = "ONSIM_CONFIRMATION_DATE";
    /// Wall-clock budget of the whole run; the SUT is killed after it.
    pub const TIME_LIMIT_MS: &str = "ONSIM_TIME_LIMIT_MS";
    /// How long to wait for an answer before retrying.
    pub const ANSWER_TIMEOUT_MS: &str = "ONSIM_ANSWER_TIMEOUT_MS";
    /// Most request files per task (first attempt included).
    pub const MAX_ATTEMPTS: &str = "ONSIM_MAX_ATTEMPTS";
    /// Least time between two attempts of one task.
    pub const RETRY_MIN_INTERVAL_MS: &str = "ONSIM_RETRY_MIN_INTERVAL_MS";
    /// How many card confirmations will arrive in `face/`.
    pub const EXPECTED_FACE_FILES: &str = "ONSIM_EXPECTED_FACE_FILES";
}

/// `ONSIM_TASKS`: what the SUT has to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TasksFile {
    pub version: u32,
    pub institution_code: String,
    /// YYYYMMDD.
    pub confirmation_date: String,
    pub time_limit_ms: u64,
    pub answer_timeout_ms: u64,
    pub max_attempts: u32,
    pub retry_min_interval_ms: u64,
    pub expected_face_files: usize,
    pub tasks: Vec<Task>,
    /// A bulk group: upload all of them in one `OQSmuquc01req_<bulk_id>.xml`, then
    /// download with `OQSmuquc02req_<bulk_id>_<attempt>.xml`; one result line each.
    #[serde(default)]
    pub bulk: Vec<Task>,
    /// The id to put in the bulk file names.
    #[serde(default)]
    pub bulk_id: String,
    /// A bulk download to make for a reception number nobody issued
    /// (`OQSmuquc02req_<bulk_id>_<id>.xml`); report it as task `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_download: Option<UnknownDownload>,
    /// 薬剤情報 retrievals: one `YZKsiquc01req_<id>.xml` each, one result line each
    /// (outcome `provided`, `not-provided`, `abnormal` or `no-answer`, and the
    /// answer's `result_code`). Absent in older tasks files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drug: Vec<DrugTask>,
}

/// A 薬剤情報 retrieval (`YZKsiquc01`, docs/INTERFACE.md §5): the card numbers go in
/// the request's `MessageHeader`, the period in its `MessageBody`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DrugTask {
    /// Letters and digits; put it in the request file name.
    pub id: String,
    pub insurer_number: String,
    pub insured_card_symbol: Option<String>,
    pub insured_identification_number: String,
    /// Two digits (`BranchNumber` is required in this request).
    pub insured_branch_number: String,
    /// `StartDate`, yyyyMM.
    pub start_month: String,
    /// `EndDate`, yyyyMM.
    pub end_month: String,
}

/// A download the terminal must refuse (its `.err` file: docs/INTERFACE.md §1).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct UnknownDownload {
    pub id: String,
    pub reception_number: String,
}

/// One patient to confirm by the numbers on the insurance card.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    /// Letters and digits; put it in the request file name.
    pub id: String,
    pub insurer_number: String,
    pub insured_card_symbol: Option<String>,
    pub insured_identification_number: String,
    pub insured_branch_number: Option<String>,
    /// YYYYMMDD.
    pub birthdate: String,
    /// The `CharacterCodeIdentifier` to put in the request header (0 = UTF-8,
    /// 1 = Shift_JIS: docs/INTERFACE.md §2); absent: put none (the terminal's
    /// default encoding applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub character_code: Option<u8>,
}

/// One line of `ONSIM_RESULTS`: either a task's outcome or a face file's.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ResultLine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// `answered`, `abnormal` or `no-answer` (tasks); `provided`, `not-provided`,
    /// `abnormal` or `no-answer` (drug tasks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// QualificationValidity 1–5 when answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<u8>,
    /// ErrorCode of an abnormal answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// InsurerName (保険者名称) of the answer's first result, as the client decoded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insurer_name: Option<String>,
    /// `ResultCode` of a 薬剤情報 answer (`1` provided, `2` not provided, `9` refused:
    /// [`fakes::eligibility::health_info::HealthResult`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_code: Option<String>,
    /// The face/ file name (card confirmations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face: Option<String>,
    /// `valid`, `card-expired`, `card-locked` or `error` (face files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// ProcessingResultCode of a card confirmation refused because the card's
/// certificate expired: the terminal's own rule
/// ([`fakes::eligibility::card_refusal::CardRefusal::code`], *(our choice)* there).
pub const CARD_EXPIRED_CODE: &str = "C001";
/// ProcessingResultCode of a card confirmation refused because the PIN is locked
/// ([`fakes::eligibility::card_refusal::CardRefusal::code`]).
pub const CARD_LOCKED_CODE: &str = "C002";

#[cfg(test)]
mod tests {
    use fakes::eligibility::card_refusal::CardRefusal;

    #[test]
    fn card_codes_are_the_terminals() {
        assert_eq!(
            super::CARD_EXPIRED_CODE,
            CardRefusal::CertificateExpired.code()
        );
        assert_eq!(super::CARD_LOCKED_CODE, CardRefusal::PinLocked.code());
    }
}
