//! A generated project whose compose files run busybox stand-ins, and the engine check.

use std::path::PathBuf;
use std::process::Command as Std;

use assert_cmd::Command;
use test_support::{ProjectGuard, busybox_image, free_port, unique_name};

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

/// Whether the local Docker engine answers; in CI a missing engine is a failure.
#[allow(clippy::print_stderr)]
pub(crate) fn engine_or_skip() -> bool {
    let ok = Std::new("docker")
        .args(["version", "--format", "{{.Server.APIVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "live Docker test cannot run in CI: the engine does not answer"
        );
        eprintln!("SKIPPED: no Docker engine; set CI=1 to make this a failure");
    }
    ok
}

/// A generated project; HOSTNAME (hence the compose project) is unique per test.
pub(crate) struct Project {
    _tmp: tempfile::TempDir,
    pub(crate) dir: PathBuf,
    pub(crate) name: String,
    pub(crate) grafana_port: u16,
    pub(crate) tb_port: u16,
    _guard: ProjectGuard,
}

impl Project {
    /// rabbitmq restarts in a loop; grafana prints five lines and is unhealthy; mongodb
    /// sleeps; thingsboard-ce serves ThingsBoard's no-auth endpoint over HTTP after 2 s and
    /// turns healthy then.
    pub(crate) fn new(prefix: &str) -> Project {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("proj");
        bin()
            .args(["project", "generate", "--path"])
            .arg(&dir)
            .assert()
            .success();
        let name = unique_name(prefix);
        let guard = ProjectGuard::new(&name, &[&format!("{name}-net")]);
        let env = std::fs::read_to_string(dir.join("config/services.env"))
            .unwrap()
            .replace("HOSTNAME=services.intocps.org", &format!("HOSTNAME={name}"));
        std::fs::write(
            dir.join("config/services.env"),
            format!("{env}\nTHINGSBOARD_SCHEME=http\n"),
        )
        .unwrap();
        let (grafana_port, tb_port) = (free_port(), free_port());
        let img = busybox_image();
        let n = &name;
        std::fs::write(
            dir.join("compose.services.yml"),
            format!(
                r#"
networks:
  platform-services:
    name: {n}-net
services:
  rabbitmq:
    image: {img}
    container_name: {n}-rabbitmq
    command: ["sh", "-c", "exit 1"]
    restart: always
    networks: [platform-services]
  grafana:
    image: {img}
    container_name: {n}-grafana
    command: ["sh", "-c", "for i in 1 2 3 4 5; do echo line $$i; done; sleep 3600"]
    ports: ["127.0.0.1:{grafana_port}:3000"]
    networks: [platform-services]
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      retries: 1
  mongodb:
    image: {img}
    container_name: {n}-mongodb
    command: sleep 3600
    environment:
      MONGO_INITDB_ROOT_PASSWORD: ${{MONGODB_ADMIN_PASSWORD}}
    networks: [platform-services]
"#
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("compose.thingsboard.yml"),
            format!(
                r#"
networks:
  platform-services:
    name: {n}-net
services:
  thingsboard-ce:
    image: {img}
    container_name: {n}-thingsboard
    command: ["sh", "-c", "mkdir -p /www/api/noauth && echo '{{}}' > /www/api/noauth/userPasswordPolicy && sleep 2 && touch /tmp/ok && exec httpd -f -p 8080 -h /www"]
    ports: ["127.0.0.1:{tb_port}:8080"]
    networks: [platform-services]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ok"]
      interval: 1s
      retries: 30
"#
            ),
        )
        .unwrap();
        std::fs::remove_file(dir.join("compose.gitlab.yml")).unwrap();
        Project {
            _tmp: tmp,
            dir,
            name,
            grafana_port,
            tb_port,
            _guard: guard,
        }
    }

    pub(crate) fn cmd(&self) -> Command {
        let mut c = bin();
        c.arg("--project-dir").arg(&self.dir);
        c
    }
}

pub(crate) fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
