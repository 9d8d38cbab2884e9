//! Certificate authorities and what they issue.
//!
//! Three authorities exist in the world (docs/DOMAIN.md §2, §7, §8):
//! - the JPKI CA (地方公共団体情報システム機構, J-LIS, in reality) issuing the card's
//!   user-authentication (利用者証明用) and signing (署名用) certificates, RSA-2048;
//! - the implementing body's CA (医療保険情報提供等実施機関) issuing one client
//!   certificate per terminal PC, bound to an institution code;
//! - a CA for the fakes' own TLS server certificates (localhost / 127.0.0.1).
//!
//! Everything is reproducible from the seed: keys come from [`super::keys`], serial
//! numbers are hashes of the seed and the certificate's label. (ECDSA signatures made by
//! ring use a random nonce, so the *bytes* of an ECDSA-signed certificate differ between
//! runs even though every field and key is the same; RSA signatures are deterministic.)

use std::sync::Arc;

use chrono::{Datelike, Months, NaiveDate};
use rcgen::{
    CertificateParams, CertificateRevocationListParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevokedCertParams, SerialNumber, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
};
use rsa::RsaPrivateKey;
use sha2::{Digest, Sha256};

use super::keys;
use super::PkiError;
use crate::codes::InstitutionCode;

/// Validity of a terminal client certificate: 3 years 3 months (docs/DOMAIN.md §7).
pub const CLIENT_CERT_VALIDITY_MONTHS: u32 = 39;

/// The subject attribute that carries the institution code in a client certificate.
///
/// Our choice (the real subject layout is not public): the 10-digit code goes into the
/// X.520 `serialNumber` attribute (OID 2.5.4.5) of the subject, the attribute meant
/// for "an identifier of the subject"; CN names the terminal. One place to read it
/// back: [`super::verify::institution_of`].
pub const INSTITUTION_ATTR_OID: [u64; 4] = [2, 5, 4, 5];

/// Which key a certificate gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySpec {
    /// RSA-2048 derived from (seed, label); cached, see [`keys::rsa_key`].
    Rsa2048(String),
    /// ECDSA P-256 derived from (seed, label).
    P256(String),
}

/// A key pair in the forms the rest of the code needs.
#[derive(Clone)]
pub struct KeyMaterial {
    /// PKCS#8 DER, for rcgen, rustls and PEM export.
    pub pkcs8: Vec<u8>,
    /// The RSA key itself when it is one (the card signs with it).
    pub rsa: Option<Arc<RsaPrivateKey>>,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.rsa.is_some() {
            "KeyMaterial(RSA-2048, secret)"
        } else {
            "KeyMaterial(P-256, secret)"
        })
    }
}

impl KeyMaterial {
    pub fn derive(seed: u64, spec: &KeySpec) -> KeyMaterial {
        match spec {
            KeySpec::Rsa2048(label) => {
                let rsa = keys::rsa_key(seed, label);
                KeyMaterial {
                    pkcs8: keys::rsa_pkcs8(&rsa),
                    rsa: Some(rsa),
                }
            }
            KeySpec::P256(label) => KeyMaterial {
                pkcs8: keys::p256_pkcs8(seed, label),
                rsa: None,
            },
        }
    }

    fn key_pair(&self) -> Result<KeyPair, PkiError> {
        let alg = if self.rsa.is_some() {
            &PKCS_RSA_SHA256
        } else {
            &PKCS_ECDSA_P256_SHA256
        };
        KeyPair::from_pkcs8_der_and_sign_algo(&self.pkcs8.as_slice().into(), alg)
            .map_err(|e| PkiError::Generate(e.to_string()))
    }

    /// The private key as PEM (`PRIVATE KEY`, PKCS#8).
    pub fn pem(&self) -> String {
        pem_encode("PRIVATE KEY", &self.pkcs8)
    }
}

/// What to put in a certificate. The constructors give the normal profile of each kind;
/// fault scenarios change a field (dates, usages, institution) before issuing.
#[derive(Debug, Clone)]
pub struct CertSpec {
    /// Label: names the key and the serial number; not personal data.
    pub label: String,
    pub common_name: String,
    pub organization: Option<String>,
    /// Institution code for the subject's serialNumber attribute (client certificates).
    pub institution: Option<String>,
    pub not_before: NaiveDate,
    pub not_after: NaiveDate,
    pub key: KeySpec,
    pub key_usages: Vec<KeyUsagePurpose>,
    pub extended_key_usages: Vec<ExtendedKeyUsagePurpose>,
    pub subject_alt_names: Vec<String>,
}

impl CertSpec {
    /// A card's user-authentication certificate (利用者証明用電子証明書): RSA-2048,
    /// digitalSignature only. Like the real one it carries no personal data; CN is an
    /// opaque card label.
    pub fn card_auth(card_label: &str, not_before: NaiveDate, not_after: NaiveDate) -> Self {
        CertSpec {
            label: format!("card-auth:{card_label}"),
            common_name: format!("JPKI user authentication {card_label}"),
            organization: None,
            institution: None,
            not_before,
            not_after,
            key: KeySpec::Rsa2048(format!("card-auth:{card_label}")),
            key_usages: vec![KeyUsagePurpose::DigitalSignature],
            extended_key_usages: vec![],
            subject_alt_names: vec![],
        }
    }

    /// A card's signing certificate (署名用電子証明書): RSA-2048, digitalSignature and
    /// nonRepudiation.
    pub fn card_sign(card_label: &str, not_before: NaiveDate, not_after: NaiveDate) -> Self {
        CertSpec {
            label: format!("card-sign:{card_label}"),
            common_name: format!("JPKI digital signature {card_label}"),
            key: KeySpec::Rsa2048(format!("card-sign:{card_label}")),
            key_usages: vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::ContentCommitment,
            ],
            ..CertSpec::card_auth(card_label, not_before, not_after)
        }
    }

    /// A terminal's client certificate (電子証明書), valid 3 years 3 months from
    /// `issued`, bound to `institution`. P-256 (our choice: the real key type is not
    /// public).
    pub fn client(institution: &InstitutionCode, terminal: &str, issued: NaiveDate) -> Self {
        let code = institution.to_string();
        CertSpec {
            label: format!("client:{code}:{terminal}"),
            common_name: format!("terminal {terminal}"),
            organization: Some(format!("onsim institution {code}")),
            institution: Some(code.clone()),
            not_before: issued,
            not_after: issued + Months::new(CLIENT_CERT_VALIDITY_MONTHS),
            key: KeySpec::P256(format!("client:{code}:{terminal}")),
            key_usages: vec![KeyUsagePurpose::DigitalSignature],
            extended_key_usages: vec![ExtendedKeyUsagePurpose::ClientAuth],
            subject_alt_names: vec![],
        }
    }

    /// A server certificate for a fake on loopback (`localhost`, `127.0.0.1`, `::1`).
    pub fn server(name: &str, not_before: NaiveDate, not_after: NaiveDate) -> Self {
        CertSpec {
            label: format!("server:{name}"),
            common_name: name.to_string(),
            organization: Some("onsim fakes".into()),
            institution: None,
            not_before,
            not_after,
            key: KeySpec::P256(format!("server:{name}")),
            key_usages: vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ],
            extended_key_usages: vec![ExtendedKeyUsagePurpose::ServerAuth],
            subject_alt_names: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
        }
    }
}

/// An issued certificate with its key.
#[derive(Debug, Clone)]
pub struct Issued {
    pub der: Vec<u8>,
    pub key: KeyMaterial,
    /// Serial number bytes (big-endian, as in the certificate), for CRLs.
    pub serial: Vec<u8>,
    pub not_before: NaiveDate,
    pub not_after: NaiveDate,
}

impl Issued {
    pub fn pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.der)
    }
}

/// A revocation entry for [`Authority::crl`].
#[derive(Debug, Clone)]
pub struct Revocation {
    pub serial: Vec<u8>,
    pub date: NaiveDate,
}

/// A certificate authority: its self-signed certificate and its key.
pub struct Authority {
    pub name: String,
    seed: u64,
    params: CertificateParams,
    key: KeyPair,
    material: KeyMaterial,
    cert_der: Vec<u8>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("name", &self.name)
            .finish()
    }
}

impl Authority {
    /// The JPKI CA of a given generation (世代; a new generation models CA rotation).
    pub fn jpki(
        seed: u64,
        generation: u32,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Self, PkiError> {
        Self::new(
            seed,
            format!("onsim JPKI User Authentication CA G{generation}"),
            "onsim J-LIS (simulated)",
            KeySpec::Rsa2048(format!("jpki-ca-g{generation}")),
            from,
            to,
        )
    }

    /// The implementing body's CA for terminal client certificates, per generation.
    pub fn implementing_body(
        seed: u64,
        generation: u32,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Self, PkiError> {
        Self::new(
            seed,
            format!("onsim Implementing Body Terminal CA G{generation}"),
            "onsim implementing body (simulated)",
            KeySpec::P256(format!("ib-ca-g{generation}")),
            from,
            to,
        )
    }

    /// The CA behind the fakes' TLS server certificates.
    pub fn fakes(seed: u64, from: NaiveDate, to: NaiveDate) -> Result<Self, PkiError> {
        Self::new(
            seed,
            "onsim fakes server CA".into(),
            "onsim fakes",
            KeySpec::P256("fakes-ca".into()),
            from,
            to,
        )
    }

    fn new(
        seed: u64,
        name: String,
        org: &str,
        key: KeySpec,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Self, PkiError> {
        let material = KeyMaterial::derive(seed, &key);
        let key = material.key_pair()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(&name, Some(org), None);
        params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = to_time(from)?;
        params.not_after = to_time(to)?;
        params.serial_number = Some(serial(seed, &format!("ca:{name}")).into());
        params.key_identifier_method = KeyIdMethod::Sha256;
        let cert_der = params
            .self_signed(&key)
            .map_err(|e| PkiError::Generate(e.to_string()))?
            .der()
            .to_vec();
        Ok(Authority {
            name,
            seed,
            params,
            key,
            material,
            cert_der,
        })
    }

    /// The CA certificate (DER).
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    pub fn cert_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.cert_der)
    }

    /// The CA's own key (for writing a `pki/` directory for live fakes).
    pub fn key(&self) -> &KeyMaterial {
        &self.material
    }

    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }

    /// Issue a certificate as described by `spec`.
    pub fn issue(&self, spec: &CertSpec) -> Result<Issued, PkiError> {
        let material = KeyMaterial::derive(self.seed, &spec.key);
        let subject_key = material.key_pair()?;
        let mut params = CertificateParams::new(spec.subject_alt_names.clone())
            .map_err(|e| PkiError::Generate(e.to_string()))?;
        params.distinguished_name = dn(
            &spec.common_name,
            spec.organization.as_deref(),
            spec.institution.as_deref(),
        );
        params.not_before = to_time(spec.not_before)?;
        params.not_after = to_time(spec.not_after)?;
        params.key_usages = spec.key_usages.clone();
        params.extended_key_usages = spec.extended_key_usages.clone();
        params.use_authority_key_identifier_extension = true;
        let serial = serial(self.seed, &format!("{}|{}", self.name, spec.label));
        params.serial_number = Some(serial.clone().into());
        let cert = params
            .signed_by(&subject_key, &self.issuer())
            .map_err(|e| PkiError::Generate(e.to_string()))?;
        Ok(Issued {
            der: cert.der().to_vec(),
            key: material,
            serial,
            not_before: spec.not_before,
            not_after: spec.not_after,
        })
    }

    /// A CRL (失効リスト) listing `revoked`, valid from `this_update` for `days`.
    pub fn crl(
        &self,
        this_update: NaiveDate,
        days: u32,
        revoked: &[Revocation],
    ) -> Result<Vec<u8>, PkiError> {
        let params = CertificateRevocationListParams {
            this_update: to_time(this_update)?,
            next_update: to_time(this_update + chrono::Days::new(u64::from(days.max(1))))?,
            crl_number: SerialNumber::from(u64::from(
                this_update.num_days_from_ce().unsigned_abs(),
            )),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|r| {
                    Ok(RevokedCertParams {
                        serial_number: SerialNumber::from(r.serial.clone()),
                        revocation_time: to_time(r.date)?,
                        reason_code: None,
                        invalidity_date: None,
                    })
                })
                .collect::<Result<_, PkiError>>()?,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params
            .signed_by(&self.issuer())
            .map_err(|e| PkiError::Generate(e.to_string()))?
            .der()
            .to_vec())
    }
}

fn dn(cn: &str, org: Option<&str>, institution: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "JP");
    if let Some(o) = org {
        dn.push(DnType::OrganizationName, o);
    }
    dn.push(DnType::CommonName, cn);
    if let Some(code) = institution {
        dn.push(DnType::CustomDnType(INSTITUTION_ATTR_OID.to_vec()), code);
    }
    dn
}

/// A positive 8-byte serial number derived from the seed and a label.
fn serial(seed: u64, label: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"onsim-serial\0");
    h.update(seed.to_be_bytes());
    h.update(label.as_bytes());
    let d = h.finalize();
    let mut s = d[..8].to_vec();
    s[0] = (s[0] & 0x7f) | 0x01; // positive, and never a leading zero byte
    s
}

fn to_time(d: NaiveDate) -> Result<time::OffsetDateTime, PkiError> {
    let month = u8::try_from(d.month()).map_err(|_| PkiError::Date(d))?;
    let day = u8::try_from(d.day()).map_err(|_| PkiError::Date(d))?;
    if !(1950..=9999).contains(&d.year()) {
        return Err(PkiError::Date(d));
    }
    Ok(rcgen::date_time_ymd(d.year(), month, day))
}

/// Minimal PEM encoder (64-column base64), so `fakes` needs no PEM crate.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(der.len() * 4 / 3 + 4);
    for chunk in der.chunks(3) {
        let n = chunk.len();
        let v = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= n {
                b64.push(T[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
