//! The `onsim:dev` image through testcontainers, reached the ordinary way: its ports
//! published to random host ports (`docker run -p`, not `--network host`), the state
//! dir bind-mounted, `--advertise onsim` (the compose service name) so the clients'
//! name is not one of the loopback names the certificate always carries. From the
//! host: `GET /health` on every mapped port, a mutual-TLS confirmation with
//! `valid.crt` against the advertised name (direct and through the carrier proxy),
//! the other five credentials refused each for its reason, and the virtual clock
//! moved. Every wait is bounded; the container is removed when the test ends (also
//! when it fails), and the test checks it is gone.
//!
//! Without a Docker engine or the image these tests print a loud SKIPPED; with
//! `ONSIM_REQUIRE_DOCKER=1` (CI, after scripts/image) they fail instead.

#[path = "support/population.rs"]
mod population;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use onsim_testcontainers::{available, container_exists, Onsim, OnsimImage};
use population::{csv_rows, request_xml};

/// The name the clients use (a compose service name: not `localhost`, so the
/// certificate check proves `--advertise` reached the server certificate).
const ADVERTISE: &str = "onsim";
/// Longest wait for every service to answer `/health` after the ready line.
const HEALTHY_WITHIN: Duration = Duration::from_secs(30);

/// curl from the host through the port mapping: (exit code, body, HTTP status).
fn curl(c: &Onsim, url: &str, args: &[&str]) -> (i32, String, String) {
    let on_host = c.endpoints().on_host(url).unwrap();
    let (url, resolve) = (on_host.url, on_host.resolve);
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--resolve", &resolve])
        .args(args)
        .args(["-w", "\nHTTP %{http_code}", &url])
        .output()
        .expect("curl is installed (scripts/install-deps)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once("\nHTTP ").unwrap_or((&text, ""));
    (
        out.status.code().unwrap_or(-1),
        body.to_string(),
        format!("{status} {}", String::from_utf8_lossy(&out.stderr).trim()),
    )
}

/// The curl arguments of mutual TLS with credential `name`.
fn mtls(c: &Onsim, name: &str) -> Vec<String> {
    let cred = c.credential(name).unwrap();
    vec![
        "--cacert".into(),
        c.server_ca().unwrap().display().to_string(),
        "--cert".into(),
        cred.cert.display().to_string(),
        "--key".into(),
        cred.key.display().to_string(),
    ]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn port_mapped_container_health_mtls_matrix_and_clock() {
    if !available("container::port_mapped_container_health_mtls_matrix_and_clock") {
        return;
    }
    let t_test = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let t0 = Instant::now();
    let c = OnsimImage::default()
        .with_state_dir(&state)
        .with_advertise(ADVERTISE)
        .start()
        .expect("onsim:dev starts and gets ready");
    let url = |key: &str| c.endpoints().str(key).unwrap().to_string();
    let ready = t0.elapsed();
    let id = c.id();

    // endpoints.json: listening on all interfaces, every URL on the advertised name.
    let ep = c.endpoints().raw().clone();
    assert_eq!(ep["bind"], "0.0.0.0", "the image sets ONSIM_BIND=0.0.0.0");
    assert_eq!(ep["advertise"], ADVERTISE);
    let urls: Vec<(&String, &str)> = ep
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.ends_with("_url"))
        .map(|(k, v)| (k, v.as_str().unwrap()))
        .collect();
    assert!(urls.len() >= 10, "{ep}");
    for (k, u) in &urls {
        assert!(
            u.starts_with(&format!("http://{ADVERTISE}:"))
                || u.starts_with(&format!("https://{ADVERTISE}:")),
            "{k} = {u}"
        );
    }
    assert!(ep["carrier_proxy"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{ADVERTISE}:")));

    // GET /health on all seven mapped ports (the eligibility API and the carrier
    // proxy in front of it over mutual TLS with valid.crt).
    let valid = mtls(&c, "valid");
    let health = |key: &str| url(key).replace("/eligibility", "") + "/health";
    let probes: Vec<(String, &str, Vec<&str>)> = vec![
        (health("control_url"), "control", vec![]),
        (health("bureau_url"), "bureau", vec![]),
        (health("reader_vendor_url"), "reader-vendor", vec![]),
        (health("carrier_url"), "carrier", vec![]),
        (health("portal_url"), "portal", vec![]),
        (health("eligibility_url"), "eligibility", strs(&valid)),
        (
            health("eligibility_via_carrier_url"),
            "eligibility",
            strs(&valid),
        ),
    ];
    let port_of = |u: &str| -> u16 {
        let authority = u.split("://").nth(1).unwrap().split('/').next().unwrap();
        authority.rsplit_once(':').unwrap().1.parse().unwrap()
    };
    let probed: std::collections::BTreeSet<u16> =
        probes.iter().map(|(u, _, _)| port_of(u)).collect();
    assert_eq!(
        probed,
        (7000..=7006).collect(),
        "a probe for each published port"
    );
    for (url, service, args) in &probes {
        let t = Instant::now();
        loop {
            let (code, body, status) = curl(&c, url, args);
            if code == 0 && status.starts_with("200") {
                let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                assert_eq!(
                    v,
                    serde_json::json!({"status": "ok", "service": service}),
                    "{url}"
                );
                break;
            }
            assert!(
                t.elapsed() < HEALTHY_WITHIN,
                "{url} never healthy: exit {code}, {status}, {body}\n{}",
                c.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let healthy = t0.elapsed();

    // The certificate names the advertised host, and only the names it should: the
    // same port under another name fails the server-certificate check.
    let elig_health = health("eligibility_url");
    let other = elig_health.replace(&format!("//{ADVERTISE}:"), "//elsewhere:");
    let (code, _, err) = curl(&c, &other, &strs(&valid));
    assert_eq!(
        code, 60,
        "curl's peer-certificate error for another name: {err}"
    );

    // Mutual TLS with valid.crt: rows 0-4 give validity 1-5, direct and via the carrier.
    let rows = csv_rows(&c.endpoints().file("population_csv").unwrap());
    let institution = url("institution_code");
    let body = dir.path().join("request.xml");
    let data = format!("@{}", body.display());
    let post = |cred: &[String]| {
        let mut a = strs(cred);
        a.extend([
            "-H",
            "Content-Type: application/xml",
            "--data-binary",
            &data,
        ]);
        a.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    for (i, row) in rows.iter().take(5).enumerate() {
        std::fs::write(&body, request_xml(&institution, row)).unwrap();
        let key = if i == 0 {
            "eligibility_via_carrier_url"
        } else {
            "eligibility_url"
        };
        let (code, out, status) = curl(&c, &url(key), &strs(&post(&valid)));
        assert_eq!(code, 0, "valid via {key}: {status}");
        assert!(status.starts_with("200"), "{status} {out}");
        let want = format!("<QualificationValidity>{}</QualificationValidity>", row[5]);
        assert!(out.contains(&want), "row {i} should give {want}:\n{out}");
    }

    // The other five credentials are refused, each for its own reason.
    std::fs::write(&body, request_xml(&institution, &rows[0])).unwrap();
    for name in [
        "expired",
        "not-yet-valid",
        "revoked",
        "wrong-ca",
        "other-institution",
    ] {
        let reason = ep["credentials"][name]["expected_refusal"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: expected_refusal in endpoints.json"))
            .to_string();
        let (code, out, status) = curl(&c, &url("eligibility_url"), &strs(&post(&mtls(&c, name))));
        assert!(
            code != 0 || status.starts_with("403"),
            "{name} must be refused: exit {code}, {status}, {out}"
        );
        assert!(!out.contains("<QualificationValidity>"), "{name}: {out}");
        let needle = format!("refusal=\"{reason}\"");
        let t = Instant::now();
        while !c.stderr_text().contains(&needle) {
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "{name}: the log should say {needle}:\n{}",
                c.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    // Live: read the clock, advance it a day.
    let clock = url("clock_url");
    let (code, out, _) = curl(&c, &clock, &[]);
    assert_eq!(code, 0);
    let before: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(before["now"], "2025-04-01T09:00");
    let (code, out, _) = curl(
        &c,
        &format!("{clock}/advance"),
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            "{\"days\": 1}",
        ],
    );
    assert_eq!(code, 0);
    let after: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(after["now"], "2025-04-02T09:00", "{after}");

    drop(c);
    assert!(!container_exists(&id), "container {id} removed");
    // Figures for reports (never asserted).
    eprintln!(
        "container: ready line after {ready:?}, every /health answering after {healthy:?}, test {:?}",
        t_test.elapsed()
    );
}
