//! `onsim load`: N simulated terminals against the eligibility API over mutual TLS,
//! and the baselines it is compared with in the same run.
//!
//! - [`client`]: one terminal (own TLS client config and session cache, hyper
//!   HTTP/1.1), keep-alive or a new connection per request (offering TLS session
//!   resumption, as a terminal would);
//! - [`baseline`]: the bare hyper + tokio-rustls server and the wiremock server;
//! - this module: request bodies (real Shift_JIS XmlMsg requests from population
//!   keys covering validities 1–5), one bounded run against a target, and its report
//!   (HDR-histogram percentiles, errors by kind, counts on both sides, RSS).
//!
//! **Nothing lost** means: every request the client sent got a whole response back
//! (`ok`: 2xx, or `refused`: an explicit 4xx/5xx); `lost = sent - ok - refused` (a
//! request that died with its connection or timed out). The server's own counters
//! (requests seen, responses handed back) must equal the client's `sent` and
//! `ok + refused` over the run (`counts_match`).

pub mod baseline;
pub mod client;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use hyper::body::Bytes;
use serde_json::{json, Value};

use fakes::codes::InstitutionCode;
use fakes::eligibility::xml::{MessageKind, Request, RequestBody, RequestHeader};
use fakes::eligibility::{
    AnswerConfig, CharacterCode, Population, QualificationValidity, SearchKey, Service,
};

pub use client::{LoadCard, Mode, Target, TerminalResult, Workload};

/// Bounds of one run: whichever comes first.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub connections: usize,
    /// Total requests over all terminals (split evenly).
    pub requests: u64,
    pub duration: Duration,
    pub mode: Mode,
}

/// The keys a load run asks about: one example of each validity 1–5 in every 16
/// requests, the rest spread over the population's households (mostly valid, some
/// lapsed or switched, as the population has them).
pub fn keys_in_process(pop: &Population, n: usize) -> Vec<SearchKey> {
    use QualificationValidity as V;
    let households = pop.config().households.max(1);
    let examples = [
        V::Valid,
        V::Invalid,
        V::InvalidNewerExists,
        V::NoRecord,
        V::SeveralMatches,
    ]
    .map(|v| pop.example(v));
    (0..n)
        .map(|k| {
            if k % 16 < 5 {
                examples[k % 16].clone()
            } else {
                let h = (k as u64).wrapping_mul(3_901) % households;
                pop.key_of(h, k % 2)
                    .or_else(|| pop.key_of(h, 0))
                    .unwrap_or_else(|| examples[0].clone())
            }
        })
        .collect()
}

/// Keys from a running server's `population.csv` (attach mode).
pub fn keys_from_csv(text: &str) -> Result<Vec<SearchKey>, String> {
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 5 {
            return Err(format!("population.csv line {}: too few fields", i + 1));
        }
        let bad = |what: &str| format!("population.csv line {}: bad {what}", i + 1);
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        keys.push(SearchKey {
            insurer_number: f[0].parse().map_err(|_| bad("insurer_number"))?,
            symbol: opt(f[1]),
            number: f[2].to_string(),
            branch: opt(f[3]),
            birthdate: NaiveDate::parse_from_str(f[4], "%Y%m%d").map_err(|_| bad("birthdate"))?,
        });
    }
    if keys.is_empty() {
        return Err("population.csv has no rows".into());
    }
    Ok(keys)
}

/// Shift_JIS single-inquiry requests (OQSsiquc01) for `keys`.
pub fn bodies(keys: &[SearchKey], date: NaiveDate, institution: InstitutionCode) -> Vec<Bytes> {
    keys.iter()
        .enumerate()
        .map(|(k, key)| {
            Bytes::from(
                Request {
                    header: RequestHeader {
                        qualification_confirmation_date: Some(date),
                        medical_institution_code: institution,
                        arbitrary_file_identifier: Some(format!("load-{k}")),
                        character_code_identifier: None,
                    },
                    body: RequestBody::Single(key.to_search_info()),
                }
                .render(CharacterCode::ShiftJis),
            )
        })
        .collect()
}

/// The median size of onsim's answers to `bodies` (the baselines' fixed body size).
pub fn typical_response(
    pop: &Population,
    institution: InstitutionCode,
    bodies: &[Bytes],
    date: NaiveDate,
) -> Bytes {
    let mut service = Service::new(pop.clone(), institution, AnswerConfig::default());
    let now = crate::live::start_instant(date);
    let mut answers: Vec<Vec<u8>> = bodies
        .iter()
        .map(|b| service.handle(Some(MessageKind::Single), b, now).render())
        .collect();
    answers.sort_by_key(Vec::len);
    Bytes::from(answers.swap_remove(answers.len() / 2))
}

/// Resident set size of process `pid` in MiB (`/proc/<pid>/status` VmRSS).
pub fn rss_mb(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Time on a CPU, in ns, of the threads of process `pid` whose name `keep` accepts
/// (`/proc/<pid>/task/*/schedstat`). CPU time per request is steadier than requests
/// per second on a shared machine: a slow spell stretches the run, not the work.
/// Threads that ended during a run are not counted (the runtimes' workers live
/// throughout).
pub fn thread_cpu_ns(pid: u32, keep: impl Fn(&str) -> bool) -> Option<u64> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let dir = task.path();
        let Ok(name) = std::fs::read_to_string(dir.join("comm")) else {
            continue;
        };
        if !keep(name.trim_end()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(dir.join("schedstat")) else {
            continue;
        };
        total += stat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Some(total)
}

/// Run `bounds.connections` terminals against `target` on the current runtime.
pub async fn drive(
    target: &Target,
    bounds: Bounds,
    work: Arc<Workload>,
) -> (TerminalResult, Duration) {
    let n = bounds.connections.max(1);
    let started = Instant::now();
    let deadline = started + bounds.duration;
    let per = bounds.requests / n as u64;
    let extra = bounds.requests % n as u64;
    let tasks: Vec<_> = (0..n)
        .map(|id| {
            let quota = per + u64::from((id as u64) < extra);
            tokio::spawn(client::terminal(
                id,
                target.clone(),
                bounds.mode,
                work.clone(),
                quota,
                deadline,
            ))
        })
        .collect();
    let mut total = TerminalResult::new();
    for t in tasks {
        match t.await {
            Ok(r) => total.merge(&r),
            Err(_) => *total.errors.entry("terminal-panicked".into()).or_default() += 1,
        }
    }
    (total, started.elapsed())
}

/// CPU time spent during a run by the server's side and by the load client.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUse {
    pub server_ns: u64,
    pub client_ns: u64,
}

/// Server-side counts over a run: requests seen, responses handed back.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerCounts {
    pub requests: u64,
    pub responses: u64,
    pub handshakes: Option<u64>,
}

fn ms(us: u64) -> f64 {
    round(us as f64 / 1000.0, 3)
}

/// `x` to `places` decimals (how every figure of a report is given).
pub fn round(x: f64, places: i32) -> f64 {
    let p = 10f64.powi(places);
    (x * p).round() / p
}

/// The report of one run against one target (the `--compare` contract keys and more).
pub fn summary(
    name: &str,
    bounds: Bounds,
    r: &TerminalResult,
    elapsed: Duration,
    server: Option<ServerCounts>,
    rss: Option<(f64, f64)>,
    cpu: Option<CpuUse>,
) -> Value {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let answered = r.ok + r.refused;
    let lost = r.sent.saturating_sub(answered);
    let errors: u64 = r.errors.values().sum();
    let h = &r.hist;
    let mut v = json!({
        "target": name,
        "mode": bounds.mode,
        "connections": bounds.connections,
        "requests_bound": bounds.requests,
        "duration_bound_s": bounds.duration.as_secs_f64(),
        "elapsed_s": round(secs, 3),
        "rps": round(answered as f64 / secs, 1),
        "p50_ms": ms(h.value_at_quantile(0.50)),
        "p90_ms": ms(h.value_at_quantile(0.90)),
        "p99_ms": ms(h.value_at_quantile(0.99)),
        "p999_ms": ms(h.value_at_quantile(0.999)),
        "max_ms": ms(h.max()),
        "mean_ms": round(h.mean() / 1000.0, 3),
        "sent": r.sent,
        "ok": r.ok,
        "refused": r.refused,
        "errors": errors,
        "errors_by_kind": r.errors,
        "lost": lost,
        "response_bytes_mean": r.response_bytes.checked_div(answered).unwrap_or(0),
        "confirmations": {"insurance_card": r.insurance_card, "card": r.card},
        "confirmations_per_s": round((r.insurance_card + r.card) as f64 / secs, 1),
    });
    let o = v.as_object_mut().expect("object");
    if r.card > 0 {
        let c = &r.card_hist;
        o.insert("card_p50_ms".into(), json!(ms(c.value_at_quantile(0.50))));
        o.insert("card_p99_ms".into(), json!(ms(c.value_at_quantile(0.99))));
    }
    if r.handshakes > 0 {
        o.insert("handshakes".into(), json!(r.handshakes));
        o.insert("resumed".into(), json!(r.resumed));
        o.insert(
            "handshake_rate".into(),
            json!(round(r.handshakes as f64 / secs, 1)),
        );
    }
    if r.validities.iter().any(|&n| n > 0) {
        o.insert(
            "validities".into(),
            json!({"1": r.validities[1], "2": r.validities[2], "3": r.validities[3], "4": r.validities[4], "5": r.validities[5]}),
        );
    }
    if let Some(s) = server {
        let mut sj = json!({"requests": s.requests, "responses": s.responses});
        if let Some(hs) = s.handshakes {
            sj["handshakes"] = json!(hs);
        }
        o.insert("server".into(), sj);
        o.insert(
            "counts_match".into(),
            json!(s.requests == r.sent && s.responses == answered),
        );
    }
    if let Some(c) = cpu.filter(|_| r.sent > 0) {
        let per = |ns: u64| round(ns as f64 / 1000.0 / r.sent as f64, 2);
        o.insert("server_cpu_us_per_request".into(), json!(per(c.server_ns)));
        o.insert("client_cpu_us_per_request".into(), json!(per(c.client_ns)));
    }
    if let Some((before, after)) = rss {
        o.insert("server_rss_before_mb".into(), json!(round(before, 1)));
        o.insert("server_rss_after_mb".into(), json!(round(after, 1)));
        o.insert(
            "server_rss_growth_mb".into(),
            json!(round(after - before, 1)),
        );
    }
    v
}

/// A terminal TLS client factory: a fresh config (own session cache) per call.
pub fn tls_factory(
    ca_der: Vec<u8>,
    cert_der: Vec<u8>,
    key_pkcs8: Vec<u8>,
) -> Result<Arc<dyn Fn() -> Arc<rustls::ClientConfig> + Send + Sync>, String> {
    // Build once to report a bad credential as an error, not a panic.
    crate::live::tls::client_config(&ca_der, &cert_der, &key_pkcs8).map_err(|e| e.to_string())?;
    Ok(Arc::new(move || {
        let mut cfg =
            crate::live::tls::client_config(&ca_der, &cert_der, &key_pkcs8).expect("checked above");
        // Offer resumption as a terminal would (rustls' default, made explicit).
        cfg.resumption = rustls::client::Resumption::in_memory_sessions(64);
        Arc::new(cfg)
    }))
}

/// One JSON request to the control port of a running onsim: `(status, body)`.
async fn control_json(
    control: SocketAddr,
    method: hyper::Method,
    path: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), String> {
    use http_body_util::{BodyExt, Full};
    let tcp = tokio::net::TcpStream::connect(control)
        .await
        .map_err(|e| format!("control {control}: {e}"))?;
    let (mut s, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
    let req = hyper::Request::builder()
        .method(method.clone())
        .uri(path)
        .header(hyper::header::HOST, "localhost")
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(bytes))
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(client::STEP_TIMEOUT, s.send_request(req))
        .await
        .map_err(|_| format!("{method} {path} timed out"))?
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let v: Value = serde_json::from_slice(&body).map_err(|e| format!("{method} {path}: {e}"))?;
    Ok((status, v))
}

/// `GET http://addr/stats` on the control port of a running `onsim serve`.
pub async fn remote_stats(
    control: SocketAddr,
) -> Result<crate::live::eligibility::StatsSnapshot, String> {
    let (_, v) = control_json(control, hyper::Method::GET, "/stats", None).await?;
    serde_json::from_value(v["eligibility"].clone()).map_err(|e| format!("GET /stats: {e}"))
}

/// Issue one card per `QualificationValidity` 1–5 on a running onsim
/// (`POST /cards` on its control port), for card-based confirmations.
pub async fn issue_cards(control: SocketAddr) -> Result<Vec<LoadCard>, String> {
    let mut cards = Vec::new();
    for validity in 1..=5 {
        let (status, v) = control_json(
            control,
            hyper::Method::POST,
            "/cards",
            Some(&json!({"validity": validity})),
        )
        .await?;
        if status != 200 {
            return Err(format!("POST /cards: HTTP {status}: {v}"));
        }
        let field = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("POST /cards: no {k} in the answer"))
        };
        cards.push(LoadCard::from_hex(
            field("certificate")?,
            field("key_pkcs8")?,
        )?);
    }
    Ok(cards)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This thread's CPU time, from the kernel's per-thread clock (independent of
    /// the `/proc` reading under test).
    fn own_cpu_ns() -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        assert_eq!(rc, 0, "clock_gettime");
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    /// Busy until this thread has used `ms` of CPU time (however loaded the machine).
    fn spin(ms: u64) {
        let start = own_cpu_ns();
        let mut x = 0u64;
        while own_cpu_ns() - start < ms * 1_000_000 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
    }

    #[test]
    fn thread_cpu_time_is_counted_by_thread_name() {
        let me = std::process::id();
        let name = "cpu-count-test";
        let named = |n: &str| n == name;
        let before = thread_cpu_ns(me, named).expect("/proc/self/task");
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let worker = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                spin(40);
                done_tx.send(()).unwrap();
                // Stay alive until measured: ended threads are not counted.
                let _ = rx.recv();
            })
            .unwrap();
        done_rx.recv().unwrap();
        let after = thread_cpu_ns(me, named).unwrap();
        let others = thread_cpu_ns(me, |n| n != name).unwrap();
        tx.send(()).unwrap();
        worker.join().unwrap();
        let spent = after - before;
        assert!(
            spent >= 20_000_000,
            "the named thread spun ~40 ms: {spent} ns"
        );
        assert!(others > 0);
        assert_eq!(thread_cpu_ns(me, |_| false), Some(0));
        assert_eq!(thread_cpu_ns(u32::MAX, |_| true), None, "no such process");
    }
}
