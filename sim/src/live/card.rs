//! Card-based confirmations at the implementing body (マイナンバーカードによる資格確認).
//!
//! The real flow: the face-auth reader reads the patient's My Number card, the card
//! signs a challenge with its user-authentication key, and the centre checks the
//! certificate (JPKI CA, CRL, validity) and the signature, then finds the insured
//! person linked to that certificate (the 紐付け registry) and answers with the usual
//! XmlMsg. Here:
//! - `POST /eligibility/card/challenge` (mutual TLS) hands out a single-use challenge,
//!   bound to the institution of the asking terminal's client certificate and good
//!   for [`CHALLENGE_TTL`] (issue 14 #13). It is HMAC-SHA256 under a per-serve secret
//!   of the seed and a counter: unguessable by clients (the seed is published, the
//!   secret is not), yet replayable — `onsim serve` writes the secret to
//!   `STATE/challenge.secret` (0600) and takes it back with `--challenge-secret`;
//! - `POST /eligibility/card` (mutual TLS) takes `{challenge, certificate, signature,
//!   consents}` (hex), checks it with [`fakes::reader::verify_identity`] on the virtual
//!   clock and answers with the institution's `Service::card_with_references`
//!   ([`super::eligibility::EligibilityDesk::card`]);
//! - `POST /cards` (control) issues a virtual patient's card for a population example
//!   and registers it, returning its certificate and key so a test client or a real
//!   reader emulator can sign.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use rand::RngCore;

use fakes::card::{default_jpki_ca, CardProfile, CardSetup};
use fakes::codes::InstitutionCode;
use fakes::eligibility::{Population, QualificationValidity, ReaderConsents, VerifiedCardHolder};
use fakes::pki::{keys::derived_rng, Authority, PkiError, Refusal, Revocation, Verifier};
use fakes::reader::{verify_identity, IdentityError, SignedIdentity};
use fakes::time::VirtualTime;

/// Most challenges outstanding at once *(our choice)*; older ones expire first.
const MAX_CHALLENGES: usize = 10_000;

/// How long a challenge stays good, wall clock *(our choice: a reader signs within
/// seconds; wall clock because a frozen virtual clock would never expire it)*.
pub const CHALLENGE_TTL: std::time::Duration = std::time::Duration::from_secs(120);

/// An outstanding challenge: who asked, and until when it is good.
#[derive(Debug, Clone, Copy)]
struct Outstanding {
    institution: InstitutionCode,
    until: std::time::Instant,
}

/// Why a card confirmation was refused.
#[derive(Debug, thiserror::Error)]
pub enum CardRefusal {
    #[error("unknown or already used challenge")]
    UnknownChallenge,
    #[error("the challenge was handed to another institution's terminal")]
    ChallengeOfAnotherInstitution,
    #[error("the challenge expired (good for {} s)", CHALLENGE_TTL.as_secs())]
    ChallengeExpired,
    #[error("{0}")]
    Identity(#[from] IdentityError),
    #[error("the card is not linked to an insured person (紐付けなし)")]
    NotLinked,
}

impl CardRefusal {
    /// A short code for logs and JSON.
    pub fn code(&self) -> &'static str {
        match self {
            CardRefusal::UnknownChallenge => "unknown-challenge",
            CardRefusal::ChallengeOfAnotherInstitution => "challenge-of-another-institution",
            CardRefusal::ChallengeExpired => "challenge-expired",
            CardRefusal::Identity(IdentityError::Certificate(r)) => r.code(),
            CardRefusal::Identity(IdentityError::BadSignature) => "bad-signature",
            CardRefusal::Identity(IdentityError::WrongChallenge) => "wrong-challenge",
            CardRefusal::Identity(IdentityError::NotRsa) => "not-rsa",
            CardRefusal::NotLinked => "not-linked",
        }
    }
}

#[derive(Default)]
struct CardState {
    /// Card authentication certificate (DER) → the insured person it is linked to.
    holders: BTreeMap<Vec<u8>, VerifiedCardHolder>,
    /// Outstanding challenges, and their order of issue (oldest dropped first).
    challenges: BTreeMap<Vec<u8>, Outstanding>,
    order: std::collections::VecDeque<Vec<u8>>,
    revoked: Vec<Revocation>,
    issued: u64,
    challenge_counter: u64,
}

/// The centre's card desk: the JPKI-like CA, the link registry and the challenges.
pub struct CardDesk {
    jpki: Authority,
    seed: u64,
    start: NaiveDate,
    /// The key challenges are derived under (random per serve unless set).
    secret: Mutex<[u8; 32]>,
    state: Mutex<CardState>,
    /// The verifier for the current revocation list, and how many revocations it
    /// holds: signing a CRL is an RSA signature, too dear to repeat per confirmation.
    verifier: Mutex<Option<(usize, Arc<Verifier>)>>,
}

impl std::fmt::Debug for CardDesk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardDesk(<redacted>)")
    }
}

impl CardDesk {
    pub fn new(seed: u64, start: NaiveDate) -> Result<Self, PkiError> {
        Ok(CardDesk {
            jpki: default_jpki_ca(seed)?,
            seed,
            start,
            secret: Mutex::new(random_secret()),
            state: Mutex::new(CardState::default()),
            verifier: Mutex::new(None),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CardState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Issue a card for the population example with `validity`, issued on `issued`,
    /// and link it. Returns the card's profile (certificate and key).
    pub fn issue_for(
        &self,
        population: &Population,
        validity: QualificationValidity,
        issued: NaiveDate,
    ) -> Result<CardProfile, PkiError> {
        let key = population.example(validity);
        self.issue_for_holder(&holder_of(&key), issued)
    }

    /// Issue a card for `holder`, issued on `issued`, and link it.
    pub fn issue_for_holder(
        &self,
        holder: &VerifiedCardHolder,
        issued: NaiveDate,
    ) -> Result<CardProfile, PkiError> {
        let holder = holder.clone();
        let n = {
            let mut st = self.lock();
            st.issued += 1;
            st.issued
        };
        let label = format!("patient-{n}");
        let mut rng = derived_rng(self.seed, &format!("live-card:{label}"));
        let profile = CardProfile::issue(&self.jpki, &CardSetup::new(&label, issued), &mut rng)?;
        self.lock().holders.insert(profile.auth.der.clone(), holder);
        Ok(profile)
    }

    /// Revoke a card's authentication certificate from `date` (lost card).
    pub fn revoke(&self, profile: &CardProfile, date: NaiveDate) {
        self.lock().revoked.push(Revocation {
            serial: profile.auth.serial.clone(),
            date,
        });
    }

    /// Derive challenges under `secret` from now on (a replay of an earlier serve).
    pub fn set_challenge_secret(&self, secret: [u8; 32]) {
        *self.secret.lock().unwrap_or_else(|e| e.into_inner()) = secret;
    }

    /// The key challenges are derived under.
    pub fn challenge_secret(&self) -> [u8; 32] {
        *self.secret.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh single-use challenge (32 bytes) for a terminal of `institution`:
    /// HMAC-SHA256(secret, "onsim-challenge" ‖ seed ‖ counter).
    pub fn challenge(&self, institution: InstitutionCode) -> Vec<u8> {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.challenge_secret());
        let mut st = self.lock();
        st.challenge_counter += 1;
        let mut msg = b"onsim-challenge\0".to_vec();
        msg.extend_from_slice(&self.seed.to_be_bytes());
        msg.extend_from_slice(&st.challenge_counter.to_be_bytes());
        let c = ring::hmac::sign(&key, &msg).as_ref().to_vec();
        while st.challenges.len() >= MAX_CHALLENGES {
            let Some(old) = st.order.pop_front() else {
                break;
            };
            st.challenges.remove(&old);
        }
        st.challenges.insert(
            c.clone(),
            Outstanding {
                institution,
                until: std::time::Instant::now() + CHALLENGE_TTL,
            },
        );
        st.order.push_back(c.clone());
        c
    }

    /// Take `challenge` (single use: gone after this call, whatever the verdict).
    fn take_challenge(
        st: &mut CardState,
        challenge: &[u8],
        institution: InstitutionCode,
    ) -> Result<(), CardRefusal> {
        let o = st
            .challenges
            .remove(challenge)
            .ok_or(CardRefusal::UnknownChallenge)?;
        st.order.retain(|c| c.as_slice() != challenge);
        if o.institution != institution {
            return Err(CardRefusal::ChallengeOfAnotherInstitution);
        }
        if std::time::Instant::now() > o.until {
            return Err(CardRefusal::ChallengeExpired);
        }
        Ok(())
    }

    /// The verifier for `revoked` (revocations are only ever appended, so their
    /// number names the list).
    fn verifier(&self, revoked: &[Revocation]) -> Result<Arc<Verifier>, PkiError> {
        let mut cache = self.verifier.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((n, v)) = cache.as_ref() {
            if *n == revoked.len() {
                return Ok(v.clone());
            }
        }
        let crl = self.jpki.crl(self.start, 3650, revoked)?;
        let v = Arc::new(Verifier::new().trust(self.jpki.cert_der()).with_crl(&crl));
        *cache = Some((revoked.len(), v.clone()));
        Ok(v)
    }

    /// Check a signed identity for `institution` at virtual `now` and answer
    /// through that institution's [`super::eligibility::EligibilityDesk`] service (its
    /// configured encoding, stamps and registered 照会番号).
    pub fn confirm(
        &self,
        eligibility: &super::eligibility::EligibilityDesk,
        institution: InstitutionCode,
        id: &SignedIdentity,
        consents: ReaderConsents,
        now: VirtualTime,
    ) -> Result<Vec<u8>, CardRefusal> {
        let (holder, revoked) = {
            let mut st = self.lock();
            Self::take_challenge(&mut st, &id.challenge, institution)?;
            (st.holders.get(&id.cert_der).cloned(), st.revoked.clone())
        };
        let verifier = self.verifier(&revoked).map_err(|e| {
            CardRefusal::Identity(IdentityError::Certificate(Refusal::Malformed(
                e.to_string(),
            )))
        })?;
        let (h, m) = now.hour_minute();
        let naive = now
            .date()
            .and_hms_opt(h, m, 0)
            .unwrap_or_else(|| now.date().and_time(chrono::NaiveTime::MIN));
        verify_identity(id, &id.challenge, &verifier, naive)?;
        let holder = holder.ok_or(CardRefusal::NotLinked)?;
        Ok(eligibility.card(institution, &holder, consents, now))
    }
}

/// 32 bytes from the operating system's random source.
fn random_secret() -> [u8; 32] {
    use ring::rand::SecureRandom;
    let mut k = [0u8; 32];
    if ring::rand::SystemRandom::new().fill(&mut k).is_err() {
        // No OS randomness: fall back to rand's thread RNG (seeded from the OS too).
        rand::thread_rng().fill_bytes(&mut k);
    }
    k
}

/// The card holder a population search key names (what 紐付け links a card to).
pub fn holder_of(key: &fakes::eligibility::SearchKey) -> VerifiedCardHolder {
    VerifiedCardHolder {
        insurer_number: key.insurer_number,
        symbol: key.symbol.clone(),
        number: key.number.clone(),
        branch: key.branch.clone(),
        birthdate: key.birthdate,
    }
}

/// Lower-case hex, for the JSON API.
pub fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Parse hex (upper or lower case); `None` on any other character or odd length.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::eligibility::EligibilityDesk;
    use super::*;
    use fakes::card::VirtualCard;
    use fakes::eligibility::{AnswerConfig, CharacterCode, PopulationConfig};
    use std::sync::Arc;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// Sign like the card does: SELECT the JPKI applet and the key, VERIFY the PIN,
    /// then sign the DigestInfo of SHA-256(challenge) with `80 2A 00 80`.
    fn sign_with_card(profile: CardProfile, challenge: &[u8]) -> SignedIdentity {
        use sha2::{Digest, Sha256};
        let cert_der = profile.auth.der.clone();
        let mut card = VirtualCard::new(Arc::new(profile));
        card.power_on();
        let ok = |r: Vec<u8>| {
            assert_eq!(&r[r.len() - 2..], &[0x90, 0x00], "{r:02x?}");
            r[..r.len() - 2].to_vec()
        };
        ok(card.transmit(&[
            0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00,
            0x01,
        ]));
        ok(card.transmit(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18]));
        ok(card.transmit(&[0x00, 0x20, 0x00, 0x80, 0x04, b'1', b'2', b'3', b'4']));
        ok(card.transmit(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x17]));
        let mut digest_info = vec![
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ];
        digest_info.extend_from_slice(&Sha256::digest(challenge));
        let mut apdu = vec![0x80, 0x2A, 0x00, 0x80, digest_info.len() as u8];
        apdu.extend_from_slice(&digest_info);
        apdu.push(0x00);
        let signature = ok(card.transmit(&apdu));
        SignedIdentity {
            cert_der,
            challenge: challenge.to_vec(),
            signature,
        }
    }

    #[test]
    fn card_confirmation_round_trip_and_refusals() {
        let start = d("2025-04-01");
        let pop = Population::new(PopulationConfig::default());
        let desk = CardDesk::new(7, start).unwrap();
        let eligibility = EligibilityDesk::new(pop.clone(), AnswerConfig::default());
        let inst: InstitutionCode = "1310101017".parse().unwrap();
        let now = VirtualTime::at(start, 10, 0);

        // A linked card signs a fresh challenge: the answer is a normal XmlMsg.
        let card = desk
            .issue_for(&pop, QualificationValidity::Valid, d("2024-01-01"))
            .unwrap();
        let challenge = desk.challenge(inst);
        let id = sign_with_card(card, &challenge);
        let xml = desk
            .confirm(&eligibility, inst, &id, ReaderConsents::default(), now)
            .unwrap();
        let text = encoding_rs::SHIFT_JIS.decode(&xml).0;
        assert!(
            text.contains("<QualificationValidity>1</QualificationValidity>"),
            "{text}"
        );
        assert!(
            text.contains("<ReferenceClassification>1</ReferenceClassification>"),
            "{text}"
        );

        // The same challenge cannot be used twice.
        let again = desk.confirm(&eligibility, inst, &id, ReaderConsents::default(), now);
        assert!(matches!(again, Err(CardRefusal::UnknownChallenge)));

        // A tampered signature is refused.
        let c2 = desk.challenge(inst);
        let mut bad = id.clone();
        bad.challenge = c2.clone();
        let r = desk
            .confirm(&eligibility, inst, &bad, ReaderConsents::default(), now)
            .unwrap_err();
        assert_eq!(r.code(), "bad-signature", "{r}");

        // A revoked card is refused with its own reason.
        let card = desk
            .issue_for(&pop, QualificationValidity::Valid, d("2024-01-01"))
            .unwrap();
        desk.revoke(&card, d("2025-03-01"));
        let c3 = desk.challenge(inst);
        let id = sign_with_card(card, &c3);
        let r = desk
            .confirm(&eligibility, inst, &id, ReaderConsents::default(), now)
            .unwrap_err();
        assert_eq!(r.code(), "revoked", "{r}");

        // An expired card (issued more than five years before) is refused.
        let card = desk
            .issue_for(&pop, QualificationValidity::Valid, d("2019-01-01"))
            .unwrap();
        let c4 = desk.challenge(inst);
        let id = sign_with_card(card, &c4);
        let r = desk
            .confirm(&eligibility, inst, &id, ReaderConsents::default(), now)
            .unwrap_err();
        assert_eq!(r.code(), "expired", "{r}");

        // The answer is in the terminal's configured encoding, not always Shift_JIS.
        let utf8 = EligibilityDesk::new(
            pop.clone(),
            AnswerConfig {
                default_character_code: CharacterCode::Utf8,
                ..Default::default()
            },
        );
        let card = desk
            .issue_for(&pop, QualificationValidity::Valid, d("2024-01-01"))
            .unwrap();
        let c5 = desk.challenge(inst);
        let id = sign_with_card(card, &c5);
        let xml = desk
            .confirm(&utf8, inst, &id, ReaderConsents::default(), now)
            .unwrap();
        let text = String::from_utf8(xml).expect("UTF-8");
        assert!(
            text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\""),
            "{text}"
        );
        assert!(text.contains("<CharacterCodeIdentifier>0</CharacterCodeIdentifier>"));
    }

    #[test]
    fn defect_13_challenges_are_unguessable_bound_to_the_institution_and_single_use() {
        let start = d("2025-04-01");
        let pop = Population::new(PopulationConfig::default());
        let inst: InstitutionCode = "1310101017".parse().unwrap();
        let other = crate::live::other_institution();
        let now = VirtualTime::at(start, 10, 0);
        let eligibility = EligibilityDesk::new(pop.clone(), AnswerConfig::default());
        // Same published seed, two serves: different challenges (the secret differs).
        let a = CardDesk::new(7, start).unwrap();
        let b = CardDesk::new(7, start).unwrap();
        let b_first = b.challenge(inst);
        assert_ne!(a.challenge(inst), b_first);
        // The same secret replays the same sequence (`--challenge-secret`).
        let replay = CardDesk::new(7, start).unwrap();
        replay.set_challenge_secret(b.challenge_secret());
        assert_eq!(replay.challenge(inst), b_first);
        assert_eq!(replay.challenge(inst), b.challenge(inst));
        // A challenge handed to one institution is refused from another, and is then
        // gone (single use) for its own institution too.
        let card = a
            .issue_for(&pop, QualificationValidity::Valid, d("2024-01-01"))
            .unwrap();
        let ch = a.challenge(inst);
        let id = sign_with_card(card, &ch);
        let r = a
            .confirm(&eligibility, other, &id, ReaderConsents::default(), now)
            .unwrap_err();
        assert_eq!(r.code(), "challenge-of-another-institution", "{r}");
        let r = a
            .confirm(&eligibility, inst, &id, ReaderConsents::default(), now)
            .unwrap_err();
        assert_eq!(r.code(), "unknown-challenge", "{r}");
        // The asking institution's own fresh challenge is accepted.
        let card = a
            .issue_for(&pop, QualificationValidity::Valid, d("2024-01-01"))
            .unwrap();
        let ch = a.challenge(inst);
        let id = sign_with_card(card, &ch);
        a.confirm(&eligibility, inst, &id, ReaderConsents::default(), now)
            .unwrap();
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(
            from_hex(&to_hex(&[0, 1, 0xab, 0xff])).unwrap(),
            vec![0, 1, 0xab, 0xff]
        );
        assert!(from_hex("abc").is_none());
        assert!(from_hex("zz").is_none());
    }
}
