//! `onsim run` and `onsim validate`: scenario files through virtual time.

use std::path::{Path, PathBuf};

use clap::Args;
use rayon::prelude::*;

use crate::error::{CliError, CmdResult, Outcome};
use crate::output::write_atomic;
use crate::report;
use crate::runner::{self, Detail, RunResult};
use crate::scenario::{self, Scenario, ScenarioError};

/// The scenarios shipped with onsim, built into the binary so `onsim run` works
/// anywhere.
static EMBEDDED: include_dir::Dir<'static> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/../scenarios");

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files or folders (searched recursively for *.toml). Default:
    /// ./scenarios if it exists, else the scenarios built into onsim.
    pub paths: Vec<PathBuf>,
    /// Write JUnit XML here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the full JSON report (every timeline) here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write report.json, junit.xml, summary.md and report.html into this folder.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Print each scenario's timeline.
    #[arg(long)]
    pub trace: bool,
    /// Run the scenarios through the live services (in-process, ephemeral state)
    /// instead of the timeline, and print each verdict next to the timeline's.
    #[arg(long)]
    pub live: bool,
    /// A bureau's published deadline table (CSV designation,bureau_answer_dispatch,
    /// implementing_body_deadline, as `onsim schedule --published`), for the
    /// scenarios of that bureau: its dates win and every difference from the rule
    /// is in the report (`schedule.deviations`). Repeat for several bureaus.
    #[arg(long, value_name = "BUREAU=FILE", conflicts_with = "live")]
    pub published: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario files or folders. Default: as for `run`.
    pub paths: Vec<PathBuf>,
}

/// Load every scenario; all errors are collected and reported together.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<Scenario>, CliError> {
    let sources: Vec<(String, String)> = if paths.is_empty() && !Path::new("scenarios").is_dir() {
        let mut files: Vec<(String, String)> = Vec::new();
        collect_embedded(&EMBEDDED, &mut files);
        files.sort();
        files
    } else {
        let paths = if paths.is_empty() {
            vec![PathBuf::from("scenarios")]
        } else {
            paths.to_vec()
        };
        // A FIFO, a device or a socket is named for what it is (issue 14 #15).
        for p in &paths {
            if std::fs::metadata(p).is_ok_and(|m| !m.is_dir()) {
                super::input::regular_file(p, "the scenario")?;
            }
        }
        let files = scenario::discover(&paths).map_err(CliError::new)?;
        if files.is_empty() {
            return Err(CliError::new(format!(
                "no scenario files (*.toml) in {}",
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let mut out = Vec::new();
        for f in files {
            let name = f.display().to_string();
            let text = super::input::read_text(&f, "the scenario", super::input::limits::SCENARIO)?;
            out.push((name, text));
        }
        out
    };
    let mut scenarios = Vec::new();
    let mut errors: Vec<ScenarioError> = Vec::new();
    for (name, text) in &sources {
        match scenario::parse(name, text) {
            Ok(s) => scenarios.push(s),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        let n = errors.len();
        let msg = errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        return Err(CliError::new(format!(
            "{msg}\n{n} scenario file(s) have errors"
        )));
    }
    Ok(scenarios)
}

/// One scenario for `onsim serve --scenario` (and `onsim play`): the file at
/// `path`, or else the built-in scenario of that name (`network/outage-on-go-live.toml`
/// or `scenarios/network/outage-on-go-live.toml`), so the image needs no mount for
/// the scenarios it ships. `Err` (exit 2) names the file and the problem.
pub fn load_one(path: &Path) -> Result<Scenario, CliError> {
    if std::fs::symlink_metadata(path).is_ok() {
        super::input::regular_file(path, "the scenario")?;
        let name = path.display().to_string();
        let text = super::input::read_text(path, "the scenario", super::input::limits::SCENARIO)?;
        return scenario::parse(&name, &text).map_err(|e| CliError::new(e.to_string()));
    }
    let rel = path.strip_prefix("scenarios").unwrap_or(path);
    match EMBEDDED.get_file(rel).and_then(|f| f.contents_utf8()) {
        Some(text) => {
            let name = format!("scenarios/{}", rel.display());
            scenario::parse(&name, text).map_err(|e| CliError::new(e.to_string()))
        }
        None => Err(CliError::new(format!(
            "the scenario {}: no such file, and no built-in scenario of that name (the built-in ones are the files under scenarios/ in onsim's source, e.g. network/outage-on-go-live.toml)",
            path.display()
        ))),
    }
}

fn collect_embedded(dir: &include_dir::Dir<'static>, out: &mut Vec<(String, String)>) {
    for f in dir.files() {
        if f.path().extension().is_some_and(|x| x == "toml") {
            if let Some(t) = f.contents_utf8() {
                out.push((format!("scenarios/{}", f.path().display()), t.to_string()));
            }
        }
    }
    for d in dir.dirs() {
        collect_embedded(d, out);
    }
}

/// Run scenarios in parallel; the order of the results is the order of the input.
pub fn run_all(
    scenarios: Vec<Scenario>,
    threads: Option<usize>,
) -> Result<Vec<(Scenario, RunResult)>, CliError> {
    let pool = super::worker_pool(threads)?;
    Ok(pool.install(|| {
        scenarios
            .into_par_iter()
            .map(|s| {
                let r = runner::run(&s, Detail::Full);
                (s, r)
            })
            .collect()
    }))
}

pub fn run(a: RunArgs) -> CmdResult {
    if a.threads == Some(0) {
        return Err(CliError::new("--threads must be at least 1"));
    }
    // Nothing a user wrote is overwritten: `onsim run --json FILE.toml` (the report
    // option in front of the scenario) must not replace the scenario with a report.
    for (flag, out) in [("--json", &a.json), ("--junit", &a.junit)] {
        if let Some(p) = out {
            if p.extension().is_some_and(|x| x == "toml") && p.exists() {
                return Err(CliError::new(format!(
                    "{flag} {}: refusing to overwrite a scenario file with the report (the report goes after the option: `onsim run SCENARIO {flag} OUT`)",
                    p.display()
                )));
            }
        }
    }
    let tables = super::schedule::published_tables(&a.published)?;
    let mut scenarios = load_all(&a.paths)?;
    for s in &mut scenarios {
        super::schedule::apply_published(s, &tables);
    }
    if a.live {
        let (lines, passed) = crate::live::replay::run_cli(&scenarios);
        for l in lines {
            println!("{l}");
        }
        return Ok(if passed {
            Outcome::Passed
        } else {
            Outcome::Failed
        });
    }
    let results = run_all(scenarios, a.threads)?;
    for (s, r) in &results {
        println!(
            "{} {} — {} [{}]",
            if r.passed { "PASS" } else { "FAIL" },
            s.file,
            s.spec.scenario.name,
            r.outcome.as_str()
        );
        for c in r.checks.iter().filter(|c| !c.passed) {
            println!(
                "  ✗ {}\n    {}",
                c.expectation,
                c.explanation
                    .clone()
                    .unwrap_or_default()
                    .replace('\n', "\n    ")
            );
        }
        if let Some(reason) = &r.refused {
            println!("  refused: {reason}");
        }
        for d in r.schedule.iter().flat_map(|s| &s.deviations) {
            println!(
                "  published table: {} {} (rule {})",
                d.id.as_str(),
                d.published_date,
                d.rule_date
            );
        }
        if a.trace {
            for e in &r.timeline {
                println!(
                    "    {} {:<17} {:<30} {}",
                    e.at,
                    e.actor.as_str(),
                    e.kind.as_str(),
                    e.why
                );
            }
        }
    }
    let sum = report::summary(&results);
    if let Some(p) = &a.json {
        write_atomic(p, report::json(&results).as_bytes())?;
    }
    if let Some(p) = &a.junit {
        write_atomic(p, report::junit(&results).as_bytes())?;
    }
    if let Some(dir) = &a.report_dir {
        write_atomic(&dir.join("report.json"), report::json(&results).as_bytes())?;
        write_atomic(&dir.join("junit.xml"), report::junit(&results).as_bytes())?;
        write_atomic(
            &dir.join("summary.md"),
            report::markdown(&results).as_bytes(),
        )?;
        write_atomic(
            &dir.join("report.html"),
            crate::html::run_report(&results).as_bytes(),
        )?;
    }
    println!("\nscenarios: {} passed, {} failed", sum.passed, sum.failed);
    Ok(if sum.failed == 0 {
        Outcome::Passed
    } else {
        Outcome::Failed
    })
}

pub fn validate(a: ValidateArgs) -> CmdResult {
    let scenarios = load_all(&a.paths)?;
    for s in &scenarios {
        println!("ok {} — {}", s.file, s.spec.scenario.name);
    }
    println!("{} scenario file(s) valid", scenarios.len());
    Ok(Outcome::Passed)
}

/// `onsim schema`: the JSON Schema of scenario files.
pub fn schema() -> CmdResult {
    let mut schema = schemars::schema_for!(crate::scenario::ScenarioFile);
    // List the event ids, so editors can complete `happens` / `never`.
    let ids: Vec<serde_json::Value> = fakes::process::EventKind::all()
        .into_iter()
        .map(|k| serde_json::Value::String(k.as_str().to_string()))
        .collect();
    schema
        .schema
        .extensions
        .insert("x-event-ids".into(), serde_json::Value::Array(ids));
    println!(
        "{}",
        serde_json::to_string_pretty(&schema).expect("schema serializes")
    );
    Ok(Outcome::Passed)
}
