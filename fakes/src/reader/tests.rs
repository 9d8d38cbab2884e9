use std::sync::{Arc, OnceLock};

use chrono::NaiveDate;

use super::*;
use crate::card::{CardFault, CardProfile, CardSetup, PinId};
use crate::pki::Authority;

fn world() -> &'static (Authority, Arc<CardProfile>) {
    static W: OnceLock<(Authority, Arc<CardProfile>)> = OnceLock::new();
    W.get_or_init(|| {
        let setup = CardSetup::new("reader-card", NaiveDate::from_ymd_opt(2024, 4, 1).unwrap());
        let (ca, p) = CardProfile::demo(11, &setup).unwrap();
        (ca, Arc::new(p))
    })
}

fn now() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2025, 6, 1)
        .unwrap()
        .and_hms_opt(9, 0, 0)
        .unwrap()
}

fn verifier() -> Verifier {
    Verifier::new().trust(world().0.cert_der())
}

fn patient(face: Vec<FaceOutcome>, pins: &[&str]) -> Patient {
    Patient {
        face,
        pins_typed: pins.iter().map(|s| s.to_string()).collect(),
        staff_confirms: true,
        consents: Consents {
            drug_info: true,
            checkup_info: false,
            high_cost_limit: true,
        },
    }
}

#[test]
fn face_match_signs_and_verifies() {
    for model in Model::ALL {
        let mut card = VirtualCard::new(world().1.clone());
        let c = Reader::new(model)
            .confirm(
                &mut card,
                &patient(vec![FaceOutcome::Match], &[]),
                b"nonce-1",
                "1234",
            )
            .unwrap();
        assert_eq!(c.method, Method::Face);
        let id = c.identity.unwrap();
        verify_identity(&id, b"nonce-1", &verifier(), now()).unwrap();
        assert_eq!(
            verify_identity(&id, b"nonce-2", &verifier(), now()),
            Err(IdentityError::WrongChallenge)
        );
        let mut forged = id.clone();
        forged.signature[10] ^= 1;
        assert_eq!(
            verify_identity(&forged, b"nonce-1", &verifier(), now()),
            Err(IdentityError::BadSignature)
        );
        assert!(c.consents.drug_info && c.consents.high_cost_limit);
        assert!(model.lead_time_days() >= 90 && model.lead_time_days() <= 122);
    }
}

#[test]
fn mismatch_falls_back_to_pin_then_visual() {
    let mut card = VirtualCard::new(world().1.clone());
    let c = Reader::new(Model::PanasonicConnect)
        .confirm(
            &mut card,
            &patient(vec![FaceOutcome::Mismatch], &["9999", "1234"]),
            b"n",
            "1234",
        )
        .unwrap();
    assert_eq!(c.method, Method::Pin);
    verify_identity(c.identity.as_ref().unwrap(), b"n", &verifier(), now()).unwrap();

    let mut card = VirtualCard::new(world().1.clone());
    let c = Reader::new(Model::PanasonicConnect)
        .confirm(
            &mut card,
            &patient(
                vec![FaceOutcome::Mismatch],
                &["0000", "0000", "0000", "1234"],
            ),
            b"n",
            "1234",
        )
        .unwrap();
    assert_eq!(c.method, Method::VisualCheck);
    assert!(c.identity.is_none());
    assert!(c.steps.contains(&Step::PinLocked));
    assert_eq!(card.pin(PinId::Auth).tries_left, 0);

    let mut p = patient(vec![FaceOutcome::Mismatch], &[]);
    p.staff_confirms = false;
    let mut card = VirtualCard::new(world().1.clone());
    assert_eq!(
        Reader::new(Model::AtlasExc9000).confirm(&mut card, &p, b"n", "1234"),
        Err(ReaderError::NotConfirmed)
    );
}

#[test]
fn quirks_and_timing() {
    // Fujitsu retries the face once.
    let mut card = VirtualCard::new(world().1.clone());
    let c = Reader::new(Model::FujitsuCaora)
        .confirm(
            &mut card,
            &patient(vec![FaceOutcome::Mismatch, FaceOutcome::Match], &[]),
            b"n",
            "1234",
        )
        .unwrap();
    assert_eq!(c.method, Method::Face);
    // Canon: camera fault goes straight to visual check even with a PIN ready.
    let mut card = VirtualCard::new(world().1.clone());
    let c = Reader::new(Model::CanonHiCara)
        .confirm(
            &mut card,
            &patient(vec![FaceOutcome::CameraFault], &["1234"]),
            b"n",
            "1234",
        )
        .unwrap();
    assert_eq!(c.method, Method::VisualCheck);
    // Others offer the keypad after a camera fault.
    let mut card = VirtualCard::new(world().1.clone());
    let c = Reader::new(Model::AlmexSnapIdTouch)
        .confirm(
            &mut card,
            &patient(vec![FaceOutcome::CameraFault], &["1234"]),
            b"n",
            "1234",
        )
        .unwrap();
    assert_eq!(c.method, Method::Pin);
    // Virtual time differs per model for the same session.
    let time = |m: Model| {
        let mut card = VirtualCard::new(world().1.clone());
        Reader::new(m)
            .confirm(
                &mut card,
                &patient(vec![FaceOutcome::Match], &[]),
                b"n",
                "1234",
            )
            .unwrap()
            .elapsed
    };
    assert!(time(Model::PanasonicConnect) > time(Model::FujitsuCaora));
    assert!(time(Model::AlmexSnapIdTouch) < time(Model::FujitsuCaora));
    assert!(time(Model::AtlasExc9000) > time(Model::FujitsuCaora));
}

#[test]
fn damaged_card_and_expired_certificate() {
    let mut card = VirtualCard::new(world().1.clone());
    card.set_fault(CardFault::Damaged);
    assert_eq!(
        Reader::new(Model::FujitsuCaora).confirm(
            &mut card,
            &patient(vec![FaceOutcome::Match], &[]),
            b"n",
            "1234"
        ),
        Err(ReaderError::CardUnreadable)
    );
    let mut card = VirtualCard::new(world().1.clone());
    card.set_fault(CardFault::PulledOutDuring(3));
    assert_eq!(
        Reader::new(Model::FujitsuCaora).confirm(
            &mut card,
            &patient(vec![FaceOutcome::Match], &[]),
            b"n",
            "1234"
        ),
        Err(ReaderError::CardRemoved)
    );
    let mut card = VirtualCard::new(world().1.clone());
    let c = Reader::new(Model::FujitsuCaora)
        .confirm(
            &mut card,
            &patient(vec![FaceOutcome::Match], &[]),
            b"n",
            "1234",
        )
        .unwrap();
    let later = NaiveDate::from_ymd_opt(2030, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    match verify_identity(c.identity.as_ref().unwrap(), b"n", &verifier(), later) {
        Err(IdentityError::Certificate(r)) => assert_eq!(r.code(), "expired"),
        other => panic!("{other:?}"),
    }
}
