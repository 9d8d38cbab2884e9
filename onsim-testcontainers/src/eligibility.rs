//! A mutual-TLS POST to the eligibility API (`eligibility_url`), for smoke tests and
//! fixtures: it checks the server certificate against onsim's `server-ca.crt` under
//! the advertised name and presents a credential of the PKI matrix. The vendor's own
//! client is what is under test; this proves the container answers.
//!
//! rustls on ring only, built with `builder_with_provider` (docs/DESIGN.md pitfalls:
//! one provider, never chosen from cargo features at run time). It connects to the
//! published port on the host address, whatever name the certificate carries, as
//! curl's `--resolve` does.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::endpoints::{read, Credential, HostUrl};
use crate::error::{Error, Result};

/// Longest wait to connect, and for the answer *(our choice)*.
const TIMEOUT: Duration = Duration::from_secs(15);
/// Largest answer read *(our choice: a single answer is a few KB)*.
const MAX_ANSWER: u64 = 8 << 20;

/// An HTTP answer: status and body (UTF-8, lossy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: String,
}

/// A client config trusting `server_ca` and presenting `cred`.
pub(crate) fn client_config(
    server_ca: &std::path::Path,
    cred: &Credential,
) -> Result<ClientConfig> {
    let tls = |path: &std::path::Path, reason: String| Error::StateFile {
        path: path.to_path_buf(),
        reason,
    };
    let mut roots = RootCertStore::empty();
    let ca = read(server_ca)?;
    for c in CertificateDer::pem_slice_iter(&ca) {
        let c = c.map_err(|e| tls(server_ca, format!("not a PEM certificate: {e}")))?;
        roots
            .add(c)
            .map_err(|e| tls(server_ca, format!("not a CA certificate: {e}")))?;
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cred.cert_pem()?)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| tls(&cred.cert, format!("not a PEM certificate: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(&cred.key_pem()?)
        .map_err(|e| tls(&cred.key, format!("not a PEM private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(server_ca, e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| tls(&cred.key, format!("unusable credential: {e}")))
}

/// `POST url` with an XML body over mutual TLS; the connection is closed after the
/// answer. A refused handshake (expired, revoked, … credentials) is an
/// [`Error::Http`] naming the TLS alert.
pub(crate) fn post_xml(config: ClientConfig, url: &HostUrl, xml: &str) -> Result<HttpAnswer> {
    let err = |reason: String| Error::Http {
        url: url.url.clone(),
        reason,
    };
    let name = ServerName::try_from(url.host.clone())
        .map_err(|e| err(format!("{}: not a TLS server name: {e}", url.host)))?;
    let path = url
        .url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("/");
    let ip: std::net::IpAddr = url
        .connect_ip
        .parse()
        .map_err(|e| err(format!("{}: {e}", url.connect_ip)))?;
    let tcp = TcpStream::connect_timeout(&(ip, url.port).into(), TIMEOUT)
        .map_err(|e| err(format!("connect {}:{}: {e}", url.connect_ip, url.port)))?;
    tcp.set_read_timeout(Some(TIMEOUT)).ok();
    tcp.set_write_timeout(Some(TIMEOUT)).ok();
    let conn =
        ClientConnection::new(Arc::new(config), name).map_err(|e| err(format!("TLS: {e}")))?;
    let mut tls = StreamOwned::new(conn, tcp);
    let authority = if url.host.contains(':') {
        format!("[{}]:{}", url.host, url.port)
    } else {
        format!("{}:{}", url.host, url.port)
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        xml.len()
    );
    tls.write_all(head.as_bytes())
        .and_then(|_| tls.write_all(xml.as_bytes()))
        .and_then(|_| tls.flush())
        .map_err(|e| err(format!("sending: {e}")))?;
    let mut raw = Vec::new();
    match Read::by_ref(&mut tls)
        .take(MAX_ANSWER)
        .read_to_end(&mut raw)
    {
        Ok(_) => {}
        // Some servers close without close_notify once the body is complete.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(err(format!("reading the answer: {e}"))),
    }
    parse_answer(&raw).map_err(err)
}

/// Status line, headers and body of an HTTP/1.1 answer (`Content-Length`, chunked,
/// or to the end of the stream).
fn parse_answer(raw: &[u8]) -> std::result::Result<HttpAnswer, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no HTTP answer ({} bytes)", raw.len()))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut length = None;
    let mut chunked = false;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "content-length" {
                length = v.parse::<usize>().ok();
            } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    let rest = &raw[split + 4..];
    let body = if chunked {
        dechunk(rest)?
    } else {
        match length {
            Some(n) if n <= rest.len() => rest[..n].to_vec(),
            Some(n) => return Err(format!("answer cut: {} of {n} bytes", rest.len())),
            None => rest.to_vec(),
        }
    };
    Ok(HttpAnswer {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut b: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunked answer cut")?;
        let size = String::from_utf8_lossy(&b[..eol]);
        let size = size.split(';').next().unwrap_or("").trim();
        let n = usize::from_str_radix(size, 16).map_err(|_| format!("bad chunk size {size:?}"))?;
        b = &b[eol + 2..];
        if n == 0 {
            return Ok(out);
        }
        if b.len() < n + 2 {
            return Err("chunked answer cut".to_string());
        }
        out.extend_from_slice(&b[..n]);
        b = &b[n + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_with_length_chunks_or_to_the_end() {
        let a = parse_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello-extra").unwrap();
        assert_eq!((a.status, a.body.as_str()), (200, "hello"));
        let a = parse_answer(
            b"HTTP/1.1 403 Forbidden\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((a.status, a.body.as_str()), (403, "abcde"));
        let a = parse_answer(b"HTTP/1.1 200 OK\r\n\r\nall of it").unwrap();
        assert_eq!(a.body, "all of it");
    }

    #[test]
    fn broken_answers_say_why() {
        assert!(parse_answer(b"HTTP/1.1 200")
            .unwrap_err()
            .contains("no HTTP answer"));
        assert!(parse_answer(b"garbage\r\n\r\n")
            .unwrap_err()
            .contains("bad status line"));
        assert!(
            parse_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc")
                .unwrap_err()
                .contains("3 of 9")
        );
        assert!(
            parse_answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
                .unwrap_err()
                .contains("bad chunk size")
        );
    }
}
