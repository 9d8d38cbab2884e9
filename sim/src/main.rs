//! `onsim` — the command-line entry point. Kept small on purpose: argument parsing
//! lives in [`sim::cli`], each subcommand in [`sim::commands`].

use std::process::ExitCode;

fn main() -> ExitCode {
    sim::cli::main()
}
