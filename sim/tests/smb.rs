//! The terminal folder over SMB (issue 17 item 6), as clinics reach the real
//! qualification terminal's shared folder (`\\SIKAKUPC\OQS\req`, `res`, `face`):
//! `onsim serve` on a temporary state dir, `scripts/smb-share` running Debian's smbd
//! on its `terminal_dir` as a child of this test (foreground, loopback, a free high
//! port, stopped at the end), and SMB clients writing requests and reading answers
//! through the share only:
//! - `smbclient put` straight into `req/`, and the safe way (a `.tmp` name, then
//!   `rename`); answers fetched with `smbclient get`;
//! - a slow writer: smbclient fed from a pipe that pauses, so the request sits in
//!   `req/` empty and open while it waits (what smbclient does with a slow source);
//! - chunked writes: a request written over SMB in pieces at increasing offsets with
//!   pauses (0.2 s, 1 s, 2 s; quiet period 3 s), and in 64-byte pieces, through
//!   Samba's client library (libsmbclient, what smbclient is built on; smbclient's
//!   own `put` sends a file only once it has read all of it, and its `reput` rewrites
//!   from offset 0 in Samba 4.17) — never answered half-way, answered right after;
//! - a face file (`face/`) after a card is presented, listed and fetched over SMB.
//!
//! Without smbd/smbclient (scripts/install-deps installs samba and smbclient) or
//! when not root (smbd must switch to the share's user), the test prints a loud
//! SKIPPED; with `ONSIM_REQUIRE_SMB=1` (scripts/test) it fails instead. Every wait
//! is bounded; smbd is stopped (SIGTERM, then SIGKILL) also when the test fails.

#![cfg(unix)]

#[path = "support/serve.rs"]
mod serve;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fakes::eligibility::values::{QualificationValidity, SegmentOfResult};
use fakes::eligibility::xml::{parse_response, Request, RequestBody, RequestHeader, ResponseBody};
use fakes::eligibility::{CharacterCode, Population, PopulationConfig};
use onsim_testcontainers::Patient;

/// The quiet period given to the terminal (`--terminal-quiet-ms`): longer than every
/// pause of the writers below, as in `file_drop.rs`.
const QUIET_MS: u64 = 3_000;
/// Longest wait for an answer to appear in `res/`.
const ANSWER_WITHIN: Duration = Duration::from_secs(20);
/// Longest wait for smbd to accept connections.
const SMBD_WITHIN: Duration = Duration::from_secs(20);
/// The share name of `scripts/smb-share`.
const SHARE: &str = "OQS";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn on_path(bin: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Whether the test can run here; otherwise a loud SKIPPED (or a panic with
/// `ONSIM_REQUIRE_SMB=1`).
fn available(test: &str) -> bool {
    let missing: Vec<&str> = ["smbd", "smbclient", "testparm"]
        .into_iter()
        .filter(|b| !on_path(b))
        .collect();
    // SAFETY: geteuid cannot fail and touches no memory.
    let root = unsafe { libc::geteuid() } == 0;
    let why = if !missing.is_empty() {
        Some(format!(
            "{} not installed (apt-get install samba smbclient; scripts/install-deps)",
            missing.join(", ")
        ))
    } else if !root {
        Some("not root: smbd needs to switch to the share's user".to_string())
    } else if libsmb::Lib::open().is_err() {
        Some("libsmbclient.so.0 not found (apt-get install smbclient)".to_string())
    } else {
        None
    };
    match why {
        None => true,
        Some(why) => {
            let msg = format!("\n!!!!!!!! SKIPPED {test}: {why} !!!!!!!!\n");
            if std::env::var("ONSIM_REQUIRE_SMB").as_deref() == Ok("1") {
                panic!("ONSIM_REQUIRE_SMB=1 but {msg}");
            }
            let _ = writeln!(std::io::stderr(), "{msg}");
            false
        }
    }
}

/// smbd on the terminal folder, a child of this test.
struct Smbd {
    child: Child,
    port: u16,
    run: tempfile::TempDir,
}

impl Smbd {
    fn start(terminal: &Path) -> Smbd {
        let run = tempfile::tempdir().unwrap();
        // A free loopback port: bound by the OS, noted, released for smbd.
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(run.path().join("smbd.out")).unwrap();
        // Its own process group: smbd signals its whole group when it stops, which
        // must not reach this test.
        let child = Command::new(repo_root().join("scripts/smb-share"))
            .arg(terminal)
            .args(["--port", &port.to_string(), "--listen", "127.0.0.1"])
            .arg("--run-dir")
            .arg(run.path().join("samba"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("scripts/smb-share runs");
        let mut s = Smbd { child, port, run };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let t = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = s.child.try_wait() {
                panic!("smbd exited with {status}:\n{}", s.log());
            }
            assert!(
                t.elapsed() < SMBD_WITHIN,
                "smbd not listening on {addr}:\n{}",
                s.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.run.path().join("smbd.out")).unwrap_or_default()
    }

    fn unc(&self) -> String {
        format!("//127.0.0.1/{SHARE}")
    }

    /// `smbclient //127.0.0.1/OQS -p PORT -N -c CMDS`, bounded (coreutils timeout):
    /// (success, output).
    fn client(&self, cmds: &str) -> (bool, String) {
        let out = Command::new("timeout")
            .args(["-k", "5", "30", "smbclient", &self.unc(), "-p"])
            .arg(self.port.to_string())
            .args(["-N", "-c", cmds])
            .output()
            .expect("timeout and smbclient are installed");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success() && !text.contains("NT_STATUS_"), text)
    }

    /// `put` a local file as `remote` (a share path such as `req\NAME`).
    fn put(&self, local: &Path, remote: &str) {
        let (ok, out) = self.client(&format!("put \"{}\" \"{remote}\"", local.display()));
        assert!(ok, "put {remote}: {out}\n{}", self.log());
    }

    /// Fetch `remote` over SMB once it exists (bounded): its bytes.
    fn get_when_there(&self, remote: &str, local_dir: &Path) -> Vec<u8> {
        let local = local_dir.join(remote.replace('\\', "_"));
        let t = Instant::now();
        loop {
            let (ok, out) = self.client(&format!("get \"{remote}\" \"{}\"", local.display()));
            if ok {
                return std::fs::read(&local).unwrap();
            }
            assert!(
                t.elapsed() < ANSWER_WITHIN,
                "{remote} not there over SMB after {ANSWER_WITHIN:?}: {out}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The names `ls DIR\*` shows over SMB (without `.` and `..`).
    fn ls(&self, dir: &str) -> Vec<String> {
        let (ok, out) = self.client(&format!("ls \"{dir}\\*\""));
        if !ok && out.contains("NT_STATUS_NO_SUCH_FILE") {
            return Vec::new();
        }
        assert!(ok, "ls {dir}: {out}");
        out.lines()
            .filter_map(|l| {
                let l = l.trim_start();
                let name = l.split("  ").next()?.trim();
                (l.contains(" A ") || l.contains(" N ") || l.contains(" D "))
                    .then(|| name.to_string())
            })
            .filter(|n| n != "." && n != "..")
            .collect()
    }
}

impl Drop for Smbd {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Samba's client library, loaded at run time (so the test builds where samba is
/// not installed): open a file on the share and write it in pieces, each piece one
/// SMB write at the file's current offset.
mod libsmb {
    use std::ffi::{c_char, c_int, c_void, CString};

    type Ctx = c_void;
    type File = c_void;
    type AuthFn = extern "C" fn(
        *const c_char,
        *const c_char,
        *mut c_char,
        c_int,
        *mut c_char,
        c_int,
        *mut c_char,
        c_int,
    );
    type OpenFn = unsafe extern "C" fn(*mut Ctx, *const c_char, c_int, libc::mode_t) -> *mut File;
    type WriteFn = unsafe extern "C" fn(*mut Ctx, *mut File, *const c_void, usize) -> isize;
    type CloseFn = unsafe extern "C" fn(*mut Ctx, *mut File) -> c_int;
    type FreeFn = unsafe extern "C" fn(*mut Ctx, c_int) -> c_int;

    pub struct Lib {
        handle: *mut c_void,
    }

    /// Guest: user `guest`, no password (smb-share maps it to the share's user).
    extern "C" fn guest(
        _srv: *const c_char,
        _shr: *const c_char,
        _wg: *mut c_char,
        _wglen: c_int,
        un: *mut c_char,
        unlen: c_int,
        pw: *mut c_char,
        pwlen: c_int,
    ) {
        // SAFETY: libsmbclient hands buffers of the given lengths (≥ 1 each).
        unsafe {
            let name = b"guest\0";
            if unlen as usize >= name.len() {
                std::ptr::copy_nonoverlapping(name.as_ptr().cast(), un, name.len());
            }
            if pwlen > 0 {
                *pw = 0;
            }
        }
    }

    impl Lib {
        pub fn open() -> Result<Lib, String> {
            let name = CString::new("libsmbclient.so.0").unwrap();
            // SAFETY: dlopen with a valid C string; the handle is checked.
            let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW) };
            if handle.is_null() {
                return Err("dlopen libsmbclient.so.0 failed".into());
            }
            Ok(Lib { handle })
        }

        fn sym(&self, name: &str) -> *mut c_void {
            let c = CString::new(name).unwrap();
            // SAFETY: a valid handle and C string; a missing symbol is null, checked.
            let p = unsafe { libc::dlsym(self.handle, c.as_ptr()) };
            assert!(!p.is_null(), "libsmbclient has no {name}");
            p
        }

        /// A context talking to `port`, logged in as guest.
        pub fn context(&self, port: u16) -> Context<'_> {
            // SAFETY: the symbols have these C signatures (libsmbclient.h, stable
            // since Samba 3.2); each pointer was checked non-null.
            unsafe {
                let new: unsafe extern "C" fn() -> *mut Ctx =
                    std::mem::transmute(self.sym("smbc_new_context"));
                let set_auth: unsafe extern "C" fn(*mut Ctx, AuthFn) =
                    std::mem::transmute(self.sym("smbc_setFunctionAuthData"));
                let set_port: unsafe extern "C" fn(*mut Ctx, u16) =
                    std::mem::transmute(self.sym("smbc_setPort"));
                let init: unsafe extern "C" fn(*mut Ctx) -> *mut Ctx =
                    std::mem::transmute(self.sym("smbc_init_context"));
                let ctx = new();
                assert!(!ctx.is_null(), "smbc_new_context failed");
                set_auth(ctx, guest);
                set_port(ctx, port);
                assert!(!init(ctx).is_null(), "smbc_init_context failed");
                let get = |n: &str| -> *mut c_void {
                    let f: unsafe extern "C" fn(*mut Ctx) -> *mut c_void =
                        std::mem::transmute(self.sym(n));
                    let p = f(ctx);
                    assert!(!p.is_null(), "{n} gave no function");
                    p
                };
                Context {
                    _lib: self,
                    ctx,
                    open: std::mem::transmute::<*mut c_void, OpenFn>(get("smbc_getFunctionOpen")),
                    write: std::mem::transmute::<*mut c_void, WriteFn>(get(
                        "smbc_getFunctionWrite",
                    )),
                    close: std::mem::transmute::<*mut c_void, CloseFn>(get(
                        "smbc_getFunctionClose",
                    )),
                    free: std::mem::transmute::<*mut c_void, FreeFn>(self.sym("smbc_free_context")),
                }
            }
        }
    }

    pub struct Context<'a> {
        _lib: &'a Lib,
        ctx: *mut Ctx,
        open: OpenFn,
        write: WriteFn,
        close: CloseFn,
        free: FreeFn,
    }

    pub struct Writer<'c, 'a> {
        c: &'c Context<'a>,
        file: *mut File,
        url: String,
    }

    impl Context<'_> {
        /// Create (or truncate) `smb://host/share/path` for writing.
        pub fn create(&self, url: &str) -> Writer<'_, '_> {
            let c = CString::new(url).unwrap();
            // SAFETY: a live context, a valid C string.
            let file = unsafe {
                (self.open)(
                    self.ctx,
                    c.as_ptr(),
                    libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
                    0o644,
                )
            };
            assert!(
                !file.is_null(),
                "smbc open {url}: {}",
                std::io::Error::last_os_error()
            );
            Writer {
                c: self,
                file,
                url: url.to_string(),
            }
        }
    }

    impl Writer<'_, '_> {
        /// One write of all of `bytes` (libsmbclient sends it as one SMB write for
        /// pieces this small).
        pub fn write(&mut self, bytes: &[u8]) {
            // SAFETY: an open file of a live context; the buffer outlives the call.
            let n = unsafe {
                (self.c.write)(self.c.ctx, self.file, bytes.as_ptr().cast(), bytes.len())
            };
            assert_eq!(
                n,
                bytes.len() as isize,
                "smbc write {}: {}",
                self.url,
                std::io::Error::last_os_error()
            );
        }
    }

    impl Drop for Writer<'_, '_> {
        fn drop(&mut self) {
            // SAFETY: closes the file opened in `create`, once.
            unsafe { (self.c.close)(self.c.ctx, self.file) };
        }
    }

    impl Drop for Context<'_> {
        fn drop(&mut self) {
            // SAFETY: frees the context made in `Lib::context`, closing its files.
            unsafe { (self.free)(self.ctx, 1) };
        }
    }

    impl Drop for Lib {
        fn drop(&mut self) {
            // SAFETY: the handle from dlopen, closed once, after every Context.
            unsafe { libc::dlclose(self.handle) };
        }
    }
}

/// A parsed answer: (segment, echoed identifier, validity of a single answer).
fn judge(
    bytes: &[u8],
) -> (
    SegmentOfResult,
    Option<String>,
    Option<QualificationValidity>,
) {
    let r = parse_response(bytes)
        .unwrap_or_else(|e| panic!("not an answer ({e:?}):\n{}", String::from_utf8_lossy(bytes)));
    let validity = match &r.body {
        ResponseBody::Single(a) => a.qualification_validity,
        _ => None,
    };
    (
        r.header.segment_of_result,
        r.header.arbitrary_file_identifier,
        validity,
    )
}

#[test]
fn terminal_folder_over_smb_plain_safe_slow_and_chunked_writes_and_face_files() {
    if !available("smb::terminal_folder_over_smb_plain_safe_slow_and_chunked_writes_and_face_files")
    {
        return;
    }
    let t_test = Instant::now();
    let server = serve::Server::start(&[
        "--households",
        "2000",
        "--speed",
        "0",
        "--seed",
        "1",
        "--terminal-quiet-ms",
        &QUIET_MS.to_string(),
    ]);
    let term = PathBuf::from(server.url("terminal_dir"));
    let institution = server.url("institution_code");
    let smb = Smbd::start(&term);
    let local = tempfile::tempdir().unwrap();
    let patients = Patient::read_all(&PathBuf::from(server.url("population_csv"))).unwrap();
    let valid = patients
        .iter()
        .find(|p| p.expected_validity == "1")
        .unwrap();
    let inquiry = |id: &str| {
        valid
            .single_inquiry(&institution, "20250401", id)
            .into_bytes()
    };
    let answer_of = |name: &str| format!("res\\{}", name.replacen("req", "res", 1));

    // The share is the terminal folder: req, res and face are there.
    let top = smb.ls("");
    for d in ["req", "res", "face"] {
        assert!(top.iter().any(|n| n == d), "{d} in {top:?}\n{}", smb.log());
    }

    // 1. smbclient put straight into req/ (UTF-8 inquiry); the answer over SMB.
    let f = local.path().join("plain.xml");
    std::fs::write(&f, inquiry("smb-plain")).unwrap();
    smb.put(&f, "req\\OQSsiquc01req_smbplain.xml");
    let b = smb.get_when_there(&answer_of("OQSsiquc01req_smbplain.xml"), local.path());
    assert_eq!(
        judge(&b),
        (
            SegmentOfResult::Normal,
            Some("smb-plain".into()),
            Some(QualificationValidity::Valid)
        )
    );

    // 2. A Shift_JIS inquiry the safe way (a .tmp name, then rename in); the
    //    Shift_JIS answer with Japanese names comes back byte for byte.
    let pop = Population::new(PopulationConfig {
        seed: 1,
        households: 2_000,
        ..Default::default()
    });
    let key = pop.example(QualificationValidity::Valid);
    let sjis = Request {
        header: RequestHeader {
            qualification_confirmation_date: chrono::NaiveDate::from_ymd_opt(2025, 4, 1),
            medical_institution_code: institution.parse().unwrap(),
            arbitrary_file_identifier: Some("smb-sjis".into()),
            character_code_identifier: None,
        },
        body: RequestBody::Single(key.to_search_info()),
    }
    .render(CharacterCode::ShiftJis);
    let f = local.path().join("sjis.xml");
    std::fs::write(&f, &sjis).unwrap();
    let (ok, out) = smb.client(&format!(
        "put \"{}\" \"req\\OQSsiquc01req_smbsjis.xml.tmp\"; rename \"req\\OQSsiquc01req_smbsjis.xml.tmp\" \"req\\OQSsiquc01req_smbsjis.xml\"",
        f.display()
    ));
    assert!(ok, "put + rename: {out}");
    let via_smb = smb.get_when_there(&answer_of("OQSsiquc01req_smbsjis.xml"), local.path());
    let on_disk = std::fs::read(term.join("res/OQSsiquc01res_smbsjis.xml")).unwrap();
    assert_eq!(via_smb, on_disk, "the answer passes the share unchanged");
    assert!(
        std::str::from_utf8(&via_smb).is_err(),
        "Shift_JIS with Japanese names"
    );
    assert_eq!(
        judge(&via_smb),
        (
            SegmentOfResult::Normal,
            Some("smb-sjis".into()),
            Some(QualificationValidity::Valid)
        )
    );

    // 3. A slow writer: smbclient reading the request from a pipe that pauses. The
    //    file sits in req/ empty (smbclient has it open) until all is read; never
    //    answered while it waits.
    let name = "OQSsiquc01req_smbslow.xml";
    let answer = term.join("res").join(name.replacen("req", "res", 1));
    let bytes = inquiry("smb-slow");
    let mut child = Command::new("timeout")
        .args(["-k", "5", "60", "smbclient", &smb.unc(), "-p"])
        .arg(smb.port.to_string())
        .args(["-N", "-c", &format!("put /dev/stdin \"req\\{name}\"")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let third = bytes.len() / 3;
    for (piece, pause) in [(&bytes[..third], 200u64), (&bytes[third..2 * third], 1_500)] {
        stdin.write_all(piece).unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_millis(pause));
        assert!(!answer.exists(), "{name} answered while its writer waited");
    }
    stdin.write_all(&bytes[2 * third..]).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = smb.get_when_there(&answer_of(name), local.path());
    assert_eq!(
        judge(&b),
        (
            SegmentOfResult::Normal,
            Some("smb-slow".into()),
            Some(QualificationValidity::Valid)
        )
    );

    // 4. Chunked writes with pauses: four pieces at increasing offsets, each one SMB
    //    write, 0.2 s, 1 s and 2 s apart (all under the 3 s quiet period): the
    //    half-written file is in req/ the whole time and is not answered half-way;
    //    once the end tag is written it is taken without waiting the quiet period.
    let lib = libsmb::Lib::open().unwrap();
    let ctx = lib.context(smb.port);
    let url = |name: &str| format!("smb://127.0.0.1/{SHARE}/req/{name}");
    let name = "OQSsiquc01req_smbchunks.xml";
    let answer = term.join("res").join(name.replacen("req", "res", 1));
    let bytes = inquiry("smb-chunks");
    let quarter = bytes.len() / 4;
    let mut w = ctx.create(&url(name));
    for (i, pause) in [200u64, 1_000, 2_000].into_iter().enumerate() {
        w.write(&bytes[i * quarter..(i + 1) * quarter]);
        let on_disk = std::fs::metadata(term.join("req").join(name))
            .unwrap()
            .len();
        assert_eq!(
            on_disk,
            ((i + 1) * quarter) as u64,
            "piece {i} is on the server"
        );
        std::thread::sleep(Duration::from_millis(pause));
        assert!(
            !answer.exists(),
            "{name} answered half-way (after piece {i})"
        );
    }
    w.write(&bytes[3 * quarter..]);
    let last_byte = Instant::now();
    drop(w);
    let b = smb.get_when_there(&answer_of(name), local.path());
    let took = last_byte.elapsed();
    assert_eq!(
        judge(&b),
        (
            SegmentOfResult::Normal,
            Some("smb-chunks".into()),
            Some(QualificationValidity::Valid)
        )
    );
    assert!(
        took < Duration::from_millis(QUIET_MS) + Duration::from_secs(2),
        "end-tag short-cut over SMB: answer fetched {took:?} after the last piece"
    );

    // 5. Many small pieces: 64-byte SMB writes, 20 ms apart.
    let name = "OQSsiquc01req_smbsmall.xml";
    let bytes = inquiry("smb-small");
    let mut w = ctx.create(&url(name));
    let mut pieces = 0;
    for piece in bytes.chunks(64) {
        w.write(piece);
        pieces += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(w);
    assert!(pieces >= 10, "{pieces} pieces");
    let b = smb.get_when_there(&answer_of(name), local.path());
    assert_eq!(
        judge(&b),
        (
            SegmentOfResult::Normal,
            Some("smb-small".into()),
            Some(QualificationValidity::Valid)
        )
    );
    drop(ctx);

    // 6. A card presented at the reader: its face file appears in face/, listed and
    //    fetched over SMB, under the real name form.
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
        ])
        .args(["-d", "{\"row\": 0}"])
        .arg(server.url("reader_present_url"))
        .output()
        .expect("curl is installed (scripts/install-deps)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = Instant::now();
    let face = loop {
        let names = smb.ls("face");
        if let Some(n) = names
            .iter()
            .find(|n| n.starts_with(&format!("OQSsiquc01res_face_{institution}")))
        {
            break n.clone();
        }
        assert!(
            t.elapsed() < ANSWER_WITHIN,
            "no face file over SMB: {names:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let b = smb.get_when_there(&format!("face\\{face}"), local.path());
    assert_eq!(judge(&b).0, SegmentOfResult::Normal, "{face}");

    // Every request was consumed; one answer each, nothing else in res/.
    let t = Instant::now();
    while !smb.ls("req").is_empty() {
        assert!(
            t.elapsed() < ANSWER_WITHIN,
            "req/ over SMB: {:?}",
            smb.ls("req")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut res = smb.ls("res");
    res.sort();
    assert_eq!(
        res,
        [
            "OQSsiquc01res_smbchunks.xml",
            "OQSsiquc01res_smbplain.xml",
            "OQSsiquc01res_smbsjis.xml",
            "OQSsiquc01res_smbslow.xml",
            "OQSsiquc01res_smbsmall.xml"
        ]
    );
    drop(smb);
    let log = server.stop();
    assert!(!log.contains("centre failed"), "{log}");
    eprintln!("smb: whole test {:?}", t_test.elapsed());
}
