//! test_support: dev-only helpers for live tests on the local Docker engine.
//!
//! It builds small local images from Debian's `busybox-static` with `docker import` (no
//! registry needed), hands out unique per-test names and free ports, and removes a test's
//! containers, networks and volumes when its guard drops, even when the test fails.
//! [`Sentinel`] plants a tree outside a project and checks that no command changed it.
//! Only for `[dev-dependencies]`: it shells out to the `docker` CLI and may print.

mod guard;
mod image;
mod names;
mod sentinel;

pub use guard::ProjectGuard;
pub use image::{BUSYBOX_IMAGE, busybox_image};
pub use names::{free_port, unique_name};
pub use sentinel::Sentinel;

/// Connect to the local engine, or decide that the live test cannot run: when env `CI` is
/// set this panics (a live test must not be skipped in CI); otherwise it prints why and
/// returns `None` so the test can return early.
///
/// # Panics
/// When the engine is unreachable and `CI` is set.
pub async fn engine_or_skip() -> Option<docker::BollardEngine> {
    let host = std::env::var("DOCKER_HOST").ok();
    match docker::BollardEngine::connect(host.as_deref()).await {
        Ok(e) => Some(e),
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("live Docker test cannot run in CI: {e}")
        }
        Err(e) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("SKIPPED: no Docker engine ({e}); set CI=1 to make this a failure");
            }
            None
        }
    }
}
