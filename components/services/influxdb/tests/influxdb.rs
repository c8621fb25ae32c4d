//! Contract tests: the exact v2 API requests for create, re-run, admin refusal, 401 and 5xx,
//! paged listing, and "already exists" answers to creations.
//!
//! Upstream: the wiremock answers follow github.com/influxdata/influxdb v2.8.0
//! (tenant/http_server_user.go, tenant/service_user.go, kit/transport/http/error_handler.go: 404
//! for a missing user or org, 422 for "exists", pages of 20 without `limit`;
//! session/http_server.go: signin 204/401); rows in docs/upstream-contracts.md.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use services_common::{
    HttpOptions, Outcome, PasswordState, ProvisionError, Provisioner, Removal, Retry, UserSpec,
};
use services_influxdb::{InfluxDbOptions, InfluxDbProvisioner};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn provisioner(server: &MockServer) -> InfluxDbProvisioner {
    InfluxDbProvisioner::new(InfluxDbOptions {
        base_url: server.uri(),
        token: SecretString::from("op-token"),
        admin_user: "dtaas".to_owned(),
        org: "dtaas".to_owned(),
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
        email: None,
        password_state: state,
    }
}

const AUTH: (&str, &str) = ("authorization", "Token op-token");

#[tokio::test]
async fn create_user_password_org_owner_bucket() {
    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users"))
        .and(query_param("name", "alice"))
        .and(header(AUTH.0, AUTH.1))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"code": "not found", "message": "user not found"})),
        )
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/users"))
        .and(header(AUTH.0, AUTH.1))
        .and(body_json(json!({"name": "alice", "status": "active"})))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"id": "u1", "name": "alice"})),
        )
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/users/u1/password"))
        .and(header(AUTH.0, AUTH.1))
        .and(body_json(json!({"password": "user-Secret-1"})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/orgs"))
        .and(query_param("org", "alice"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/orgs"))
        .and(header(AUTH.0, AUTH.1))
        .and(body_json(json!({"name": "alice", "description": "alice"})))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"id": "o1", "name": "alice"})),
        )
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/orgs/o1/owners"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"users": []})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/orgs/o1/owners"))
        .and(body_json(json!({"id": "u1"})))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"id": "u1", "role": "owner"})),
        )
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/buckets"))
        .and(query_param("orgID", "o1"))
        .and(query_param("name", "alice"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"buckets": []})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/buckets"))
        .and(body_json(
            json!({"orgID": "o1", "name": "alice", "retentionRules": []}),
        ))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"id": "b1", "name": "alice"})),
        )
        .expect(1)
        .mount(&s)
        .await;
    let out = provisioner(&s)
        .ensure_user(&spec("alice", PasswordState::Unknown))
        .await
        .unwrap();
    assert_eq!(out, Outcome::Created);
}

#[tokio::test]
async fn rerun_with_everything_in_place_changes_nothing() {
    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users"))
        .and(query_param("name", "alice"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"users": [{"id": "u1", "name": "alice"}]})),
        )
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/orgs"))
        .and(query_param("org", "alice"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"orgs": [{"id": "o1", "name": "alice"}]})),
        )
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/orgs/o1/owners"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"users": [{"id": "u1", "name": "alice"}]})),
        )
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/buckets"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"buckets": [{"id": "b1", "name": "alice"}]})),
        )
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&s)
        .await;
    let out = provisioner(&s)
        .ensure_user(&spec("alice", PasswordState::Same))
        .await
        .unwrap();
    assert_eq!(out, Outcome::Unchanged);
}

#[tokio::test]
async fn changed_password_is_set_on_the_existing_user() {
    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"users": [{"id": "u1", "name": "alice"}]})),
        )
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/users/u1/password"))
        .and(body_json(json!({"password": "user-Secret-1"})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/orgs"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"orgs": [{"id": "o1", "name": "alice"}]})),
        )
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/orgs/o1/owners"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"users": [{"id": "u1", "name": "alice"}]})),
        )
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/buckets"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"buckets": [{"id": "b1", "name": "alice"}]})),
        )
        .mount(&s)
        .await;
    let out = provisioner(&s)
        .ensure_user(&spec("alice", PasswordState::Changed))
        .await
        .unwrap();
    assert_eq!(out, Outcome::Updated);
}

#[tokio::test]
async fn the_admin_is_never_provisioned() {
    let s = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&s)
        .await;
    let e = provisioner(&s)
        .ensure_user(&spec("dtaas", PasswordState::Unknown))
        .await
        .unwrap_err();
    insta::assert_snapshot!(e.to_string(), @r#"InfluxDB: "dtaas" is the InfluxDB admin (INFLUXDB_ADMIN_USERNAME); it is not managed from credentials.csv"#);
}

#[tokio::test]
async fn unauthorized_and_server_errors() {
    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"code": "unauthorized", "message": "unauthorized access"})),
        )
        .expect(1)
        .mount(&s)
        .await;
    let e = provisioner(&s)
        .ensure_user(&spec("bob", PasswordState::Unknown))
        .await
        .unwrap_err();
    assert!(matches!(e, ProvisionError::Unauthorized { .. }));
    insta::assert_snapshot!(e.to_string(), @r#"InfluxDB refused the admin credentials: looking up user "bob": HTTP 401: unauthorized access"#);

    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_json(json!({"code": "unavailable", "message": "starting"})),
        )
        .expect(3)
        .mount(&s)
        .await;
    let e = provisioner(&s)
        .ensure_user(&spec("bob", PasswordState::Unknown))
        .await
        .unwrap_err();
    insta::assert_snapshot!(e.to_string(), @r#"InfluxDB: looking up user "bob" failed with HTTP 503: starting"#);
    assert!(!e.to_string().contains("op-token"));
}

fn users_page(range: std::ops::Range<usize>) -> serde_json::Value {
    let users: Vec<_> = range
        .map(|i| json!({"id": format!("u{i:03}"), "name": format!("user{i:03}")}))
        .collect();
    json!({ "users": users })
}

#[tokio::test]
async fn list_users_reads_every_page() {
    let s = MockServer::start().await;
    // 100 users (the admin among them), then a short page of 3.
    let mut first = users_page(0..100);
    first["users"][7] = json!({"id": "admin-id", "name": "dtaas"});
    Mock::given(method("GET"))
        .and(path("/api/v2/users"))
        .and(query_param("limit", "100"))
        .and(query_param("offset", "0"))
        .and(header(AUTH.0, AUTH.1))
        .respond_with(ResponseTemplate::new(200).set_body_json(first))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users"))
        .and(query_param("limit", "100"))
        .and(query_param("offset", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(users_page(100..103)))
        .expect(1)
        .mount(&s)
        .await;
    let users = provisioner(&s).list_users().await.unwrap();
    assert_eq!(users.len(), 102, "{users:?}");
    assert!(!users.contains(&"dtaas".to_owned()));
    assert_eq!(users.first().map(String::as_str), Some("user000"));
    assert_eq!(users.last().map(String::as_str), Some("user102"));
}

#[tokio::test]
async fn a_server_ignoring_offset_does_not_loop() {
    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(users_page(0..100)))
        .expect(2)
        .mount(&s)
        .await;
    assert_eq!(provisioner(&s).list_users().await.unwrap().len(), 100);
}

/// `GET path?key=alice`: not found the first time, found (id `id`) afterwards.
async fn found_on_second_look(s: &MockServer, p: &str, key: &str, list: &str, id: &str) {
    Mock::given(method("GET"))
        .and(path(p))
        .and(query_param(key, "alice"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ list: [] })))
        .up_to_n_times(1)
        .expect(1)
        .mount(s)
        .await;
    Mock::given(method("GET"))
        .and(path(p))
        .and(query_param(key, "alice"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ list: [{"id": id, "name": "alice"}] })),
        )
        .expect(1)
        .mount(s)
        .await;
}

#[tokio::test]
async fn already_exists_is_looked_up_again_and_carried_on() {
    let s = MockServer::start().await;
    found_on_second_look(&s, "/api/v2/users", "name", "users", "u1").await;
    found_on_second_look(&s, "/api/v2/orgs", "org", "orgs", "o1").await;
    found_on_second_look(&s, "/api/v2/buckets", "name", "buckets", "b1").await;
    Mock::given(method("POST"))
        .and(path("/api/v2/users"))
        .and(body_json(json!({"name": "alice", "status": "active"})))
        .respond_with(ResponseTemplate::new(422).set_body_json(
            json!({"code": "conflict", "message": "user with name alice already exists"}),
        ))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/users/u1/password"))
        .and(body_json(json!({"password": "user-Secret-1"})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/orgs"))
        .and(body_json(json!({"name": "alice", "description": "alice"})))
        .respond_with(ResponseTemplate::new(409).set_body_json(
            json!({"code": "conflict", "message": "organization with name alice already exists"}),
        ))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/orgs/o1/owners"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"users": [{"id": "u1", "name": "alice"}]})),
        )
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/buckets"))
        .and(body_json(
            json!({"orgID": "o1", "name": "alice", "retentionRules": []}),
        ))
        .respond_with(ResponseTemplate::new(422).set_body_json(
            json!({"code": "conflict", "message": "bucket with name alice already exists"}),
        ))
        .expect(1)
        .mount(&s)
        .await;
    // The user existed: its password is set as for any existing user whose CSV password
    // changed.
    let out = provisioner(&s)
        .ensure_user(&spec("alice", PasswordState::Changed))
        .await
        .unwrap();
    assert_eq!(out, Outcome::Updated);
}

#[tokio::test]
async fn a_422_for_another_reason_is_still_an_error() {
    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users"))
        .respond_with(ResponseTemplate::new(404))
        .expect(2)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/users"))
        .respond_with(ResponseTemplate::new(422).set_body_json(
            json!({"code": "unprocessable entity", "message": "user name is invalid"}),
        ))
        .expect(1)
        .mount(&s)
        .await;
    let e = provisioner(&s)
        .ensure_user(&spec("alice", PasswordState::Unknown))
        .await
        .unwrap_err();
    insta::assert_snapshot!(e.to_string(), @r#"InfluxDB: creating user "alice" failed with HTTP 422: user name is invalid"#);
}

async fn found(s: &MockServer, p: &str, key: &str, value: &str, list: &str, id: &str) {
    Mock::given(method("GET"))
        .and(path(p))
        .and(query_param(key, value))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ list: [{"id": id, "name": value}] })),
        )
        .mount(s)
        .await;
}

async fn org_users(s: &MockServer, list: &str, users: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path(format!("/api/v2/orgs/o1/{list}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "users": users })))
        .mount(s)
        .await;
}

async fn deletes(s: &MockServer, p: &str, times: u64) {
    Mock::given(method("DELETE"))
        .and(path(p))
        .respond_with(ResponseTemplate::new(204))
        .expect(times)
        .mount(s)
        .await;
}

#[tokio::test]
async fn remove_takes_the_users_own_org_with_it() {
    let s = MockServer::start().await;
    found(&s, "/api/v2/users", "name", "alice", "users", "u1").await;
    found(&s, "/api/v2/orgs", "org", "alice", "orgs", "o1").await;
    // InfluxDB made the operator (who created the org) an owner too.
    org_users(
        &s,
        "owners",
        json!([{"id": "u1", "name": "alice"}, {"id": "u0", "name": "dtaas"}]),
    )
    .await;
    org_users(&s, "members", json!([])).await;
    deletes(&s, "/api/v2/users/u1", 1).await;
    deletes(&s, "/api/v2/orgs/o1", 1).await;
    assert_eq!(
        provisioner(&s).remove_user("alice", false).await.unwrap(),
        Removal::Removed
    );
}

#[tokio::test]
async fn an_org_that_others_belong_to_is_never_removed() {
    let s = MockServer::start().await;
    // A user named like the platform's primary org, which the operator also owns.
    found(&s, "/api/v2/users", "name", "platform", "users", "u1").await;
    found(&s, "/api/v2/orgs", "org", "platform", "orgs", "o1").await;
    org_users(
        &s,
        "owners",
        json!([{"id": "u1", "name": "platform"}, {"id": "u0", "name": "dtaas"}, {"id": "u3", "name": "operator"}]),
    )
    .await;
    org_users(&s, "members", json!([{"id": "u2", "name": "bob"}])).await;
    deletes(&s, "/api/v2/users/u1", 0).await;
    deletes(&s, "/api/v2/orgs/o1", 0).await;
    let err = provisioner(&s)
        .remove_user("platform", false)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("org \"platform\" also belongs to operator, bob: nothing removed"),
        "{err}"
    );
    // With --keep-data only the user goes; the org is not even looked at.
    let s = MockServer::start().await;
    found(&s, "/api/v2/users", "name", "platform", "users", "u1").await;
    deletes(&s, "/api/v2/users/u1", 1).await;
    deletes(&s, "/api/v2/orgs/o1", 0).await;
    assert_eq!(
        provisioner(&s).remove_user("platform", true).await.unwrap(),
        Removal::Removed
    );
}
