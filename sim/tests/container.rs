//! The `onsim:dev` image through testcontainers: a mutual-TLS eligibility
//! confirmation with `valid.crt`, and a short live interaction with the clock.
//! Without a Docker engine or the image these tests print a loud SKIPPED; with
//! `ONSIM_REQUIRE_DOCKER=1` (CI, after scripts/image) they fail instead.

mod support;

use std::process::Command;
use std::time::Instant;

use support::onsim_image::{available, free_port_base, OnsimImage};

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn mtls_confirmation_and_clock_against_the_container() {
    if !available("container::mtls_confirmation_and_clock_against_the_container") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = OnsimImage::new(dir.path(), free_port_base());
    let t0 = Instant::now();
    let container = image
        .clone()
        .start()
        .expect("onsim:dev starts and gets ready");
    eprintln!("container start-to-ready: {:?}", t0.elapsed());

    // Mutual TLS with valid.crt: the first population row (validity 1 on the start).
    let csv = std::fs::read_to_string(image.population_csv()).unwrap();
    let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    let opt = |n: &str, v: &str| {
        if v.is_empty() {
            String::new()
        } else {
            format!("<{n}>{v}</{n}>")
        }
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<XmlMsg><MessageHeader><QualificationConfirmationDate>20250401</QualificationConfirmationDate><MedicalInstitutionCode>{}</MedicalInstitutionCode><ArbitraryFileIdentifier>tc-1</ArbitraryFileIdentifier><CharacterCodeIdentifier>0</CharacterCodeIdentifier></MessageHeader><MessageBody><QualificationConfirmSearchInfo><InsurerNumber>{}</InsurerNumber>{}<InsuredIdentificationNumber>{}</InsuredIdentificationNumber>{}<Birthdate>{}</Birthdate></QualificationConfirmSearchInfo></MessageBody></XmlMsg>\n",
        image.url("institution_code"),
        row[0],
        opt("InsuredCardSymbol", row[1]),
        row[2],
        opt("InsuredBranchNumber", row[3]),
        row[4]
    );
    let req = dir
        .path()
        .join("..")
        .join(format!("tc-req-{}.xml", std::process::id()));
    std::fs::write(&req, body).unwrap();
    let (cert, key) = image.credential("valid");
    let ca = image.server_ca();
    let answer = curl(&[
        "--cacert",
        ca.to_str().unwrap(),
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "-H",
        "Content-Type: application/xml",
        "--data-binary",
        &format!("@{}", req.display()),
        &image.url("eligibility_url"),
    ]);
    let _ = std::fs::remove_file(&req);
    assert!(
        answer.contains("<SegmentOfResult>1</SegmentOfResult>"),
        "{answer}"
    );
    assert!(
        answer.contains(&format!(
            "<QualificationValidity>{}</QualificationValidity>",
            row[5]
        )),
        "{answer}"
    );

    // Live: read the clock, advance it a day, read it again.
    let clock = image.url("clock_url");
    let before: serde_json::Value = serde_json::from_str(&curl(&[&clock])).unwrap();
    assert_eq!(before["now"], "2025-04-01T09:00");
    let after: serde_json::Value = serde_json::from_str(&curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        "{\"days\": 1}",
        &format!("{clock}/advance"),
    ]))
    .unwrap();
    assert_eq!(after["now"], "2025-04-02T09:00", "{after}");
    drop(container);
}
