//! The state directory of `onsim serve`.
//!
//! onsim owns exactly these names in it: `endpoints.json`, `population.csv`,
//! `pki/` (with `server-ca.crt`, `terminal-ca.crt`, `terminal-ca.crl` and `NAME.crt` +
//! `NAME.key` for each credential of the matrix) and `terminal/` (the file drop:
//! `req/`, `res/`, `face/`). Policy *(our choice)*: the directory may be missing,
//! empty, or hold only those names (a previous run's), which are then rewritten —
//! `terminal/` is reused as is, never cleared. Anything else in it, or in `pki/`, is
//! the user's: `onsim serve` refuses to start (exit 2) and names the entry, so it never
//! overwrites a file it does not own. Every file is written atomically (temporary file
//! in the same directory, then rename), `endpoints.json` last: when it appears,
//! everything it names is in place.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::pki::{LivePki, MATRIX};

/// Top-level names onsim owns.
pub const OWNED: [&str; 4] = ["endpoints.json", "population.csv", "pki", "terminal"];

fn pki_owned(name: &str) -> bool {
    matches!(
        name,
        "server-ca.crt" | "terminal-ca.crt" | "terminal-ca.crl"
    ) || MATRIX
        .iter()
        .any(|n| name == format!("{n}.crt") || name == format!("{n}.key"))
}

fn is_our_temp(name: &str) -> bool {
    name.starts_with(".onsim-tmp-")
}

/// Check (and create) the directory; `Err` names what is in the way.
pub fn prepare(dir: &Path) -> Result<PathBuf, String> {
    if dir.exists() && !dir.is_dir() {
        return Err(format!(
            "--state-dir {}: exists and is not a directory",
            dir.display()
        ));
    }
    fs::create_dir_all(dir)
        .map_err(|e| format!("--state-dir {}: cannot create: {e}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("--state-dir {}: {e}", dir.display()))?;
    let entries = fs::read_dir(&dir)
        .map_err(|e| format!("--state-dir {}: cannot read: {e}", dir.display()))?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if is_our_temp(&name) {
            let _ = fs::remove_file(e.path());
            continue;
        }
        if !OWNED.contains(&name.as_str()) {
            return Err(format!(
                "--state-dir {}: holds {name:?}, which onsim does not own; use an empty or new directory (onsim writes only {})",
                dir.display(),
                OWNED.join(", ")
            ));
        }
        let want_dir = matches!(name.as_str(), "pki" | "terminal");
        if e.path().is_dir() != want_dir {
            return Err(format!(
                "--state-dir {}: {name:?} should be a {}",
                dir.display(),
                if want_dir { "directory" } else { "file" }
            ));
        }
    }
    let pki = dir.join("pki");
    if pki.is_dir() {
        for e in fs::read_dir(&pki)
            .map_err(|e| format!("{}: {e}", pki.display()))?
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if is_our_temp(&name) {
                let _ = fs::remove_file(e.path());
                continue;
            }
            if !pki_owned(&name) {
                return Err(format!(
                    "--state-dir {}: pki/{name} is not a file onsim writes; refusing to touch the directory",
                    dir.display()
                ));
            }
        }
    }
    Ok(dir)
}

/// Write `bytes` to `path` atomically (temporary file + rename), with `mode` on Unix.
pub fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".onsim-tmp-{}-{name}", std::process::id()));
    {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(if private { 0o600 } else { 0o644 });
        }
        #[cfg(not(unix))]
        let _ = private;
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

/// Write `pki/`.
pub fn write_pki(dir: &Path, pki: &LivePki) -> std::io::Result<()> {
    let p = dir.join("pki");
    fs::create_dir_all(&p)?;
    write_atomic(
        &p.join("server-ca.crt"),
        pki.server_ca.cert_pem().as_bytes(),
        false,
    )?;
    write_atomic(
        &p.join("terminal-ca.crt"),
        pki.terminal_ca.cert_pem().as_bytes(),
        false,
    )?;
    write_atomic(
        &p.join("terminal-ca.crl"),
        fakes::pki::pem_encode("X509 CRL", &pki.crl).as_bytes(),
        false,
    )?;
    for (name, c) in &pki.matrix {
        write_atomic(&p.join(format!("{name}.crt")), c.pem().as_bytes(), false)?;
        write_atomic(&p.join(format!("{name}.key")), c.key.pem().as_bytes(), true)?;
    }
    Ok(())
}

/// Write `endpoints.json` (last).
pub fn write_endpoints(dir: &Path, v: &Value) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(v).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    write_atomic(&dir.join("endpoints.json"), &bytes, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_foreign_files() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("state");
        assert!(prepare(&d).is_ok(), "a new directory is fine");
        fs::write(d.join("endpoints.json"), "{}").unwrap();
        fs::create_dir_all(d.join("pki")).unwrap();
        fs::write(d.join("pki/valid.crt"), "x").unwrap();
        assert!(prepare(&d).is_ok(), "a previous run's files are ours");
        fs::write(d.join("pki/mine.pem"), "x").unwrap();
        assert!(prepare(&d).unwrap_err().contains("pki/mine.pem"));
        fs::remove_file(d.join("pki/mine.pem")).unwrap();
        fs::write(d.join("notes.txt"), "user's").unwrap();
        assert!(prepare(&d).unwrap_err().contains("notes.txt"));
        fs::remove_file(d.join("notes.txt")).unwrap();
        write_atomic(&d.join("population.csv"), b"a\n", false).unwrap();
        assert_eq!(fs::read(d.join("population.csv")).unwrap(), b"a\n");
        assert!(prepare(&d).is_ok());
    }
}
