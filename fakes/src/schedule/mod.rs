//! The two rule sets, r2021 and r2024 (docs/DOMAIN.md §5), as one function from a
//! designation date to dated milestones: [`compute`] works out the dates every rule
//! set shares, and each rule set ([`r2021`], [`r2024`], implementing [`Rules`]) adds
//! its own milestones and answers what it allows.
//!
//! The bureau and implementing-body actors take their deadlines from here, and so does
//! `onsim schedule`: a rule is written once. Each milestone says which rule produced
//! it, in words a user can check against the notices in `docs/seeds/`:
//! - r2021: 保連発0120第1号・保医発0120第1号 (2021-01-20) and the 2021-01-21 事務連絡;
//! - r2024: 保連発1226第1号・保医発1226第8号 (2023-12-26) and its guide.
//!
//! Bureaus publish their own tables; a [`PublishedTable`] overrides the rule dates it
//! covers and every difference is listed as a [`Deviation`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::calendar::{self, BusinessCalendar, CalendarError, LAST_ANNOUNCED_YEAR};
use crate::codes::Bureau;

pub mod r2021;
pub mod r2024;
pub mod rules;

use rules::month_start_before;
pub use rules::{mandate_start, Obligation, RuleDates, Rules};

/// A rule set: which notices govern the onboarding.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RuleSet {
    /// The 2021 rules: temporary code first, answer by the 10th of M−1.
    R2021,
    /// The 2024 revision: reception number first, answer by the 10th of M−2.
    R2024,
}

impl RuleSet {
    /// Every registered rule set, oldest first.
    pub const ALL: [RuleSet; 2] = [RuleSet::R2021, RuleSet::R2024];

    /// The registry: the module that implements each rule set.
    pub fn rules(self) -> &'static dyn Rules {
        match self {
            RuleSet::R2021 => &r2021::R2021,
            RuleSet::R2024 => &r2024::R2024,
        }
    }

    pub fn id(self) -> &'static str {
        self.rules().id()
    }

    /// The first designation date the rule set covers.
    pub fn first_designation(self) -> NaiveDate {
        self.rules().first_designation()
    }

    /// Months between the bureau's answer and designation (1 under r2021, 2 under r2024).
    pub fn answer_lead_months(self) -> u32 {
        self.rules().answer_lead_months()
    }

    /// See [`Rules::has_temporary_code`].
    pub fn has_temporary_code(self) -> bool {
        self.rules().has_temporary_code()
    }

    /// See [`Rules::request_travels_with_application`].
    pub fn request_travels_with_application(self) -> bool {
        self.rules().request_travels_with_application()
    }

    /// See [`Rules::implementing_body_supplies_reader`].
    pub fn implementing_body_supplies_reader(self) -> bool {
        self.rules().implementing_body_supplies_reader()
    }

    /// See [`Rules::limited_type_from`].
    pub fn limited_type_from(self) -> Option<NaiveDate> {
        self.rules().limited_type_from()
    }

    /// See [`Rules::not_designated_deletes_record`].
    pub fn not_designated_deletes_record(self) -> bool {
        self.rules().not_designated_deletes_record()
    }
}

impl fmt::Display for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for RuleSet {
    type Err = ScheduleError;
    fn from_str(s: &str) -> Result<Self, ScheduleError> {
        RuleSet::ALL
            .into_iter()
            .find(|r| r.id() == s)
            .ok_or_else(|| ScheduleError::UnknownRuleSet(s.to_string()))
    }
}

/// What kind of clinic is onboarding; a medical+dental clinic (医科歯科併設) has two
/// institution codes and so files two requests.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ClinicKind {
    Medical,
    Dental,
    Pharmacy,
    MedicalDental,
}

impl ClinicKind {
    /// How many reception-number requests (and certificates per terminal) it needs.
    pub fn codes_needed(self) -> u8 {
        match self {
            ClinicKind::MedicalDental => 2,
            _ => 1,
        }
    }
}

/// Who acts at a milestone.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Actor {
    Clinic,
    Bureau,
    ImplementingBody,
    ReaderVendor,
    Carrier,
    SystemVendor,
}

/// Every milestone either rule set can produce. The ids are a contract (docs/DESIGN.md).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum MilestoneId {
    /// r2021 ①: temporary code (仮コード) requested from the implementing body.
    TemporaryCodeRequest,
    /// r2021 ③: free reader requested from the implementing body (ships 4–5 months).
    ReaderApplication,
    /// r2024 ①: face-auth reader chosen and ordered from a vendor.
    ReaderOrder,
    /// r2024 ②: connectable network line ordered.
    NetworkOrder,
    /// r2024 ③④: estimate and order from the system vendor.
    SystemVendorOrder,
    /// The bureau's deadline for the reception-number request (受付番号情報提供依頼書).
    ReceptionRequestDeadline,
    /// The bureau sends the answer with the reception number.
    BureauAnswerDispatch,
    /// The reception number is due at the implementing body.
    ImplementingBodyDeadline,
    /// Portal account usable (about 4 business days after the reception number).
    PortalAccountReady,
    /// r2021 ⑤: the reader ships once the reception number was shown.
    ReaderShipment,
    /// Usage application (利用申請) due.
    UsageApplicationDeadline,
    /// Client-certificate application (電子証明書発行申請) due.
    CertificateApplicationDeadline,
    /// System installation, connectivity check, operation test.
    SystemInstallation,
    /// Designation application (指定申請) due at the bureau.
    DesignationApplicationDeadline,
    /// Designation (指定) — online confirmation must work from this day.
    Designation,
    /// After the regional council (地医協) approves, the bureau sends the codes.
    CodesToImplementingBody,
}

impl MilestoneId {
    pub fn as_str(self) -> &'static str {
        use MilestoneId::*;
        match self {
            TemporaryCodeRequest => "temporary-code-request",
            ReaderApplication => "reader-application",
            ReaderOrder => "reader-order",
            NetworkOrder => "network-order",
            SystemVendorOrder => "system-vendor-order",
            ReceptionRequestDeadline => "reception-request-deadline",
            BureauAnswerDispatch => "bureau-answer-dispatch",
            ImplementingBodyDeadline => "implementing-body-deadline",
            PortalAccountReady => "portal-account-ready",
            ReaderShipment => "reader-shipment",
            UsageApplicationDeadline => "usage-application-deadline",
            CertificateApplicationDeadline => "certificate-application-deadline",
            SystemInstallation => "system-installation",
            DesignationApplicationDeadline => "designation-application-deadline",
            Designation => "designation",
            CodesToImplementingBody => "codes-to-implementing-body",
        }
    }
}

impl fmt::Display for MilestoneId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a milestone's date came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Rule,
    Published,
}

/// One dated step of the process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Milestone {
    pub id: MilestoneId,
    pub date: NaiveDate,
    pub source: Source,
    /// Why this date, in words a user can check against the notices.
    pub rule: String,
    pub actor: Actor,
}

/// A published date that differs from the rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deviation {
    pub id: MilestoneId,
    pub rule_date: NaiveDate,
    pub published_date: NaiveDate,
}

/// A bureau's deadline policy for the reception-number request. The notices let each
/// bureau set it ("about two months before designation" under r2024).
///
/// *(our choice)* By default the deadline is the last open day of the month before
/// the answer month (M−3 under r2024, M−2 under r2021), leaving the bureau at least a
/// week to answer by the 10th. Bureaus may move it by whole business days.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BureauPolicy {
    /// Business days to move the request deadline (negative: earlier).
    #[serde(default)]
    pub request_deadline_shift: i32,
}

/// Everything the schedule depends on.
#[derive(Debug, Clone)]
pub struct ScheduleRequest {
    pub designation: NaiveDate,
    pub rules: RuleSet,
    pub bureau: Option<Bureau>,
    pub clinic: ClinicKind,
    /// Paper-claims clinics (紙レセプト) are outside the mandate.
    pub paper_claims: bool,
    /// Accept designation dates in years whose holidays are only projected.
    pub allow_projected: bool,
    /// The day the clinic asks; a designation on or before it would be retroactive.
    pub as_of: Option<NaiveDate>,
    pub calendar: BusinessCalendar,
    pub policy: BureauPolicy,
    /// System installation date, if the clinic has one planned; otherwise the guide's
    /// recommendation (see [`default_installation`]).
    pub installation: Option<NaiveDate>,
}

impl ScheduleRequest {
    pub fn new(designation: NaiveDate, rules: RuleSet) -> Self {
        ScheduleRequest {
            designation,
            rules,
            bureau: None,
            clinic: ClinicKind::Medical,
            paper_claims: false,
            allow_projected: false,
            as_of: None,
            calendar: BusinessCalendar::standard(),
            policy: BureauPolicy::default(),
            installation: None,
        }
    }
}

/// Why a schedule cannot be given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("unknown rule set {0:?}; expected r2021 or r2024")]
    UnknownRuleSet(String),
    #[error(
        "designation date {0} is not on the 1st of a month; designations take effect on the 1st"
    )]
    NotFirstOfMonth(NaiveDate),
    #[error("designation {designation} is on or before {as_of}: a retroactive designation (指定期日の遡及) is outside this process")]
    Retroactive {
        designation: NaiveDate,
        as_of: NaiveDate,
    },
    #[error("designation {designation} is before {rules} took effect (first designation it covers: {first})")]
    BeforeRules {
        designation: NaiveDate,
        rules: RuleSet,
        first: NaiveDate,
    },
    #[error("designation {designation} falls after {LAST_ANNOUNCED_YEAR}, whose holidays are not announced yet; pass --allow-projected to use computed holidays")]
    Projected { designation: NaiveDate },
    #[error("the bureau's request deadline {deadline} would not be before its answer date {answer}; use a smaller request_deadline_shift")]
    DeadlineAfterAnswer {
        deadline: NaiveDate,
        answer: NaiveDate,
    },
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error("{file}:{line}:{column}: {message}")]
    Published {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Dates a bureau published for one designation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedRow {
    pub bureau_answer_dispatch: NaiveDate,
    pub implementing_body_deadline: NaiveDate,
}

/// A published deadline table (`designation,bureau_answer_dispatch,implementing_body_deadline`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishedTable {
    pub rows: BTreeMap<NaiveDate, PublishedRow>,
}

/// Years a published table's dates may fall in *(our choice: the programme began in
/// 2021; anything outside this span is a typo)*.
pub const PUBLISHED_YEARS: std::ops::RangeInclusive<i32> = 2000..=2099;

const PUBLISHED_HEADER: [&str; 3] = [
    "designation",
    "bureau_answer_dispatch",
    "implementing_body_deadline",
];

impl PublishedTable {
    /// Parse the CSV text of `file` (the name is only used in messages). A UTF-8 BOM,
    /// CRLF line ends, blank lines and double-quoted fields are accepted.
    ///
    /// Written by hand rather than with the `csv` crate so every error can name the
    /// exact line *and column* of the bad field.
    pub fn parse(file: &str, text: &str) -> Result<Self, ScheduleError> {
        let err = |line: usize, column: usize, message: String| ScheduleError::Published {
            file: file.to_string(),
            line,
            column,
            message,
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut rows = BTreeMap::new();
        let mut header_seen = false;
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            // Split into (column, field) pairs.
            let mut fields = Vec::new();
            let mut col = 1;
            for f in line.split(',') {
                let t = f.trim();
                let t = t
                    .strip_prefix('"')
                    .and_then(|x| x.strip_suffix('"'))
                    .unwrap_or(t);
                fields.push((col, t));
                col += f.chars().count() + 1;
            }
            if !header_seen {
                let names: Vec<&str> = fields.iter().map(|(_, f)| *f).collect();
                if names != PUBLISHED_HEADER {
                    return Err(err(
                        line_no,
                        1,
                        format!(
                            "expected the header {:?}, found {:?}",
                            PUBLISHED_HEADER.join(","),
                            line
                        ),
                    ));
                }
                header_seen = true;
                continue;
            }
            if fields.len() != 3 {
                return Err(err(
                    line_no,
                    fields.last().map_or(1, |f| f.0),
                    format!("expected 3 fields, found {}", fields.len()),
                ));
            }
            let mut dates = [NaiveDate::MIN; 3];
            for (k, (c, f)) in fields.iter().enumerate() {
                // Exactly YYYY-MM-DD: chrono's %Y also takes a sign and more digits
                // (`+99999-06-01`).
                let shaped = f.len() == 10
                    && f.bytes().enumerate().all(|(i, b)| {
                        if i == 4 || i == 7 {
                            b == b'-'
                        } else {
                            b.is_ascii_digit()
                        }
                    });
                let date = NaiveDate::parse_from_str(f, "%Y-%m-%d")
                    .ok()
                    .filter(|_| shaped)
                    .ok_or_else(|| {
                        err(
                            line_no,
                            *c,
                            format!(
                                "{}: {f:?} is not an ISO date (YYYY-MM-DD)",
                                PUBLISHED_HEADER[k]
                            ),
                        )
                    })?;
                if !PUBLISHED_YEARS.contains(&date.year()) {
                    return Err(err(
                        line_no,
                        *c,
                        format!(
                            "{}: {date} is outside the years a table can cover ({}..={})",
                            PUBLISHED_HEADER[k],
                            PUBLISHED_YEARS.start(),
                            PUBLISHED_YEARS.end()
                        ),
                    ));
                }
                dates[k] = date;
            }
            if dates[0].day() != 1 {
                return Err(err(
                    line_no,
                    1,
                    format!("designation {} is not on the 1st of a month", dates[0]),
                ));
            }
            for (k, d) in dates.iter().enumerate().skip(1) {
                if *d >= dates[0] {
                    return Err(err(
                        line_no,
                        fields[k].0,
                        format!(
                            "{} {d} is not before the designation {}",
                            PUBLISHED_HEADER[k], dates[0]
                        ),
                    ));
                }
            }
            let row = PublishedRow {
                bureau_answer_dispatch: dates[1],
                implementing_body_deadline: dates[2],
            };
            if rows.insert(dates[0], row).is_some() {
                return Err(err(
                    line_no,
                    1,
                    format!("designation {} is listed twice", dates[0]),
                ));
            }
        }
        if !header_seen {
            return Err(err(
                1,
                1,
                format!(
                    "empty file; expected the header {}",
                    PUBLISHED_HEADER.join(",")
                ),
            ));
        }
        Ok(PublishedTable { rows })
    }
}

/// The computed schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schedule {
    pub designation: NaiveDate,
    pub rules: RuleSet,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bureau: Option<Bureau>,
    pub clinic: ClinicKind,
    /// True when some date depends on holidays that are computed, not announced.
    pub projected: bool,
    pub milestones: Vec<Milestone>,
    pub deviations: Vec<Deviation>,
    /// Remarks a user should read (two requests for a medical+dental clinic, …).
    pub notes: Vec<String>,
}

impl Schedule {
    /// The milestone with this id, if the rule set has it.
    pub fn get(&self, id: MilestoneId) -> Option<&Milestone> {
        self.milestones.iter().find(|m| m.id == id)
    }

    /// Its date, if the rule set has the milestone.
    pub fn date(&self, id: MilestoneId) -> Option<NaiveDate> {
        self.get(id).map(|m| m.date)
    }
}

/// The installation date the guide's plan implies when the clinic has none
/// (see each rule set's [`Rules::default_installation`]).
pub fn default_installation(
    rules: RuleSet,
    cal: &BusinessCalendar,
    designation: NaiveDate,
) -> Result<NaiveDate, CalendarError> {
    rules.rules().default_installation(cal, designation)
}

/// Turn a request into the dated milestones of its rule set.
pub fn compute(
    req: &ScheduleRequest,
    published: Option<&PublishedTable>,
) -> Result<Schedule, ScheduleError> {
    compute_with(req.rules.rules(), req, published)
}

/// [`compute`] with any implementation of [`Rules`] (a rule set not yet registered in
/// [`RuleSet`], e.g. in a test); `req.rules` is only copied into the result.
pub fn compute_with(
    rules: &dyn Rules,
    req: &ScheduleRequest,
    published: Option<&PublishedTable>,
) -> Result<Schedule, ScheduleError> {
    let m = req.designation;
    if m.day() != 1 {
        return Err(ScheduleError::NotFirstOfMonth(m));
    }
    if let Some(as_of) = req.as_of {
        if m <= as_of {
            return Err(ScheduleError::Retroactive {
                designation: m,
                as_of,
            });
        }
    }
    let first = rules.first_designation();
    if m < first {
        return Err(ScheduleError::BeforeRules {
            designation: m,
            rules: req.rules,
            first,
        });
    }
    if calendar::is_projected(m) && !req.allow_projected {
        return Err(ScheduleError::Projected { designation: m });
    }
    let cal = &req.calendar;
    let mut ms: Vec<Milestone> = Vec::new();
    let mut push = |id, date, source, rule: String, actor| {
        ms.push(Milestone {
            id,
            date,
            source,
            rule,
            actor,
        })
    };
    let lead = rules.answer_lead_months();
    let answer_month = month_start_before(m, lead);
    let (am_y, am_m) = (answer_month.year(), answer_month.month());

    // Published dates win where the table has this designation.
    let row = published.and_then(|t| t.rows.get(&m)).copied();
    let mut deviations = Vec::new();

    // The bureau's answer: the 10th of the answer month, or the next open day.
    let answer_rule = cal.nth_or_next_open(am_y, am_m, 10)?;
    let (answer, answer_src) = match row {
        Some(r) => (r.bureau_answer_dispatch, Source::Published),
        None => (answer_rule, Source::Rule),
    };
    if answer != answer_rule {
        deviations.push(Deviation {
            id: MilestoneId::BureauAnswerDispatch,
            rule_date: answer_rule,
            published_date: answer,
        });
    }
    // The implementing body's deadline: the 15th of the answer month, or the next open
    // day when the 15th is closed. r2021: the official 2021–22 table (seed 000 別紙2)
    // rolls every closed 15th, e.g. Monday 2021-05-17 for designation 2021-06-01, as the
    // seeds state for the bureau's 10th (閉庁日の場合は原則翌開庁日). r2024 *(our
    // choice)*: seed 001 says only "通常、…前々月の15日までに"; we roll the same way
    // (docs/SEEDS.md).
    let ib_rule = cal.nth_or_next_open(am_y, am_m, 15)?;
    let (ib, ib_src) = match row {
        Some(r) => (r.implementing_body_deadline, Source::Published),
        None => (ib_rule, Source::Rule),
    };
    if ib != ib_rule {
        deviations.push(Deviation {
            id: MilestoneId::ImplementingBodyDeadline,
            rule_date: ib_rule,
            published_date: ib,
        });
    }

    // The request deadline: the last open day of the month before the answer month,
    // shifted by the bureau's policy.
    let base = cal.open_on_or_before(answer_month.pred_opt().expect("in range"))?;
    let request_deadline = cal.add_business_days(base, req.policy.request_deadline_shift)?;
    let request_deadline = if req.policy.request_deadline_shift == 0 {
        base
    } else {
        request_deadline
    };
    // In a rule set's first month the usual deadline can fall before the procedure
    // applies (000: requests "令和3年2月以降"; 001: "令和6年2月から"): then it is
    // `FIRST_MONTH_DEADLINE_LEAD` business days before the answer, and never before
    // the first day of the procedure.
    let start = rules.procedure_start();
    let first_month = request_deadline < start;
    let request_deadline = if first_month {
        cal.open_on_or_after(start)?
            .max(cal.add_business_days(answer, -rules::FIRST_MONTH_DEADLINE_LEAD)?)
    } else {
        request_deadline
    };
    if request_deadline >= answer {
        return Err(ScheduleError::DeadlineAfterAnswer {
            deadline: request_deadline,
            answer,
        });
    }
    let bureau_txt = req.bureau.map_or("the bureau".to_string(), |b| {
        format!("{} ({})", b.name_ja(), b.id())
    });
    let mut shift_txt = match req.policy.request_deadline_shift {
        0 => String::new(),
        s => format!(", moved {s} business days by the bureau's policy"),
    };
    if first_month {
        shift_txt.push_str(&format!(
            "; first month of the procedure (requests from {start}): (our choice) {} business days before the answer",
            rules::FIRST_MONTH_DEADLINE_LEAD
        ));
    }

    let portal = cal.add_business_days(ib, 4)?;
    let installation = match req.installation {
        Some(d) => d,
        None => rules.default_installation(cal, m)?,
    };
    let cert_deadline = cal.add_business_days(installation, -5)?;
    let codes_sent = cal.open_on_or_after(m)?;

    let dates = RuleDates {
        designation: m,
        lead,
        request_deadline,
        answer,
        answer_src,
        implementing_body_deadline: ib,
        implementing_body_src: ib_src,
        portal,
        installation,
        installation_planned: req.installation.is_some(),
        cert_deadline,
        bureau_txt,
        shift_txt,
        paper_claims: req.paper_claims,
    };
    for x in rules.milestones(cal, &dates)? {
        push(x.id, x.date, x.source, x.rule, x.actor);
    }
    push(
        MilestoneId::Designation,
        m,
        Source::Rule,
        "designation (指定) on the 1st; online confirmation must work from this day".into(),
        Actor::Bureau,
    );
    push(
        MilestoneId::CodesToImplementingBody,
        codes_sent,
        Source::Rule,
        "after the regional council (地医協) approves, the bureau sends the new codes to the implementing body (on or after designation, first open day)".into(),
        Actor::Bureau,
    );
    // Stable order: by date, then by the process order of the ids.
    ms.sort_by_key(|x| (x.date, x.id));

    let mut notes = Vec::new();
    if req.clinic == ClinicKind::MedicalDental {
        notes.push("medical+dental clinic (医科歯科併設): two institution codes, so two reception-number requests and two certificates per terminal".into());
    }
    if req.paper_claims && rules.limited_type_from().is_some() {
        notes.push("paper-claims clinic: outside the mandate; the limited type (資格確認限定型) is available".into());
    }
    if let Some((from, by)) = rules.superseded() {
        if m >= from {
            notes.push(format!(
                "{} was replaced by {by} for designations from {from}; shown for comparison",
                rules.id()
            ));
        }
    }
    let projected = ms.iter().any(|x| calendar::is_projected(x.date));
    Ok(Schedule {
        designation: m,
        rules: req.rules,
        bureau: req.bureau,
        clinic: req.clinic,
        projected,
        milestones: ms,
        deviations,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// Seed 000 別紙2 rolls a closed 15th to the next open day (docs/SEEDS.md); r2024
    /// does the same *(our choice)*.
    #[test]
    fn closed_fifteenth_rolls_to_the_next_open_day() {
        // 2021-05-15 is a Saturday: the official table gives Monday 2021-05-17.
        let s = compute(&ScheduleRequest::new(d("2021-06-01"), RuleSet::R2021), None).unwrap();
        assert_eq!(
            s.date(MilestoneId::ImplementingBodyDeadline),
            Some(d("2021-05-17"))
        );
        assert_eq!(
            s.date(MilestoneId::UsageApplicationDeadline),
            Some(d("2021-05-17"))
        );
        // 2025-06-15 is a Sunday.
        let s = compute(&ScheduleRequest::new(d("2025-08-01"), RuleSet::R2024), None).unwrap();
        assert_eq!(
            s.date(MilestoneId::ImplementingBodyDeadline),
            Some(d("2025-06-16"))
        );
    }

    /// No date a party must meet falls on a closed day, 2021–2027, in either rule set.
    /// Left out: designation itself (the 1st, fixed by the designation) and the
    /// "about N months before" start dates of the guides (目安, the 1st of a month),
    /// which say when to begin, not a deadline *(our choice, docs/SEEDS.md)*.
    #[test]
    fn no_deadline_falls_on_a_closed_day() {
        let guide_starts = [
            MilestoneId::Designation,
            MilestoneId::TemporaryCodeRequest,
            MilestoneId::ReaderApplication,
            MilestoneId::ReaderOrder,
            MilestoneId::NetworkOrder,
            MilestoneId::SystemVendorOrder,
        ];
        let cal = BusinessCalendar::standard();
        let mut checked = 0;
        for rules in RuleSet::ALL {
            let mut m = rules.first_designation();
            while m <= d("2027-12-01") {
                for paper_claims in [false, true] {
                    let mut req = ScheduleRequest::new(m, rules);
                    req.allow_projected = true;
                    req.paper_claims = paper_claims;
                    let s = compute(&req, None).unwrap();
                    for x in s
                        .milestones
                        .iter()
                        .filter(|x| !guide_starts.contains(&x.id))
                    {
                        assert!(
                            cal.is_open(x.date).unwrap(),
                            "{rules} designation {m}: {} on closed day {}",
                            x.id,
                            x.date
                        );
                        checked += 1;
                    }
                }
                m = m.checked_add_months(chrono::Months::new(1)).unwrap();
            }
        }
        assert!(checked > 1000, "checked {checked} milestones");
    }

    /// A third rule set is one module implementing [`Rules`]; `compute_with` runs it
    /// with no change anywhere else (registration in [`RuleSet`] names it in files).
    #[test]
    fn a_toy_rule_set_needs_only_its_module() {
        struct Toy;
        impl Rules for Toy {
            fn id(&self) -> &'static str {
                "toy"
            }
            fn first_designation(&self) -> NaiveDate {
                d("2030-01-01")
            }
            fn answer_lead_months(&self) -> u32 {
                3
            }
            fn procedure_start(&self) -> NaiveDate {
                d("2029-09-01")
            }
            fn not_designated_text(&self) -> &'static str {
                "not designated (toy)"
            }
            fn answer_text(&self) -> &'static str {
                "toy: answer by the 10th of M−3"
            }
            fn default_installation(
                &self,
                cal: &BusinessCalendar,
                designation: NaiveDate,
            ) -> Result<NaiveDate, CalendarError> {
                cal.add_business_days(designation, -20)
            }
            fn milestones(
                &self,
                _cal: &BusinessCalendar,
                d: &RuleDates,
            ) -> Result<rules::Milestones, ScheduleError> {
                let mut out = rules::Milestones::new();
                out.push(
                    MilestoneId::ImplementingBodyDeadline,
                    d.implementing_body_deadline,
                    d.implementing_body_src,
                    "toy: number to the implementing body by the 15th of M−3".into(),
                    Actor::ImplementingBody,
                );
                Ok(out)
            }
        }
        let mut req = ScheduleRequest::new(d("2030-01-01"), RuleSet::R2024);
        req.allow_projected = true;
        assert!(matches!(
            compute_with(
                &Toy,
                &ScheduleRequest {
                    designation: d("2029-12-01"),
                    ..req.clone()
                },
                None
            ),
            Err(ScheduleError::BeforeRules { .. })
        ));
        let s = compute_with(&Toy, &req, None).unwrap();
        // 2029-10-15 is a Monday; the answer month is three months before.
        assert_eq!(
            s.date(MilestoneId::ImplementingBodyDeadline),
            Some(d("2029-10-15"))
        );
        assert_eq!(s.date(MilestoneId::Designation), Some(d("2030-01-01")));
        assert!(s.date(MilestoneId::CodesToImplementingBody).is_some());
        assert!(
            s.date(MilestoneId::ReaderOrder).is_none(),
            "only what Toy adds"
        );
    }

    #[test]
    fn r2024_answer_rolls_past_closed_days() {
        // Designation 2024-04-01 → answer month February 2024: the 10th is a
        // Saturday, 11th Sunday (建国記念の日), 12th its substitute → 13th.
        let s = compute(&ScheduleRequest::new(d("2024-04-01"), RuleSet::R2024), None).unwrap();
        assert_eq!(
            s.date(MilestoneId::BureauAnswerDispatch),
            Some(d("2024-02-13"))
        );
        assert_eq!(
            s.date(MilestoneId::ImplementingBodyDeadline),
            Some(d("2024-02-15"))
        );
    }

    #[test]
    fn r2021_uses_m_minus_1() {
        let s = compute(&ScheduleRequest::new(d("2021-11-01"), RuleSet::R2021), None).unwrap();
        // 2021-10-10 is a Sunday → Monday 11th (an ordinary day in 2021).
        assert_eq!(
            s.date(MilestoneId::BureauAnswerDispatch),
            Some(d("2021-10-11"))
        );
        assert_eq!(
            s.date(MilestoneId::ImplementingBodyDeadline),
            Some(d("2021-10-15"))
        );
    }

    #[test]
    fn refusals() {
        let r = |date: &str, rules| compute(&ScheduleRequest::new(d(date), rules), None);
        assert!(matches!(
            r("2024-06-02", RuleSet::R2024),
            Err(ScheduleError::NotFirstOfMonth(_))
        ));
        assert!(matches!(
            r("2023-06-01", RuleSet::R2024),
            Err(ScheduleError::BeforeRules { .. })
        ));
        assert!(matches!(
            r("2028-06-01", RuleSet::R2024),
            Err(ScheduleError::Projected { .. })
        ));
        let mut q = ScheduleRequest::new(d("2028-06-01"), RuleSet::R2024);
        q.allow_projected = true;
        assert!(compute(&q, None).unwrap().projected);
        let mut q = ScheduleRequest::new(d("2025-06-01"), RuleSet::R2024);
        q.as_of = Some(d("2025-06-10"));
        assert!(matches!(
            compute(&q, None),
            Err(ScheduleError::Retroactive { .. })
        ));
    }

    #[test]
    fn published_table_wins_and_deviations_are_listed() {
        let t = PublishedTable::parse(
            "t.csv",
            "\u{feff}designation,bureau_answer_dispatch,implementing_body_deadline\r\n2021-11-01,2021-10-12,2021-10-15\r\n",
        )
        .unwrap();
        let s = compute(
            &ScheduleRequest::new(d("2021-11-01"), RuleSet::R2021),
            Some(&t),
        )
        .unwrap();
        let a = s.get(MilestoneId::BureauAnswerDispatch).unwrap();
        assert_eq!((a.date, a.source), (d("2021-10-12"), Source::Published));
        assert_eq!(
            s.deviations,
            vec![Deviation {
                id: MilestoneId::BureauAnswerDispatch,
                rule_date: d("2021-10-11"),
                published_date: d("2021-10-12")
            }]
        );
    }

    #[test]
    fn published_errors_name_line_and_column() {
        let e = PublishedTable::parse("t.csv", "designation,bureau_answer_dispatch,implementing_body_deadline\n2021-11-01,2021-10-1x,2021-10-15\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv:2:12: bureau_answer_dispatch: \"2021-10-1x\" is not an ISO date (YYYY-MM-DD)"
        );
        assert!(PublishedTable::parse("t.csv", "").is_err());
        assert!(PublishedTable::parse("t.csv", "a,b\n").is_err());
    }

    #[test]
    fn defect_17_published_dates_out_of_range_are_refused_with_file_line_column() {
        let h = "designation,bureau_answer_dispatch,implementing_body_deadline\n";
        let e = PublishedTable::parse("t.csv", &format!("{h}+99999-06-01,2021-10-12,2021-10-15\n"))
            .unwrap_err();
        assert!(e.to_string().starts_with("t.csv:2:1: designation"), "{e}");
        let e = PublishedTable::parse("t.csv", &format!("{h}2021-11-01,2021-10-12,1899-10-15\n"))
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.csv:2:23: implementing_body_deadline: 1899-10-15 is outside"),
            "{e}"
        );
        // Every row error names the file, line and column.
        for bad in [
            "2021-11-02,2021-10-12,2021-10-15",
            "2021-11-01,2021-10-12",
            "2021-11-01,2021-12-12,2021-10-15",
            "2021-11-01,2021-10-12,2021-10-15\n2021-11-01,2021-10-12,2021-10-15",
        ] {
            let e = PublishedTable::parse("t.csv", &format!("{h}{bad}\n")).unwrap_err();
            let s = e.to_string();
            let mut parts = s.splitn(4, ':');
            assert_eq!(parts.next(), Some("t.csv"), "{s}");
            assert!(parts.next().unwrap().parse::<usize>().is_ok(), "{s}");
            assert!(parts.next().unwrap().parse::<usize>().is_ok(), "{s}");
        }
    }

    fn designation() -> impl Strategy<Value = NaiveDate> {
        (2021i32..=2027, 1u32..=12).prop_map(|(y, m)| NaiveDate::from_ymd_opt(y, m, 1).unwrap())
    }

    proptest! {
        #[test]
        fn milestones_come_in_the_order_the_rules_require(m in designation(), r2024 in any::<bool>(), shift in -5i32..=0) {
            let rules = if r2024 { RuleSet::R2024 } else { RuleSet::R2021 };
            prop_assume!(m >= rules.first_designation());
            let mut q = ScheduleRequest::new(m, rules);
            q.policy.request_deadline_shift = shift;
            let s = compute(&q, None).unwrap();
            let at = |id| s.date(id).unwrap();
            use MilestoneId::*;
            prop_assert!(at(ReceptionRequestDeadline) < at(BureauAnswerDispatch));
            prop_assert!(at(BureauAnswerDispatch) <= at(ImplementingBodyDeadline));
            // r2021: the number replaces the 仮コード in the account on receipt (別紙3 ②⑥);
            // r2024: the account opens about 4 business days after it (guide ⑦ ※1).
            if rules == RuleSet::R2021 {
                prop_assert_eq!(at(ImplementingBodyDeadline), at(PortalAccountReady));
            } else {
                prop_assert!(at(ImplementingBodyDeadline) < at(PortalAccountReady));
            }
            prop_assert!(at(CertificateApplicationDeadline) < at(SystemInstallation));
            prop_assert!(at(SystemInstallation) < at(Designation));
            if rules == RuleSet::R2024 {
                prop_assert!(at(ReaderOrder) <= at(ReceptionRequestDeadline));
                prop_assert!(at(PortalAccountReady) <= at(CertificateApplicationDeadline));
            }
            // Bureau actions fall on open days.
            for id in [ReceptionRequestDeadline, BureauAnswerDispatch] {
                prop_assert!(q.calendar.is_open(at(id)).unwrap());
            }
            // Sorted by date.
            prop_assert!(s.milestones.windows(2).all(|w| w[0].date <= w[1].date));
        }
    }
}
