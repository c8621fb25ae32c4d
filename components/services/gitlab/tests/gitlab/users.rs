//! Upstream: the stand-in reproduces github.com/gitlabhq/gitlabhq v18.10.1 (lib/api/users.rb,
//! lib/api/applications.rb, app/policies/global_policy.rb, app/controllers/health_controller.rb;
//! each behaviour cited in fake.rs, every row in docs/upstream-contracts.md).

use std::sync::Arc;

use password_store::gitlab_user_pat;
use secrecy::{ExposeSecret, SecretString};
use services_common::{Outcome, PasswordState, Provisioner, Removal, UserSpec};
use services_gitlab::{Auth, GitLabProvisioner, setup};

use crate::fake::FakeContainer;
use crate::{count, env, log_from, once};

fn spec(name: &str, pw: &str, state: PasswordState) -> UserSpec {
    UserSpec {
        name: name.into(),
        password: SecretString::from(pw.to_owned()),
        email: Some(format!("{name}@example.org")),
        password_state: state,
    }
}

fn quiet(_: &str) {}

async fn installed() -> crate::Env {
    let e = env().await;
    let c = FakeContainer::new(&e.fake);
    setup(&e.gl, &c, &once(), &quiet).await.unwrap();
    e
}

/// The provisioner with the fake container (its `gitlab-rails runner`).
fn provisioner(e: &crate::Env) -> (GitLabProvisioner, Arc<FakeContainer>) {
    let c = Arc::new(FakeContainer::new(&e.fake));
    let p = GitLabProvisioner::new(e.gl.clone()).with_container(c.clone());
    (p, c)
}

async fn pat(e: &crate::Env, user: &str) -> Option<String> {
    e.store
        .get(&gitlab_user_pat(user))
        .await
        .unwrap()
        .map(|s| s.expose_secret().to_owned())
}

#[tokio::test]
async fn users_and_their_tokens_are_created_once_and_merged() {
    let e = installed().await;
    // A token stored earlier for user2 is kept, never overwritten.
    e.store
        .set(
            &gitlab_user_pat("user2"),
            &SecretString::from("glpat-earlier"),
        )
        .await
        .unwrap();
    let (p, _) = provisioner(&e);
    let n = count(&e.server).await;
    let u1 = spec("user1", "User1-pass-long", PasswordState::Unknown);
    assert_eq!(p.ensure_user(&u1).await.unwrap(), Outcome::Created);
    let log = log_from(&e.server, n).await;
    let log: String = log
        .lines()
        .map(|l| match l.find("\"expires_at\":\"") {
            Some(i) => format!("{}YYYY-MM-DD{}", &l[..i + 14], &l[i + 24..]),
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!(log, @r#"
    GET /gitlab/api/v4/user [PRIVATE-TOKEN glpat-runner-101]
    GET /gitlab/api/v4/users?username=user1 [PRIVATE-TOKEN glpat-runner-101]
    POST /gitlab/api/v4/users [PRIVATE-TOKEN glpat-runner-101] {"email":"user1@example.org","name":"user1","password":"User1-pass-long","skip_confirmation":true,"username":"user1"}
    GET /gitlab/api/v4/personal_access_tokens?user_id=110&state=active&per_page=100&page=1 [PRIVATE-TOKEN glpat-runner-101]
    POST /gitlab/api/v4/users/110/personal_access_tokens [PRIVATE-TOKEN glpat-runner-101] {"expires_at":"YYYY-MM-DD","name":"dtaas","scopes":["api","read_repository","write_repository"]}
    "#);
    let u2 = spec("user2", "User2-pass-long", PasswordState::Unknown);
    assert_eq!(p.ensure_user(&u2).await.unwrap(), Outcome::Created);
    assert!(pat(&e, "user1").await.unwrap().starts_with("glpat-"));
    assert_eq!(pat(&e, "user2").await.as_deref(), Some("glpat-earlier"));

    // Second run: nothing new; a changed password is set.
    let n = count(&e.server).await;
    let (p, _) = provisioner(&e);
    let same = spec("user1", "User1-pass-long", PasswordState::Same);
    assert_eq!(p.ensure_user(&same).await.unwrap(), Outcome::Unchanged);
    let changed = spec("user2", "User2-new-pass", PasswordState::Changed);
    assert_eq!(p.ensure_user(&changed).await.unwrap(), Outcome::Updated);
    let log = log_from(&e.server, n).await;
    assert!(!log.contains("POST /gitlab/api/v4/users "), "{log}");
    assert!(!log.contains("personal_access_tokens"), "{log}");
    assert_eq!(e.fake.password("user2"), "User2-new-pass");
    assert_eq!(e.fake.active_tokens(3).len(), 0);
    assert_eq!(p.list_users().await.unwrap(), vec!["user1", "user2"]);
    assert_eq!(
        p.remove_user("user1", false).await.unwrap(),
        Removal::Removed
    );
    assert_eq!(pat(&e, "user1").await, None);
    assert_eq!(
        p.remove_user("user1", false).await.unwrap(),
        Removal::Absent
    );
}

#[tokio::test]
async fn a_failed_token_is_made_by_the_rerun() {
    let e = installed().await;
    let (p, _) = provisioner(&e);
    let u1 = spec("user1", "User1-pass-long", PasswordState::Unknown);
    e.fake.fail("POST", "/api/v4/users/", 400, 1);
    assert!(p.ensure_user(&u1).await.is_err());
    assert_eq!(pat(&e, "user1").await, None);
    assert_eq!(p.ensure_user(&u1).await.unwrap(), Outcome::Updated);
    assert!(pat(&e, "user1").await.is_some());
}

#[tokio::test]
async fn bad_input_is_refused_before_any_request() {
    let e = installed().await;
    let p = GitLabProvisioner::new(e.gl.clone());
    let n = count(&e.server).await;
    let mut bad = spec("-bad", "x", PasswordState::Unknown);
    insta::assert_snapshot!(p.ensure_user(&bad).await.unwrap_err(), @r#"GitLab: Invalid user input: username "-bad""#);
    bad.name = "ok".into();
    bad.email = Some("no-at.example".into());
    insta::assert_snapshot!(p.ensure_user(&bad).await.unwrap_err(), @"GitLab: Invalid user input: email of ok");
    assert_eq!(count(&e.server).await, n);
}

#[tokio::test]
async fn without_a_stored_token_user_add_says_to_install() {
    let e = env().await;
    let p = GitLabProvisioner::new(e.gl.clone());
    insta::assert_snapshot!(p.probe().await.unwrap_err(), @"GitLab: GitLab: cannot obtain an admin token: no working admin token is stored; run: dtaas-services service install -s gitlab");
}

#[tokio::test]
async fn remove_deletes_and_keep_data_blocks_instead() {
    let e = installed().await;
    let p = GitLabProvisioner::new(e.gl.clone());
    for name in ["keeper", "goner"] {
        let u = spec(name, "Some-pass-long", PasswordState::Unknown);
        assert_eq!(p.ensure_user(&u).await.unwrap(), Outcome::Created);
        assert!(pat(&e, name).await.is_some());
    }

    // --keep-data: blocked, never DELETE /users/:id (that deletes the personal projects).
    let n = count(&e.server).await;
    assert_eq!(
        p.remove_user("keeper", true).await.unwrap(),
        Removal::Blocked
    );
    insta::assert_snapshot!(log_from(&e.server, n).await, @r"
    GET /gitlab/api/v4/users?username=keeper [PRIVATE-TOKEN glpat-runner-101]
    POST /gitlab/api/v4/users/110/block [PRIVATE-TOKEN glpat-runner-101]
    ");
    assert_eq!(
        e.fake.blocked("keeper"),
        Some(true),
        "the account and its projects stay"
    );
    assert_eq!(pat(&e, "keeper").await, None);

    // Without it: deleted (contributions to the ghost user, not hard-deleted).
    let n = count(&e.server).await;
    assert_eq!(
        p.remove_user("goner", false).await.unwrap(),
        Removal::Removed
    );
    insta::assert_snapshot!(log_from(&e.server, n).await, @r"
    GET /gitlab/api/v4/users?username=goner [PRIVATE-TOKEN glpat-runner-101]
    DELETE /gitlab/api/v4/users/114?hard_delete=false [PRIVATE-TOKEN glpat-runner-101]
    ");
    assert_eq!(e.fake.blocked("goner"), None);
    assert_eq!(pat(&e, "goner").await, None);

    // Root is never removed nor blocked.
    let n = count(&e.server).await;
    for keep in [false, true] {
        let err = p.remove_user("root", keep).await.unwrap_err();
        assert!(
            err.to_string().contains("is a GitLab administrator"),
            "{err}"
        );
    }
    let log = log_from(&e.server, n).await;
    assert!(!log.contains("DELETE") && !log.contains("block"), "{log}");
    assert_eq!(e.fake.blocked("root"), Some(false));
}

/// The stand-in reproduces gitlabhq v18.10.1 lib/api/users.rb: an admin's `PUT /users/:id`
/// with a password expires it, and the user's token is refused until the expiry is cleared.
#[tokio::test]
async fn the_stand_in_refuses_a_token_after_an_admin_password_put() {
    let e = installed().await;
    let (p, _) = provisioner(&e);
    let u = spec("user1", "User1-pass-long", PasswordState::Unknown);
    assert_eq!(p.ensure_user(&u).await.unwrap(), Outcome::Created);
    let token = Auth::Pat(SecretString::from(pat(&e, "user1").await.unwrap()));
    assert!(e.gl.client().whoami(&token).await.unwrap().is_some());
    let admin = e.gl.admin().await.unwrap();
    let id = e
        .fake
        .0
        .lock()
        .unwrap()
        .users
        .iter()
        .find(|u| u.username == "user1")
        .unwrap()
        .id;
    e.gl.client()
        .set_password(&admin, id, &SecretString::from("User1-new-pass"))
        .await
        .unwrap();
    let err = e.gl.client().whoami(&token).await.unwrap_err();
    insta::assert_snapshot!(err, @"GitLab refused the admin credentials: checking the token: HTTP 403: 403 Forbidden - Your password expired. Please access GitLab from a web browser to update your password.");
    assert!(e.fake.password_expired("user1"));
}

#[tokio::test]
async fn a_changed_password_leaves_the_token_working() {
    let e = installed().await;
    let (p, c) = provisioner(&e);
    let u = spec("user1", "User1-pass-long", PasswordState::Unknown);
    assert_eq!(p.ensure_user(&u).await.unwrap(), Outcome::Created);
    let execs_before = c.execs.lock().unwrap().len();
    let changed = spec("user1", "User1-new-pass", PasswordState::Changed);
    assert_eq!(p.ensure_user(&changed).await.unwrap(), Outcome::Updated);

    // The new password is set, not expired, and the stored token works at once.
    assert_eq!(e.fake.password("user1"), "User1-new-pass");
    assert!(!e.fake.password_expired("user1"));
    let token = Auth::Pat(SecretString::from(pat(&e, "user1").await.unwrap()));
    let me = e.gl.client().whoami(&token).await.unwrap().unwrap();
    assert_eq!(me.username, "user1");

    // One runner: the expiry script on STDIN, the user's id in its environment, no secret
    // anywhere in the exec.
    let execs = c.execs.lock().unwrap()[execs_before..].to_vec();
    assert_eq!(execs.len(), 1);
    assert_eq!(execs[0].cmd, ["gitlab-rails", "runner", "-"]);
    let id = e
        .fake
        .0
        .lock()
        .unwrap()
        .users
        .iter()
        .find(|u| u.username == "user1")
        .unwrap()
        .id;
    assert_eq!(execs[0].env, [format!("DTAAS_USER_ID={id}")]);
    let script = String::from_utf8(execs[0].stdin.clone().unwrap()).unwrap();
    assert_eq!(script, services_gitlab::CLEAR_EXPIRY_SCRIPT);
    assert!(!format!("{:?}{}", execs[0], script).contains("User1-new-pass"));
}

#[tokio::test]
async fn a_password_change_without_the_container_changes_nothing() {
    let e = installed().await;
    let (p, _) = provisioner(&e);
    let u = spec("user1", "User1-pass-long", PasswordState::Unknown);
    assert_eq!(p.ensure_user(&u).await.unwrap(), Outcome::Created);
    let bare = GitLabProvisioner::new(e.gl.clone());
    let n = count(&e.server).await;
    let changed = spec("user1", "User1-new-pass", PasswordState::Changed);
    let err = bare.ensure_user(&changed).await.unwrap_err();
    assert!(
        err.to_string().contains("needs the GitLab container"),
        "{err}"
    );
    let log = log_from(&e.server, n).await;
    assert!(!log.contains("PUT"), "{log}");
    assert_eq!(e.fake.password("user1"), "User1-pass-long");
}

#[tokio::test]
async fn a_runner_that_does_not_clear_the_expiry_is_an_error() {
    let e = installed().await;
    let (p, _) = provisioner(&e);
    let u = spec("user1", "User1-pass-long", PasswordState::Unknown);
    assert_eq!(p.ensure_user(&u).await.unwrap(), Outcome::Created);
    let mut c = FakeContainer::new(&e.fake);
    c.tamper = Some(|out| out.replace("=false", "=true"));
    let p = GitLabProvisioner::new(e.gl.clone()).with_container(Arc::new(c));
    let changed = spec("user1", "User1-new-pass", PasswordState::Changed);
    let err = p.ensure_user(&changed).await.unwrap_err().to_string();
    assert!(
        err.contains("GitLab still reports the password as expired"),
        "{err}"
    );

    // The fake runner gives no effect to a script that skips GitLab's update service.
    let wrong = services_gitlab::CLEAR_EXPIRY_SCRIPT.replace(
        "result = Users::UpdateService.new(user, user: user, password_expires_at: nil).execute",
        "user.password_expires_at = nil",
    );
    let id = {
        let mut s = e.fake.0.lock().unwrap();
        let u = s.users.iter_mut().find(|u| u.username == "user1").unwrap();
        u.password_expired = true;
        u.id
    };
    let out = e
        .fake
        .rails_runner(&wrong, &[format!("DTAAS_USER_ID={id}")]);
    assert_eq!(out.exit_code, 1);
    assert!(e.fake.password_expired("user1"));
}
