//! The onsim image as a testcontainers [`Image`], and how it is started.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use testcontainers::core::{AccessMode, ContainerPort, Mount, WaitFor};
use testcontainers::runners::SyncRunner;
use testcontainers::{Image, ImageExt};

use crate::docker::image_ref;
use crate::error::{Error, Result};
use crate::onsim::Onsim;

/// The line `onsim serve` prints on stderr once `endpoints.json` is written.
pub const READY_LINE: &str = "onsim serve: ready";
/// The port base inside the container (the image's CMD, `--port-base 7000`).
pub const PORT_BASE: u16 = 7000;
/// The 7 ports `--port-base 7000` takes, all published to random host ports.
pub const PORTS: [ContainerPort; 7] = [
    ContainerPort::Tcp(PORT_BASE),
    ContainerPort::Tcp(PORT_BASE + 1),
    ContainerPort::Tcp(PORT_BASE + 2),
    ContainerPort::Tcp(PORT_BASE + 3),
    ContainerPort::Tcp(PORT_BASE + 4),
    ContainerPort::Tcp(PORT_BASE + 5),
    ContainerPort::Tcp(PORT_BASE + 6),
];
/// Default longest wait for the ready line *(our choice: a debug-built image makes
/// its RSA keys in seconds; 60 s leaves room on a loaded CI machine)*.
pub const STARTUP: Duration = Duration::from_secs(60);
/// Where the state dir is mounted inside the container.
const STATE: &str = "/state";
/// Where a scenario file is mounted inside the container.
const SCENARIO: &str = "/scenario";

/// The onsim image, configured; [`OnsimImage::start`] runs it.
///
/// Defaults: image [`image_ref`] (`onsim:dev` or `ONSIM_IMAGE`), a fresh temporary
/// state dir (removed with the [`Onsim`]), the image's advertised host (127.0.0.1,
/// which the server certificate names and host clients reach through the mapping),
/// the container running as the calling user (unix).
#[derive(Debug, Clone)]
pub struct OnsimImage {
    name: String,
    tag: String,
    state_dir: Option<PathBuf>,
    advertise: Option<String>,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    mounts: Vec<Mount>,
    user: Option<String>,
    startup: Duration,
}

impl Default for OnsimImage {
    fn default() -> Self {
        let r = image_ref();
        let (name, tag) = r.rsplit_once(':').unwrap_or((&r, "latest"));
        OnsimImage {
            name: name.to_string(),
            tag: tag.to_string(),
            state_dir: None,
            advertise: None,
            args: Vec::new(),
            env: BTreeMap::new(),
            mounts: Vec::new(),
            user: calling_user(),
            startup: STARTUP,
        }
    }
}

impl OnsimImage {
    /// Another image, `name:tag` (default: [`image_ref`]).
    pub fn with_image(mut self, name: &str, tag: &str) -> Self {
        self.name = name.to_string();
        self.tag = tag.to_string();
        self
    }

    /// Use `dir` (a host folder, missing or empty, or a previous run's state dir) as
    /// the state dir; it is kept after the container goes. Default: a temporary one.
    pub fn with_state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// `--advertise HOST`: the host written into endpoints.json's URLs and added to
    /// the eligibility server certificate's names, e.g. a compose service name.
    /// Host clients reach the container at [`Onsim::host_ip`] whatever it is.
    pub fn with_advertise(mut self, host: &str) -> Self {
        self.advertise = Some(host.to_string());
        self
    }

    /// Further `onsim serve` flags, e.g. `["--households", "2000"]` or
    /// `["--terminal-encoding", "utf-8"]` (after the image's own).
    pub fn with_args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// A scenario file for `onsim serve --scenario` (mounted read-only). Needs an image
    /// whose `onsim serve` has `--scenario` (issue 17 item 1).
    pub fn with_scenario(mut self, file: &Path) -> Self {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario.toml".to_string());
        let inside = format!("{SCENARIO}/{name}");
        self.mounts.push(
            Mount::bind_mount(file.display().to_string(), inside.clone())
                .with_access_mode(AccessMode::ReadOnly),
        );
        self.args.extend(["--scenario".to_string(), inside]);
        self
    }

    /// An environment variable for `onsim serve` (e.g. `ONSIM_LOG=debug`).
    pub fn with_env(mut self, name: &str, value: &str) -> Self {
        self.env.insert(name.to_string(), value.to_string());
        self
    }

    /// Run the container as `user` (`uid:gid`), or as the image's user (root) with
    /// `None`. Default: the calling user, so the state dir stays the caller's.
    pub fn with_user(mut self, user: Option<&str>) -> Self {
        self.user = user.map(str::to_string);
        self
    }

    /// The longest wait for the ready line (default [`STARTUP`]).
    pub fn with_startup_timeout(mut self, t: Duration) -> Self {
        self.startup = t;
        self
    }

    /// Start the container (its 7 ports published to random host ports) and wait,
    /// bounded, for the ready line; then read endpoints.json.
    pub fn start(self) -> Result<Onsim> {
        let (state_dir, temp) = match &self.state_dir {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(|source| Error::Io {
                    path: d.clone(),
                    source,
                })?;
                (d.clone(), None)
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("onsim-state-")
                    .tempdir()
                    .map_err(|source| Error::Io {
                        path: std::env::temp_dir(),
                        source,
                    })?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        // Docker needs an absolute host path for a bind mount.
        let state_dir = std::fs::canonicalize(&state_dir).map_err(|source| Error::Io {
            path: state_dir.clone(),
            source,
        })?;
        let image = Running {
            name: self.name.clone(),
            tag: self.tag.clone(),
            args: self.cmd(),
            env: self.env.clone(),
            mounts: {
                let mut m = vec![Mount::bind_mount(state_dir.display().to_string(), STATE)];
                m.extend(self.mounts.iter().cloned());
                m
            },
        };
        let mut request = image.with_startup_timeout(self.startup);
        if let Some(user) = &self.user {
            request = request.with_user(user.clone());
        }
        let container = request.start()?;
        Onsim::new(container, state_dir, temp.map(Arc::new))
    }

    fn cmd(&self) -> Vec<String> {
        let mut v = vec![
            "--state-dir".to_string(),
            STATE.to_string(),
            "--port-base".to_string(),
            PORT_BASE.to_string(),
        ];
        if let Some(a) = &self.advertise {
            v.extend(["--advertise".to_string(), a.clone()]);
        }
        v.extend(self.args.iter().cloned());
        v
    }
}

/// The container as testcontainers runs it.
#[derive(Debug, Clone)]
pub(crate) struct Running {
    name: String,
    tag: String,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    mounts: Vec<Mount>,
}

impl Image for Running {
    fn name(&self) -> &str {
        &self.name
    }
    fn tag(&self) -> &str {
        &self.tag
    }
    fn ready_conditions(&self) -> Vec<WaitFor> {
        vec![WaitFor::message_on_stderr(READY_LINE)]
    }
    fn env_vars(
        &self,
    ) -> impl IntoIterator<Item = (impl Into<Cow<'_, str>>, impl Into<Cow<'_, str>>)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    fn mounts(&self) -> impl IntoIterator<Item = &Mount> {
        self.mounts.iter()
    }
    fn expose_ports(&self) -> &[ContainerPort] {
        &PORTS
    }
    fn cmd(&self) -> impl IntoIterator<Item = impl Into<Cow<'_, str>>> {
        // No --bind: the image's ONSIM_BIND=0.0.0.0 is what makes the mapping work.
        self.args.iter().map(String::as_str)
    }
}

/// `uid:gid` of this process (unix), so what the container writes is ours.
#[cfg(unix)]
fn calling_user() -> Option<String> {
    // SAFETY: getuid/getgid cannot fail and touch no memory.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    Some(format!("{uid}:{gid}"))
}

#[cfg(not(unix))]
fn calling_user() -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmd_has_the_state_dir_port_base_advertise_and_extra_flags() {
        let i = OnsimImage::default()
            .with_advertise("onsim")
            .with_args(["--households", "2000"]);
        assert_eq!(
            i.cmd(),
            [
                "--state-dir",
                "/state",
                "--port-base",
                "7000",
                "--advertise",
                "onsim",
                "--households",
                "2000"
            ]
        );
        assert_eq!(
            OnsimImage::default().cmd(),
            ["--state-dir", "/state", "--port-base", "7000"]
        );
    }

    #[test]
    fn a_scenario_is_mounted_read_only_and_named() {
        let i = OnsimImage::default().with_scenario(Path::new("/tmp/x/outage.toml"));
        assert_eq!(i.cmd()[4..], ["--scenario", "/scenario/outage.toml"]);
        assert_eq!(i.mounts[0].access_mode(), AccessMode::ReadOnly);
        assert_eq!(i.mounts[0].target(), Some("/scenario/outage.toml"));
    }

    #[cfg(unix)]
    #[test]
    fn runs_as_the_calling_user_unless_told() {
        let me = calling_user().unwrap();
        assert!(me.contains(':'));
        assert_eq!(OnsimImage::default().user.as_deref(), Some(me.as_str()));
        assert_eq!(OnsimImage::default().with_user(None).user, None);
    }
}
