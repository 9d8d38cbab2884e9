//! One simulated terminal: its own TLS client configuration (own session cache), a
//! hyper HTTP/1.1 connection, confirmations drawn from a shared [`Workload`], each
//! outcome counted.
//!
//! An insurance-card confirmation is one request (`POST /eligibility`, an OQSsiquc01
//! XmlMsg). A card-based confirmation (マイナ保険証) is what a face-auth reader does:
//! `POST /eligibility/card/challenge`, sign the challenge with the card's
//! authentication key (RSA-2048, PKCS#1 v1.5, SHA-256), `POST /eligibility/card`; two
//! requests and a signature, timed as one confirmation.

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
    /// Confirmations finished (answered, whatever the answer), by kind.
    pub insurance_card: u64,
    pub card: u64,
    /// Latency of whole card-based confirmations (challenge, signature, answer).
    pub card_hist: Histogram<u64>,
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
            insurance_card: 0,
            card: 0,
            card_hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
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
        self.insurance_card += o.insurance_card;
        self.card += o.card;
        let _ = self.card_hist.add(&o.card_hist);
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

/// A card a load run presents: its authentication certificate and key, issued by
/// the server under test (`POST /cards` on its control URL).
pub struct LoadCard {
    pub certificate_hex: String,
    pub key: ring::rsa::KeyPair,
}

impl LoadCard {
    /// A card from the hex DER certificate and hex PKCS#8 key `POST /cards` returns.
    pub fn from_hex(certificate_hex: &str, key_pkcs8_hex: &str) -> Result<Self, String> {
        let pkcs8 = crate::live::card::from_hex(key_pkcs8_hex).ok_or("card key: not hex")?;
        let key = ring::rsa::KeyPair::from_pkcs8(&pkcs8)
            .map_err(|e| format!("card key: not an RSA PKCS#8 key ({e})"))?;
        Ok(LoadCard {
            certificate_hex: certificate_hex.to_string(),
            key,
        })
    }

    /// What the card does at the reader: sign the challenge.
    fn sign(&self, challenge: &[u8]) -> Result<Vec<u8>, &'static str> {
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                challenge,
                &mut sig,
            )
            .map_err(|_| "card:sign")?;
        Ok(sig)
    }
}

/// What the terminals send.
pub struct Workload {
    /// OQSsiquc01 request bodies, cycled.
    pub bodies: Vec<Bytes>,
    /// Cards for card-based confirmations, cycled.
    pub cards: Vec<LoadCard>,
    /// Share of confirmations that are card-based, 0..=1.
    pub card_share: f64,
}

impl Workload {
    pub fn insurance_cards_only(bodies: Vec<Bytes>) -> Self {
        Workload {
            bodies,
            cards: Vec::new(),
            card_share: 0.0,
        }
    }

    /// Whether terminal `id`'s `n`th confirmation is card-based: exactly the asked
    /// share of every terminal's confirmations (to within one), spread evenly, each
    /// terminal starting at a different phase. Deterministic.
    pub fn is_card(&self, id: usize, n: u64) -> bool {
        if self.cards.is_empty() || self.card_share <= 0.0 {
            return false;
        }
        let phase = (id as f64 * 0.618_033_988_749_895).fract();
        let at = |k: u64| (k as f64 * self.card_share + phase).floor();
        at(n + 1) > at(n)
    }
}

/// One HTTP request on `sender`, counted: `Ok` with the status and body when a whole
/// response (any status) came back.
async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    path: &str,
    content_type: &'static str,
    body: Bytes,
    r: &mut TerminalResult,
) -> Result<(hyper::StatusCode, Bytes), &'static str> {
    if tokio::time::timeout(STEP_TIMEOUT, sender.ready())
        .await
        .map_err(|_| "ready-timeout")?
        .is_err()
    {
        return Err("connection-closed");
    }
    let req = Request::post(path)
        .header(hyper::header::HOST, "localhost")
        .header(hyper::header::CONTENT_TYPE, content_type)
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
    r.response_bytes += bytes.len() as u64;
    if status.is_success() {
        r.ok += 1;
    } else {
        r.refused += 1;
        r.error(&format!("refused:{}", status.as_u16()));
    }
    Ok((status, bytes))
}

fn record(hist: &mut Histogram<u64>, started: Instant) {
    let us = started.elapsed().as_micros().max(1) as u64;
    let _ = hist.record(us.min(60_000_000));
}

fn count_validity(r: &mut TerminalResult, body: &[u8]) {
    if let Some(v) = validity_of(body) {
        if v < 6 {
            r.validities[v] += 1;
        }
    }
}

/// An insurance-card confirmation: one OQSsiquc01 request.
async fn insurance_card(
    sender: &mut SendRequest<Full<Bytes>>,
    path: &str,
    body: Bytes,
    r: &mut TerminalResult,
    started: Instant,
) -> Result<(), &'static str> {
    let (status, bytes) = exchange(sender, path, "application/xml", body, r).await?;
    record(&mut r.hist, started);
    r.insurance_card += 1;
    if status.is_success() {
        count_validity(r, &bytes);
    }
    Ok(())
}

/// A card-based confirmation: challenge, signature, answer.
async fn card(
    sender: &mut SendRequest<Full<Bytes>>,
    path: &str,
    card: &LoadCard,
    r: &mut TerminalResult,
    started: Instant,
) -> Result<(), &'static str> {
    let (status, bytes) = exchange(
        sender,
        &format!("{path}/card/challenge"),
        "application/json",
        Bytes::new(),
        r,
    )
    .await?;
    let challenge = status
        .is_success()
        .then(|| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .flatten()
        .and_then(|v| {
            v["challenge"]
                .as_str()
                .and_then(crate::live::card::from_hex)
        });
    let Some(challenge) = challenge else {
        if status.is_success() {
            r.error("card:bad-challenge");
        }
        return Ok(());
    };
    let signature = match card.sign(&challenge) {
        Ok(s) => s,
        Err(kind) => {
            r.error(kind);
            return Ok(());
        }
    };
    let body = serde_json::json!({
        "challenge": crate::live::card::to_hex(&challenge),
        "certificate": card.certificate_hex,
        "signature": crate::live::card::to_hex(&signature),
        "consents": {"limit_certificate": true},
    })
    .to_string();
    let (status, bytes) = exchange(
        sender,
        &format!("{path}/card"),
        "application/json",
        Bytes::from(body),
        r,
    )
    .await?;
    record(&mut r.hist, started);
    record(&mut r.card_hist, started);
    r.card += 1;
    if status.is_success() {
        count_validity(r, &bytes);
    }
    Ok(())
}

/// Run one terminal: `quota` confirmations at most, none started after `deadline`.
pub async fn terminal(
    id: usize,
    target: Target,
    mode: Mode,
    work: Arc<Workload>,
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
        let pick = id * 7919 + n as usize;
        let use_card = work.is_card(id, n);
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
        let done = if use_card {
            let c = &work.cards[pick % work.cards.len()];
            card(sender, &target.path, c, &mut r, started).await
        } else {
            let body = work.bodies[pick % work.bodies.len()].clone();
            insurance_card(sender, &target.path, body, &mut r, started).await
        };
        if let Err(kind) = done {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn test_key() -> (ring::rsa::KeyPair, rsa::RsaPublicKey) {
        crate::keystore::install_from_env();
        let key = fakes::pki::keys::rsa_key(1, "load-test-card");
        let pkcs8 = fakes::pki::keys::rsa_pkcs8(&key);
        let pair = ring::rsa::KeyPair::from_pkcs8(&pkcs8).expect("ring reads the card key");
        (pair, key.to_public_key())
    }

    fn work(share: f64, with_card: bool) -> Workload {
        Workload {
            bodies: vec![Bytes::from_static(b"x")],
            cards: if with_card {
                vec![LoadCard {
                    certificate_hex: String::new(),
                    key: test_key().0,
                }]
            } else {
                Vec::new()
            },
            card_share: share,
        }
    }

    #[test]
    fn no_cards_means_no_card_confirmations() {
        let w = work(0.5, false);
        assert!((0..100).all(|n| !w.is_card(3, n)));
        let w = work(1.0, true);
        assert!((0..100).all(|n| w.is_card(3, n)));
    }

    #[test]
    fn the_signature_is_what_the_centre_verifies() {
        use rsa::sha2::{Digest, Sha256};
        let (pair, public) = test_key();
        let card = LoadCard {
            certificate_hex: String::new(),
            key: pair,
        };
        let challenge = [7u8; 32];
        let sig = card.sign(&challenge).unwrap();
        public
            .verify(
                rsa::Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(challenge),
                &sig,
            )
            .expect("PKCS#1 v1.5 SHA-256, as fakes::reader::verify_identity checks");
    }

    proptest::proptest! {
        /// Every terminal sends the asked share of card confirmations, to within one.
        #[test]
        fn card_share_is_kept_per_terminal(share in 0.0f64..=1.0, id in 0usize..1000, len in 1u64..5000) {
            let w = work(share, true);
            let cards = (0..len).filter(|&n| w.is_card(id, n)).count() as f64;
            proptest::prop_assert!((cards - share * len as f64).abs() <= 1.0, "{} of {} at {}", cards, len, share);
        }
    }
}
