//! Admin Mode on (application setting `admin_mode`): an admin's token acts as an admin on the
//! API only with the `admin_mode` scope.
//!
//! Upstream: github.com/gitlabhq/gitlabhq v18.10.1 lib/api/api_guard.rb
//! (`bypass_session_for_admin_mode?`: the session's admin mode, or a token with the
//! `admin_mode` scope), lib/api/helpers.rb (`authenticated_as_admin!` →
//! `can_admin_all_resources?`, else 403), lib/gitlab/auth.rb (`ADMIN_MODE_SCOPE`, offered to
//! admin users whatever the setting; `DEFAULT_SCOPES` = api for an OAuth grant without
//! `scope`), lib/api/users.rb (`GET /user` shows `is_admin` on `current_user.admin?`).

use services_gitlab::{ROOT_TOKEN_SCOPES, TokenSource, setup};

use crate::fake::FakeContainer;
use crate::{env, once};

fn quiet(_: &str) {}

async fn get(base: &str, path: &str, token: &str) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .get(format!("{base}/gitlab/api/v4{path}"))
        .header("PRIVATE-TOKEN", token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

#[tokio::test]
async fn the_stand_in_refuses_admin_endpoints_to_a_token_without_the_admin_mode_scope() {
    let e = env().await;
    e.fake.0.lock().unwrap().admin_mode = true;
    let api_only = e.fake.runner_token(&["api".to_owned()]);
    let base = e.server.uri();
    let (status, body) = get(&base, "/applications", &api_only).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (403, Some("403 Forbidden"))
    );
    // Still root, and still shown as an admin.
    let (status, me) = get(&base, "/user", &api_only).await;
    assert_eq!((status, me["is_admin"].as_bool()), (200, Some(true)));
    let full = e
        .fake
        .runner_token(&["api".to_owned(), "admin_mode".to_owned()]);
    assert_eq!(get(&base, "/applications", &full).await.0, 200);
    // Admin Mode off: the scope does not matter.
    e.fake.0.lock().unwrap().admin_mode = false;
    let api_only = e.fake.runner_token(&["api".to_owned()]);
    assert_eq!(get(&base, "/applications", &api_only).await.0, 200);
}

#[tokio::test]
async fn with_admin_mode_on_the_runners_root_token_installs() {
    assert!(ROOT_TOKEN_SCOPES.contains(&"admin_mode"));
    let e = env().await;
    e.fake.0.lock().unwrap().admin_mode = true;
    let c = FakeContainer::new(&e.fake);
    let r = setup(&e.gl, &c, &once(), &quiet).await.unwrap();
    assert_eq!(r.token, TokenSource::RailsRunner);
    assert_eq!(e.fake.app_names().len(), 2);
}

#[tokio::test]
async fn with_admin_mode_on_the_password_grant_asks_for_the_admin_mode_scope() {
    let e = env().await;
    e.fake.0.lock().unwrap().admin_mode = true;
    let mut c = FakeContainer::new(&e.fake);
    c.token_script_fails = true;
    let r = setup(&e.gl, &c, &once(), &quiet).await.unwrap();
    assert_eq!(r.token, TokenSource::PasswordGrant);
    assert_eq!(e.fake.app_names().len(), 2);
    // The token it made for the next runs carries the scope too.
    let s = e.fake.0.lock().unwrap();
    let t = s
        .tokens
        .iter()
        .find(|t| t.name == "dtaas-services" && !t.revoked)
        .unwrap();
    assert_eq!(t.scopes, ["api", "admin_mode"]);
}

#[tokio::test]
async fn a_stored_root_token_without_the_admin_mode_scope_is_replaced_by_the_install() {
    let e = env().await;
    e.fake.0.lock().unwrap().admin_mode = true;
    // A token made before the scope was asked for, stored by an earlier install.
    let old = e.fake.runner_token(&["api".to_owned()]);
    e.store
        .set(
            password_store::GITLAB_ROOT_PAT,
            &secrecy::SecretString::from(old.clone()),
        )
        .await
        .unwrap();
    let c = FakeContainer::new(&e.fake);
    let r = setup(&e.gl, &c, &once(), &quiet).await.unwrap();
    assert_eq!(r.token, TokenSource::RailsRunner);
    let s = e.fake.0.lock().unwrap();
    let revoked: Vec<_> = s
        .tokens
        .iter()
        .filter(|t| t.revoked)
        .map(|t| t.value.clone())
        .collect();
    assert_eq!(revoked, [old]);
}
