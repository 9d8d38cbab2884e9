//! The Docker engine as the tests see it: which image, whether it is there.

use std::process::Command;

/// The image under test: `onsim:dev` (what `scripts/image` builds), or `ONSIM_IMAGE`
/// (`name:tag`, e.g. the tag a CI job loaded).
pub fn image_ref() -> String {
    std::env::var("ONSIM_IMAGE")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "onsim:dev".to_string())
}

/// Whether a container (by id) still exists, running or not (`docker container
/// inspect`; `false` when there is no docker client).
pub fn container_exists(id: &str) -> bool {
    Command::new("docker")
        .args(["container", "inspect", "--format", "{{.Id}}", id])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Whether container tests can run here: a docker client, a reachable engine and the
/// image ([`image_ref`]). Otherwise prints a loud `SKIPPED <test>: why` on stderr and
/// returns `false` — or panics when `ONSIM_REQUIRE_DOCKER=1` (CI, where the engine
/// and the image are known to be there, so a skip would hide a failure).
pub fn available(test: &str) -> bool {
    let image = image_ref();
    let why = match Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", &image])
        .output()
    {
        Err(e) => Some(format!("no docker client ({e})")),
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "no Docker engine or no {image} image (build it with scripts/image): {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
    };
    match why {
        None => true,
        Some(why) => {
            let msg = format!("\n!!!!!!!! SKIPPED {test}: {why} !!!!!!!!\n");
            if std::env::var("ONSIM_REQUIRE_DOCKER").as_deref() == Ok("1") {
                panic!("ONSIM_REQUIRE_DOCKER=1 but {msg}");
            }
            // Straight to the process's stderr: the test harness does not capture
            // it, so the skip shows even without --nocapture.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "{msg}");
            false
        }
    }
}
