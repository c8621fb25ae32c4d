use std::time::Duration;

use password_store::{
    GITLAB_CLIENT_APP, GITLAB_ROOT_CURRENT_PASSWORD, GITLAB_ROOT_PAT, GITLAB_SERVER_APP,
};
use secrecy::{ExposeSecret, SecretString};
use services_gitlab::{AppAction, InstallOptions, Readiness, TokenSource, setup};

use crate::fake::FakeContainer;
use crate::{count, env, log_from, once};

fn quiet(_: &str) {}

fn redact_dates(s: &str) -> String {
    let re_date = |line: &str| {
        line.find("\"expires_at\":\"").map_or(line.to_owned(), |i| {
            let start = i + "\"expires_at\":\"".len();
            format!("{}YYYY-MM-DD{}", &line[..start], &line[start + 10..])
        })
    };
    s.lines().map(re_date).collect::<Vec<_>>().join("\n")
}

#[tokio::test]
async fn fresh_install_uses_the_runner_and_creates_apps_once() {
    let e = env().await;
    let c = FakeContainer::new(&e.fake);
    let r = setup(&e.gl, &c, &once(), &quiet).await.unwrap();
    assert_eq!(r.token, TokenSource::RailsRunner);
    assert_eq!(
        (r.server_app, r.client_app),
        (AppAction::Created, AppAction::Created)
    );
    insta::assert_snapshot!(log_from(&e.server, 0).await, @r#"
    GET /gitlab/api/v4/applications [PRIVATE-TOKEN glpat-runner-101]
    POST /gitlab/api/v4/applications [PRIVATE-TOKEN glpat-runner-101] {"confidential":true,"name":"DTaaS Server Authorization","redirect_uri":"https://intocps.org/_oauth","scopes":"read_user"}
    GET /gitlab/api/v4/applications [PRIVATE-TOKEN glpat-runner-101]
    POST /gitlab/api/v4/applications [PRIVATE-TOKEN glpat-runner-101] {"confidential":false,"name":"DTaaS Client Authorization","redirect_uri":"https://intocps.org/Library","scopes":"api openid profile read_repository read_user"}
    GET /gitlab/api/v4/users/1 [PRIVATE-TOKEN glpat-runner-101]
    PUT /gitlab/api/v4/users/1 [PRIVATE-TOKEN glpat-runner-101] {"password":"Root-Final-1","skip_reconfirmation":true}
    "#);
    // The runner got its scripts on STDIN, nothing secret in argv: the token, then the
    // applications' trusted flag (ids in the environment).
    let execs = c.execs.lock().unwrap().clone();
    assert_eq!(execs.len(), 2);
    assert_eq!(execs[0].cmd, vec!["gitlab-rails", "runner", "-"]);
    assert!(execs[0].env.is_empty());
    let script = String::from_utf8(execs[0].stdin.clone().unwrap()).unwrap();
    assert!(script.contains("personal_access_tokens") && script.contains("DTAAS_TOKEN="));
    assert_eq!(execs[1].cmd, vec!["gitlab-rails", "runner", "-"]);
    assert_eq!(execs[1].env, vec!["DTAAS_APP_TRUST=103=true,105=true"]);
    assert_eq!(
        execs[1].stdin.as_deref(),
        Some(services_gitlab::TRUST_SCRIPT.as_bytes())
    );
    assert_eq!(
        e.fake.app_trust(),
        vec![
            ("DTaaS Server Authorization".to_owned(), true),
            ("DTaaS Client Authorization".to_owned(), true)
        ]
    );
    // Stored: token, apps, the final root password; not the initial one.
    let pat = e.store.get(GITLAB_ROOT_PAT).await.unwrap().unwrap();
    assert!(pat.expose_secret().starts_with("glpat-runner-"));
    let server = e
        .store
        .get_oauth_app(GITLAB_SERVER_APP)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(server.name, "DTaaS Server Authorization");
    assert!(server.client_secret.expose_secret().starts_with("gloas-"));
    assert!(
        e.store
            .get_oauth_app(GITLAB_CLIENT_APP)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        e.store
            .get(GITLAB_ROOT_CURRENT_PASSWORD)
            .await
            .unwrap()
            .unwrap()
            .expose_secret(),
        "Root-Final-1"
    );
    assert_eq!(e.fake.password("root"), "Root-Final-1");
    let names: Vec<String> = e
        .store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    insta::assert_snapshot!(names.join("\n"), @"
    GITLAB_CLIENT_APP
    GITLAB_ROOT_CURRENT_PASSWORD
    GITLAB_ROOT_PAT
    GITLAB_SERVER_APP
    ");
}

#[tokio::test]
async fn a_second_install_creates_nothing_new() {
    let e = env().await;
    let c = FakeContainer::new(&e.fake);
    setup(&e.gl, &c, &once(), &quiet).await.unwrap();
    let n = count(&e.server).await;
    let r = setup(&e.gl, &c, &once(), &quiet).await.unwrap();
    assert_eq!(r.token, TokenSource::Stored);
    assert_eq!(
        (r.server_app, r.client_app),
        (AppAction::Unchanged, AppAction::Unchanged)
    );
    assert_eq!(e.fake.app_names().len(), 2);
    assert_eq!(e.fake.active_tokens(1), vec!["dtaas-services"]);
    let token_runs = c
        .execs
        .lock()
        .unwrap()
        .iter()
        .filter(|x| {
            String::from_utf8_lossy(x.stdin.as_deref().unwrap_or_default()).contains("DTAAS_TOKEN")
        })
        .count();
    assert_eq!(token_runs, 1, "the token runner is not run again");
    insta::assert_snapshot!(log_from(&e.server, n).await, @r#"
    GET /gitlab/api/v4/user [PRIVATE-TOKEN glpat-runner-101]
    GET /gitlab/api/v4/applications [PRIVATE-TOKEN glpat-runner-101]
    GET /gitlab/api/v4/applications [PRIVATE-TOKEN glpat-runner-101]
    GET /gitlab/api/v4/users/1 [PRIVATE-TOKEN glpat-runner-101]
    PUT /gitlab/api/v4/users/1 [PRIVATE-TOKEN glpat-runner-101] {"password":"Root-Final-1","skip_reconfirmation":true}
    "#);
}

#[tokio::test]
async fn without_the_runner_the_password_grant_bootstraps_the_token() {
    let e = env().await;
    let mut c = FakeContainer::new(&e.fake);
    c.token_script_fails = true;
    // An earlier token of ours that we no longer hold is revoked.
    e.fake.runner_token();
    let r = setup(&e.gl, &c, &once(), &quiet).await.unwrap();
    assert_eq!(r.token, TokenSource::PasswordGrant);
    insta::assert_snapshot!(redact_dates(&log_from(&e.server, 0).await), @r#"
    POST /gitlab/oauth/token grant_type=password&username=root&password=Root-Final-1
    POST /gitlab/oauth/token grant_type=password&username=root&password=Initial-Root-Pw
    GET /gitlab/api/v4/personal_access_tokens?user_id=1&state=active&per_page=100&page=1 [Bearer oauth-103]
    DELETE /gitlab/api/v4/personal_access_tokens/101 [Bearer oauth-103]
    GET /gitlab/api/v4/users/1 [Bearer oauth-103]
    POST /gitlab/api/v4/users/1/personal_access_tokens [Bearer oauth-103] {"expires_at":"YYYY-MM-DD","name":"dtaas-services","scopes":["api"]}
    GET /gitlab/api/v4/applications [PRIVATE-TOKEN glpat-107]
    POST /gitlab/api/v4/applications [PRIVATE-TOKEN glpat-107] {"confidential":true,"name":"DTaaS Server Authorization","redirect_uri":"https://intocps.org/_oauth","scopes":"read_user"}
    GET /gitlab/api/v4/applications [PRIVATE-TOKEN glpat-107]
    POST /gitlab/api/v4/applications [PRIVATE-TOKEN glpat-107] {"confidential":false,"name":"DTaaS Client Authorization","redirect_uri":"https://intocps.org/Library","scopes":"api openid profile read_repository read_user"}
    GET /gitlab/api/v4/users/1 [PRIVATE-TOKEN glpat-107]
    PUT /gitlab/api/v4/users/1 [PRIVATE-TOKEN glpat-107] {"password":"Root-Final-1","skip_reconfirmation":true}
    "#);
    assert_eq!(e.fake.active_tokens(1), vec!["dtaas-services"]);
    // The initial password was only read, never stored.
    for s in e.store.list().await.unwrap() {
        let v = e.store.get(&s.name).await.unwrap();
        assert!(
            v.is_none_or(|v| v.expose_secret() != "Initial-Root-Pw"),
            "{}",
            s.name
        );
    }
}

#[tokio::test]
async fn no_runner_and_no_password_grant_is_a_clear_error() {
    let e = env().await;
    let mut c = FakeContainer::new(&e.fake);
    c.runner_works = false;
    e.fake.0.lock().unwrap().ropc = false;
    let err = setup(&e.gl, &c, &once(), &quiet).await.unwrap_err();
    insta::assert_snapshot!(err, @"GitLab: cannot obtain an admin token: gitlab-rails runner: exited with code 1 without a token NameError: undefined method; password grant: this GitLab no longer offers the password grant");
    assert!(e.fake.app_names().is_empty());
}

/// gitlabhq v18.10.1 config/initializers/doorkeeper.rb: with the application setting
/// `ropc_without_client_credentials` off, a password grant without client credentials is
/// `invalid_client` (401): that is not root refusing its passwords, and the error says so.
#[tokio::test]
async fn a_password_grant_that_needs_client_credentials_is_named() {
    let e = env().await;
    let mut c = FakeContainer::new(&e.fake);
    c.runner_works = false;
    e.fake.0.lock().unwrap().ropc_without_client_credentials = false;
    let err = setup(&e.gl, &c, &once(), &quiet).await.unwrap_err();
    insta::assert_snapshot!(err, @"GitLab: cannot obtain an admin token: gitlab-rails runner: exited with code 1 without a token NameError: undefined method; password grant: this GitLab takes the password grant only with an OAuth application's client credentials (admin setting ropc_without_client_credentials is off)");
    assert!(e.fake.app_names().is_empty());
}

#[tokio::test]
async fn not_ready_exits_with_the_hint_or_waits() {
    let e = env().await;
    let c = FakeContainer::new(&e.fake);
    *c.readiness.lock().unwrap() =
        vec![Readiness::Starting, Readiness::Starting, Readiness::Healthy];
    let err = setup(&e.gl, &c, &once(), &quiet).await.unwrap_err();
    assert!(err.is_not_ready());
    insta::assert_snapshot!(err, @"
    GitLab is starting.
    GitLab is not ready yet. It typically takes 5-10 minutes after first start.
    Next steps: 1. Check health: dtaas-services service status -s gitlab (it shows 'starting' while it is initializing). 2. When it is healthy, re-run: dtaas-services service install -s gitlab (or wait for it: --wait --timeout 15m)
    ");
    assert_eq!(count(&e.server).await, 0);
    let wait = InstallOptions {
        wait: Some(Duration::from_secs(60)),
        poll: Duration::from_millis(1),
    };
    setup(&e.gl, &c, &wait, &quiet).await.unwrap();
}

#[tokio::test]
async fn apps_are_reused_renewed_or_replaced_never_duplicated() {
    let e = env().await;
    let c = FakeContainer::new(&e.fake);
    setup(&e.gl, &c, &once(), &quiet).await.unwrap();
    // Secret lost from the store: renewed, same application.
    e.store.remove(GITLAB_CLIENT_APP).await.unwrap();
    let r = setup(&e.gl, &c, &once(), &quiet).await.unwrap();
    assert_eq!(
        (r.server_app, r.client_app),
        (AppAction::Unchanged, AppAction::SecretRenewed)
    );
    let client = e
        .store
        .get_oauth_app(GITLAB_CLIENT_APP)
        .await
        .unwrap()
        .unwrap();
    assert!(
        client
            .client_secret
            .expose_secret()
            .starts_with("gloas-renewed-")
    );
    // Redirect URI changed in the file: replaced.
    let text = crate::APPS.replace("https://intocps.org/_oauth", "https://new.example/_oauth");
    std::fs::write(e.dir.path().join("gitlab_oauth.json"), text).unwrap();
    let n = count(&e.server).await;
    let r = setup(&e.gl, &c, &once(), &quiet).await.unwrap();
    assert_eq!(r.server_app, AppAction::Replaced);
    assert!(
        e.fake.app_trust().iter().all(|(_, t)| *t),
        "the new app is trusted too"
    );
    insta::assert_snapshot!(log_from(&e.server, n).await, @r#"
    GET /gitlab/api/v4/user [PRIVATE-TOKEN glpat-runner-101]
    GET /gitlab/api/v4/applications [PRIVATE-TOKEN glpat-runner-101]
    DELETE /gitlab/api/v4/applications/103 [PRIVATE-TOKEN glpat-runner-101]
    POST /gitlab/api/v4/applications [PRIVATE-TOKEN glpat-runner-101] {"confidential":true,"name":"DTaaS Server Authorization","redirect_uri":"https://new.example/_oauth","scopes":"read_user"}
    GET /gitlab/api/v4/applications [PRIVATE-TOKEN glpat-runner-101]
    GET /gitlab/api/v4/users/1 [PRIVATE-TOKEN glpat-runner-101]
    PUT /gitlab/api/v4/users/1 [PRIVATE-TOKEN glpat-runner-101] {"password":"Root-Final-1","skip_reconfirmation":true}
    "#);
    assert_eq!(e.fake.app_names().len(), 2);
}

#[tokio::test]
async fn a_failure_half_way_is_finished_by_a_rerun() {
    let e = env().await;
    let c = FakeContainer::new(&e.fake);
    // The token and the server app are made, then the client app fails (a 502 to a POST is
    // not retried: the application may have been created).
    let first = async {
        let apps = services_gitlab::read_oauth_apps(&e.gl.config().oauth_file).unwrap();
        let (auth, _) = e.gl.bootstrap_admin(&c).await.unwrap();
        e.gl.ensure_app(&auth, &apps.server, GITLAB_SERVER_APP)
            .await
            .unwrap();
        e.fake.fail("POST", "/api/v4/applications", 502, 1);
        e.gl.ensure_app(&auth, &apps.client, GITLAB_CLIENT_APP)
            .await
    }
    .await;
    let err = first.unwrap_err();
    assert!(err.to_string().contains("HTTP 502"), "{err}");
    assert!(e.store.get(GITLAB_ROOT_PAT).await.unwrap().is_some());
    assert!(
        e.store
            .get_oauth_app(GITLAB_SERVER_APP)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        e.store
            .get_oauth_app(GITLAB_CLIENT_APP)
            .await
            .unwrap()
            .is_none()
    );
    let r = setup(&e.gl, &c, &once(), &quiet).await.unwrap();
    assert_eq!(r.token, TokenSource::Stored);
    assert_eq!(
        (r.server_app, r.client_app),
        (AppAction::Unchanged, AppAction::Created)
    );
    assert_eq!(e.fake.app_names().len(), 2);
}

#[tokio::test]
async fn reset_password_uses_the_stored_token() {
    let e = env().await;
    let err = e.gl.reset_root_password().await.unwrap_err();
    insta::assert_snapshot!(err, @"GitLab: cannot obtain an admin token: no working admin token is stored; run: dtaas-services service install -s gitlab");
    let c = FakeContainer::new(&e.fake);
    setup(&e.gl, &c, &once(), &quiet).await.unwrap();
    e.fake.0.lock().unwrap().users[0].password = "changed-by-hand".into();
    let n = count(&e.server).await;
    // 5xx is retried; the password is set and stored.
    e.fake.fail("PUT", "/api/v4/users/1", 502, 2);
    e.gl.reset_root_password().await.unwrap();
    insta::assert_snapshot!(log_from(&e.server, n).await, @r#"
    GET /gitlab/api/v4/user [PRIVATE-TOKEN glpat-runner-101]
    GET /gitlab/api/v4/users/1 [PRIVATE-TOKEN glpat-runner-101]
    PUT /gitlab/api/v4/users/1 [PRIVATE-TOKEN glpat-runner-101] {"password":"Root-Final-1","skip_reconfirmation":true}
    PUT /gitlab/api/v4/users/1 [PRIVATE-TOKEN glpat-runner-101] {"password":"Root-Final-1","skip_reconfirmation":true}
    PUT /gitlab/api/v4/users/1 [PRIVATE-TOKEN glpat-runner-101] {"password":"Root-Final-1","skip_reconfirmation":true}
    "#);
    assert_eq!(e.fake.password("root"), "Root-Final-1");
    // 4xx is not retried.
    let n = count(&e.server).await;
    e.fake.fail("PUT", "/api/v4/users/1", 400, 1);
    let err = e.gl.reset_root_password().await.unwrap_err();
    insta::assert_snapshot!(err, @"GitLab: setting the password failed with HTTP 400: injected failure");
    let log = log_from(&e.server, n).await;
    assert_eq!(
        log.lines().filter(|l| l.starts_with("PUT")).count(),
        1,
        "{log}"
    );
    // A stored token that GitLab refuses gives a clear error, and a rerun after install works.
    e.store
        .set(GITLAB_ROOT_PAT, &SecretString::from("glpat-revoked"))
        .await
        .unwrap();
    assert!(e.gl.reset_root_password().await.is_err());
}

/// gitlabhq v18.10.1 lib/api/applications.rb: `POST /applications` takes no `trusted`; the
/// install sets it through the runner and reads it back.
#[tokio::test]
async fn the_api_ignores_trusted_so_the_install_sets_and_checks_it() {
    let e = env().await;
    let c = FakeContainer::new(&e.fake);
    let (auth, _) = e.gl.bootstrap_admin(&c).await.unwrap();
    let apps = services_gitlab::read_oauth_apps(&e.gl.config().oauth_file).unwrap();
    assert!(apps.server.trusted);
    e.gl.client()
        .create_application(&auth, &apps.server)
        .await
        .unwrap();
    assert_eq!(
        e.fake.app_trust(),
        vec![("DTaaS Server Authorization".to_owned(), false)],
        "the stand-in, like GitLab, ignores trusted on POST"
    );
    setup(&e.gl, &c, &once(), &quiet).await.unwrap();
    assert_eq!(
        e.fake.app_trust(),
        vec![
            ("DTaaS Server Authorization".to_owned(), true),
            ("DTaaS Client Authorization".to_owned(), true)
        ]
    );
    // A flag in the file turned off is turned off in GitLab.
    let text = crate::APPS.replacen("\"trusted\": true", "\"trusted\": false", 1);
    std::fs::write(e.dir.path().join("gitlab_oauth.json"), text).unwrap();
    setup(&e.gl, &c, &once(), &quiet).await.unwrap();
    assert_eq!(
        e.fake.app_trust(),
        vec![
            ("DTaaS Server Authorization".to_owned(), false),
            ("DTaaS Client Authorization".to_owned(), true)
        ]
    );
}

#[tokio::test]
async fn an_untrusted_result_fails_the_install() {
    let e = env().await;
    let mut c = FakeContainer::new(&e.fake);
    c.tamper = Some(|out| out.replace("=true", "=false"));
    let err = setup(&e.gl, &c, &once(), &quiet).await.unwrap_err();
    insta::assert_snapshot!(err, @"GitLab: setting the OAuth applications' trusted flag through gitlab-rails runner failed: application 103 has trusted=false, expected true");
    // A runner that cannot run the script is an error too, not a silent success.
    let mut c = FakeContainer::new(&e.fake);
    c.runner_works = false;
    let err = setup(&e.gl, &c, &once(), &quiet).await.unwrap_err();
    insta::assert_snapshot!(err, @"GitLab: setting the OAuth applications' trusted flag through gitlab-rails runner failed: exited with code 1 NameError: undefined method");
}

/// The fake runner applies only statements that have the upstream effect: a script that
/// sets the flag without saving it changes nothing and fails.
#[tokio::test]
async fn the_fake_runner_refuses_a_script_that_does_not_save() {
    let e = env().await;
    let c = FakeContainer::new(&e.fake);
    setup(&e.gl, &c, &once(), &quiet).await.unwrap();
    let wrong = services_gitlab::TRUST_SCRIPT.replace(
        "app.update!(trusted: want == 'true') unless app.trusted == (want == 'true')",
        "app.trusted = (want == 'true')",
    );
    let out = e
        .fake
        .rails_runner(&wrong, &["DTAAS_APP_TRUST=103=false".to_owned()]);
    assert_eq!(out.exit_code, 1);
    assert!(e.fake.app_trust()[0].1, "unchanged");
}
