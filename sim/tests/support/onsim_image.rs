//! testcontainers module for the `onsim:dev` image (built by `scripts/image`).
//!
//! The container runs on its own (bridge) network with ordinary port mapping: the
//! image's services listen on 0.0.0.0:7000-7006 (`ONSIM_BIND` in the image) and every
//! port is published to a random host port, as `docker run -p` does. `--advertise`
//! names the host the clients use, so endpoints.json's URLs name it and the eligibility
//! server's certificate is checked against it; behind the mapping a host client keeps
//! the host name and substitutes its mapped port ([`Started::on_host`]), and reaches
//! the name through curl's `--resolve` (no /etc/hosts change). The state dir is a host
//! folder bind-mounted at `/state`; the accessors read `endpoints.json` and the PKI
//! from it (paths inside the container, `/state/...`, are mapped back). Dropping the
//! [`Started`] container removes it (testcontainers stops and removes on drop, also
//! while a failing test unwinds).

#![allow(dead_code)]

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use testcontainers::core::{ContainerPort, Mount, WaitFor};
use testcontainers::runners::SyncRunner;
use testcontainers::{Container, Image, ImageExt};

/// The image under test: `onsim:dev`, or `ONSIM_IMAGE` (`name:tag`, e.g. the
/// `IMAGE=onsim:x scripts/image` of a checkout sharing the Docker engine).
pub fn image_ref() -> String {
    std::env::var("ONSIM_IMAGE")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "onsim:dev".to_string())
}
/// The line `onsim serve` prints on stderr once `endpoints.json` is written.
pub const READY_LINE: &str = "onsim serve: ready";
/// The port base inside the container (the image's CMD).
pub const PORT_BASE: u16 = 7000;
/// The 7 ports `--port-base 7000` takes, all published.
pub const PORTS: [ContainerPort; 7] = [
    ContainerPort::Tcp(PORT_BASE),
    ContainerPort::Tcp(PORT_BASE + 1),
    ContainerPort::Tcp(PORT_BASE + 2),
    ContainerPort::Tcp(PORT_BASE + 3),
    ContainerPort::Tcp(PORT_BASE + 4),
    ContainerPort::Tcp(PORT_BASE + 5),
    ContainerPort::Tcp(PORT_BASE + 6),
];
/// Longest wait for the ready line.
pub const STARTUP: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct OnsimImage {
    state_dir: PathBuf,
    advertise: String,
    mounts: Vec<Mount>,
    name: String,
    tag: String,
}

/// A started container with its port mapping.
pub struct Started {
    pub container: Container<OnsimImage>,
    /// Container port → host port.
    pub ports: BTreeMap<u16, u16>,
    /// Where the mapped ports are on the host.
    pub host_ip: String,
}

impl OnsimImage {
    /// `state_dir`: a host folder (missing or empty) mounted at `/state`;
    /// `advertise`: the name clients use (`onsim serve --advertise`).
    pub fn new(state_dir: &Path, advertise: &str) -> Self {
        let r = image_ref();
        let (name, tag) = r.rsplit_once(':').unwrap_or((&r, "latest"));
        OnsimImage {
            name: name.to_string(),
            tag: tag.to_string(),
            state_dir: state_dir.to_path_buf(),
            advertise: advertise.to_string(),
            mounts: vec![Mount::bind_mount(state_dir.display().to_string(), "/state")],
        }
    }

    /// Start it (ports published to random host ports) and wait for the ready line.
    pub fn start(self) -> testcontainers::core::error::Result<Started> {
        let container = self.with_startup_timeout(STARTUP).start()?;
        let mut ports = BTreeMap::new();
        for p in PORTS {
            ports.insert(p.as_u16(), container.get_host_port_ipv4(p)?);
        }
        let host = container.get_host()?.to_string();
        let host_ip = match host.trim_start_matches('[').trim_end_matches(']') {
            "localhost" => "127.0.0.1".to_string(),
            h => h.to_string(),
        };
        Ok(Started {
            container,
            ports,
            host_ip,
        })
    }

    pub fn advertise(&self) -> &str {
        &self.advertise
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// A path named in endpoints.json (inside the container) on the host.
    pub fn host_path(&self, in_container: &str) -> PathBuf {
        match in_container.strip_prefix("/state") {
            Some(rest) => self.state_dir.join(rest.trim_start_matches('/')),
            None => PathBuf::from(in_container),
        }
    }

    pub fn endpoints(&self) -> serde_json::Value {
        let p = self.state_dir.join("endpoints.json");
        serde_json::from_slice(&std::fs::read(&p).expect("endpoints.json")).expect("JSON")
    }

    /// A string of endpoints.json, as written (container ports).
    pub fn url(&self, key: &str) -> String {
        self.endpoints()[key]
            .as_str()
            .unwrap_or_else(|| panic!("endpoints.json has no {key}"))
            .to_string()
    }

    pub fn server_ca(&self) -> PathBuf {
        self.host_path(&self.url("server_ca"))
    }

    /// (certificate, key) of a credential of the PKI matrix (`valid`, `expired`, …).
    pub fn credential(&self, name: &str) -> (PathBuf, PathBuf) {
        let e = self.endpoints();
        let c = &e["credentials"][name];
        let p = |k: &str| self.host_path(c[k].as_str().expect("credential path"));
        (p("cert"), p("key"))
    }

    pub fn population_csv(&self) -> PathBuf {
        self.host_path(&self.url("population_csv"))
    }
}

impl Started {
    /// `url` from endpoints.json as a host client behind the port mapping uses it:
    /// the same scheme, host name and path, the container port replaced by its mapped
    /// host port; with the curl `--resolve` argument that sends the name to the
    /// mapped port. Panics when the URL's port is not one of the published ones.
    pub fn on_host(&self, url: &str) -> (String, String) {
        let (scheme, rest) = url
            .split_once("://")
            .unwrap_or_else(|| panic!("{url}: no scheme"));
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (host, port) = authority
            .rsplit_once(':')
            .unwrap_or_else(|| panic!("{url} names no port"));
        let port: u16 = port.parse().unwrap_or_else(|_| panic!("{url}: bad port"));
        let host_port = *self
            .ports
            .get(&port)
            .unwrap_or_else(|| panic!("{url}: port {port} is not published"));
        let resolve = format!("{host}:{host_port}:{}", self.host_ip);
        (format!("{scheme}://{host}:{host_port}{path}"), resolve)
    }

    /// Everything the container wrote on stderr so far, without colour codes.
    pub fn stderr_text(&self) -> String {
        let raw = self.container.stderr_to_vec().unwrap_or_default();
        strip_ansi(&String::from_utf8_lossy(&raw))
    }

    pub fn id(&self) -> String {
        self.container.id().to_string()
    }
}

impl Image for OnsimImage {
    fn name(&self) -> &str {
        &self.name
    }
    fn tag(&self) -> &str {
        &self.tag
    }
    fn ready_conditions(&self) -> Vec<WaitFor> {
        vec![WaitFor::message_on_stderr(READY_LINE)]
    }
    fn mounts(&self) -> impl IntoIterator<Item = &Mount> {
        self.mounts.iter()
    }
    fn expose_ports(&self) -> &[ContainerPort] {
        &PORTS
    }
    fn cmd(&self) -> impl IntoIterator<Item = impl Into<Cow<'_, str>>> {
        // No --bind: the image's ONSIM_BIND=0.0.0.0 is what is under test.
        vec![
            "--state-dir".to_string(),
            "/state".to_string(),
            "--port-base".to_string(),
            PORT_BASE.to_string(),
            "--advertise".to_string(),
            self.advertise.clone(),
        ]
    }
}

/// Whether a container (by id) still exists, running or not.
pub fn container_exists(id: &str) -> bool {
    Command::new("docker")
        .args(["container", "inspect", "--format", "{{.Id}}", id])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Whether the tests can run: a reachable Docker engine and the `onsim:dev` image.
/// Otherwise prints a loud SKIPPED (and panics when `ONSIM_REQUIRE_DOCKER=1`).
pub fn available(test: &str) -> bool {
    let image = image_ref();
    let why = match Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", &image])
        .output()
    {
        Err(e) => Some(format!("no docker client ({e})")),
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "no Docker engine or no {image} image (run scripts/image): {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
    };
    match why {
        None => true,
        Some(why) => {
            let msg = format!("\n!!!!!!!! SKIPPED {test}: {why} !!!!!!!!\n");
            if std::env::var("ONSIM_REQUIRE_DOCKER").as_deref() == Ok("1") {
                panic!("ONSIM_REQUIRE_DOCKER=1 but {msg}");
            }
            // Straight to the process's stderr: the test harness does not capture it,
            // so the skip shows even without --nocapture.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "{msg}");
            false
        }
    }
}

/// The log without terminal colour codes.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
