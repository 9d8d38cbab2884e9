//! `onsim serve` as a child process for the integration tests: started on a temporary
//! state dir, its log captured, stopped with SIGTERM. Included with `#[path]` by the
//! test files that use it (`live.rs`, `load.rs`); each uses part of it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use onsim_testcontainers::strip_ansi;
use serde_json::Value;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

/// A minimal HTTP/1.1 client for the plain JSON services (no extra dependency).
pub fn http(method: &str, url: &str, body: Option<&Value>) -> (u16, Value) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let addr: SocketAddr = host.parse().unwrap();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let b = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
        b.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status: u16 = out[9..12].parse().unwrap();
    let body = &out[out.find("\r\n\r\n").unwrap() + 4..];
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

const WAIT: Duration = Duration::from_secs(60);

pub struct Server {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub endpoints: Value,
    pub log: Arc<Mutex<String>>,
}

impl Server {
    /// Start `onsim serve --state-dir <temp> ARGS` and wait (bounded) for its
    /// endpoints.json; panics with the server's log if it exits or never gets ready.
    pub fn start(args: &[&str]) -> Server {
        Server::start_in(tempfile::tempdir().unwrap(), args)
    }

    /// As [`Server::start`], on `dir/state` (e.g. a previous run's, to restart).
    pub fn start_in(dir: tempfile::TempDir, args: &[&str]) -> Server {
        let state = dir.path().join("state");
        let mut child = Command::new(env!("CARGO_BIN_EXE_onsim"))
            .arg("serve")
            .arg("--state-dir")
            .arg(&state)
            .args(args)
            .env("ONSIM_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("onsim builds");
        let log = Arc::new(Mutex::new(String::new()));
        {
            let log = log.clone();
            let err = child.stderr.take().unwrap();
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    log.lock().unwrap().push_str(&strip_ansi(&line));
                    log.lock().unwrap().push('\n');
                }
            });
        }
        let ep = state.join("endpoints.json");
        let t = Instant::now();
        loop {
            if let Ok(s) = std::fs::read_to_string(&ep) {
                if let Ok(v) = serde_json::from_str::<Value>(&s) {
                    return Server {
                        child,
                        dir,
                        endpoints: v,
                        log,
                    };
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("onsim serve exited with {status}:\n{}", log.lock().unwrap());
            }
            assert!(
                t.elapsed() < WAIT,
                "no endpoints.json after {WAIT:?}:\n{}",
                log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self, key: &str) -> String {
        self.endpoints[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} in endpoints.json"))
            .to_string()
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn log_has(&self, needle: &str) -> bool {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if self.log.lock().unwrap().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// SIGTERM and wait (bounded, 30 s) for the exit; the folder is kept for a
    /// restart. Returns the folder, the log and the exit status.
    pub fn terminate(mut self) -> (tempfile::TempDir, String, Option<std::process::ExitStatus>) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let t = Instant::now();
        let mut status = None;
        while t.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(s)) = self.child.try_wait() {
                status = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Let the log reader drain the pipe.
        std::thread::sleep(Duration::from_millis(100));
        let log = self.log.lock().unwrap().clone();
        (self.dir, log, status)
    }

    pub fn stop(mut self) -> String {
        // SIGTERM first (clean shutdown), then kill if it does not go.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log.lock().unwrap().clone()
    }
}

/// `onsim run --json FILE`'s outcome: the timeline's verdict on a scenario, to hold
/// a live run of the same scenario against.
pub fn timeline_outcome(file: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_onsim"))
        .args(["run", file, "--json", json.to_str().unwrap()])
        .output()
        .expect("onsim runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    v["scenarios"][0]["outcome"].as_str().unwrap().to_string()
}
