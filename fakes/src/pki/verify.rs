//! Judging a certificate on the **virtual clock**: the caller passes `now`; the wall
//! clock is never read. Each fault is refused with its own [`Refusal`], so a scenario
//! can assert *why* a terminal or a card was turned away.

use std::fmt;

/// Japan Standard Time is UTC+9 all year (no daylight saving).
pub const JST_OFFSET_HOURS: i64 = 9;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::{FromDer, X509Name};
use x509_parser::revocation_list::CertificateRevocationList;
use x509_parser::time::ASN1Time;

use super::issue::INSTITUTION_ATTR_OID;
use crate::codes::InstitutionCode;

/// What a certificate is being accepted for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// A card's user-authentication certificate (利用者証明用): digitalSignature, not a CA.
    CardAuth,
    /// A terminal's client certificate for this institution: clientAuth EKU, and the
    /// subject's institution code must match.
    Client(InstitutionCode),
    /// A fake's TLS server certificate: serverAuth EKU.
    Server,
}

/// Why a certificate was refused. Every variant is a distinct fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not DER X.509 at all.
    Malformed(String),
    /// Past notAfter (有効期限切れ).
    Expired { not_after: NaiveDateTime },
    /// Before notBefore (有効期間前).
    NotYetValid { not_before: NaiveDateTime },
    /// Listed on the issuer's CRL (失効).
    Revoked {
        serial: String,
        since: NaiveDateTime,
    },
    /// Bound to a different institution code than the one it is used for.
    OtherInstitution { expected: String, found: String },
    /// A client certificate that names no institution at all.
    NoInstitution,
    /// Key usage or extended key usage does not allow this purpose.
    WrongKeyUsage { purpose: String, detail: String },
    /// Issued by a CA this verifier does not know (or the signature does not check).
    UnknownCa { issuer: String },
    /// Issued by an old CA generation whose trust ended on `until` (CA rotation).
    CaRetired { ca: String, until: NaiveDate },
    /// Issued by a new CA generation that is trusted only from `from` (CA rotation).
    CaNotYetTrusted { ca: String, from: NaiveDate },
}

impl Refusal {
    /// A stable short code per variant (for reports and assertions).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Malformed(_) => "malformed",
            Refusal::Expired { .. } => "expired",
            Refusal::NotYetValid { .. } => "not-yet-valid",
            Refusal::Revoked { .. } => "revoked",
            Refusal::OtherInstitution { .. } => "other-institution",
            Refusal::NoInstitution => "no-institution",
            Refusal::WrongKeyUsage { .. } => "wrong-key-usage",
            Refusal::UnknownCa { .. } => "unknown-ca",
            Refusal::CaRetired { .. } => "ca-retired",
            Refusal::CaNotYetTrusted { .. } => "ca-not-yet-trusted",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Malformed(e) => write!(f, "certificate is not valid DER X.509: {e}"),
            Refusal::Expired { not_after } => write!(f, "certificate expired: valid until {not_after} UTC"),
            Refusal::NotYetValid { not_before } => write!(f, "certificate not yet valid: valid from {not_before} UTC"),
            Refusal::Revoked { serial, since } => write!(f, "certificate revoked: serial {serial} is on the CRL since {since} UTC"),
            Refusal::OtherInstitution { expected, found } => write!(f, "certificate is bound to institution {found}, not {expected}"),
            Refusal::NoInstitution => write!(f, "client certificate names no institution code (subject serialNumber missing)"),
            Refusal::WrongKeyUsage { purpose, detail } => write!(f, "certificate may not be used for {purpose}: {detail}"),
            Refusal::UnknownCa { issuer } => write!(f, "certificate issued by an unknown CA: {issuer}"),
            Refusal::CaRetired { ca, until } => write!(f, "certificate issued by retired CA {ca} (trusted until {until}); a certificate from the current CA is needed"),
            Refusal::CaNotYetTrusted { ca, from } => write!(f, "certificate issued by new CA {ca}, trusted only from {from}"),
        }
    }
}

impl std::error::Error for Refusal {}

/// A trusted CA, with the dates between which it is trusted (CA rotation: the old
/// generation gets an end date, the new one a start date).
#[derive(Debug, Clone)]
pub struct Anchor {
    pub der: Vec<u8>,
    pub trusted_from: Option<NaiveDate>,
    pub trusted_until: Option<NaiveDate>,
}

/// What the verifier learnt about an accepted certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_after: NaiveDateTime,
    pub institution: Option<String>,
}

/// Trust anchors plus CRLs. Cheap to build; parses on each call (no caching of
/// parsed state, so it stays `Clone` and `Send`).
#[derive(Debug, Clone, Default)]
pub struct Verifier {
    anchors: Vec<Anchor>,
    crls: Vec<Vec<u8>>,
}

impl Verifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Trust a CA with no date limits.
    pub fn trust(mut self, ca_der: &[u8]) -> Self {
        self.anchors.push(Anchor {
            der: ca_der.to_vec(),
            trusted_from: None,
            trusted_until: None,
        });
        self
    }

    /// Trust a CA only within a window (CA rotation).
    pub fn trust_between(
        mut self,
        ca_der: &[u8],
        from: Option<NaiveDate>,
        until: Option<NaiveDate>,
    ) -> Self {
        self.anchors.push(Anchor {
            der: ca_der.to_vec(),
            trusted_from: from,
            trusted_until: until,
        });
        self
    }

    /// Add a CRL (DER). CRLs whose signature does not check against a trusted CA are ignored.
    pub fn with_crl(mut self, crl_der: &[u8]) -> Self {
        self.crls.push(crl_der.to_vec());
        self
    }

    /// Accept `cert_der` for `purpose` at virtual time `now`, or say why not.
    ///
    /// `now` is Japan time, the zone of the virtual clock; certificate times are UTC,
    /// so `now` is moved back 9 hours before it is compared with them.
    pub fn verify(
        &self,
        cert_der: &[u8],
        purpose: &Purpose,
        now: NaiveDateTime,
    ) -> Result<Accepted, Refusal> {
        let now = now - chrono::Duration::hours(JST_OFFSET_HOURS);
        let (_, cert) =
            X509Certificate::from_der(cert_der).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let anchor = self.find_anchor(&cert)?;
        let ca_name = name_of(cert.issuer());
        let today = now.date();
        if let Some(until) = anchor.trusted_until {
            if today > until {
                return Err(Refusal::CaRetired { ca: ca_name, until });
            }
        }
        if let Some(from) = anchor.trusted_from {
            if today < from {
                return Err(Refusal::CaNotYetTrusted { ca: ca_name, from });
            }
        }
        let not_before = to_naive(cert.validity().not_before);
        let not_after = to_naive(cert.validity().not_after);
        if now < not_before {
            return Err(Refusal::NotYetValid { not_before });
        }
        if now > not_after {
            return Err(Refusal::Expired { not_after });
        }
        if let Some(since) = self.revoked_since(&cert, anchor, now) {
            return Err(Refusal::Revoked {
                serial: cert.raw_serial_as_string(),
                since,
            });
        }
        check_usage(&cert, purpose)?;
        let institution = institution_of(&cert);
        if let Purpose::Client(expected) = purpose {
            let expected = expected.to_string();
            match &institution {
                None => return Err(Refusal::NoInstitution),
                Some(found) if *found != expected => {
                    return Err(Refusal::OtherInstitution {
                        expected,
                        found: found.clone(),
                    })
                }
                Some(_) => {}
            }
        }
        Ok(Accepted {
            subject: name_of(cert.subject()),
            issuer: ca_name,
            serial: cert.raw_serial_as_string(),
            not_after,
            institution,
        })
    }

    fn find_anchor(&self, cert: &X509Certificate<'_>) -> Result<&Anchor, Refusal> {
        for a in &self.anchors {
            let Ok((_, ca)) = X509Certificate::from_der(&a.der) else {
                continue;
            };
            if ca.subject().as_raw() == cert.issuer().as_raw()
                && cert.verify_signature(Some(ca.public_key())).is_ok()
            {
                return Ok(a);
            }
        }
        Err(Refusal::UnknownCa {
            issuer: name_of(cert.issuer()),
        })
    }

    fn revoked_since(
        &self,
        cert: &X509Certificate<'_>,
        anchor: &Anchor,
        now: NaiveDateTime,
    ) -> Option<NaiveDateTime> {
        let (_, ca) = X509Certificate::from_der(&anchor.der).ok()?;
        for der in &self.crls {
            let Ok((_, crl)) = CertificateRevocationList::from_der(der) else {
                continue;
            };
            if crl.issuer().as_raw() != ca.subject().as_raw()
                || crl.verify_signature(ca.public_key()).is_err()
            {
                continue;
            }
            for r in crl.iter_revoked_certificates() {
                let since = to_naive(r.revocation_date);
                if r.raw_serial() == cert.raw_serial() && since <= now {
                    return Some(since);
                }
            }
        }
        None
    }
}

fn check_usage(cert: &X509Certificate<'_>, purpose: &Purpose) -> Result<(), Refusal> {
    let wrong = |detail: &str| Refusal::WrongKeyUsage {
        purpose: match purpose {
            Purpose::CardAuth => "card user authentication".into(),
            Purpose::Client(_) => "terminal client authentication".into(),
            Purpose::Server => "TLS server".into(),
        },
        detail: detail.into(),
    };
    let ku = cert
        .key_usage()
        .map_err(|e| Refusal::Malformed(e.to_string()))?;
    let eku = cert
        .extended_key_usage()
        .map_err(|e| Refusal::Malformed(e.to_string()))?;
    let is_ca = cert.is_ca();
    if is_ca {
        return Err(wrong("a CA certificate is not an end-entity certificate"));
    }
    let digital_signature = ku
        .as_ref()
        .map(|k| k.value.digital_signature())
        .unwrap_or(false);
    match purpose {
        Purpose::CardAuth => {
            if !digital_signature {
                return Err(wrong("keyUsage lacks digitalSignature"));
            }
        }
        Purpose::Client(_) => {
            if !digital_signature {
                return Err(wrong("keyUsage lacks digitalSignature"));
            }
            if !eku
                .as_ref()
                .map(|e| e.value.client_auth || e.value.any)
                .unwrap_or(false)
            {
                return Err(wrong("extendedKeyUsage lacks clientAuth"));
            }
        }
        Purpose::Server => {
            if !eku
                .as_ref()
                .map(|e| e.value.server_auth || e.value.any)
                .unwrap_or(false)
            {
                return Err(wrong("extendedKeyUsage lacks serverAuth"));
            }
        }
    }
    Ok(())
}

/// The institution code a client certificate is bound to (subject serialNumber, see
/// [`INSTITUTION_ATTR_OID`]).
pub fn institution_of(cert: &X509Certificate<'_>) -> Option<String> {
    let oid = x509_parser::oid_registry::Oid::from(&INSTITUTION_ATTR_OID).ok()?;
    cert.subject()
        .iter_attributes()
        .find(|a| a.attr_type() == &oid)
        .and_then(|a| a.as_str().ok())
        .map(str::to_string)
}

/// The institution code of a DER certificate, if it carries one.
pub fn institution_of_der(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    institution_of(&cert)
}

/// notAfter of a DER certificate as a date (for expiry warnings).
pub fn not_after_of(der: &[u8]) -> Option<NaiveDate> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(to_naive(cert.validity().not_after).date())
}

fn name_of(n: &X509Name<'_>) -> String {
    n.iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| n.to_string())
}

fn to_naive(t: ASN1Time) -> NaiveDateTime {
    DateTime::from_timestamp(t.timestamp(), 0)
        .map(|d| d.naive_utc())
        .unwrap_or(NaiveDateTime::MIN)
}
