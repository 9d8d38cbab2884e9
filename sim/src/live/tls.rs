//! TLS configurations, all on **ring** (DESIGN.md pitfalls: one provider for the
//! workspace, installed explicitly with `builder_with_provider`, never picked from
//! cargo features at run time).
//!
//! The eligibility server requires a client certificate and judges it with
//! [`VirtualClockClientVerifier`]: chain, validity **on the virtual clock**,
//! revocation (CRL) and key usage come from [`fakes::pki::Verifier`], which gives
//! each fault its own reason; the reason is logged (`tracing` warn) and mapped to the
//! matching TLS alert. Binding the certificate's institution code to the request's
//! `MedicalInstitutionCode` happens per request, in [`super::eligibility`].

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};

use fakes::codes::InstitutionCode;
use fakes::pki::{institution_of_der, Purpose, Refusal, Verifier};

use super::clock::VirtualClock;
use super::pki::LivePki;

/// The one crypto provider of the live services.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Judges terminal client certificates on the virtual clock.
#[derive(Debug)]
pub struct VirtualClockClientVerifier {
    verifier: Verifier,
    clock: Arc<VirtualClock>,
    algs: WebPkiSupportedAlgorithms,
}

impl VirtualClockClientVerifier {
    pub fn new(verifier: Verifier, clock: Arc<VirtualClock>, provider: &CryptoProvider) -> Self {
        VirtualClockClientVerifier {
            verifier,
            clock,
            algs: provider.signature_verification_algorithms,
        }
    }

    /// The verdict on a certificate now (virtual), without TLS.
    pub fn judge(&self, der: &[u8]) -> Result<fakes::pki::Accepted, Refusal> {
        let now = self.clock.now_naive();
        // The purpose names the certificate's own institution: chain, dates, CRL and
        // usage are judged here; the binding to the request comes later.
        let code = institution_of_der(der)
            .and_then(|s| s.parse::<InstitutionCode>().ok())
            .ok_or(Refusal::NoInstitution);
        match code {
            Ok(code) => self.verifier.verify(der, &Purpose::Client(code), now),
            // Still report chain or date faults before the missing institution.
            Err(no) => match self.verifier.verify(der, &Purpose::Server, now) {
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

/// The eligibility server: TLS 1.2 and 1.3, client certificate required.
pub fn server_config(pki: &LivePki, clock: Arc<VirtualClock>) -> Result<ServerConfig, rustls::Error> {
    let provider = provider();
    let verifier = Arc::new(VirtualClockClientVerifier::new(
        pki.verifier.clone(),
        clock,
        &provider,
    ));
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
