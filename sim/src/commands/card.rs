//! `onsim card`: a virtual My Number card on a vpcd socket, so that PC/SC programs
//! (pcscd + OpenSC, or real clinic software) see a card in the "Virtual PCD" reader.
//!
//! vpcd protocol (docs/DOMAIN.md §8): every message both ways is a 2-byte big-endian length
//! plus payload. One-byte messages from vpcd are control codes: `00` power off, `01`
//! power on, `02` reset, `04` send the ATR; longer ones are command APDUs, answered with
//! the response APDU. The card logic is the pure [`fakes::card::VirtualCard`]; this
//! module is only the socket adapter. Only instruction bytes and status words are
//! logged, never data (the card holds simulated personal data).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use fakes::card::{CardFault, CardProfile, CardSetup, PinId, VirtualCard};
use fakes::pki::Revocation;

use crate::error::{CliError, CmdResult, Outcome};

/// Connect a virtual My Number card (JPKI) to vpcd and serve APDUs until vpcd closes
/// the connection.
///
/// vpcd (Debian package vsmartcard-vpcd, loaded by pcscd) listens on ALL interfaces on
/// port 35963 (first slot) and 35964 (second): connect to 127.0.0.1 only, and keep the
/// port firewalled on shared machines.
#[derive(Debug, Args)]
pub struct CardArgs {
    /// vpcd address to connect to (use 127.0.0.1; vpcd listens on all interfaces).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:35963")]
    pub vpcd: String,

    /// What state the card is in.
    #[arg(long, value_enum, default_value_t = CardProfileName::Valid)]
    pub profile: CardProfileName,

    /// The user-authentication PIN (4 digits); the card-facts PIN is the same.
    #[arg(long, default_value = "1234")]
    pub pin: String,

    /// The signing PIN (6-16 letters or digits).
    #[arg(long, default_value = "ABC123")]
    pub sign_pin: String,

    /// Seed for keys and simulated card facts (same seed, same card).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Issue date of the card's certificates (virtual; valid 5 years).
    #[arg(long, value_name = "YYYY-MM-DD", default_value = "2024-04-01")]
    pub issued: String,

    /// Write the user-authentication certificate (PEM) here before serving.
    #[arg(long, value_name = "FILE")]
    pub export_cert: Option<PathBuf>,

    /// Write the JPKI CA certificate (PEM) here before serving.
    #[arg(long, value_name = "FILE")]
    pub export_ca: Option<PathBuf>,

    /// Write the JPKI CA's CRL (PEM) here; it lists the card for --profile revoked.
    #[arg(long, value_name = "FILE")]
    pub export_crl: Option<PathBuf>,

    /// When vpcd closes the connection, connect again with the same card (its PIN
    /// counters kept), instead of exiting. Models pulling the card out and back in.
    #[arg(long)]
    pub reconnect: bool,

    /// Seconds to keep trying to reach vpcd before giving up.
    #[arg(long, default_value_t = 10)]
    pub connect_timeout: u64,
}

/// Card states a user can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CardProfileName {
    /// A healthy card.
    Valid,
    /// Certificates expired (issued 2014-01-01, valid to 2019-01-01).
    Expired,
    /// Certificates revoked on the CRL (see --export-crl).
    Revoked,
    /// User-authentication PIN already locked (3 wrong tries).
    PinLocked,
    /// Damaged chip: no answer to reset.
    Damaged,
}

pub fn run(args: CardArgs) -> CmdResult {
    let addr = parse_addr(&args.vpcd)?;
    if args.pin.len() != 4 || !args.pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CliError::new(format!(
            "--pin must be exactly 4 digits (利用者証明用パスワード), got {} characters",
            args.pin.chars().count()
        )));
    }
    if !(6..=16).contains(&args.sign_pin.len())
        || !args.sign_pin.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(CliError::new(
            "--sign-pin must be 6-16 ASCII letters or digits",
        ));
    }
    let issued: NaiveDate = args.issued.parse().map_err(|_| {
        CliError::new(format!(
            "--issued {:?} is not a date (YYYY-MM-DD)",
            args.issued
        ))
    })?;
    let issued = if args.profile == CardProfileName::Expired {
        NaiveDate::from_ymd_opt(2014, 1, 1).expect("valid date")
    } else {
        issued
    };
    let mut setup = CardSetup::new("vpcd-card", issued);
    setup.auth_pin = args.pin.clone();
    setup.facts_pin = args.pin.clone();
    setup.sign_pin = args.sign_pin.clone();
    let (ca, profile) = CardProfile::demo(args.seed, &setup)
        .map_err(|e| CliError::new(format!("cannot issue the card: {e}")))?;
    let revoked = if args.profile == CardProfileName::Revoked {
        vec![Revocation {
            serial: profile.auth.serial.clone(),
            date: issued,
        }]
    } else {
        vec![]
    };
    export(&args.export_cert, &profile.auth.pem())?;
    export(&args.export_ca, &ca.cert_pem())?;
    if args.export_crl.is_some() {
        let crl = ca
            .crl(issued, 3650, &revoked)
            .map_err(|e| CliError::new(format!("cannot make the CRL: {e}")))?;
        export(&args.export_crl, &fakes::pki::pem_encode("X509 CRL", &crl))?;
    }
    let mut card = VirtualCard::new(Arc::new(profile));
    match args.profile {
        CardProfileName::PinLocked => card.lock_pin(PinId::Auth),
        CardProfileName::Damaged => card.set_fault(CardFault::Damaged),
        _ => {}
    }
    loop {
        let stream = connect(addr, Duration::from_secs(args.connect_timeout))?;
        tracing::info!(%addr, "connected to vpcd");
        match serve(stream, &mut card) {
            Ok(()) => tracing::info!("vpcd closed the connection"),
            Err(e) => tracing::warn!("vpcd connection lost: {e}"),
        }
        if !args.reconnect {
            return Ok(Outcome::Passed);
        }
        card.remove();
        card.insert();
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn parse_addr(s: &str) -> Result<SocketAddr, CliError> {
    let bad = || {
        CliError::new(format!(
            "--vpcd {s:?} is not HOST:PORT (e.g. 127.0.0.1:35963)"
        ))
    };
    if !s.contains(':') {
        return Err(bad());
    }
    s.to_socket_addrs()
        .map_err(|_| bad())?
        .next()
        .ok_or_else(bad)
}

fn export(path: &Option<PathBuf>, pem: &str) -> Result<(), CliError> {
    if let Some(p) = path {
        std::fs::write(p, pem)
            .map_err(|e| CliError::new(format!("cannot write {}: {e}", p.display())))?;
    }
    Ok(())
}

fn connect(addr: SocketAddr, patience: Duration) -> Result<TcpStream, CliError> {
    let deadline = std::time::Instant::now() + patience;
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) if std::time::Instant::now() >= deadline => {
                return Err(CliError::new(format!(
                    "cannot connect to vpcd at {addr}: {e} (is pcscd running with vsmartcard-vpcd? try scripts/start-services)"
                )))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// Serve one vpcd connection until it closes (`Ok`) or fails.
pub fn serve<S: Read + Write>(mut stream: S, card: &mut VirtualCard) -> std::io::Result<()> {
    loop {
        let mut len = [0u8; 2];
        match stream.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut msg)?;
        if let Some(reply) = handle(&msg, card) {
            let n =
                u16::try_from(reply.len()).map_err(|_| std::io::Error::other("reply too long"))?;
            stream.write_all(&n.to_be_bytes())?;
            stream.write_all(&reply)?;
            stream.flush()?;
        }
    }
}

/// One vpcd message in, the reply (if the message wants one) out.
pub fn handle(msg: &[u8], card: &mut VirtualCard) -> Option<Vec<u8>> {
    match msg {
        [0x00] => {
            tracing::debug!("power off");
            card.power_off();
            None
        }
        [0x01] => {
            tracing::debug!("power on");
            card.power_on();
            None
        }
        [0x02] => {
            tracing::debug!("reset");
            card.reset();
            None
        }
        [0x04] => {
            // A damaged card has no ATR: answer with an empty one.
            let atr = if card.is_powered() {
                Some(fakes::card::ATR.to_vec())
            } else {
                card.power_on()
            };
            tracing::debug!(ok = atr.is_some(), "ATR requested");
            Some(atr.unwrap_or_default())
        }
        [_] => None,
        apdu => {
            let r = card.transmit(apdu);
            tracing::debug!(
                cla = format_args!("{:02X}", apdu.first().copied().unwrap_or(0)),
                ins = format_args!("{:02X}", apdu.get(1).copied().unwrap_or(0)),
                sw = format_args!("{:02X}{:02X}", r[r.len() - 2], r[r.len() - 1]),
                "APDU"
            );
            Some(r)
        }
    }
}
