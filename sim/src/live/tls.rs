//! TLS configurations, all on **ring** (docs/DESIGN.md pitfalls: one provider for the
//! workspace, installed explicitly with `builder_with_provider`, never picked from
//! cargo features at run time).
//!
//! The eligibility server requires a client certificate and judges it with
//! [`VirtualClockClientVerifier`]: chain, validity **on the virtual clock**,
//! revocation (CRL) and key usage come from [`fakes::pki::Verifier`], which gives
//! each fault its own reason; the reason is logged (`tracing` warn) and mapped to the
//! matching TLS alert. Binding the certificate's institution code to the request's
//! `MedicalInstitutionCode` happens per request, in [`super::eligibility`].
//!
//! The handshake is not the only gate (issue 14 #1): a resumed TLS 1.3 or 1.2
//! session and a kept-alive connection skip [`ClientCertVerifier`], so every request
//! on the eligibility API is judged again with [`VirtualClockClientVerifier::recheck`]
//! — the same [`fakes::pki::Verifier`] rule on the certificate the connection carries
//! (rustls restores it on resumption), at the virtual instant of the request, against
//! the revocations published so far ([`VirtualClockClientVerifier::publish_crl`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use chrono::NaiveDateTime;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, ServerConfig,
    SignatureScheme,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};

use fakes::codes::InstitutionCode;
use fakes::pki::{institution_of_der, CertSpec, Issued, PkiError, Purpose, Refusal, Verifier};

use super::clock::VirtualClock;
use super::pki::LivePki;

/// The one crypto provider of the live services.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Judges terminal client certificates on the virtual clock.
#[derive(Debug)]
pub struct VirtualClockClientVerifier {
    /// The verifier for the CRL published last; replaced by [`Self::publish_crl`].
    verifier: RwLock<Arc<Verifier>>,
    /// Bumped on every [`Self::publish_crl`]: a cached verdict of an older
    /// generation is judged again.
    generation: AtomicU64,
    clock: Arc<VirtualClock>,
    algs: WebPkiSupportedAlgorithms,
}

/// The client certificate a connection carries (from the full handshake, or restored
/// by rustls on resumption), with the last verdict on it.
#[derive(Debug)]
pub struct PeerCertificate {
    der: Vec<u8>,
    /// `(generation, not_after + 9 h)` of the last acceptance: until the virtual clock
    /// passes that instant and while no new CRL is published, the verdict stands.
    /// Sound because the clock never goes back and every revocation is published
    /// dated at or before the virtual instant it is published at.
    accepted: Mutex<Option<(u64, NaiveDateTime)>>,
}

impl PeerCertificate {
    pub fn new(der: Vec<u8>) -> Self {
        PeerCertificate {
            der,
            accepted: Mutex::new(None),
        }
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }
}

impl VirtualClockClientVerifier {
    pub fn new(verifier: Verifier, clock: Arc<VirtualClock>, provider: &CryptoProvider) -> Self {
        VirtualClockClientVerifier {
            verifier: RwLock::new(Arc::new(verifier)),
            generation: AtomicU64::new(0),
            clock,
            algs: provider.signature_verification_algorithms,
        }
    }

    /// Judge with `verifier` from now on (a CRL published after the handshake):
    /// every connection's next request is judged again.
    pub fn publish_crl(&self, verifier: Verifier) {
        let mut w = self.verifier.write().unwrap_or_else(|e| e.into_inner());
        *w = Arc::new(verifier);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn current(&self) -> (u64, Arc<Verifier>) {
        let r = self.verifier.read().unwrap_or_else(|e| e.into_inner());
        (self.generation.load(Ordering::SeqCst), r.clone())
    }

    /// The verdict on the certificate of a connection at the virtual instant of a
    /// request: the same rule as the handshake ([`Self::judge`]), skipped only while
    /// the last acceptance provably still holds (same CRL, clock before `notAfter`).
    pub fn recheck(&self, peer: &PeerCertificate) -> Result<(), Refusal> {
        let now = self.clock.now_naive();
        let (generation, verifier) = self.current();
        {
            let cached = peer.accepted.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((g, until)) = *cached {
                if g == generation && now <= until {
                    return Ok(());
                }
            }
        }
        let a = Self::judge_with(&verifier, &peer.der, now)?;
        // Certificate times are UTC, the virtual clock is Japan time (UTC+9).
        let until = a.not_after + chrono::Duration::hours(9);
        *peer.accepted.lock().unwrap_or_else(|e| e.into_inner()) = Some((generation, until));
        Ok(())
    }

    /// The verdict on a certificate now (virtual), without TLS.
    pub fn judge(&self, der: &[u8]) -> Result<fakes::pki::Accepted, Refusal> {
        let (_, verifier) = self.current();
        Self::judge_with(&verifier, der, self.clock.now_naive())
    }

    fn judge_with(
        verifier: &Verifier,
        der: &[u8],
        now: NaiveDateTime,
    ) -> Result<fakes::pki::Accepted, Refusal> {
        // The purpose names the certificate's own institution: chain, dates, CRL and
        // usage are judged here; the binding to the request comes later.
        let code = institution_of_der(der)
            .and_then(|s| s.parse::<InstitutionCode>().ok())
            .ok_or(Refusal::NoInstitution);
        match code {
            Ok(code) => verifier.verify(der, &Purpose::Client(code), now),
            // Still report chain or date faults before the missing institution.
            Err(no) => match verifier.verify(der, &Purpose::Server, now) {
                Ok(_) | Err(Refusal::WrongKeyUsage { .. }) => Err(no),
                Err(r) => Err(r),
            },
        }
    }
}

fn to_tls_error(r: &Refusal) -> rustls::Error {
    let e = match r {
        Refusal::Expired { .. } => CertificateError::Expired,
        Refusal::NotYetValid { .. } => CertificateError::NotValidYet,
        Refusal::Revoked { .. } => CertificateError::Revoked,
        Refusal::UnknownCa { .. } | Refusal::CaRetired { .. } | Refusal::CaNotYetTrusted { .. } => {
            CertificateError::UnknownIssuer
        }
        Refusal::Malformed(_) => CertificateError::BadEncoding,
        Refusal::WrongKeyUsage { .. } => CertificateError::InvalidPurpose,
        Refusal::OtherInstitution { .. } | Refusal::NoInstitution => {
            CertificateError::ApplicationVerificationFailure
        }
    };
    rustls::Error::InvalidCertificate(e)
}

impl ClientCertVerifier for VirtualClockClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: clients send the certificate they were given, so a wrong-CA
        // certificate reaches the verifier and is refused with its own reason.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match self.judge(end_entity.as_ref()) {
            Ok(a) => {
                tracing::info!(
                    virtual_now = %self.clock.now(),
                    institution = a.institution.as_deref().unwrap_or("-"),
                    serial = %a.serial,
                    "client certificate accepted"
                );
                Ok(ClientCertVerified::assertion())
            }
            Err(r) => {
                tracing::warn!(
                    refusal = r.code(),
                    reason = %r,
                    virtual_now = %self.clock.now(),
                    "client certificate refused"
                );
                Err(to_tls_error(&r))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// The common name of the eligibility server's certificate, as [`LivePki::new`]
/// issues it.
const SERVER_CN: &str = "onsim-eligibility";

/// The eligibility server's certificate for clients that reach it as `host` (`onsim
/// serve --advertise`, e.g. a container's service name): the same CA, validity and
/// profile as [`LivePki::new`]'s, with `host` added to the subject alternative names
/// (a DNS name, or an IP address entry when `host` is one). `None` when the loopback
/// names (`localhost`, `127.0.0.1`, `::1`) already cover `host`, so a loopback run
/// keeps its certificate. The label names the host *(our choice)*, so the serial
/// differs from the loopback certificate's; serial, key and names are a function of
/// seed and host (the ECDSA signature, as every ring signature, is not).
pub fn server_certificate_for(pki: &LivePki, host: &str) -> Result<Option<Issued>, PkiError> {
    let mut spec = CertSpec::server(SERVER_CN, pki.server.not_before, pki.server.not_after);
    if spec
        .subject_alt_names
        .iter()
        .any(|n| n.eq_ignore_ascii_case(host))
    {
        return Ok(None);
    }
    spec.label = format!("{}@{host}", spec.label);
    spec.subject_alt_names.push(host.to_string());
    pki.server_ca.issue(&spec).map(Some)
}

/// The eligibility server: TLS 1.2 and 1.3, client certificate required.
pub fn server_config(
    pki: &LivePki,
    clock: Arc<VirtualClock>,
) -> Result<ServerConfig, rustls::Error> {
    let provider = provider();
    let verifier = Arc::new(VirtualClockClientVerifier::new(
        pki.verifier.clone(),
        clock,
        &provider,
    ));
    server_config_with(pki, verifier)
}

/// As [`server_config`], judging client certificates with `verifier` (shared with
/// the per-request [`VirtualClockClientVerifier::recheck`]).
pub fn server_config_with(
    pki: &LivePki,
    verifier: Arc<VirtualClockClientVerifier>,
) -> Result<ServerConfig, rustls::Error> {
    let provider = provider();
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(pki.server.der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server.key.pkcs8.clone())),
        )?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// A terminal's client configuration: trusts `ca_der`, presents `cert_der` + key.
pub fn client_config(
    ca_der: &[u8],
    cert_der: &[u8],
    key_pkcs8: &[u8],
) -> Result<ClientConfig, rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(ca_der.to_vec()))?;
    ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from(cert_der.to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8.to_vec())),
        )
}

/// Read the first certificate of a PEM text (rustls-pki-types, not rustls-pemfile).
pub fn pem_cert(pem: &str) -> Option<Vec<u8>> {
    use rustls_pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()?
        .ok()
        .map(|c| c.as_ref().to_vec())
}

/// Read a PKCS#8 private key from PEM.
pub fn pem_key(pem: &str) -> Option<Vec<u8>> {
    use rustls_pki_types::pem::PemObject;
    PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
        .ok()
        .map(|k| k.secret_pkcs8_der().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::pki::{expected_refusal, MATRIX};
    use chrono::NaiveDate;
    use fakes::time::VirtualTime;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn pki() -> (LivePki, Arc<VirtualClock>) {
        let start = NaiveDate::from_ymd_opt(2025, 4, 1).unwrap();
        let pki = LivePki::new(
            3,
            start,
            crate::live::clinic_institution(),
            crate::live::other_institution(),
        )
        .unwrap();
        let clock = Arc::new(VirtualClock::new(VirtualTime::at(start, 9, 0), 0.0).unwrap());
        (pki, clock)
    }

    /// Every TLS configuration the live services build, on the ring provider (the
    /// docs/DESIGN.md pitfall: a second provider compiled in makes `builder()` panic).
    #[test]
    fn every_tls_config_builds() {
        let (pki, clock) = pki();
        server_config(&pki, clock).unwrap();
        for (_, c) in &pki.matrix {
            client_config(pki.server_ca.cert_der(), &c.der, &c.key.pkcs8).unwrap();
        }
        // PEM round trip through rustls-pki-types, as clients read the files.
        let (_, valid) = &pki.matrix[0];
        assert_eq!(pem_cert(&valid.pem()).unwrap(), valid.der);
        assert_eq!(pem_key(&valid.key.pem()).unwrap(), valid.key.pkcs8);
    }

    #[test]
    fn matrix_verdicts_on_the_virtual_clock() {
        let (pki, clock) = pki();
        let v = VirtualClockClientVerifier::new(pki.verifier.clone(), clock.clone(), &provider());
        for (name, c) in &pki.matrix {
            let got = v.judge(&c.der).err().map(|r| r.code());
            // other-institution passes the handshake; the request binding refuses it.
            let want = expected_refusal(name).filter(|r| *r != "other-institution");
            assert_eq!(got, want, "{name}");
        }
        // Two years on, not-yet-valid becomes valid: the verdict follows the clock.
        clock
            .advance_to(VirtualTime::at(
                NaiveDate::from_ymd_opt(2027, 4, 2).unwrap(),
                9,
                0,
            ))
            .unwrap();
        let nyv = &pki
            .matrix
            .iter()
            .find(|(n, _)| *n == "not-yet-valid")
            .unwrap()
            .1;
        assert!(v.judge(&nyv.der).is_ok());
        assert!(MATRIX.len() == 6);
    }

    /// A real handshake over loopback with tokio-rustls: valid passes, expired fails.
    #[tokio::test]
    async fn handshake_on_loopback() {
        let (pki, clock) = pki();
        let acceptor =
            tokio_rustls::TlsAcceptor::from(Arc::new(server_config(&pki, clock).unwrap()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for _ in 0..2 {
                let Ok((s, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(mut t) = acceptor.accept(s).await {
                        let _ = t.write_all(b"ok").await;
                        let _ = t.shutdown().await;
                    }
                });
            }
        });
        for (name, ok) in [("valid", true), ("expired", false)] {
            let c = &pki.matrix.iter().find(|(n, _)| *n == name).unwrap().1;
            let cfg = client_config(pki.server_ca.cert_der(), &c.der, &c.key.pkcs8).unwrap();
            let conn = tokio_rustls::TlsConnector::from(Arc::new(cfg));
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let name_ = rustls_pki_types::ServerName::try_from("localhost").unwrap();
            let r = tokio::time::timeout(std::time::Duration::from_secs(5), async {
                let mut t = conn.connect(name_, tcp).await?;
                let mut buf = Vec::new();
                t.read_to_end(&mut buf).await?;
                Ok::<_, std::io::Error>(buf)
            })
            .await
            .unwrap();
            assert_eq!(
                r.as_deref().ok() == Some(b"ok".as_slice()),
                ok,
                "{name}: {r:?}"
            );
        }
    }

    /// `--advertise HOST`: the re-issued server certificate names HOST (DNS name or
    /// IP) besides the loopback names; a loopback host keeps the original.
    #[test]
    fn advertised_host_is_in_the_server_certificate() {
        use rustls::client::danger::ServerCertVerifier;
        let (pki, _) = pki();
        for same in ["localhost", "LOCALHOST", "127.0.0.1", "::1"] {
            assert!(
                server_certificate_for(&pki, same).unwrap().is_none(),
                "{same}"
            );
        }
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(pki.server_ca.cert_der().to_vec()))
            .unwrap();
        let v = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            provider(),
        )
        .build()
        .unwrap();
        // 2025-06-15, inside the server certificate's 2020-2049 window.
        let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_750_000_000));
        let accepts = |c: &Issued, host: &str| {
            let name = rustls_pki_types::ServerName::try_from(host.to_string()).unwrap();
            v.verify_server_cert(&CertificateDer::from(c.der.clone()), &[], &name, &[], now)
                .is_ok()
        };
        assert!(accepts(&pki.server, "localhost"));
        assert!(
            !accepts(&pki.server, "onsim"),
            "not named before --advertise"
        );
        for host in ["onsim", "onsim.example.jp", "192.0.2.7", "fd00::7"] {
            let c = server_certificate_for(&pki, host).unwrap().unwrap();
            assert!(accepts(&c, host), "{host}");
            assert!(accepts(&c, "localhost"), "{host}: loopback names kept");
            assert!(!accepts(&c, "elsewhere"), "{host}: no other name");
            assert_ne!(c.serial, pki.server.serial, "{host}: its own serial");
            let again = server_certificate_for(&pki, host).unwrap().unwrap();
            assert_eq!(again.serial, c.serial, "{host}: the serial is the host's");
            assert_eq!(
                again.key.pkcs8, c.key.pkcs8,
                "{host}: the key is the seed's"
            );
        }
    }
}
