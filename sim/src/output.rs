//! Writing what users keep: files are written atomically (to a temporary file in the
//! same folder, then renamed), so a crash never leaves half a report behind and a
//! reader never sees one.

use std::io::Write;
use std::path::Path;

use crate::error::CliError;

/// Write `bytes` to `path` atomically, creating parent folders as needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::new(format!("cannot create folder {}: {e}", dir.display())))?;
    let file_name = path
        .file_name()
        .ok_or_else(|| CliError::new(format!("{} is not a file path", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(CliError::new(format!(
            "cannot write {}: {e}",
            path.display()
        )));
    }
    Ok(())
}

/// Write `bytes` to stdout and flush; a closed or full stdout is an error the user
/// sees, not a panic.
pub fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|_| stdout.flush())
        .map_err(|e| CliError::new(format!("cannot write to stdout: {e}")))
}

/// A command's main result: into `out` atomically when given, else to stdout.
pub fn write_result(out: Option<&Path>, bytes: &[u8]) -> Result<(), CliError> {
    match out {
        Some(p) => write_atomic(p, bytes),
        None => write_stdout(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("onsim-out-{}", std::process::id()));
        let p = dir.join("sub/report.json");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        let leftovers: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
