//! The qualification terminal's link to the implementing body: a small blocking
//! HTTP/1.1 client that POSTs the XmlMsg to the eligibility API, over mutual TLS
//! (rustls on ring, the terminal's client credential) and optionally through the
//! carrier proxy, so carrier faults reach the file drop.
//!
//! It is a [`crate::terminal::Backend`]. Every failure becomes an
//! [`EligibilityError`] the terminal turns into an abnormal answer:
//! - [`ErrorCode::CentreUnreachable`] (5001): connection refused, reset or closed
//!   before an answer, TLS handshake refused (alert) or the certificate refused on a
//!   resumed session (403 naming `client_certificate`), no complete answer within the
//!   timeout;
//! - [`ErrorCode::CentreError`] (5002): an HTTP status other than 200, an answer that
//!   is not HTTP, or larger than the limit (a body that is not an XmlMsg response is
//!   caught by the terminal, with the same code).
//!
//! Bounded: one connection per request (`Connection: close`), one deadline for the
//! whole exchange (connect, handshake, write, read), answers up to `max_answer_bytes`.
//! The thread that calls it blocks (the file-drop driver is a std thread).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ClientConfig;
use rustls_pki_types::ServerName;

use fakes::eligibility::xml::MessageKind;
use fakes::eligibility::{EligibilityError, ErrorCode};
use fakes::time::VirtualTime;

use crate::terminal::Backend;

/// Default deadline of one exchange *(our choice: 10 s, the order of a real
/// terminal's patience with the centre)*.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default largest answer read (the request limit of the file drop, 8 MiB, plus room).
pub const DEFAULT_MAX_ANSWER: usize = 16 << 20;

/// The eligibility API as the terminal sees it.
pub struct HttpBackend {
    host: String,
    base_path: String,
    /// Where to connect: the carrier proxy, or the host itself.
    connect_to: SocketAddr,
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    timeout: Duration,
    max_answer_bytes: usize,
}

impl std::fmt::Debug for HttpBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

fn unreachable(detail: impl Into<String>) -> EligibilityError {
    EligibilityError::new(ErrorCode::CentreUnreachable, detail)
}

fn centre_error(detail: impl Into<String>) -> EligibilityError {
    EligibilityError::new(ErrorCode::CentreError, detail)
}

impl HttpBackend {
    /// `url`: `https://host:port/eligibility` (needs `tls`) or `http://…` (no TLS;
    /// for tests against a stand-in). `via`: connect there instead of the URL's host
    /// (the carrier proxy); TLS still names the URL's host.
    pub fn new(
        url: &str,
        via: Option<SocketAddr>,
        tls: Option<ClientConfig>,
    ) -> Result<Self, String> {
        let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!("{url}: expected an http:// or https:// URL"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let default_port = if https { 443 } else { 80 };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (
                h,
                p.parse::<u16>()
                    .map_err(|_| format!("{url}: bad port {p:?}"))?,
            ),
            _ => (authority, default_port),
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let connect_to = match via {
            Some(a) => a,
            None => (host.as_str(), port)
                .to_socket_addrs()
                .map_err(|e| format!("{url}: {e}"))?
                .next()
                .ok_or_else(|| format!("{url}: host has no address"))?,
        };
        let tls = match (https, tls) {
            (true, Some(cfg)) => {
                let name = ServerName::try_from(host.clone())
                    .map_err(|e| format!("{url}: server name: {e}"))?;
                Some((Arc::new(cfg), name))
            }
            (true, None) => return Err(format!("{url}: https needs a TLS client configuration")),
            (false, _) => None,
        };
        Ok(HttpBackend {
            host: if port == default_port {
                host
            } else {
                format!("{host}:{port}")
            },
            base_path: path.trim_end_matches('/').to_string(),
            connect_to,
            tls,
            timeout: DEFAULT_TIMEOUT,
            max_answer_bytes: DEFAULT_MAX_ANSWER,
        })
    }

    /// Deadline of one whole exchange.
    pub fn with_timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    pub fn with_max_answer_bytes(mut self, n: usize) -> Self {
        self.max_answer_bytes = n;
        self
    }

    fn path_of(&self, kind: MessageKind) -> String {
        match kind {
            MessageKind::Single => {
                if self.base_path.is_empty() {
                    "/".into()
                } else {
                    self.base_path.clone()
                }
            }
            k => format!("{}/{}", self.base_path, k.id()),
        }
    }

    /// POST `body` and return the answer's body (status 200 only).
    pub fn post(&self, kind: MessageKind, body: &[u8]) -> Result<Vec<u8>, EligibilityError> {
        let deadline = Instant::now() + self.timeout;
        let remaining = || {
            deadline
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())
                .ok_or_else(|| unreachable(format!("no answer within {:?}", self.timeout)))
        };
        let tcp = TcpStream::connect_timeout(&self.connect_to, remaining()?)
            .map_err(|e| unreachable(format!("connect {}: {}", self.connect_to, io_kind(&e))))?;
        let _ = tcp.set_nodelay(true);
        let mut head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: onsim-terminal\r\n\r\n",
            self.path_of(kind),
            self.host,
            body.len()
        )
        .into_bytes();
        head.extend_from_slice(body);
        let raw = match &self.tls {
            None => exchange(tcp, &head, &remaining, self.max_answer_bytes),
            Some((cfg, name)) => {
                let conn = rustls::ClientConnection::new(cfg.clone(), name.clone())
                    .map_err(|e| unreachable(format!("TLS: {e}")))?;
                let stream = rustls::StreamOwned::new(conn, tcp);
                exchange(stream, &head, &remaining, self.max_answer_bytes)
            }
        }?;
        parse_http(&raw)
    }
}

impl Backend for HttpBackend {
    fn answer(
        &self,
        kind: MessageKind,
        bytes: &[u8],
        _now: VirtualTime,
    ) -> Result<Vec<u8>, EligibilityError> {
        self.post(kind, bytes)
    }

    fn describe(&self) -> String {
        format!(
            "{}://{}{} via {}",
            if self.tls.is_some() { "https" } else { "http" },
            self.host,
            self.base_path,
            self.connect_to
        )
    }
}

fn io_kind(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::ConnectionReset => "connection reset".into(),
        io::ErrorKind::ConnectionAborted => "connection aborted".into(),
        io::ErrorKind::BrokenPipe => "connection closed (broken pipe)".into(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timed out".into(),
        io::ErrorKind::UnexpectedEof => "connection closed".into(),
        // rustls reports alerts and certificate faults as InvalidData.
        io::ErrorKind::InvalidData => format!("TLS: {e}"),
        _ => e.to_string(),
    }
}

/// Write the request and read until the answer is complete (Content-Length), the
/// peer closes, or the deadline passes.
trait Sock {
    fn tcp(&self) -> &TcpStream;
}

impl Sock for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Sock for rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
}

fn exchange<S: Read + Write + Sock>(
    mut s: S,
    request: &[u8],
    remaining: &dyn Fn() -> Result<Duration, EligibilityError>,
    max: usize,
) -> Result<Vec<u8>, EligibilityError> {
    let set = |s: &S| -> Result<(), EligibilityError> {
        let d = remaining()?;
        let t = s.tcp();
        let _ = t.set_read_timeout(Some(d));
        let _ = t.set_write_timeout(Some(d));
        Ok(())
    };
    set(&s)?;
    let fail = |e: io::Error, what: &str| {
        if matches!(
            e.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
        ) {
            remaining()
                .err()
                .unwrap_or_else(|| unreachable(format!("{what}: timed out")))
        } else {
            unreachable(format!("{what}: {}", io_kind(&e)))
        }
    };
    s.write_all(request).map_err(|e| fail(e, "sending"))?;
    s.flush().map_err(|e| fail(e, "sending"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(need) = complete_length(&buf) {
            if buf.len() >= need {
                buf.truncate(need);
                return Ok(buf);
            }
        }
        set(&s)?;
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > max {
                    return Err(centre_error(format!("answer larger than {max} bytes")));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // TLS peers that close without close_notify: treat as end of stream.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && !buf.is_empty() => break,
            Err(e) => return Err(fail(e, "receiving")),
        }
    }
    if buf.is_empty() {
        return Err(unreachable("connection closed before an answer"));
    }
    if let Some(need) = complete_length(&buf) {
        if buf.len() < need {
            return Err(unreachable(format!(
                "connection closed after {} of {need} bytes",
                buf.len()
            )));
        }
    }
    Ok(buf)
}

fn header_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn header_value<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// Total length of the answer if the head is complete and has a Content-Length.
fn complete_length(buf: &[u8]) -> Option<usize> {
    let end = header_end(buf)?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let len: usize = header_value(head, "content-length")?.parse().ok()?;
    Some(end + len)
}

/// Status and body of a raw HTTP/1.1 answer (Content-Length, chunked or to-EOF).
fn parse_http(raw: &[u8]) -> Result<Vec<u8>, EligibilityError> {
    let end = header_end(raw).ok_or_else(|| centre_error("the answer is not HTTP"))?;
    let head =
        std::str::from_utf8(&raw[..end]).map_err(|_| centre_error("the answer is not HTTP"))?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .filter(|_| head.starts_with("HTTP/1."))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| centre_error("the answer is not HTTP"))?;
    let body = &raw[end..];
    let body = if header_value(head, "transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        dechunk(body).ok_or_else(|| centre_error("bad chunked encoding"))?
    } else {
        body.to_vec()
    };
    if status == 403 && refuses_certificate(&body) {
        // The server refused the certificate on a resumed session or a kept-alive
        // connection: the same fault as a refused handshake (issue 14 #1).
        return Err(unreachable(format!(
            "client certificate refused: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        )));
    }
    if status != 200 {
        let hint: String = String::from_utf8_lossy(&body[..body.len().min(200)])
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        return Err(centre_error(format!("HTTP {status} {hint}")));
    }
    Ok(body)
}

/// Whether a 403's JSON body refuses the client certificate itself
/// ([`super::http::CLIENT_CERTIFICATE_FIELD`]).
fn refuses_certificate(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("field")?.as_str().map(str::to_string))
        .is_some_and(|f| f == super::http::CLIENT_CERTIFICATE_FIELD)
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let i = b.windows(2).position(|w| w == b"\r\n")?;
        let size_s = std::str::from_utf8(&b[..i]).ok()?;
        let size = usize::from_str_radix(size_s.split(';').next()?.trim(), 16).ok()?;
        b = &b[i + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

/// The `valid` terminal credential of a run as a TLS client configuration (trusting
/// the run's server CA): what `onsim serve` gives its file drop.
pub fn terminal_client_config(pki: &super::pki::LivePki) -> Result<ClientConfig, String> {
    let (_, valid) = pki
        .matrix
        .iter()
        .find(|(n, _)| *n == "valid")
        .ok_or("no valid credential")?;
    credential_client_config(pki, valid)
}

/// `credential` (a clinic's `valid`, issue 17 item 2) as a TLS client configuration
/// trusting the run's server CA.
pub fn credential_client_config(
    pki: &super::pki::LivePki,
    credential: &fakes::pki::Issued,
) -> Result<ClientConfig, String> {
    super::tls::client_config(
        pki.server_ca.cert_der(),
        &credential.der,
        &credential.key.pkcs8,
    )
    .map_err(|e| format!("TLS client: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_answers() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
        assert_eq!(parse_http(ok).unwrap(), b"abc");
        assert_eq!(complete_length(ok), Some(ok.len()));
        let ch = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_http(ch).unwrap(), b"abcde");
        let e = parse_http(b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy").unwrap_err();
        assert_eq!(e.code, ErrorCode::CentreError);
        assert!(e.detail.contains("503"));
        assert_eq!(
            parse_http(b"garbage").unwrap_err().code,
            ErrorCode::CentreError
        );
    }

    #[test]
    fn urls() {
        let b = HttpBackend::new("http://127.0.0.1:9/eligibility", None, None).unwrap();
        assert_eq!(b.path_of(MessageKind::Single), "/eligibility");
        assert_eq!(
            b.path_of(MessageKind::BulkUpload),
            "/eligibility/OQSmuquc01"
        );
        assert!(HttpBackend::new("https://127.0.0.1:9/e", None, None).is_err());
        assert!(HttpBackend::new("ftp://x", None, None).is_err());
    }

    #[test]
    fn refused_connection_is_unreachable() {
        // Bind then drop: the port is (almost certainly) closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let b = HttpBackend::new(&format!("http://127.0.0.1:{port}/eligibility"), None, None)
            .unwrap()
            .with_timeout(Duration::from_secs(2));
        let e = b.post(MessageKind::Single, b"<x/>").unwrap_err();
        assert_eq!(e.code, ErrorCode::CentreUnreachable, "{e}");
    }
}
