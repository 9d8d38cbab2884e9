//! `onsim` — the command-line entry point. Kept small on purpose: argument parsing
//! lives in [`sim::cli`], each subcommand in [`sim::commands`].

use std::process::ExitCode;

/// mimalloc rather than the system allocator: the eligibility API and `onsim load` run
/// many small allocations on two runtimes at once, where glibc's arenas spent about a
/// tenth of the CPU (perf, `reports/bench.md`). The baselines of `onsim load --compare`
/// run in the same process, so they get the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    sim::cli::main()
}
