use std::time::Duration;

use secrecy::SecretString;
use services_common::{
    HttpOptions, Outcome, PasswordState, ProvisionError, Provisioner, Retry, UserSpec,
};
use services_rabbitmq::{RabbitMqOptions, RabbitMqProvisioner};
use wiremock::matchers::{basic_auth, body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn provisioner(server: &MockServer) -> RabbitMqProvisioner {
    RabbitMqProvisioner::new(RabbitMqOptions {
        base_url: server.uri(),
        admin_user: "admin".to_owned(),
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

fn spec(name: &str) -> UserSpec {
    UserSpec {
        name: name.to_owned(),
        password: SecretString::from("user-Secret-1"),
        email: None,
        password_state: PasswordState::Unknown,
    }
}

#[tokio::test]
async fn create_sends_the_documented_requests() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/users/alice"))
        .and(basic_auth("admin", "admin-pw"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/users/alice"))
        .and(basic_auth("admin", "admin-pw"))
        .and(body_json(
            serde_json::json!({"password": "user-Secret-1", "tags": ""}),
        ))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/vhosts/alice"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/vhosts/alice"))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/permissions/alice/alice"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/permissions/alice/alice"))
        .and(body_json(
            serde_json::json!({"configure": ".*", "write": ".*", "read": ".*"}),
        ))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        provisioner(&server)
            .ensure_user(&spec("alice"))
            .await
            .unwrap(),
        Outcome::Created
    );
}

#[tokio::test]
async fn unauthorized_is_not_retried_and_5xx_is_retried_then_reported() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/users/bob"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            serde_json::json!({"error": "not_authorized", "reason": "Login failed"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let e = provisioner(&server)
        .ensure_user(&spec("bob"))
        .await
        .unwrap_err();
    assert!(matches!(e, ProvisionError::Unauthorized { .. }), "{e}");
    insta::assert_snapshot!(e.to_string(), @r#"RabbitMQ refused the admin credentials: looking up user "bob": HTTP 401: Login failed"#);

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/users/bob"))
        .respond_with(ResponseTemplate::new(503).set_body_string("busy"))
        .expect(3)
        .mount(&server)
        .await;
    let e = provisioner(&server)
        .ensure_user(&spec("bob"))
        .await
        .unwrap_err();
    assert!(!e.to_string().contains("user-Secret-1"));
    insta::assert_snapshot!(e.to_string(), @r#"RabbitMQ: looking up user "bob" failed with HTTP 503: busy"#);
}
