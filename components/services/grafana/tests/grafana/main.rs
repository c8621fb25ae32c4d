//! Grafana user provisioning against a stateful stand-in of Grafana 12.3 (standin.rs) with
//! the generated settings (basic auth off): the admin logs in through `POST /login` and uses
//! the session cookie; users log in with their CSV passwords. `contract`: the exact requests
//! and the error mapping.
//!
//! Upstream: the stand-in (standin.rs) reproduces github.com/grafana/grafana v12.3.1
//! (pkg/services/authn/authnimpl/registration.go, pkg/api/login.go, pkg/middleware/csrf/csrf.go,
//! pkg/api/admin_users.go; each cited there, every row in docs/upstream-contracts.md).

#![allow(missing_debug_implementations, reason = "test fixtures")]

mod acceptance;
mod contract;
mod standin;

use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use services_common::{HttpOptions, PasswordState, Retry, UserSpec};
use services_grafana::{GrafanaOptions, GrafanaProvisioner};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer};

use crate::standin::{FakeGrafana, Settings};

pub const ADMIN: &str = "dtaas";
pub const ADMIN_PW: &str = "admin-pw";

pub fn provisioner_as(server: &MockServer, admin_password: &str) -> GrafanaProvisioner {
    GrafanaProvisioner::new(GrafanaOptions {
        base_url: server.uri(),
        admin_user: ADMIN.to_owned(),
        admin_password: SecretString::from(admin_password),
        http: HttpOptions::default(),
        retry: Retry {
            attempts: 3,
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        },
    })
    .unwrap()
}

pub fn provisioner(server: &MockServer) -> GrafanaProvisioner {
    provisioner_as(server, ADMIN_PW)
}

pub fn spec(name: &str, password: &str, state: PasswordState) -> UserSpec {
    UserSpec {
        name: name.to_owned(),
        password: SecretString::from(password),
        email: Some(format!("{name}@example.org")),
        password_state: state,
    }
}

/// A mock server answering as Grafana with `settings`; mocks mounted later with a higher
/// priority (a lower number) answer first.
pub async fn grafana(settings: Settings) -> (MockServer, FakeGrafana) {
    let server = MockServer::start().await;
    let fake = FakeGrafana::new(settings, ADMIN, ADMIN_PW);
    Mock::given(any())
        .respond_with(fake.clone())
        .with_priority(10)
        .mount(&server)
        .await;
    (server, fake)
}

/// The status of `POST /login` as `user` — what a person signing in gets.
pub async fn login_status(server: &MockServer, user: &str, password: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{}/login", server.uri()))
        .json(&json!({"user": user, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}
