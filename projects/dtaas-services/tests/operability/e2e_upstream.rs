//! `make e2e-upstream` (scripts/e2e-upstream.sh): where a pinned image cannot be pulled, it
//! stops at once, before building or starting anything, and says which image and why.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::engine_or_skip;

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/e2e-upstream.sh")
}

#[test]
fn e2e_upstream_fails_at_once_naming_an_image_it_cannot_pull() {
    if !engine_or_skip() {
        return;
    }
    // An image no registry has: the pull fails here (no registry) and on a maintainer's
    // machine alike ("pull access denied"), so the test means the same everywhere.
    let image = "dtaas-test/never-published:0";
    let start = Instant::now();
    let out = Command::new("bash")
        .arg(script())
        .arg("--preflight")
        .env("E2E_UPSTREAM_IMAGES", image)
        .env("E2E_UPSTREAM_PULL_TIMEOUT", "60")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "e2e-upstream: cannot pull the pinned upstream image {image}: "
        )),
        "{stderr}"
    );
    assert!(stderr.contains("use 'make run' or 'make e2e'"), "{stderr}");
    assert!(
        start.elapsed() < Duration::from_secs(90),
        "{:?}",
        start.elapsed()
    );
}

/// The list the script checks is the pinned images of the compose templates, all seven.
#[test]
fn e2e_upstream_checks_the_pinned_images_of_the_templates() {
    let text = std::fs::read_to_string(script()).unwrap();
    assert!(text.contains("components/project/templates/compose.*.yml"));
    let mut found = 0;
    for f in [
        "compose.services.yml",
        "compose.thingsboard.yml",
        "compose.gitlab.yml",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../components/project/templates")
            .join(f);
        let out = Command::new("sed")
            .arg("-n")
            .arg(r"s/^ *image: \${[A-Z_]*_IMAGE:-\(.*\)}$/\1/p")
            .arg(&path)
            .output()
            .unwrap();
        found += String::from_utf8_lossy(&out.stdout).lines().count();
    }
    assert_eq!(found, 7);
}
