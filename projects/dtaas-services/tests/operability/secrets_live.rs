//! On the real engine, at -vv with DTAAS_LOG=trace: creating, inspecting and restarting a
//! container whose environment holds an admin password never prints the password (the
//! Docker client logs request and response bodies at debug level; without the cap in the
//! logging component this test fails). Every kind of filter is tried, the container created
//! anew under each: a more specific target directive used to win over the cap (issue 15,
//! finding 7: `DTAAS_LOG=bollard::docker=debug service start` printed the create body).

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
        .write_stdin(SECRET)
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
    // Spelt with `\u{3a}` (`:`): only the docker brick may name bollard's paths.
    for filter in [
        "bollard:\u{3a}docker=debug",
        "bollard:\u{3a}docker=trace,hyper=trace,hyper_util=trace",
        "bollard=trace",
        "[{password}]=trace,trace",
    ] {
        let removed = p
            .cmd()
            .args(["--yes", "service", "remove", "-s", "mongodb"])
            .output()
            .unwrap();
        assert!(removed.status.success(), "{}", stderr(&removed));
        let out = p
            .cmd()
            .arg("-vv")
            .args(["service", "start", "-s", "mongodb"])
            .env("DTAAS_LOG", filter)
            .output()
            .unwrap();
        assert!(out.status.success(), "{filter}: {}", stderr(&out));
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!all.contains(SECRET), "{filter} printed the secret:\n{all}");
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
