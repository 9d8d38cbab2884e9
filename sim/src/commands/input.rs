//! Reading the files a user names on the command line, bounded (issue 14 #15, #16).
//!
//! Every input file (`onsim validate`/`run` scenarios, `schedule --published`,
//! `merge` shards, `sweep` scenarios) is read through [`read_bounded`]:
//! - it must be a **regular file**: a FIFO, a character or block device (`/dev/zero`),
//!   a socket or a folder is refused with exit 2 saying what it is;
//! - it is opened with `O_NONBLOCK` (Unix) and checked again on the open descriptor,
//!   so a FIFO swapped in after the check cannot block onsim forever;
//! - at most `limit` bytes are read; a larger file is refused naming the limit. The
//!   limits are in [`limits`] *(our choice)*.

use std::fs::{self, File};
use std::io::Read;
use std::path::Path;

use crate::error::CliError;

/// The size limits of input files *(our choice: each is far above any real file)*.
pub mod limits {
    /// A scenario file (TOML).
    pub const SCENARIO: u64 = 1 << 20;
    /// A bureau's published deadline table (CSV, a few hundred rows at most).
    pub const PUBLISHED_TABLE: u64 = 1 << 20;
    /// One `onsim sweep --shard` output (JSON with raw histograms).
    pub const SHARD: u64 = 64 << 20;
}

/// What a path is, in words, when it is not a regular file.
fn kind_of(t: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a folder"
    } else if t.is_symlink() {
        "a dangling symbolic link"
    } else {
        "not a regular file"
    }
}

/// Refuse `path` unless it is a regular file (after following links): `Err` says what
/// it is instead.
pub fn regular_file(path: &Path, what: &str) -> Result<(), CliError> {
    let name = path.display();
    match fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(m) => Err(CliError::new(format!(
            "{name}: {what} is {}, not a regular file",
            kind_of(&m.file_type())
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(CliError::new(format!("{name}: no such file or folder")))
        }
        Err(e) => Err(CliError::new(format!("{name}: cannot read: {e}"))),
    }
}

/// Read `path` (a regular file of at most `limit` bytes); `what` names it in messages.
pub fn read_bounded(path: &Path, what: &str, limit: u64) -> Result<Vec<u8>, CliError> {
    let name = path.display();
    regular_file(path, what)?;
    let mut opts = fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let file: File = opts
        .open(path)
        .map_err(|e| CliError::new(format!("{name}: cannot read: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| CliError::new(format!("{name}: cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(CliError::new(format!(
            "{name}: {what} is {}, not a regular file",
            kind_of(&meta.file_type())
        )));
    }
    if meta.len() > limit {
        return Err(CliError::new(format!(
            "{name}: {what} is {} bytes; the limit is {limit} bytes",
            meta.len()
        )));
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| CliError::new(format!("{name}: cannot read: {e}")))?;
    if out.len() as u64 > limit {
        return Err(CliError::new(format!(
            "{name}: {what} grew past the limit of {limit} bytes while being read"
        )));
    }
    Ok(out)
}

/// As [`read_bounded`], as UTF-8 text; a bad byte is named by line and column.
pub fn read_text(path: &Path, what: &str, limit: u64) -> Result<String, CliError> {
    let bytes = read_bounded(path, what, limit)?;
    String::from_utf8(bytes).map_err(|e| {
        let off = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..off];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let col_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&before[col_start..])
            .chars()
            .count()
            + 1;
        CliError::new(format!(
            "{}:{line}:{column}: {what} is not UTF-8\n  hint: save it as UTF-8",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defect_15_16_non_regular_files_and_oversized_files_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let e = read_bounded(t.path(), "the table", 10).unwrap_err();
        assert!(e.to_string().contains("is a folder"), "{e}");
        #[cfg(unix)]
        {
            let e = read_bounded(Path::new("/dev/zero"), "the table", 10).unwrap_err();
            assert!(e.to_string().contains("a character device"), "{e}");
            let fifo = t.path().join("fifo");
            let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
            // SAFETY: mkfifo on a path we own.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            let e = read_bounded(&fifo, "the table", 10).unwrap_err();
            assert!(e.to_string().contains("a FIFO"), "{e}");
        }
        let f = t.path().join("big");
        fs::write(&f, vec![b'a'; 11]).unwrap();
        let e = read_bounded(&f, "the table", 10).unwrap_err();
        assert!(e.to_string().contains("the limit is 10 bytes"), "{e}");
        fs::write(&f, b"ok\n\xff").unwrap();
        let e = read_text(&f, "the table", 10).unwrap_err();
        assert!(e.to_string().contains("big:2:1:"), "{e}");
        assert!(read_text(&f.with_file_name("nope"), "x", 1)
            .unwrap_err()
            .to_string()
            .contains("no such file"));
    }
}
