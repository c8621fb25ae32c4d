//! The offline image of a binary (`make images`), built here by the same script with a
//! unique tag, and removed again when dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::KitError;

/// An image built by `scripts/build-image.sh` (projects/<name>/Dockerfile.offline) under a
/// tag unique to this test, removed (`docker rmi -f`) when dropped.
#[derive(Debug)]
pub struct OfflineImage {
    tag: String,
}

/// The repository's `scripts/` directory.
fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts")
}

impl OfflineImage {
    /// Build the image of `name` (`dtaas-services`, `dtaas-jobs`) from `bin`, a binary of
    /// that name in a cargo profile directory (`target/debug` in a test run: the script's
    /// BIN_DIR is its parent), exactly as `make images` does from `target/release`.
    ///
    /// # Errors
    /// When the script cannot run or fails (its stderr is in the error).
    pub fn build(name: &str, bin: &Path) -> Result<OfflineImage, KitError> {
        let script = scripts_dir().join("build-image.sh");
        let bin_dir = bin.parent().unwrap_or(Path::new("."));
        let tag = format!("dtaas-test/{}:1", test_support::unique_name(name));
        let mut c = Command::new("bash");
        c.arg(&script)
            .arg(name)
            .arg(bin_dir)
            .arg(&tag)
            .stdin(Stdio::null());
        let out = c.output().map_err(|source| KitError::Spawn {
            program: script.display().to_string(),
            source,
        })?;
        // From here on the image may exist: the guard removes it even when the build failed.
        let image = OfflineImage { tag };
        if !out.status.success() {
            return Err(KitError::Command {
                command: format!("{c:?}"),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        Ok(image)
    }

    /// The image's tag.
    #[must_use]
    pub fn tag(&self) -> &str {
        &self.tag
    }
}

impl Drop for OfflineImage {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rmi", "-f", &self.tag])
            .stdin(Stdio::null())
            .output();
    }
}
