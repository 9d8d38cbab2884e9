//! The two baselines of `onsim load --compare`, started in this process:
//! - [`bare`]: hyper 1 + tokio-rustls with the **same** TLS settings as the
//!   eligibility API (ring, TLS 1.3 + 1.2, the same server certificate, ALPN
//!   http/1.1, client certificate required) and rustls' stock `WebPkiClientVerifier`
//!   against the same terminal CA and CRL, answering every request with a fixed body;
//! - [`wiremock`]: a wiremock `MockServer` (plain HTTP, default settings, so it
//!   records every request as a user's test would) returning a same-sized body.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Response;
use hyper_util::rt::TokioIo;
use rustls::server::WebPkiClientVerifier;
use rustls::ServerConfig;
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::live::pki::LivePki;
use crate::live::tls::provider;

/// The bare server's TLS configuration: what `tls::server_config` sets, with the
/// stock verifier (wall clock) instead of the virtual-clock one.
pub fn bare_server_config(pki: &LivePki) -> Result<ServerConfig, String> {
    let provider = provider();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(pki.terminal_ca.cert_der().to_vec()))
        .map_err(|e| e.to_string())?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .with_crls(vec![CertificateRevocationListDer::from(pki.crl.clone())])
        .build()
        .map_err(|e| e.to_string())?;
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(pki.server.der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server.key.pkcs8.clone())),
        )
        .map_err(|e| e.to_string())?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// A running bare server: its address and its request counter.
pub struct Bare {
    pub addr: SocketAddr,
    pub requests: Arc<AtomicU64>,
    stop: watch::Sender<bool>,
}

impl Bare {
    pub fn stop(self) {
        let _ = self.stop.send(true);
    }
}

/// Start the bare hyper + tokio-rustls server on an ephemeral loopback port.
pub async fn bare(pki: &LivePki, body: Bytes) -> Result<Bare, String> {
    let cfg = bare_server_config(pki)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bare server: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let requests = Arc::new(AtomicU64::new(0));
    let (tx, mut rx) = watch::channel(false);
    let counter = requests.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
                _ = rx.changed() => break,
            };
            let _ = stream.set_nodelay(true);
            let acceptor = acceptor.clone();
            let body = body.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let Ok(Ok(tls)) =
                    tokio::time::timeout(super::client::STEP_TIMEOUT, acceptor.accept(stream))
                        .await
                else {
                    return;
                };
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let body = body.clone();
                    let counter = counter.clone();
                    async move {
                        // Read the request as the real server does.
                        let _ = req.into_body().collect().await;
                        counter.fetch_add(1, Ordering::Relaxed);
                        let mut r = Response::new(Full::new(body));
                        r.headers_mut().insert(
                            hyper::header::CONTENT_TYPE,
                            hyper::header::HeaderValue::from_static("application/xml"),
                        );
                        Ok::<_, Infallible>(r)
                    }
                });
                let conn = http1::Builder::new().serve_connection(TokioIo::new(tls), service);
                let _ =
                    tokio::time::timeout(crate::live::connection::CONNECTION_LIFETIME, conn).await;
            });
        }
    });
    Ok(Bare {
        addr,
        requests,
        stop: tx,
    })
}

/// Start a wiremock `MockServer` answering every POST with `body`.
pub async fn wiremock(body: Bytes) -> wiremock::MockServer {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body.to_vec(), "application/xml"))
        .mount(&server)
        .await;
    server
}
