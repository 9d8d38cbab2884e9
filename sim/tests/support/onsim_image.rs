//! testcontainers module for the `onsim:dev` image (built by `scripts/image`).
//!
//! `onsim serve` binds 127.0.0.1 only, so the container runs on the host network
//! (`--network host`, Linux) with a free `--port-base`; the state dir is a host
//! folder bind-mounted at `/state`, and the accessors read `endpoints.json` and the
//! PKI from it (paths inside the container, `/state/...`, are mapped back).

#![allow(dead_code)]

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use testcontainers::core::{Mount, WaitFor};
use testcontainers::runners::SyncRunner;
use testcontainers::{Container, Image, ImageExt};

pub const IMAGE: &str = "onsim";
pub const TAG: &str = "dev";
/// The line `onsim serve` prints on stderr once `endpoints.json` is written.
pub const READY_LINE: &str = "onsim serve: ready";

#[derive(Debug, Clone)]
pub struct OnsimImage {
    state_dir: PathBuf,
    port_base: u16,
    mounts: Vec<Mount>,
}

impl OnsimImage {
    /// `state_dir`: a host folder (missing or empty) mounted at `/state`.
    pub fn new(state_dir: &Path, port_base: u16) -> Self {
        OnsimImage {
            state_dir: state_dir.to_path_buf(),
            port_base,
            mounts: vec![Mount::bind_mount(state_dir.display().to_string(), "/state")],
        }
    }

    /// Start it (host network) and wait for the ready line.
    pub fn start(self) -> testcontainers::core::error::Result<Container<OnsimImage>> {
        self.with_network("host")
            .with_startup_timeout(Duration::from_secs(60))
            .start()
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

impl Image for OnsimImage {
    fn name(&self) -> &str {
        IMAGE
    }
    fn tag(&self) -> &str {
        TAG
    }
    fn ready_conditions(&self) -> Vec<WaitFor> {
        vec![WaitFor::message_on_stderr(READY_LINE)]
    }
    fn mounts(&self) -> impl IntoIterator<Item = &Mount> {
        self.mounts.iter()
    }
    fn cmd(&self) -> impl IntoIterator<Item = impl Into<Cow<'_, str>>> {
        vec![
            "--state-dir".to_string(),
            "/state".to_string(),
            "--port-base".to_string(),
            self.port_base.to_string(),
        ]
    }
}

/// Whether the tests can run: a reachable Docker engine and the `onsim:dev` image.
/// Otherwise prints a loud SKIPPED (and panics when `ONSIM_REQUIRE_DOCKER=1`).
pub fn available(test: &str) -> bool {
    let why = match Command::new("docker")
        .args([
            "image",
            "inspect",
            "--format",
            "{{.Id}}",
            &format!("{IMAGE}:{TAG}"),
        ])
        .output()
    {
        Err(e) => Some(format!("no docker client ({e})")),
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "no Docker engine or no {IMAGE}:{TAG} image (run scripts/image): {}",
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

/// A port base with 7 free consecutive ports on 127.0.0.1 (best effort).
pub fn free_port_base() -> u16 {
    for _ in 0..50 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = l.local_addr().expect("addr").port();
        drop(l);
        if base > 60_000 {
            continue;
        }
        if (0..7).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
    panic!("no 7 free consecutive ports");
}
