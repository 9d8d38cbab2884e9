//! Scenario files (TOML): one clinic's onboarding, the rule set, each actor's
//! parameters, the faults to inject and what is expected to happen.
//!
//! Loading checks everything up front and reports the first problem as
//! `file:line:column: message` with a hint, so a run never starts on a file that
//! cannot make sense. `onsim schema` prints the JSON Schema of [`ScenarioFile`].
//!
//! ```toml
//! # r2024 medical clinic in Tokyo, everything on time.
//! [scenario]
//! name = "happy path"
//! rules = "r2024"
//! seed = 1
//!
//! [clinic]
//! kind = "medical"
//! prefecture = "東京都"
//! designation = 2025-06-01
//!
//! [[expect]]
//! outcome = "online-on-designation-day"
//! ```

use std::path::{Path, PathBuf};

mod ignored;

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use fakes::calendar::CalendarKind;
use fakes::codes::{Bureau, Prefecture};
use fakes::process::clinic::Plan;
use fakes::process::fault::Fault;
use fakes::process::params::{
    BureauParams, CarrierParams, ImplementingBodyParams, ReaderVendorParams, SystemVendorParams,
};
use fakes::process::EventKind;
use fakes::schedule::{ClinicKind, RuleSet};

/// A whole scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub scenario: Meta,
    pub clinic: ClinicSection,
    #[serde(default)]
    pub plan: Plan,
    #[serde(default)]
    pub actors: Actors,
    #[serde(default)]
    pub faults: Vec<Fault>,
    #[serde(default)]
    pub expect: Vec<Expectation>,
    /// `[live]`: how `onsim serve --scenario` runs this file.
    #[serde(default, skip_serializing_if = "LiveSection::is_default")]
    pub live: LiveSection,
}

/// `[live]`: how `onsim serve --scenario` runs the file (ignored by `onsim run` and
/// sweeps) *(our choice: the split and its names are onsim's, listed in
/// docs/SEEDS.md)*.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiveSection {
    /// Who plays the clinic's onboarding steps (requests, applications, orders,
    /// go-live): `system-under-test` (the default) or `onsim`.
    #[serde(default)]
    pub clinic: ClinicPlayer,
}

impl LiveSection {
    pub fn is_default(&self) -> bool {
        *self == LiveSection::default()
    }
}

/// Who plays the clinic in `onsim serve --scenario` (crate::live::verdict).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ClinicPlayer {
    /// The system under test sends the clinic's messages through the services;
    /// onsim observes them.
    #[default]
    SystemUnderTest,
    /// onsim's own clinic follows the scenario's plan inside the live world; the
    /// system under test uses the terminal and the eligibility API.
    Onsim,
}

/// `[scenario]`: what this file is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub name: String,
    /// One line: what the scenario shows.
    #[serde(default)]
    pub description: Option<String>,
    pub rules: RuleSet,
    /// Master seed; every actor's random stream derives from it and its name.
    #[serde(default)]
    pub seed: u64,
    /// The closed days every actor and every deadline counts with: `standard` (the
    /// real one), or a counterfactual `no-holidays`, `no-year-end`, `weekends-only`
    /// to isolate an effect (`--vary scenario.calendar=standard,no-holidays --paired`;
    /// docs/solve.md) *(our choice: what-ifs, not the real process)*.
    #[serde(default, skip_serializing_if = "CalendarKind::is_standard")]
    pub calendar: CalendarKind,
}

/// Paper or online claims (レセプト請求).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Claims {
    #[default]
    Online,
    Paper,
}

/// `[clinic]`: the party being onboarded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClinicSection {
    pub kind: ClinicKind,
    /// Prefecture name (東京都) or JIS code ("13").
    pub prefecture: String,
    /// Regional bureau; defaults to the one serving the prefecture.
    #[serde(default)]
    pub bureau: Option<Bureau>,
    /// Designation date (指定日), the 1st of a month. For a limited-type clinic (an
    /// existing institution, already designated) the 1st of the month it plans to start
    /// using the limited type (利用開始予定月) *(our choice)*.
    #[serde(deserialize_with = "fakes::serde_date::date")]
    pub designation: NaiveDate,
    #[serde(default)]
    pub claims: Claims,
    /// 資格確認限定型 (seed 004): an existing institution outside the mandate
    /// (paper claims) that applies for eligibility-only confirmation. It files no
    /// reception-number request and no designation application (it already holds its
    /// 医療機関等コード), and is ready on the day the implementing body registers it
    /// (運用開始日) once its device is delivered.
    #[serde(default)]
    pub limited_type: bool,
    /// Limited type applied for by post (申請区分 1 and 2 on one form: the portal user
    /// is registered with the approval) instead of on the portal.
    #[serde(default)]
    pub postal_application: bool,
    /// Limited type: the device (004 補助対象の機器): `generic-reader` (default),
    /// `smartphone`, `tablet`, `tablet-with-bluetooth-reader`.
    #[serde(default)]
    pub device: Option<fakes::process::limited_type::Device>,
    /// Limited type: what the device cost, in yen (default by device, *our choice*:
    /// 4,000 / 40,000 / 40,000 / 45,000); the subsidy is 3/4 of it, at most ¥31,000.
    #[serde(default)]
    pub device_cost: Option<u32>,
    /// County/city number (郡市区番号) used for the reception number.
    #[serde(default = "default_county")]
    pub county: u8,
    /// The day the clinic starts the process; a designation on or before it would
    /// be retroactive (指定期日の遡及), which is refused.
    #[serde(default, deserialize_with = "fakes::serde_date::opt_date")]
    pub as_of: Option<NaiveDate>,
}

fn default_county() -> u8 {
    1
}

/// `[actors.*]`: each actor's parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Actors {
    #[serde(default)]
    pub bureau: BureauParams,
    #[serde(default)]
    pub implementing_body: ImplementingBodyParams,
    #[serde(default)]
    pub reader_vendor: ReaderVendorParams,
    #[serde(default)]
    pub carrier: CarrierParams,
    #[serde(default)]
    pub system_vendor: SystemVendorParams,
}

/// Final outcomes a run can reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Online confirmation works on the designation day.
    OnlineOnDesignationDay,
    /// Online, but after the designation day.
    OnlineLate,
    /// Never online within the simulated horizon.
    NotOnline,
    /// The reception-number request was returned (返戻).
    RequestReturned,
    /// Not designated (未指定).
    NotDesignated,
    /// Exempt from the mandate: a paper-claims clinic (001 ※3 "原則義務化の例外"), or one
    /// that filed the 経過措置 届出 (001 1(1)) and was designated.
    Exempt,
    /// 資格確認限定型 ready.
    LimitedTypeReady,
    /// The scenario is outside the process (e.g. retroactive designation).
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::OnlineOnDesignationDay => "online-on-designation-day",
            Outcome::OnlineLate => "online-late",
            Outcome::NotOnline => "not-online",
            Outcome::RequestReturned => "request-returned",
            Outcome::NotDesignated => "not-designated",
            Outcome::Exempt => "exempt",
            Outcome::LimitedTypeReady => "limited-type-ready",
            Outcome::Refused => "refused",
        }
    }
}

/// `[[expect]]`: one of `happens`, `never` or `outcome`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// An event id that must happen (optionally `by` / `after` a date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub happens: Option<String>,
    /// An event id that must never happen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub never: Option<String>,
    /// The final outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// With `happens`: at the latest on this day.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "fakes::serde_date::opt_date"
    )]
    pub by: Option<NaiveDate>,
    /// With `happens`: not before this day.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "fakes::serde_date::opt_date"
    )]
    pub after: Option<NaiveDate>,
}

/// A checked expectation, ready for the runner.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum Check {
    Happens {
        event: EventKind,
        by: Option<NaiveDate>,
        after: Option<NaiveDate>,
    },
    Never {
        event: EventKind,
    },
    Outcome {
        outcome: Outcome,
    },
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Check::Happens { event, by, after } => {
                write!(f, "{event} happens")?;
                if let Some(a) = after {
                    write!(f, " on or after {a}")?;
                }
                if let Some(b) = by {
                    write!(f, " by {b}")?;
                }
                Ok(())
            }
            Check::Never { event } => write!(f, "{event} never happens"),
            Check::Outcome { outcome } => write!(f, "outcome is {}", outcome.as_str()),
        }
    }
}

/// A scenario loaded and checked.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The path as the user gave it (or the embedded name).
    pub file: String,
    pub spec: ScenarioFile,
    pub prefecture: Prefecture,
    pub bureau: Bureau,
    pub checks: Vec<Check>,
    /// The bureau's published deadline table, when the user gave one for this
    /// scenario's bureau (`onsim run|sweep --published BUREAU=FILE`): its dates win
    /// over the rule dates and the differences are reported
    /// ([`fakes::schedule::Schedule::deviations`]).
    pub published: Option<std::sync::Arc<fakes::schedule::PublishedTable>>,
}

/// A problem in a scenario file, located.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}{}", hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Where a key path is in the document, for messages about values that parsed but
/// make no sense.
struct Locator<'a> {
    text: &'a str,
    doc: Option<toml_edit::ImDocument<&'a str>>,
}

enum PathPart<'p> {
    Key(&'p str),
    Index(usize),
}

impl<'a> Locator<'a> {
    fn new(text: &'a str) -> Self {
        Locator {
            text,
            doc: toml_edit::ImDocument::parse(text).ok(),
        }
    }

    /// Was every part of `path` written in the file?
    fn present(&self, path: &[ignored::PathKey]) -> bool {
        let Some(doc) = &self.doc else { return false };
        let mut item: &toml_edit::Item = doc.as_item();
        for part in path {
            let next = match part {
                ignored::PathKey::Key(k) => item.get(*k),
                ignored::PathKey::Index(i) => item.get(*i),
            };
            match next {
                Some(n) => item = n,
                None => return false,
            }
        }
        true
    }

    fn find(&self, path: &[PathPart]) -> (usize, usize) {
        let Some(doc) = &self.doc else { return (1, 1) };
        let mut item: &toml_edit::Item = doc.as_item();
        let mut best = (1, 1);
        for part in path {
            let next = match part {
                PathPart::Key(k) => item.get(*k),
                PathPart::Index(i) => item.get(*i),
            };
            match next {
                Some(n) => {
                    item = n;
                    let span = n.span();
                    if let Some(s) = span {
                        best = line_col(self.text, s.start);
                    }
                }
                None => break,
            }
        }
        best
    }
}

fn closest<'a>(word: &str, choices: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // Cheap similarity: longest common prefix, then shared characters.
    choices
        .into_iter()
        .map(|c| {
            let prefix = word
                .chars()
                .zip(c.chars())
                .take_while(|(a, b)| a == b)
                .count();
            let shared = word.split('-').filter(|p| c.contains(p)).count();
            (prefix * 2 + shared * 3, c)
        })
        .filter(|(score, _)| *score >= 4)
        .max_by_key(|(score, _)| *score)
        .map(|(_, c)| c)
}

/// Parse and check a scenario from its text. `file` is only used in messages.
pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let spec: ScenarioFile = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
        let mut message = e.message().trim().replace('\n', ": ");
        if message.is_empty() {
            // The toml crate leaves the message empty for some syntax errors (a value
            // cut off at the end, a control character in a comment): say what it is.
            let at = e.span().map_or(text.len(), |s| s.start);
            message = match text.get(at..).unwrap_or("").chars().next() {
                None => "unexpected end of file: a value or closing bracket is missing".into(),
                Some(c) if c.is_control() => {
                    format!("character U+{:04X} is not allowed here", u32::from(c))
                }
                Some(c) => format!("unexpected character {c:?}: TOML syntax error"),
            };
        }
        let hint = if message.contains("unknown field") {
            Some("check the spelling; `onsim schema` prints every key a scenario may have".into())
        } else if message.contains("missing field") {
            Some("every scenario needs [scenario] name and rules, and [clinic] kind, prefecture and designation".into())
        } else if message.contains("date") || message.contains("datetime") {
            Some("dates are written 2025-06-01 (no quotes); the day must exist".into())
        } else {
            None
        };
        ScenarioError {
            file: file.to_string(),
            line,
            column,
            message,
            hint,
        }
    })?;
    let loc = Locator::new(text);
    let err = |path: &[PathPart], message: String, hint: Option<&str>| {
        let (line, column) = loc.find(path);
        ScenarioError {
            file: file.to_string(),
            line,
            column,
            message,
            hint: hint.map(str::to_string),
        }
    };
    use PathPart::{Index, Key};

    let prefecture: Prefecture = spec.clinic.prefecture.parse().map_err(|e: fakes::codes::CodeError| {
        err(&[Key("clinic"), Key("prefecture")], e.to_string(), Some("write the name as on an address, e.g. \"東京都\" or \"北海道\", or its JIS code \"13\""))
    })?;
    let bureau = match spec.clinic.bureau {
        Some(b) if !b.serves(prefecture) => {
            return Err(err(
                &[Key("clinic"), Key("bureau")],
                format!("bureau {} does not serve {}", b.id(), prefecture.name()),
                Some(&format!(
                    "{} is served by {}; drop `bureau` to use it",
                    prefecture.name(),
                    prefecture.bureau().id()
                )),
            ))
        }
        Some(b) => b,
        None => prefecture.bureau(),
    };
    let d = spec.clinic.designation;
    if !fakes::calendar::in_range(d) || !fakes::calendar::in_range(d + chrono::Duration::days(366))
    {
        return Err(err(
            &[Key("clinic"), Key("designation")],
            format!("designation {d} is outside the calendar"),
            None,
        ));
    }
    if spec.clinic.limited_type && spec.clinic.claims != Claims::Paper {
        return Err(err(
            &[Key("clinic"), Key("limited_type")],
            "the limited type (資格確認限定型) is for paper-claims clinics outside the mandate"
                .into(),
            Some("set claims = \"paper\" or drop limited_type"),
        ));
    }
    let limited_from = spec.scenario.rules.limited_type_from();
    if spec.clinic.limited_type && limited_from.is_none_or(|from| d < from) {
        return Err(err(
            &[Key("clinic"), Key("limited_type")],
            format!("the limited type (資格確認限定型) exists from June 2024 under r2024; this scenario is {} with designation {d}", spec.scenario.rules),
            Some("use rules = \"r2024\" and a designation from 2024-06-01"),
        ));
    }
    let rules = spec.scenario.rules.rules();
    if spec.clinic.claims == Claims::Paper
        && !spec.clinic.limited_type
        && !rules.new_paper_claims_clinics()
    {
        return Err(err(
            &[Key("clinic"), Key("claims")],
            format!("no new clinic is allowed paper claims from April 2024 (001 ※3 \"令和6年4月以降は…新規に紙レセプトによる請求が認められる保険医療機関等がなくなる\"); this scenario is {} with designation {d}", spec.scenario.rules),
            Some("a clinic with やむを得ない事情 files the 経過措置 届出 instead: drop claims and set [plan] transitional_notice = true"),
        ));
    }
    if spec.plan.transitional_notice {
        if !rules.has_transitional_notice() {
            return Err(err(
                &[Key("plan"), Key("transitional_notice")],
                format!("the 経過措置 届出 with the designation application is 001's (r2024); this scenario is {}", spec.scenario.rules),
                Some("drop it, or set rules = \"r2024\""),
            ));
        }
        if rules.mandate_from().is_none_or(|from| d < from) {
            return Err(err(
                &[Key("plan"), Key("transitional_notice")],
                format!("the 経過措置 is a transition of the mandate, which applies from {} (001 \"令和5年4月から…原則義務付け\"); this scenario's designation is {d}", fakes::schedule::mandate_start()),
                Some("drop transitional_notice, or designate from the mandate on"),
            ));
        }
        if spec.clinic.claims == Claims::Paper {
            return Err(err(
                &[Key("plan"), Key("transitional_notice")],
                "the 経過措置 届出 is for a clinic inside the mandate; a paper-claims clinic is outside it".into(),
                Some("drop claims = \"paper\" (and limited_type), or drop transitional_notice"),
            ));
        }
    }
    for (key, given) in [
        ("device", spec.clinic.device.is_some()),
        ("device_cost", spec.clinic.device_cost.is_some()),
    ] {
        if given && !spec.clinic.limited_type {
            return Err(err(
                &[Key("clinic"), Key(key)],
                format!("{key} is the limited type's device (004 補助対象の機器); this clinic is not limited-type"),
                Some("set limited_type = true or drop it"),
            ));
        }
    }
    if spec.plan.subsidy_application.is_some() && !spec.clinic.limited_type {
        return Err(err(
            &[Key("plan"), Key("subsidy_application")],
            "the device subsidy (004) is the limited type's".into(),
            Some("set [clinic] limited_type = true or drop subsidy_application"),
        ));
    }
    if spec.clinic.postal_application && !spec.clinic.limited_type {
        return Err(err(
            &[Key("clinic"), Key("postal_application")],
            "postal applications exist only for the limited type".into(),
            Some("set limited_type = true or drop postal_application"),
        ));
    }
    if spec.clinic.county > 99 {
        return Err(err(
            &[Key("clinic"), Key("county")],
            format!(
                "county number {} has more than 2 digits",
                spec.clinic.county
            ),
            None,
        ));
    }
    // Plan dates must lie in the calendar.
    let plan_dates = [
        ("temporary_code_request", spec.plan.temporary_code_request),
        ("reader_order", spec.plan.reader_order),
        ("network_order", spec.plan.network_order),
        ("system_vendor_order", spec.plan.system_vendor_order),
        ("reception_request", spec.plan.reception_request),
        ("applications", spec.plan.applications),
        ("installation", spec.plan.installation),
        ("designation_application", spec.plan.designation_application),
    ];
    for (key, date) in plan_dates {
        if let Some(x) = date {
            if !fakes::calendar::in_range(x) || x > d + chrono::Duration::days(366) {
                return Err(err(&[Key("plan"), Key(key)], format!("plan.{key} {x} is outside the calendar or more than a year after designation"), None));
            }
        }
    }
    if spec.plan.temporary_code_request.is_some() && !spec.scenario.rules.has_temporary_code() {
        return Err(err(
            &[Key("plan"), Key("temporary_code_request")],
            "temporary codes (仮コード) exist only under r2021".into(),
            Some("drop it, or set rules = \"r2021\""),
        ));
    }
    if let Some(n) = spec.plan.reception_requests {
        if n == 0 || n > 2 {
            return Err(err(
                &[Key("plan"), Key("reception_requests")],
                format!("reception_requests must be 1 or 2, got {n}"),
                None,
            ));
        }
    }
    // Distributions.
    let a = &spec.actors;
    let dists: [(&str, &str, Option<&fakes::dist::Dist>); 13] = [
        ("bureau", "processing", Some(&a.bureau.processing)),
        ("bureau", "postal", Some(&a.bureau.postal)),
        (
            "bureau",
            "correction_turnaround",
            Some(&a.bureau.correction_turnaround),
        ),
        (
            "implementing_body",
            "account_lead",
            Some(&a.implementing_body.account_lead),
        ),
        (
            "implementing_body",
            "temporary_code_lead",
            Some(&a.implementing_body.temporary_code_lead),
        ),
        (
            "implementing_body",
            "certificate_lead",
            Some(&a.implementing_body.certificate_lead),
        ),
        ("implementing_body", "mail", Some(&a.implementing_body.mail)),
        (
            "implementing_body",
            "individual_handling",
            Some(&a.implementing_body.individual_handling),
        ),
        (
            "implementing_body",
            "free_reader_lead",
            Some(&a.implementing_body.free_reader_lead),
        ),
        ("reader_vendor", "lead", a.reader_vendor.lead.as_ref()),
        (
            "reader_vendor",
            "replacement",
            Some(&a.reader_vendor.replacement),
        ),
        ("carrier", "lead", Some(&a.carrier.lead)),
        (
            "carrier",
            "extra_contract_lead",
            Some(&a.carrier.extra_contract_lead),
        ),
    ];
    for (actor, key, dist) in dists {
        if let Some(dist) = dist {
            dist.validate().map_err(|m| {
                err(
                    &[Key("actors"), Key(actor), Key(key)],
                    format!("actors.{actor}.{key}: {m}"),
                    None,
                )
            })?;
        }
    }
    if a.carrier.existing_line && a.carrier.line != fakes::process::params::LineType::IpsecIke {
        return Err(err(
            &[Key("actors"), Key("carrier"), Key("existing_line")],
            "an existing line (既設回線) is used through an extra contract with one of the four IPsec+IKE providers (guide: 上記4業者との追加契約)".into(),
            Some("set line = \"ipsec-ike\" and service = one of the four providers, or drop existing_line"),
        ));
    }
    if let Some(nb) = a.bureau.neighbour {
        if nb.deleted <= nb.request
            || !fakes::calendar::in_range(nb.request)
            || !fakes::calendar::in_range(nb.deleted)
        {
            return Err(err(
                &[Key("actors"), Key("bureau"), Key("neighbour"), Key("deleted")],
                format!("the neighbour's record is deleted on {} but its request is received on {}: deletion must come after the request, both within the calendar", nb.deleted, nb.request),
                Some("set deleted to the neighbour's designation day, after request"),
            ));
        }
    }
    for c in &a.bureau.closures {
        if !fakes::calendar::in_range(*c) {
            return Err(err(
                &[Key("actors"), Key("bureau"), Key("closures")],
                format!("closure {c} is outside the calendar"),
                None,
            ));
        }
    }
    for (i, f) in spec.faults.iter().enumerate() {
        f.validate().map_err(|m| {
            err(
                &[Key("faults"), Index(i)],
                format!("faults[{i}] ({}): {m}", f.kind.as_str()),
                None,
            )
        })?;
    }
    if let Some(ig) = ignored::first_ignored(&spec, &|p| loc.present(p)) {
        let path: Vec<PathPart> = ig
            .path
            .iter()
            .map(|p| match p {
                ignored::PathKey::Key(k) => Key(k),
                ignored::PathKey::Index(i) => Index(*i),
            })
            .collect();
        return Err(err(&path, ig.message, Some(&ig.hint)));
    }
    if spec.expect.is_empty() {
        return Err(err(
            &[],
            "the scenario has no [[expect]]: a run could not fail".into(),
            Some("add at least one, e.g. [[expect]] outcome = \"online-on-designation-day\""),
        ));
    }
    let mut checks = Vec::new();
    for (i, e) in spec.expect.iter().enumerate() {
        let given = [e.happens.is_some(), e.never.is_some(), e.outcome.is_some()]
            .iter()
            .filter(|x| **x)
            .count();
        if given != 1 {
            return Err(err(
                &[Key("expect"), Index(i)],
                format!("expect[{i}] must have exactly one of `happens`, `never`, `outcome`"),
                None,
            ));
        }
        if (e.by.is_some() || e.after.is_some()) && e.happens.is_none() {
            return Err(err(
                &[Key("expect"), Index(i)],
                format!("expect[{i}]: `by` and `after` go with `happens`"),
                None,
            ));
        }
        let event = |name: &str, key: &'static str| {
            EventKind::parse(name).ok_or_else(|| {
                let all: Vec<&str> = EventKind::all()
                    .into_iter()
                    .map(EventKind::as_str)
                    .collect();
                let hint = match closest(name, all.iter().copied()) {
                    Some(c) => format!("did you mean \"{c}\"? `onsim schema` lists every event id"),
                    None => format!("event ids: {}", all.join(", ")),
                };
                err(
                    &[Key("expect"), Index(i), Key(key)],
                    format!("unknown event {name:?}"),
                    Some(&hint),
                )
            })
        };
        checks.push(if let Some(h) = &e.happens {
            Check::Happens {
                event: event(h, "happens")?,
                by: e.by,
                after: e.after,
            }
        } else if let Some(n) = &e.never {
            Check::Never {
                event: event(n, "never")?,
            }
        } else {
            Check::Outcome {
                outcome: e.outcome.expect("checked"),
            }
        });
    }
    Ok(Scenario {
        file: file.to_string(),
        spec,
        prefecture,
        bureau,
        checks,
        published: None,
    })
}

/// Read and check a scenario file.
/// Parse a scenario that `onsim sweep --vary` or `onsim solve` derived from a file:
/// a fault or parameter the derived scenario's rule set or clinic would ignore (say a
/// `plan-incomplete` fault once `scenario.rules=r2021`, which has no 導入計画書) is
/// dropped from it, each named in the returned notes, instead of refusing the whole
/// variant. A file as written is refused ([`parse`]); a variant says which of the
/// file's keys do not apply to it *(our choice)*.
pub fn parse_variant(
    file: &str,
    doc: &toml::Value,
) -> Result<(Scenario, Vec<String>), ScenarioError> {
    let mut doc = doc.clone();
    let mut notes = Vec::new();
    let to_text = |d: &toml::Value| {
        toml::to_string(d).map_err(|e| ScenarioError {
            file: file.to_string(),
            line: 1,
            column: 1,
            message: e.to_string(),
            hint: None,
        })
    };
    // Each round drops one key; a scenario has far fewer than this many.
    for _ in 0..256 {
        let text = to_text(&doc)?;
        let Ok(spec) = toml::from_str::<ScenarioFile>(&text) else {
            break;
        };
        let loc = Locator::new(&text);
        let Some(ig) = ignored::first_ignored(&spec, &|p| loc.present(p)) else {
            break;
        };
        // A fault is dropped whole; a parameter by its key.
        let path = match ig.path.as_slice() {
            [ignored::PathKey::Key("faults"), ignored::PathKey::Index(i), ..] => {
                vec![ignored::PathKey::Key("faults"), ignored::PathKey::Index(*i)]
            }
            p => p.to_vec(),
        };
        if !remove_path(&mut doc, &path) {
            break;
        }
        notes.push(format!("dropped (does not apply): {}", ig.message));
    }
    let text = to_text(&doc)?;
    parse(file, &text).map(|s| (s, notes))
}

/// Remove the value at `path` from a TOML document; false when it is not there.
fn remove_path(doc: &mut toml::Value, path: &[ignored::PathKey]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut v = doc;
    for p in parents {
        let next = match p {
            ignored::PathKey::Key(k) => v.get_mut(*k),
            ignored::PathKey::Index(i) => v.get_mut(*i),
        };
        match next {
            Some(n) => v = n,
            None => return false,
        }
    }
    match (last, v) {
        (ignored::PathKey::Key(k), toml::Value::Table(t)) => t.remove(*k).is_some(),
        (ignored::PathKey::Index(i), toml::Value::Array(a)) if *i < a.len() => {
            a.remove(*i);
            true
        }
        _ => false,
    }
}

pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| ScenarioError {
        file: file.clone(),
        line: 1,
        column: 1,
        message: format!("cannot read: {e}"),
        hint: None,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let off = e.utf8_error().valid_up_to();
        let bytes = e.into_bytes();
        let (line, column) = line_col(&String::from_utf8_lossy(&bytes[..off]), off);
        ScenarioError {
            file: file.clone(),
            line,
            column,
            message: "the file is not UTF-8".into(),
            hint: Some("save scenario files as UTF-8 (TOML requires it)".into()),
        }
    })?;
    parse(&file, &text)
}

/// Expand files and folders into a sorted list of `.toml` files. A missing path is
/// an error; a folder is searched recursively.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut stack = vec![p.clone()];
            while let Some(dir) = stack.pop() {
                let entries = std::fs::read_dir(&dir)
                    .map_err(|e| format!("cannot read folder {}: {e}", dir.display()))?;
                for entry in entries {
                    let entry =
                        entry.map_err(|e| format!("cannot read folder {}: {e}", dir.display()))?;
                    let path = entry.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if path.extension().is_some_and(|x| x == "toml") {
                        out.push(path);
                    }
                }
            }
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(format!("{}: no such file or folder", p.display()));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"
[scenario]
name = "t"
rules = "r2024"

[clinic]
kind = "medical"
prefecture = "東京都"
designation = 2025-06-01

[[expect]]
outcome = "online-on-designation-day"
"#;

    #[test]
    fn minimal_scenario_loads() {
        let s = parse("t.toml", OK).unwrap();
        assert_eq!(s.bureau, Bureau::KantoShinetsu);
        assert_eq!(s.checks.len(), 1);
    }

    #[test]
    fn unknown_key_is_located() {
        let text = OK.replace("kind = \"medical\"", "kind = \"medical\"\ncolour = \"red\"");
        let e = parse("t.toml", &text).unwrap_err();
        assert_eq!((e.line, e.file.as_str()), (8, "t.toml"));
        assert!(e.message.contains("unknown field"), "{e}");
    }

    #[test]
    fn impossible_date_is_located() {
        let text = OK.replace("2025-06-01", "2025-02-30");
        let e = parse("t.toml", &text).unwrap_err();
        assert_eq!(e.line, 9, "{e}");
        assert!(!e.message.contains('\n'));
    }

    #[test]
    fn bureau_must_serve_prefecture() {
        let text = OK.replace(
            "designation = 2025-06-01",
            "designation = 2025-06-01\nbureau = \"kyushu\"",
        );
        let e = parse("t.toml", &text).unwrap_err();
        assert_eq!(e.line, 10, "{e}");
        assert!(e.hint.unwrap().contains("kanto-shinetsu"));
    }

    #[test]
    fn unknown_event_gets_a_suggestion() {
        let text = OK.replace(
            "outcome = \"online-on-designation-day\"",
            "happens = \"online-strat\"",
        );
        let e = parse("t.toml", &text).unwrap_err();
        assert!(e.hint.unwrap().contains("online-start"));
        assert_eq!(e.line, 12);
    }

    fn refused(text: &str) -> ScenarioError {
        parse("t.toml", text).expect_err("should be refused")
    }

    #[test]
    fn no_new_paper_claims_from_april_2024() {
        let e = refused(&OK.replace(
            "designation = 2025-06-01",
            "designation = 2025-06-01\nclaims = \"paper\"",
        ));
        assert!(e.message.contains("※3"), "{e}");
        assert!(e
            .hint
            .as_deref()
            .unwrap_or("")
            .contains("transitional_notice"));
        let r2021 = OK
            .replace("r2024", "r2021")
            .replace("2025-06-01", "2024-03-01\nclaims = \"paper\"");
        parse("t.toml", &r2021).unwrap();
    }

    #[test]
    fn ignored_faults_are_refused_with_their_field() {
        let add = |extra: &str| OK.replace("[[expect]]", &format!("{extra}\n[[expect]]"));
        // r2021 has no onboarding plan.
        let e = refused(&add("[[faults]]\nkind = \"plan-incomplete\"\n").replace("r2024", "r2021"));
        assert!(e.message.contains("faults[0] (plan-incomplete)"), "{e}");
        assert_eq!(e.line, 12, "{e}");
        // r2021's free reader is not a vendor's.
        let e = refused(&add("[[faults]]\nkind = \"reader-delay\"\n").replace("r2024", "r2021"));
        assert!(
            e.hint.as_deref().unwrap_or("").contains("free_reader_lead"),
            "{e}"
        );
        // One code: nothing to forget.
        let e = refused(&add("[[faults]]\nkind = \"single-request\"\n"));
        assert!(e.message.contains("medical+dental"), "{e}");
        // A 経過措置 clinic has no line.
        let e = refused(&add(
            "[plan]\ntransitional_notice = true\n\n[[faults]]\nkind = \"carrier-outage\"\non = \"go-live\"\n",
        ));
        assert!(e.message.contains("経過措置"), "{e}");
        // An unknown plan item.
        let e = refused(&add(
            "[[faults]]\nkind = \"plan-incomplete\"\nmissing = [\"colour\"]\n",
        ));
        assert!(
            e.message.contains("not an item of the onboarding plan"),
            "{e}"
        );
    }

    #[test]
    fn the_neighbour_needs_r2021_and_a_deletion_after_its_request() {
        let add = |extra: &str| OK.replace("[[expect]]", &format!("{extra}\n[[expect]]"));
        let nb = "[actors.bureau.neighbour]\nrequest = 2025-01-06\ndeleted = 2025-02-03\n";
        // r2024 keeps a 未指定 record: no number is handed out again.
        let e = refused(&add(nb));
        assert!(
            e.message
                .contains("actors.bureau.neighbour would be ignored"),
            "{e}"
        );
        let bad = "[actors.bureau.neighbour]\nrequest = 2025-02-03\ndeleted = 2025-02-03\n";
        let e = refused(
            &add(bad)
                .replace("r2024", "r2021")
                .replace("2025-06-01", "2023-06-01"),
        );
        assert!(
            e.message.contains("deletion must come after the request"),
            "{e}"
        );
    }

    #[test]
    fn ignored_parameters_are_refused_with_their_key() {
        let add = |extra: &str| OK.replace("[[expect]]", &format!("{extra}\n[[expect]]"));
        let e = refused(
            &add("[actors.reader_vendor]\nreplacement = { kind = \"fixed\", days = 7 }\n")
                .replace("r2024", "r2021"),
        );
        assert!(
            e.message
                .starts_with("actors.reader_vendor would be ignored"),
            "{e}"
        );
        let e = refused(&add(
            "[actors.implementing_body]\ntemporary_code_lead = { kind = \"fixed\", days = 3 }\n",
        ));
        assert!(e.message.contains("temporary_code_lead"), "{e}");
        let e = refused(&add(
            "[actors.carrier]\nextra_contract_lead = { kind = \"fixed\", days = 3 }\n",
        ));
        assert!(e.message.contains("extra_contract_lead"), "{e}");
        let e = refused(&add("[actors.carrier]\nexisting_line = true\n"));
        assert!(e.message.contains("IPsec+IKE"), "{e}");
        let e = refused(&add("[actors.carrier]\nhikari_collabo_available = false\n"));
        assert!(e.message.contains("光コラボ"), "{e}");
        // Written but used: fine.
        parse(
            "t.toml",
            &add("[actors.carrier]\nservice = \"光コラボレーション事業者\"\nhikari_collabo_available = false\n"),
        )
        .unwrap();
    }

    /// 004: a limited-type clinic is an existing institution — the bureau's steps and
    /// faults would be ignored, so they are refused; its own keys are refused elsewhere.
    #[test]
    fn limited_type_refuses_bureau_keys() {
        let limited = OK
            .replace(
                "designation = 2025-06-01",
                "designation = 2025-06-01\nclaims = \"paper\"\nlimited_type = true",
            )
            .replace("online-on-designation-day", "limited-type-ready");
        parse("t.toml", &limited).unwrap();
        let add = |extra: &str| limited.replace("[[expect]]", &format!("{extra}\n[[expect]]"));
        for (extra, named) in [
            ("[plan]\nsubmit_after = 3\n", "plan.submit_after"),
            (
                "[plan]\nreception_request = 2025-03-03\n",
                "plan.reception_request",
            ),
            (
                "[actors.bureau]\nkeeps_answer_date = false\n",
                "actors.bureau",
            ),
            (
                "[[faults]]\nkind = \"late-request\"\n",
                "faults[0] (late-request)",
            ),
            (
                "[[faults]]\nkind = \"designation-refused\"\n",
                "faults[0] (designation-refused)",
            ),
        ] {
            let e = refused(&add(extra));
            assert!(e.message.contains(named), "{extra}: {e}");
            assert!(e.message.contains("existing institution"), "{extra}: {e}");
        }
        // The device and the subsidy belong to the limited type.
        let e = refused(&OK.replace(
            "designation = 2025-06-01",
            "designation = 2025-06-01\ndevice = \"smartphone\"",
        ));
        assert!(e.message.contains("device"), "{e}");
        let e = refused(&OK.replace(
            "[[expect]]",
            "[plan]\nsubsidy_application = 2025-01-10\n\n[[expect]]",
        ));
        assert!(e.message.contains("subsidy"), "{e}");
        // A device the seed does not list is a parse error at its line, naming the choices.
        let e = refused(&limited.replace(
            "limited_type = true",
            "limited_type = true\ndevice = \"fax\"",
        ));
        assert_eq!(e.line, 12, "{e}");
        assert!(e.to_string().contains("`fax`"), "{e}");
        assert!(
            e.to_string().contains("tablet-with-bluetooth-reader"),
            "{e}"
        );
    }
}
