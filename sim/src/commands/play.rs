//! `onsim play`: onsim's own clinic, as an outside client, against a running `onsim
//! serve --scenario`. It follows the scenario's plan (the timeline's clinic state
//! machine, [`crate::live::replay::play`]) through the services' HTTP routes only,
//! moving the frozen virtual clock as it goes, then prints the server's verdict
//! (`GET /verdict`). A reference for vendors (what a clinic system sends, when) and
//! the client of the serve-with-a-scenario acceptance test.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use clap::Args;
use serde_json::Value;

use crate::error::{CliError, CmdResult, Outcome};
use crate::live::client::ControlClient;
use crate::live::replay::{self, LiveError};
use crate::live::Addrs;

#[derive(Debug, Args)]
pub struct PlayArgs {
    /// The serve's endpoints.json (in its --state-dir).
    #[arg(long, value_name = "FILE")]
    pub endpoints: PathBuf,
    /// The scenario whose clinic to play (a file or a built-in name): normally the one
    /// the serve runs.
    #[arg(long, value_name = "FILE")]
    pub scenario: PathBuf,
}

/// `host:port` of a URL's authority (`http://h:p/...`), resolved.
fn addr_of(endpoints: &Value, key: &str) -> Result<SocketAddr, CliError> {
    let url = endpoints
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| CliError::new(format!("endpoints.json: no {key:?}")))?;
    let rest = url
        .split_once("://")
        .map_or(url, |(_, r)| r)
        .split('/')
        .next()
        .unwrap_or_default();
    rest.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            CliError::new(format!(
                "endpoints.json: {key} {url:?} does not name a reachable host:port"
            ))
        })
}

pub fn run(a: PlayArgs) -> CmdResult {
    let text = super::input::read_text(&a.endpoints, "endpoints.json", 1 << 20)?;
    let e: Value = serde_json::from_str(&text)
        .map_err(|err| CliError::new(format!("{}: {err}", a.endpoints.display())))?;
    let addrs = Addrs {
        control: addr_of(&e, "control_url")?,
        bureau: addr_of(&e, "bureau_url")?,
        reader_vendor: addr_of(&e, "reader_vendor_url")?,
        carrier: addr_of(&e, "carrier_url")?,
        portal: addr_of(&e, "portal_url")?,
        eligibility: addr_of(&e, "eligibility_url")?,
        proxy: addr_of(&e, "eligibility_via_carrier_url")?,
    };
    let s = super::run::load_one(&a.scenario)?;
    // Multi-threaded: the client blocks on a runtime handle, and only a worker
    // thread drives a handle's I/O (a current-thread runtime would never wake).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|err| CliError::new(format!("cannot start the runtime: {err}")))?;
    let client = ControlClient::new(addrs.control, rt.handle().clone());
    let (events, handled) = match replay::play(&s, &addrs, &client) {
        Ok(x) => x,
        Err(LiveError::Unsupported(m)) => {
            return Err(CliError::new(format!(
                "{}: cannot be played over HTTP: {m}",
                s.file
            )))
        }
        Err(LiveError::Failed(m)) => {
            return Err(CliError::new(format!("{}: {m}", s.file)));
        }
    };
    eprintln!(
        "onsim play: {}: the clinic handled {handled} messages, recorded {} events",
        s.file,
        events.len()
    );
    let v = client
        .verdict()
        .map_err(|err| CliError::new(format!("{err} (is the serve running --scenario?)")))?;
    crate::output::write_stdout(
        format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default()).as_bytes(),
    )?;
    Ok(if v.get("passed").and_then(Value::as_bool) == Some(true) {
        Outcome::Passed
    } else {
        Outcome::Failed
    })
}
