//! Certificates (電子証明書): the JPKI-like CA that issues the card's RSA-2048
//! user-authentication certificates, the implementing body's CA that issues one client
//! certificate per terminal PC bound to an institution code, and server certificates for
//! the fakes on loopback. A [`Verifier`] judges certificates on a virtual clock and
//! refuses each fault with its own [`Refusal`].
//!
//! Crates: `rcgen` (issuing; ring backend only, aws-lc-rs is not compiled in),
//! `x509-parser` with `verify` (parsing, signature checks via ring), `rsa` (RSA-2048 key
//! generation from a seeded ChaCha20 RNG, and raw PKCS#1 v1.5 signing on the card),
//! `p256` (seeded ECDSA keys, since ring generates keys only from the system RNG).

mod expiry;
mod issue;
pub mod keys;
mod verify;

pub use expiry::{expiry_status, expiry_warning, ExpiryStatus, WARNING_DAYS};
pub use issue::{
    pem_encode, Authority, CertSpec, Issued, KeyMaterial, KeySpec, Revocation,
    CLIENT_CERT_VALIDITY_MONTHS, INSTITUTION_ATTR_OID,
};
pub use rcgen::{ExtendedKeyUsagePurpose, KeyUsagePurpose};
pub use verify::{institution_of_der, not_after_of, Accepted, Anchor, Purpose, Refusal, Verifier};

use chrono::NaiveDate;

/// Failure to *make* certificates (never a verdict on one: that is [`Refusal`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkiError {
    #[error("certificate generation failed: {0}")]
    Generate(String),
    #[error("date {0} cannot go into a certificate (years 1950-9999)")]
    Date(NaiveDate),
}

#[cfg(test)]
mod tests;
