//! Issue acceptance: with the generated Grafana settings, `user add` creates users who log in
//! with their CSV passwords, a changed password works and the old one is refused, `user list`
//! shows them; and the stand-in refuses what Grafana refuses.
//!
//! Upstream: the stand-in (standin.rs) reproduces github.com/grafana/grafana v12.3.1
//! (pkg/services/authn/authnimpl/registration.go, pkg/api/login.go, pkg/middleware/csrf/csrf.go,
//! pkg/api/admin_users.go; each cited there, every row in docs/upstream-contracts.md).

use services_common::{Outcome, PasswordState, ProvisionError, Provisioner, Removal};

use crate::standin::Settings;
use crate::{ADMIN, ADMIN_PW, grafana, login_status, provisioner, provisioner_as, spec};

#[tokio::test]
async fn users_log_in_with_their_csv_passwords_and_a_change_takes_effect() {
    let (s, fake) = grafana(Settings::generated()).await;
    let p = provisioner(&s);
    p.probe().await.unwrap();
    let alice = spec("alice", "Alice-pw-1", PasswordState::Unknown);
    assert_eq!(p.ensure_user(&alice).await.unwrap(), Outcome::Created);
    let bob = spec("bob", "Bob-pw-1", PasswordState::Unknown);
    assert_eq!(p.ensure_user(&bob).await.unwrap(), Outcome::Created);
    assert_eq!(login_status(&s, "alice", "Alice-pw-1").await, 200);
    // Logins are case-insensitive.
    assert_eq!(login_status(&s, "Bob", "Bob-pw-1").await, 200);
    assert_eq!(
        fake.user("alice").unwrap().orgs.get(&1).map(String::as_str),
        Some("Viewer")
    );

    let same = spec("alice", "Alice-pw-1", PasswordState::Same);
    assert_eq!(p.ensure_user(&same).await.unwrap(), Outcome::Unchanged);
    let changed = spec("alice", "Alice-pw-2", PasswordState::Changed);
    assert_eq!(p.ensure_user(&changed).await.unwrap(), Outcome::Updated);
    assert_eq!(login_status(&s, "alice", "Alice-pw-2").await, 200);
    assert_eq!(login_status(&s, "alice", "Alice-pw-1").await, 401);

    assert_eq!(p.list_users().await.unwrap(), ["alice", "bob"]);
    // Every session the provisioner opened was logged out.
    let logged_in_by_hand = 3;
    assert_eq!(fake.open_sessions(), logged_in_by_hand);
}

#[tokio::test]
async fn an_unknown_password_is_checked_by_the_users_own_login() {
    let (s, fake) = grafana(Settings::generated()).await;
    let p = provisioner(&s);
    let alice = spec("alice", "Alice-pw-1", PasswordState::Unknown);
    assert_eq!(p.ensure_user(&alice).await.unwrap(), Outcome::Created);
    // Not recorded, but the CSV password works: nothing to do.
    assert_eq!(p.ensure_user(&alice).await.unwrap(), Outcome::Unchanged);
    // Not recorded and different: set.
    let other = spec("alice", "Alice-pw-9", PasswordState::Unknown);
    assert_eq!(p.ensure_user(&other).await.unwrap(), Outcome::Updated);
    assert_eq!(login_status(&s, "alice", "Alice-pw-9").await, 200);
    assert_eq!(fake.open_sessions(), 1);
}

#[tokio::test]
async fn a_wrong_admin_password_is_refused_and_changes_nothing() {
    let (s, fake) = grafana(Settings::generated()).await;
    let p = provisioner_as(&s, "not-the-admin-password");
    let e = p
        .ensure_user(&spec("carol", "Carol-pw-1", PasswordState::Unknown))
        .await
        .unwrap_err();
    assert!(matches!(e, ProvisionError::Unauthorized { .. }), "{e}");
    insta::assert_snapshot!(e.to_string(), @r#"Grafana refused the admin credentials: logging in as "dtaas" (POST /login): invalid username or password (Grafana also refuses a login for 5 minutes after 5 failed ones)"#);
    assert!(!e.to_string().contains("not-the-admin-password"));
    assert!(p.probe().await.is_err());
    assert!(fake.user("carol").is_none());
}

#[tokio::test]
async fn remove_deletes_the_user_and_never_the_admin() {
    let (s, fake) = grafana(Settings::generated()).await;
    let p = provisioner(&s);
    let alice = spec("alice", "Alice-pw-1", PasswordState::Unknown);
    p.ensure_user(&alice).await.unwrap();
    assert_eq!(
        p.remove_user("alice", false).await.unwrap(),
        Removal::Removed
    );
    assert_eq!(
        p.remove_user("alice", false).await.unwrap(),
        Removal::Absent
    );
    assert_eq!(login_status(&s, "alice", "Alice-pw-1").await, 401);
    assert!(p.remove_user(ADMIN, false).await.is_err());
    assert!(fake.user(ADMIN).is_some());
    assert_eq!(p.list_users().await.unwrap(), Vec::<String>::new());
}

#[tokio::test]
async fn the_standin_refuses_basic_auth_foreign_origins_and_repeated_failures() {
    let (s, _fake) = grafana(Settings::generated()).await;
    let http = reqwest::Client::new();
    let org = format!("{}/api/org", s.uri());
    // Basic auth is not a registered client with GF_AUTH_BASIC_ENABLED=false ...
    let r = http
        .get(&org)
        .basic_auth(ADMIN, Some(ADMIN_PW))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // ... and is with it on.
    let (on, _) = grafana(Settings {
        basic_auth_enabled: true,
        ..Settings::generated()
    })
    .await;
    let r = http
        .get(format!("{}/api/org", on.uri()))
        .basic_auth(ADMIN, Some(ADMIN_PW))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // A cookie-authenticated POST from a foreign Origin is refused; without Origin it passes.
    let login = http
        .post(format!("{}/login", s.uri()))
        .json(&serde_json::json!({"user": ADMIN, "password": ADMIN_PW}))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let add = format!("{}/api/admin/users", s.uri());
    let body = serde_json::json!({"login": "eve", "password": "Eve-pw-1"});
    let r = http
        .post(&add)
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = http
        .post(&add)
        .header("cookie", &cookie)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // 412 for an existing login, whatever its case.
    let again = serde_json::json!({"login": "EVE", "password": "Eve-pw-1"});
    let r = http
        .post(&add)
        .header("cookie", &cookie)
        .json(&again)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 412);

    // Five failed logins block the next ones, the right password included.
    for _ in 0..5 {
        assert_eq!(login_status(&s, "eve", "wrong").await, 401);
    }
    assert_eq!(login_status(&s, "eve", "Eve-pw-1").await, 401);
}

#[tokio::test]
async fn a_custom_login_cookie_name_is_followed() {
    let (s, _fake) = grafana(Settings {
        login_cookie_name: "my_grafana_sess".to_owned(),
        ..Settings::generated()
    })
    .await;
    let p = provisioner(&s);
    let alice = spec("alice", "Alice-pw-1", PasswordState::Unknown);
    assert_eq!(p.ensure_user(&alice).await.unwrap(), Outcome::Created);
    assert_eq!(p.list_users().await.unwrap(), ["alice"]);
}

#[tokio::test]
async fn a_disabled_login_form_is_an_admin_login_failure() {
    let (s, _fake) = grafana(Settings {
        disable_login_form: true,
        ..Settings::generated()
    })
    .await;
    let e = provisioner(&s).list_users().await.unwrap_err();
    assert!(matches!(e, ProvisionError::Unauthorized { .. }), "{e}");
}
