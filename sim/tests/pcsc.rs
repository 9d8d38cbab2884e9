//! Real PC/SC: `onsim card` behind pcscd + vsmartcard-vpcd, driven by OpenSC and
//! checked with openssl. Needs `scripts/start-services` (pcscd running with vpcd on
//! 127.0.0.1:35963). Without them the test prints a loud SKIPPED, and fails when
//! `ONSIM_REQUIRE_PCSC=1` (CI).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const VPCD: &str = "127.0.0.1:35963";
const MODULES: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/opensc-pkcs11.so",
    "/usr/lib64/opensc-pkcs11.so",
];

/// Kills the child on drop, so a failing assertion never leaves `onsim card` behind.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn skip_or_fail(why: &str) {
    let msg = format!(
        "\n\n*** SKIPPED pcsc test: {why}.\n*** Run scripts/install-deps and scripts/start-services to enable it.\n"
    );
    if std::env::var("ONSIM_REQUIRE_PCSC").as_deref() == Ok("1") {
        panic!("{msg}*** ONSIM_REQUIRE_PCSC=1, so this is a failure.");
    }
    eprintln!("{msg}");
}

fn vpcd_listening() -> bool {
    // 35963 = 0x8C7B, state 0A = LISTEN; do not connect (that would look like a card).
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|p| {
        std::fs::read_to_string(p)
            .map(|s| {
                s.lines().any(|l| {
                    let f: Vec<_> = l.split_whitespace().collect();
                    f.len() > 3 && f[1].ends_with(":8C7B") && f[3] == "0A"
                })
            })
            .unwrap_or(false)
    })
}

fn tool(name: &str) -> bool {
    Command::new(name)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Run a command with a time limit; returns its output (killed if over time).
fn run(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut out = Vec::new();
            let mut err = Vec::new();
            if let Some(mut s) = child.stdout.take() {
                let _ = s.read_to_end(&mut out);
            }
            if let Some(mut s) = child.stderr.take() {
                let _ = s.read_to_end(&mut err);
            }
            return Output {
                status,
                stdout: out,
                stderr: err,
            };
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} took longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn start_card(dir: &Path) -> Guard {
    let child = Command::new(env!("CARGO_BIN_EXE_onsim"))
        .args(["card", "--vpcd", VPCD, "--seed", "5", "--pin", "4321"])
        .arg("--export-cert")
        .arg(dir.join("auth.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start onsim card");
    let guard = Guard(child);
    // pcscd polls the reader; wait until OpenSC sees the card.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let o = run(
            Command::new("opensc-tool").arg("--atr"),
            Duration::from_secs(20),
        );
        if o.status.success() && text(&o).contains("3b:e0:00:ff:81:31:fe:45:14") {
            return guard;
        }
        assert!(
            Instant::now() < deadline,
            "card never appeared in PC/SC: {}",
            text(&o)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn sign(module: &str, pin: &str, input: &Path, output: &Path) -> Output {
    run(
        Command::new("pkcs11-tool")
            .args([
                "--module",
                module,
                "--slot-index",
                "0",
                "--login",
                "--pin",
                pin,
            ])
            .args(["--sign", "--id", "01", "--mechanism", "SHA256-RSA-PKCS"])
            .arg("--input-file")
            .arg(input)
            .arg("--output-file")
            .arg(output),
        Duration::from_secs(60),
    )
}

fn openssl(args: &[&str], files: &[&Path]) -> Output {
    let mut c = Command::new("openssl");
    c.args(args);
    for f in files {
        c.arg(f);
    }
    run(&mut c, Duration::from_secs(20))
}

#[test]
fn opensc_reads_signs_and_locks() {
    if !vpcd_listening() {
        return skip_or_fail(
            "vpcd is not listening on 127.0.0.1:35963 (pcscd with vsmartcard-vpcd not running)",
        );
    }
    for t in ["opensc-tool", "pkcs15-tool", "pkcs11-tool", "openssl"] {
        if !tool(t) {
            return skip_or_fail(&format!("{t} is not installed"));
        }
    }
    let Some(module) = MODULES.iter().find(|m| Path::new(m).exists()) else {
        return skip_or_fail("opensc-pkcs11.so not found");
    };
    let dir = tempdir();
    let _card = start_card(&dir);

    // pkcs15-tool lists and reads the user-authentication certificate.
    let list = run(
        Command::new("pkcs15-tool").arg("--list-certificates"),
        Duration::from_secs(60),
    );
    assert!(
        text(&list).contains("User Authentication Certificate"),
        "{}",
        text(&list)
    );
    let read = run(
        Command::new("pkcs15-tool").args(["--read-certificate", "01"]),
        Duration::from_secs(60),
    );
    assert!(read.status.success(), "{}", text(&read));
    std::fs::write(dir.join("read.pem"), &read.stdout).unwrap();
    let der = |p: &Path| {
        let o = openssl(&["x509", "-outform", "DER", "-in"], &[p]);
        assert!(o.status.success(), "{}", text(&o));
        o.stdout
    };
    assert_eq!(
        der(&dir.join("read.pem")),
        der(&dir.join("auth.pem")),
        "the certificate read over PC/SC differs from the card's"
    );

    // pkcs11-tool signs with the PIN; openssl verifies with the certificate.
    let msg = dir.join("msg.txt");
    std::fs::write(&msg, b"onsim challenge").unwrap();
    let sig = dir.join("sig.bin");
    let o = sign(module, "4321", &msg, &sig);
    assert!(o.status.success(), "{}", text(&o));
    let pubkey = openssl(
        &["x509", "-pubkey", "-noout", "-in"],
        &[&dir.join("auth.pem")],
    );
    std::fs::write(dir.join("pub.pem"), &pubkey.stdout).unwrap();
    let v = openssl(
        &["dgst", "-sha256", "-verify"],
        &[&dir.join("pub.pem"), Path::new("-signature"), &sig, &msg],
    );
    assert!(text(&v).contains("Verified OK"), "{}", text(&v));

    // Three wrong PINs lock it ...
    for _ in 0..3 {
        let o = sign(module, "0000", &msg, &dir.join("bad.bin"));
        assert!(!o.status.success());
        assert!(
            text(&o).contains("CKR_PIN_INCORRECT") || text(&o).contains("CKR_PIN_LOCKED"),
            "{}",
            text(&o)
        );
    }
    // ... and the lock holds after a cold reset and a fresh connection.
    let r = run(
        Command::new("opensc-tool").args(["--reset", "cold"]),
        Duration::from_secs(30),
    );
    assert!(r.status.success(), "{}", text(&r));
    let pins = run(
        Command::new("pkcs15-tool").arg("--list-pins"),
        Duration::from_secs(60),
    );
    assert!(
        text(&pins).contains("Tries left     : 0"),
        "{}",
        text(&pins)
    );
    let o = sign(module, "4321", &msg, &dir.join("late.bin"));
    assert!(!o.status.success());
    assert!(text(&o).contains("CKR_PIN_LOCKED"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("onsim-pcsc-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn bad_card_arguments_exit_2() {
    for args in [
        &["card", "--vpcd", "nonsense"][..],
        &["card", "--pin", "12a4"][..],
        &["card", "--sign-pin", "abc"][..],
        &["card", "--issued", "2024-13-01"][..],
    ] {
        let o = run(
            Command::new(env!("CARGO_BIN_EXE_onsim")).args(args),
            Duration::from_secs(20),
        );
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains("error:"), "{args:?}: {}", text(&o));
    }
}
