//! `onsim serve`: every fake on loopback, on a shared virtual clock, for real clinic
//! software to talk to. See [`crate::live`] for the services and
//! [`crate::live::state_dir`] for what is written to `--state-dir`.

use std::path::PathBuf;

use chrono::{Datelike, NaiveDate};
use clap::Args;
use serde_json::{json, Value};

use fakes::schedule::RuleSet;

use fakes::codes::InstitutionCode;

use crate::driver::Driver;
use crate::error::{CliError, CmdResult, Outcome};
use crate::live::{self, pki::expected_refusal, state_dir, LiveConfig};
use crate::runner;
use crate::scenario::Scenario;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Directory for endpoints.json, pki/, population.csv and terminal/ (created if
    /// missing; must not hold files onsim does not own).
    #[arg(long, value_name = "DIR")]
    pub state_dir: PathBuf,
    /// A scenario file (env ONSIM_SCENARIO; or the name of a built-in one, e.g.
    /// network/outage-on-go-live.toml): its clinic, actor parameters and
    /// `[[faults]]` run the live services, its `[[expect]]` is judged at
    /// `GET {control_url}/verdict` and on shutdown (verdict.json and
    /// verdict.junit.xml in the state dir; exit 0 passed, 1 failed). Its rules,
    /// designation and seed are the run's (--rules, --designation, --seed conflict).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// A bureau's published deadline table, BUREAU=FILE (CSV as `onsim schedule
    /// --published`; repeatable, one per bureau), with --scenario: when the scenario's
    /// clinic is that bureau's, the table's dates win over the rule's and the actors
    /// run on them, as `onsim run --published`. Every difference is printed at start
    /// and written to endpoints.json (`published_deviations`).
    #[arg(long, value_name = "BUREAU=FILE")]
    pub published: Vec<String>,
    /// Virtual start date (the clock starts at 09:00 on it). Default: 2025-04-01, or
    /// with --scenario the day before the clinic's first step.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub start: Option<NaiveDate>,
    /// Virtual seconds per real second (86400 = a day per second; 0 = frozen, moved
    /// only by POST /clock/advance).
    #[arg(long, default_value_t = 0.0)]
    pub speed: f64,
    /// Master seed (actors, certificates, population; default 1).
    #[arg(long)]
    pub seed: Option<u64>,
    /// First port (the services take 7 consecutive ports); 0 = ephemeral ports.
    #[arg(long, default_value_t = 0)]
    pub port_base: u16,
    /// The IP address every service listens on (env ONSIM_BIND; default 127.0.0.1).
    /// 0.0.0.0 (or ::) listens on all interfaces, as a container reached through
    /// port mapping must (the onsim:dev image sets ONSIM_BIND=0.0.0.0).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// The host name or IP address clients use (env ONSIM_ADVERTISE): written into
    /// endpoints.json's URLs and added to the eligibility server certificate's names.
    /// Default: the --bind address, or 127.0.0.1 (::1) when binding 0.0.0.0 (::).
    #[arg(long, value_name = "HOST")]
    pub advertise: Option<String>,
    /// The clinic's designation date (default: the 1st of the month 3 months after
    /// --start).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub designation: Option<NaiveDate>,
    /// Rule set: r2021 or r2024 (default r2024).
    #[arg(long)]
    pub rules: Option<String>,
    /// Households in the synthetic population (about 2.5 people each).
    #[arg(long, default_value_t = 100_000)]
    pub households: u64,
    /// The terminal's file drop (sim/src/terminal.rs).
    #[command(flatten)]
    pub terminal: TerminalArgs,
    /// The card-challenge secret (64 hex digits), to replay an earlier serve's
    /// challenges; default: a fresh random one, written to STATE/challenge.secret.
    #[arg(long, value_name = "HEX")]
    pub challenge_secret: Option<String>,
}

/// The settings a real qualification terminal has (issue 13 item 4).
#[derive(Debug, Args)]
pub struct TerminalArgs {
    /// How often the terminal lists req/, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 50)]
    pub terminal_poll_ms: u64,
    /// How long a request must stay unchanged before it is taken, in milliseconds
    /// (a file ending in </XmlMsg> is taken after two unchanged polls, unless
    /// --terminal-full-quiet).
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub terminal_quiet_ms: u64,
    /// Always wait the whole quiet period, even for a file that ends in </XmlMsg>.
    #[arg(long)]
    pub terminal_full_quiet: bool,
    /// A settled request is answered no sooner than this, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub terminal_answer_delay_ms: u64,
    /// rename: answers appear complete (temp file + link); in-place: written at
    /// their name so change-watchers fire (a reader may see a partial file).
    #[arg(long, value_enum, default_value = "rename")]
    pub terminal_write_mode: crate::terminal::WriteMode,
    /// The terminal's output encoding when a request names none (its
    /// CharacterCodeIdentifier wins). Default: the answering core's default.
    #[arg(long, value_enum)]
    pub terminal_encoding: Option<crate::terminal::OutputEncoding>,
    /// Keep answered requests in req/processed/ instead of deleting them (the real
    /// terminal deletes them).
    #[arg(long)]
    pub terminal_keep_processed: bool,
    /// Clock for face/ file name stamps: wall (clients filter on today's date) or
    /// virtual.
    #[arg(long, value_enum, default_value = "wall")]
    pub face_stamp: crate::terminal::FaceStamp,
}

/// Longest accepted millisecond setting *(our choice: 10 minutes)*.
const MAX_TERMINAL_MS: u64 = 600_000;

impl TerminalArgs {
    /// The driver's settings; `Err` names the flag.
    pub fn driver_config(&self) -> Result<crate::terminal::DriverConfig, CliError> {
        let ms = |flag: &str, v: u64, min: u64| {
            if (min..=MAX_TERMINAL_MS).contains(&v) {
                Ok(std::time::Duration::from_millis(v))
            } else {
                Err(CliError::new(format!(
                    "--{flag} must be between {min} and {MAX_TERMINAL_MS}"
                )))
            }
        };
        Ok(crate::terminal::DriverConfig {
            poll_interval: ms("terminal-poll-ms", self.terminal_poll_ms, 1)?,
            quiet_period: ms("terminal-quiet-ms", self.terminal_quiet_ms, 0)?,
            end_tag_shortcut: !self.terminal_full_quiet,
            answer_delay: ms("terminal-answer-delay-ms", self.terminal_answer_delay_ms, 0)?,
            write_mode: self.terminal_write_mode,
            processed: if self.terminal_keep_processed {
                crate::terminal::Processed::Move
            } else {
                crate::terminal::Processed::Delete
            },
            encoding: self.terminal_encoding.map(Into::into),
            face_stamp: self.face_stamp,
            ..Default::default()
        })
    }
}

/// `--challenge-secret`: 32 bytes as 64 hex digits.
fn parse_secret(s: &str) -> Result<[u8; 32], CliError> {
    live::card::from_hex(s)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| CliError::new("--challenge-secret must be 64 hex digits (32 bytes)"))
}

/// `--flag`, else the environment variable `env`; an empty variable counts as unset
/// *(our choice: `ONSIM_BIND=` in a compose file means "no setting")*.
fn flag_or_env(flag: Option<&str>, env: &str) -> Option<String> {
    flag.map(str::to_string)
        .or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
}

/// `--bind` / `--advertise` (or their variables); `Err` names the flag and the value.
fn network(a: &ServeArgs) -> Result<live::Network, CliError> {
    let bind = match flag_or_env(a.bind.as_deref(), "ONSIM_BIND") {
        None => live::Network::default().bind,
        Some(v) => v.parse::<std::net::IpAddr>().map_err(|_| {
            CliError::new(format!(
                "--bind (or ONSIM_BIND) {v:?} is not an IP address (e.g. 127.0.0.1, 0.0.0.0, ::); names are not looked up"
            ))
        })?,
    };
    let advertise = flag_or_env(a.advertise.as_deref(), "ONSIM_ADVERTISE");
    live::Network::new(bind, advertise.as_deref())
        .map_err(|e| CliError::new(format!("--advertise (or ONSIM_ADVERTISE): {e}")))
}

fn default_designation(start: NaiveDate) -> NaiveDate {
    let first = start.with_day(1).unwrap_or(start);
    first
        .checked_add_months(chrono::Months::new(3))
        .unwrap_or(first)
}

/// Where the run's clinic, rules, dates and seed come from: the flags, or a scenario.
struct Setup {
    rules: RuleSet,
    designation: NaiveDate,
    /// `--start`, or the default; with a scenario, only `--start` (else the day
    /// before its clinic's first step, [`prepare_scenario`]).
    start: Option<NaiveDate>,
    seed: u64,
    scenario: Option<Scenario>,
}

/// The flags' run, or (`--scenario`/ONSIM_SCENARIO) the scenario's; `Err` (exit 2)
/// names the flag or the scenario's problem.
fn setup(a: &ServeArgs) -> Result<Setup, CliError> {
    let file = a
        .scenario
        .clone()
        .or_else(|| flag_or_env(None, "ONSIM_SCENARIO").map(PathBuf::from));
    let Some(file) = file else {
        if !a.published.is_empty() {
            return Err(CliError::new(
                "--published applies to a scenario's bureau: give --scenario FILE (or ONSIM_SCENARIO)",
            ));
        }
        let rules: RuleSet =
            a.rules.as_deref().unwrap_or("r2024").parse().map_err(
                |e: fakes::schedule::ScheduleError| CliError::new(format!("--rules: {e}")),
            )?;
        let start = a.start.unwrap_or(DEFAULT_START);
        return Ok(Setup {
            rules,
            designation: a.designation.unwrap_or_else(|| default_designation(start)),
            start: Some(start),
            seed: a.seed.unwrap_or(1),
            scenario: None,
        });
    };
    for (flag, given) in [
        ("--rules", a.rules.is_some()),
        ("--designation", a.designation.is_some()),
        ("--seed", a.seed.is_some()),
    ] {
        if given {
            return Err(CliError::new(format!(
                "{flag} comes from the scenario {} with --scenario; drop {flag} (or edit the scenario)",
                file.display()
            )));
        }
    }
    let tables = super::schedule::published_tables(&a.published)?;
    let mut s = super::run::load_one(&file)?;
    super::schedule::apply_published(&mut s, &tables);
    if !tables.is_empty() && s.published.is_none() {
        return Err(CliError::new(format!(
            "--published: no table for the scenario's bureau ({}): {} would not apply; give {}=FILE",
            s.bureau.id(),
            a.published.join(", "),
            s.bureau.id()
        )));
    }
    Ok(Setup {
        rules: s.spec.scenario.rules,
        designation: s.spec.clinic.designation,
        start: a.start,
        seed: s.spec.scenario.seed,
        scenario: Some(s),
    })
}

/// The scenario prepared once for the whole serve (its refusal is exit 2 naming the
/// file), and the clock's start: `--start`, else the day before the clinic's first
/// step (as `onsim run --live`): the clock only runs forward, and no actor acts before
/// the clinic.
fn prepare_scenario<'a>(
    s: &'a Scenario,
    seed: u64,
    start: Option<NaiveDate>,
) -> Result<(runner::Prepared<'a>, NaiveDate), CliError> {
    let p = runner::prepare(s).map_err(|why| {
        CliError::new(format!(
            "the scenario {} cannot run live: refused before any step: {why}",
            s.file
        ))
    })?;
    let mut probe = Driver::new(Some(p.clinic(seed)), None, false);
    probe.start_clinic();
    let designation = s.spec.clinic.designation;
    let first = probe
        .next_due()
        .map_or(designation, |t| t.date())
        .min(designation);
    let start = start.unwrap_or_else(|| first.pred_opt().unwrap_or(first));
    Ok((p, start))
}

/// `--start` when nothing else says.
const DEFAULT_START: NaiveDate = match NaiveDate::from_ymd_opt(2025, 4, 1) {
    Some(d) => d,
    None => panic!("valid date"),
};

pub fn run(a: ServeArgs) -> CmdResult {
    let Setup {
        rules,
        designation,
        start,
        seed,
        scenario,
    } = setup(&a)?;
    let (prepared, start) = match &scenario {
        Some(s) => {
            let (p, start) = prepare_scenario(s, seed, start)?;
            (Some(p), start)
        }
        None => (None, start.unwrap_or(DEFAULT_START)),
    };
    if !(1..=fakes::eligibility::population::MAX_HOUSEHOLDS).contains(&a.households) {
        return Err(CliError::new(format!(
            "--households must be 1..={}",
            fakes::eligibility::population::MAX_HOUSEHOLDS
        )));
    }
    if !(2000..=2090).contains(&start.year()) {
        return Err(CliError::new("--start must be within 2000..2090"));
    }
    if !(a.speed.is_finite() && (0.0..=live::clock::MAX_SPEED).contains(&a.speed)) {
        return Err(CliError::new(format!(
            "--speed must be between 0 and {}",
            live::clock::MAX_SPEED
        )));
    }
    if a.port_base > u16::MAX - 7 {
        return Err(CliError::new("--port-base leaves no room for 7 ports"));
    }
    if designation <= start {
        return Err(CliError::new(format!(
            "--designation {designation} must be after --start {start}"
        )));
    }
    let secret = a
        .challenge_secret
        .as_deref()
        .map(parse_secret)
        .transpose()?;
    let terminal_cfg = a.terminal.driver_config()?;
    let net = network(&a)?;
    // The lock is held until `run` returns (issue 14 #9: one server per directory).
    let (dir, _lock) = state_dir::prepare_locked(&a.state_dir).map_err(CliError::new)?;
    let terminal_dir = dir.join("terminal");
    // A scenario's clinic: the code its bureau hands out first (valid.crt and the
    // terminal are bound to it).
    let institution = prepared
        .as_ref()
        .and_then(|p| {
            let fee = p.setup.fees().first().copied()?;
            InstitutionCode::new(
                p.scenario.prefecture,
                fee,
                p.scenario.spec.clinic.county,
                p.scenario.spec.actors.bureau.next_number,
            )
        })
        .unwrap_or_else(live::clinic_institution);
    let cfg = LiveConfig {
        start,
        speed: a.speed,
        seed,
        rules,
        designation,
        port_base: a.port_base,
        households: a.households,
        terminal_dir: Some(terminal_dir.clone()),
        terminal_timeout: live::centre::DEFAULT_TIMEOUT,
        institution,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::new(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async {
        let world: Option<live::WorldBuilder<'_>> = prepared.as_ref().map(|p| {
            Box::new(move |clock, pki| live::world::World::for_scenario(p, seed, clock, pki))
                as live::WorldBuilder<'_>
        });
        let running = live::start_on(&cfg, world, terminal_cfg, &net)
            .await
            .map_err(CliError::new)?;
        let pki = running.app.pki.clone();
        // The card-challenge secret (issue 14 #13): replayable, private (0600).
        if let Some(k) = secret {
            running.app.cards.set_challenge_secret(k);
        }
        let secret_file = dir.join(state_dir::CHALLENGE_SECRET_FILE);
        let hex = live::card::to_hex(&running.app.cards.challenge_secret());
        state_dir::write_atomic(&secret_file, format!("{hex}\n").as_bytes(), true)
            .map_err(|e| CliError::new(format!("{}: {e}", secret_file.display())))?;
        state_dir::write_pki(&dir, &pki)
            .map_err(|e| CliError::new(format!("{}: {e}", dir.join("pki").display())))?;
        let csv = live::population::csv(running.app.desk.population(), start);
        state_dir::write_atomic(&dir.join("population.csv"), csv.as_bytes(), false)
            .map_err(|e| CliError::new(format!("{}: {e}", dir.join("population.csv").display())))?;
        // The JSON services' OpenAPI documents, as `GET /openapi.json` serves them.
        let documents: Vec<(&str, Vec<u8>)> = live::http::Svc::ALL
            .iter()
            .map(|s| (s.name(), live::http::openapi_json(*s)))
            .collect();
        state_dir::write_openapi(&dir, &documents).map_err(|e| {
            CliError::new(format!(
                "{}: {e}",
                dir.join(state_dir::OPENAPI_DIR).display()
            ))
        })?;
        let ad = &running.addrs;
        // Every URL names the advertised host; the ports are the ones listened on
        // (behind a port mapping, the client substitutes its mapped ports).
        let at = |s: std::net::SocketAddr| net.authority(s.port());
        let http = |s: std::net::SocketAddr| format!("http://{}", at(s));
        let pki_dir = dir.join("pki");
        let credentials: serde_json::Map<String, serde_json::Value> = pki
            .matrix
            .iter()
            .map(|(n, _)| {
                (
                    n.to_string(),
                    json!({
                        "cert": pki_dir.join(format!("{n}.crt")),
                        "key": pki_dir.join(format!("{n}.key")),
                        "expected_refusal": expected_refusal(n),
                    }),
                )
            })
            .collect();
        let mut endpoints = json!({
            "eligibility_url": format!("https://{}/eligibility", at(ad.eligibility)),
            "eligibility_via_carrier_url": format!("https://{}/eligibility", at(ad.proxy)),
            "institution_code": pki.institution.to_string(),
            "other_institution_code": pki.other_institution.to_string(),
            "terminal_dir": terminal_dir,
            "clock_url": format!("{}/clock", http(ad.control)),
            "control_url": http(ad.control),
            "inbox_url": format!("{}/inbox", http(ad.control)),
            "trace_url": format!("{}/trace", http(ad.control)),
            "deadlines_url": format!("{}/deadlines", http(ad.control)),
            "carrier_faults_url": format!("{}/carrier/faults", http(ad.control)),
            // The simulated reader (issue 13) and run-time revocations (issue 14 #1).
            "reader_present_url": format!("{}/reader/present", http(ad.control)),
            "revocations_url": format!("{}/pki/revocations", http(ad.control)),
            "bureau_url": http(ad.bureau),
            "reader_vendor_url": http(ad.reader_vendor),
            "carrier_url": http(ad.carrier),
            "carrier_proxy": at(ad.proxy),
            "portal_url": http(ad.portal),
            "bind": net.bind.to_string(),
            "advertise": net.advertise,
            "pki_dir": pki_dir,
            // `<service>.json` for control, bureau, reader-vendor, carrier, portal;
            // each service also serves its own at `GET /openapi.json`.
            "openapi_dir": dir.join(state_dir::OPENAPI_DIR),
            "server_ca": pki_dir.join("server-ca.crt"),
            "credentials": credentials,
            "population_csv": dir.join("population.csv"),
            "start": live::start_instant(start),
            "speed": a.speed,
            "designation": designation,
            "rules": rules.id(),
            "seed": seed,
            "pid": std::process::id(),
        });
        if let Some(p) = &prepared {
            let deviations: Vec<Value> = p
                .schedule
                .deviations
                .iter()
                .map(|d| {
                    eprintln!(
                        "onsim serve: published table: {} {} (rule {})",
                        d.id.as_str(),
                        d.published_date,
                        d.rule_date
                    );
                    json!({"id": d.id.as_str(), "published_date": d.published_date, "rule_date": d.rule_date})
                })
                .collect();
            if !a.published.is_empty() {
                endpoints["published_deviations"] = json!(deviations);
            }
        }
        if let Some(s) = &scenario {
            endpoints["scenario"] = json!(s.file);
            endpoints["clinic"] = json!(s.spec.live.clinic);
            endpoints["verdict_url"] = json!(format!("{}/verdict", http(ad.control)));
        }
        state_dir::write_endpoints(&dir, &endpoints)
            .map_err(|e| CliError::new(format!("{}: {e}", dir.join("endpoints.json").display())))?;
        eprintln!(
            "onsim serve: ready; endpoints in {} (SIGINT/SIGTERM to stop)",
            dir.join("endpoints.json").display()
        );
        wait_for_signal().await;
        eprintln!("onsim serve: shutting down");
        // The verdict at the last virtual instant, before the services stop.
        let verdict = running.app.world.verdict(true);
        running.stop().await;
        match verdict {
            Some(v) => write_verdict(&dir, &v),
            None => Ok(Outcome::Passed),
        }
    })
}

/// verdict.json and verdict.junit.xml into the state dir (atomically); the outcome
/// is the verdict's, as `onsim run` (0 passed, 1 failed).
fn write_verdict(dir: &std::path::Path, v: &live::verdict::Verdict) -> CmdResult {
    let mut text =
        serde_json::to_string_pretty(v).map_err(|e| CliError::new(format!("verdict: {e}")))?;
    text.push('\n');
    for (name, bytes) in [
        (state_dir::VERDICT_FILE, text.into_bytes()),
        (
            state_dir::VERDICT_JUNIT_FILE,
            live::verdict::junit(v).into_bytes(),
        ),
    ] {
        let path = dir.join(name);
        state_dir::write_atomic(&path, &bytes, false)
            .map_err(|e| CliError::new(format!("{}: {e}", path.display())))?;
    }
    let judged = v
        .checks
        .iter()
        .filter(|c| c.status != live::verdict::CheckStatus::NotJudged)
        .count();
    eprintln!(
        "onsim serve: {} {}: outcome {} at {}; {judged} of {} checks judged; {}",
        if v.passed { "PASS" } else { "FAIL" },
        v.scenario,
        v.outcome,
        v.now,
        v.checks.len(),
        dir.join(state_dir::VERDICT_FILE).display()
    );
    Ok(if v.passed {
        Outcome::Passed
    } else {
        Outcome::Failed
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
