//! One module per subcommand. Each has an `Args` struct (its flags) and a `run`
//! function returning [`crate::error::CmdResult`].

pub mod calibrate;
pub mod card;
pub mod conformance;
pub mod ecosystem;
pub mod figures;
pub mod holidays;
pub mod input;
pub mod load;
pub mod play;
pub mod run;
pub mod schedule;
pub mod serve;
pub mod solve;
pub mod sweep;

/// The worker threads of `run`, `sweep` and `solve` (`--threads`; `None`: all cores).
/// Results never depend on the count.
pub(crate) fn worker_pool(
    threads: Option<usize>,
) -> Result<rayon::ThreadPool, crate::error::CliError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(|e| crate::error::CliError::new(format!("cannot start worker threads: {e}")))
}
