//! The JSON services against their own OpenAPI documents (issue 17 item 4), tested by
//! an independent property-based API tester: schemathesis (PyPI; scripts/test installs
//! the pinned version into `$ONSIM_VENV`). For each of the control, bureau,
//! reader-vendor, carrier and portal services of a real `onsim serve`, schemathesis
//! reads `GET /openapi.json`, generates requests from it (valid and invalid) and
//! checks every answer: no 5xx, the status code is one the document lists, the body
//! matches the documented schema. Bounded: at most [`MAX_EXAMPLES`] cases per
//! operation and [`MAX_SECONDS`] per service.
//!
//! Skipped (with the reason printed) only when schemathesis is not installed and
//! `ONSIM_REQUIRE_SCHEMATHESIS` is unset; scripts/test sets it to 1, so there it fails
//! instead.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "support/serve.rs"]
mod serve;
use serve::{http, Server};

/// Test cases per operation *(our choice: enough to find the 5xx and schema
/// mismatches of these small bodies, all five services within ~2 minutes)*.
const MAX_EXAMPLES: &str = "40";
/// schemathesis' own time budget per service, in seconds.
const MAX_SECONDS: &str = "15";
/// The whole run of one service is killed after this (schemathesis ignoring its budget).
const HARD_LIMIT: Duration = Duration::from_secs(90);

const SERVICES: [(&str, &str); 5] = [
    ("control", "control_url"),
    ("bureau", "bureau_url"),
    ("reader-vendor", "reader_vendor_url"),
    ("carrier", "carrier_url"),
    ("portal", "portal_url"),
];

fn schemathesis() -> Result<PathBuf, String> {
    let venv = std::env::var_os("ONSIM_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/onsim-venv")))
        .ok_or("neither ONSIM_VENV nor HOME is set")?;
    let bin = venv.join("bin/schemathesis");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "{} is not installed (scripts/test installs it)",
            bin.display()
        ))
    }
}

#[test]
fn every_json_service_passes_schemathesis_against_its_own_document() {
    let st = match schemathesis() {
        Ok(b) => b,
        Err(why) => {
            if std::env::var("ONSIM_REQUIRE_SCHEMATHESIS").as_deref() == Ok("1") {
                panic!("ONSIM_REQUIRE_SCHEMATHESIS=1 but {why}");
            }
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
    let s = Server::start(&["--households", "200"]);
    let mut failures = Vec::new();
    for (name, key) in SERVICES {
        let base = s.url(key);
        // The served document is the one in the state dir.
        let (status, served) = http("GET", &format!("{base}/openapi.json"), None);
        assert_eq!(status, 200, "{name}: GET /openapi.json");
        let file = s.state().join("openapi").join(format!("{name}.json"));
        let on_disk: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(
            served,
            on_disk,
            "{name}: served document vs {}",
            file.display()
        );

        let t = Instant::now();
        // Output to a file: a pipe nobody reads while waiting would fill and stall it.
        let out_path = s.dir.path().join(format!("schemathesis-{name}.txt"));
        let out_file = std::fs::File::create(&out_path).unwrap();
        let mut child = Command::new(&st)
            .args([
                "--no-color",
                "run",
                &format!("{base}/openapi.json"),
                "--checks",
                "not_a_server_error,status_code_conformance,response_schema_conformance",
                "--max-examples",
                MAX_EXAMPLES,
                "--max-time",
                MAX_SECONDS,
                "--seed",
                "17",
                "--workers",
                "1",
                "--request-timeout",
                "15",
            ])
            .current_dir(s.dir.path())
            .env("SCHEMATHESIS_TELEMETRY", "false")
            .stdin(Stdio::null())
            .stdout(out_file.try_clone().unwrap())
            .stderr(out_file)
            .spawn()
            .expect("schemathesis starts");
        let status = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break Some(status);
            }
            if t.elapsed() > HARD_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let text = std::fs::read_to_string(&out_path).unwrap_or_default();
        eprintln!("== {name} ({:.1} s)\n{text}", t.elapsed().as_secs_f64());
        match status {
            Some(st) if st.success() => {}
            Some(st) => failures.push(format!("{name}: schemathesis exit {st}:\n{text}")),
            None => failures.push(format!(
                "{name}: schemathesis ran over {HARD_LIMIT:?}:\n{text}"
            )),
        }
    }
    let log = s.stop();
    assert!(
        !log.contains("panicked"),
        "onsim serve panicked under schemathesis:\n{log}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
