//! A started onsim container.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use testcontainers::Container;

use crate::ansi::strip_ansi;
use crate::control::{Advance, Clock, Control};
use crate::eligibility::{client_config, post_xml, HttpAnswer};
use crate::endpoints::{Credential, Endpoints, HostUrl};
use crate::error::{Error, Result};
use crate::image::{Running, PORTS};
use crate::population::Patient;
use crate::verdict::{Finished, Verdict};

/// A running onsim container with its port mapping. Dropping it stops and removes
/// the container, then the temporary state dir (if [`crate::OnsimImage`] made one).
pub struct Onsim {
    // Field order is drop order: the container goes before its state dir.
    container: Container<Running>,
    endpoints: Endpoints,
    control: Control,
    state_dir: PathBuf,
    _temp: Option<Arc<tempfile::TempDir>>,
}

impl std::fmt::Debug for Onsim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Onsim")
            .field("id", &self.container.id())
            .field("state_dir", &self.state_dir)
            .field("ports", self.endpoints.ports())
            .finish()
    }
}

impl Onsim {
    pub(crate) fn new(
        container: Container<Running>,
        state_dir: PathBuf,
        temp: Option<Arc<tempfile::TempDir>>,
    ) -> Result<Onsim> {
        let mut ports = BTreeMap::new();
        for p in PORTS {
            ports.insert(p.as_u16(), container.get_host_port_ipv4(p)?);
        }
        let host = container.get_host()?.to_string();
        let host_ip = match host.trim_start_matches('[').trim_end_matches(']') {
            "localhost" => "127.0.0.1".to_string(),
            h => h.to_string(),
        };
        let endpoints = Endpoints::load(&state_dir, ports, host_ip)?;
        let control = Control::new(&endpoints.host_url("control_url")?);
        Ok(Onsim {
            container,
            endpoints,
            control,
            state_dir,
            _temp: temp,
        })
    }

    /// endpoints.json with the port mapping.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// A URL key of endpoints.json as reached from the host (see [`HostUrl`]).
    pub fn host_url(&self, key: &str) -> Result<HostUrl> {
        self.endpoints.host_url(key)
    }

    /// The institution code the `valid` credential is bound to.
    pub fn institution_code(&self) -> Result<&str> {
        self.endpoints.institution_code()
    }

    /// Credential `name` of the PKI matrix (`valid`, `expired`, `not-yet-valid`,
    /// `revoked`, `wrong-ca`, `other-institution`), as host files.
    pub fn credential(&self, name: &str) -> Result<Credential> {
        self.endpoints.credential(name)
    }

    /// `pki/server-ca.crt` on the host: the CA to trust for the eligibility API.
    pub fn server_ca(&self) -> Result<PathBuf> {
        self.endpoints.file("server_ca")
    }

    /// The terminal folder on the host (`req/`, `res/`, `face/`).
    pub fn terminal_dir(&self) -> Result<PathBuf> {
        self.endpoints.file("terminal_dir")
    }

    /// The rows of `population.csv`.
    pub fn population(&self) -> Result<Vec<Patient>> {
        Patient::read_all(&self.endpoints.file("population_csv")?)
    }

    /// The state dir on the host.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The address the published ports are on.
    pub fn host_ip(&self) -> &str {
        self.endpoints.host_ip()
    }

    /// `GET /clock`.
    pub fn clock(&self) -> Result<Clock> {
        self.control.clock()
    }

    /// `POST /clock/advance`; returns the clock after the jump.
    pub fn advance(&self, by: Advance) -> Result<Clock> {
        self.control.advance(&by)
    }

    /// `GET {control_url}/verdict`: the scenario's expectations judged against what
    /// happened so far (with `onsim serve --scenario`, issue 17 item 1). An image
    /// started without a scenario answers 404: [`crate::Error::Status`].
    pub fn verdict(&self) -> Result<Verdict> {
        self.verdict_at("/verdict")
    }

    /// [`Onsim::verdict`] with every event up to now (`?timeline=1`).
    pub fn verdict_with_timeline(&self) -> Result<Verdict> {
        self.verdict_at("/verdict?timeline=1")
    }

    fn verdict_at(&self, path: &str) -> Result<Verdict> {
        let url = self.control.url(path);
        let raw = self.control.get(&url)?;
        Verdict::from_json(raw).map_err(|reason| Error::Shape { url, reason })
    }

    /// Stop the container as `docker stop` does (SIGTERM, then SIGKILL after
    /// `grace`) and read how `onsim serve --scenario` ended: its exit code (0 passed,
    /// 1 failed) and the `verdict.json` / `verdict.junit.xml` it wrote into the state
    /// dir on shutdown. The state dir stays until the [`Onsim`] is dropped.
    pub fn stop(&self, grace: Duration) -> Result<Finished> {
        let secs = i32::try_from(grace.as_secs().max(1)).unwrap_or(i32::MAX);
        self.container.stop_with_timeout(Some(secs))?;
        let exit_code = self.container.exit_code()?.ok_or_else(|| Error::Shape {
            url: format!("container {}", self.container.id()),
            reason: "stopped but reports no exit code".into(),
        })?;
        let read = |name: &str| {
            let path = self.state_dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| Error::Io { path, source })
        };
        let path = self.state_dir.join("verdict.json");
        let raw: Value =
            serde_json::from_str(&read("verdict.json")?).map_err(|e| Error::StateFile {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        let verdict =
            Verdict::from_json(raw).map_err(|reason| Error::StateFile { path, reason })?;
        Ok(Finished {
            exit_code,
            verdict,
            junit: read("verdict.junit.xml")?,
        })
    }

    /// Any `GET` on the control port (`/inbox`, `/trace`, `/deadlines`, …).
    pub fn control_get(&self, path: &str) -> Result<Value> {
        self.control.get(&self.control.url(path))
    }

    /// POST a single inquiry to `eligibility_url` over mutual TLS with `cred`.
    pub fn confirm(&self, cred: &Credential, xml: &str) -> Result<HttpAnswer> {
        self.confirm_at("eligibility_url", cred, xml)
    }

    /// As [`Onsim::confirm`], to another URL key (e.g. `eligibility_via_carrier_url`,
    /// through the carrier proxy and its faults).
    pub fn confirm_at(&self, key: &str, cred: &Credential, xml: &str) -> Result<HttpAnswer> {
        let config = client_config(&self.server_ca()?, cred)?;
        post_xml(config, &self.host_url(key)?, xml)
    }

    /// Everything the container wrote on stderr so far (its log), without colour
    /// codes.
    pub fn stderr_text(&self) -> String {
        let raw = self.container.stderr_to_vec().unwrap_or_default();
        strip_ansi(&String::from_utf8_lossy(&raw))
    }

    /// The container id.
    pub fn id(&self) -> String {
        self.container.id().to_string()
    }
}
