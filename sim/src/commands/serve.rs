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
    /// Repeatable (ONSIM_SCENARIO: paths separated by `,`): each file is one clinic
    /// of a multi-tenant serve, named by the file's stem or by `ID=FILE`; requests
    /// name their clinic with the `Onsim-Clinic` header (docs/vendors.md).
    #[arg(long, value_name = "[ID=]FILE")]
    pub scenario: Vec<String>,
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
    /// The clinics' scenarios with their ids, in command-line order (empty: the one
    /// default clinic of the flags).
    scenarios: Vec<(String, Scenario)>,
}

/// `--scenario [ID=]FILE`: the id (given, else the file's stem) and the file.
/// `ID=` counts only when ID is a usable clinic id, so a path holding `=` still
/// reads as a path.
fn clinic_and_file(v: &str) -> Result<(String, PathBuf), CliError> {
    if let Some((id, file)) = v.split_once('=') {
        if live::clinics::check_id(id).is_ok() && !file.is_empty() {
            return Ok((id.to_string(), PathBuf::from(file)));
        }
    }
    let file = PathBuf::from(v);
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    live::clinics::check_id(&stem).map_err(|e| {
        CliError::new(format!(
            "--scenario {v}: the clinic is named by the file's stem, and {e}; name it with --scenario ID={v}"
        ))
    })?;
    Ok((stem, file))
}

/// Each clinic's bureau number *(our choice, after the bureau's own counter,
/// [`fakes::process::bureau`]: it numbers institutions in the order their requests
/// come)*: a clinic whose first code would be an earlier clinic's of the same
/// prefecture and county gets the numbers after the earlier one's, which reserves
/// [`NUMBERS_PER_CLINIC`]. Returns each clinic whose number moved, with its old and
/// new number.
fn number_clinics(scenarios: &mut [(String, Scenario)]) -> Vec<(String, u16, u16)> {
    let mut next: std::collections::BTreeMap<(u8, u8), u16> = Default::default();
    let mut moved = Vec::new();
    for (id, s) in scenarios.iter_mut() {
        let key = (s.prefecture.code(), s.spec.clinic.county);
        let own = s.spec.actors.bureau.next_number;
        let n = next.get(&key).copied().unwrap_or(0).max(own);
        if n != own {
            s.spec.actors.bureau.next_number = n;
            moved.push((id.clone(), own, n));
        }
        next.insert(key, n.saturating_add(NUMBERS_PER_CLINIC));
    }
    moved
}

/// The bureau numbers one clinic can take *(our choice)*: one per fee table
/// (medical, dental, pharmacy) and one for an r2021 neighbour clinic.
const NUMBERS_PER_CLINIC: u16 = 4;

/// The flags' run, or (`--scenario`/ONSIM_SCENARIO) the scenarios'; `Err` (exit 2)
/// names the flag or the scenario's problem.
fn setup(a: &ServeArgs) -> Result<Setup, CliError> {
    let given: Vec<String> = if a.scenario.is_empty() {
        flag_or_env(None, "ONSIM_SCENARIO")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    } else {
        a.scenario.clone()
    };
    if given.is_empty() {
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
            scenarios: Vec::new(),
        });
    }
    for (flag, set) in [
        ("--rules", a.rules.is_some()),
        ("--designation", a.designation.is_some()),
        ("--seed", a.seed.is_some()),
    ] {
        if set {
            return Err(CliError::new(format!(
                "{flag} comes from the scenario {} with --scenario; drop {flag} (or edit the scenario)",
                given.join(", ")
            )));
        }
    }
    let tables = super::schedule::published_tables(&a.published)?;
    let mut scenarios: Vec<(String, Scenario)> = Vec::new();
    for v in &given {
        let (id, file) = clinic_and_file(v)?;
        let mut s = super::run::load_one(&file)?;
        if let Some((_, other)) = scenarios.iter().find(|(i, _)| *i == id) {
            return Err(CliError::new(format!(
                "two clinics would be named {id:?}: {} and {}; name one with --scenario ID=FILE",
                other.file, s.file
            )));
        }
        super::schedule::apply_published(&mut s, &tables);
        scenarios.push((id, s));
    }
    if !tables.is_empty() && scenarios.iter().all(|(_, s)| s.published.is_none()) {
        let bureaus: Vec<&str> = scenarios.iter().map(|(_, s)| s.bureau.id()).collect();
        return Err(CliError::new(format!(
            "--published: no table for the scenario's bureau ({}): {} would not apply; give {}=FILE",
            bureaus.join(", "),
            a.published.join(", "),
            bureaus[0]
        )));
    }
    for (id, old, new) in number_clinics(&mut scenarios) {
        eprintln!(
            "onsim serve: clinic {id}: its bureau numbers it from {new} (not {old}): an earlier clinic of the same prefecture and county takes {old}"
        );
    }
    let first = &scenarios[0].1;
    Ok(Setup {
        rules: first.spec.scenario.rules,
        designation: first.spec.clinic.designation,
        start: a.start,
        seed: first.spec.scenario.seed,
        scenarios,
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

/// A clinic's first institution code: the code its bureau hands out first
/// (`valid.crt` and the terminal are bound to it).
fn first_code(p: &runner::Prepared<'_>) -> Option<InstitutionCode> {
    let fee = p.setup.fees().first().copied()?;
    InstitutionCode::new(
        p.scenario.prefecture,
        fee,
        p.scenario.spec.clinic.county,
        p.scenario.spec.actors.bureau.next_number,
    )
}

pub fn run(a: ServeArgs) -> CmdResult {
    let Setup {
        rules,
        designation,
        start,
        seed,
        scenarios,
    } = setup(&a)?;
    let mut prepared = Vec::with_capacity(scenarios.len());
    let mut starts = Vec::new();
    for (_, s) in &scenarios {
        let (p, st) = prepare_scenario(s, s.spec.scenario.seed, start)?;
        prepared.push(p);
        starts.push(st);
    }
    // One clock for every clinic: it starts no later than any clinic's first step.
    let start = match starts.iter().min() {
        Some(st) => *st,
        None => start.unwrap_or(DEFAULT_START),
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
    for (_, s) in &scenarios {
        if s.spec.clinic.designation <= start {
            return Err(CliError::new(format!(
                "{}: its designation {} must be after --start {start}",
                s.file, s.spec.clinic.designation
            )));
        }
    }
    let secret = a
        .challenge_secret
        .as_deref()
        .map(parse_secret)
        .transpose()?;
    let terminal_cfg = a.terminal.driver_config()?;
    let net = network(&a)?;
    // Each clinic: its id, its institution code (a scenario's: the first code its
    // bureau hands out), its seed.
    let mut clinics: Vec<(String, InstitutionCode, u64)> = Vec::new();
    for ((id, s), p) in scenarios.iter().zip(&prepared) {
        let code = first_code(p).unwrap_or_else(live::clinic_institution);
        if let Some((other, _, _)) = clinics.iter().find(|(_, c, _)| *c == code) {
            return Err(CliError::new(format!(
                "clinics {other} and {id} ({}) would share the institution code {code}",
                s.file
            )));
        }
        clinics.push((id.clone(), code, s.spec.scenario.seed));
    }
    if clinics.is_empty() {
        clinics.push((
            live::clinics::DEFAULT_ID.to_string(),
            live::clinic_institution(),
            seed,
        ));
    }
    let several = clinics.len() > 1;
    // The lock is held until `run` returns (issue 14 #9: one server per directory).
    let (dir, _lock) = state_dir::prepare_locked(&a.state_dir).map_err(CliError::new)?;
    let layout: Vec<state_dir::ClinicPaths> = clinics
        .iter()
        .map(|(_, code, _)| state_dir::ClinicPaths::of(&dir, *code, several))
        .collect();
    let cfg = LiveConfig {
        start,
        speed: a.speed,
        seed,
        rules,
        designation,
        port_base: a.port_base,
        households: a.households,
        terminal_dir: Some(layout[0].terminal_dir.clone()),
        terminal_timeout: live::centre::DEFAULT_TIMEOUT,
        institution: clinics[0].1,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::new(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async {
        let mut specs = Vec::with_capacity(clinics.len());
        for (i, (id, code, clinic_seed)) in clinics.iter().enumerate() {
            let world: Option<live::WorldBuilder<'_>> = prepared.get(i).map(|p| {
                let seed = *clinic_seed;
                Box::new(move |clock, pki| live::world::World::for_scenario(p, seed, clock, pki))
                    as live::WorldBuilder<'_>
            });
            specs.push(live::ClinicSpec {
                id: id.clone(),
                institution: *code,
                seed: *clinic_seed,
                terminal_dir: Some(layout[i].terminal_dir.clone()),
                world,
            });
        }
        let running = live::start_clinics(&cfg, specs, terminal_cfg, &net)
            .await
            .map_err(CliError::new)?;
        let app = running.app.clone();
        let pki = app.pki.clone();
        // The card-challenge secret (issue 14 #13): replayable, private (0600).
        if let Some(k) = secret {
            app.cards.set_challenge_secret(k);
        }
        let secret_file = dir.join(state_dir::CHALLENGE_SECRET_FILE);
        let hex = live::card::to_hex(&app.cards.challenge_secret());
        state_dir::write_atomic(&secret_file, format!("{hex}\n").as_bytes(), true)
            .map_err(|e| CliError::new(format!("{}: {e}", secret_file.display())))?;
        let pki_err = |e: std::io::Error| CliError::new(format!("{}: {e}", dir.join("pki").display()));
        state_dir::write_pki_ca(&dir, &pki).map_err(pki_err)?;
        for (c, paths) in app.clinics.iter().zip(&layout) {
            state_dir::write_matrix(&dir, &paths.pki_dir, &c.credentials).map_err(pki_err)?;
            let csv = live::population::csv(&c.population, start);
            state_dir::write_population(&dir, &paths.population_csv, csv.as_bytes())
                .map_err(|e| CliError::new(format!("{}: {e}", paths.population_csv.display())))?;
        }
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
        let mut endpoints = json!({
            "eligibility_url": format!("https://{}/eligibility", at(ad.eligibility)),
            "eligibility_via_carrier_url": format!("https://{}/eligibility", at(ad.proxy)),
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
            "start": live::start_instant(start),
            "speed": a.speed,
            "pid": std::process::id(),
        });
        let mut entries = Vec::new();
        for (i, (c, paths)) in app.clinics.iter().zip(&layout).enumerate() {
            let mut e = clinic_entry(c, paths);
            if let Some(p) = prepared.get(i) {
                let s = p.scenario;
                let deviations: Vec<Value> = p
                    .schedule
                    .deviations
                    .iter()
                    .map(|d| {
                        eprintln!(
                            "onsim serve: {}: published table: {} {} (rule {})",
                            c.id,
                            d.id.as_str(),
                            d.published_date,
                            d.rule_date
                        );
                        json!({"id": d.id.as_str(), "published_date": d.published_date, "rule_date": d.rule_date})
                    })
                    .collect();
                if !a.published.is_empty() {
                    e["published_deviations"] = json!(deviations);
                }
                e["scenario"] = json!(s.file);
                e["clinic"] = json!(s.spec.live.clinic);
                e["designation"] = json!(s.spec.clinic.designation);
                e["rules"] = json!(s.spec.scenario.rules.id());
                e["seed"] = json!(s.spec.scenario.seed);
            } else {
                e["designation"] = json!(designation);
                e["rules"] = json!(rules.id());
                e["seed"] = json!(seed);
            }
            entries.push(e);
        }
        if several {
            // No clinic is the default: each one's own keys are in `clinics`.
            endpoints["clinic_header"] = json!(live::clinics::HEADER);
            endpoints["clinics"] = json!(entries);
        } else if let (Value::Object(top), Some(Value::Object(one))) =
            (&mut endpoints, entries.into_iter().next())
        {
            // One clinic: its keys at the top, as before several existed.
            for (k, v) in one {
                if k != "id" && k != "pki_dir" {
                    top.insert(k, v);
                }
            }
        }
        if !scenarios.is_empty() {
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
        let verdict = if several {
            live::verdict::overall(&app, true).map(Judged::Several)
        } else {
            app.first().world.verdict(true).map(Judged::One)
        };
        drop(app);
        running.stop().await;
        match verdict {
            Some(v) => write_verdict(&dir, &v),
            None => Ok(Outcome::Passed),
        }
    })
}

/// One clinic's keys in endpoints.json (`clinics[]`; with one clinic, at the top).
fn clinic_entry(c: &live::clinics::LiveClinic, paths: &state_dir::ClinicPaths) -> Value {
    let credentials: serde_json::Map<String, Value> = c
        .credentials
        .iter()
        .map(|(n, _)| {
            (
                n.to_string(),
                json!({
                    "cert": paths.pki_dir.join(format!("{n}.crt")),
                    "key": paths.pki_dir.join(format!("{n}.key")),
                    "expected_refusal": expected_refusal(n),
                }),
            )
        })
        .collect();
    json!({
        "id": c.id,
        "institution_code": c.institution.to_string(),
        "other_institution_code": c.other_institution.to_string(),
        "terminal_dir": paths.terminal_dir,
        "pki_dir": paths.pki_dir,
        "credentials": credentials,
        "population_csv": paths.population_csv,
    })
}

/// What the serve judged at shutdown.
enum Judged {
    One(live::verdict::Verdict),
    Several(live::verdict::Overall),
}

/// verdict.json and verdict.junit.xml into the state dir (atomically); the outcome
/// is the verdict's, as `onsim run` (0 passed, 1 failed; with several clinics: 0
/// only if every clinic passed).
fn write_verdict(dir: &std::path::Path, v: &Judged) -> CmdResult {
    let (json, junit, passed) = match v {
        Judged::One(v) => (
            serde_json::to_string_pretty(v),
            live::verdict::junit(v),
            v.passed,
        ),
        Judged::Several(o) => (
            serde_json::to_string_pretty(o),
            live::verdict::junit_all(o),
            o.passed,
        ),
    };
    let mut text = json.map_err(|e| CliError::new(format!("verdict: {e}")))?;
    text.push('\n');
    for (name, bytes) in [
        (state_dir::VERDICT_FILE, text.into_bytes()),
        (state_dir::VERDICT_JUNIT_FILE, junit.into_bytes()),
    ] {
        let path = dir.join(name);
        state_dir::write_atomic(&path, &bytes, false)
            .map_err(|e| CliError::new(format!("{}: {e}", path.display())))?;
    }
    let one = |id: Option<&str>, v: &live::verdict::Verdict| {
        let judged = v
            .checks
            .iter()
            .filter(|c| c.status != live::verdict::CheckStatus::NotJudged)
            .count();
        eprintln!(
            "onsim serve: {} {}{}: outcome {} at {}; {judged} of {} checks judged; {}",
            if v.passed { "PASS" } else { "FAIL" },
            id.map(|i| format!("{i} ")).unwrap_or_default(),
            v.scenario,
            v.outcome,
            v.now,
            v.checks.len(),
            dir.join(state_dir::VERDICT_FILE).display()
        );
    };
    match v {
        Judged::One(v) => one(None, v),
        Judged::Several(o) => {
            for c in &o.clinics {
                one(Some(&c.id), &c.verdict);
            }
            eprintln!(
                "onsim serve: {} overall: {} clinics",
                if o.passed { "PASS" } else { "FAIL" },
                o.clinics.len()
            );
        }
    }
    Ok(if passed {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(rel: &str) -> Scenario {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios")
            .join(rel);
        crate::scenario::load(&path).expect("scenario loads")
    }

    /// Clinics of one prefecture and county are numbered apart by the bureau's
    /// counter; a clinic elsewhere keeps its number; one clinic is never moved.
    #[test]
    fn clinics_of_one_bureau_get_the_next_numbers() {
        let mut one = vec![("a".to_string(), scenario("happy/r2024-medical-tokyo.toml"))];
        assert!(number_clinics(&mut one).is_empty());
        let own = one[0].1.spec.actors.bureau.next_number;
        let mut three = vec![
            ("a".to_string(), scenario("happy/r2024-medical-tokyo.toml")),
            ("b".to_string(), scenario("network/outage-on-go-live.toml")),
            (
                "c".to_string(),
                scenario("implementing-body/slow-absorbed.toml"),
            ),
            ("d".to_string(), scenario("happy/r2024-medical-tokyo.toml")),
        ];
        let moved = number_clinics(&mut three);
        let n = |i: usize| three[i].1.spec.actors.bureau.next_number;
        assert_eq!(n(0), own);
        assert_eq!(n(1), own, "another prefecture keeps its number");
        assert_eq!(n(2), own + NUMBERS_PER_CLINIC);
        assert_eq!(n(3), own + 2 * NUMBERS_PER_CLINIC);
        assert_eq!(
            moved,
            vec![
                ("c".to_string(), own, own + NUMBERS_PER_CLINIC),
                ("d".to_string(), own, own + 2 * NUMBERS_PER_CLINIC),
            ]
        );
    }

    #[test]
    fn a_clinic_is_named_by_its_stem_or_its_id() {
        let (id, file) = clinic_and_file("scenarios/network/outage-on-go-live.toml").unwrap();
        assert_eq!(id, "outage-on-go-live");
        assert_eq!(
            file,
            PathBuf::from("scenarios/network/outage-on-go-live.toml")
        );
        let (id, file) = clinic_and_file("tokyo=dir/x.toml").unwrap();
        assert_eq!((id.as_str(), file), ("tokyo", PathBuf::from("dir/x.toml")));
        // `=` in a path that does not start with an id is part of the path.
        let (id, file) = clinic_and_file("dir/a=b/x.toml").unwrap();
        assert_eq!((id.as_str(), file), ("x", PathBuf::from("dir/a=b/x.toml")));
        let e = clinic_and_file("dir/a b.toml").unwrap_err().to_string();
        assert!(e.contains("clinic id") && e.contains("ID="), "{e}");
    }
}
