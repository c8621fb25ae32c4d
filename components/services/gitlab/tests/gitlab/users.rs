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

/// The stored token of `user`, as that user's own credential.
async fn user_token(e: &crate::Env, user: &str) -> Auth {
    Auth::UserPat {
        user: user.to_owned(),
        token: SecretString::from(pat(e, user).await.unwrap()),
    }
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
    assert!(p.finish_users().await.is_empty());
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

/// gitlabhq v18.10.1 app/models/personal_access_token.rb: `expires_at` at most
/// `Date.current` + 365 days, in the instance's time zone. On an instance whose today is
/// still yesterday in UTC, the users' tokens are made all the same, and a date past the
/// maximum is refused as GitLab refuses it.
#[tokio::test]
async fn tokens_stay_within_gitlabs_maximum_lifetime_in_any_time_zone() {
    let e = installed().await;
    e.fake.0.lock().unwrap().today_offset_days = -1;
    let (p, _) = provisioner(&e);
    let u = spec("user1", "User1-pass-long", PasswordState::Unknown);
    assert_eq!(p.ensure_user(&u).await.unwrap(), Outcome::Created);
    assert!(pat(&e, "user1").await.is_some());

    let admin = e.gl.admin().await.unwrap();
    let today = time::OffsetDateTime::now_utc().date();
    let late = (today + time::Duration::days(365)).to_string();
    let max = today + time::Duration::days(364);
    let err =
        e.gl.client()
            .create_token(&admin, 1, "probe", &["api"], &late)
            .await
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "GitLab: creating an access token failed with HTTP 422: Expires at must be before {max}"
        )
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
    let token = user_token(&e, "user1").await;
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
    insta::assert_snapshot!(err, @"GitLab: refused user user1's own token: checking the token: HTTP 403: 403 Forbidden - Your password expired. Please access GitLab from a web browser to update your password.");
    assert!(e.fake.password_expired("user1"));
}

/// A refusal names the credential that was refused: a user's own token is not "the admin
/// credentials", and the admin's token still is.
#[tokio::test]
async fn a_refusal_names_whose_credential_was_refused() {
    let e = installed().await;
    let (p, _) = provisioner(&e);
    let u = spec("user1", "User1-pass-long", PasswordState::Unknown);
    assert_eq!(p.ensure_user(&u).await.unwrap(), Outcome::Created);
    // A user's own token on an admin-only route (lib/api/applications.rb
    // `authenticated_as_admin!`): 403.
    let token = user_token(&e, "user1").await;
    let err = e.gl.client().list_applications(&token).await.unwrap_err();
    insta::assert_snapshot!(err, @"GitLab: refused user user1's own token: listing OAuth applications: HTTP 403: 403 Forbidden");

    // The admin's token refused (root's password expired): the admin credentials.
    let admin = e.gl.admin().await.unwrap();
    e.fake.0.lock().unwrap().users[0].password_expired = true;
    let err = e.gl.client().list_applications(&admin).await.unwrap_err();
    insta::assert_snapshot!(err, @"GitLab refused the admin credentials: listing OAuth applications: HTTP 403: 403 Forbidden - Your password expired. Please access GitLab from a web browser to update your password.");
}

fn user_id(e: &crate::Env, name: &str) -> u64 {
    let s = e.fake.0.lock().unwrap();
    s.users.iter().find(|u| u.username == name).unwrap().id
}

/// Every changed password of a run is un-expired by ONE `gitlab-rails runner` (each boots
/// Rails), after the run's `ensure_user`s: N users, one exec, every token working at once.
#[tokio::test]
async fn a_changed_password_leaves_the_token_working() {
    let e = installed().await;
    let (p, c) = provisioner(&e);
    let names = ["user1", "user2", "user3", "user4"];
    for name in names {
        let u = spec(name, "First-pass-long", PasswordState::Unknown);
        assert_eq!(p.ensure_user(&u).await.unwrap(), Outcome::Created);
    }
    assert!(p.finish_users().await.is_empty());
    let execs_before = c.execs.lock().unwrap().len();
    assert_eq!(execs_before, 0, "created users get no runner");
    for name in &names[..3] {
        let changed = spec(name, &format!("{name}-new-pass"), PasswordState::Changed);
        assert_eq!(p.ensure_user(&changed).await.unwrap(), Outcome::Updated);
    }
    let same = spec("user4", "First-pass-long", PasswordState::Same);
    assert_eq!(p.ensure_user(&same).await.unwrap(), Outcome::Unchanged);
    assert!(e.fake.password_expired("user1"), "GitLab expired it");
    assert!(c.execs.lock().unwrap().is_empty(), "no runner per user");
    let failed = p.finish_users().await;
    assert!(failed.is_empty(), "{failed:?}");

    // The new passwords are set, not expired, and the stored tokens work at once.
    for name in &names[..3] {
        assert_eq!(e.fake.password(name), format!("{name}-new-pass"));
        assert!(!e.fake.password_expired(name));
        let me = e.gl.client().whoami(&user_token(&e, name).await).await;
        assert_eq!(me.unwrap().unwrap().username, *name);
    }

    // One runner: the expiry script on STDIN, the users' ids in its environment, no secret
    // anywhere in the exec.
    let execs = c.execs.lock().unwrap().clone();
    assert_eq!(execs.len(), 1);
    assert_eq!(execs[0].cmd, ["gitlab-rails", "runner", "-"]);
    let ids: Vec<String> = names[..3]
        .iter()
        .map(|n| user_id(&e, n).to_string())
        .collect();
    assert_eq!(execs[0].env, [format!("DTAAS_USER_IDS={}", ids.join(","))]);
    let script = String::from_utf8(execs[0].stdin.clone().unwrap()).unwrap();
    assert_eq!(script, services_gitlab::CLEAR_EXPIRY_SCRIPT);
    assert!(!format!("{:?}{}", execs[0], script).contains("-new-pass"));

    // The batch is drained: a second finish runs nothing.
    assert!(p.finish_users().await.is_empty());
    assert_eq!(c.execs.lock().unwrap().len(), 1);
}

/// The read-back is checked per user: a user whose id has no result line fails, named.
#[tokio::test]
async fn a_user_missing_from_the_read_back_fails_by_name() {
    let e = installed().await;
    let (p, _) = provisioner(&e);
    for name in ["user1", "user2"] {
        let u = spec(name, "First-pass-long", PasswordState::Unknown);
        assert_eq!(p.ensure_user(&u).await.unwrap(), Outcome::Created);
    }
    let mut c = FakeContainer::new(&e.fake);
    c.tamper = Some(|out| {
        // Drop the second result line (user2's: ids are listed in the order of the run).
        out.lines().take(1).map(|l| format!("{l}\n")).collect()
    });
    let p = GitLabProvisioner::new(e.gl.clone()).with_container(Arc::new(c));
    for name in ["user1", "user2"] {
        let changed = spec(name, "Second-pass-long", PasswordState::Changed);
        assert_eq!(p.ensure_user(&changed).await.unwrap(), Outcome::Updated);
    }
    let failed: Vec<(String, String)> = p
        .finish_users()
        .await
        .into_iter()
        .map(|(n, e)| (n, e.to_string()))
        .collect();
    let id = user_id(&e, "user2");
    assert_eq!(
        failed,
        [(
            "user2".to_owned(),
            format!(
                "GitLab: clearing the password expiry of user user2 (id {id}) through gitlab-rails runner failed: the runner printed no result for this user"
            )
        )]
    );
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
    assert_eq!(p.ensure_user(&changed).await.unwrap(), Outcome::Updated);
    let failed = p.finish_users().await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, "user1");
    let err = failed[0].1.to_string();
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
        .rails_runner(&wrong, &[format!("DTAAS_USER_IDS={id}")]);
    assert_eq!(out.exit_code, 1);
    assert!(e.fake.password_expired("user1"));
    // And the right script with the ids missing from its environment fails as Ruby's
    // ENV.fetch does.
    let out = e
        .fake
        .rails_runner(services_gitlab::CLEAR_EXPIRY_SCRIPT, &[]);
    assert_eq!(out.exit_code, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("KeyError"));
}
