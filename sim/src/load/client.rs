//! One simulated terminal: its own TLS client configuration (own session cache), a
//! hyper HTTP/1.1 connection, requests cycled from a shared list, each outcome counted.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Bound on each step (connect, handshake, one request): nothing waits forever.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// How terminals reach a server.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub path: String,
    /// `None` = plain HTTP (the wiremock baseline). The factory is called once per
    /// terminal, so each has its own session cache, as real terminals do.
    pub tls: Option<Arc<dyn Fn() -> Arc<ClientConfig> + Send + Sync>>,
}

/// Keep-alive (one connection per terminal) or a new connection per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    KeepAlive,
    NewConnection,
}

/// What one terminal saw.
pub struct TerminalResult {
    pub hist: Histogram<u64>,
    pub sent: u64,
    pub ok: u64,
    pub refused: u64,
    pub errors: BTreeMap<String, u64>,
    pub handshakes: u64,
    pub resumed: u64,
    /// `QualificationValidity` codes seen in answers (index 1..=5).
    pub validities: [u64; 6],
    pub response_bytes: u64,
}

impl TerminalResult {
    pub fn new() -> Self {
        TerminalResult {
            hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
            sent: 0,
            ok: 0,
            refused: 0,
            errors: BTreeMap::new(),
            handshakes: 0,
            resumed: 0,
            validities: [0; 6],
            response_bytes: 0,
        }
    }

    fn error(&mut self, kind: &str) {
        *self.errors.entry(kind.to_string()).or_default() += 1;
    }

    pub fn merge(&mut self, o: &TerminalResult) {
        let _ = self.hist.add(&o.hist);
        self.sent += o.sent;
        self.ok += o.ok;
        self.refused += o.refused;
        for (k, v) in &o.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        self.handshakes += o.handshakes;
        self.resumed += o.resumed;
        for i in 0..6 {
            self.validities[i] += o.validities[i];
        }
        self.response_bytes += o.response_bytes;
    }
}

impl Default for TerminalResult {
    fn default() -> Self {
        Self::new()
    }
}

async fn http1<S>(io: S) -> Result<SendRequest<Full<Bytes>>, hyper::Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Connect (TCP, TLS if any, HTTP/1.1). Errors are returned as their kind.
async fn connect(
    target: &Target,
    tls: Option<&tokio_rustls::TlsConnector>,
    r: &mut TerminalResult,
) -> Result<SendRequest<Full<Bytes>>, &'static str> {
    let tcp = match tokio::time::timeout(STEP_TIMEOUT, TcpStream::connect(target.addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(_)) => return Err("connect"),
        Err(_) => return Err("connect-timeout"),
    };
    let _ = tcp.set_nodelay(true);
    match tls {
        None => http1(tcp).await.map_err(|_| "http-handshake"),
        Some(c) => {
            let name = ServerName::try_from("localhost").expect("static name");
            let s = match tokio::time::timeout(STEP_TIMEOUT, c.connect(name, tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(_)) => return Err("tls-handshake"),
                Err(_) => return Err("tls-handshake-timeout"),
            };
            r.handshakes += 1;
            if s.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed) {
                r.resumed += 1;
            }
            http1(s).await.map_err(|_| "http-handshake")
        }
    }
}

fn validity_of(body: &[u8]) -> Option<usize> {
    const TAG: &[u8] = b"<QualificationValidity>";
    let at = body.windows(TAG.len()).position(|w| w == TAG)?;
    let d = *body.get(at + TAG.len())?;
    d.is_ascii_digit().then(|| (d - b'0') as usize)
}

/// One request on `sender`: `Ok(())` when a response (any status) came back whole.
async fn one(
    sender: &mut SendRequest<Full<Bytes>>,
    path: &str,
    body: Bytes,
    r: &mut TerminalResult,
    started: Instant,
) -> Result<(), &'static str> {
    if tokio::time::timeout(STEP_TIMEOUT, sender.ready())
        .await
        .map_err(|_| "ready-timeout")?
        .is_err()
    {
        return Err("connection-closed");
    }
    let req = Request::post(path)
        .header(hyper::header::HOST, "localhost")
        .header(hyper::header::CONTENT_TYPE, "application/xml")
        .body(Full::new(body))
        .map_err(|_| "request-build")?;
    r.sent += 1;
    let resp = match tokio::time::timeout(STEP_TIMEOUT, sender.send_request(req)).await {
        Ok(Ok(resp)) => resp,
        Ok(Err(_)) => return Err("lost:send"),
        Err(_) => return Err("lost:timeout"),
    };
    let status = resp.status();
    let bytes = match tokio::time::timeout(STEP_TIMEOUT, resp.into_body().collect()).await {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(_)) => return Err("lost:body"),
        Err(_) => return Err("lost:body-timeout"),
    };
    let us = started.elapsed().as_micros().max(1) as u64;
    let _ = r.hist.record(us.min(60_000_000));
    r.response_bytes += bytes.len() as u64;
    if status.is_success() {
        r.ok += 1;
        if let Some(v) = validity_of(&bytes) {
            if v < 6 {
                r.validities[v] += 1;
            }
        }
    } else {
        r.refused += 1;
        r.error(&format!("refused:{}", status.as_u16()));
    }
    Ok(())
}

/// Run one terminal: `quota` requests at most, none started after `deadline`.
pub async fn terminal(
    id: usize,
    target: Target,
    mode: Mode,
    bodies: Arc<Vec<Bytes>>,
    quota: u64,
    deadline: Instant,
) -> TerminalResult {
    let mut r = TerminalResult::new();
    let tls = target
        .tls
        .as_ref()
        .map(|f| tokio_rustls::TlsConnector::from(f()));
    let mut conn: Option<SendRequest<Full<Bytes>>> = None;
    let mut n = 0u64;
    while n < quota && Instant::now() < deadline {
        let body = bodies[(id * 7919 + n as usize) % bodies.len()].clone();
        n += 1;
        let started = Instant::now();
        if conn.is_none() {
            match connect(&target, tls.as_ref(), &mut r).await {
                Ok(s) => conn = Some(s),
                Err(kind) => {
                    r.error(kind);
                    // Not sent: the server never saw it. Back off a little so a
                    // refusing server is not hammered.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            }
        }
        let sender = conn.as_mut().expect("connected above");
        if let Err(kind) = one(sender, &target.path, body, &mut r, started).await {
            r.error(kind);
            conn = None;
            continue;
        }
        if mode == Mode::NewConnection {
            conn = None;
        }
    }
    r
}
