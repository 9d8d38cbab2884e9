//! `endpoints.json` as a host client behind the port mapping reads it.
//!
//! onsim writes what it knows inside the container: URLs on the advertised host and
//! the container ports 7000-7006, file paths under `/state`. A client on the host
//! keeps the scheme, host name and path, swaps the container port for its published
//! host port, and finds the files in the bind-mounted state dir.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};

/// Where the state dir is mounted inside the container.
const STATE: &str = "/state";

/// `endpoints.json` of a started container, with the port mapping it was published
/// under.
#[derive(Debug, Clone)]
pub struct Endpoints {
    raw: Value,
    state_dir: PathBuf,
    /// Container port → host port.
    ports: BTreeMap<u16, u16>,
    host_ip: String,
}

/// A URL of endpoints.json as reached from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostUrl {
    /// Same scheme, host name and path; the host port instead of the container's.
    pub url: String,
    /// The advertised host name of the URL (what TLS checks the certificate against).
    pub host: String,
    /// The published host port.
    pub port: u16,
    /// The address to connect to (`host` may be a name only the containers resolve).
    pub connect_ip: String,
    /// As curl's `--resolve` wants it: `host:port:connect_ip`.
    pub resolve: String,
}

/// A client credential of onsim's PKI matrix (`valid`, `expired`, `not-yet-valid`,
/// `revoked`, `wrong-ca`, `other-institution`), as host files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub name: String,
    /// The client certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM, PKCS#8).
    pub key: PathBuf,
    /// The refusal the eligibility API gives it (`None` for `valid`), as its log
    /// names it (`refusal="<code>"`).
    pub expected_refusal: Option<String>,
}

impl Credential {
    /// The certificate's PEM text.
    pub fn cert_pem(&self) -> Result<Vec<u8>> {
        read(&self.cert)
    }
    /// The private key's PEM text.
    pub fn key_pem(&self) -> Result<Vec<u8>> {
        read(&self.key)
    }
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

impl Endpoints {
    /// Read `state_dir/endpoints.json`.
    pub(crate) fn load(
        state_dir: &Path,
        ports: BTreeMap<u16, u16>,
        host_ip: String,
    ) -> Result<Self> {
        let path = state_dir.join("endpoints.json");
        let raw: Value = serde_json::from_slice(&read(&path)?).map_err(|e| Error::StateFile {
            path: path.clone(),
            reason: format!("not JSON: {e}"),
        })?;
        if !raw.is_object() {
            return Err(Error::StateFile {
                path,
                reason: "not a JSON object".to_string(),
            });
        }
        Ok(Endpoints {
            raw,
            state_dir: state_dir.to_path_buf(),
            ports,
            host_ip,
        })
    }

    /// The whole file, as written.
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// A string of endpoints.json as written (URLs with container ports, paths
    /// inside the container).
    pub fn str(&self, key: &str) -> Result<&str> {
        self.raw[key].as_str().ok_or_else(|| Error::MissingKey {
            key: key.to_string(),
        })
    }

    /// The institution code the `valid` credential is bound to.
    pub fn institution_code(&self) -> Result<&str> {
        self.str("institution_code")
    }

    /// A path named in endpoints.json (inside the container, `/state/...`) on the
    /// host; a path outside `/state` is returned unchanged.
    pub fn host_path(&self, in_container: &str) -> PathBuf {
        match in_container.strip_prefix(STATE) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                self.state_dir.join(rest.trim_start_matches('/'))
            }
            _ => PathBuf::from(in_container),
        }
    }

    /// The host file of a path key (`server_ca`, `population_csv`, `terminal_dir`,
    /// `pki_dir`).
    pub fn file(&self, key: &str) -> Result<PathBuf> {
        Ok(self.host_path(self.str(key)?))
    }

    /// The names of the credentials endpoints.json lists, in name order.
    pub fn credential_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.raw["credentials"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Credential `name` (`valid`, `expired`, …) as host files.
    pub fn credential(&self, name: &str) -> Result<Credential> {
        let c = &self.raw["credentials"][name];
        let path = |k: &str| {
            c[k].as_str()
                .map(|p| self.host_path(p))
                .ok_or_else(|| Error::MissingKey {
                    key: format!("credentials.{name}.{k}"),
                })
        };
        Ok(Credential {
            name: name.to_string(),
            cert: path("cert")?,
            key: path("key")?,
            expected_refusal: c["expected_refusal"].as_str().map(str::to_string),
        })
    }

    /// URL key `key` (`eligibility_url`, `clock_url`, …) as reached from the host.
    pub fn host_url(&self, key: &str) -> Result<HostUrl> {
        self.on_host(self.str(key)?)
    }

    /// Any URL on one of the published container ports, as reached from the host.
    pub fn on_host(&self, url: &str) -> Result<HostUrl> {
        let bad = |reason: &str| Error::BadUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (host, port) = authority
            .rsplit_once(':')
            .ok_or_else(|| bad("names no port"))?;
        let port: u16 = port.parse().map_err(|_| bad("bad port"))?;
        let host_port = *self.ports.get(&port).ok_or_else(|| Error::NotPublished {
            url: url.to_string(),
            port,
        })?;
        Ok(HostUrl {
            url: format!("{scheme}://{host}:{host_port}{path}"),
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: host_port,
            connect_ip: self.host_ip.clone(),
            resolve: format!("{host}:{host_port}:{}", self.host_ip),
        })
    }

    /// Container port → host port, for all 7.
    pub fn ports(&self) -> &BTreeMap<u16, u16> {
        &self.ports
    }

    /// The address the published ports are on.
    pub fn host_ip(&self) -> &str {
        &self.host_ip
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> (tempfile::TempDir, Endpoints) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("endpoints.json"),
            r#"{"eligibility_url": "https://onsim:7005/eligibility",
                "clock_url": "http://onsim:7000/clock",
                "odd_url": "http://onsim:9999/x",
                "server_ca": "/state/pki/server-ca.crt",
                "institution_code": "1310101017",
                "credentials": {"valid": {"cert": "/state/pki/valid.crt", "key": "/state/pki/valid.key"},
                                "revoked": {"cert": "/state/pki/revoked.crt", "key": "/state/pki/revoked.key",
                                            "expected_refusal": "revoked"}}}"#,
        )
        .unwrap();
        let ports = (7000..=7006).map(|p| (p, p + 30000)).collect();
        let e = Endpoints::load(dir.path(), ports, "127.0.0.1".into()).unwrap();
        (dir, e)
    }

    #[test]
    fn urls_keep_name_and_path_and_take_the_host_port() {
        let (_d, e) = fixture();
        let u = e.host_url("eligibility_url").unwrap();
        assert_eq!(u.url, "https://onsim:37005/eligibility");
        assert_eq!(u.host, "onsim");
        assert_eq!(u.port, 37005);
        assert_eq!(u.resolve, "onsim:37005:127.0.0.1");
        assert_eq!(
            e.host_url("clock_url").unwrap().url,
            "http://onsim:37000/clock"
        );
        let ipv6 = e.on_host("http://[::1]:7001/x").unwrap();
        assert_eq!((ipv6.host.as_str(), ipv6.port), ("::1", 37001));
    }

    #[test]
    fn bad_urls_and_keys_are_named() {
        let (_d, e) = fixture();
        let msg = e.host_url("odd_url").unwrap_err().to_string();
        assert!(
            msg.contains("http://onsim:9999/x") && msg.contains("9999"),
            "{msg}"
        );
        let msg = e.host_url("nope_url").unwrap_err().to_string();
        assert_eq!(msg, "endpoints.json has no nope_url");
        assert!(e
            .on_host("onsim:7000")
            .unwrap_err()
            .to_string()
            .contains("no scheme"));
        assert!(e
            .on_host("http://onsim/x")
            .unwrap_err()
            .to_string()
            .contains("no port"));
    }

    #[test]
    fn container_paths_map_into_the_state_dir() {
        let (d, e) = fixture();
        assert_eq!(
            e.file("server_ca").unwrap(),
            d.path().join("pki/server-ca.crt")
        );
        assert_eq!(e.host_path("/stateful/x"), PathBuf::from("/stateful/x"));
        assert_eq!(e.host_path("/state"), d.path().join(""));
        let v = e.credential("valid").unwrap();
        assert_eq!(v.key, d.path().join("pki/valid.key"));
        assert_eq!(v.expected_refusal, None);
        let r = e.credential("revoked").unwrap();
        assert_eq!(r.expected_refusal.as_deref(), Some("revoked"));
        assert_eq!(e.credential_names(), ["revoked", "valid"]);
        let msg = e.credential("other").unwrap_err().to_string();
        assert_eq!(msg, "endpoints.json has no credentials.other.cert");
        assert_eq!(e.institution_code().unwrap(), "1310101017");
    }

    #[test]
    fn a_broken_endpoints_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("endpoints.json");
        std::fs::write(&p, "{").unwrap();
        let msg = Endpoints::load(dir.path(), BTreeMap::new(), "h".into())
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with(&p.display().to_string()) && msg.contains("not JSON"),
            "{msg}"
        );
    }
}
