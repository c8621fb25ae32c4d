use catalog::Service;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use services_common::{
    BoxFuture, Claim, Existing, HttpApi, HttpOptions, NameRule, Outcome, PasswordState,
    ProvisionError, Provisioner, Removal, Reserved, Retry, UserSpec, http_client,
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
            admin_user: settings
                .get("GRAFANA_ADMIN_USERNAME")
                .unwrap_or("admin")
                .to_owned(),
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

    fn admin(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.api
            .request(method, path)
            .basic_auth(&self.admin_user, Some(self.admin_password.expose_secret()))
    }

    async fn lookup(&self, name: &str) -> Result<Option<i64>, ProvisionError> {
        let v = self
            .api
            .json_or_none(
                self.admin(
                    Method::GET,
                    &format!(
                        "/api/users/lookup?loginOrEmail={}",
                        services_common::encode(name)
                    ),
                ),
                &format!("looking up user {name:?}"),
            )
            .await?;
        Ok(v.and_then(|v| v.get("id").and_then(Value::as_i64)))
    }

    async fn set_password(
        &self,
        id: i64,
        name: &str,
        password: &SecretString,
    ) -> Result<(), ProvisionError> {
        self.api
            .json_or_none(
                self.admin(Method::PUT, &format!("/api/admin/users/{id}/password"))
                    .json(&json!({ "password": password.expose_secret() })),
                &format!("setting the password of {name:?}"),
            )
            .await?
            .map(drop)
            .ok_or_else(|| failed(format!("setting the password of {name:?}: user not found")))
    }

    /// Whether `user` can log in with `password` (`GET /api/user` with its basic auth).
    async fn password_matches(
        &self,
        user: &str,
        password: &SecretString,
    ) -> Result<bool, ProvisionError> {
        self.api
            .login_ok(
                Method::GET,
                "/api/user",
                user,
                password,
                "checking a user's login",
            )
            .await
    }

    /// Make `name` a member of the main organisation (`Viewer` when added here; the role of
    /// an existing member is kept). Grafana usually auto-assigns new users to it, unless
    /// `auto_assign_org` is off.
    async fn ensure_member(&self, name: &str) -> Result<(), ProvisionError> {
        let resp = self
            .api
            .send(
                self.admin(Method::POST, &format!("/api/orgs/{MAIN_ORG}/users"))
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

    async fn ensure(&self, user: &UserSpec) -> Result<Outcome, ProvisionError> {
        let name = user.name.as_str();
        self.refuse_admin(name)?;
        match self.lookup(name).await? {
            None => {
                let mut body = json!({ "name": name, "login": name, "password": user.password.expose_secret() });
                if let Some(email) = &user.email {
                    body["email"] = json!(email);
                }
                let resp = self
                    .api
                    .send(self.admin(Method::POST, "/api/admin/users").json(&body))
                    .await?;
                match resp.status() {
                    s if s.is_success() => {
                        self.ensure_member(name).await?;
                        Ok(Outcome::Created)
                    }
                    // Created concurrently (or the email belongs to someone else).
                    StatusCode::PRECONDITION_FAILED | StatusCode::CONFLICT => {
                        let err = self
                            .api
                            .error(&format!("creating user {name:?}"), resp)
                            .await;
                        match self.lookup(name).await? {
                            Some(id) => {
                                self.set_password(id, name, &user.password).await?;
                                self.ensure_member(name).await?;
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
            Some(id) => {
                let update = match user.password_state {
                    PasswordState::Same => false,
                    PasswordState::Changed => true,
                    PasswordState::Unknown => !self.password_matches(name, &user.password).await?,
                };
                if update {
                    self.set_password(id, name, &user.password).await?;
                }
                // Also for users made before, or whose first membership call failed.
                self.ensure_member(name).await?;
                Ok(if update {
                    Outcome::Updated
                } else {
                    Outcome::Unchanged
                })
            }
        }
    }

    async fn list(&self) -> Result<Vec<String>, ProvisionError> {
        let v = self
            .api
            .json_or_none(
                self.admin(Method::GET, "/api/users/search?perpage=5000&page=1"),
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

    /// Every login and every email (admins included): `/api/users/lookup?loginOrEmail=`
    /// finds a user by either, so a CSV name equal to someone's email is that someone.
    async fn existing(&self) -> Result<Vec<Existing>, ProvisionError> {
        let v = self
            .api
            .json_or_none(
                self.admin(Method::GET, "/api/users/search?perpage=5000&page=1"),
                "listing users",
            )
            .await?
            .unwrap_or(Value::Null);
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

    async fn remove(&self, name: &str) -> Result<Removal, ProvisionError> {
        self.refuse_admin(name)?;
        let Some(id) = self.lookup(name).await? else {
            return Ok(Removal::Absent);
        };
        self.api
            .json_or_none(
                self.admin(Method::DELETE, &format!("/api/admin/users/{id}")),
                &format!("removing user {name:?}"),
            )
            .await?;
        Ok(Removal::Removed)
    }
}

impl Provisioner for GrafanaProvisioner {
    fn service(&self) -> Service {
        Service::Grafana
    }

    fn probe(&self) -> BoxFuture<'_, Result<(), ProvisionError>> {
        Box::pin(async move {
            self.api
                .json_or_none(self.admin(Method::GET, "/api/org"), "logging in")
                .await
                .map(drop)
        })
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
