//! The disk cache for derived RSA keys, installed into `fakes` as its [`KeyStore`].
//!
//! `fakes` derives every key from the seed and does no I/O; generating RSA-2048 takes
//! a noticeable fraction of a second (seconds in debug builds), so the driver keeps
//! derived keys on disk between processes. The cache is only a memo and can never
//! change a result (docs/DESIGN.md, Determinism).
//!
//! Where (our choice): `$ONSIM_KEY_CACHE` if set (empty disables the disk cache), else
//! `onsim-keycache` under the system temp dir.

use std::path::PathBuf;

use fakes::pki::keys::{set_key_store, KeyStore};

/// Derived keys as files `<dir>/<name>`, written atomically (temp file + rename).
#[derive(Debug, Clone)]
pub struct DiskKeyStore {
    dir: PathBuf,
}

impl DiskKeyStore {
    pub fn new(dir: PathBuf) -> Self {
        DiskKeyStore { dir }
    }
}

impl KeyStore for DiskKeyStore {
    fn load(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dir.join(name)).ok()
    }

    fn store(&self, name: &str, der: &[u8]) {
        // Best effort: a read-only or missing temp dir only costs speed.
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!("{name}.tmp{}", std::process::id()));
        let ok = std::fs::create_dir_all(&self.dir)
            .and_then(|_| std::fs::write(&tmp, der))
            .and_then(|_| std::fs::rename(&tmp, &path));
        if let Err(e) = ok {
            let _ = std::fs::remove_file(&tmp);
            tracing::debug!(dir = %self.dir.display(), error = %e, "key cache not written");
        }
    }
}

/// The cache directory the environment asks for, or `None` when disabled.
pub fn dir_from_env() -> Option<PathBuf> {
    match std::env::var_os("ONSIM_KEY_CACHE") {
        Some(v) if v.is_empty() => None,
        Some(v) => Some(PathBuf::from(v)),
        None => Some(std::env::temp_dir().join("onsim-keycache")),
    }
}

/// Install the disk cache the environment asks for (idempotent; the first call wins).
pub fn install_from_env() {
    if let Some(dir) = dir_from_env() {
        let _ = set_key_store(Box::new(DiskKeyStore::new(dir)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_and_loads_atomically() {
        let dir = std::env::temp_dir().join(format!("onsim-ks-test-{}", std::process::id()));
        let s = DiskKeyStore::new(dir.clone());
        assert_eq!(s.load("k"), None);
        s.store("k", b"der");
        assert_eq!(s.load("k").as_deref(), Some(&b"der"[..]));
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1, "no temp file left behind");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
