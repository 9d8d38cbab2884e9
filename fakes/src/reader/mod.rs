//! The simulated face-authentication card reader (顔認証付きカードリーダー).
//!
//! A pure function of (model, card, patient script, challenge): it talks to the
//! [`VirtualCard`] with real APDUs, accumulates *virtual* time (no clock is read), and
//! returns a [`Confirmation`]. Fallback order as in docs/DOMAIN.md §8: face match, then the
//! 4-digit PIN (暗証番号), then a visual check by staff (目視確認).
//!
//! Our choices (no public spec): with a face match the reader unlocks the card's
//! authentication key with the holder's registered PIN (the real device uses an access
//! code read from the card face; our card does not model that second path), so a locked
//! PIN also ends the face path and leaves only the visual check. A visual check yields
//! the certificate but no signature.

mod model;

pub use model::{Model, Quirk, Timing};

use std::time::Duration;

use chrono::NaiveDateTime;
use rsa::pkcs8::DecodePublicKey;
use sha2::{Digest, Sha256};
use x509_parser::prelude::FromDer;

use crate::card::{fid, VirtualCard, AID_FACE, AID_JPKI};
use crate::pki::{Accepted, Purpose, Refusal, Verifier};

/// What the camera concludes on one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceOutcome {
    Match,
    Mismatch,
    /// The camera failed (no image); the reader stops trying faces.
    CameraFault,
}

/// The patient's consent choices on the reader's screen (同意確認).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Consents {
    /// Past drug information (薬剤情報).
    pub drug_info: bool,
    /// Specific health check-up information (特定健診情報).
    pub checkup_info: bool,
    /// High-cost medical expense limit (限度額適用認定証情報).
    pub high_cost_limit: bool,
}

/// What the patient (and staff) do at the reader, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patient {
    /// One outcome per face attempt the reader makes; missing entries count as mismatch.
    pub face: Vec<FaceOutcome>,
    /// PINs typed at the keypad, in order, if asked.
    pub pins_typed: Vec<String>,
    /// Whether staff confirm identity visually when everything else failed.
    pub staff_confirms: bool,
    pub consents: Consents,
}

impl Patient {
    /// The common case: the face matches at once.
    pub fn face_match(consents: Consents) -> Patient {
        Patient {
            face: vec![FaceOutcome::Match],
            pins_typed: vec![],
            staff_confirms: true,
            consents,
        }
    }
}

/// How identity was confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Face,
    Pin,
    VisualCheck,
}

/// The card's authentication certificate and its signature over the challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIdentity {
    pub cert_der: Vec<u8>,
    pub challenge: Vec<u8>,
    /// PKCS#1 v1.5 with SHA-256 over `challenge`, made by the card.
    pub signature: Vec<u8>,
}

/// A step of the session, for reports (never personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    CardRead,
    Face(FaceOutcome),
    PinEntered { accepted: bool, tries_left: u8 },
    PinLocked,
    Signed,
    VisualCheck { confirmed: bool },
    Consents,
}

/// The result of one session at the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    pub model: Model,
    pub method: Method,
    /// The user-authentication certificate read from the card.
    pub cert_der: Vec<u8>,
    /// Present for face and PIN confirmations.
    pub identity: Option<SignedIdentity>,
    pub consents: Consents,
    /// Virtual time the session took.
    pub elapsed: Duration,
    pub steps: Vec<Step>,
}

/// Why a session ended without confirmation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReaderError {
    #[error("the card does not answer (no ATR): damaged or not inserted")]
    CardUnreadable,
    #[error("the card stopped answering mid-session (pulled out?)")]
    CardRemoved,
    #[error("card command failed with status {0:04X}")]
    Card(u16),
    #[error("identity not confirmed: face and PIN failed and staff did not confirm")]
    NotConfirmed,
}

/// A reader of one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reader {
    pub model: Model,
}

struct Session<'c> {
    card: &'c mut VirtualCard,
    elapsed: Duration,
    steps: Vec<Step>,
}

impl Session<'_> {
    fn cmd(&mut self, apdu: &[u8]) -> Result<(Vec<u8>, u16), ReaderError> {
        let mut r = self
            .card
            .exchange(apdu)
            .map_err(|_| ReaderError::CardRemoved)?;
        let sw = u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]]);
        r.truncate(r.len() - 2);
        Ok((r, sw))
    }

    fn ok(&mut self, apdu: &[u8]) -> Result<Vec<u8>, ReaderError> {
        match self.cmd(apdu)? {
            (data, 0x9000) => Ok(data),
            (_, sw) => Err(ReaderError::Card(sw)),
        }
    }

    fn select_app(&mut self, aid: &[u8; 10]) -> Result<(), ReaderError> {
        let mut a = vec![0x00, 0xA4, 0x04, 0x0C, 0x0A];
        a.extend_from_slice(aid);
        self.ok(&a).map(drop)
    }

    fn select_ef(&mut self, f: u16) -> Result<(), ReaderError> {
        let [h, l] = f.to_be_bytes();
        self.ok(&[0x00, 0xA4, 0x02, 0x0C, 0x02, h, l]).map(drop)
    }

    /// Read a whole transparent EF in 256-byte chunks (until a short chunk or 6B00).
    fn read_all(&mut self) -> Result<Vec<u8>, ReaderError> {
        let mut out = Vec::new();
        loop {
            let [p1, p2] = u16::try_from(out.len()).unwrap_or(u16::MAX).to_be_bytes();
            match self.cmd(&[0x00, 0xB0, p1, p2, 0x00])? {
                (d, 0x9000) => {
                    let short = d.len() < 256;
                    out.extend(d);
                    if short {
                        return Ok(out);
                    }
                }
                (_, 0x6B00) if !out.is_empty() => return Ok(out),
                (_, sw) => return Err(ReaderError::Card(sw)),
            }
        }
    }

    /// VERIFY the auth PIN: `Ok(true)` accepted, `Ok(false)` wrong, `Err` otherwise.
    fn verify_pin(&mut self, pin: &str) -> Result<PinResult, ReaderError> {
        self.select_ef(fid::AUTH_PIN)?;
        let mut a = vec![0x00, 0x20, 0x00, 0x80, pin.len().min(255) as u8];
        a.extend(pin.bytes().take(255));
        Ok(match self.cmd(&a)?.1 {
            0x9000 => PinResult::Accepted,
            0x6983 | 0x63C0 => PinResult::Locked,
            sw if sw & 0xFFF0 == 0x63C0 => PinResult::Wrong((sw & 0x0F) as u8),
            sw => return Err(ReaderError::Card(sw)),
        })
    }

    fn sign(&mut self, challenge: &[u8]) -> Result<Vec<u8>, ReaderError> {
        self.select_ef(fid::AUTH_KEY)?;
        let di = digest_info_sha256(challenge);
        let mut a = vec![0x80, 0x2A, 0x00, 0x80, di.len() as u8];
        a.extend(&di);
        a.push(0x00);
        self.ok(&a)
    }
}

enum PinResult {
    Accepted,
    Wrong(u8),
    Locked,
}

/// DER DigestInfo for SHA-256 of `msg` (what the card signs).
pub fn digest_info_sha256(msg: &[u8]) -> Vec<u8> {
    const PREFIX: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    let mut di = PREFIX.to_vec();
    di.extend(Sha256::digest(msg));
    di
}

impl Reader {
    pub fn new(model: Model) -> Reader {
        Reader { model }
    }

    /// Run one confirmation session. `registered_pin` is the holder's PIN the face path
    /// unlocks the key with (see the module docs).
    pub fn confirm(
        &self,
        card: &mut VirtualCard,
        patient: &Patient,
        challenge: &[u8],
        registered_pin: &str,
    ) -> Result<Confirmation, ReaderError> {
        let t = self.model.timing();
        let quirk = self.model.quirk();
        if card.power_on().is_none() {
            return Err(ReaderError::CardUnreadable);
        }
        let mut s = Session {
            card,
            elapsed: Duration::ZERO,
            steps: vec![],
        };
        s.select_app(&AID_JPKI)?;
        s.select_ef(fid::AUTH_CERT)?;
        let cert_der = s.read_all()?;
        s.select_app(&AID_FACE)?;
        s.select_ef(fid::FACE_IMAGE)?;
        let _photo = s.read_all()?; // compared by the (simulated) camera, never logged
        s.elapsed += t.card_read * if quirk == Quirk::SlowCardRead { 2 } else { 1 };
        s.steps.push(Step::CardRead);

        // 1. Face.
        let mut method = None;
        let mut camera_fault = false;
        for i in 0..self.model.face_attempts() {
            s.elapsed += t.face_attempt;
            if i == 0 && quirk == Quirk::CameraWarmup {
                s.elapsed += Duration::from_secs(3);
            }
            let outcome = patient
                .face
                .get(i)
                .copied()
                .unwrap_or(FaceOutcome::Mismatch);
            s.steps.push(Step::Face(outcome));
            match outcome {
                FaceOutcome::Match => {
                    method = Some(Method::Face);
                    break;
                }
                FaceOutcome::Mismatch => {}
                FaceOutcome::CameraFault => {
                    camera_fault = true;
                    break;
                }
            }
        }
        s.select_app(&AID_JPKI)?;
        if method == Some(Method::Face) {
            match s.verify_pin(registered_pin)? {
                PinResult::Accepted => {}
                PinResult::Locked | PinResult::Wrong(_) => {
                    s.steps.push(Step::PinLocked);
                    method = None;
                }
            }
        }
        // 2. PIN keypad (not offered after a camera fault on models with that quirk).
        let keypad = !(camera_fault && quirk == Quirk::NoKeypadAfterCameraFault);
        if method.is_none() && keypad {
            for pin in &patient.pins_typed {
                s.elapsed += t.pin_entry;
                match s.verify_pin(pin)? {
                    PinResult::Accepted => {
                        s.steps.push(Step::PinEntered {
                            accepted: true,
                            tries_left: 3,
                        });
                        method = Some(Method::Pin);
                        break;
                    }
                    PinResult::Wrong(left) => s.steps.push(Step::PinEntered {
                        accepted: false,
                        tries_left: left,
                    }),
                    PinResult::Locked => {
                        s.steps.push(Step::PinLocked);
                        break;
                    }
                }
            }
        }
        // 3. Signature, or visual check.
        let identity = match method {
            Some(_) => {
                let signature = s.sign(challenge)?;
                s.steps.push(Step::Signed);
                Some(SignedIdentity {
                    cert_der: cert_der.clone(),
                    challenge: challenge.to_vec(),
                    signature,
                })
            }
            None => {
                s.elapsed += t.visual_check;
                s.steps.push(Step::VisualCheck {
                    confirmed: patient.staff_confirms,
                });
                if !patient.staff_confirms {
                    return Err(ReaderError::NotConfirmed);
                }
                method = Some(Method::VisualCheck);
                None
            }
        };
        // Consent screens.
        s.elapsed += if quirk == Quirk::OneConsentScreen {
            t.consent_screen
        } else {
            t.consent_screen * 3
        };
        s.steps.push(Step::Consents);
        let (elapsed, steps) = (s.elapsed, s.steps);
        card.power_off();
        Ok(Confirmation {
            model: self.model,
            method: method.unwrap_or(Method::VisualCheck),
            cert_der,
            identity,
            consents: patient.consents,
            elapsed,
            steps,
        })
    }
}

/// Why a signed identity was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("card certificate refused: {0}")]
    Certificate(Refusal),
    #[error("card certificate does not hold an RSA key")]
    NotRsa,
    #[error("signature over the challenge does not verify")]
    BadSignature,
    #[error("signature is over a different challenge")]
    WrongChallenge,
}

/// Check a [`SignedIdentity`] on the eligibility path: the certificate on the virtual
/// clock (`now`) against `verifier`, then the signature over `expected_challenge`.
pub fn verify_identity(
    id: &SignedIdentity,
    expected_challenge: &[u8],
    verifier: &Verifier,
    now: NaiveDateTime,
) -> Result<Accepted, IdentityError> {
    if id.challenge != expected_challenge {
        return Err(IdentityError::WrongChallenge);
    }
    let accepted = verifier
        .verify(&id.cert_der, &Purpose::CardAuth, now)
        .map_err(IdentityError::Certificate)?;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&id.cert_der)
        .map_err(|e| IdentityError::Certificate(Refusal::Malformed(e.to_string())))?;
    let key = rsa::RsaPublicKey::from_public_key_der(cert.public_key().raw)
        .map_err(|_| IdentityError::NotRsa)?;
    key.verify(
        rsa::Pkcs1v15Sign::new::<Sha256>(),
        &Sha256::digest(&id.challenge),
        &id.signature,
    )
    .map_err(|_| IdentityError::BadSignature)?;
    Ok(accepted)
}

#[cfg(test)]
mod tests;
