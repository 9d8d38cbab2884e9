//! The simulated face-authentication card reader (顔認証付きカードリーダー) of `onsim
//! serve`: `POST {control_url}/reader/present` (issue 13 item 3).
//!
//! Body: `{"row": N, "outcome": "face-ok" | "face-mismatch-pin-ok" | "pin-locked" |
//! "card-expired" | "card-revoked", "consents": {"limit_certificate",
//! "pharmacists_info", "specific_health_checkups"}}` — `row` is a data row of
//! `population.csv` (1 = the first line after the header). Without `outcome`, a
//! scenario's `card` fault decides for the clinic's first patient (`onsim serve
//! --scenario`, [`super::world::World::card_fault_at_reader`]; the answer's
//! `"scenario_fault": true` says so), else `face-ok`. A patient of that row presents
//! a virtual My Number card:
//!
//! 1. a card is issued for the person and linked (紐付け); for `card-expired` it was
//!    issued 6 years ago (its user-authentication certificate lived 5), for
//!    `card-revoked` its certificate is revoked from today;
//! 2. the reader ([`fakes::reader::Reader`], real APDUs to [`fakes::card::VirtualCard`])
//!    asks the implementing body for a challenge over mutual TLS (the terminal's
//!    `valid` credential, through the carrier like the file drop), and the card signs
//!    it after a face match (`face-ok`) or a face mismatch and the right PIN
//!    (`face-mismatch-pin-ok`);
//! 3. the signed identity goes to `POST /eligibility/card`; the centre checks the JPKI
//!    certificate on the virtual clock (validity, CRL) and answers;
//! 4. the terminal writes the face file (`face/`).
//!
//! What the face file carries *(our choice; no public source describes the terminal's
//! output for a failed card)*:
//! - `face-ok`, `face-mismatch-pin-ok`: the normal answer, written by the terminal's
//!   face writer ([`write_face`], the one call site of
//!   [`crate::terminal::TerminalDriver::card_confirmation`]);
//! - `card-expired`, `card-revoked`: the centre refuses the certificate (403 naming
//!   `expired` / `revoked`); the face file says so with `ProcessingResultStatus` 2 and
//!   `ProcessingResultCode` C001 / C003 ([`fakes::eligibility::card_refusal`], the
//!   rule the conformance gate uses too);
//! - `pin-locked`: the card's PIN is locked (three wrong tries before), so the card
//!   never signs and nothing reaches the centre; the face file carries C002;
//! - the centre unreachable or failing: an abnormal answer (`SegmentOfResult` 9,
//!   `ErrorCode` 5001 / 5002), as for a failed inquiry.
//!
//! The answer to the POST says what happened: `{"outcome", "method", "face_file",
//! "segment_of_result", "refusal"}`; bad input is a 4xx naming the field.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use fakes::card::VirtualCard;
use fakes::eligibility::card_refusal::{CardRefusal, Unconfirmed};
use fakes::eligibility::{EligibilityError, ErrorCode, ReaderConsents, VerifiedCardHolder};
use fakes::process::fault::CardProblem;
use fakes::reader::{Consents, FaceOutcome, Model, Patient, Reader};

use super::card::{holder_of, to_hex};
use super::clinics::LiveClinic;
use super::App;

/// What the patient's presentation comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PresentOutcome {
    #[default]
    FaceOk,
    FaceMismatchPinOk,
    PinLocked,
    CardExpired,
    CardRevoked,
}

/// The patient's answers on the reader's consent screens (absent: no).
#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PresentConsents {
    pub limit_certificate: bool,
    pub pharmacists_info: bool,
    pub specific_health_checkups: bool,
}

/// The body of `POST /reader/present`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresentRequest {
    /// A data row of `population.csv` (from 0, the first line after the header).
    pub row: usize,
    /// What the presentation comes to; left out, the scenario's `card` fault decides
    /// (when it is the first patient's: [`super::world::World::card_fault_at_reader`]),
    /// else `face-ok`.
    #[serde(default)]
    pub outcome: Option<PresentOutcome>,
    #[serde(default)]
    pub consents: PresentConsents,
}

/// A bad request: the field and the message.
pub type BadField = (&'static str, String);

/// The registered PIN of every virtual card (`POST /cards` answers it too).
const PIN: &str = "1234";
/// The reader model of the simulated clinic *(our choice)*.
const MODEL: Model = Model::PanasonicConnect;
/// Deadline of one exchange with the centre.
const CENTRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Run one presentation; blocking (call from `spawn_blocking`).
pub fn present(
    app: &Arc<App>,
    clinic: &LiveClinic,
    req: &PresentRequest,
) -> Result<Value, BadField> {
    let population = &clinic.population;
    let key = super::population::key_of_row(population, req.row).ok_or_else(|| {
        (
            "row",
            format!(
                "row {} is not a data row of population.csv (0..={}, counted from the first line after the header)",
                req.row,
                super::population::row_keys(population).len().saturating_sub(1)
            ),
        )
    })?;
    let Some(face) = clinic.face.get() else {
        return Err((
            "row",
            "this server has no terminal file drop to write face files to".into(),
        ));
    };
    let holder = holder_of(&key);
    let today = app.clock.now().date();
    let (outcome, problem, from_fault) = match req.outcome {
        Some(o) => (o, problem_of(o), false),
        None => match clinic.world.card_fault_at_reader() {
            Some(p) => (outcome_of(p), Some(p), true),
            None => (PresentOutcome::FaceOk, None, false),
        },
    };
    // The clinic's first patient, for the verdict (`onsim serve --scenario`).
    clinic.world.reader_presented(problem);
    let said = Said {
        outcome,
        from_fault,
    };
    let issued = match outcome {
        PresentOutcome::CardExpired => today
            .checked_sub_months(chrono::Months::new(72))
            .unwrap_or(today),
        _ => today
            .checked_sub_months(chrono::Months::new(12))
            .unwrap_or(today),
    };
    let profile = app
        .cards
        .issue_for_holder(&holder, issued)
        .map_err(|e| ("row", format!("cannot issue a card: {e}")))?;
    if outcome == PresentOutcome::CardRevoked {
        app.cards.revoke(&profile, today);
    }
    let profile_not_after = profile.auth.not_after;
    let mut card = VirtualCard::new(Arc::new(profile));
    let c = req.consents;
    let consents = ReaderConsents {
        limit_certificate: c.limit_certificate,
        pharmacists_info: c.pharmacists_info,
        specific_health_checkups: c.specific_health_checkups,
        card_certificate_expiry: Some(profile_not_after),
        ..ReaderConsents::default()
    };
    let patient = match outcome {
        PresentOutcome::FaceMismatchPinOk => Patient {
            face: vec![FaceOutcome::Mismatch; MODEL.face_attempts()],
            pins_typed: vec![PIN.into()],
            staff_confirms: false,
            consents: reader_consents(c),
        },
        PresentOutcome::PinLocked => {
            lock_pin(&mut card);
            Patient {
                staff_confirms: false,
                ..Patient::face_match(reader_consents(c))
            }
        }
        _ => Patient::face_match(reader_consents(c)),
    };
    let centre = Centre::new(app, clinic)?;
    // The challenge comes first: the card signs it during the session.
    let challenge = match centre.post("/eligibility/card/challenge", b"{}") {
        Ok((200, body)) => serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| super::card::from_hex(v["challenge"].as_str()?)),
        _ => None,
    };
    let Some(challenge) = challenge else {
        let path = write_unconfirmed(
            face,
            Unconfirmed::CentreFailed(EligibilityError::new(
                ErrorCode::CentreError,
                "the implementing body gave no challenge",
            )),
        )?;
        return Ok(answer(said, None, &path, Some("no-challenge")));
    };
    let session = Reader::new(MODEL).confirm(&mut card, &patient, &challenge, PIN);
    let (method, identity) = match session {
        Ok(conf) => (
            Some(format!("{:?}", conf.method).to_lowercase()),
            conf.identity,
        ),
        Err(_) => (None, None),
    };
    let Some(id) = identity else {
        // The card never signed: nothing reached the implementing body.
        let path = write_unconfirmed(face, Unconfirmed::Refused(CardRefusal::PinLocked))?;
        return Ok(answer(said, method.as_deref(), &path, Some("pin-locked")));
    };
    let body = json!({
        "challenge": to_hex(&id.challenge),
        "certificate": to_hex(&id.cert_der),
        "signature": to_hex(&id.signature),
        "consents": {
            "limit_certificate": c.limit_certificate,
            "pharmacists_info": c.pharmacists_info,
            "specific_health_checkups": c.specific_health_checkups,
        },
    });
    match centre.post("/eligibility/card", body.to_string().as_bytes()) {
        Ok((200, _xml)) => {
            let path = write_face(face, &holder, consents)
                .map_err(|e| ("row", format!("cannot write the face file: {e}")))?;
            Ok(answer(said, method.as_deref(), &path, None))
        }
        Ok((status, body)) => {
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let refusal = v["refusal"].as_str().unwrap_or("refused").to_string();
            let detail = format!(
                "the implementing body refused the card (HTTP {status}, {refusal}): {}",
                v["error"].as_str().unwrap_or("")
            );
            let what = match refusal.as_str() {
                "expired" => Unconfirmed::Refused(CardRefusal::CertificateExpired),
                "revoked" => Unconfirmed::Refused(CardRefusal::CertificateRevoked),
                _ => {
                    Unconfirmed::CentreFailed(EligibilityError::new(ErrorCode::CentreError, detail))
                }
            };
            let path = write_unconfirmed(face, what)?;
            Ok(answer(said, method.as_deref(), &path, Some(&refusal)))
        }
        Err(e) => {
            let path = write_unconfirmed(
                face,
                Unconfirmed::CentreFailed(EligibilityError::new(
                    ErrorCode::CentreUnreachable,
                    format!("the implementing body could not be reached: {e}"),
                )),
            )?;
            Ok(answer(said, method.as_deref(), &path, Some("unreachable")))
        }
    }
}

fn reader_consents(c: PresentConsents) -> Consents {
    Consents {
        drug_info: c.pharmacists_info,
        checkup_info: c.specific_health_checkups,
        high_cost_limit: c.limit_certificate,
    }
}

/// Three wrong PINs before the visit: the card's authentication PIN is locked.
fn lock_pin(card: &mut VirtualCard) {
    card.power_on();
    // SELECT the JPKI applet and the auth PIN, then VERIFY a wrong PIN three times.
    card.transmit(&[
        0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01,
    ]);
    card.transmit(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18]);
    for _ in 0..3 {
        card.transmit(&[0x00, 0x20, 0x00, 0x80, 0x04, b'0', b'0', b'0', b'0']);
    }
}

/// The outcome a presentation was given, and whether the scenario's `card` fault
/// chose it.
#[derive(Debug, Clone, Copy)]
struct Said {
    outcome: PresentOutcome,
    from_fault: bool,
}

/// The presentation a card problem of a scenario fault comes to at this reader: a
/// failed face match and a failed camera both fall back to the PIN, the fallback
/// order [`fakes::reader`] documents (face, then PIN, then a visual check).
fn outcome_of(p: CardProblem) -> PresentOutcome {
    match p {
        CardProblem::FaceMismatch | CardProblem::CameraFault => PresentOutcome::FaceMismatchPinOk,
        CardProblem::PinLocked => PresentOutcome::PinLocked,
        CardProblem::CertificateExpired => PresentOutcome::CardExpired,
        CardProblem::CertificateRevoked => PresentOutcome::CardRevoked,
    }
}

/// The card problem a presentation's outcome stands for (the first patient's events,
/// [`fakes::process::first_patient`]).
fn problem_of(o: PresentOutcome) -> Option<CardProblem> {
    match o {
        PresentOutcome::FaceOk => None,
        PresentOutcome::FaceMismatchPinOk => Some(CardProblem::FaceMismatch),
        PresentOutcome::PinLocked => Some(CardProblem::PinLocked),
        PresentOutcome::CardExpired => Some(CardProblem::CertificateExpired),
        PresentOutcome::CardRevoked => Some(CardProblem::CertificateRevoked),
    }
}

fn answer(
    said: Said,
    method: Option<&str>,
    path: &std::path::Path,
    refusal: Option<&str>,
) -> Value {
    json!({
        "outcome": format!("{:?}", said.outcome),
        "scenario_fault": said.from_fault,
        "method": method,
        "face_file": path,
        "segment_of_result": if refusal.is_none() { "1" } else { "9" },
        "refusal": refusal,
    })
}

/// The terminal's face writer, for a confirmed card. The one place the reader hands
/// a confirmation to the file drop.
pub fn write_face(
    face: &FaceSink,
    holder: &VerifiedCardHolder,
    consents: ReaderConsents,
) -> std::io::Result<PathBuf> {
    face.0.present_card(holder, consents)
}

/// Write the face answer for a card the reader refused
/// ([`fakes::eligibility::card_refusal`]: one rule for reader, gate and tests),
/// through the file drop's face writer (real name form, atomic, never over a file).
fn write_unconfirmed(face: &FaceSink, what: Unconfirmed) -> Result<PathBuf, BadField> {
    face.0
        .unconfirmed_card(what)
        .map_err(|e| ("row", format!("cannot write the face file: {e}")))
}

/// Where face files go: the running file drop's `face/` writer.
pub struct FaceSink(pub crate::terminal::FaceDrop);

/// The reader's link to the implementing body: mutual TLS with the terminal's
/// credential, through the carrier (the terminal's reserved listener).
struct Centre {
    addr: SocketAddr,
    cfg: Arc<rustls::ClientConfig>,
}

impl Centre {
    fn new(app: &App, clinic: &LiveClinic) -> Result<Centre, BadField> {
        let valid = clinic
            .credential("valid")
            .ok_or(("row", "the clinic has no valid credential".to_string()))?;
        let cfg = super::centre::credential_client_config(&app.pki, valid)
            .map_err(|e| ("row", format!("TLS: {e}")))?;
        Ok(Centre {
            addr: clinic.reader_centre,
            cfg: Arc::new(cfg),
        })
    }

    /// POST `body` (JSON); (status, body).
    fn post(&self, path: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        let tcp = TcpStream::connect_timeout(&self.addr, CENTRE_TIMEOUT)?;
        tcp.set_read_timeout(Some(CENTRE_TIMEOUT))?;
        tcp.set_write_timeout(Some(CENTRE_TIMEOUT))?;
        let name =
            rustls_pki_types::ServerName::try_from("localhost").map_err(std::io::Error::other)?;
        let conn =
            rustls::ClientConnection::new(self.cfg.clone(), name).map_err(std::io::Error::other)?;
        let mut t = rustls::StreamOwned::new(conn, tcp);
        write!(
            t,
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
        t.write_all(body)?;
        t.flush()?;
        let mut raw = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match t.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                // A peer that closes without close_notify: keep what arrived.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(e),
            }
            if raw.len() > 1 << 20 {
                return Err(std::io::Error::other("answer larger than 1 MiB"));
            }
        }
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| std::io::Error::other("the answer is not HTTP"))?;
        let head = String::from_utf8_lossy(&raw[..end]);
        let status = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other("the answer is not HTTP"))?;
        Ok((status, raw[end + 4..].to_vec()))
    }
}
