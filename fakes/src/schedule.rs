//! The two rule sets, r2021 and r2024 (docs/DOMAIN.md §5), as one function from a
//! designation date to dated milestones.
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
    pub fn id(self) -> &'static str {
        match self {
            RuleSet::R2021 => "r2021",
            RuleSet::R2024 => "r2024",
        }
    }

    /// The first designation date the rule set covers.
    ///
    /// r2021: requests under the new procedure from February 2021, so the first
    /// designation served is 1 March 2021. r2024: reception numbers under the revision
    /// from February 2024, answered by the 10th of M−2, so 1 April 2024.
    pub fn first_designation(self) -> NaiveDate {
        match self {
            RuleSet::R2021 => NaiveDate::from_ymd_opt(2021, 3, 1).expect("valid"),
            RuleSet::R2024 => NaiveDate::from_ymd_opt(2024, 4, 1).expect("valid"),
        }
    }

    /// Months between the bureau's answer and designation (1 under r2021, 2 under r2024).
    pub fn answer_lead_months(self) -> u32 {
        match self {
            RuleSet::R2021 => 1,
            RuleSet::R2024 => 2,
        }
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
        match s {
            "r2021" => Ok(RuleSet::R2021),
            "r2024" => Ok(RuleSet::R2024),
            _ => Err(ScheduleError::UnknownRuleSet(s.to_string())),
        }
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

fn month_start_before(designation: NaiveDate, months: u32) -> NaiveDate {
    calendar::first_of_month_before(designation, months)
}

/// The installation date the guide's plan implies when the clinic has none.
/// *(our choice)* r2024: the 15th of M−1 or the next open day, which leaves room for
/// the certificate application (≥5 business days before) after the portal account
/// opens in M−2, and two weeks of slack before designation. r2021: 5 business days
/// after the 15th of M−1, when the certificate application is due.
pub fn default_installation(
    rules: RuleSet,
    cal: &BusinessCalendar,
    designation: NaiveDate,
) -> Result<NaiveDate, CalendarError> {
    let m1 = month_start_before(designation, 1);
    match rules {
        RuleSet::R2024 => cal.nth_or_next_open(m1.year(), m1.month(), 15),
        RuleSet::R2021 => {
            let fifteenth =
                NaiveDate::from_ymd_opt(m1.year(), m1.month(), 15).expect("15th exists");
            cal.add_business_days(fifteenth, 5)
        }
    }
}

/// Turn a request into the dated milestones of its rule set.
pub fn compute(
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
    let first = req.rules.first_designation();
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
    let lead = req.rules.answer_lead_months();
    let answer_month = month_start_before(m, lead);
    let (am_y, am_m) = (answer_month.year(), answer_month.month());
    let mname = |k: u32| {
        if k == 1 {
            "M−1".to_string()
        } else {
            format!("M−{k}")
        }
    };

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
    // The implementing body's deadline: the 15th of the answer month. The notices say
    // "by the 15th" without a closed-day roll, so none is applied.
    let ib_rule = NaiveDate::from_ymd_opt(am_y, am_m, 15).expect("15th exists");
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
    if request_deadline >= answer {
        return Err(ScheduleError::DeadlineAfterAnswer {
            deadline: request_deadline,
            answer,
        });
    }
    let bureau_txt = req.bureau.map_or("the bureau".to_string(), |b| {
        format!("{} ({})", b.name_ja(), b.id())
    });
    let shift_txt = match req.policy.request_deadline_shift {
        0 => String::new(),
        s => format!(", moved {s} business days by the bureau's policy"),
    };

    let portal = cal.add_business_days(ib, 4)?;
    let installation = match req.installation {
        Some(d) => d,
        None => default_installation(req.rules, cal, m)?,
    };
    let cert_deadline = cal.add_business_days(installation, -5)?;
    let codes_sent = cal.open_on_or_after(m)?;

    match req.rules {
        RuleSet::R2021 => {
            let m5 = month_start_before(m, 5);
            push(
                MilestoneId::TemporaryCodeRequest,
                m5,
                Source::Rule,
                "r2021 別紙3 ①: request a temporary code (仮コード) and open the portal account about 5 months before the start of care (1st of M−5)".into(),
                Actor::Clinic,
            );
            push(
                MilestoneId::ReaderApplication,
                m5,
                Source::Rule,
                "r2021 別紙3 ③: apply for the free face-auth reader about 5 months before (it ships 4–5 months after the application)".into(),
                Actor::Clinic,
            );
            push(
                MilestoneId::ReceptionRequestDeadline,
                request_deadline,
                Source::Rule,
                format!("r2021 1(1): designation application and reception-number request together by the deadline {bureau_txt} sets; default: last open day of M−2{shift_txt}; later requests are returned (返戻)"),
                Actor::Bureau,
            );
            push(
                MilestoneId::BureauAnswerDispatch,
                answer,
                answer_src,
                match answer_src {
                    Source::Rule => format!("r2021 1(2): the bureau sends the answer by the 10th of {} (next open day if closed)", mname(lead)),
                    Source::Published => "published table of the bureau (別紙2)".into(),
                },
                Actor::Bureau,
            );
            push(
                MilestoneId::ImplementingBodyDeadline,
                ib,
                ib_src,
                match ib_src {
                    Source::Rule => format!("r2021 3(2): reception number (and usage/certificate applications) at the implementing body by the 15th of {}", mname(lead)),
                    Source::Published => "published table of the bureau (別紙2)".into(),
                },
                Actor::ImplementingBody,
            );
            push(
                MilestoneId::UsageApplicationDeadline,
                ib,
                ib_src,
                "r2021 別紙3 ⑥: usage application with the reception number by the 15th".into(),
                Actor::Clinic,
            );
            push(
                MilestoneId::CertificateApplicationDeadline,
                ib,
                ib_src,
                "r2021 別紙3 ⑥: certificate application (電子証明書発行申請) by the 15th".into(),
                Actor::Clinic,
            );
            push(
                MilestoneId::ReaderShipment,
                cal.next_open(ib)?,
                Source::Rule,
                "r2021 別紙3 5: the reader ships once the reception number was shown (earliest: the open day after the 15th)".into(),
                Actor::ImplementingBody,
            );
            push(
                MilestoneId::PortalAccountReady,
                portal,
                Source::Rule,
                "account registration with the reception number about 4 business days after it reaches the implementing body".into(),
                Actor::ImplementingBody,
            );
            push(
                MilestoneId::SystemInstallation,
                installation,
                Source::Rule,
                if req.installation.is_some() {
                    "the clinic's planned installation date".into()
                } else {
                    "(our choice) recommended installation: 5 business days after the 15th of M−1"
                        .into()
                },
                Actor::SystemVendor,
            );
        }
        RuleSet::R2024 => {
            let m3 = month_start_before(m, 3);
            push(
                MilestoneId::ReaderOrder,
                m3,
                Source::Rule,
                "r2024 guide ①: choose and order the face-auth reader by about 3 months before designation (lead time 3–4 months)".into(),
                Actor::Clinic,
            );
            push(
                MilestoneId::NetworkOrder,
                m3,
                Source::Rule,
                "r2024 guide ②: order a connectable network line together with the reader".into(),
                Actor::Clinic,
            );
            push(
                MilestoneId::SystemVendorOrder,
                m3,
                Source::Rule,
                "r2024 guide ③④: estimate and order from the system vendor together with the reader".into(),
                Actor::Clinic,
            );
            if req.paper_claims {
                push(
                    MilestoneId::ReceptionRequestDeadline,
                    request_deadline,
                    Source::Rule,
                    format!("r2024 1(1): paper-claims clinics are exempt from online confirmation but still need a reception number for the portal; deadline set by {bureau_txt}, default: last open day of M−3{shift_txt}"),
                    Actor::Bureau,
                );
            } else {
                push(
                    MilestoneId::ReceptionRequestDeadline,
                    request_deadline,
                    Source::Rule,
                    format!("r2024 1(1): reception-number request, before the designation application, by the deadline {bureau_txt} sets (about 2 months before designation); default: last open day of M−3{shift_txt}"),
                    Actor::Bureau,
                );
            }
            push(
                MilestoneId::BureauAnswerDispatch,
                answer,
                answer_src,
                match answer_src {
                    Source::Rule => format!("r2024 1(2): the bureau sends the answer by the 10th of {} (next open day if closed)", mname(lead)),
                    Source::Published => "published table of the bureau".into(),
                },
                Actor::Bureau,
            );
            push(
                MilestoneId::ImplementingBodyDeadline,
                ib,
                ib_src,
                match ib_src {
                    Source::Rule => format!(
                        "r2024 3(2): reception number at the implementing body by the 15th of {}",
                        mname(lead)
                    ),
                    Source::Published => "published table of the bureau".into(),
                },
                Actor::ImplementingBody,
            );
            push(
                MilestoneId::PortalAccountReady,
                portal,
                Source::Rule,
                "r2024 guide ⑦ ※1: account registration about 4 business days after the reception number reaches the implementing body".into(),
                Actor::ImplementingBody,
            );
            push(
                MilestoneId::UsageApplicationDeadline,
                cert_deadline,
                Source::Rule,
                "r2024 guide ⑧: usage application 5 business days before the system installation"
                    .into(),
                Actor::Clinic,
            );
            push(
                MilestoneId::CertificateApplicationDeadline,
                cert_deadline,
                Source::Rule,
                "r2024 guide ⑧: certificate application 5 business days before the system installation; the notice comes by registered mail".into(),
                Actor::Clinic,
            );
            push(
                MilestoneId::SystemInstallation,
                installation,
                Source::Rule,
                if req.installation.is_some() {
                    "the clinic's planned installation date".into()
                } else {
                    "(our choice) recommended installation: 15th of M−1 or the next open day".into()
                },
                Actor::SystemVendor,
            );
            push(
                MilestoneId::DesignationApplicationDeadline,
                cal.open_on_or_before(month_start_before(m, 1))?,
                Source::Rule,
                "r2024 guide ⑨: designation application with the onboarding plan (導入計画書) by about one month before opening (last open day on or before the 1st of M−1)".into(),
                Actor::Bureau,
            );
        }
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
    if req.paper_claims && req.rules == RuleSet::R2024 {
        notes.push("paper-claims clinic: outside the mandate; the limited type (資格確認限定型) is available".into());
    }
    if req.rules == RuleSet::R2021 && m >= RuleSet::R2024.first_designation() {
        notes.push(
            "r2021 was replaced by r2024 for designations from 2024-04-01; shown for comparison"
                .into(),
        );
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
            prop_assert!(at(ImplementingBodyDeadline) < at(PortalAccountReady));
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
