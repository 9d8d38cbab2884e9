//! What is written on a card when it is issued: certificates, keys, PINs, the card
//! facts (基本4情報) and the face photo. A profile is immutable; the mutable parts of a
//! card (PIN counters, selection, power) live in [`super::VirtualCard`].

use std::fmt;
use std::sync::Arc;

use chrono::{Months, NaiveDate};
use rand::seq::SliceRandom;
use rand::Rng;
use rsa::RsaPrivateKey;

use crate::pki::{Authority, CertSpec, Issued, PkiError};

/// The token file `0006` content the brief specifies: `JPKIAPICCTOKEN`, NUL-padded.
///
/// Note: open-source readers report that a real My Number card holds
/// `JPKIAPICCTOKEN2` (space-padded) and the older Juki card `JPKIAPICCTOKEN`; see
/// [`Token::MyNumber2`] to simulate that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Token {
    /// `JPKIAPICCTOKEN` NUL-padded to 32 bytes (docs/DOMAIN.md §8).
    #[default]
    Jpki,
    /// `JPKIAPICCTOKEN2` space-padded to 32 bytes (what real My Number cards hold).
    MyNumber2,
}

impl Token {
    pub fn bytes(self) -> [u8; 32] {
        let (text, pad): (&[u8], u8) = match self {
            Token::Jpki => (b"JPKIAPICCTOKEN", 0),
            Token::MyNumber2 => (b"JPKIAPICCTOKEN2", b' '),
        };
        let mut out = [pad; 32];
        out[..text.len()].copy_from_slice(text);
        out
    }
}

/// The four basic facts (基本4情報) in the card-facts helper applet
/// (券面事項入力補助AP). Simulated personal data: `Debug` redacts it so it never
/// reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct CardFacts {
    pub name: String,
    pub address: String,
    /// `YYYYMMDD`.
    pub birthdate: String,
    /// `1` male, `2` female, `3` other, `9` not applicable (JIS X 0303 style).
    pub sex: String,
}

impl fmt::Debug for CardFacts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CardFacts(<redacted personal data>)")
    }
}

impl CardFacts {
    /// Made-up facts from an RNG (names from short lists; nobody real).
    pub fn simulated(rng: &mut impl Rng) -> CardFacts {
        const FAMILY: &[&str] = &[
            "山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村",
        ];
        const GIVEN: &[&str] = &["太郎", "花子", "一郎", "陽子", "健", "美咲", "翔", "直子"];
        const TOWN: &[&str] = &[
            "東京都千代田区霞が関一丁目",
            "大阪府大阪市北区梅田二丁目",
            "福岡県福岡市中央区天神三丁目",
        ];
        let pick = |rng: &mut dyn rand::RngCore, xs: &[&str]| {
            (*xs.choose(rng).expect("non-empty")).to_string()
        };
        let name = format!("{}　{}", pick(rng, FAMILY), pick(rng, GIVEN));
        let address = format!(
            "{}{}番{}号",
            pick(rng, TOWN),
            rng.gen_range(1..30),
            rng.gen_range(1..20)
        );
        let birthdate = format!(
            "{:04}{:02}{:02}",
            rng.gen_range(1935..2020),
            rng.gen_range(1..=12),
            rng.gen_range(1..=28)
        );
        let sex = ["1", "2"][rng.gen_range(0..2)].to_string();
        CardFacts {
            name,
            address,
            birthdate,
            sex,
        }
    }

    /// The TLV the applet serves (our choice, after the public layout: `FF20` around
    /// `DF21` header, `DF22` name, `DF23` address, `DF24` birthdate, `DF25` sex; UTF-8).
    pub fn to_tlv(&self) -> Vec<u8> {
        let mut inner = tlv(&[0xDF, 0x21], b"onsim");
        inner.extend(tlv(&[0xDF, 0x22], self.name.as_bytes()));
        inner.extend(tlv(&[0xDF, 0x23], self.address.as_bytes()));
        inner.extend(tlv(&[0xDF, 0x24], self.birthdate.as_bytes()));
        inner.extend(tlv(&[0xDF, 0x25], self.sex.as_bytes()));
        tlv(&[0xFF, 0x20], &inner)
    }
}

fn tlv(tag: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = tag.to_vec();
    match value.len() {
        n @ 0..=0x7F => out.push(n as u8),
        n @ 0x80..=0xFF => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(value);
    out
}

/// How to issue a card. The defaults describe a healthy card.
#[derive(Debug, Clone)]
pub struct CardSetup {
    /// Opaque label (names keys and serials; not personal data).
    pub label: String,
    pub not_before: NaiveDate,
    pub not_after: NaiveDate,
    /// 4 digits (利用者証明用パスワード).
    pub auth_pin: String,
    /// 6–16 characters (署名用パスワード).
    pub sign_pin: String,
    /// PIN of the card-facts helper applet; our choice: same 4-digit semantics, and by
    /// default the same value as the auth PIN (as most holders set it).
    pub facts_pin: String,
    pub token: Token,
}

impl CardSetup {
    /// A card issued on `issued`, certificates valid five years (利用者証明用 validity).
    pub fn new(label: &str, issued: NaiveDate) -> CardSetup {
        CardSetup {
            label: label.into(),
            not_before: issued,
            not_after: issued + Months::new(60),
            auth_pin: "1234".into(),
            sign_pin: "ABC123".into(),
            facts_pin: "1234".into(),
            token: Token::default(),
        }
    }
}

/// The issued content of one card.
pub struct CardProfile {
    pub label: String,
    pub auth: Issued,
    pub auth_ca: Vec<u8>,
    pub sign: Issued,
    pub sign_ca: Vec<u8>,
    pub(crate) auth_pin: Vec<u8>,
    pub(crate) sign_pin: Vec<u8>,
    pub(crate) facts_pin: Vec<u8>,
    pub facts: CardFacts,
    /// Stand-in for the JPEG face photo of the card-face applet (券面事項確認AP).
    pub face_image: Vec<u8>,
    pub token: Token,
}

impl fmt::Debug for CardProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardProfile")
            .field("label", &self.label)
            .field("facts", &self.facts)
            .finish_non_exhaustive()
    }
}

impl CardProfile {
    /// Issue a card's certificates from `jpki` (one CA for both certificates; our
    /// simplification) and fill in simulated facts from `rng`.
    pub fn issue(
        jpki: &Authority,
        setup: &CardSetup,
        rng: &mut impl Rng,
    ) -> Result<CardProfile, PkiError> {
        let auth = jpki.issue(&CertSpec::card_auth(
            &setup.label,
            setup.not_before,
            setup.not_after,
        ))?;
        let sign = jpki.issue(&CertSpec::card_sign(
            &setup.label,
            setup.not_before,
            setup.not_after,
        ))?;
        let facts = CardFacts::simulated(rng);
        let mut face_image = b"\xFF\xD8\xFF\xE0onsim-face".to_vec();
        face_image.extend((0..64).map(|_| rng.gen::<u8>()));
        face_image.extend_from_slice(b"\xFF\xD9");
        Ok(CardProfile {
            label: setup.label.clone(),
            auth,
            auth_ca: jpki.cert_der().to_vec(),
            sign,
            sign_ca: jpki.cert_der().to_vec(),
            auth_pin: setup.auth_pin.as_bytes().to_vec(),
            sign_pin: setup.sign_pin.as_bytes().to_vec(),
            facts_pin: setup.facts_pin.as_bytes().to_vec(),
            facts,
            face_image,
            token: setup.token,
        })
    }

    pub fn auth_key(&self) -> &Arc<RsaPrivateKey> {
        self.auth.key.rsa.as_ref().expect("card keys are RSA")
    }

    pub fn sign_key(&self) -> &Arc<RsaPrivateKey> {
        self.sign.key.rsa.as_ref().expect("card keys are RSA")
    }
}

/// The JPKI CA used by default (generation 1, valid 2014–2044), reproducible from `seed`.
pub fn default_jpki_ca(seed: u64) -> Result<Authority, PkiError> {
    let d = |y| NaiveDate::from_ymd_opt(y, 1, 1).expect("valid date");
    Authority::jpki(seed, 1, d(2014), d(2044))
}

impl CardProfile {
    /// A card from the default JPKI CA, facts drawn from an RNG seeded with `seed`.
    pub fn demo(seed: u64, setup: &CardSetup) -> Result<(Authority, CardProfile), PkiError> {
        let ca = default_jpki_ca(seed)?;
        let mut rng = crate::pki::keys::derived_rng(seed, &format!("card-facts:{}", setup.label));
        let profile = CardProfile::issue(&ca, setup, &mut rng)?;
        Ok((ca, profile))
    }
}
