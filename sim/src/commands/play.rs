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
    /// the serve runs. Repeatable: the clinics of a serve of several are played at
    /// once, on the one clock (each as it would be alone).
    #[arg(long, value_name = "FILE", required = true)]
    pub scenario: Vec<PathBuf>,
    /// The clinic each --scenario plays (its id in endpoints.json's `clinics`), in
    /// the same order; default: the clinic whose scenario is that file (or whose id
    /// is the file's stem).
    #[arg(long, value_name = "ID")]
    pub clinic: Vec<String>,
}

/// The clinics of a serve as endpoints.json lists them: (id, scenario file); empty
/// for a serve of one clinic (no `clinics` key).
fn listed_clinics(e: &Value) -> Vec<(String, String)> {
    e.get("clinics")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|c| {
                    let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    (s("id"), s("scenario"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The clinic id each scenario plays (`None`: the serve's only clinic, no header);
/// `Err` (exit 2) names what does not match.
fn pair(
    listed: &[(String, String)],
    scenarios: &[crate::scenario::Scenario],
    given: &[String],
) -> Result<Vec<Option<String>>, CliError> {
    let ids = || {
        listed
            .iter()
            .map(|(i, _)| i.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !given.is_empty() {
        if given.len() != scenarios.len() {
            return Err(CliError::new(format!(
                "--clinic: give one per --scenario ({} scenarios, {} clinics), in the same order",
                scenarios.len(),
                given.len()
            )));
        }
        for id in given {
            if !listed.is_empty() && !listed.iter().any(|(i, _)| i == id) {
                return Err(CliError::new(format!(
                    "--clinic {id}: the serve runs no such clinic (one of {})",
                    ids()
                )));
            }
        }
        return Ok(given.iter().cloned().map(Some).collect());
    }
    if listed.is_empty() {
        if scenarios.len() > 1 {
            return Err(CliError::new(
                "the serve runs one clinic: give one --scenario",
            ));
        }
        return Ok(vec![None]);
    }
    scenarios
        .iter()
        .map(|s| {
            let stem = std::path::Path::new(&s.file)
                .file_stem()
                .map(|x| x.to_string_lossy().into_owned())
                .unwrap_or_default();
            listed
                .iter()
                .find(|(_, f)| *f == s.file)
                .or_else(|| listed.iter().find(|(i, _)| *i == stem))
                .map(|(i, _)| Some(i.clone()))
                .ok_or_else(|| {
                    CliError::new(format!(
                        "{}: no clinic of the serve runs this scenario; name it with --clinic (one of {})",
                        s.file,
                        ids()
                    ))
                })
        })
        .collect()
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
    let scenarios = a
        .scenario
        .iter()
        .map(|f| super::run::load_one(f))
        .collect::<Result<Vec<_>, _>>()?;
    let listed = listed_clinics(&e);
    let ids = pair(&listed, &scenarios, &a.clinic)?;
    // Multi-threaded: the client blocks on a runtime handle, and only a worker
    // thread drives a handle's I/O (a current-thread runtime would never wake).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|err| CliError::new(format!("cannot start the runtime: {err}")))?;
    let base = ControlClient::new(addrs.control, rt.handle().clone());
    let clients: Vec<ControlClient> = ids
        .iter()
        .map(|id| match id {
            Some(id) => base.for_clinic(id),
            None => base.clone(),
        })
        .collect();
    let plays: Vec<(&crate::scenario::Scenario, ControlClient)> =
        scenarios.iter().zip(clients.iter().cloned()).collect();
    let played = match replay::play_many(&plays, &addrs) {
        Ok(x) => x,
        Err(LiveError::Unsupported(m)) => {
            return Err(CliError::new(format!("cannot be played over HTTP: {m}")))
        }
        Err(LiveError::Failed(m)) => return Err(CliError::new(m)),
    };
    for (s, (events, handled)) in scenarios.iter().zip(&played) {
        eprintln!(
            "onsim play: {}: the clinic handled {handled} messages, recorded {} events",
            s.file,
            events.len()
        );
    }
    let passed = |v: &Value| v.get("passed").and_then(Value::as_bool) == Some(true);
    let no_verdict = |err: crate::live::client::ClientError| {
        CliError::new(format!("{err} (is the serve running --scenario?)"))
    };
    // One clinic: its verdict; several: the serve's overall one, passed when every
    // clinic played passed.
    let (v, ok) = if clients.len() == 1 {
        let v = clients[0].verdict().map_err(no_verdict)?;
        let ok = passed(&v);
        (v, ok)
    } else {
        let v = base.verdict().map_err(no_verdict)?;
        let mine = |c: &&Value| {
            ids.iter()
                .flatten()
                .any(|id| c.get("id").and_then(Value::as_str) == Some(id))
        };
        let ok = v
            .get("clinics")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter().filter(mine).count() == ids.len() && cs.iter().filter(mine).all(passed)
            });
        (v, ok)
    };
    crate::output::write_stdout(
        format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default()).as_bytes(),
    )?;
    Ok(if ok { Outcome::Passed } else { Outcome::Failed })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(rel: &str) -> crate::scenario::Scenario {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios")
            .join(rel);
        crate::scenario::load(&path).expect("scenario loads")
    }

    #[test]
    fn each_scenario_plays_the_clinic_that_runs_it() {
        let a = scenario("network/outage-on-go-live.toml");
        let b = scenario("happy/r2024-medical-tokyo.toml");
        // A serve of one clinic: no header, one scenario.
        assert_eq!(
            pair(&[], std::slice::from_ref(&a), &[]).unwrap(),
            vec![None]
        );
        assert!(pair(&[], &[a.clone(), b.clone()], &[]).is_err());
        let listed = vec![
            ("tokyo".to_string(), b.file.clone()),
            (
                "outage-on-go-live".to_string(),
                "elsewhere/outage-on-go-live.toml".to_string(),
            ),
        ];
        // By the scenario file first, else by the stem.
        assert_eq!(
            pair(&listed, &[a.clone(), b.clone()], &[]).unwrap(),
            vec![Some("outage-on-go-live".into()), Some("tokyo".into())]
        );
        // --clinic, in order; one per scenario; only the serve's ids.
        assert_eq!(
            pair(&listed, std::slice::from_ref(&a), &["tokyo".into()]).unwrap(),
            vec![Some("tokyo".into())]
        );
        let e = pair(&listed, std::slice::from_ref(&a), &["nobody".into()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("nobody") && e.contains("tokyo, outage-on-go-live"),
            "{e}"
        );
        assert!(pair(&listed, std::slice::from_ref(&a), &[]).is_ok());
        assert!(pair(&listed, &[a.clone(), b], &["tokyo".into()]).is_err());
        let c = scenario("implementing-body/slow-absorbed.toml");
        let e = pair(&listed, &[c], &[]).unwrap_err().to_string();
        assert!(e.contains("--clinic"), "{e}");
    }
}
