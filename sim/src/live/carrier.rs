//! The network carrier (ネットワーク事業者) live: a TCP proxy between the terminal and
//! the implementing body whose faults the control API or a scenario switches.
//!
//! Faults (all off by default): latency and jitter added to every chunk each way,
//! a bandwidth limit, `drop` (accept, then close), `reset` (accept, then RST via
//! SO_LINGER 0), `half-open` (accept and never forward; the connection is held open
//! for `half_open_ms` and then closed), `drop_after_bytes` (cut a connection in the
//! middle), outage windows on virtual-calendar dates (connections refused with RST
//! on those days), and a line that is not on the connectable list (every connection
//! refused with RST).
//!
//! Everything is bounded in time and count: at most [`MAX_CONNECTIONS`] at once on
//! the published port, a client that sends nothing within [`FIRST_BYTE_TIMEOUT`]
//! closed (issue 14 #10: idle clients must not hold the slots), upstream connect
//! within [`CONNECT_TIMEOUT`], no read idle for longer than
//! [`IDLE_TIMEOUT`], no connection older than [`MAX_LIFETIME`], latency and holds
//! capped at [`MAX_DELAY`]. Jitter comes from a seeded RNG (replayable).
//!
//! The in-process terminal (the file drop) reaches the proxy on a second, unpublished
//! listener ([`Proxy::run_reserved`]) with its own [`RESERVED_CONNECTIONS`] slots, so
//! a local process that fills the published port's slots cannot make the file drop
//! answer 5001 *(our choice)*. The faults apply on both listeners alike.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

use super::clock::VirtualClock;

pub const MAX_CONNECTIONS: usize = 256;
/// Most outage windows in one fault set *(our choice)*: a scenario needs a handful;
/// the list is searched on every connection.
pub const MAX_OUTAGES: usize = 366;
/// Slots of the terminal's own listener *(our choice: the file drop's worker count
/// with room)*.
pub const RESERVED_CONNECTIONS: usize = 64;
/// A client that has sent no byte this long after connecting is closed *(our
/// choice)*: a TLS client sends its ClientHello at once.
pub const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(2);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
pub const MAX_LIFETIME: Duration = Duration::from_secs(300);
pub const MAX_DELAY: Duration = Duration::from_secs(60);
const CHUNK: usize = 16 * 1024;

/// What happens to a new connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FaultMode {
    /// Forward (with latency/bandwidth if set).
    #[default]
    None,
    /// Accept, then close at once (FIN).
    Drop,
    /// Accept, then reset (RST).
    Reset,
    /// Accept and never forward; close after `half_open_ms`.
    HalfOpen,
}

/// An outage on virtual-calendar days `from..=to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The switchable faults. JSON shape of `GET/PUT /carrier/faults`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyFaults {
    pub mode: FaultMode,
    pub latency_ms: u64,
    pub jitter_ms: u64,
    /// Bytes per second each way; `null` = unlimited.
    pub bandwidth_bytes_per_sec: Option<u64>,
    /// Close the connection after this many bytes forwarded (both ways together).
    pub drop_after_bytes: Option<u64>,
    pub half_open_ms: u64,
    pub outages: Vec<Outage>,
    /// Force the line's connectability; `null` follows the clinic's line order.
    pub line_connectable: Option<bool>,
}

impl Default for ProxyFaults {
    fn default() -> Self {
        ProxyFaults {
            mode: FaultMode::None,
            latency_ms: 0,
            jitter_ms: 0,
            bandwidth_bytes_per_sec: None,
            drop_after_bytes: None,
            half_open_ms: 10_000,
            outages: Vec::new(),
            line_connectable: None,
        }
    }
}

impl ProxyFaults {
    /// Refuse settings that cannot be honoured (the message names the field).
    pub fn validate(&self) -> Result<(), (String, String)> {
        let cap = MAX_DELAY.as_millis() as u64;
        for (f, v) in [
            ("latency_ms", self.latency_ms),
            ("jitter_ms", self.jitter_ms),
            ("half_open_ms", self.half_open_ms),
        ] {
            if v > cap {
                return Err((f.into(), format!("at most {cap} ms")));
            }
        }
        if self.bandwidth_bytes_per_sec == Some(0) {
            return Err((
                "bandwidth_bytes_per_sec".into(),
                "must be at least 1 (null for unlimited)".into(),
            ));
        }
        if self.outages.len() > MAX_OUTAGES {
            return Err((
                "outages".into(),
                format!(
                    "{} windows; at most {MAX_OUTAGES} (merge adjacent windows)",
                    self.outages.len()
                ),
            ));
        }
        if let Some(o) = self.outages.iter().find(|o| o.from > o.to) {
            return Err((
                "outages".into(),
                format!("window {} .. {} ends before it starts", o.from, o.to),
            ));
        }
        Ok(())
    }

    fn in_outage(&self, day: NaiveDate) -> bool {
        self.outages.iter().any(|o| o.from <= day && day <= o.to)
    }
}

/// Counters, for the control API and the benchmarks.
#[derive(Debug, Default)]
pub struct ProxyStats {
    pub accepted: AtomicU64,
    pub forwarded: AtomicU64,
    pub dropped: AtomicU64,
    pub reset: AtomicU64,
    pub half_open: AtomicU64,
    pub refused_outage: AtomicU64,
    pub refused_line: AtomicU64,
    pub refused_limit: AtomicU64,
    /// Clients closed for sending nothing within [`FIRST_BYTE_TIMEOUT`].
    pub idle_closed: AtomicU64,
    pub upstream_failed: AtomicU64,
    pub bytes: AtomicU64,
}

impl ProxyStats {
    pub fn to_json(&self) -> serde_json::Value {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        serde_json::json!({
            "accepted": g(&self.accepted), "forwarded": g(&self.forwarded),
            "dropped": g(&self.dropped), "reset": g(&self.reset),
            "half_open": g(&self.half_open), "refused_outage": g(&self.refused_outage),
            "refused_line": g(&self.refused_line), "refused_limit": g(&self.refused_limit), "idle_closed": g(&self.idle_closed),
            "upstream_failed": g(&self.upstream_failed), "bytes": g(&self.bytes),
        })
    }
}

/// Is the clinic's line connectable (the carrier actor's verdict)?
pub type LineCheck = Arc<dyn Fn() -> bool + Send + Sync>;

/// The proxy's shared state.
pub struct Proxy {
    upstream: SocketAddr,
    clock: Arc<VirtualClock>,
    line: LineCheck,
    faults: RwLock<ProxyFaults>,
    rng: Mutex<ChaCha8Rng>,
    limit: Arc<Semaphore>,
    /// Slots of the terminal's listener.
    reserved: Arc<Semaphore>,
    pub stats: ProxyStats,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    pub fn new(
        upstream: SocketAddr,
        clock: Arc<VirtualClock>,
        line: LineCheck,
        seed: u64,
    ) -> Arc<Self> {
        Arc::new(Proxy {
            upstream,
            clock,
            line,
            faults: RwLock::new(ProxyFaults::default()),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(crate::engine::derive_seed(
                seed,
                "carrier-proxy",
            ))),
            limit: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
            reserved: Arc::new(Semaphore::new(RESERVED_CONNECTIONS)),
            stats: ProxyStats::default(),
        })
    }

    pub fn faults(&self) -> ProxyFaults {
        self.faults
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Switch faults (takes effect for new connections and for the next chunk of
    /// running ones).
    pub fn set_faults(&self, f: ProxyFaults) -> Result<(), (String, String)> {
        f.validate()?;
        tracing::info!(?f, "carrier faults switched");
        *self.faults.write().unwrap_or_else(|e| e.into_inner()) = f;
        Ok(())
    }

    fn delay(&self, f: &ProxyFaults) -> Duration {
        let jitter = if f.jitter_ms > 0 {
            self.rng
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .gen_range(0..=f.jitter_ms)
        } else {
            0
        };
        Duration::from_millis(f.latency_ms + jitter).min(MAX_DELAY)
    }

    /// Accept connections until `shutdown` turns true.
    pub async fn run(self: Arc<Self>, listener: TcpListener, shutdown: watch::Receiver<bool>) {
        let slots = self.limit.clone();
        let line = self.line.clone();
        self.serve(listener, shutdown, slots, line).await
    }

    /// As [`Self::run`], on the terminal's own listener and slots.
    pub async fn run_reserved(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: watch::Receiver<bool>,
    ) {
        let line = self.line.clone();
        self.run_reserved_for(listener, shutdown, line).await
    }

    /// As [`Self::run_reserved`], with the line check of one clinic of several
    /// (issue 17 item 2: each clinic's terminal meets its own line and outages; the
    /// manual faults and the counters are the proxy's, shared).
    pub async fn run_reserved_for(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: watch::Receiver<bool>,
        line: LineCheck,
    ) {
        let slots = self.reserved.clone();
        self.serve(listener, shutdown, slots, line).await
    }

    async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        mut shutdown: watch::Receiver<bool>,
        slots: Arc<Semaphore>,
        line: LineCheck,
    ) {
        while let Some((client, peer)) =
            super::accept_until(&listener, &mut shutdown, "carrier proxy").await
        {
            let me = self.clone();
            let mut stop = shutdown.clone();
            let slots = slots.clone();
            let line = line.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = tokio::time::timeout(MAX_LIFETIME, me.handle(client, peer, slots, line)) => {}
                    _ = stop.changed() => {}
                }
            });
        }
    }

    async fn handle(
        self: Arc<Self>,
        client: TcpStream,
        peer: SocketAddr,
        slots: Arc<Semaphore>,
        line: LineCheck,
    ) {
        self.stats.accepted.fetch_add(1, Ordering::Relaxed);
        let Ok(_permit) = slots.try_acquire_owned() else {
            self.stats.refused_limit.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%peer, "carrier: too many connections, refused");
            reset(client);
            return;
        };
        let f = self.faults();
        let today = self.clock.today();
        let connectable = f.line_connectable.unwrap_or_else(|| line());
        if !connectable {
            self.stats.refused_line.fetch_add(1, Ordering::Relaxed);
            tracing::info!(%peer, "carrier: line not on the connectable list, connection refused");
            reset(client);
            return;
        }
        if f.in_outage(today) {
            self.stats.refused_outage.fetch_add(1, Ordering::Relaxed);
            tracing::info!(%peer, %today, "carrier: outage on this virtual day, connection refused");
            reset(client);
            return;
        }
        match f.mode {
            FaultMode::Drop => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%peer, "carrier fault drop: connection closed");
                drop(client);
                return;
            }
            FaultMode::Reset => {
                self.stats.reset.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%peer, "carrier fault reset: RST");
                reset(client);
                return;
            }
            FaultMode::HalfOpen => {
                self.stats.half_open.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%peer, hold_ms = f.half_open_ms, "carrier fault half-open: accepted, never forwarded");
                tokio::time::sleep(Duration::from_millis(f.half_open_ms).min(MAX_DELAY)).await;
                drop(client);
                return;
            }
            FaultMode::None => {}
        }
        // A client that says nothing gives its slot back quickly.
        let mut first = [0u8; 1];
        match tokio::time::timeout(FIRST_BYTE_TIMEOUT, client.peek(&mut first)).await {
            Ok(Ok(n)) if n > 0 => {}
            Ok(_) => return,
            Err(_) => {
                self.stats.idle_closed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, "carrier: no byte from the client within the first-byte timeout, closed");
                return;
            }
        }
        let upstream =
            match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(self.upstream)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    self.stats.upstream_failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%peer, error = %e, "carrier: upstream connect failed");
                    reset(client);
                    return;
                }
                Err(_) => {
                    self.stats.upstream_failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%peer, "carrier: upstream connect timed out");
                    reset(client);
                    return;
                }
            };
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        self.stats.forwarded.fetch_add(1, Ordering::Relaxed);
        let budget = Arc::new(AtomicU64::new(f.drop_after_bytes.unwrap_or(u64::MAX)));
        let (cr, cw) = client.into_split();
        let (ur, uw) = upstream.into_split();
        let up = self.clone().pump(cr, uw, budget.clone());
        let down = self.clone().pump(ur, cw, budget.clone());
        // When either direction ends (EOF, error, budget), the other is finished too.
        tokio::select! {
            _ = up => {}
            _ = down => {}
        }
    }

    async fn pump(
        self: Arc<Self>,
        mut from: tokio::net::tcp::OwnedReadHalf,
        mut to: tokio::net::tcp::OwnedWriteHalf,
        budget: Arc<AtomicU64>,
    ) {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match tokio::time::timeout(IDLE_TIMEOUT, from.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => {
                    let _ = to.shutdown().await;
                    return;
                }
                Ok(Ok(n)) => n,
            };
            let f = self.faults();
            let left = budget.load(Ordering::Relaxed);
            let n_send = (n as u64).min(left) as usize;
            budget.fetch_sub(n_send as u64, Ordering::Relaxed);
            let d = self.delay(&f);
            if !d.is_zero() {
                tokio::time::sleep(d).await;
            }
            if let Some(bps) = f.bandwidth_bytes_per_sec {
                let secs = n_send as f64 / bps.max(1) as f64;
                tokio::time::sleep(Duration::from_secs_f64(secs).min(MAX_DELAY)).await;
            }
            if to.write_all(&buf[..n_send]).await.is_err() {
                return;
            }
            self.stats.bytes.fetch_add(n_send as u64, Ordering::Relaxed);
            if n_send < n || budget.load(Ordering::Relaxed) == 0 {
                tracing::info!("carrier fault drop_after_bytes: connection cut");
                return;
            }
        }
    }
}

/// Close with RST instead of FIN (SO_LINGER 0).
fn reset(s: TcpStream) {
    let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
    drop(s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn clock() -> Arc<VirtualClock> {
        let start =
            fakes::time::VirtualTime::at(NaiveDate::from_ymd_opt(2025, 4, 1).unwrap(), 9, 0);
        Arc::new(VirtualClock::new(start, 0.0).unwrap())
    }

    /// An echo server on loopback that serves a bounded number of connections.
    async fn echo() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            for _ in 0..32 {
                let Ok((mut s, _)) = l.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut b = [0u8; 4096];
                    while let Ok(Ok(n)) =
                        tokio::time::timeout(Duration::from_secs(5), s.read(&mut b)).await
                    {
                        if n == 0 || s.write_all(&b[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn start(line: bool) -> (Arc<Proxy>, SocketAddr, watch::Sender<bool>) {
        let up = echo().await;
        let p = Proxy::new(up, clock(), Arc::new(move || line), 7);
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, rx) = watch::channel(false);
        tokio::spawn(p.clone().run(l, rx));
        (p, addr, tx)
    }

    /// Send `msg`, read the echo; Err(kind) when the connection failed.
    async fn roundtrip(addr: SocketAddr, msg: &[u8]) -> Result<Vec<u8>, std::io::ErrorKind> {
        let fut = async {
            let mut s = TcpStream::connect(addr).await.map_err(|e| e.kind())?;
            s.write_all(msg).await.map_err(|e| e.kind())?;
            let mut got = vec![0u8; msg.len()];
            let mut n = 0;
            while n < msg.len() {
                match s.read(&mut got[n..]).await {
                    Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof),
                    Ok(k) => n += k,
                    Err(e) => return Err(e.kind()),
                }
            }
            Ok(got)
        };
        tokio::time::timeout(Duration::from_secs(5), fut)
            .await
            .unwrap_or(Err(std::io::ErrorKind::TimedOut))
    }

    #[tokio::test]
    async fn faults() {
        let (p, addr, _stop) = start(true).await;
        assert_eq!(roundtrip(addr, b"hello").await.unwrap(), b"hello");

        p.set_faults(ProxyFaults {
            latency_ms: 150,
            ..Default::default()
        })
        .unwrap();
        let t = Instant::now();
        roundtrip(addr, b"slow").await.unwrap();
        assert!(
            t.elapsed() >= Duration::from_millis(290),
            "both ways delayed: {:?}",
            t.elapsed()
        );

        p.set_faults(ProxyFaults {
            bandwidth_bytes_per_sec: Some(20_000),
            ..Default::default()
        })
        .unwrap();
        let t = Instant::now();
        roundtrip(addr, &[7u8; 4000]).await.unwrap();
        assert!(
            t.elapsed() >= Duration::from_millis(350),
            "8000 bytes at 20 kB/s: {:?}",
            t.elapsed()
        );

        p.set_faults(ProxyFaults {
            mode: FaultMode::Drop,
            ..Default::default()
        })
        .unwrap();
        let e = roundtrip(addr, b"x").await.unwrap_err();
        assert!(
            matches!(
                e,
                std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
            ),
            "{e:?}"
        );

        p.set_faults(ProxyFaults {
            mode: FaultMode::Reset,
            ..Default::default()
        })
        .unwrap();
        let e = roundtrip(addr, b"x").await.unwrap_err();
        assert_eq!(e, std::io::ErrorKind::ConnectionReset);

        p.set_faults(ProxyFaults {
            mode: FaultMode::HalfOpen,
            half_open_ms: 3_000,
            ..Default::default()
        })
        .unwrap();
        let r = tokio::time::timeout(Duration::from_millis(300), roundtrip(addr, b"x")).await;
        assert!(r.is_err(), "half-open: nothing comes back");

        p.set_faults(ProxyFaults {
            drop_after_bytes: Some(3),
            ..Default::default()
        })
        .unwrap();
        assert!(
            roundtrip(addr, b"abcdef").await.is_err(),
            "cut after 3 bytes"
        );

        let today = NaiveDate::from_ymd_opt(2025, 4, 1).unwrap();
        p.set_faults(ProxyFaults {
            outages: vec![Outage {
                from: today,
                to: today,
            }],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            roundtrip(addr, b"x").await.unwrap_err(),
            std::io::ErrorKind::ConnectionReset
        );
        p.clock
            .advance_to(fakes::time::VirtualTime::at(
                today.succ_opt().unwrap(),
                9,
                0,
            ))
            .unwrap();
        assert_eq!(
            roundtrip(addr, b"back").await.unwrap(),
            b"back",
            "the outage was one day"
        );

        assert!(p
            .set_faults(ProxyFaults {
                latency_ms: 600_000,
                ..Default::default()
            })
            .is_err());
        assert!(p.stats.reset.load(Ordering::Relaxed) >= 1);
    }

    #[tokio::test]
    async fn unconnectable_line_refuses() {
        let (p, addr, _stop) = start(false).await;
        assert_eq!(
            roundtrip(addr, b"x").await.unwrap_err(),
            std::io::ErrorKind::ConnectionReset
        );
        p.set_faults(ProxyFaults {
            line_connectable: Some(true),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(roundtrip(addr, b"ok").await.unwrap(), b"ok");
    }
}
