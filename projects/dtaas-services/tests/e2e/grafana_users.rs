//! `user add -s grafana` through the binary, against the Grafana stand-in started from the
//! generated compose file (TLS, GF_AUTH_BASIC_ENABLED=false): the provisioner logs in through
//! `POST /login` and drives the admin API with the session cookie, the users it makes log in
//! with their CSV passwords, a changed password replaces the old one, and a row naming the
//! admin (in another case) is refused with its line before anything changes.
//!
//! Upstream: grafana/grafana v12.3.1 (pkg/services/authn/authnimpl/registration.go: no basic
//! auth with `[auth.basic] enabled = false`; pkg/api/login.go and
//! pkg/services/authn/clients/form.go: `POST /login`; pkg/api/admin_users.go,
//! pkg/api/org_users.go, pkg/api/user.go, pkg/api/users.go), reproduced by the stand-in
//! images/standins/bin/standin-serve (`Grafana`).

use std::process::Command;

use e2e_kit::TestProject;

use crate::support::{dtaas, hostname_resolves_or_skip, project, run};

/// `KEY=value` of the project's services.env (quotes stripped).
fn setting(p: &TestProject, key: &str) -> String {
    let text = std::fs::read_to_string(p.dir().join("config/services.env")).expect("services.env");
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim().trim_matches('\'').trim_matches('"').to_owned())
        .unwrap_or_else(|| panic!("{key} not in services.env"))
}

/// `POST /login` from the host with `user`/`password`: the HTTP status, and whether Grafana
/// set its session cookie.
fn login(p: &TestProject, user: &str, password: &str) -> (String, bool) {
    let url = format!("https://127.0.0.1:{}/login", p.port("GRAFANA_PORT"));
    let body = serde_json::json!({"user": user, "password": password}).to_string();
    let ca = p.ca_cert();
    let out = run(Command::new("curl").args([
        "-sS",
        "-o",
        "/dev/null",
        "-D",
        "-",
        "-w",
        "%{http_code}",
        "--max-time",
        "10",
        "--cacert",
        ca.to_str().unwrap(),
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &body,
        &url,
    ]));
    let status = out.stdout.lines().last().unwrap_or("").trim().to_owned();
    let cookie = out.stdout.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("set-cookie: grafana_session=")
    });
    (status, cookie)
}

#[track_caller]
fn assert_logs_in(p: &TestProject, user: &str, password: &str, step: &str) {
    assert_eq!(
        login(p, user, password),
        ("200".to_owned(), true),
        "{step}: {user} must log in with its CSV password"
    );
}

#[track_caller]
fn assert_refused(p: &TestProject, user: &str, password: &str, step: &str) {
    assert_eq!(
        login(p, user, password),
        ("401".to_owned(), false),
        "{step}: {user} must not log in with that password"
    );
}

#[test]
fn grafana_user_add_through_the_binary() {
    let test = "e2e grafana user add";
    let Some(p) = project(test) else { return };
    if !hostname_resolves_or_skip(&p, test) {
        return;
    }
    p.run_ok(["service", "start", "-s", "grafana", "--wait"])
        .expect("service start -s grafana");
    let csv = p.dir().join("config/credentials.csv");
    std::fs::write(
        &csv,
        "username,password,email\n\
         alice,Alice-pw-1,alice@example.org\n\
         bob,Bob.pw.2,bob@example.org\n",
    )
    .unwrap();

    let r = dtaas(&p, &["user", "add", "-s", "grafana"]).expect_code(0, "user add -s grafana");
    assert!(
        r.stdout.contains("alice") && r.stdout.contains("created"),
        "user add did not report alice created:\n{}",
        r.stdout
    );
    assert_logs_in(&p, "alice", "Alice-pw-1", "after user add");
    assert_logs_in(&p, "bob", "Bob.pw.2", "after user add");
    assert_refused(&p, "alice", "Bob.pw.2", "after user add");

    // A changed password: the new one logs in, the old one no longer does.
    std::fs::write(
        &csv,
        "username,password,email\n\
         alice,Alice-new-3,alice@example.org\n\
         bob,Bob.pw.2,bob@example.org\n",
    )
    .unwrap();
    let r = dtaas(&p, &["user", "add", "-s", "grafana"]).expect_code(0, "user add again");
    assert!(
        r.stdout.contains("updated"),
        "the changed password was not reported updated:\n{}",
        r.stdout
    );
    assert_logs_in(&p, "alice", "Alice-new-3", "after the password change");
    assert_refused(&p, "alice", "Alice-pw-1", "after the password change");
    let list = dtaas(&p, &["user", "list", "-s", "grafana"]).expect_code(0, "user list");
    assert!(
        list.stdout.contains("alice") && list.stdout.contains("bob"),
        "user list:\n{}",
        list.stdout
    );

    // A row naming the admin, in another case: the whole run is refused, with the line,
    // and nothing changes (carol, on the line before it, is not created).
    let admin = setting(&p, "GRAFANA_ADMIN_USERNAME");
    let admin_password = setting(&p, "GRAFANA_ADMIN_PASSWORD");
    let shouted = admin.to_uppercase();
    assert_ne!(shouted, admin, "the admin name needs letters for this test");
    std::fs::write(
        &csv,
        format!(
            "username,password,email\n\
             alice,Alice-new-3,alice@example.org\n\
             carol,Carol-pw-4,carol@example.org\n\
             {shouted},Taken-over-5,boss@example.org\n"
        ),
    )
    .unwrap();
    let r = dtaas(&p, &["user", "add", "-s", "grafana"]);
    let all = format!("{}\n{}", r.stdout, r.stderr);
    assert_ne!(
        r.code, 0,
        "a row naming the admin must fail the run:\n{all}"
    );
    assert!(
        all.contains(&format!("line 4: {shouted}")) && all.contains("GRAFANA_ADMIN_USERNAME"),
        "the refusal must name the row's line and name:\n{all}"
    );
    assert_refused(&p, "carol", "Carol-pw-4", "after the refused run");
    assert_logs_in(&p, &admin, &admin_password, "after the refused run");
    assert_refused(&p, &admin, "Taken-over-5", "after the refused run");
}
