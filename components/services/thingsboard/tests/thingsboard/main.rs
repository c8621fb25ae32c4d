//! ThingsBoard contract tests (wiremock with a stateful stand-in) and the one-off installer
//! on the real Docker engine.
//!
//! Upstream: the stand-in reproduces github.com/thingsboard/thingsboard v4.2.1
//! (application/.../controller/AuthController.java, UserController.java, TenantController.java,
//! CustomerController.java; dao/.../user/UserServiceImpl.java); rows in docs/upstream-contracts.md.

#![allow(missing_debug_implementations, reason = "test fixtures")]

mod fake;
mod flows;
mod install_flow;
mod installer;
mod reset_messages;
mod sql;

use std::time::Duration;

use password_store::{KeySource, PasswordStore};
use secrecy::SecretString;
use services_common::{HttpApi, HttpOptions, Retry, http_client};
use services_thingsboard::{TbClient, TbConfig, ThingsBoard};
use store::Store;
use store::test_support::TestDb;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer};

use crate::fake::FakeTb;

const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

pub struct Env {
    pub server: MockServer,
    pub fake: FakeTb,
    pub _db: TestDb,
    pub store: PasswordStore,
    pub tb: ThingsBoard,
}

pub fn config(base: &str) -> TbConfig {
    TbConfig {
        base_url: base.to_owned(),
        sysadmin_email: "sysadmin@thingsboard.org".into(),
        sysadmin_password: Some(SecretString::from("Sys-Final-1")),
        tenant_title: "DTaaS".into(),
        tenant_admin_email: "admin@dtaas.example".into(),
        tenant_admin_password: Some(SecretString::from("Tenant-Final-1")),
        install_timeout: Duration::from_secs(60),
    }
}

pub async fn env_with(edit: impl FnOnce(&mut TbConfig)) -> Env {
    let server = MockServer::start().await;
    let fake = FakeTb::new();
    Mock::given(any())
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    let db = TestDb::sqlite();
    let store = PasswordStore::open(
        Store::open(&db.location()).await.unwrap(),
        &KeySource::Env(SecretString::from(KEY)),
    )
    .await
    .unwrap();
    let mut cfg = config(&server.uri());
    edit(&mut cfg);
    let tb = ThingsBoard::new(client(&server.uri()), cfg, store.clone());
    Env {
        server,
        fake,
        _db: db,
        store,
        tb,
    }
}

pub async fn env() -> Env {
    env_with(|_| {}).await
}

pub fn client(base: &str) -> TbClient {
    let mut api = HttpApi::new(
        http_client(&HttpOptions::default()).unwrap(),
        base,
        "ThingsBoard",
    );
    api.retry = Retry {
        attempts: 3,
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    };
    TbClient::new(api)
}

/// The requests the server received since `from`, one line each: method, path and query,
/// the X-Authorization header, the JSON body.
pub async fn log_from(server: &MockServer, from: usize) -> String {
    let reqs = server.received_requests().await.unwrap_or_default();
    reqs[from..]
        .iter()
        .map(|r| {
            let mut line = format!("{} {}", r.method, r.url.path());
            if let Some(q) = r.url.query() {
                line.push('?');
                line.push_str(q);
            }
            if let Some(a) = r.headers.get("x-authorization") {
                line.push_str(&format!(" [{}]", a.to_str().unwrap()));
            }
            if !r.body.is_empty() {
                line.push(' ');
                line.push_str(&String::from_utf8_lossy(&r.body));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub async fn count(server: &MockServer) -> usize {
    server.received_requests().await.unwrap_or_default().len()
}
