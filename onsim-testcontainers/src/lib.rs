//! A [testcontainers] module for the onsim image (`onsim serve` in a container), for a
//! clinic-system vendor's Rust tests: add it as a dev-dependency, start the image,
//! point the software under test at the URLs, credentials and terminal folder it
//! hands out, move the virtual clock, and read the verdict.
//!
//! ```no_run
//! use onsim_testcontainers::{Advance, OnsimImage};
//!
//! let onsim = OnsimImage::default().start().expect("onsim image starts");
//! let url = onsim.host_url("eligibility_url").unwrap().url;   // https://127.0.0.1:<mapped>/eligibility
//! let valid = onsim.credential("valid").unwrap();             // client cert + key (PEM files)
//! let patient = &onsim.population().unwrap()[0];
//! let xml = patient.single_inquiry(onsim.institution_code().unwrap(), "20250401", "demo-1");
//! let answer = onsim.confirm(&valid, &xml).unwrap();
//! assert!(answer.body.contains("<QualificationValidity>1</QualificationValidity>"));
//! onsim.advance(Advance::Days(1)).unwrap();
//! println!("{url}: now {}", onsim.clock().unwrap().now);
//! ```
//!
//! How it is reached: ordinary port mapping (the image listens on 0.0.0.0, each of
//! its 7 ports is published to a random host port), never host networking. The
//! state dir (`endpoints.json`, `pki/`, `population.csv`, `terminal/`) is a host
//! folder bind-mounted at `/state`; the container runs as the calling user so the
//! private keys it writes (mode 0600) are readable and the folder removable. Dropping
//! the [`Onsim`] removes the container (also while a failing test unwinds).
//!
//! [testcontainers]: https://docs.rs/testcontainers

mod ansi;
mod control;
mod docker;
mod eligibility;
mod endpoints;
mod error;
mod image;
mod onsim;
mod population;
mod verdict;

pub use ansi::strip_ansi;
pub use control::{Advance, Clock};
pub use docker::{available, container_exists, image_ref};
pub use eligibility::HttpAnswer;
pub use endpoints::{Credential, Endpoints, HostUrl};
pub use error::Error;
pub use image::{OnsimImage, PORTS, PORT_BASE, READY_LINE, STARTUP};
pub use onsim::Onsim;
pub use population::Patient;
pub use verdict::{Check, CheckStatus, Finished, Verdict};
