//! # sim — the onsim driver
//!
//! `sim` depends on `fakes`, never the reverse. It holds what turns the pure actors of
//! `fakes` into runs: the command line ([`cli`]) and one module per subcommand
//! ([`commands`]), and the next-event [`engine`] that runs them in virtual time.

pub mod calibrate;
pub mod cli;
pub mod commands;
pub mod conformance;
pub mod driver;
pub mod ecosystem;
pub mod engine;
pub mod error;
pub mod figures;
pub mod html;
pub mod invariants;
pub mod keystore;
pub mod live;
pub mod load;
pub mod output;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod solve;
pub mod sweep;
pub mod terminal;
