//! `onsim conformance`: the vendor conformance gate. See [`crate::conformance`].

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use serde_json::json;

use crate::commands::input;
use crate::conformance::{self as harness, ClientSpec, RunConfig, RunReport};
use crate::conformance::{clients, gate, GateSpec, REQUIREMENTS};
use crate::error::{CliError, CmdResult, Outcome};
use crate::output::write_atomic;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// A short human summary.
    Text,
    /// The JSON report (with the conformance score).
    Json,
    /// JUnit XML.
    Junit,
}

#[derive(Debug, Args)]
#[command(after_help = "\
The client is started with `sh -c CMD` and these environment variables:
  ONSIM_TERMINAL_DIR           the terminal folder (req/, res/, face/)
  ONSIM_INSTITUTION_CODE       the institution code to put in requests
  ONSIM_CONFIRMATION_DATE      the confirmation date to put in requests (YYYYMMDD)
  ONSIM_TASKS                  JSON file: the patients to confirm
  ONSIM_RESULTS                JSON-lines file the client writes its interpretation to
  ONSIM_TIME_LIMIT_MS          the client is killed after this
  ONSIM_ANSWER_TIMEOUT_MS      wait this long for an answer before retrying
  ONSIM_MAX_ATTEMPTS           most request files per task
  ONSIM_RETRY_MIN_INTERVAL_MS  least time between two attempts
  ONSIM_EXPECTED_FACE_FILES    card confirmations that will arrive in face/
See reports/notes/conformance.md for the protocol and every requirement.")]
pub struct ConformanceArgs {
    /// The system under test: a command line run with `sh -c`.
    #[arg(long, value_name = "CMD", conflicts_with_all = ["builtin", "self_test", "run_client", "list"])]
    pub client: Option<String>,
    /// Run a built-in client instead (`reference` or a broken one; see --list).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["self_test", "run_client", "list"])]
    pub builtin: Option<String>,
    /// Run the suite against the reference client and every broken client; passes
    /// when the reference passes and each broken client fails exactly its documented
    /// requirements.
    #[arg(long, conflicts_with_all = ["run_client", "list"])]
    pub self_test: bool,
    /// List the requirements and the built-in clients.
    #[arg(long)]
    pub list: bool,
    /// Evidence bundle folder (must be missing or empty). Default: a new folder
    /// under the system temp folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also write the JSON report here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also write JUnit XML here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// A gate file: the limits and faults of the run (docs/conformance-gate.md).
    /// Default: the built-in gate, sim/conformance/builtin.toml. The self-test always
    /// runs the built-in gate (its broken clients fail what that gate exercises).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["self_test", "run_client", "list"])]
    pub scenario: Option<PathBuf>,
    /// Time limit for the client, in seconds (default: the gate's `time_limit_s`,
    /// 20 in the built-in gate).
    #[arg(long, value_name = "S")]
    pub time_limit: Option<u64>,
    /// Internal: act as the built-in client NAME (the harness starts this).
    #[arg(long, value_name = "NAME", hide = true)]
    pub run_client: Option<String>,
}

fn default_out() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("onsim-conformance-{}-{nanos}", std::process::id()))
}

fn exe() -> Result<PathBuf, CliError> {
    std::env::current_exe().map_err(|e| CliError::new(format!("cannot find onsim itself: {e}")))
}

/// The gate of the run: `--scenario FILE` or the built-in one, with `--time-limit`.
fn gate(a: &ConformanceArgs) -> Result<GateSpec, CliError> {
    let mut g = match &a.scenario {
        None => GateSpec::builtin(),
        Some(p) => {
            let text = input::read_text(p, "gate file", input::limits::SCENARIO)?;
            gate::parse(&p.display().to_string(), &text)
                .map_err(|e| CliError::new(e.to_string()))?
        }
    };
    if let Some(t) = a.time_limit {
        if !gate::limits::TIME_LIMIT_S.contains(&t) {
            return Err(CliError::new("--time-limit must be 1..=600 seconds"));
        }
        g.time_limit = Duration::from_secs(t);
    }
    Ok(g)
}

fn config(a: &ConformanceArgs, out: PathBuf, client: ClientSpec) -> Result<RunConfig, CliError> {
    Ok(RunConfig {
        gate: gate(a)?,
        ..RunConfig::new(out, client)
    })
}

fn run_json(r: &RunReport) -> serde_json::Value {
    serde_json::to_value(r).unwrap_or_default()
}

pub fn run(a: ConformanceArgs) -> CmdResult {
    if let Some(name) = &a.run_client {
        return match clients::run(name) {
            Ok(()) => Ok(Outcome::Passed),
            Err(e) => Err(CliError::new(format!("built-in client {name}: {e}"))),
        };
    }
    if a.list {
        println!("requirements:");
        for (id, what) in REQUIREMENTS {
            println!("  {id:<17} {what}");
        }
        println!(
            "built-in clients:\n  {:<25} passes everything",
            clients::REFERENCE
        );
        for b in clients::BROKEN {
            println!(
                "  {:<25} fails {} ({})",
                b.name,
                b.violates.join(", "),
                b.flaw
            );
        }
        return Ok(Outcome::Passed);
    }
    if a.self_test {
        return self_test(&a);
    }
    let client = match (&a.client, &a.builtin) {
        (Some(c), _) if c.trim().is_empty() => return Err(CliError::new("--client is empty")),
        (Some(c), _) => ClientSpec::Command(c.clone()),
        (None, Some(n)) if clients::names().contains(&n.as_str()) => ClientSpec::Builtin {
            exe: exe()?,
            name: n.clone(),
        },
        (None, Some(n)) => {
            return Err(CliError::new(format!(
                "--builtin {n}: unknown; known: {}",
                clients::names().join(", ")
            )))
        }
        (None, None) => {
            return Err(CliError::new(
                "give --client \"CMD ARGS\", --builtin NAME, --self-test or --list",
            ))
        }
    };
    let out = a.out.clone().unwrap_or_else(default_out);
    let cfg = config(&a, out, client)?;
    let r = harness::run(&cfg).map_err(CliError::new)?;
    let json = run_json(&r);
    let junit = harness::junit(std::slice::from_ref(&r));
    emit(&a, &json, &junit, || {
        let mut s = format!(
            "conformance of {:?} (gate {:?}): {} ({}/{} requirements{}, score {})\n",
            r.client,
            r.gate,
            if r.passed { "PASSED" } else { "FAILED" },
            r.checks_passed,
            r.checks_total,
            if r.checks_skipped > 0 {
                format!(", {} skipped", r.checks_skipped)
            } else {
                String::new()
            },
            r.score
        );
        for c in &r.checks {
            s.push_str(&format!(
                "  {} {:<17} {}\n",
                match (c.skipped, c.passed) {
                    (true, _) => "skip",
                    (false, true) => "ok  ",
                    (false, false) => "FAIL",
                },
                c.id,
                c.detail
            ));
        }
        s.push_str(&format!("evidence: {}\n", r.evidence_dir.display()));
        s
    })?;
    Ok(if r.passed {
        Outcome::Passed
    } else {
        Outcome::Failed
    })
}

fn emit(
    a: &ConformanceArgs,
    json: &serde_json::Value,
    junit: &str,
    text: impl FnOnce() -> String,
) -> Result<(), CliError> {
    let pretty = serde_json::to_string_pretty(json).unwrap_or_default();
    if let Some(p) = &a.json {
        write_atomic(p, pretty.as_bytes())?;
    }
    if let Some(p) = &a.junit {
        write_atomic(p, junit.as_bytes())?;
    }
    match a.format {
        Format::Json => println!("{pretty}"),
        Format::Junit => println!("{junit}"),
        Format::Text => print!("{}", text()),
    }
    Ok(())
}

fn self_test(a: &ConformanceArgs) -> CmdResult {
    let t0 = Instant::now();
    let base = a.out.clone().unwrap_or_else(default_out);
    if base.exists()
        && std::fs::read_dir(&base)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
    {
        return Err(CliError::new(format!(
            "{}: the evidence folder must be missing or empty",
            base.display()
        )));
    }
    let exe = exe()?;
    let names = clients::names();
    let configs = names
        .iter()
        .map(|n| {
            config(
                a,
                base.join(n),
                ClientSpec::Builtin {
                    exe: exe.clone(),
                    name: n.to_string(),
                },
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    // All clients at once: each run mostly waits on timers.
    let results: Vec<Result<RunReport, String>> = std::thread::scope(|s| {
        let hs: Vec<_> = configs
            .iter()
            .map(|c| s.spawn(move || harness::run(c)))
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("harness thread panicked".into()))
            })
            .collect()
    });
    let mut reports = Vec::new();
    for r in results {
        reports.push(r.map_err(CliError::new)?);
    }
    let reference = &reports[0];
    let mut all_ok = reference.passed;
    let broken: Vec<serde_json::Value> = clients::BROKEN
        .iter()
        .zip(&reports[1..])
        .map(|(b, r)| {
            let mut expected: Vec<String> = b.violates.iter().map(|s| s.to_string()).collect();
            expected.sort();
            let mut failed = r.failed_requirements.clone();
            failed.sort();
            let as_documented = !r.passed && failed == expected;
            all_ok &= as_documented;
            json!({
                "name": b.name,
                "passed": r.passed,
                "failed_requirements": r.failed_requirements,
                "expected_requirements": b.violates,
                "as_documented": as_documented,
                "flaw": b.flaw,
                "score": r.score,
                "evidence_dir": r.evidence_dir,
            })
        })
        .collect();
    let doc = json!({
        "reference": {
            "passed": reference.passed,
            "score": reference.score,
            "checks_passed": reference.checks_passed,
            "checks_total": reference.checks_total,
            "failed_requirements": reference.failed_requirements,
            "checks": reference.checks,
            "evidence_dir": reference.evidence_dir,
        },
        "broken": broken,
        "self_test_passed": all_ok,
        "duration_ms": t0.elapsed().as_millis(),
        "evidence_dir": base,
    });
    let junit = harness::junit(&reports);
    emit(a, &doc, &junit, || {
        let mut s = format!(
            "reference: {} (score {})\n",
            if reference.passed { "passed" } else { "FAILED" },
            reference.score
        );
        for b in &broken {
            s.push_str(&format!(
                "{:<26} failed {} (expected {}){}\n",
                b["name"].as_str().unwrap_or(""),
                b["failed_requirements"],
                b["expected_requirements"],
                if b["as_documented"] == json!(true) {
                    ""
                } else {
                    "  <-- NOT AS DOCUMENTED"
                }
            ));
        }
        s.push_str(&format!(
            "self-test {} in {:.1} s; evidence: {}\n",
            if all_ok { "passed" } else { "FAILED" },
            t0.elapsed().as_secs_f64(),
            base.display()
        ));
        s
    })?;
    Ok(if all_ok {
        Outcome::Passed
    } else {
        Outcome::Failed
    })
}
