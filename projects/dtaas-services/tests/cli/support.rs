use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The binary with a clean environment: no DTAAS_* leaking in from the developer's shell.
pub(crate) fn bin() -> Command {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("dtaas-services");
    for (k, _) in std::env::vars() {
        if k.starts_with("DTAAS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

/// A generated project in a temp dir.
pub(crate) struct Project {
    _tmp: tempfile::TempDir,
    pub(crate) dir: PathBuf,
}

impl Project {
    pub(crate) fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("proj");
        bin()
            .args(["project", "generate", "--path"])
            .arg(&dir)
            .assert()
            .success();
        Self { _tmp: tmp, dir }
    }

    pub(crate) fn cmd(&self) -> Command {
        let mut c = bin();
        c.arg("--project-dir").arg(&self.dir);
        c
    }

    pub(crate) fn env_path(&self) -> PathBuf {
        self.dir.join("config/services.env")
    }

    pub(crate) fn read_env(&self) -> String {
        std::fs::read_to_string(self.env_path()).unwrap()
    }

    pub(crate) fn write_env(&self, text: impl AsRef<[u8]>) {
        std::fs::write(self.env_path(), text).unwrap();
    }
}

pub(crate) fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub(crate) fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
