//! Throw-away projects for the binary.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// A project directory with a `config/services.env`.
pub(crate) struct Project {
    pub(crate) _tmp: tempfile::TempDir,
    pub(crate) dir: PathBuf,
}

impl Project {
    /// A project whose services.env holds `HOSTNAME` and `extra` lines.
    pub(crate) fn new(hostname: &str, extra: &[(&str, &str)]) -> Project {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        std::fs::create_dir_all(dir.join("config")).unwrap();
        let mut text = format!("HOSTNAME={hostname}\n");
        for (k, v) in extra {
            text.push_str(&format!("{k}={v}\n"));
        }
        std::fs::write(dir.join("config/services.env"), text).unwrap();
        Project { _tmp: tmp, dir }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }
}

/// The binary, run in an empty environment of DTaaS variables and outside any project.
pub(crate) fn jobs() -> Command {
    let mut c = Command::cargo_bin("dtaas-jobs").unwrap();
    c.env_remove("DTAAS_PROJECT_DIR")
        .env_remove("DTAAS_LOG")
        .env_remove("DTAAS_STORE_KEY")
        .current_dir(std::env::temp_dir());
    c
}

/// The binary on `project`.
pub(crate) fn jobs_in(project: &Project) -> Command {
    let mut c = jobs();
    c.arg("--project-dir").arg(project.path());
    c
}
