use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::KitError;

fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Decide whether a live end-to-end test can run: the Docker engine answers, the compose v2
/// plugin is installed, and we are root (debootstrap and `host setup` need it). When one is
/// missing this panics if env `CI` is set (a live test must not be skipped in CI), else it
/// prints why and returns `false` so the test can return early.
///
/// # Panics
/// When a prerequisite is missing and `CI` is set.
#[must_use]
pub fn live_or_skip(test: &str) -> bool {
    let missing = if !succeeds("docker", &["version", "--format", "{{.Server.Version}}"]) {
        Some("the Docker engine is unreachable")
    } else if !succeeds("docker", &["compose", "version"]) {
        Some("the Docker Compose v2 plugin is missing")
    } else if !nix::unistd::geteuid().is_root() {
        Some("it needs root (debootstrap, host setup)")
    } else {
        None
    };
    let Some(why) = missing else { return true };
    assert!(
        std::env::var_os("CI").is_none(),
        "live test {test} cannot run in CI: {why}"
    );
    #[allow(clippy::print_stderr)]
    {
        eprintln!("SKIPPED {test}: {why}; set CI=1 to make this a failure");
    }
    false
}

/// Decide whether a test that only needs the Docker engine (building and starting images)
/// can run: like [`live_or_skip`], it panics when the engine is unreachable and env `CI` is
/// set, else prints why and returns `false`.
///
/// # Panics
/// When the engine is unreachable and `CI` is set.
#[must_use]
pub fn engine_or_skip(test: &str) -> bool {
    if succeeds("docker", &["version", "--format", "{{.Server.Version}}"]) {
        return true;
    }
    let why = "the Docker engine is unreachable";
    assert!(
        std::env::var_os("CI").is_none(),
        "live test {test} cannot run in CI: {why}"
    );
    #[allow(clippy::print_stderr)]
    {
        eprintln!("SKIPPED {test}: {why}; set CI=1 to make this a failure");
    }
    false
}

/// The path of a binary of this workspace in the same target directory as the running
/// test executable (`target/<profile>/<name>`). `cargo nextest run --workspace` builds it;
/// with `-p` alone, build it first.
///
/// # Errors
/// [`KitError::MissingBinary`] when it has not been built.
pub fn workspace_bin(name: &str) -> Result<PathBuf, KitError> {
    let exe = std::env::current_exe().map_err(|source| KitError::Io {
        path: PathBuf::from("/proc/self/exe"),
        source,
    })?;
    // target/<profile>/deps/<test-binary>  ->  target/<profile>/<name>
    let profile_dir = exe
        .parent()
        .filter(|d| d.ends_with("deps"))
        .and_then(std::path::Path::parent)
        .unwrap_or_else(|| exe.parent().unwrap_or(std::path::Path::new(".")));
    let bin = profile_dir.join(name);
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(KitError::MissingBinary(bin))
    }
}
