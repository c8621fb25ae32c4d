//! `user add -s gitlab` as a [`Provisioner`]: users created or their password updated,
//! their PATs merged into the password store (an existing stored token is never
//! overwritten, a rerun never loses one).
//!
//! A changed password is set with `PUT /users/:id` (GitLab's password rules and messages),
//! which by an admin for another user also sets `password_expires_at` to now (gitlabhq
//! v18.10.1 lib/api/users.rb): from then on GlobalPolicy refuses that user's tokens for API
//! and git until the expiry is cleared. [`Provisioner::finish_users`] clears it for every
//! user of the run whose password was set, with ONE `gitlab-rails runner`
//! ([`crate::CLEAR_EXPIRY_SCRIPT`]; each run boots Rails, tens of seconds), and checks each
//! user's result: a user whose expiry is not shown cleared fails its row, so its password
//! is not recorded and the next run sets it (and clears it) again.

use std::sync::Arc;

use catalog::Service;
use password_store::gitlab_user_pat;
use services_common::{
    BoxFuture, Claim, Existing, NameRule, Outcome, PasswordState, ProvisionError, Provisioner,
    Removal, Reserved, UserSpec,
};
use tokio::sync::OnceCell;

use crate::admin::{GitLab, SERVICE, to_provision, token_expiry};
use crate::client::{Auth, ROOT_ID, User};
use crate::container::GitLabContainer;
use crate::runner::clear_password_expiry;

/// The name of the users' tokens.
pub const USER_TOKEN_NAME: &str = "dtaas";
/// The scopes of the users' tokens.
pub const USER_TOKEN_SCOPES: [&str; 3] = ["api", "read_repository", "write_repository"];

/// Provisions GitLab users with the stored admin token (checked lazily on first use), and
/// the GitLab container for `gitlab-rails runner`.
pub struct GitLabProvisioner {
    gl: GitLab,
    auth: OnceCell<Auth>,
    container: Option<Arc<dyn GitLabContainer>>,
    /// Users whose password this run set (id, username): their expiry is cleared by
    /// [`Provisioner::finish_users`].
    expired: std::sync::Mutex<Vec<(u64, String)>>,
}

impl std::fmt::Debug for GitLabProvisioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitLabProvisioner")
            .field("gl", &self.gl)
            .field("container", &self.container.is_some())
            .finish_non_exhaustive()
    }
}

fn config(detail: String) -> ProvisionError {
    ProvisionError::Config {
        service: SERVICE.into(),
        detail,
    }
}

/// A row's username, email and password, checked before any request: a username of
/// letters, digits, `_`, `.`, `-` starting with a letter or digit (at most 255); an email of
/// at most 50 characters with one `@` and a dotted domain; a password of 1 to 55 characters
/// without control characters. GitLab's own password policy is left to GitLab.
fn validate(user: &UserSpec) -> Result<&str, ProvisionError> {
    use secrecy::ExposeSecret as _;
    let u = user.name.as_str();
    let name_ok = u.len() <= 255
        && u.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !name_ok {
        return Err(config(format!("Invalid user input: username {u:?}")));
    }
    let email = user.email.as_deref().map(str::trim).unwrap_or("");
    let email_ok = email.len() <= 50
        && !email.contains(char::is_whitespace)
        && email.matches('@').count() == 1
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain
                    .split_once('.')
                    .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
                && !domain.ends_with('.')
        });
    if !email_ok {
        return Err(config(format!("Invalid user input: email of {u}")));
    }
    let pw = user.password.expose_secret();
    if pw.is_empty() || pw.chars().count() > 55 || pw.chars().any(char::is_control) {
        return Err(config(format!(
            "Invalid user input: password of {u} (1-55 characters, no control characters)"
        )));
    }
    Ok(email)
}

impl GitLabProvisioner {
    /// Without a container, creating users works but a password change fails (its expiry
    /// cannot be cleared): see [`GitLabProvisioner::with_container`].
    #[must_use]
    pub fn new(gl: GitLab) -> Self {
        Self {
            gl,
            auth: OnceCell::new(),
            container: None,
            expired: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The GitLab container, where `gitlab-rails runner` clears a changed password's expiry.
    #[must_use]
    pub fn with_container(mut self, container: Arc<dyn GitLabContainer>) -> Self {
        self.container = Some(container);
        self
    }

    /// `PUT /users/:id` with the password; the expiry GitLab sets with it is cleared by
    /// [`Provisioner::finish_users`].
    async fn set_password(
        &self,
        auth: &Auth,
        user: &User,
        spec: &UserSpec,
    ) -> Result<(), ProvisionError> {
        if self.container.is_none() {
            return Err(ProvisionError::Failed {
                service: SERVICE.into(),
                detail: format!(
                    "user {}: changing a password needs the GitLab container (gitlab-rails runner clears the expiry GitLab sets); the Docker engine is not reachable",
                    user.username
                ),
            });
        }
        self.gl
            .client
            .set_password(auth, user.id, &spec.password)
            .await?;
        self.expired
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            // The CSV's spelling: the users component matches the failures by it (GitLab
            // compares usernames without case and may spell it otherwise).
            .push((user.id, spec.name.clone()));
        Ok(())
    }

    /// Clear the expiry of every password this run set, with one runner.
    async fn clear_expiries(&self) -> Vec<(String, ProvisionError)> {
        let users = std::mem::take(
            &mut *self
                .expired
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let Some(container) = &self.container else {
            return Vec::new();
        };
        clear_password_expiry(container.as_ref(), &users)
            .await
            .into_iter()
            .map(|(name, e)| (name, to_provision(e)))
            .collect()
    }

    async fn auth(&self) -> Result<&Auth, ProvisionError> {
        self.auth
            .get_or_try_init(|| async { self.gl.admin().await })
            .await
            .map_err(to_provision)
    }

    /// Create the user's token unless one is stored; a token of ours left by an interrupted
    /// run (created but never stored) is revoked first.
    async fn ensure_token(&self, auth: &Auth, user: &User) -> Result<bool, ProvisionError> {
        let key = gitlab_user_pat(&user.username);
        let store_err = |e: password_store::PasswordStoreError| ProvisionError::Failed {
            service: SERVICE.into(),
            detail: format!("password store: {e}"),
        };
        if self.gl.store.get(&key).await.map_err(store_err)?.is_some() {
            return Ok(false);
        }
        let c = &self.gl.client;
        for t in c.list_tokens(auth, user.id).await? {
            if t.name == USER_TOKEN_NAME && !t.revoked {
                c.revoke_token(auth, t.id).await?;
            }
        }
        let pat = c
            .create_token(
                auth,
                user.id,
                USER_TOKEN_NAME,
                &USER_TOKEN_SCOPES,
                &token_expiry(),
            )
            .await?;
        self.gl.store.set(&key, &pat).await.map_err(store_err)?;
        Ok(true)
    }

    async fn ensure(&self, spec: &UserSpec) -> Result<Outcome, ProvisionError> {
        let email = validate(spec)?;
        let auth = self.auth().await?;
        let c = &self.gl.client;
        let (user, mut outcome) = match c.find_user(auth, &spec.name).await? {
            Some(u) => (u, Outcome::Unchanged),
            None => match c
                .create_user(auth, &spec.name, email, &spec.password)
                .await?
            {
                Some(u) => (u, Outcome::Created),
                None => {
                    let u = c.find_user(auth, &spec.name).await?.ok_or_else(|| {
                        ProvisionError::Failed {
                            service: SERVICE.into(),
                            detail: format!(
                                "user {}: GitLab says the username or email is taken",
                                spec.name
                            ),
                        }
                    })?;
                    (u, Outcome::Unchanged)
                }
            },
        };
        if outcome == Outcome::Unchanged && spec.password_state != PasswordState::Same {
            self.set_password(auth, &user, spec).await?;
            outcome = Outcome::Updated;
        }
        if self.ensure_token(auth, &user).await? && outcome == Outcome::Unchanged {
            outcome = Outcome::Updated;
        }
        Ok(outcome)
    }

    /// Delete the user (`DELETE /users/:id`, which deletes its personal projects), or with
    /// `keep_data` block it (`POST /users/:id/block`: no sign-in, no token use, projects
    /// kept). Either way its stored token is forgotten. Root and administrators are refused.
    async fn remove(&self, name: &str, keep_data: bool) -> Result<Removal, ProvisionError> {
        let auth = self.auth().await?;
        let Some(user) = self.gl.client.find_user(auth, name).await? else {
            return Ok(Removal::Absent);
        };
        if user.id == ROOT_ID || user.is_admin {
            return Err(ProvisionError::Failed {
                service: SERVICE.into(),
                detail: format!(
                    "{:?} is a GitLab administrator; it is never removed (refused)",
                    user.username
                ),
            });
        }
        let removal = if keep_data {
            self.gl.client.block_user(auth, user.id).await?;
            Removal::Blocked
        } else {
            self.gl.client.delete_user(auth, user.id).await?;
            Removal::Removed
        };
        self.gl
            .store
            .remove(&gitlab_user_pat(&user.username))
            .await
            .map_err(|e| ProvisionError::Failed {
                service: SERVICE.into(),
                detail: format!("password store: {e}"),
            })?;
        Ok(removal)
    }
}

impl Provisioner for GitLabProvisioner {
    fn service(&self) -> Service {
        Service::GitLab
    }

    fn probe(&self) -> BoxFuture<'_, Result<(), ProvisionError>> {
        Box::pin(async move { self.auth().await.map(drop) })
    }

    fn list_users(&self) -> BoxFuture<'_, Result<Vec<String>, ProvisionError>> {
        Box::pin(async move {
            let auth = self.auth().await?;
            let mut names: Vec<String> = self
                .gl
                .client
                .list_users(auth)
                .await?
                .into_iter()
                .map(|u| u.username)
                .collect();
            names.sort();
            Ok(names)
        })
    }

    fn ensure_user<'a>(
        &'a self,
        user: &'a UserSpec,
    ) -> BoxFuture<'a, Result<Outcome, ProvisionError>> {
        Box::pin(self.ensure(user))
    }

    fn finish_users(&self) -> BoxFuture<'_, Vec<(String, ProvisionError)>> {
        Box::pin(self.clear_expiries())
    }

    fn remove_user<'a>(
        &'a self,
        name: &'a str,
        keep_data: bool,
    ) -> BoxFuture<'a, Result<Removal, ProvisionError>> {
        Box::pin(self.remove(name, keep_data))
    }

    fn reserved_names(&self) -> Vec<Reserved> {
        vec![Reserved::new(
            "user",
            "root",
            "the GitLab administrator root (GITLAB_ROOT_NEW_PASSWORD)",
        )]
    }

    /// The username. GitLab compares usernames ignoring case (gitlab-org/gitlab
    /// app/models/user.rb `by_username`, an `iwhere` lookup; namespace paths are unique
    /// case-insensitively).
    fn claims(&self, name: &str, _email: Option<&str>) -> Vec<Claim> {
        vec![Claim::new("user", name, NameRule::IgnoreCase)]
    }

    /// Every human user (administrators included) and root.
    fn existing_objects(&self) -> BoxFuture<'_, Result<Vec<Existing>, ProvisionError>> {
        Box::pin(async move {
            let auth = self.auth().await?;
            let mut out: Vec<Existing> = self
                .gl
                .client
                .list_users(auth)
                .await?
                .into_iter()
                .map(|u| Existing::new("user", u.username))
                .collect();
            out.push(Existing::new("user", "root"));
            Ok(out)
        })
    }
}
