//! Issue 15 finding 6 through the binary, on the live PostgreSQL (DTAAS_TEST_PG_URL; fails
//! in CI without it): a credentials.csv row named like the admin (POSTGRES_USER) is refused
//! with its line, exit 2, nothing changed, the admin still logs in; a CSV of its own goes
//! through and a re-run changes nothing and exits 0.

use crate::support::{Project, stderr, stdout};

/// `postgres://user:pw@host:port/db` → (user, pw, host, port).
fn parts(url: &str) -> (String, String, String, String) {
    let rest = url.split_once("://").expect("scheme").1;
    let (login, host) = rest.rsplit_once('@').expect("user:pw@host");
    let (user, pw) = login.split_once(':').expect("user:pw");
    let host = host.split(['/', '?']).next().unwrap();
    let (host, port) = host.rsplit_once(':').unwrap_or((host, "5432"));
    (user.into(), pw.into(), host.into(), port.into())
}

#[allow(clippy::print_stderr)]
#[test]
fn user_add_refuses_the_admin_row_and_reruns_exit_0() {
    let url = match std::env::var("DTAAS_TEST_PG_URL") {
        Ok(u) => u,
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("DTAAS_TEST_PG_URL is not set, and CI is: this test cannot run")
        }
        Err(_) => {
            eprintln!("skipped: set DTAAS_TEST_PG_URL to run");
            return;
        }
    };
    let (user, pw, host, port) = parts(&url);
    let p = Project::new();
    for (k, v) in [
        ("HOSTNAME", host.as_str()),
        ("POSTGRES_PORT", port.as_str()),
        ("POSTGRES_USER", user.as_str()),
        ("POSTGRES_PASSWORD", pw.as_str()),
        ("SSL_VERIFY", "false"),
    ] {
        p.cmd()
            .args(["config", "set", k, "-"])
            .write_stdin(v)
            .assert()
            .success();
    }
    let csv = p.dir.join("config/credentials.csv");
    let own = test_support::unique_name("cliguard");
    std::fs::write(
        &csv,
        format!("username,password\n{own},Own-Pw-12345\n{user},Taken-Over-1\n"),
    )
    .unwrap();
    let add = || {
        p.cmd()
            .args(["user", "add", "-s", "postgres", "--timeout", "10s"])
            .output()
            .unwrap()
    };
    let out = add();
    let (o, e) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(2), "{o}{e}");
    assert!(o.contains("refused") && o.contains("line 3"), "{o}");
    assert!(e.contains("nothing was changed"), "{e}");
    assert!(!format!("{o}{e}").contains("Taken-Over-1"));
    // Nothing changed: the row of its own was not created either; the admin logs in.
    let list = p
        .cmd()
        .args(["--json", "user", "list", "-s", "postgres"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let row = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["user"] == own.as_str())
        .cloned()
        .unwrap_or_default();
    assert_eq!(row["in_service"], false, "{json}");
    p.cmd().args(["db", "status"]).assert().success();

    std::fs::write(&csv, format!("username,password\n{own},Own-Pw-12345\n")).unwrap();
    let first = add();
    let again = add();
    let removed = p
        .cmd()
        .args(["--yes", "user", "remove", &own, "-s", "postgres"])
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(stdout(&first).contains("1 created"), "{}", stdout(&first));
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(stdout(&again).contains("1 unchanged"), "{}", stdout(&again));
    assert!(removed.status.success(), "{}", stderr(&removed));
}
