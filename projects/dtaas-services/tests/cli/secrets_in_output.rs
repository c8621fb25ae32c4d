//! No secret value reaches stdout, stderr or the logs, even at -vv with DTAAS_LOG=trace:
//! config values, legacy secret files imported into the store, credentials.csv passwords.

use crate::support::{Project, stderr, stdout};

const PG: &str = "pg-Secret-4821";
const TB: &str = "tb-Secret-7730";
const CSV: &str = "csv-Secret-1957";

#[test]
fn secrets_never_appear_in_output_or_logs_at_trace_level() {
    let p = Project::new();
    p.cmd()
        .args(["config", "set", "POSTGRES_PASSWORD", "-"])
        .write_stdin(PG)
        .assert()
        .success();
    // A closed port and an engine that is not there: commands fail fast, after logging.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    p.cmd()
        .args(["config", "set", "POSTGRES_PORT", &closed.to_string()])
        .assert()
        .success();
    p.cmd()
        .args(["config", "set", "HOSTNAME", "127.0.0.1"])
        .assert()
        .success();
    std::fs::write(
        p.dir.join("config/password.env.current"),
        format!("TB_SYSADMIN_CURRENT_PASSWORD='{TB}'\n"),
    )
    .unwrap();
    std::fs::write(
        p.dir.join("config/credentials.csv"),
        format!("username,password,email\nalice,{CSV},alice@example.org\n"),
    )
    .unwrap();
    let runs: [&[&str]; 9] = [
        &["config", "show"],
        &["config", "validate"],
        &["secrets", "list"],
        &["db", "status"],
        &["history"],
        &["service", "status"],
        &["user", "add", "-s", "postgres", "--timeout", "0"],
        &[
            "user",
            "add",
            "-s",
            "postgres",
            "--dry-run",
            "--timeout",
            "0",
        ],
        &["doctor"],
    ];
    let mut ran = 0;
    for args in runs {
        let out = p
            .cmd()
            .args(["-vv"])
            .args(args)
            .env("DTAAS_LOG", "trace")
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .output()
            .unwrap();
        let all = format!("{}{}", stdout(&out), stderr(&out));
        for secret in [PG, TB, CSV] {
            assert!(!all.contains(secret), "{args:?} printed a secret:\n{all}");
        }
        ran += usize::from(!all.is_empty());
    }
    assert_eq!(ran, runs.len(), "every command printed something to check");
    // The secret did reach the store (so the commands above had it in hand).
    let out = p
        .cmd()
        .args(["secrets", "get", "TB_SYSADMIN_CURRENT_PASSWORD"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out).trim(), TB, "{}", stderr(&out));
}
