//! GitLab contract tests: wiremock with a stateful stand-in, and a fake container.
//!
//! Upstream: the stand-in reproduces github.com/gitlabhq/gitlabhq v18.10.1 (lib/api/users.rb,
//! lib/api/applications.rb, app/policies/global_policy.rb, app/controllers/health_controller.rb;
//! each behaviour cited in fake.rs, every row in docs/upstream-contracts.md).

#![allow(
    missing_debug_implementations,
    unreachable_pub,
    reason = "test fixtures"
)]

mod admin_mode;
mod fake;
mod flows;
mod install;
mod runner;
mod users;

use std::path::PathBuf;
use std::time::Duration;

use password_store::{KeySource, PasswordStore};
use secrecy::SecretString;
use services_common::{HttpApi, HttpOptions, Retry, http_client};
use services_gitlab::{GitLab, GitLabClient, GitLabConfig, InstallOptions};
use store::Store;
use store::test_support::TestDb;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer};

use crate::fake::FakeGitLab;

const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

pub struct Env {
    pub server: MockServer,
    pub fake: FakeGitLab,
    pub dir: tempfile::TempDir,
    pub _db: TestDb,
    pub store: PasswordStore,
    pub gl: GitLab,
}

pub const APPS: &str = r#"[
  {"name": "DTaaS Server Authorization", "redirect_uri": "https://intocps.org/_oauth", "confidential": true, "scopes": "read_user", "trusted": true},
  {"name": "DTaaS Client Authorization", "redirect_uri": "https://intocps.org/Library", "confidential": false, "scopes": "api openid profile read_repository read_user", "trusted": true}
]"#;

pub async fn env() -> Env {
    let server = MockServer::start().await;
    let fake = FakeGitLab::new();
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
    let dir = tempfile::tempdir().unwrap();
    let oauth_file: PathBuf = dir.path().join("gitlab_oauth.json");
    std::fs::write(&oauth_file, APPS).unwrap();
    let base = format!("{}/gitlab", server.uri());
    let mut api = HttpApi::new(
        http_client(&HttpOptions::default()).unwrap(),
        &base,
        "GitLab",
    );
    api.retry = Retry {
        attempts: 3,
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    };
    let cfg = GitLabConfig {
        base_url: base,
        root_password: Some(SecretString::from("Root-Final-1")),
        root_password_source: Some("config/services.env:7".into()),
        oauth_file,
    };
    let gl = GitLab::new(GitLabClient::new(api), cfg, store.clone());
    Env {
        server,
        fake,
        dir,
        _db: db,
        store,
        gl,
    }
}

pub fn once() -> InstallOptions {
    InstallOptions {
        wait: None,
        poll: Duration::from_millis(1),
    }
}

/// The requests since `from`: method, path and query, auth header, body.
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
            if let Some(a) = r.headers.get("private-token") {
                line.push_str(&format!(" [PRIVATE-TOKEN {}]", a.to_str().unwrap()));
            }
            if let Some(a) = r.headers.get("authorization") {
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
