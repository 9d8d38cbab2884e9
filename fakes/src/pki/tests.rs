//! Every fault is refused with its own reason; good certificates pass.

use chrono::{NaiveDate, NaiveDateTime};

use super::*;
use crate::codes::InstitutionCode;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn at(s: &str) -> NaiveDateTime {
    d(s).and_hms_opt(12, 0, 0).unwrap()
}

fn code(s: &str) -> InstitutionCode {
    s.parse().unwrap()
}

const SEED: u64 = 42;

#[test]
fn client_certificate_rules() {
    let ca = Authority::implementing_body(SEED, 1, d("2024-01-01"), d("2034-01-01")).unwrap();
    let clinic = code("1312345679");
    let good = ca
        .issue(&CertSpec::client(&clinic, "T1", d("2025-04-01")))
        .unwrap();
    assert_eq!(good.not_after, d("2028-07-01"), "3 years 3 months");
    assert_eq!(institution_of_der(&good.der).as_deref(), Some("1312345679"));
    let v = Verifier::new().trust(ca.cert_der());
    let ok = v
        .verify(&good.der, &Purpose::Client(clinic), at("2025-05-01"))
        .unwrap();
    assert_eq!(ok.institution.as_deref(), Some("1312345679"));

    let reason = |r: Result<Accepted, Refusal>| r.unwrap_err().code();
    assert_eq!(
        reason(v.verify(&good.der, &Purpose::Client(clinic), at("2028-07-02"))),
        "expired"
    );
    assert_eq!(
        reason(v.verify(&good.der, &Purpose::Client(clinic), at("2025-03-31"))),
        "not-yet-valid"
    );
    let other = code("1312345687");
    assert_eq!(
        reason(v.verify(&good.der, &Purpose::Client(other), at("2025-05-01"))),
        "other-institution"
    );
    assert_eq!(
        reason(v.verify(&good.der, &Purpose::Server, at("2025-05-01"))),
        "wrong-key-usage"
    );

    let crl = ca
        .crl(
            d("2025-06-01"),
            30,
            &[Revocation {
                serial: good.serial.clone(),
                date: d("2025-06-01"),
            }],
        )
        .unwrap();
    let vr = v.clone().with_crl(&crl);
    assert!(vr
        .verify(&good.der, &Purpose::Client(clinic), at("2025-05-01"))
        .is_ok());
    assert_eq!(
        reason(vr.verify(&good.der, &Purpose::Client(clinic), at("2025-06-02"))),
        "revoked"
    );

    let stranger =
        Authority::implementing_body(SEED + 1, 1, d("2024-01-01"), d("2034-01-01")).unwrap();
    let foreign = stranger
        .issue(&CertSpec::client(&clinic, "T1", d("2025-04-01")))
        .unwrap();
    assert_eq!(
        reason(v.verify(&foreign.der, &Purpose::Client(clinic), at("2025-05-01"))),
        "unknown-ca"
    );
}

#[test]
fn ca_rotation() {
    let g1 = Authority::implementing_body(SEED, 1, d("2020-01-01"), d("2030-01-01")).unwrap();
    let g2 = Authority::implementing_body(SEED, 2, d("2025-01-01"), d("2035-01-01")).unwrap();
    let clinic = code("1312345679");
    let old = g1
        .issue(&CertSpec::client(&clinic, "T1", d("2024-01-01")))
        .unwrap();
    let new = g2
        .issue(&CertSpec::client(&clinic, "T1", d("2025-02-01")))
        .unwrap();
    let v = Verifier::new()
        .trust_between(g1.cert_der(), None, Some(d("2025-12-31")))
        .trust_between(g2.cert_der(), Some(d("2025-10-01")), None);
    let p = Purpose::Client(clinic);
    assert!(v.verify(&old.der, &p, at("2025-11-01")).is_ok());
    assert!(v.verify(&new.der, &p, at("2025-11-01")).is_ok());
    assert_eq!(
        v.verify(&old.der, &p, at("2026-01-02")).unwrap_err().code(),
        "ca-retired"
    );
    assert_eq!(
        v.verify(&new.der, &p, at("2025-09-01")).unwrap_err().code(),
        "ca-not-yet-trusted"
    );
}

#[test]
fn card_and_server_certificates() {
    let jpki = Authority::jpki(SEED, 1, d("2020-01-01"), d("2040-01-01")).unwrap();
    let auth = jpki
        .issue(&CertSpec::card_auth(
            "card-1",
            d("2024-01-01"),
            d("2029-01-01"),
        ))
        .unwrap();
    assert!(auth.key.rsa.is_some());
    assert_eq!(&auth.der[..2], &[0x30, 0x82]);
    let v = Verifier::new().trust(jpki.cert_der());
    v.verify(&auth.der, &Purpose::CardAuth, at("2025-01-01"))
        .unwrap();
    let mut no_ds = CertSpec::card_auth("card-2", d("2024-01-01"), d("2029-01-01"));
    no_ds.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
    let bad = jpki.issue(&no_ds).unwrap();
    assert_eq!(
        v.verify(&bad.der, &Purpose::CardAuth, at("2025-01-01"))
            .unwrap_err()
            .code(),
        "wrong-key-usage"
    );
    // A CA certificate is no card certificate.
    assert_eq!(
        v.verify(jpki.cert_der(), &Purpose::CardAuth, at("2025-01-01"))
            .unwrap_err()
            .code(),
        "wrong-key-usage"
    );

    let fakes = Authority::fakes(SEED, d("2020-01-01"), d("2040-01-01")).unwrap();
    let srv = fakes
        .issue(&CertSpec::server(
            "implementing-body",
            d("2024-01-01"),
            d("2030-01-01"),
        ))
        .unwrap();
    Verifier::new()
        .trust(fakes.cert_der())
        .verify(&srv.der, &Purpose::Server, at("2025-01-01"))
        .unwrap();
    assert!(srv.pem().starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert!(
        Verifier::new()
            .verify(b"junk", &Purpose::Server, at("2025-01-01"))
            .unwrap_err()
            .code()
            == "malformed"
    );
}

#[test]
fn refusals_have_distinct_codes_and_text() {
    let all = [
        Refusal::Malformed("x".into()),
        Refusal::Expired {
            not_after: at("2025-01-01"),
        },
        Refusal::NotYetValid {
            not_before: at("2025-01-01"),
        },
        Refusal::Revoked {
            serial: "01".into(),
            since: at("2025-01-01"),
        },
        Refusal::OtherInstitution {
            expected: "a".into(),
            found: "b".into(),
        },
        Refusal::NoInstitution,
        Refusal::WrongKeyUsage {
            purpose: "p".into(),
            detail: "d".into(),
        },
        Refusal::UnknownCa { issuer: "i".into() },
        Refusal::CaRetired {
            ca: "c".into(),
            until: d("2025-01-01"),
        },
        Refusal::CaNotYetTrusted {
            ca: "c".into(),
            from: d("2025-01-01"),
        },
    ];
    let codes: std::collections::BTreeSet<_> = all.iter().map(Refusal::code).collect();
    assert_eq!(codes.len(), all.len());
    let texts: std::collections::BTreeSet<_> = all.iter().map(ToString::to_string).collect();
    assert_eq!(texts.len(), all.len());
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    /// Build a certificate with exactly one fault (index `f`), judged at `day` offset.
    fn faulty(f: usize, shift: u32) -> (&'static str, Result<Accepted, Refusal>) {
        let ca = Authority::implementing_body(SEED, 1, d("2020-01-01"), d("2040-01-01")).unwrap();
        let clinic = code("1312345679");
        let issued = d("2025-01-01") + chrono::Days::new(u64::from(shift));
        let good = CertSpec::client(&clinic, "T9", issued);
        let inside = (issued + chrono::Days::new(30))
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let v = Verifier::new().trust(ca.cert_der());
        let p = Purpose::Client(clinic);
        match f {
            0 => {
                let c = ca.issue(&good).unwrap();
                (
                    "expired",
                    v.verify(
                        &c.der,
                        &p,
                        (good.not_after + chrono::Days::new(1))
                            .and_hms_opt(0, 0, 0)
                            .unwrap(),
                    ),
                )
            }
            1 => {
                let c = ca.issue(&good).unwrap();
                (
                    "not-yet-valid",
                    v.verify(
                        &c.der,
                        &p,
                        (issued - chrono::Days::new(1))
                            .and_hms_opt(0, 0, 0)
                            .unwrap(),
                    ),
                )
            }
            2 => {
                let c = ca.issue(&good).unwrap();
                let crl = ca
                    .crl(
                        issued,
                        90,
                        &[Revocation {
                            serial: c.serial.clone(),
                            date: issued,
                        }],
                    )
                    .unwrap();
                ("revoked", v.with_crl(&crl).verify(&c.der, &p, inside))
            }
            3 => {
                let c = ca
                    .issue(&CertSpec::client(&code("1312345687"), "T9", issued))
                    .unwrap();
                ("other-institution", v.verify(&c.der, &p, inside))
            }
            4 => {
                let mut s = good.clone();
                s.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
                (
                    "wrong-key-usage",
                    v.verify(&ca.issue(&s).unwrap().der, &p, inside),
                )
            }
            5 => {
                let other = Authority::implementing_body(SEED, 9, d("2020-01-01"), d("2040-01-01"))
                    .unwrap();
                (
                    "unknown-ca",
                    v.verify(&other.issue(&good).unwrap().der, &p, inside),
                )
            }
            6 => {
                let c = ca.issue(&good).unwrap();
                let vr = Verifier::new().trust_between(ca.cert_der(), None, Some(issued));
                ("ca-retired", vr.verify(&c.der, &p, inside))
            }
            _ => {
                let c = ca.issue(&good).unwrap();
                let vr = Verifier::new().trust_between(
                    ca.cert_der(),
                    Some(issued + chrono::Days::new(60)),
                    None,
                );
                ("ca-not-yet-trusted", vr.verify(&c.der, &p, inside))
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn every_fault_has_its_own_reason(f in 0usize..8, shift in 0u32..2000) {
            let (want, got) = faulty(f, shift);
            prop_assert_eq!(got.unwrap_err().code(), want);
        }
    }
}
