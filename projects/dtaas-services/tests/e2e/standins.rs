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

/// `docker run` arguments giving a container the compose service's environment, bind
/// mounts and user (from `docker compose config --format json`).
fn run_args(svc: &serde_json::Value) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(env) = svc["environment"].as_object() {
        for (k, v) in env {
            args.push("-e".to_owned());
            args.push(format!("{k}={}", v.as_str().unwrap_or_default()));
        }
    }
    for m in svc["volumes"].as_array().into_iter().flatten() {
        if m["type"] == "bind" {
            let ro = if m["read_only"] == true { ":ro" } else { "" };
            args.push("-v".to_owned());
            args.push(format!(
                "{}:{}{ro}",
                m["source"].as_str().unwrap_or_default(),
                m["target"].as_str().unwrap_or_default()
            ));
        }
    }
    if let Some(user) = svc["user"].as_str() {
        args.push("--user".to_owned());
        args.push(user.to_owned());
    }
    args
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
        // The service listens only after STANDIN_DELAY seconds; it runs with the compose
        // service's environment, bind mounts and user, so it speaks TLS as generated.
        let mut cmd = Command::new("docker");
        cmd.args(["run", "-d", "--name", &container, "-e", "STANDIN_DELAY=10"]);
        cmd.args(run_args(svc));
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

/// `KEY=value` of the project's services.env (quotes stripped).
fn setting(p: &e2e_kit::TestProject, key: &str) -> String {
    let text = std::fs::read_to_string(p.dir().join("config/services.env")).expect("services.env");
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim().trim_matches('\'').trim_matches('"').to_owned())
        .unwrap_or_else(|| panic!("{key} not in services.env"))
}

/// The HTTP status of one curl request from the host (`000` when there was no HTTP answer).
fn status(args: &[&str]) -> String {
    let out = run(Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
        ])
        .args(args));
    let code = out.stdout.trim().to_owned();
    if code == "000" {
        return format!("000 ({})", out.stderr.trim());
    }
    code
}

/// The stand-ins refuse what the real services refuse, as the generated compose files
/// configure them: Grafana speaks TLS only (plain HTTP gets Go's 400), answers /api/health
/// without authentication, and refuses the admin's correct password over basic auth with
/// 401 because GF_AUTH_BASIC_ENABLED=false (grafana/grafana v12.3.1
/// pkg/services/authn/authnimpl/registration.go) while the same password logs in through
/// POST /login; InfluxDB answers /health but 401 to /api/v2 without a token; GitLab's
/// /-/readiness is 404 from outside loopback and 200 from inside the container
/// (monitoring_whitelist). A stand-in answering 200 to everything fails this test.
#[test]
fn stand_ins_refuse_what_the_real_services_refuse() {
    let Some(p) = project("e2e stand-ins refuse") else {
        return;
    };
    p.run_ok([
        "service",
        "start",
        "-s",
        "grafana,influxdb,gitlab",
        "--wait",
    ])
    .expect("service start");
    let ca = p.ca_cert();
    let ca = ca.to_str().unwrap();
    let grafana = format!("https://127.0.0.1:{}", p.port("GRAFANA_PORT"));
    let admin = setting(&p, "GRAFANA_ADMIN_USERNAME");
    let password = setting(&p, "GRAFANA_ADMIN_PASSWORD");
    let creds = format!("{admin}:{password}");

    assert_eq!(
        status(&["--cacert", ca, &format!("{grafana}/api/health")]),
        "200"
    );
    assert_eq!(
        status(&[
            "--cacert",
            ca,
            "-u",
            &creds,
            &format!("{grafana}/api/admin/users")
        ]),
        "401",
        "basic auth must be refused with GF_AUTH_BASIC_ENABLED=false"
    );
    assert_eq!(
        status(&["--cacert", ca, &format!("{grafana}/api/user")]),
        "401"
    );
    let login = format!(r#"{{"user":"{admin}","password":"{password}"}}"#);
    assert_eq!(
        status(&[
            "--cacert",
            ca,
            "-H",
            "Content-Type: application/json",
            "-d",
            &login,
            &format!("{grafana}/login")
        ]),
        "200",
        "the same credentials log in through /login"
    );
    let plain = format!("http://127.0.0.1:{}/api/health", p.port("GRAFANA_PORT"));
    assert_eq!(status(&[&plain]), "400", "plain HTTP on Grafana's TLS port");

    let influx = format!("https://127.0.0.1:{}", p.port("INFLUXDB_PORT"));
    assert_eq!(
        status(&["--cacert", ca, &format!("{influx}/health")]),
        "200"
    );
    assert_eq!(
        status(&["--cacert", ca, &format!("{influx}/api/v2/buckets")]),
        "401"
    );

    let gitlab = format!("https://127.0.0.1:{}/gitlab", p.port("GITLAB_PORT"));
    assert_eq!(
        status(&["--cacert", ca, &format!("{gitlab}/-/readiness")]),
        "404",
        "GitLab's readiness answers only its monitoring allowlist"
    );
    assert_eq!(
        status(&["--cacert", ca, &format!("{gitlab}/api/v4/user")]),
        "401"
    );
    let inside = run(Command::new("docker").args([
        "exec",
        &p.container("gitlab"),
        "curl",
        "-sk",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "https://127.0.0.1/gitlab/-/readiness",
    ]));
    assert_eq!(inside.stdout.trim(), "200", "from loopback: {inside:?}");
}
