//! The state directory of `onsim serve`.
//!
//! onsim owns exactly these names in it: `endpoints.json`, `population.csv`,
//! `challenge.secret` (0600), `.onsim.lock`, `openapi/` (`<service>.json`, the OpenAPI
//! document of each JSON service, as `GET /openapi.json` serves it),
//! `pki/` (with `server-ca.crt`, `terminal-ca.crt`, `terminal-ca.crl` and `NAME.crt` +
//! `NAME.key` for each credential of the matrix) and `terminal/` (the file drop:
//! `req/`, `res/`, `face/`). With several clinics (issue 17 item 2, `--scenario`
//! given more than once) each clinic has its own, named by its institution code
//! *(our choice: the code is what its certificates and its terminal are bound to)*:
//! `pki/<code>/` holds its credential matrix (the CA files stay in `pki/`),
//! `terminal/<code>/{req,res,face}` its file drop and `population/<code>.csv` its
//! population ([`ClinicPaths`]); with one clinic the layout is the one above.
//! Policy *(our choice)*: the directory may be missing,
//! empty, or hold only those names (a previous run's), which are then rewritten —
//! `terminal/` is reused as is, never cleared. Anything else in it, or in `pki/`, is
//! the user's: `onsim serve` refuses to start (exit 2) and names the entry, so it never
//! overwrites a file it does not own. Every file is written atomically (temporary file
//! in the same directory, then rename), `endpoints.json` last: when it appears,
//! everything it names is in place.
//!
//! Two guards (issue 14 #9, #12):
//! - **One server per directory.** `onsim serve` holds an exclusive `flock(2)` on
//!   `.onsim.lock` (which holds its pid) for as long as it runs; a second one on the
//!   same directory exits 2 with "state dir … in use by pid N". The lock goes with the
//!   process (also on SIGKILL), so a stale lock file never blocks a restart.
//! - **No links out.** A symbolic link anywhere onsim writes (`pki/`, `terminal/`,
//!   `terminal/req|res|face`, or any owned file name) is refused with exit 2 and
//!   named; temporary files are created with `O_EXCL | O_NOFOLLOW`, so a link planted
//!   at a temporary name is not followed either.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::pki::{LivePki, MATRIX};

/// Top-level names onsim owns.
pub const OWNED: [&str; 10] = [
    "endpoints.json",
    "population.csv",
    POPULATION_DIR,
    "pki",
    OPENAPI_DIR,
    "terminal",
    LOCK_FILE,
    CHALLENGE_SECRET_FILE,
    VERDICT_FILE,
    VERDICT_JUNIT_FILE,
];

/// The directory of the JSON services' OpenAPI documents (`<service>.json`).
pub const OPENAPI_DIR: &str = "openapi";

/// The directory of the clinics' populations with several clinics (`<code>.csv`).
pub const POPULATION_DIR: &str = "population";

/// Where one clinic's files are in the state dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClinicPaths {
    /// Its credential matrix (`NAME.crt`, `NAME.key`).
    pub pki_dir: PathBuf,
    /// Its file drop (`req/`, `res/`, `face/`).
    pub terminal_dir: PathBuf,
    /// Its population.
    pub population_csv: PathBuf,
}

impl ClinicPaths {
    /// The clinic of `code` in `dir`: `pki/`, `terminal/`, `population.csv` when it
    /// is the only one; `pki/<code>/`, `terminal/<code>/`, `population/<code>.csv`
    /// when the serve runs `several`.
    pub fn of(dir: &Path, code: fakes::codes::InstitutionCode, several: bool) -> Self {
        if several {
            ClinicPaths {
                pki_dir: dir.join("pki").join(code.to_string()),
                terminal_dir: dir.join("terminal").join(code.to_string()),
                population_csv: dir.join(POPULATION_DIR).join(format!("{code}.csv")),
            }
        } else {
            ClinicPaths {
                pki_dir: dir.join("pki"),
                terminal_dir: dir.join("terminal"),
                population_csv: dir.join("population.csv"),
            }
        }
    }
}

/// Is `name` an institution code as a clinic's folder is named (10 digits)?
fn is_code(name: &str) -> bool {
    name.len() == 10 && name.bytes().all(|b| b.is_ascii_digit())
}

/// The verdict `onsim serve --scenario` writes on shutdown (`live::verdict`).
pub const VERDICT_FILE: &str = "verdict.json";
/// The same verdict as JUnit XML, one test case per `[[expect]]`.
pub const VERDICT_JUNIT_FILE: &str = "verdict.junit.xml";

/// The card-challenge secret of the run (hex, 0600; `--challenge-secret` replays it).
pub const CHALLENGE_SECRET_FILE: &str = "challenge.secret";

/// The lock file of a running `onsim serve` (holds its pid).
pub const LOCK_FILE: &str = ".onsim.lock";

/// The exclusive lock on a state directory; released when dropped (or when the
/// process ends, however it ends).
#[derive(Debug)]
pub struct StateLock {
    _file: fs::File,
}

/// Take the state directory's lock, or say which process holds it.
pub fn lock(dir: &Path) -> Result<StateLock, String> {
    let path = dir.join(LOCK_FILE);
    refuse_link(dir, LOCK_FILE)?;
    let mut opts = fs::OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW).mode(0o644);
    }
    let mut file = opts.open(&path).map_err(|e| {
        format!(
            "--state-dir {}: cannot open {LOCK_FILE}: {e}",
            dir.display()
        )
    })?;
    #[cfg(unix)]
    {
        use std::io::{Read, Seek};
        use std::os::unix::io::AsRawFd;
        // SAFETY: flock on a file descriptor we own; no memory is shared.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(format!(
                    "state dir {} is in use by pid {}; stop it or use another --state-dir",
                    dir.display(),
                    if pid.is_empty() { "?" } else { pid }
                ));
            }
            return Err(format!("--state-dir {}: cannot lock: {e}", dir.display()));
        }
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| writeln!(file, "{}", std::process::id()))
            .and_then(|_| file.sync_all())
            .map_err(|e| format!("--state-dir {}: {LOCK_FILE}: {e}", dir.display()))?;
    }
    Ok(StateLock { _file: file })
}

/// Refuse `dir/name` if it is a symbolic link.
fn refuse_link(dir: &Path, name: &str) -> Result<(), String> {
    match fs::symlink_metadata(dir.join(name)) {
        Ok(m) if m.file_type().is_symlink() => Err(format!(
            "--state-dir {}: {name} is a symbolic link; onsim never writes through links (remove it, or use another --state-dir)",
            dir.display()
        )),
        _ => Ok(()),
    }
}

fn pki_owned(name: &str) -> bool {
    matches!(
        name,
        "server-ca.crt" | "terminal-ca.crt" | "terminal-ca.crl"
    ) || matrix_owned(name)
        || is_code(name)
}

fn is_our_temp(name: &str) -> bool {
    name.starts_with(".onsim-tmp-")
}

/// Check (and create) the directory and take its lock (before anything in it is
/// touched); `Err` names what is in the way. Keep the [`StateLock`] while serving.
pub fn prepare_locked(dir: &Path) -> Result<(PathBuf, StateLock), String> {
    let canonical = create(dir)?;
    let lock = lock(&canonical)?;
    Ok((check(&canonical)?, lock))
}

fn create(dir: &Path) -> Result<PathBuf, String> {
    if dir.exists() && !dir.is_dir() {
        return Err(format!(
            "--state-dir {}: exists and is not a directory",
            dir.display()
        ));
    }
    fs::create_dir_all(dir)
        .map_err(|e| format!("--state-dir {}: cannot create: {e}", dir.display()))?;
    dir.canonicalize()
        .map_err(|e| format!("--state-dir {}: {e}", dir.display()))
}

/// Check (and create) the directory without locking it; `Err` names what is in the way.
pub fn prepare(dir: &Path) -> Result<PathBuf, String> {
    let dir = create(dir)?;
    check(&dir)
}

fn check(dir: &Path) -> Result<PathBuf, String> {
    let dir = dir.to_path_buf();
    let entries = fs::read_dir(&dir)
        .map_err(|e| format!("--state-dir {}: cannot read: {e}", dir.display()))?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if is_our_temp(&name) {
            let _ = fs::remove_file(e.path());
            continue;
        }
        if OWNED.contains(&name.as_str()) {
            refuse_link(&dir, &name)?;
        }
        if !OWNED.contains(&name.as_str()) {
            return Err(format!(
                "--state-dir {}: holds {name:?}, which onsim does not own; use an empty or new directory (onsim writes only {})",
                dir.display(),
                OWNED.join(", ")
            ));
        }
        let want_dir = matches!(
            name.as_str(),
            "pki" | "terminal" | OPENAPI_DIR | POPULATION_DIR
        );
        if e.path().is_dir() != want_dir {
            return Err(format!(
                "--state-dir {}: {name:?} should be a {}",
                dir.display(),
                if want_dir { "directory" } else { "file" }
            ));
        }
    }
    for sub in ["req", "res", "face"] {
        refuse_link(&dir, &format!("terminal/{sub}"))?;
    }
    // A clinic's terminal of a serve of several: `terminal/<code>/{req,res,face}`.
    if let Ok(entries) = fs::read_dir(dir.join("terminal")) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if is_code(&name) {
                refuse_link(&dir, &format!("terminal/{name}"))?;
                for sub in ["req", "res", "face"] {
                    refuse_link(&dir, &format!("terminal/{name}/{sub}"))?;
                }
            }
        }
    }
    owned_subdir(&dir, "pki", pki_owned)?;
    if let Ok(entries) = fs::read_dir(dir.join("pki")) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if is_code(&name) {
                if !e.path().is_dir() {
                    return Err(format!(
                        "--state-dir {}: pki/{name} should be a clinic's directory; refusing to touch it",
                        dir.display()
                    ));
                }
                owned_subdir(&dir, &format!("pki/{name}"), matrix_owned)?;
            }
        }
    }
    owned_subdir(&dir, OPENAPI_DIR, openapi_owned)?;
    owned_subdir(&dir, POPULATION_DIR, population_owned)?;
    Ok(dir)
}

/// `population/<code>.csv`.
fn population_owned(name: &str) -> bool {
    name.strip_suffix(".csv").is_some_and(is_code)
}

/// A file of a clinic's credential matrix (`pki/<code>/`).
fn matrix_owned(name: &str) -> bool {
    MATRIX
        .iter()
        .any(|n| name == format!("{n}.crt") || name == format!("{n}.key"))
}

/// Check the folder `sub` of the state dir, if there: remove our own leftover temp
/// files, refuse a symbolic link or a file that `owned` does not name.
fn owned_subdir(dir: &Path, sub: &str, owned: fn(&str) -> bool) -> Result<(), String> {
    let path = dir.join(sub);
    if !path.is_dir() {
        return Ok(());
    }
    for e in fs::read_dir(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if is_our_temp(&name) {
            let _ = fs::remove_file(e.path());
            continue;
        }
        if e.file_type().is_ok_and(|t| t.is_symlink()) {
            return Err(format!(
                "--state-dir {}: {sub}/{name} is a symbolic link; onsim never writes through links",
                dir.display()
            ));
        }
        if !owned(&name) {
            return Err(format!(
                "--state-dir {}: {sub}/{name} is not a file onsim writes; refusing to touch the directory",
                dir.display()
            ));
        }
    }
    Ok(())
}

fn openapi_owned(name: &str) -> bool {
    crate::live::http::Svc::ALL
        .iter()
        .any(|s| name == format!("{}.json", s.name()))
}

/// Write `openapi/<service>.json` for each `(service, document)`, atomically.
pub fn write_openapi(dir: &Path, documents: &[(&str, Vec<u8>)]) -> std::io::Result<()> {
    refuse_link(dir, OPENAPI_DIR).map_err(std::io::Error::other)?;
    let p = dir.join(OPENAPI_DIR);
    fs::create_dir_all(&p)?;
    for (service, bytes) in documents {
        let name = format!("{service}.json");
        refuse_link(&p, &name).map_err(std::io::Error::other)?;
        write_atomic(&p.join(name), bytes, false)?;
    }
    Ok(())
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
        // A leftover temporary file of ours (same pid: a previous write that failed).
        let _ = fs::remove_file(&tmp);
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(if private { 0o600 } else { 0o644 })
                .custom_flags(libc::O_NOFOLLOW);
        }
        #[cfg(not(unix))]
        let _ = private;
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

/// Write `pki/`: the CA files and the first clinic's matrix (a serve of one).
pub fn write_pki(dir: &Path, pki: &LivePki) -> std::io::Result<()> {
    write_pki_ca(dir, pki)?;
    write_matrix(dir, &dir.join("pki"), &pki.matrix)
}

/// Write the CA files of `pki/` (`server-ca.crt`, `terminal-ca.crt`, `terminal-ca.crl`).
pub fn write_pki_ca(dir: &Path, pki: &LivePki) -> std::io::Result<()> {
    let p = dir.join("pki");
    refuse_link(dir, "pki").map_err(std::io::Error::other)?;
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
    Ok(())
}

/// Write a clinic's credential matrix into `folder` (`pki/`, or `pki/<code>/` with
/// several clinics), which must be inside `dir`'s `pki/`.
pub fn write_matrix(
    dir: &Path,
    folder: &Path,
    matrix: &[(&'static str, fakes::pki::Issued)],
) -> std::io::Result<()> {
    refuse_link(dir, "pki").map_err(std::io::Error::other)?;
    if let Ok(rel) = folder.strip_prefix(dir) {
        refuse_link(dir, &rel.to_string_lossy()).map_err(std::io::Error::other)?;
    }
    fs::create_dir_all(folder)?;
    for (name, c) in matrix {
        write_atomic(
            &folder.join(format!("{name}.crt")),
            c.pem().as_bytes(),
            false,
        )?;
        write_atomic(
            &folder.join(format!("{name}.key")),
            c.key.pem().as_bytes(),
            true,
        )?;
    }
    Ok(())
}

/// Write a clinic's population CSV at `path` (`population.csv`, or
/// `population/<code>.csv` with several clinics).
pub fn write_population(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        if parent != dir {
            refuse_link(dir, POPULATION_DIR).map_err(std::io::Error::other)?;
            fs::create_dir_all(parent)?;
        }
    }
    write_atomic(path, bytes, false)
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
        fs::create_dir_all(d.join("openapi")).unwrap();
        write_openapi(&d, &[("control", b"{}\n".to_vec())]).unwrap();
        assert_eq!(fs::read(d.join("openapi/control.json")).unwrap(), b"{}\n");
        assert!(prepare(&d).is_ok(), "openapi/control.json is ours");
        fs::write(d.join("openapi/mine.yaml"), "x").unwrap();
        assert!(prepare(&d).unwrap_err().contains("openapi/mine.yaml"));
        fs::remove_file(d.join("openapi/mine.yaml")).unwrap();
        fs::write(d.join("notes.txt"), "user's").unwrap();
        assert!(prepare(&d).unwrap_err().contains("notes.txt"));
        fs::remove_file(d.join("notes.txt")).unwrap();
        write_atomic(&d.join("population.csv"), b"a\n", false).unwrap();
        assert_eq!(fs::read(d.join("population.csv")).unwrap(), b"a\n");
        assert!(prepare(&d).is_ok());
    }

    /// Several clinics (issue 17 item 2): `pki/<code>/`, `terminal/<code>/` and
    /// `population/<code>.csv` are onsim's; anything else in them is refused and
    /// named, and so is a link at a clinic's terminal folder.
    #[test]
    fn a_serve_of_several_clinics_owns_each_clinics_folders() {
        let code: fakes::codes::InstitutionCode = fakes::codes::InstitutionCode::new(
            fakes::codes::Prefecture::new(13).unwrap(),
            fakes::codes::FeeTable::Medical,
            1,
            105,
        )
        .unwrap();
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("state");
        prepare(&d).unwrap();
        let one = ClinicPaths::of(&d, code, false);
        assert_eq!(one.pki_dir, d.join("pki"));
        assert_eq!(one.terminal_dir, d.join("terminal"));
        assert_eq!(one.population_csv, d.join("population.csv"));
        let p = ClinicPaths::of(&d, code, true);
        let c = code.to_string();
        assert_eq!(p.pki_dir, d.join("pki").join(&c));
        assert_eq!(p.terminal_dir, d.join("terminal").join(&c));
        assert_eq!(
            p.population_csv,
            d.join("population").join(format!("{c}.csv"))
        );
        fs::create_dir_all(&p.pki_dir).unwrap();
        fs::write(p.pki_dir.join("valid.crt"), "x").unwrap();
        fs::write(p.pki_dir.join("valid.key"), "x").unwrap();
        fs::create_dir_all(p.terminal_dir.join("req")).unwrap();
        write_population(&d, &p.population_csv, b"h\n").unwrap();
        assert_eq!(fs::read(&p.population_csv).unwrap(), b"h\n");
        assert!(
            prepare(&d).is_ok(),
            "a previous multi-clinic run's files are ours"
        );
        fs::write(p.pki_dir.join("mine.pem"), "x").unwrap();
        let e = prepare(&d).unwrap_err();
        assert!(e.contains(&format!("pki/{c}/mine.pem")), "{e}");
        fs::remove_file(p.pki_dir.join("mine.pem")).unwrap();
        fs::write(d.join("population/notes.txt"), "x").unwrap();
        let e = prepare(&d).unwrap_err();
        assert!(e.contains("population/notes.txt"), "{e}");
        fs::remove_file(d.join("population/notes.txt")).unwrap();
        fs::create_dir_all(d.join("pki/not-a-code")).unwrap();
        assert!(prepare(&d).unwrap_err().contains("pki/not-a-code"));
        fs::remove_dir(d.join("pki/not-a-code")).unwrap();
        #[cfg(unix)]
        {
            let user = t.path().join("user");
            fs::create_dir_all(&user).unwrap();
            fs::remove_dir(p.terminal_dir.join("req")).unwrap();
            std::os::unix::fs::symlink(&user, p.terminal_dir.join("req")).unwrap();
            let e = prepare(&d).unwrap_err();
            assert!(
                e.contains(&format!("terminal/{c}/req is a symbolic link")),
                "{e}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn defect_12_links_out_of_the_state_dir_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let user = t.path().join("user");
        fs::create_dir_all(&user).unwrap();
        fs::write(user.join("valid.key"), "the user's key").unwrap();
        let d = t.path().join("state");
        fs::create_dir_all(&d).unwrap();
        std::os::unix::fs::symlink(&user, d.join("pki")).unwrap();
        let e = prepare(&d).unwrap_err();
        assert!(e.contains("pki is a symbolic link"), "{e}");
        fs::remove_file(d.join("pki")).unwrap();
        fs::create_dir_all(d.join("pki")).unwrap();
        std::os::unix::fs::symlink(user.join("valid.key"), d.join("pki/valid.key")).unwrap();
        let e = prepare(&d).unwrap_err();
        assert!(e.contains("pki/valid.key is a symbolic link"), "{e}");
        assert_eq!(
            fs::read_to_string(user.join("valid.key")).unwrap(),
            "the user's key"
        );
    }

    #[cfg(unix)]
    #[test]
    fn defect_09_a_second_lock_names_the_pid() {
        let t = tempfile::tempdir().unwrap();
        let first = lock(t.path()).unwrap();
        let e = lock(t.path()).unwrap_err();
        assert!(
            e.contains(&format!("in use by pid {}", std::process::id())),
            "{e}"
        );
        drop(first);
        lock(t.path()).unwrap();
    }
}
