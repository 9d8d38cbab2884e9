//! The virtual My Number card (マイナンバーカード) speaking ISO 7816-4 APDUs.
//!
//! A pure state machine: [`VirtualCard::transmit`] takes a command APDU and returns the
//! response data plus SW1SW2; power, reset and removal are method calls. The commands
//! are exactly those OpenSC's JPKI driver (`card-jpki.c`, `pkcs15-jpki.c`) sends:
//! - SELECT by AID `00 A4 04 0C` and by file `00 A4 02 0C 02 FID` (no FCI returned);
//! - READ BINARY `00 B0 P1P2 Le` in chunks; OpenSC reads 4 bytes of a certificate
//!   file first and takes the size from the DER header `30 82 LL LL`;
//! - PIN status `00 20 00 80` with no data after selecting the PIN EF. OpenSC insists on
//!   SW1 `63` here (anything else fails token enumeration), so a blocked PIN answers
//!   `63C0`, and a verified PIN still reports its tries rather than `9000`;
//! - VERIFY `00 20 00 80 Lc PIN`;
//! - sign `80 2A 00 80 Lc DigestInfo 00` after selecting the key EF: a raw PKCS#1 v1.5
//!   signature (OpenSC does the hashing and DigestInfo; the card only pads).
//!
//! PIN counters survive reset and power-off (they live in the card's EEPROM); the
//! "verified" state does not. The card is written with tearing protection: a VERIFY
//! interrupted by pulling the card out has already used up a try.

mod apdu;
mod profile;

use std::sync::Arc;

pub use apdu::{respond, status, sw, Command};
pub use profile::{default_jpki_ca, CardFacts, CardProfile, CardSetup, Token};

/// Answer to reset of the card (docs/DOMAIN.md §8; OpenSC matches the JPKI driver on it).
pub const ATR: [u8; 9] = [0x3B, 0xE0, 0x00, 0xFF, 0x81, 0x31, 0xFE, 0x45, 0x14];

/// Public key infrastructure application (公的個人認証AP).
pub const AID_JPKI: [u8; 10] = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];
/// Card-facts helper application (券面事項入力補助AP).
pub const AID_FACTS: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08];
/// Card-face application (券面事項確認AP): the face photo the reader compares.
pub const AID_FACE: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x02];

/// Elementary files of the JPKI applet.
pub mod fid {
    pub const SIGN_CERT: u16 = 0x0001;
    pub const SIGN_CA: u16 = 0x0002;
    pub const TOKEN: u16 = 0x0006;
    pub const AUTH_CERT: u16 = 0x000A;
    pub const AUTH_CA: u16 = 0x000B;
    pub const AUTH_KEY: u16 = 0x0017;
    pub const AUTH_PIN: u16 = 0x0018;
    pub const SIGN_KEY: u16 = 0x001A;
    pub const SIGN_PIN: u16 = 0x001B;
    /// Card-facts applet: the four facts TLV (our choice of FID within that applet).
    pub const FACTS_BASIC: u16 = 0x0002;
    /// Card-facts applet: its PIN.
    pub const FACTS_PIN: u16 = 0x0011;
    /// Card-face applet: the face photo (our choice: readable without a PIN; the real
    /// applet needs a code derived from the card face, which the reader has).
    pub const FACE_IMAGE: u16 = 0x0001;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum App {
    Jpki,
    Facts,
    Face,
}

/// Which PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinId {
    /// User-authentication PIN, 4 digits, 3 tries.
    Auth = 0,
    /// Signing PIN, 6–16 characters, 5 tries.
    Sign = 1,
    /// Card-facts helper PIN (our choice: 4 digits, 3 tries).
    Facts = 2,
}

impl PinId {
    pub fn max_tries(self) -> u8 {
        match self {
            PinId::Sign => 5,
            PinId::Auth | PinId::Facts => 3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ef {
    Data(App, u16),
    Pin(PinId),
    Key(PinId),
}

fn lookup(app: App, fid: u16) -> Option<Ef> {
    use fid::*;
    Some(match (app, fid) {
        (App::Jpki, SIGN_CERT | SIGN_CA | TOKEN | AUTH_CERT | AUTH_CA) => Ef::Data(app, fid),
        (App::Jpki, AUTH_KEY) => Ef::Key(PinId::Auth),
        (App::Jpki, AUTH_PIN) => Ef::Pin(PinId::Auth),
        (App::Jpki, SIGN_KEY) => Ef::Key(PinId::Sign),
        (App::Jpki, SIGN_PIN) => Ef::Pin(PinId::Sign),
        (App::Facts, FACTS_BASIC) => Ef::Data(app, fid),
        (App::Facts, FACTS_PIN) => Ef::Pin(PinId::Facts),
        (App::Face, FACE_IMAGE) => Ef::Data(app, fid),
        _ => return None,
    })
}

/// Faults a scenario can put into a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CardFault {
    #[default]
    None,
    /// No answer to reset: the chip is dead (破損).
    Damaged,
    /// The card is pulled out while the n-th command (counting from 1) is running.
    PulledOutDuring(u32),
}

/// Why a command got no response at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoResponse {
    #[error("no card in the reader")]
    Removed,
    #[error("card is not powered")]
    Unpowered,
}

/// The mutable state of one PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinState {
    pub tries_left: u8,
    pub verified: bool,
}

/// A virtual My Number card.
#[derive(Debug, Clone)]
pub struct VirtualCard {
    profile: Arc<CardProfile>,
    present: bool,
    powered: bool,
    fault: CardFault,
    commands: u32,
    app: Option<App>,
    ef: Option<Ef>,
    pins: [PinState; 3],
}

impl VirtualCard {
    /// A card fresh from issuance, inserted but not yet powered.
    pub fn new(profile: Arc<CardProfile>) -> VirtualCard {
        let pin = |id: PinId| PinState {
            tries_left: id.max_tries(),
            verified: false,
        };
        VirtualCard {
            profile,
            present: true,
            powered: false,
            fault: CardFault::None,
            commands: 0,
            app: None,
            ef: None,
            pins: [pin(PinId::Auth), pin(PinId::Sign), pin(PinId::Facts)],
        }
    }

    pub fn profile(&self) -> &Arc<CardProfile> {
        &self.profile
    }

    pub fn set_fault(&mut self, fault: CardFault) {
        self.fault = fault;
        self.commands = 0;
    }

    /// Lock a PIN as if it had been mistyped until blocked.
    pub fn lock_pin(&mut self, id: PinId) {
        self.pins[id as usize] = PinState {
            tries_left: 0,
            verified: false,
        };
    }

    pub fn pin(&self, id: PinId) -> PinState {
        self.pins[id as usize]
    }

    pub fn is_present(&self) -> bool {
        self.present
    }

    pub fn is_powered(&self) -> bool {
        self.powered
    }

    /// Put the card (back) into the reader; it stays unpowered until [`Self::power_on`].
    pub fn insert(&mut self) {
        self.present = true;
        self.powered = false;
    }

    /// Take the card out of the reader.
    pub fn remove(&mut self) {
        self.present = false;
        self.power_off();
    }

    /// Cold reset: returns the ATR, or `None` if the card is absent or damaged.
    pub fn power_on(&mut self) -> Option<Vec<u8>> {
        self.clear_session();
        if !self.present || self.fault == CardFault::Damaged {
            self.powered = false;
            return None;
        }
        self.powered = true;
        Some(ATR.to_vec())
    }

    /// Warm reset: same as power on for this card (security state is cleared).
    pub fn reset(&mut self) -> Option<Vec<u8>> {
        self.power_on()
    }

    pub fn power_off(&mut self) {
        self.powered = false;
        self.clear_session();
    }

    fn clear_session(&mut self) {
        self.app = None;
        self.ef = None;
        for p in &mut self.pins {
            p.verified = false;
        }
    }

    /// One command APDU in, response data + SW1SW2 out. A card that cannot answer
    /// (absent, unpowered, pulled out) yields `6F00`, which is what a PC/SC stack would
    /// turn into a transmission error; use [`Self::exchange`] to tell those apart.
    pub fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.exchange(apdu)
            .unwrap_or_else(|_| status(sw::NO_DIAGNOSIS))
    }

    /// Like [`Self::transmit`], but says when no response came at all.
    pub fn exchange(&mut self, apdu: &[u8]) -> Result<Vec<u8>, NoResponse> {
        if !self.present {
            return Err(NoResponse::Removed);
        }
        if !self.powered {
            return Err(NoResponse::Unpowered);
        }
        self.commands = self.commands.saturating_add(1);
        if let CardFault::PulledOutDuring(n) = self.fault {
            if self.commands >= n {
                // Tearing protection: a VERIFY in progress has already counted the try.
                if let (Ok(c), Some(Ef::Pin(id))) = (Command::parse(apdu), self.ef) {
                    let p = &mut self.pins[id as usize];
                    if c.ins == 0x20 && !c.data.is_empty() && p.tries_left > 0 {
                        p.tries_left -= 1;
                    }
                }
                self.fault = CardFault::None;
                self.remove();
                return Err(NoResponse::Removed);
            }
        }
        Ok(match Command::parse(apdu) {
            Ok(c) => self.dispatch(&c),
            Err(s) => status(s),
        })
    }

    fn dispatch(&mut self, c: &Command<'_>) -> Vec<u8> {
        let (iso, proprietary) = (c.cla == 0x00, c.cla == 0x80);
        if !iso && !proprietary {
            return status(sw::CLA_NOT_SUPPORTED);
        }
        match (c.ins, iso) {
            (0xA4, true) => self.select(c),
            (0xB0, true) => self.read_binary(c),
            (0x20, true) => self.verify(c),
            (0x2A, false) => self.sign(c),
            (0xA4 | 0xB0 | 0x20 | 0x2A, _) => status(sw::CLA_NOT_SUPPORTED),
            _ => status(sw::INS_NOT_SUPPORTED),
        }
    }

    fn select(&mut self, c: &Command<'_>) -> Vec<u8> {
        if c.p2 != 0x0C && c.p2 != 0x00 {
            return status(sw::INCORRECT_P1P2);
        }
        match c.p1 {
            0x04 => {
                let app = match c.data {
                    d if d == AID_JPKI => App::Jpki,
                    d if d == AID_FACTS => App::Facts,
                    d if d == AID_FACE => App::Face,
                    [] => return status(sw::WRONG_LENGTH),
                    _ => return status(sw::FILE_NOT_FOUND),
                };
                // Selecting an application drops the security state of the others.
                self.clear_session();
                self.app = Some(app);
                status(sw::OK)
            }
            0x02 => {
                if c.data.len() != 2 {
                    return status(sw::WRONG_LENGTH);
                }
                let fid = u16::from_be_bytes([c.data[0], c.data[1]]);
                match self.app.and_then(|a| lookup(a, fid)) {
                    Some(ef) => {
                        self.ef = Some(ef);
                        status(sw::OK)
                    }
                    None => status(sw::FILE_NOT_FOUND),
                }
            }
            _ => status(sw::INCORRECT_P1P2),
        }
    }

    fn file(&self, app: App, fid: u16) -> &[u8] {
        let p = &*self.profile;
        match (app, fid) {
            (App::Jpki, fid::AUTH_CERT) => &p.auth.der,
            (App::Jpki, fid::AUTH_CA) => &p.auth_ca,
            (App::Jpki, fid::SIGN_CERT) => &p.sign.der,
            (App::Jpki, fid::SIGN_CA) => &p.sign_ca,
            (App::Face, fid::FACE_IMAGE) => &p.face_image,
            _ => &[],
        }
    }

    fn read_binary(&mut self, c: &Command<'_>) -> Vec<u8> {
        let Some(le) = c.le else {
            return status(sw::WRONG_LENGTH);
        };
        if !c.data.is_empty() {
            return status(sw::WRONG_LENGTH);
        }
        if c.p1 & 0x80 != 0 {
            // Short-EF addressing is not offered by this applet.
            return status(sw::INCORRECT_P1P2);
        }
        let (app, fid) = match self.ef {
            None => return status(sw::NO_CURRENT_EF),
            Some(Ef::Pin(_) | Ef::Key(_)) => return status(sw::SECURITY_NOT_SATISFIED),
            Some(Ef::Data(app, fid)) => (app, fid),
        };
        let owned;
        let content: &[u8] = match (app, fid) {
            (App::Jpki, fid::SIGN_CERT) if !self.pins[PinId::Sign as usize].verified => {
                return status(sw::SECURITY_NOT_SATISFIED)
            }
            (App::Facts, fid::FACTS_BASIC) => {
                if !self.pins[PinId::Facts as usize].verified {
                    return status(sw::SECURITY_NOT_SATISFIED);
                }
                owned = self.profile.facts.to_tlv();
                &owned
            }
            (App::Jpki, fid::TOKEN) => {
                owned = self.profile.token.bytes().to_vec();
                &owned
            }
            _ => self.file(app, fid),
        };
        let offset = usize::from(c.p1p2());
        if offset >= content.len() {
            return status(sw::WRONG_OFFSET);
        }
        // Our choice: a read past the end returns what there is with 9000 (lenient, like
        // most JPKI readers expect); OpenSC never reads past the size it learnt.
        let end = content.len().min(offset + le);
        respond(content[offset..end].to_vec(), sw::OK)
    }

    fn verify(&mut self, c: &Command<'_>) -> Vec<u8> {
        if c.p1 != 0x00 || c.p2 != 0x80 {
            return status(sw::INCORRECT_P1P2);
        }
        let Some(Ef::Pin(id)) = self.ef else {
            return status(sw::NO_CURRENT_EF);
        };
        let expected = match id {
            PinId::Auth => &self.profile.auth_pin,
            PinId::Sign => &self.profile.sign_pin,
            PinId::Facts => &self.profile.facts_pin,
        };
        let ok = c.data == expected.as_slice();
        let pin = &mut self.pins[id as usize];
        if c.data.is_empty() {
            // PIN status query: always 63Cx, see the module docs.
            return status(sw::tries_left(pin.tries_left));
        }
        if pin.tries_left == 0 {
            return status(sw::AUTH_BLOCKED);
        }
        if ok {
            pin.tries_left = id.max_tries();
            pin.verified = true;
            status(sw::OK)
        } else {
            pin.tries_left -= 1;
            pin.verified = false;
            status(sw::tries_left(pin.tries_left))
        }
    }

    fn sign(&mut self, c: &Command<'_>) -> Vec<u8> {
        if c.p1p2() != 0x0080 {
            return status(sw::INCORRECT_P1P2);
        }
        let Some(Ef::Key(id)) = self.ef else {
            return status(sw::NO_CURRENT_EF);
        };
        // PKCS#1 v1.5 needs 11 bytes of padding in a 256-byte block.
        if c.data.is_empty() || c.data.len() > 256 - 11 {
            return status(sw::WRONG_LENGTH);
        }
        if !self.pins[id as usize].verified {
            return status(sw::SECURITY_NOT_SATISFIED);
        }
        let key = match id {
            PinId::Sign => self.profile.sign_key(),
            _ => self.profile.auth_key(),
        };
        match key.sign(rsa::Pkcs1v15Sign::new_unprefixed(), c.data) {
            Ok(sig) => respond(sig, sw::OK),
            Err(_) => status(sw::WRONG_LENGTH),
        }
    }
}

#[cfg(test)]
mod tests;
