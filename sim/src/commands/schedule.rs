//! `onsim schedule`: the milestones of one designation under a rule set.

use std::path::PathBuf;

use chrono::{Datelike, NaiveDate};
use clap::{Args, ValueEnum};

use fakes::calendar::BusinessCalendar;
use fakes::codes::Bureau;
use fakes::schedule::{
    compute, ClinicKind, PublishedTable, RuleSet, Schedule, ScheduleRequest, Source,
};

use crate::error::{CmdResult, Outcome};

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// Designation date (指定日), the 1st of a month.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub designation: NaiveDate,
    /// Rule set: r2021 (answer by the 10th of M−1) or r2024 (10th of M−2).
    #[arg(long, value_name = "r2021|r2024", value_parser = parse_rules)]
    pub rules: RuleSet,
    /// Regional bureau (hokkaido, tohoku, kanto-shinetsu, tokai-hokuriku, kinki,
    /// chugoku-shikoku, shikoku, kyushu).
    #[arg(long, value_name = "ID", value_parser = parse_bureau)]
    pub bureau: Option<Bureau>,
    /// A bureau's published table (CSV: designation,bureau_answer_dispatch,
    /// implementing_body_deadline). Its dates win; differences are listed.
    #[arg(long, value_name = "FILE")]
    pub published: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// Kind of clinic.
    #[arg(long, value_enum, default_value_t = Clinic::Medical)]
    pub clinic: Clinic,
    /// The clinic files paper claims (outside the mandate).
    #[arg(long)]
    pub paper_claims: bool,
    /// Allow designation dates in years whose holidays are not yet announced.
    #[arg(long)]
    pub allow_projected: bool,
    /// The day the clinic asks; designations on or before it are refused as
    /// retroactive.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub as_of: Option<NaiveDate>,
    /// Planned system installation date (default: the guide's recommendation).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub installation: Option<NaiveDate>,
    /// An extra closed day of the bureau (repeatable).
    #[arg(long = "closure", value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub closures: Vec<NaiveDate>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Json,
    Table,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Clinic {
    Medical,
    Dental,
    Pharmacy,
    MedicalDental,
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("{s:?} is not a date in the form YYYY-MM-DD"))
}

fn parse_rules(s: &str) -> Result<RuleSet, String> {
    s.parse()
        .map_err(|e: fakes::schedule::ScheduleError| e.to_string())
}

fn parse_bureau(s: &str) -> Result<Bureau, String> {
    s.parse()
        .map_err(|e: fakes::codes::CodeError| e.to_string())
}

/// Read a bureau's published table (bounded; errors name the file, line and column).
fn read_published(p: &std::path::Path) -> Result<PublishedTable, crate::error::CliError> {
    let text = super::input::read_text(
        p,
        "the published table",
        super::input::limits::PUBLISHED_TABLE,
    )?;
    Ok(PublishedTable::parse(&p.display().to_string(), &text)?)
}

/// A published table per bureau, for `onsim run|sweep --published BUREAU=FILE`.
pub type PublishedTables = Vec<(Bureau, std::sync::Arc<PublishedTable>)>;

/// Parse `--published BUREAU=FILE` values and read each table. A table belongs to
/// one bureau (each bureau publishes its own), so the bureau is named and each may be
/// given once.
pub fn published_tables(values: &[String]) -> Result<PublishedTables, crate::error::CliError> {
    use crate::error::CliError;
    let mut out: PublishedTables = Vec::new();
    for v in values {
        let (b, file) = v.split_once('=').ok_or_else(|| {
            CliError::new(format!(
                "--published {v:?}: write BUREAU=FILE, e.g. kanto-shinetsu=table.csv"
            ))
        })?;
        let bureau =
            parse_bureau(b).map_err(|e| CliError::new(format!("--published {v:?}: {e}")))?;
        if out.iter().any(|(x, _)| *x == bureau) {
            return Err(CliError::new(format!(
                "--published: {b} given twice; one table per bureau"
            )));
        }
        let table = read_published(std::path::Path::new(file))?;
        out.push((bureau, std::sync::Arc::new(table)));
    }
    Ok(out)
}

/// Give `s` its bureau's table, if one was given.
pub fn apply_published(s: &mut crate::scenario::Scenario, tables: &PublishedTables) {
    s.published = tables
        .iter()
        .find(|(b, _)| *b == s.bureau)
        .map(|(_, t)| t.clone());
}

pub fn run(a: ScheduleArgs) -> CmdResult {
    let published = a.published.as_deref().map(read_published).transpose()?;
    let mut req = ScheduleRequest::new(a.designation, a.rules);
    req.bureau = a.bureau;
    req.clinic = match a.clinic {
        Clinic::Medical => ClinicKind::Medical,
        Clinic::Dental => ClinicKind::Dental,
        Clinic::Pharmacy => ClinicKind::Pharmacy,
        Clinic::MedicalDental => ClinicKind::MedicalDental,
    };
    req.paper_claims = a.paper_claims;
    req.allow_projected = a.allow_projected;
    req.as_of = a.as_of;
    req.installation = a.installation;
    req.calendar = BusinessCalendar::with_closures(a.closures);
    let schedule = compute(&req, published.as_ref())?;
    let text = match a.format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&schedule).expect("schedule serializes");
            s.push('\n');
            s
        }
        Format::Table => table(&schedule),
    };
    print!("{text}");
    Ok(Outcome::Passed)
}

fn table(s: &Schedule) -> String {
    let mut out = format!(
        "designation {} ({}) under {}{}\n\n",
        s.designation,
        s.designation.weekday(),
        s.rules,
        s.bureau
            .map(|b| format!(", {} ({})", b.name_ja(), b.id()))
            .unwrap_or_default()
    );
    let idw = s
        .milestones
        .iter()
        .map(|m| m.id.as_str().len())
        .max()
        .unwrap_or(2);
    out.push_str(&format!(
        "{:<15} {:<idw$}  {:<9}  rule\n",
        "date", "milestone", "source"
    ));
    for m in &s.milestones {
        let src = match m.source {
            Source::Rule => "rule",
            Source::Published => "published",
        };
        out.push_str(&format!(
            "{} {}  {:<idw$}  {:<9}  {}\n",
            m.date,
            m.date.weekday(),
            m.id.as_str(),
            src,
            m.rule
        ));
    }
    if !s.deviations.is_empty() {
        out.push_str("\ndeviations from the rule:\n");
        for d in &s.deviations {
            out.push_str(&format!(
                "  {}: rule {} , published {}\n",
                d.id, d.rule_date, d.published_date
            ));
        }
    }
    for n in &s.notes {
        out.push_str(&format!("\nnote: {n}\n"));
    }
    if s.projected {
        out.push_str("\nnote: some dates use computed (not yet announced) holidays\n");
    }
    out
}
