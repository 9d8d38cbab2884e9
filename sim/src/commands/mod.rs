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
pub mod run;
pub mod schedule;
pub mod serve;
pub mod solve;
pub mod sweep;
