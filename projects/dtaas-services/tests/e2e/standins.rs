//! The stand-in images are honest: the healthcheck each compose file (or, for GitLab, the
//! image) defines fails while the service's port does not answer and passes once it does.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{project, run};

const STANDINS: &[(&str, &str)] = &[
    ("mongodb", "mongodb"),
    ("grafana", "grafana"),
    ("influxdb", "influxdb"),
    ("thingsboard-ce", "thingsboard"),
    ("gitlab", "gitlab"),
];

/// The healthcheck test of a compose service as `docker exec` arguments.
fn exec_args(test: &serde_json::Value) -> Vec<String> {
    let parts: Vec<String> = test
        .as_array()
        .expect("healthcheck test array")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect();
    match parts.first().map(String::as_str) {
        Some("CMD-SHELL") => vec!["sh".into(), "-c".into(), parts[1..].join(" ")],
        Some("CMD") => parts[1..].to_vec(),
        other => panic!("unexpected healthcheck form {other:?}: {parts:?}"),
    }
}

fn exec(container: &str, args: &[String]) -> i32 {
    run(Command::new("docker").args(["exec", container]).args(args)).code
}

#[test]
fn stand_in_healthchecks_pass_exactly_when_the_port_answers() {
    let Some(p) = project("e2e stand-in healthchecks") else {
        return;
    };
    let config = p
        .compose_ok(["config", "--format", "json"])
        .expect("docker compose config");
    let config: serde_json::Value = serde_json::from_str(&config).expect("compose config JSON");
    let mut checks = Vec::new();
    for (service, short) in STANDINS {
        let svc = &config["services"][*service];
        let image = svc["image"].as_str().expect("image").to_owned();
        assert!(
            image.contains("-standin:"),
            "{service} does not use a stand-in: {image}"
        );
        let test = if svc["healthcheck"]["test"].is_null() {
            // GitLab: the image's own HEALTHCHECK, like upstream's.
            let out = run(Command::new("docker").args([
                "image",
                "inspect",
                "--format",
                "{{json .Config.Healthcheck.Test}}",
                &image,
            ]))
            .expect_code(0, "image inspect");
            serde_json::from_str(out.stdout.trim()).expect("healthcheck JSON")
        } else {
            svc["healthcheck"]["test"].clone()
        };
        let args = exec_args(&test);
        let container = p.container(short);
        // The service listens only after STANDIN_DELAY seconds.
        let mut cmd = Command::new("docker");
        cmd.args(["run", "-d", "--name", &container, "-e", "STANDIN_DELAY=10"]);
        if let Some(command) = svc["command"].as_array() {
            cmd.arg(&image);
            cmd.args(command.iter().map(|v| v.as_str().unwrap_or_default()));
        } else {
            cmd.arg(&image);
        }
        run(&mut cmd).expect_code(0, "docker run stand-in");
        assert_ne!(
            exec(&container, &args),
            0,
            "{service}: the healthcheck {args:?} passes before the port answers"
        );
        checks.push((*service, container, args));
    }
    for (service, container, args) in &checks {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let logs = run(Command::new("docker").args(["logs", container]));
            if logs.stdout.contains("listening on") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{service} never listened: {logs:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        assert_eq!(
            exec(container, args),
            0,
            "{service}: the healthcheck {args:?} fails while the port answers"
        );
    }
}
