use catalog::Service;
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use services_common::{
    BoxFuture, Claim, Existing, HttpApi, HttpOptions, NameRule, Outcome, PasswordState,
    ProvisionError, Provisioner, Removal, Reserved, Retry, UserSpec, encode, http_client,
};

/// The organisation provisioned users belong to: Grafana's main organisation.
const MAIN_ORG: i64 = 1;
/// The role a user gets when added to it here.
const MEMBER_ROLE: &str = "Viewer";

const NAME: &str = "Grafana";

/// Where the API is and how to log in.
#[derive(Debug, Clone)]
pub struct GrafanaOptions {
    /// `https://HOSTNAME:GRAFANA_PORT`.
    pub base_url: String,
    pub admin_user: String,
    pub admin_password: SecretString,
    pub http: HttpOptions,
    pub retry: Retry,
}

impl GrafanaOptions {
    /// From the project's settings.
    ///
    /// # Errors
    /// [`ProvisionError::Config`] when `GRAFANA_ADMIN_PASSWORD` is not set.
    pub fn from_settings(settings: &config::Settings) -> Result<Self, ProvisionError> {
        Ok(Self {
            base_url: format!(
                "https://{}:{}",
                settings.hostname(),
                settings.port("GRAFANA_PORT")
            ),
            admin_user: settings.text("GRAFANA_ADMIN_USERNAME").to_owned(),
            admin_password: settings.secret("GRAFANA_ADMIN_PASSWORD").ok_or_else(|| {
                ProvisionError::Config {
                    service: NAME.to_owned(),
                    detail: "GRAFANA_ADMIN_PASSWORD is not set".to_owned(),
                }
            })?,
            http: HttpOptions::from_settings(settings),
            retry: Retry::default(),
        })
    }
}

/// Provisions Grafana users.
#[derive(Debug)]
pub struct GrafanaProvisioner {
    api: HttpApi,
    admin_user: String,
    admin_password: SecretString,
}

/// A logged-in Grafana session: the cookies `POST /login` set (`grafana_session` by default,
/// `[auth] login_cookie_name`), sent back as they came. Never shown (Debug is redacted).
struct Session {
    cookie: SecretString,
}

fn failed(detail: String) -> ProvisionError {
    ProvisionError::Failed {
        service: NAME.to_owned(),
        detail,
    }
}

impl GrafanaProvisioner {
    /// # Errors
    /// [`ProvisionError::Config`] when the HTTP client cannot be built.
    pub fn new(opts: GrafanaOptions) -> Result<Self, ProvisionError> {
        let mut api = HttpApi::new(http_client(&opts.http)?, &opts.base_url, NAME);
        api.retry = opts.retry;
        Ok(Self {
            api,
            admin_user: opts.admin_user,
            admin_password: opts.admin_password,
        })
    }

    /// `POST /login` as `user` (Grafana's form login client, registered whatever
    /// `[auth.basic] enabled` says): the session on success, `None` when Grafana refuses the
    /// login (401, or 400 for an empty password).
    async fn login(
        &self,
        user: &str,
        password: &SecretString,
        action: &str,
    ) -> Result<Option<Session>, ProvisionError> {
        let req = self
            .api
            .request(Method::POST, "/login")
            .json(&json!({ "user": user, "password": password.expose_secret() }));
        let resp = self.api.send(req).await?;
        match resp.status() {
            s if s.is_success() => {
                let cookies: Vec<String> = resp
                    .headers()
                    .get_all(SET_COOKIE)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .filter_map(|v| v.split(';').next())
                    .map(str::trim)
                    .filter(|kv| kv.split_once('=').is_some_and(|(_, v)| !v.is_empty()))
                    .map(str::to_owned)
                    .collect();
                if cookies.is_empty() {
                    return Err(failed(format!(
                        "{action}: the login was accepted but no session cookie was set"
                    )));
                }
                Ok(Some(Session {
                    cookie: SecretString::from(cookies.join("; ")),
                }))
            }
            StatusCode::UNAUTHORIZED | StatusCode::BAD_REQUEST => Ok(None),
            _ => Err(self.api.error(action, resp).await),
        }
    }

    /// `GET /logout`: Grafana revokes the session's token. Best effort: a failure leaves a
    /// session that expires on its own.
    async fn logout(&self, session: Session) {
        let req = self
            .api
            .request(Method::GET, "/logout")
            .header(COOKIE, session.cookie.expose_secret());
        if let Err(e) = self.api.send(req).await {
            tracing::debug!(error = %e, "Grafana logout failed");
        }
    }

    /// A session of the admin (`GRAFANA_ADMIN_USERNAME`), for one operation.
    async fn admin_session(&self) -> Result<Session, ProvisionError> {
        self.login(
            &self.admin_user,
            &self.admin_password,
            "logging in as the admin",
        )
        .await?
        .ok_or_else(|| ProvisionError::Unauthorized {
            service: NAME.to_owned(),
            detail: format!(
                "logging in as {:?} (POST /login): invalid username or password (Grafana also refuses a login for 5 minutes after 5 failed ones)",
                self.admin_user
            ),
        })
    }

    /// An admin API request authenticated by the session cookie. No `Origin` header is sent:
    /// Grafana's CSRF check only compares a present Origin with the Host.
    fn admin(&self, s: &Session, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.api
            .request(method, path)
            .header(COOKIE, s.cookie.expose_secret())
    }

    async fn lookup(&self, s: &Session, name: &str) -> Result<Option<i64>, ProvisionError> {
        let v = self
            .api
            .json_or_none(
                self.admin(
                    s,
                    Method::GET,
                    &format!("/api/users/lookup?loginOrEmail={}", encode(name)),
                ),
                &format!("looking up user {name:?}"),
            )
            .await?;
        Ok(v.and_then(|v| v.get("id").and_then(Value::as_i64)))
    }

    async fn set_password(
        &self,
        s: &Session,
        id: i64,
        name: &str,
        password: &SecretString,
    ) -> Result<(), ProvisionError> {
        self.api
            .json_or_none(
                self.admin(s, Method::PUT, &format!("/api/admin/users/{id}/password"))
                    .json(&json!({ "password": password.expose_secret() })),
                &format!("setting the password of {name:?}"),
            )
            .await?
            .map(drop)
            .ok_or_else(|| failed(format!("setting the password of {name:?}: user not found")))
    }

    /// Whether `user` can log in with `password`: a form login (`POST /login`), whose
    /// session is logged out at once. A refused login counts as a failed attempt in
    /// Grafana's brute-force protection (5 per user in 5 minutes), as any wrong login does.
    async fn password_matches(
        &self,
        user: &str,
        password: &SecretString,
    ) -> Result<bool, ProvisionError> {
        match self
            .login(user, password, "checking a user's login")
            .await?
        {
            Some(session) => {
                self.logout(session).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Make `name` a member of the main organisation (`Viewer` when added here; the role of
    /// an existing member is kept). Grafana usually auto-assigns new users to it, unless
    /// `auto_assign_org` is off.
    async fn ensure_member(&self, s: &Session, name: &str) -> Result<(), ProvisionError> {
        let resp = self
            .api
            .send(
                self.admin(s, Method::POST, &format!("/api/orgs/{MAIN_ORG}/users"))
                    .json(&json!({ "loginOrEmail": name, "role": MEMBER_ROLE })),
            )
            .await?;
        match resp.status() {
            // 409: already a member.
            s if s.is_success() || s == StatusCode::CONFLICT => Ok(()),
            _ => Err(self
                .api
                .error(&format!("adding {name:?} to the main organisation"), resp)
                .await),
        }
    }

    fn refuse_admin(&self, name: &str) -> Result<(), ProvisionError> {
        services_common::refuse_admin(NAME, "GRAFANA_ADMIN_USERNAME", &self.admin_user, name)
    }

    /// Create `user` (then make it a member of the main organisation); on "already exists"
    /// (412: created concurrently) set its password instead.
    async fn create(&self, s: &Session, user: &UserSpec) -> Result<Outcome, ProvisionError> {
        let name = user.name.as_str();
        let mut body =
            json!({ "name": name, "login": name, "password": user.password.expose_secret() });
        if let Some(email) = &user.email {
            body["email"] = json!(email);
        }
        let resp = self
            .api
            .send(self.admin(s, Method::POST, "/api/admin/users").json(&body))
            .await?;
        match resp.status() {
            st if st.is_success() => {
                self.ensure_member(s, name).await?;
                Ok(Outcome::Created)
            }
            // Created concurrently (or the email belongs to someone else).
            StatusCode::PRECONDITION_FAILED | StatusCode::CONFLICT => {
                let err = self
                    .api
                    .error(&format!("creating user {name:?}"), resp)
                    .await;
                match self.lookup(s, name).await? {
                    Some(id) => {
                        self.set_password(s, id, name, &user.password).await?;
                        self.ensure_member(s, name).await?;
                        Ok(Outcome::Updated)
                    }
                    None => Err(err),
                }
            }
            _ => Err(self
                .api
                .error(&format!("creating user {name:?}"), resp)
                .await),
        }
    }

    async fn ensure_with(&self, s: &Session, user: &UserSpec) -> Result<Outcome, ProvisionError> {
        let name = user.name.as_str();
        let Some(id) = self.lookup(s, name).await? else {
            return self.create(s, user).await;
        };
        let update = match user.password_state {
            PasswordState::Same => false,
            PasswordState::Changed => true,
            PasswordState::Unknown => !self.password_matches(name, &user.password).await?,
        };
        if update {
            self.set_password(s, id, name, &user.password).await?;
        }
        // Also for users made before, or whose first membership call failed.
        self.ensure_member(s, name).await?;
        Ok(if update {
            Outcome::Updated
        } else {
            Outcome::Unchanged
        })
    }

    async fn ensure(&self, user: &UserSpec) -> Result<Outcome, ProvisionError> {
        self.refuse_admin(&user.name)?;
        let s = self.admin_session().await?;
        let r = self.ensure_with(&s, user).await;
        self.logout(s).await;
        r
    }

    async fn list_with(&self, s: &Session) -> Result<Vec<String>, ProvisionError> {
        let v = self
            .api
            .json_or_none(
                self.admin(s, Method::GET, "/api/users/search?perpage=5000&page=1"),
                "listing users",
            )
            .await?
            .unwrap_or(Value::Null);
        let mut names: Vec<String> = v
            .get("users")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter(|u| !u.get("isAdmin").and_then(Value::as_bool).unwrap_or(false))
                    .filter_map(|u| u.get("login")?.as_str().map(str::to_owned))
                    .filter(|l| *l != self.admin_user)
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        Ok(names)
    }

    async fn list(&self) -> Result<Vec<String>, ProvisionError> {
        let s = self.admin_session().await?;
        let r = self.list_with(&s).await;
        self.logout(s).await;
        r
    }

    /// Every login and every email (admins included): `/api/users/lookup?loginOrEmail=`
    /// finds a user by either, so a CSV name equal to someone's email is that someone.
    async fn existing(&self) -> Result<Vec<Existing>, ProvisionError> {
        let s = self.admin_session().await?;
        let r = self
            .api
            .json_or_none(
                self.admin(&s, Method::GET, "/api/users/search?perpage=5000&page=1"),
                "listing users",
            )
            .await;
        self.logout(s).await;
        let v = r?.unwrap_or(Value::Null);
        let users = v.get("users").and_then(Value::as_array);
        Ok(users
            .into_iter()
            .flatten()
            .flat_map(|u| ["login", "email"].map(|k| u.get(k).and_then(Value::as_str)))
            .flatten()
            .filter(|n| !n.is_empty())
            .map(|n| Existing::new("user", n))
            .collect())
    }

    async fn remove_with(&self, s: &Session, name: &str) -> Result<Removal, ProvisionError> {
        let Some(id) = self.lookup(s, name).await? else {
            return Ok(Removal::Absent);
        };
        self.api
            .json_or_none(
                self.admin(s, Method::DELETE, &format!("/api/admin/users/{id}")),
                &format!("removing user {name:?}"),
            )
            .await?;
        Ok(Removal::Removed)
    }

    async fn remove(&self, name: &str) -> Result<Removal, ProvisionError> {
        self.refuse_admin(name)?;
        let s = self.admin_session().await?;
        let r = self.remove_with(&s, name).await;
        self.logout(s).await;
        r
    }

    /// The admin logs in and reads its organisation.
    async fn probe_once(&self) -> Result<(), ProvisionError> {
        let s = self.admin_session().await?;
        let r = self
            .api
            .json_or_none(
                self.admin(&s, Method::GET, "/api/org"),
                "reading the organisation",
            )
            .await
            .map(drop);
        self.logout(s).await;
        r
    }
}

impl Provisioner for GrafanaProvisioner {
    fn service(&self) -> Service {
        Service::Grafana
    }

    fn probe(&self) -> BoxFuture<'_, Result<(), ProvisionError>> {
        Box::pin(self.probe_once())
    }

    fn list_users(&self) -> BoxFuture<'_, Result<Vec<String>, ProvisionError>> {
        Box::pin(self.list())
    }

    fn ensure_user<'a>(
        &'a self,
        user: &'a UserSpec,
    ) -> BoxFuture<'a, Result<Outcome, ProvisionError>> {
        Box::pin(self.ensure(user))
    }

    /// Grafana users own no separate data: `keep_data` changes nothing.
    fn remove_user<'a>(
        &'a self,
        name: &'a str,
        _keep_data: bool,
    ) -> BoxFuture<'a, Result<Removal, ProvisionError>> {
        Box::pin(self.remove(name))
    }

    fn reserved_names(&self) -> Vec<Reserved> {
        vec![Reserved::new(
            "user",
            &self.admin_user,
            "the Grafana admin (GRAFANA_ADMIN_USERNAME)",
        )]
    }

    /// The login. Grafana compares logins and emails ignoring case: it stores both
    /// lower-cased and looks them up so (grafana/grafana v12.3.x
    /// pkg/services/user/userimpl/user.go `Create`, pkg/services/user/userimpl/store.go
    /// `Update`: "enforcement of lowercase due to forcement of caseinsensitive login").
    fn claims(&self, name: &str, _email: Option<&str>) -> Vec<Claim> {
        vec![Claim::new("user", name, NameRule::IgnoreCase)]
    }

    fn existing_objects(&self) -> BoxFuture<'_, Result<Vec<Existing>, ProvisionError>> {
        Box::pin(self.existing())
    }
}
