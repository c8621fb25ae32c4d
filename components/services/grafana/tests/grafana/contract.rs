//! The exact requests of a `user add` against the stand-in, and the error mapping (401 at
//! the admin login, 5xx retried on idempotent requests, the concurrent "already exists").
//!
//! Upstream: the stand-in (standin.rs) reproduces github.com/grafana/grafana v12.3.1
//! (pkg/services/authn/authnimpl/registration.go, pkg/api/login.go, pkg/middleware/csrf/csrf.go,
//! pkg/api/admin_users.go; each cited there, every row in docs/upstream-contracts.md).

use serde_json::json;
use services_common::{Outcome, PasswordState, Provisioner};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::standin::Settings;
use crate::{grafana, login_status, provisioner, spec};

#[tokio::test]
async fn a_create_is_login_admin_calls_with_the_session_cookie_and_logout() {
    let (s, _fake) = grafana(Settings::generated()).await;
    let p = provisioner(&s);
    let alice = spec("alice", "Alice-pw-1", PasswordState::Unknown);
    assert_eq!(p.ensure_user(&alice).await.unwrap(), Outcome::Created);
    let reqs = s.received_requests().await.unwrap();
    let lines: Vec<String> = reqs
        .iter()
        .map(|r| {
            let cookie = r.headers.get("cookie").map_or("-", |c| {
                if c.to_str().unwrap().starts_with("grafana_session=") {
                    "session"
                } else {
                    "other"
                }
            });
            assert!(r.headers.get("authorization").is_none(), "no basic auth");
            assert!(r.headers.get("origin").is_none(), "no Origin header");
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
            format!("{} {} [{cookie}] {body}", r.method, r.url.path())
        })
        .collect();
    // The shared client follows the logout's redirect to the login page (harmless: the
    // token is already revoked).
    insta::assert_snapshot!(lines.join("\n"), @r#"
    POST /login [-] {"password":"admin-pw","user":"dtaas"}
    GET /api/users/lookup [session] null
    POST /api/admin/users [session] {"email":"alice@example.org","login":"alice","name":"alice","password":"Alice-pw-1"}
    POST /api/orgs/1/users [session] {"loginOrEmail":"alice","role":"Viewer"}
    GET /logout [session] null
    GET /login [session] null
    "#);
}

#[tokio::test]
async fn created_concurrently_sets_the_password() {
    let (s, fake) = grafana(Settings::generated()).await;
    let p = provisioner(&s);
    p.ensure_user(&spec("alice", "Alice-pw-1", PasswordState::Unknown))
        .await
        .unwrap();
    // The next lookup misses (someone else creates the user in between): the create gets
    // Grafana's 412, the password is set on the existing user.
    Mock::given(method("GET"))
        .and(path("/api/users/lookup"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"message": "user not found"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&s)
        .await;
    let again = spec("alice", "Alice-pw-2", PasswordState::Unknown);
    assert_eq!(p.ensure_user(&again).await.unwrap(), Outcome::Updated);
    assert_eq!(fake.user("alice").unwrap().password, "Alice-pw-2");
    assert_eq!(login_status(&s, "alice", "Alice-pw-2").await, 200);
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_without_secrets() {
    let (s, _fake) = grafana(Settings::generated()).await;
    Mock::given(method("GET"))
        .and(path("/api/users/lookup"))
        .respond_with(ResponseTemplate::new(502).set_body_string("Bad Gateway"))
        .expect(3)
        .with_priority(1)
        .mount(&s)
        .await;
    let e = provisioner(&s)
        .ensure_user(&spec("bob", "Bob-pw-1", PasswordState::Unknown))
        .await
        .unwrap_err();
    insta::assert_snapshot!(e.to_string(), @r#"Grafana: looking up user "bob" failed with HTTP 502: Bad Gateway"#);
    assert!(!e.to_string().contains("admin-pw"));
}
