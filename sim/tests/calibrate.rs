//! `onsim calibrate` through the built binary, on synthetic waits drawn from a known
//! distribution (rounded to whole days, as real records are).

use std::path::PathBuf;
use std::process::Command;

use fakes::dist::Dist;
use rand::SeedableRng;

const BIN: &str = env!("CARGO_BIN_EXE_onsim");

fn waits_csv(name: &str, d: &Dist, n: usize, seed: u64) -> PathBuf {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut text = String::from("clinic,days\n");
    for i in 0..n {
        text.push_str(&format!("c{i},{}\n", d.sample_days(&mut rng)));
    }
    let p = std::env::temp_dir().join(format!("onsim-calibrate-{}-{name}.csv", std::process::id()));
    std::fs::write(&p, text).unwrap();
    p
}

#[derive(serde::Deserialize)]
struct Line {
    lead: Dist,
}

#[test]
fn recovers_a_known_lognormal_and_prints_scenario_syntax() {
    let truth = Dist::Lognormal {
        mu: 3.689,
        sigma: 0.35,
    };
    let f = waits_csv("lognormal", &truth, 4000, 7);
    let o = Command::new(BIN)
        .args(["calibrate", f.to_str().unwrap(), "--dist", "lognormal"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    let first = out.lines().next().unwrap();
    assert!(first.starts_with("lead = { kind = \"lognormal\""), "{out}");
    // The printed line is valid scenario TOML for a distribution.
    let line: Line = toml::from_str(first).unwrap();
    line.lead.validate().unwrap();
    let Dist::Lognormal { mu, sigma } = line.lead else {
        panic!("{out}")
    };
    // Standard errors ≈ 0.0055 (mu) and 0.0039 (sigma) at n = 4000.
    assert!((mu - 3.689).abs() < 0.02, "{mu}");
    assert!((sigma - 0.35).abs() < 0.015, "{sigma}");
    assert!(out.contains("Kolmogorov-Smirnov"), "{out}");
    // JSON: the fit is not rejected; a uniform fit to the same data is.
    let json = |dist: &str| -> serde_json::Value {
        let o = Command::new(BIN)
            .args([
                "calibrate",
                f.to_str().unwrap(),
                "--dist",
                dist,
                "--format",
                "json",
            ])
            .output()
            .unwrap();
        assert!(o.status.success());
        serde_json::from_slice(&o.stdout).unwrap()
    };
    assert!(json("lognormal")["ks_p"].as_f64().unwrap() > 0.01);
    assert!(json("uniform")["ks_p"].as_f64().unwrap() < 1e-6);
    std::fs::remove_file(&f).unwrap();
}

#[test]
fn bad_files_exit_2_naming_line_and_column() {
    let p = std::env::temp_dir().join(format!("onsim-calibrate-{}-bad.csv", std::process::id()));
    std::fs::write(&p, "clinic,days\na,12\nb,x\n").unwrap();
    let run = |args: &[&str]| {
        let mut a = vec!["calibrate", p.to_str().unwrap()];
        a.extend(args);
        Command::new(BIN).args(&a).output().unwrap()
    };
    let o = run(&["--dist", "lognormal"]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains(":3: column \"days\": \"x\" is not a number"),
        "{e}"
    );
    let o = run(&["--dist", "lognormal", "--column", "wait"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no column \"wait\""));
    let o = run(&["--dist", "gamma"]);
    assert_eq!(o.status.code(), Some(2));
    std::fs::remove_file(&p).unwrap();
}
