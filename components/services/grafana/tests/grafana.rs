//! Contract tests: the exact admin API requests for create (with the main organisation
//! membership), re-run, password change, already-exists, removal, 401 and 5xx.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use services_common::{
    HttpOptions, Outcome, PasswordState, ProvisionError, Provisioner, Removal, Retry, UserSpec,
};
use services_grafana::{GrafanaOptions, GrafanaProvisioner};
use wiremock::matchers::{basic_auth, body_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn provisioner(server: &MockServer) -> GrafanaProvisioner {
    GrafanaProvisioner::new(GrafanaOptions {
        base_url: server.uri(),
        admin_user: "dtaas".to_owned(),
        admin_password: SecretString::from("admin-pw"),
        http: HttpOptions::default(),
        retry: Retry {
            attempts: 3,
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        },
    })
    .unwrap()
}

fn spec(name: &str, state: PasswordState) -> UserSpec {
    UserSpec {
        name: name.to_owned(),
        password: SecretString::from("user-Secret-1"),
        email: Some(format!("{name}@example.org")),
        password_state: state,
    }
}

async fn lookup(s: &MockServer, name: &str, found: Option<i64>) {
    let resp = match found {
        Some(id) => ResponseTemplate::new(200).set_body_json(json!({"id": id, "login": name})),
        None => ResponseTemplate::new(404).set_body_json(json!({"message": "user not found"})),
    };
    Mock::given(method("GET"))
        .and(path("/api/users/lookup"))
        .and(query_param("loginOrEmail", name))
        .and(basic_auth("dtaas", "admin-pw"))
        .respond_with(resp)
        .mount(s)
        .await;
}

/// The main organisation's membership call, answered "already a member", `times` times.
async fn already_member(s: &MockServer, name: &str, times: u64) {
    Mock::given(method("POST"))
        .and(path("/api/orgs/1/users"))
        .and(basic_auth("dtaas", "admin-pw"))
        .and(body_json(json!({"loginOrEmail": name, "role": "Viewer"})))
        .respond_with(
            ResponseTemplate::new(409)
                .set_body_json(json!({"message": "User is already member of this organization"})),
        )
        .expect(times)
        .mount(s)
        .await;
}

#[tokio::test]
async fn create() {
    let s = MockServer::start().await;
    lookup(&s, "alice", None).await;
    Mock::given(method("POST")).and(path("/api/admin/users")).and(basic_auth("dtaas", "admin-pw"))
        .and(body_json(json!({"name": "alice", "login": "alice", "email": "alice@example.org", "password": "user-Secret-1"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 7, "message": "User created"})))
        .expect(1).mount(&s).await;
    Mock::given(method("POST"))
        .and(path("/api/orgs/1/users"))
        .and(basic_auth("dtaas", "admin-pw"))
        .and(body_json(
            json!({"loginOrEmail": "alice", "role": "Viewer"}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"message": "User added to organization"})),
        )
        .expect(1)
        .mount(&s)
        .await;
    assert_eq!(
        provisioner(&s)
            .ensure_user(&spec("alice", PasswordState::Unknown))
            .await
            .unwrap(),
        Outcome::Created
    );
}

#[tokio::test]
async fn rerun_is_unchanged_and_a_changed_password_is_set() {
    let s = MockServer::start().await;
    lookup(&s, "alice", Some(7)).await;
    Mock::given(method("PUT"))
        .and(path("/api/admin/users/7/password"))
        .and(basic_auth("dtaas", "admin-pw"))
        .and(body_json(json!({"password": "user-Secret-1"})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"message": "User password updated"})),
        )
        .expect(1)
        .mount(&s)
        .await;
    // An existing user's membership is ensured on every run (a user made before it was,
    // or whose first membership call failed).
    already_member(&s, "alice", 2).await;
    let p = provisioner(&s);
    assert_eq!(
        p.ensure_user(&spec("alice", PasswordState::Same))
            .await
            .unwrap(),
        Outcome::Unchanged
    );
    assert_eq!(
        p.ensure_user(&spec("alice", PasswordState::Changed))
            .await
            .unwrap(),
        Outcome::Updated
    );
}

#[tokio::test]
async fn unknown_password_is_checked_by_a_login() {
    let s = MockServer::start().await;
    lookup(&s, "alice", Some(7)).await;
    Mock::given(method("GET"))
        .and(path("/api/user"))
        .and(basic_auth("alice", "user-Secret-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 7})))
        .expect(1)
        .mount(&s)
        .await;
    already_member(&s, "alice", 1).await;
    assert_eq!(
        provisioner(&s)
            .ensure_user(&spec("alice", PasswordState::Unknown))
            .await
            .unwrap(),
        Outcome::Unchanged
    );
}

#[tokio::test]
async fn already_exists_on_create_sets_the_password() {
    let s = MockServer::start().await;
    // Not found at first, then created by someone else in between.
    Mock::given(method("GET"))
        .and(path("/api/users/lookup"))
        .respond_with(ResponseTemplate::new(404))
        .up_to_n_times(1)
        .mount(&s)
        .await;
    lookup(&s, "alice", Some(9)).await;
    Mock::given(method("POST"))
        .and(path("/api/admin/users"))
        .respond_with(
            ResponseTemplate::new(412).set_body_json(json!({"message": "user already exists"})),
        )
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/admin/users/9/password"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&s)
        .await;
    // Already a member (auto-assigned): fine, its role is kept.
    already_member(&s, "alice", 1).await;
    assert_eq!(
        provisioner(&s)
            .ensure_user(&spec("alice", PasswordState::Unknown))
            .await
            .unwrap(),
        Outcome::Updated
    );
}

#[tokio::test]
async fn remove_and_list() {
    let s = MockServer::start().await;
    lookup(&s, "alice", Some(7)).await;
    Mock::given(method("DELETE"))
        .and(path("/api/admin/users/7"))
        .and(basic_auth("dtaas", "admin-pw"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"message": "User deleted"})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/users/search"))
        .and(query_param("perpage", "5000"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"totalCount": 3, "users": [
                {"id": 1, "login": "dtaas", "isAdmin": true},
                {"id": 7, "login": "bob", "isAdmin": false},
                {"id": 8, "login": "alice", "isAdmin": false}
            ]})),
        )
        .mount(&s)
        .await;
    let p = provisioner(&s);
    assert_eq!(
        p.remove_user("alice", false).await.unwrap(),
        Removal::Removed
    );
    assert_eq!(p.list_users().await.unwrap(), ["alice", "bob"]);
    assert!(
        p.remove_user("dtaas", false).await.is_err(),
        "the admin is never removed"
    );
}

#[tokio::test]
async fn unauthorized_and_server_errors() {
    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/users/lookup"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"message": "invalid username or password"})),
        )
        .expect(1)
        .mount(&s)
        .await;
    let e = provisioner(&s)
        .ensure_user(&spec("bob", PasswordState::Unknown))
        .await
        .unwrap_err();
    assert!(matches!(e, ProvisionError::Unauthorized { .. }));
    insta::assert_snapshot!(e.to_string(), @r#"Grafana refused the admin credentials: looking up user "bob": HTTP 401: invalid username or password"#);

    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/users/lookup"))
        .respond_with(ResponseTemplate::new(502).set_body_string("Bad Gateway"))
        .expect(3)
        .mount(&s)
        .await;
    let e = provisioner(&s)
        .ensure_user(&spec("bob", PasswordState::Unknown))
        .await
        .unwrap_err();
    insta::assert_snapshot!(e.to_string(), @r#"Grafana: looking up user "bob" failed with HTTP 502: Bad Gateway"#);
    assert!(!e.to_string().contains("admin-pw"));
}
