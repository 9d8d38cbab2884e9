//! Ecosystem mode (`onsim ecosystem FILE`): many clinics onboarding at once, competing
//! for shared capacity — reader makers' stock and production, system vendors'
//! installer crews per region, each bureau's answers, the implementing body's
//! portal accounts, carriers' line openings. The model is in docs/ecosystem.md.
//!
//! - [`file`]: the ecosystem file (TOML), checked with errors naming file, line and field;
//! - [`population`]: the clinics, drawn from one seed;
//! - [`resources`]: the shared resources (`fakes::ecosystem`) and their names;
//! - [`driver`]: every clinic's actors on one event queue, with the gates;
//! - [`output`], [`table`]: the per-clinic table, the daily series, the summary.

pub mod driver;
pub mod file;
pub mod output;
pub mod population;
pub mod queue;
pub mod resources;
pub mod table;
