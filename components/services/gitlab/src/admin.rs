//! The admin flows: readiness, the admin token bootstrap, OAuth applications, the root
//! password. Every secret goes to the password store, never to a file in the project; the
//! initial root password is never stored; the install can be re-run: OAuth applications
//! are found by name and reused, never duplicated, and an earlier admin token is revoked
//! when a new one is made. GitLab not being ready is [`GitLabError::NotReady`] (the "not
//! ready, retry" exit status), never a success.

use std::time::{Duration, Instant};

use docker::{Engine, ExecSpec};
use password_store::{
    GITLAB_CLIENT_APP, GITLAB_ROOT_CURRENT_PASSWORD, GITLAB_ROOT_PAT, GITLAB_SERVER_APP, OAuthApp,
    PasswordStore,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use services_common::ProvisionError;

use crate::GitLabError;
use crate::client::{Auth, GitLabClient, Grant, ROOT_ID};
use crate::config::GitLabConfig;
use crate::container::{EngineContainer, GitLabContainer, Readiness};
use crate::oauth::{AppSpec, OAuthApps};
use crate::runner::apply_trust;

pub(crate) const SERVICE: &str = "GitLab";
/// The name of the root token this tool creates.
pub const ROOT_TOKEN_NAME: &str = "dtaas-services";
const INITIAL_ROOT_PASSWORD_FILE: &str = "/etc/gitlab/initial_root_password";

/// The Ruby script `gitlab-rails runner -` reads on STDIN: revoke earlier `dtaas-services`
/// tokens of root, create a new one (scope api, one year), print it on stdout.
pub const RUNNER_SCRIPT: &str = r#"
user = User.find(1)
user.personal_access_tokens.where(name: 'dtaas-services', revoked: false).each(&:revoke!)
token = user.personal_access_tokens.build(name: 'dtaas-services', scopes: [:api], expires_at: 365.days.from_now.to_date)
if token.respond_to?(:organization_id=) && token.organization_id.nil?
  org = (user.respond_to?(:namespace) && user.namespace&.respond_to?(:organization_id)) ? user.namespace.organization_id : nil
  org ||= Organizations::Organization.first&.id if defined?(Organizations::Organization)
  token.organization_id = org
end
token.save!
puts "DTAAS_TOKEN=#{token.token}"
"#;

/// Where the admin token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenSource {
    /// The stored token still works.
    Stored,
    /// Created by `gitlab-rails runner` in the container.
    RailsRunner,
    /// Created over the API after the OAuth password grant.
    PasswordGrant,
}

/// What happened to an OAuth application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppAction {
    Created,
    Unchanged,
    /// It existed but its secret was not stored: the secret was renewed.
    SecretRenewed,
    /// Its redirect URI or confidentiality differed: replaced (new client id).
    Replaced,
}

/// The GitLab flows of one installation: its API, settings and the password store.
#[derive(Debug, Clone)]
pub struct GitLab {
    pub(crate) client: GitLabClient,
    pub(crate) cfg: GitLabConfig,
    pub(crate) store: PasswordStore,
}

/// The `expires_at` of the tokens this tool creates over the API: 364 days from today
/// (UTC). GitLab refuses a date after `Date.current` + 365 days in the instance's time zone
/// (gitlabhq v18.10.1 app/models/personal_access_token.rb
/// `expires_at_before_instance_max_expiry_date`, `MAX_PERSONAL_ACCESS_TOKEN_LIFETIME_IN_DAYS`),
/// and that date may be a day behind UTC's.
pub(crate) fn token_expiry() -> String {
    (time::OffsetDateTime::now_utc().date() + time::Duration::days(364)).to_string()
}

fn bootstrap_err(detail: impl Into<String>) -> GitLabError {
    GitLabError::Bootstrap(detail.into())
}

impl GitLab {
    #[must_use]
    pub fn new(client: GitLabClient, cfg: GitLabConfig, store: PasswordStore) -> Self {
        Self { client, cfg, store }
    }

    /// From the project settings: the shared HTTP client (SSL_VERIFY, the project's CA) on
    /// `https://<HOSTNAME>:<GITLAB_PORT>/gitlab`.
    ///
    /// # Errors
    /// Missing settings, an unreadable CA file.
    pub fn from_settings(
        settings: &config::Settings,
        store: PasswordStore,
    ) -> Result<Self, GitLabError> {
        let cfg = GitLabConfig::from_settings(settings)?;
        let http =
            services_common::http_client(&services_common::HttpOptions::from_settings(settings))?;
        let api = services_common::HttpApi::new(http, &cfg.base_url, SERVICE);
        Ok(Self::new(GitLabClient::new(api), cfg, store))
    }

    /// The API client.
    #[must_use]
    pub fn client(&self) -> &GitLabClient {
        &self.client
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &GitLabConfig {
        &self.cfg
    }

    /// The stored root token, checked: `None` when absent or refused.
    ///
    /// # Errors
    /// HTTP (other than 401) or store failures.
    pub async fn stored_admin(&self) -> Result<Option<Auth>, GitLabError> {
        let Some(pat) = self.store.get(GITLAB_ROOT_PAT).await? else {
            return Ok(None);
        };
        let auth = Auth::Pat(pat);
        match self.client.whoami(&auth).await? {
            Some(u) if u.is_admin => Ok(Some(auth)),
            _ => Ok(None),
        }
    }

    /// The stored root token, or an error telling to install first.
    ///
    /// # Errors
    /// [`GitLabError::Bootstrap`] when no working token is stored.
    pub async fn admin(&self) -> Result<Auth, GitLabError> {
        self.stored_admin().await?.ok_or_else(|| {
            bootstrap_err(
                "no working admin token is stored; run: dtaas-services service install -s gitlab",
            )
        })
    }

    /// An admin token: the stored one when it works; else a new one made by
    /// `gitlab-rails runner` in the container (script on STDIN, token on stdout); else, where
    /// the instance still offers it, through the OAuth password grant. A new token is stored
    /// at once.
    ///
    /// # Errors
    /// [`GitLabError::Bootstrap`] when every way failed.
    pub async fn bootstrap_admin(
        &self,
        container: &dyn GitLabContainer,
    ) -> Result<(Auth, TokenSource), GitLabError> {
        if let Some(auth) = self.stored_admin().await? {
            return Ok((auth, TokenSource::Stored));
        }
        let runner_err = match self.runner_token(container).await {
            Ok(pat) => {
                self.store.set(GITLAB_ROOT_PAT, &pat).await?;
                return Ok((Auth::Pat(pat), TokenSource::RailsRunner));
            }
            Err(e) => e,
        };
        tracing::debug!(error = %runner_err, "gitlab-rails runner failed; trying the password grant");
        match self.password_grant_token(container).await {
            Ok(pat) => Ok((Auth::Pat(pat), TokenSource::PasswordGrant)),
            Err(e) => {
                let e = match e {
                    GitLabError::Bootstrap(d) => d,
                    other => other.to_string(),
                };
                Err(bootstrap_err(format!(
                    "gitlab-rails runner: {runner_err}; password grant: {e}"
                )))
            }
        }
    }

    async fn runner_token(&self, container: &dyn GitLabContainer) -> Result<SecretString, String> {
        let spec = ExecSpec {
            cmd: vec!["gitlab-rails".into(), "runner".into(), "-".into()],
            stdin: Some(RUNNER_SCRIPT.as_bytes().to_vec()),
            ..ExecSpec::default()
        };
        let out = container.exec(&spec).await.map_err(|e| e.to_string())?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let token = stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("DTAAS_TOKEN="))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        match (out.exit_code, token) {
            (0, Some(t)) => Ok(SecretString::from(t.to_owned())),
            (code, _) => {
                let err = String::from_utf8_lossy(&out.stderr);
                let last = err
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                Err(format!("exited with code {code} without a token {last}")
                    .trim()
                    .to_owned())
            }
        }
    }

    /// The initial root password from the container (never stored).
    async fn initial_root_password(&self, container: &dyn GitLabContainer) -> Option<SecretString> {
        let spec = ExecSpec {
            cmd: vec!["cat".into(), INITIAL_ROOT_PASSWORD_FILE.into()],
            ..ExecSpec::default()
        };
        let out = container.exec(&spec).await.ok()?;
        if out.exit_code != 0 {
            return None;
        }
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("Password:"))
            .map(|p| SecretString::from(p.trim().to_owned()))
            .filter(|p| !p.expose_secret().is_empty())
    }

    async fn password_grant_token(
        &self,
        container: &dyn GitLabContainer,
    ) -> Result<SecretString, GitLabError> {
        let mut cands: Vec<SecretString> = Vec::new();
        if let Some(s) = self.store.get(GITLAB_ROOT_CURRENT_PASSWORD).await? {
            cands.push(s);
        }
        if let Some(f) = &self.cfg.root_password {
            cands.push(f.clone());
        }
        if let Some(i) = self.initial_root_password(container).await {
            cands.push(i);
        }
        let mut oauth = None;
        for pw in &cands {
            match self.client.password_grant(pw).await? {
                Grant::Token(t) => {
                    oauth = Some(t);
                    break;
                }
                Grant::Refused => {}
                Grant::Unsupported => {
                    return Err(bootstrap_err(
                        "this GitLab no longer offers the password grant",
                    ));
                }
                Grant::ClientCredentialsRequired => {
                    return Err(bootstrap_err(
                        "this GitLab takes the password grant only with an OAuth application's client credentials (admin setting ropc_without_client_credentials is off)",
                    ));
                }
            }
        }
        let auth = Auth::OAuth(oauth.ok_or_else(|| {
            bootstrap_err(
                "root refused the stored password, GITLAB_ROOT_NEW_PASSWORD and the initial password",
            )
        })?);
        for t in self.client.list_tokens(&auth, ROOT_ID).await? {
            if t.name == ROOT_TOKEN_NAME && !t.revoked {
                self.client.revoke_token(&auth, t.id).await?;
            }
        }
        self.client.user(&auth, ROOT_ID).await?;
        let pat = self
            .client
            .create_token(&auth, ROOT_ID, ROOT_TOKEN_NAME, &["api"], &token_expiry())
            .await?;
        self.store.set(GITLAB_ROOT_PAT, &pat).await?;
        Ok(pat)
    }

    /// Ensure one OAuth application by name: reused when it matches (and its secret is
    /// stored), its secret renewed when not stored, replaced when its redirect URI or
    /// confidentiality changed, created when absent; never duplicated. Stored at once.
    /// Returns what was done and the application's id. Its `trusted` flag is not set here
    /// (the API ignores it): see [`setup`].
    ///
    /// # Errors
    /// HTTP or store failures.
    pub async fn ensure_app(
        &self,
        auth: &Auth,
        spec: &AppSpec,
        store_key: &str,
    ) -> Result<(AppAction, u64), GitLabError> {
        let stored = self.store.get_oauth_app(store_key).await?;
        let apps = self.client.list_applications(auth).await?;
        let named: Vec<_> = apps
            .iter()
            .filter(|a| a.application_name == spec.name)
            .collect();
        let existing = named
            .iter()
            .find(|a| {
                stored
                    .as_ref()
                    .is_some_and(|s| s.application_id == a.id.to_string())
            })
            .or_else(|| named.first())
            .copied();
        let save = |a: crate::client::AppWithSecret| async move {
            let app = OAuthApp {
                application_id: a.id.to_string(),
                name: a.application_name,
                client_id: a.application_id,
                client_secret: a.secret,
            };
            self.store.set_oauth_app(store_key, &app).await
        };
        let create = || async {
            let new = self.client.create_application(auth, spec).await?;
            let id = new.id;
            save(new).await?;
            Ok::<u64, GitLabError>(id)
        };
        let Some(app) = existing else {
            return Ok((AppAction::Created, create().await?));
        };
        if app.callback_url != spec.redirect_uri || app.confidential != spec.confidential {
            self.client.delete_application(auth, app.id).await?;
            return Ok((AppAction::Replaced, create().await?));
        }
        let known = stored.as_ref().is_some_and(|s| {
            s.application_id == app.id.to_string() && s.client_id == app.application_id
        });
        if known {
            return Ok((AppAction::Unchanged, app.id));
        }
        save(self.client.renew_secret(auth, app.id).await?).await?;
        Ok((AppAction::SecretRenewed, app.id))
    }

    /// Set root's password to GITLAB_ROOT_NEW_PASSWORD (`GET /users/1`, `PUT /users/1`) and
    /// store it. The token is root's own, so GitLab does not expire the new password
    /// (gitlabhq v18.10.1 lib/api/users.rb sets `password_expires_at` only when an admin
    /// changes ANOTHER user's password).
    ///
    /// # Errors
    /// Missing setting, HTTP or store failures.
    pub async fn set_root_password(&self, auth: &Auth) -> Result<(), GitLabError> {
        let fin = self.cfg.final_root_password()?.clone();
        self.client.user(auth, ROOT_ID).await?;
        self.client.set_password(auth, ROOT_ID, &fin).await?;
        self.store.set(GITLAB_ROOT_CURRENT_PASSWORD, &fin).await?;
        Ok(())
    }

    /// Everything the install reads from the project, checked before anything starts: the
    /// OAuth applications file and GITLAB_ROOT_NEW_PASSWORD.
    ///
    /// # Errors
    /// [`GitLabError::OAuthFile`] (file, line and key) or [`GitLabError::Config`].
    pub fn check_install_inputs(&self) -> Result<OAuthApps, GitLabError> {
        self.cfg.install_inputs()
    }

    /// `user reset-password -s gitlab`: root's password set to GITLAB_ROOT_NEW_PASSWORD with
    /// the stored admin token (root's own, so GitLab does not expire it).
    ///
    /// # Errors
    /// No stored token, missing setting, HTTP or store failures.
    pub async fn reset_root_password(&self) -> Result<(), GitLabError> {
        self.cfg.final_root_password()?;
        let auth = self.admin().await?;
        self.set_root_password(&auth).await
    }
}

/// `service install -s gitlab`'s inputs from the project's settings alone (HOSTNAME,
/// GITLAB_PORT, the OAuth applications file, GITLAB_ROOT_NEW_PASSWORD), for a caller to check
/// before it contacts the engine or installs anything.
///
/// # Errors
/// As [`GitLabConfig::from_settings`] and [`GitLab::check_install_inputs`].
pub fn check_install_inputs(settings: &config::Settings) -> Result<OAuthApps, GitLabError> {
    GitLabConfig::from_settings(settings)?.install_inputs()
}

/// Options of [`setup`] and [`install`].
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// `--wait --timeout`: wait this long for readiness; `None`: check once.
    pub wait: Option<Duration>,
    /// Poll interval while waiting.
    pub poll: Duration,
}

/// What the install did.
#[derive(Debug, Clone, Serialize)]
pub struct InstallReport {
    pub token: TokenSource,
    pub server_app: AppAction,
    pub client_app: AppAction,
}

/// Wait until GitLab's container is healthy (once without `wait`).
///
/// # Errors
/// [`GitLabError::NotReady`] (exit 3), engine errors.
pub async fn wait_ready(
    container: &dyn GitLabContainer,
    opts: &InstallOptions,
) -> Result<(), GitLabError> {
    let start = Instant::now();
    loop {
        let r = container.readiness().await?;
        if r == Readiness::Healthy {
            return Ok(());
        }
        match opts.wait {
            Some(t) if start.elapsed() < t => tokio::time::sleep(opts.poll).await,
            Some(t) => {
                return Err(GitLabError::NotReady {
                    status: format!("{} after {} s", r.describe(), t.as_secs()),
                });
            }
            None => {
                return Err(GitLabError::NotReady {
                    status: r.describe().to_owned(),
                });
            }
        }
    }
}

/// The install flow after the container was started: readiness, the admin token, the OAuth
/// applications of the project's file (their `trusted` flag set and read back through
/// `gitlab-rails runner`), the root password.
///
/// # Errors
/// The first failing step.
pub async fn setup(
    gl: &GitLab,
    container: &dyn GitLabContainer,
    opts: &InstallOptions,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<InstallReport, GitLabError> {
    let apps = gl.check_install_inputs()?;
    progress("Checking GitLab readiness...");
    wait_ready(container, opts).await?;
    progress("Obtaining an admin token...");
    let (auth, token) = gl.bootstrap_admin(container).await?;
    progress("Ensuring the OAuth applications...");
    let (server_app, server_id) = gl
        .ensure_app(&auth, &apps.server, GITLAB_SERVER_APP)
        .await?;
    let (client_app, client_id) = gl
        .ensure_app(&auth, &apps.client, GITLAB_CLIENT_APP)
        .await?;
    progress("Marking the OAuth applications trusted (gitlab-rails runner)...");
    apply_trust(
        container,
        &[
            (server_id, apps.server.trusted),
            (client_id, apps.client.trusted),
        ],
    )
    .await?;
    progress("Setting the root password...");
    gl.set_root_password(&auth).await?;
    Ok(InstallReport {
        token,
        server_app,
        client_app,
    })
}

/// The whole install flow: check the inputs ([`GitLab::check_install_inputs`]), start
/// GitLab (unless running), then [`setup`]. A broken input is reported before GitLab starts.
///
/// # Errors
/// The first failing step.
pub async fn install<E: Engine>(
    lc: &lifecycle::Lifecycle<'_, E>,
    gl: &GitLab,
    opts: &InstallOptions,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<InstallReport, GitLabError> {
    gl.check_install_inputs()?;
    progress("Ensuring gitlab is running...");
    lc.start(
        &lifecycle::Selection::Only(vec![catalog::Service::GitLab]),
        &lifecycle::StartOptions::default(),
    )
    .await?;
    let name = lc
        .compose()
        .project()
        .container_name(catalog::Service::GitLab.compose_name());
    let container = EngineContainer::new(lc.compose().engine(), &name);
    setup(gl, &container, opts, progress).await
}

/// Map to the shared provisioning error.
pub(crate) fn to_provision(e: GitLabError) -> ProvisionError {
    match e {
        GitLabError::Api(p) => p,
        GitLabError::Config(detail) => ProvisionError::Config {
            service: SERVICE.into(),
            detail,
        },
        GitLabError::Runner { action, detail } => ProvisionError::Failed {
            service: SERVICE.into(),
            detail: format!("{action} through gitlab-rails runner failed: {detail}"),
        },
        other => ProvisionError::Failed {
            service: SERVICE.into(),
            detail: other.to_string(),
        },
    }
}
