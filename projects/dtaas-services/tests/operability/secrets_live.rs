//! On the real engine, at -vv with DTAAS_LOG=trace: creating, inspecting and restarting a
//! container whose environment holds an admin password never prints the password (the
//! Docker client logs request and response bodies at debug level; without the cap in the
//! logging component this test fails).

use crate::support::{Project, engine_or_skip, stderr, stdout};

const SECRET: &str = "mongo-Root-Secret-9315";

#[test]
fn container_env_secrets_stay_out_of_trace_logs() {
    if !engine_or_skip() {
        return;
    }
    let p = Project::new("opsecret");
    p.cmd()
        .args(["config", "set", "MONGODB_ADMIN_PASSWORD", "-"])
        .write_stdin(format!("{}\n", SECRET))
        .assert()
        .success();
    for args in [
        &["service", "start", "-s", "mongodb"][..],
        &["service", "status", "-s", "mongodb"][..],
        &["--json", "service", "status", "-s", "mongodb"][..],
        &["service", "restart", "-s", "mongodb", "--timeout", "1s"][..],
    ] {
        let out = p
            .cmd()
            .arg("-vv")
            .args(args)
            .env("DTAAS_LOG", "trace")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!all.contains(SECRET), "{args:?} printed the secret:\n{all}");
    }
    // The secret really is in the container's environment.
    let env = std::process::Command::new("docker")
        .args([
            "inspect",
            "--format",
            "{{json .Config.Env}}",
            &format!("{}-mongodb", p.name),
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&env.stdout).contains(SECRET));
}
