//! Errors that reach the user, and the exit codes they map to.
//!
//! The contract (docs/DESIGN.md): 0 all passed, 1 a scenario or check failed, 2 bad input
//! or usage. A [`CliError`] always means exit 2; a failed scenario is not an error but
//! an outcome, reported through [`Outcome`].

use std::process::ExitCode;

/// What a subcommand concluded when it did not hit an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything asked for was done and every check passed (exit 0).
    Passed,
    /// The command ran, but a scenario or check failed (exit 1).
    Failed,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> ExitCode {
        match o {
            Outcome::Passed => ExitCode::SUCCESS,
            Outcome::Failed => ExitCode::from(1),
        }
    }
}

/// Bad input or usage: the message says what was wrong and where (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    pub message: String,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
        }
    }
}

impl From<fakes::calendar::CalendarError> for CliError {
    fn from(e: fakes::calendar::CalendarError) -> Self {
        CliError::new(e.to_string())
    }
}

impl From<fakes::schedule::ScheduleError> for CliError {
    fn from(e: fakes::schedule::ScheduleError) -> Self {
        CliError::new(e.to_string())
    }
}

/// Shorthand for subcommand results.
pub type CmdResult = Result<Outcome, CliError>;
