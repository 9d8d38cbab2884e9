//! Argument parsing, in one place. Every subcommand's flags are declared here or in
//! the subcommand's own `Args` struct; `main` only parses, sets up logging and
//! dispatches.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::commands;
use crate::error::CliError;

/// onsim — simulate and fake the onboarding of a new clinic onto Japan's online
/// health-insurance eligibility confirmation (オンライン資格確認).
///
/// Run scenario files through months of virtual time, compute deadline schedules
/// under the r2021 and r2024 rule sets, and put fakes of every party in front of
/// real clinic software.
///
/// Exit codes: 0 all passed, 1 a scenario or check failed, 2 bad input or usage.
#[derive(Debug, Parser)]
#[command(
    name = "onsim",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Log line format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print Japan's national holidays as CSV (`date,name`).
    Holidays(commands::holidays::HolidaysArgs),
    /// Compute the onboarding milestones for a designation date.
    Schedule(commands::schedule::ScheduleArgs),
    /// Run scenario files through virtual time and judge their expectations.
    Run(commands::run::RunArgs),
    /// Check scenario files without running them.
    Validate(commands::run::ValidateArgs),
    /// Print the JSON Schema of scenario files (for editors).
    Schema,
    /// Monte Carlo over a scenario's distributions: outcome probabilities, start
    /// delay, slack per milestone, critical path; `--vary` for comparisons.
    Sweep(commands::sweep::SweepArgs),
    /// Merge the shard outputs of `onsim sweep --shard I/N` into the unsharded result.
    Merge(commands::sweep::MergeArgs),
    /// Find the value of a scenario variable (a plan date, a lead time, a capacity) at
    /// which an outcome's probability reaches a target, with its interval (bisection on
    /// common random numbers; docs/solve.md).
    Solve(commands::solve::SolveArgs),
    /// Fit a lead-time distribution to observed durations (CSV) by maximum likelihood;
    /// prints it in scenario syntax with a goodness-of-fit figure.
    Calibrate(commands::calibrate::CalibrateArgs),
    /// Connect a virtual My Number card to vpcd so PC/SC programs see it.
    Card(commands::card::CardArgs),
    /// Start every fake on loopback (eligibility over mutual TLS, bureau, portal,
    /// reader vendor, carrier proxy, file drop) on a shared virtual clock.
    Serve(commands::serve::ServeArgs),
    /// Play a scenario's clinic over HTTP against a running `onsim serve --scenario`
    /// (a reference client), then print the server's verdict (exit 0/1 as `run`).
    Play(commands::play::PlayArgs),
    /// Load the eligibility API with simulated terminals over mutual TLS (loopback,
    /// bounded); `--compare` adds a bare hyper+rustls server and wiremock baselines.
    Load(commands::load::LoadArgs),
    /// Conformance gate for clinic software: run it against the terminal's file drop
    /// with faults, judge each requirement, write JUnit, JSON and an evidence bundle.
    Conformance(commands::conformance::ConformanceArgs),
    /// Many clinics competing for shared capacity (reader stock, installer crews,
    /// bureaus, implementing body, carriers): per-clinic table, per-resource series.
    Ecosystem(commands::ecosystem::EcosystemArgs),
    /// Figures for a paper from a sweep's JSON: P(outcome) against each varied
    /// parameter with Wilson bands, the start-delay tail (log), critical-path shares
    /// with intervals; SVG, PNG and CSV each, English or Japanese labels.
    Figures(commands::figures::FiguresArgs),
}

/// Parse the command line, run the subcommand, and turn its result into an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version with exit 0 and usage errors with exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    init_logging(cli.verbose, cli.log_format);
    crate::keystore::install_from_env();
    let result = match cli.command {
        Command::Holidays(a) => commands::holidays::run(a),
        Command::Schedule(a) => commands::schedule::run(a),
        Command::Card(a) => commands::card::run(a),
        Command::Serve(a) => commands::serve::run(a),
        Command::Play(a) => commands::play::run(a),
        Command::Load(a) => commands::load::run(a),
        Command::Conformance(a) => commands::conformance::run(a),
        Command::Run(a) => commands::run::run(a),
        Command::Validate(a) => commands::run::validate(a),
        Command::Schema => commands::run::schema(),
        Command::Sweep(a) => commands::sweep::run(a),
        Command::Merge(a) => commands::sweep::merge(a),
        Command::Solve(a) => commands::solve::run(a),
        Command::Calibrate(a) => commands::calibrate::run(a),
        Command::Ecosystem(a) => commands::ecosystem::run(a),
        Command::Figures(a) => commands::figures::run(a),
    };
    match result {
        Ok(outcome) => outcome.into(),
        Err(CliError { message }) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(verbose: u8, format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("ONSIM_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // Colour only on a terminal: logs piped to a file or a CI log stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
