use std::sync::{Arc, OnceLock};

use chrono::NaiveDate;
use proptest::prelude::*;
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};

use super::*;
use crate::pki::{Purpose, Verifier};

fn profile() -> Arc<CardProfile> {
    static P: OnceLock<Arc<CardProfile>> = OnceLock::new();
    P.get_or_init(|| {
        let setup = CardSetup::new("test-card", NaiveDate::from_ymd_opt(2024, 4, 1).unwrap());
        Arc::new(CardProfile::demo(7, &setup).unwrap().1)
    })
    .clone()
}

fn card() -> VirtualCard {
    let mut c = VirtualCard::new(profile());
    assert_eq!(c.power_on().unwrap(), ATR.to_vec());
    c
}

fn sw_of(r: &[u8]) -> u16 {
    u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]])
}

fn run(c: &mut VirtualCard, apdu: &[u8]) -> u16 {
    sw_of(&c.transmit(apdu))
}

fn select_ap(c: &mut VirtualCard) {
    let mut a = vec![0x00, 0xA4, 0x04, 0x0C, 0x0A];
    a.extend(AID_JPKI);
    assert_eq!(run(c, &a), 0x9000);
}

fn select_ef(c: &mut VirtualCard, fid: u16) -> u16 {
    let [h, l] = fid.to_be_bytes();
    run(c, &[0x00, 0xA4, 0x02, 0x0C, 0x02, h, l])
}

fn read_all(c: &mut VirtualCard, fid: u16) -> Vec<u8> {
    assert_eq!(select_ef(c, fid), 0x9000);
    let head = c.transmit(&[0x00, 0xB0, 0x00, 0x00, 0x04]);
    assert_eq!(sw_of(&head), 0x9000);
    let size = (usize::from(head[2]) << 8 | usize::from(head[3])) + 4;
    let mut out = Vec::new();
    while out.len() < size {
        let [p1, p2] = (out.len() as u16).to_be_bytes();
        let want = (size - out.len()).min(256);
        let r = c.transmit(&[0x00, 0xB0, p1, p2, want as u8]);
        assert_eq!(sw_of(&r), 0x9000);
        out.extend_from_slice(&r[..r.len() - 2]);
    }
    out
}

fn digest_info(msg: &[u8]) -> Vec<u8> {
    let mut di = vec![
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    di.extend(Sha256::digest(msg));
    di
}

#[test]
fn opensc_flow_reads_certificate_and_signs() {
    let mut c = card();
    select_ap(&mut c);
    let cert = read_all(&mut c, fid::AUTH_CERT);
    assert_eq!(cert, profile().auth.der);
    let ca = read_all(&mut c, fid::AUTH_CA);
    Verifier::new()
        .trust(&ca)
        .verify(
            &cert,
            &Purpose::CardAuth,
            NaiveDate::from_ymd_opt(2025, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
        )
        .unwrap();
    // token
    assert_eq!(select_ef(&mut c, fid::TOKEN), 0x9000);
    let t = c.transmit(&[0x00, 0xB0, 0x00, 0x00, 0x20]);
    assert_eq!(&t[..14], b"JPKIAPICCTOKEN");
    assert_eq!(t.len(), 34);
    // PIN status, verify, sign
    assert_eq!(select_ef(&mut c, fid::AUTH_PIN), 0x9000);
    assert_eq!(run(&mut c, &[0x00, 0x20, 0x00, 0x80]), 0x63C3);
    assert_eq!(run(&mut c, b"\x00\x20\x00\x80\x041234"), 0x9000);
    assert_eq!(select_ef(&mut c, fid::AUTH_KEY), 0x9000);
    let di = digest_info(b"hello");
    let mut apdu = vec![0x80, 0x2A, 0x00, 0x80, di.len() as u8];
    apdu.extend(&di);
    apdu.push(0);
    let r = c.transmit(&apdu);
    assert_eq!(sw_of(&r), 0x9000);
    assert_eq!(r.len(), 258);
    let public = rsa::RsaPublicKey::from(&**profile().auth_key());
    assert_eq!(public.size(), 256);
    public
        .verify(
            rsa::Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(b"hello"),
            &r[..256],
        )
        .unwrap();
}

#[test]
fn status_words() {
    let mut c = card();
    assert_eq!(run(&mut c, &[0x00]), 0x6700);
    assert_eq!(run(&mut c, &[0x10, 0xB0, 0, 0, 0]), 0x6E00);
    assert_eq!(run(&mut c, &[0x00, 0xCA, 0, 0, 0]), 0x6D00);
    assert_eq!(
        run(&mut c, &[0x00, 0xA4, 0x04, 0x0C, 0x03, 1, 2, 3]),
        0x6A82
    );
    assert_eq!(
        run(&mut c, &[0x00, 0xA4, 0x07, 0x0C, 0x02, 0, 0x0A]),
        0x6A86
    );
    select_ap(&mut c);
    assert_eq!(select_ef(&mut c, 0x1234), 0x6A82);
    assert_eq!(run(&mut c, &[0x00, 0xA4, 0x02, 0x0C, 0x01, 0x0A]), 0x6700);
    assert_eq!(select_ef(&mut c, fid::AUTH_KEY), 0x9000);
    assert_eq!(run(&mut c, &[0x00, 0xB0, 0, 0, 0]), 0x6982);
    let mut sign = vec![0x80, 0x2A, 0x00, 0x80, 0x03, 1, 2, 3, 0];
    assert_eq!(run(&mut c, &sign), 0x6982);
    sign[3] = 0x81;
    assert_eq!(run(&mut c, &sign), 0x6A86);
    assert_eq!(select_ef(&mut c, fid::AUTH_CERT), 0x9000);
    assert_eq!(run(&mut c, &[0x00, 0xB0, 0x7F, 0x00, 0x10]), 0x6B00);
    assert_eq!(select_ef(&mut c, fid::SIGN_CERT), 0x9000);
    assert_eq!(
        run(&mut c, &[0x00, 0xB0, 0, 0, 4]),
        0x6982,
        "signing cert needs the signing PIN"
    );
}

#[test]
fn pin_locks_after_three_and_survives_power_cycle() {
    let mut c = card();
    select_ap(&mut c);
    select_ef(&mut c, fid::AUTH_PIN);
    assert_eq!(run(&mut c, b"\x00\x20\x00\x80\x040000"), 0x63C2);
    assert_eq!(run(&mut c, b"\x00\x20\x00\x80\x040000"), 0x63C1);
    assert_eq!(run(&mut c, b"\x00\x20\x00\x80\x040000"), 0x63C0);
    assert_eq!(run(&mut c, b"\x00\x20\x00\x80\x041234"), 0x6983);
    c.power_off();
    c.remove();
    c.insert();
    c.power_on().unwrap();
    select_ap(&mut c);
    select_ef(&mut c, fid::AUTH_PIN);
    assert_eq!(run(&mut c, &[0x00, 0x20, 0x00, 0x80]), 0x63C0);
    assert_eq!(run(&mut c, b"\x00\x20\x00\x80\x041234"), 0x6983);
    // The signing PIN is separate and has five tries.
    select_ef(&mut c, fid::SIGN_PIN);
    assert_eq!(run(&mut c, &[0x00, 0x20, 0x00, 0x80]), 0x63C5);
}

#[test]
fn facts_and_face_applets() {
    let mut c = card();
    let mut sel = vec![0x00, 0xA4, 0x04, 0x0C, 0x0A];
    sel.extend(AID_FACTS);
    assert_eq!(run(&mut c, &sel), 0x9000);
    assert_eq!(select_ef(&mut c, fid::FACTS_BASIC), 0x9000);
    assert_eq!(run(&mut c, &[0x00, 0xB0, 0, 0, 0]), 0x6982);
    select_ef(&mut c, fid::FACTS_PIN);
    assert_eq!(run(&mut c, b"\x00\x20\x00\x80\x041234"), 0x9000);
    select_ef(&mut c, fid::FACTS_BASIC);
    let r = c.transmit(&[0x00, 0xB0, 0, 0, 0]);
    assert_eq!(sw_of(&r), 0x9000);
    assert_eq!(&r[..2], &[0xFF, 0x20]);
    assert!(!format!("{:?}", profile()).contains(&profile().facts.name));
    let mut sel = vec![0x00, 0xA4, 0x04, 0x0C, 0x0A];
    sel.extend(AID_FACE);
    assert_eq!(run(&mut c, &sel), 0x9000);
    select_ef(&mut c, fid::FACE_IMAGE);
    let r = c.transmit(&[0x00, 0xB0, 0, 0, 0]);
    assert_eq!(&r[..2], &[0xFF, 0xD8]);
}

#[test]
fn damaged_and_pulled_out() {
    let mut c = VirtualCard::new(profile());
    c.set_fault(CardFault::Damaged);
    assert_eq!(c.power_on(), None);
    assert_eq!(c.exchange(&[0, 0xA4, 4, 0x0C]), Err(NoResponse::Unpowered));
    let mut c = card();
    select_ap(&mut c);
    select_ef(&mut c, fid::AUTH_PIN);
    c.set_fault(CardFault::PulledOutDuring(1));
    assert_eq!(
        c.exchange(b"\x00\x20\x00\x80\x040000"),
        Err(NoResponse::Removed)
    );
    assert!(!c.is_present());
    assert_eq!(
        c.pin(PinId::Auth).tries_left,
        2,
        "tearing-protected counter"
    );
    c.insert();
    c.power_on().unwrap();
    assert_eq!(c.pin(PinId::Auth).tries_left, 2);
}

fn arb_apdu() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        // Mostly well-formed headers for our instructions, random parameters and bodies.
        (
            prop::sample::select(vec![0x00u8, 0x80, 0x0C]),
            prop::sample::select(vec![0xA4u8, 0xB0, 0x20, 0x2A, 0xC0]),
            any::<u8>(),
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..12)
        )
            .prop_map(|(cla, ins, p1, p2, rest)| {
                let mut v = vec![cla, ins, p1, p2];
                v.extend(rest);
                v
            }),
    ]
}

#[derive(Debug, Clone)]
enum Step {
    Apdu(Vec<u8>),
    SelectAuthPin,
    Verify(bool),
    Reset,
    PowerCycle,
}

fn arb_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        arb_apdu().prop_map(Step::Apdu),
        Just(Step::SelectAuthPin),
        any::<bool>().prop_map(Step::Verify),
        Just(Step::Reset),
        Just(Step::PowerCycle),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_apdus_never_panic_and_end_in_sw(apdus in proptest::collection::vec(arb_apdu(), 1..20)) {
        let mut c = card();
        for a in apdus {
            let r = c.transmit(&a);
            prop_assert!(r.len() >= 2);
            prop_assert!(r.len() <= 258);
        }
    }

    #[test]
    fn pin_counter_invariants(steps in proptest::collection::vec(arb_step(), 1..40)) {
        let mut c = card();
        let mut locked = false;
        for s in steps {
            let before = c.pin(PinId::Auth).tries_left;
            let mut correct_verify = false;
            match s {
                Step::Apdu(a) => {
                    let r = c.transmit(&a);
                    prop_assert!(r.len() >= 2);
                    correct_verify = a.len() == 9 && a[..5] == [0x00, 0x20, 0x00, 0x80, 0x04] && &a[5..] == b"1234";
                }
                Step::SelectAuthPin => {
                    select_ap(&mut c);
                    select_ef(&mut c, fid::AUTH_PIN);
                }
                Step::Verify(good) => {
                    let pin: &[u8] = if good { b"1234" } else { b"9999" };
                    let mut a = vec![0x00, 0x20, 0x00, 0x80, 0x04];
                    a.extend(pin);
                    c.transmit(&a);
                    correct_verify = good;
                }
                Step::Reset => { c.reset(); }
                Step::PowerCycle => { c.power_off(); c.power_on(); }
            }
            let after = c.pin(PinId::Auth).tries_left;
            if after > before {
                prop_assert!(correct_verify && !locked, "tries went up {before}->{after}");
                prop_assert_eq!(after, 3);
            }
            prop_assert!(before - after.min(before) <= 1);
            if after == 0 { locked = true; }
            if locked { prop_assert_eq!(after, 0); }
        }
    }

    #[test]
    fn every_signature_verifies(msg in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut c = card();
        select_ap(&mut c);
        select_ef(&mut c, fid::AUTH_PIN);
        prop_assert_eq!(run(&mut c, b"\x00\x20\x00\x80\x041234"), 0x9000);
        select_ef(&mut c, fid::AUTH_KEY);
        let di = digest_info(&msg);
        let mut apdu = vec![0x80, 0x2A, 0x00, 0x80, di.len() as u8];
        apdu.extend(&di);
        apdu.push(0);
        let r = c.transmit(&apdu);
        prop_assert_eq!(sw_of(&r), 0x9000);
        let public = rsa::RsaPublicKey::from(&**profile().auth_key());
        prop_assert!(public.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(&msg), &r[..256]).is_ok());
    }
}
