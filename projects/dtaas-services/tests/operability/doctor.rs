//! `doctor`: a port held by another process, an expired certificate, a 0644 key, default
//! passwords — each reported with a hint, exit 1; a port held by our own container is fine.

use std::os::unix::fs::PermissionsExt as _;

use crate::support::{Project, engine_or_skip, stderr, stdout};

fn expired_cert(p: &Project) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![p.name.clone()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let cert = params.self_signed(&key).unwrap();
    let certs = p.dir.join("certs");
    std::fs::write(certs.join("fullchain.pem"), cert.pem()).unwrap();
    std::fs::write(certs.join("privkey.pem"), key.serialize_pem()).unwrap();
    std::fs::set_permissions(
        certs.join("privkey.pem"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
}

fn findings<'a>(v: &'a serde_json::Value, check: &str) -> Vec<&'a serde_json::Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
        .collect()
}

fn errors(v: &serde_json::Value, check: &str) -> Vec<String> {
    findings(v, check)
        .into_iter()
        .filter(|f| f["level"] == "error")
        .map(|f| f["message"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn doctor_reports_ports_certs_modes_and_default_passwords() {
    if !engine_or_skip() {
        return;
    }
    let p = Project::new("opdoc");
    expired_cert(&p);
    // A fresh project has random secrets; put one public template password back.
    p.cmd()
        .args(["config", "set", "POSTGRES_PASSWORD", "-"])
        .write_stdin("dtaas_secret")
        .assert()
        .success();
    // ThingsBoard's port is held by our own container: fine. Grafana's by someone else.
    p.cmd()
        .args(["service", "start", "-s", "thingsboard"])
        .assert()
        .success();
    let _other = std::net::TcpListener::bind(("127.0.0.1", p.grafana_port)).unwrap();

    let out = p.cmd().args(["doctor", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();

    assert_eq!(findings(&v, "engine")[0]["level"], "ok");
    assert!(
        findings(&v, "engine")[0]["message"]
            .as_str()
            .unwrap()
            .contains("(API 1."),
        "{v:#}"
    );
    assert_eq!(findings(&v, "compose")[0]["level"], "ok");
    assert_eq!(
        errors(&v, "ports"),
        [format!(
            "port {}/tcp of grafana is in use by another process",
            p.grafana_port
        )]
    );
    let certs = errors(&v, "certs");
    assert!(certs.iter().any(|m| m.contains("expired")), "{certs:?}");
    assert_eq!(
        errors(&v, "file_modes"),
        ["certs/privkey.pem is mode 0644: readable by other users"]
    );
    let modes = &findings(&v, "file_modes")[0];
    assert!(
        modes["hint"].as_str().unwrap().starts_with("chmod 600 "),
        "{modes}"
    );
    let pw = errors(&v, "passwords");
    assert_eq!(pw.len(), 1, "{pw:?}");
    assert!(pw[0].contains("POSTGRES_PASSWORD"), "{pw:?}");
    // Named, never printed.
    assert!(!text.contains("dtaas_secret"), "{text}");
    assert_eq!(findings(&v, "disk")[0]["check"], "disk");
    assert_eq!(findings(&v, "state_db")[0]["level"], "ok");

    // Fixed: the key mode and the port.
    std::fs::set_permissions(
        p.dir.join("certs/privkey.pem"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    drop(_other);
    let out = p.cmd().args(["doctor", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(errors(&v, "file_modes").is_empty(), "{v:#}");
    assert!(errors(&v, "ports").is_empty(), "{v:#}");
    assert_eq!(findings(&v, "ports")[0]["level"], "ok");

    // The human output names the check and gives the hint.
    let out = p.cmd().arg("doctor").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("✗ passwords: "), "{err}");
    assert!(
        err.contains("hint: set each with `dtaas-services config set KEY -`"),
        "{err}"
    );
}
