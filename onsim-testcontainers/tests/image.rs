//! The module against the real image (`scripts/image` builds `onsim:dev`; `ONSIM_IMAGE`
//! picks another), through ordinary port mapping: start it, confirm one patient over
//! mutual TLS with the `valid` credential, see `expired` refused, read and move the
//! virtual clock, and find the container gone after the drop.
//!
//! Without a Docker engine or the image the test prints a loud SKIPPED; with
//! `ONSIM_REQUIRE_DOCKER=1` (scripts/test, after scripts/image) it fails instead.

use std::time::{Duration, Instant};

use onsim_testcontainers::{available, container_exists, Advance, Error, OnsimImage};

#[test]
fn start_confirm_one_patient_over_mtls_and_move_the_clock() {
    if !available("onsim-testcontainers::start_confirm_one_patient_over_mtls_and_move_the_clock") {
        return;
    }
    let t0 = Instant::now();
    let onsim = OnsimImage::default()
        .with_args(["--households", "2000"])
        .start()
        .expect("the image starts and gets ready");
    let ready = t0.elapsed();
    let id = onsim.id();
    let state = onsim.state_dir().to_path_buf();

    // Endpoints: every URL on the advertised host (the image's default, 127.0.0.1)
    // and a published container port; the host URL carries the mapped port.
    let ep = onsim.endpoints();
    assert_eq!(ep.str("bind").unwrap(), "0.0.0.0");
    assert_eq!(ep.ports().len(), 7);
    let elig = onsim.host_url("eligibility_url").unwrap();
    assert_eq!(elig.host, "127.0.0.1");
    assert_eq!(
        elig.url,
        format!("https://127.0.0.1:{}/eligibility", ep.ports()[&7005])
    );

    // Credentials: the files the container wrote, readable by this (non-container)
    // process even though keys are 0600, because the container ran as us.
    let names = ep.credential_names();
    for n in [
        "valid",
        "expired",
        "not-yet-valid",
        "revoked",
        "wrong-ca",
        "other-institution",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
    }
    let valid = onsim.credential("valid").unwrap();
    assert!(String::from_utf8(valid.cert_pem().unwrap())
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(String::from_utf8(valid.key_pem().unwrap())
        .unwrap()
        .contains("PRIVATE KEY-----"));
    assert_eq!(valid.expected_refusal, None);

    // One patient confirmed over mutual TLS, the answer as population.csv says.
    let clock = onsim.clock().unwrap();
    assert_eq!(clock.now, "2025-04-01T09:00");
    let patients = onsim.population().unwrap();
    let p = patients
        .iter()
        .find(|p| p.expected_validity == "1")
        .expect("a row expecting validity 1");
    let institution = onsim.institution_code().unwrap().to_string();
    let xml = p.single_inquiry(&institution, &clock.date_yyyymmdd(), "tc-rust-1");
    let answer = onsim.confirm(&valid, &xml).unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer
            .body
            .contains("<QualificationValidity>1</QualificationValidity>"),
        "{}",
        answer.body
    );
    assert!(
        answer.body.contains("tc-rust-1"),
        "the identifier is echoed: {}",
        answer.body
    );
    // A row expecting another outcome gets that one: the answer depends on the person.
    let other = patients
        .iter()
        .find(|p| p.expected_validity != "1")
        .unwrap();
    let answer = onsim
        .confirm_at(
            "eligibility_via_carrier_url",
            &valid,
            &other.single_inquiry(&institution, &clock.date_yyyymmdd(), "tc-rust-2"),
        )
        .unwrap();
    let want = format!(
        "<QualificationValidity>{}</QualificationValidity>",
        other.expected_validity
    );
    assert!(answer.body.contains(&want), "{want}: {}", answer.body);

    // An expired credential is refused (a TLS alert, or 403), never answered.
    let expired = onsim.credential("expired").unwrap();
    match onsim.confirm(&expired, &xml) {
        Err(Error::Http { reason, .. }) => assert!(!reason.is_empty()),
        Ok(a) => {
            assert_eq!(a.status, 403, "{}", a.body);
            assert!(!a.body.contains("<QualificationValidity>"));
        }
        Err(e) => panic!("expired: {e}"),
    }
    let t = Instant::now();
    while !onsim.stderr_text().contains("refusal=\"expired\"") {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{}",
            onsim.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The virtual clock: a day on, and a jump back refused with the service's 422.
    let after = onsim.advance(Advance::Days(1)).unwrap();
    assert_eq!(after.now, "2025-04-02T09:00");
    assert_eq!(onsim.clock().unwrap().now, "2025-04-02T09:00");
    match onsim.advance(Advance::To("2025-04-01".into())) {
        Err(Error::Status { status, body, .. }) => assert_eq!(status, 422, "{body}"),
        other => panic!("a jump back must be refused: {other:?}"),
    }

    drop(onsim);
    assert!(!container_exists(&id), "container {id} removed");
    assert!(
        !state.exists(),
        "temporary state dir {} removed",
        state.display()
    );
    eprintln!(
        "onsim-testcontainers: ready after {ready:?}, test {:?}",
        t0.elapsed()
    );
}

/// `onsim serve --scenario` in the container (issue 17 items 1 and 5): onsim plays
/// the clinic of `tests/fixtures/onsim-plays-the-clinic.toml`; the test moves the
/// clock past the designation day, confirms one patient over mutual TLS, reads the
/// verdict while it runs, then stops the container and reads the verdict it wrote.
#[test]
fn a_scenario_runs_in_the_container_and_its_verdict_is_read() {
    if !available("onsim-testcontainers::a_scenario_runs_in_the_container_and_its_verdict_is_read")
    {
        return;
    }
    let scenario = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onsim-plays-the-clinic.toml");
    let onsim = OnsimImage::default()
        .with_args(["--households", "500"])
        .with_scenario(&scenario)
        .start()
        .expect("the image starts with the scenario");

    // Before anything happened: nothing settled, the clinic not online yet.
    let v = onsim.verdict().unwrap();
    assert_eq!(v.clinic, "onsim");
    assert!(!v.settled && !v.passed, "{:#}", v.raw);
    assert_eq!(v.online_start, None);

    let after = onsim.advance(Advance::To("2024-10-02".into())).unwrap();
    assert!(after.now.starts_with("2024-10-02"), "{after:?}");

    // One patient confirmed over mutual TLS on the clinic's second day online.
    let valid = onsim.credential("valid").unwrap();
    let p = onsim
        .population()
        .unwrap()
        .into_iter()
        .find(|p| p.expected_validity == "1")
        .expect("a row expecting validity 1");
    let xml = p.single_inquiry(
        onsim.institution_code().unwrap(),
        &after.date_yyyymmdd(),
        "tc-rust-scenario",
    );
    let answer = onsim.confirm(&valid, &xml).unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer
        .body
        .contains("<QualificationValidity>1</QualificationValidity>"));

    // The verdict while it runs, then the one written on shutdown: the same.
    let v = onsim.verdict_with_timeline().unwrap();
    assert!(v.passed && v.settled, "{:#}", v.raw);
    assert_eq!(v.outcome, "online-on-designation-day");
    assert_eq!(v.online_start.as_deref(), Some("2024-10-01"));
    assert_eq!(v.failed().count(), 0);
    assert!(!v.timeline.is_empty());
    let done = onsim.stop(Duration::from_secs(30)).unwrap();
    assert_eq!(done.exit_code, 0, "{}", onsim.stderr_text());
    assert!(done.verdict.passed, "{:#}", done.verdict.raw);
    assert_eq!(done.verdict.outcome, v.outcome);
    assert_eq!(done.verdict.checks, v.checks);
    assert!(
        done.junit.contains("<testsuite") && !done.junit.contains("<failure"),
        "{}",
        done.junit
    );
}
