//! What the install and the provisioner change through `gitlab-rails runner -` in the
//! container because the REST API cannot: a script on STDIN, its inputs in the exec
//! environment (never argv), its result as `DTAAS_*=` lines on stdout, checked here.

use docker::ExecSpec;

use crate::GitLabError;
use crate::container::GitLabContainer;

/// Clears the password expiry of the users whose ids `DTAAS_USER_IDS` lists (`12,15`), the
/// way GitLab's own expired-password form does once the user chose a new password
/// (gitlabhq v18.10.1 app/controllers/user_settings/passwords_controller.rb `create`:
/// `Users::UpdateService.new(current_user, user: @user, password_expires_at: nil).execute`;
/// app/services/users/update_service.rb lets a user update itself). Needed because
/// `PUT /users/:id` with a password by an admin for another user sets
/// `password_expires_at = Time.current` (lib/api/users.rb), and while
/// `password_expired_if_applicable?` (app/models/user.rb) holds, GlobalPolicy
/// (app/policies/global_policy.rb) prevents `access_api` and `access_git` for that user.
/// One run for every user of a `user add` (each run boots Rails: tens of seconds); it prints
/// each user's id and whether its password is still expired, read back from the database.
pub const CLEAR_EXPIRY_SCRIPT: &str = r#"
ENV.fetch('DTAAS_USER_IDS').split(',').each do |id|
  user = User.find(Integer(id))
  result = Users::UpdateService.new(user, user: user, password_expires_at: nil).execute
  raise "password expiry not cleared: #{result[:message]}" unless result[:status] == :success
  puts "DTAAS_PASSWORD_EXPIRED=#{user.id}=#{user.reload.password_expired_if_applicable?}"
end
"#;

/// Sets `trusted` of OAuth applications (`DTAAS_APP_TRUST`: `id=true,id=false`) on the
/// model (`Authn::OauthApplication`, GitLab's Doorkeeper application class; plain
/// `Doorkeeper::Application` on images that predate it), as the admin area's application
/// form does (Doorkeeper's `oauth_applications.trusted`;
/// gitlabhq v18.10.1 config/initializers/doorkeeper.rb skips the consent screen when
/// `client.application.trusted?`). `POST /applications` ignores `trusted`
/// (lib/api/applications.rb declares name, redirect_uri, scopes, confidential only) and
/// `GET /applications` does not show it (lib/api/entities/application.rb), so the script
/// prints each application's flag read back from the database.
pub const TRUST_SCRIPT: &str = r#"
ENV.fetch('DTAAS_APP_TRUST').split(',').each do |pair|
  id, want = pair.split('=', 2)
  app = (defined?(Authn::OauthApplication) ? Authn::OauthApplication : Doorkeeper::Application).find(Integer(id))
  app.update!(trusted: want == 'true') unless app.trusted == (want == 'true')
  puts "DTAAS_APP_TRUSTED=#{app.id}=#{app.reload.trusted}"
end
"#;

/// Run `script` with `env`; the `DTAAS_*=` lines of its stdout (name, value) on exit 0, else
/// the exit code and Ruby's error line (the last stderr line that is not a backtrace
/// `from ...` line).
pub(crate) async fn run_script(
    container: &dyn GitLabContainer,
    script: &str,
    env: Vec<String>,
) -> Result<Vec<(String, String)>, String> {
    let spec = ExecSpec {
        cmd: vec!["gitlab-rails".into(), "runner".into(), "-".into()],
        env,
        stdin: Some(script.as_bytes().to_vec()),
        ..ExecSpec::default()
    };
    let out = container.exec(&spec).await.map_err(|e| e.to_string())?;
    if out.exit_code != 0 {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("from "))
            .unwrap_or("");
        return Err(format!("exited with code {} {last}", out.exit_code)
            .trim()
            .to_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.trim().split_once('=')?;
            k.starts_with("DTAAS_")
                .then(|| (k.to_owned(), v.trim().to_owned()))
        })
        .collect())
}

/// Clear the password expiry of every user in `users` (id, username) with one runner, and
/// check each one's result: the users whose expiry is not shown cleared, each with why (a
/// failed run fails them all).
pub(crate) async fn clear_password_expiry(
    container: &dyn GitLabContainer,
    users: &[(u64, String)],
) -> Vec<(String, GitLabError)> {
    if users.is_empty() {
        return Vec::new();
    }
    let fail = |id: u64, name: &str, detail: String| GitLabError::Runner {
        action: format!("clearing the password expiry of user {name} (id {id})"),
        detail,
    };
    let ids: Vec<String> = users.iter().map(|(id, _)| id.to_string()).collect();
    let env = vec![format!("DTAAS_USER_IDS={}", ids.join(","))];
    let out = match run_script(container, CLEAR_EXPIRY_SCRIPT, env).await {
        Ok(out) => out,
        Err(detail) => {
            return users
                .iter()
                .map(|(id, name)| (name.clone(), fail(*id, name, detail.clone())))
                .collect();
        }
    };
    let mut failed = Vec::new();
    for (id, name) in users {
        let got = out
            .iter()
            .filter(|(k, _)| k == "DTAAS_PASSWORD_EXPIRED")
            .find_map(|(_, v)| {
                let (i, expired) = v.split_once('=')?;
                (i == id.to_string()).then_some(expired)
            });
        let detail = match got {
            Some("false") => continue,
            Some(_) => "GitLab still reports the password as expired",
            None => "the runner printed no result for this user",
        };
        failed.push((name.clone(), fail(*id, name, detail.into())));
    }
    failed
}

/// Set the `trusted` flag of each application (by id) and check what GitLab stored.
///
/// # Errors
/// [`GitLabError::Runner`] when the runner fails or an application's flag differs.
pub(crate) async fn apply_trust(
    container: &dyn GitLabContainer,
    apps: &[(u64, bool)],
) -> Result<(), GitLabError> {
    let fail = |detail: String| GitLabError::Runner {
        action: "setting the OAuth applications' trusted flag".into(),
        detail,
    };
    let pairs: Vec<String> = apps.iter().map(|(id, t)| format!("{id}={t}")).collect();
    let out = run_script(
        container,
        TRUST_SCRIPT,
        vec![format!("DTAAS_APP_TRUST={}", pairs.join(","))],
    )
    .await
    .map_err(fail)?;
    for (id, want) in apps {
        let got = out
            .iter()
            .filter(|(k, _)| k == "DTAAS_APP_TRUSTED")
            .find_map(|(_, v)| {
                let (i, t) = v.split_once('=')?;
                (i == id.to_string()).then_some(t)
            });
        match got {
            Some(t) if t == want.to_string() => {}
            Some(t) => {
                return Err(fail(format!(
                    "application {id} has trusted={t}, expected {want}"
                )));
            }
            None => return Err(fail(format!("no result for application {id}"))),
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "runner_tests.rs"]
mod tests;
