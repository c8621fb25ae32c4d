use catalog::Service;
use reqwest::Method;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use services_common::{
    BoxFuture, HttpApi, HttpOptions, Outcome, PasswordState, ProvisionError, Provisioner, Removal,
    Retry, UserSpec, http_client,
};

const NAME: &str = "InfluxDB";

/// Where the API is and how to authenticate.
#[derive(Debug, Clone)]
pub struct InfluxDbOptions {
    /// `https://HOSTNAME:INFLUXDB_PORT`.
    pub base_url: String,
    /// The operator (all-access) token.
    pub token: SecretString,
    /// `INFLUXDB_ADMIN_USERNAME`: never provisioned, listed or removed.
    pub admin_user: String,
    pub http: HttpOptions,
    pub retry: Retry,
}

impl InfluxDbOptions {
    /// From the project's settings and the operator token (from the password store or the
    /// `influx-configs` file; see [`crate::token_from_influx_configs`]).
    #[must_use]
    pub fn from_settings(settings: &config::Settings, token: SecretString) -> Self {
        Self {
            base_url: format!(
                "https://{}:{}",
                settings.hostname(),
                settings.port("INFLUXDB_PORT")
            ),
            token,
            admin_user: settings
                .get("INFLUXDB_ADMIN_USERNAME")
                .unwrap_or("dtaas")
                .to_owned(),
            http: HttpOptions::from_settings(settings),
            retry: Retry::default(),
        }
    }
}

/// Provisions users, orgs, owner memberships and buckets.
#[derive(Debug)]
pub struct InfluxDbProvisioner {
    api: HttpApi,
    token: SecretString,
    admin_user: String,
}

fn failed(detail: String) -> ProvisionError {
    ProvisionError::Failed {
        service: NAME.to_owned(),
        detail,
    }
}

fn ids(v: &Value, list: &str) -> Vec<(String, String)> {
    v.get(list)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|o| {
                    Some((
                        o.get("id")?.as_str()?.to_owned(),
                        o.get("name")?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

impl InfluxDbProvisioner {
    /// # Errors
    /// [`ProvisionError::Config`] when the HTTP client cannot be built.
    pub fn new(opts: InfluxDbOptions) -> Result<Self, ProvisionError> {
        let mut api = HttpApi::new(http_client(&opts.http)?, &opts.base_url, NAME);
        api.retry = opts.retry;
        Ok(Self {
            api,
            token: opts.token,
            admin_user: opts.admin_user,
        })
    }

    fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.api.request(method, path).header(
            reqwest::header::AUTHORIZATION,
            format!("Token {}", self.token.expose_secret()),
        )
    }

    async fn find(
        &self,
        path: &str,
        list: &str,
        name: &str,
        action: &str,
    ) -> Result<Option<String>, ProvisionError> {
        let v = self
            .api
            .json_or_none(self.req(Method::GET, path), action)
            .await?;
        Ok(v.and_then(|v| {
            ids(&v, list)
                .into_iter()
                .find(|(_, n)| n == name)
                .map(|(id, _)| id)
        }))
    }

    async fn user_id(&self, name: &str) -> Result<Option<String>, ProvisionError> {
        self.find(
            &format!("/api/v2/users?name={name}"),
            "users",
            name,
            &format!("looking up user {name:?}"),
        )
        .await
    }

    async fn org_id(&self, name: &str) -> Result<Option<String>, ProvisionError> {
        self.find(
            &format!("/api/v2/orgs?org={name}"),
            "orgs",
            name,
            &format!("looking up org {name:?}"),
        )
        .await
    }

    async fn create(
        &self,
        path: &str,
        body: Value,
        action: &str,
    ) -> Result<String, ProvisionError> {
        let v = self
            .api
            .json_or_none(self.req(Method::POST, path).json(&body), action)
            .await?
            .unwrap_or(Value::Null);
        v.get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| failed(format!("{action}: the answer holds no id")))
    }

    async fn set_password(
        &self,
        id: &str,
        name: &str,
        password: &SecretString,
    ) -> Result<(), ProvisionError> {
        let action = format!("setting the password of {name:?}");
        self.api
            .json_or_none(
                self.req(Method::POST, &format!("/api/v2/users/{id}/password"))
                    .json(&json!({ "password": password.expose_secret() })),
                &action,
            )
            .await?
            .map(drop)
            .ok_or_else(|| failed(format!("{action}: user not found")))
    }

    /// Whether `user` can sign in with `password` (`POST /api/v2/signin`).
    async fn password_matches(
        &self,
        user: &str,
        password: &SecretString,
    ) -> Result<bool, ProvisionError> {
        self.api
            .login_ok(
                Method::POST,
                "/api/v2/signin",
                user,
                password,
                "checking a user's sign-in",
            )
            .await
    }

    fn refuse_admin(&self, name: &str) -> Result<(), ProvisionError> {
        services_common::refuse_admin(NAME, "INFLUXDB_ADMIN_USERNAME", &self.admin_user, name)
    }

    async fn ensure(&self, user: &UserSpec) -> Result<Outcome, ProvisionError> {
        let name = user.name.as_str();
        self.refuse_admin(name)?;
        let (user_id, mut outcome) = match self.user_id(name).await? {
            None => {
                let id = self
                    .create(
                        "/api/v2/users",
                        json!({ "name": name, "status": "active" }),
                        &format!("creating user {name:?}"),
                    )
                    .await?;
                self.set_password(&id, name, &user.password).await?;
                (id, Outcome::Created)
            }
            Some(id) => {
                let update = match user.password_state {
                    PasswordState::Same => false,
                    PasswordState::Changed => true,
                    PasswordState::Unknown => !self.password_matches(name, &user.password).await?,
                };
                if update {
                    self.set_password(&id, name, &user.password).await?;
                    (id, Outcome::Updated)
                } else {
                    (id, Outcome::Unchanged)
                }
            }
        };
        let mut changed = false;
        let org_id = match self.org_id(name).await? {
            Some(id) => id,
            None => {
                changed = true;
                self.create(
                    "/api/v2/orgs",
                    json!({ "name": name, "description": name }),
                    &format!("creating org {name:?}"),
                )
                .await?
            }
        };
        let owners = self
            .api
            .json_or_none(
                self.req(Method::GET, &format!("/api/v2/orgs/{org_id}/owners")),
                &format!("listing the owners of org {name:?}"),
            )
            .await?
            .unwrap_or(Value::Null);
        if !ids(&owners, "users").iter().any(|(id, _)| *id == user_id) {
            changed = true;
            self.api
                .json_or_none(
                    self.req(Method::POST, &format!("/api/v2/orgs/{org_id}/owners"))
                        .json(&json!({ "id": user_id })),
                    &format!("making {name:?} owner of its org"),
                )
                .await?;
        }
        let bucket = self
            .find(
                &format!("/api/v2/buckets?orgID={org_id}&name={name}"),
                "buckets",
                name,
                &format!("looking up bucket {name:?}"),
            )
            .await?;
        if bucket.is_none() {
            changed = true;
            self.create(
                "/api/v2/buckets",
                json!({ "orgID": org_id, "name": name, "retentionRules": [] }),
                &format!("creating bucket {name:?}"),
            )
            .await?;
        }
        if changed && outcome == Outcome::Unchanged {
            outcome = Outcome::Updated;
        }
        Ok(outcome)
    }

    async fn list(&self) -> Result<Vec<String>, ProvisionError> {
        let v = self
            .api
            .json_or_none(self.req(Method::GET, "/api/v2/users"), "listing users")
            .await?
            .unwrap_or(Value::Null);
        let mut names: Vec<String> = ids(&v, "users")
            .into_iter()
            .map(|(_, n)| n)
            .filter(|n| *n != self.admin_user)
            .collect();
        names.sort();
        Ok(names)
    }

    async fn remove(&self, name: &str, keep_data: bool) -> Result<Removal, ProvisionError> {
        self.refuse_admin(name)?;
        let mut removed = false;
        if let Some(id) = self.user_id(name).await? {
            self.api
                .json_or_none(
                    self.req(Method::DELETE, &format!("/api/v2/users/{id}")),
                    &format!("removing user {name:?}"),
                )
                .await?;
            removed = true;
        }
        if !keep_data && let Some(org) = self.org_id(name).await? {
            self.api
                .json_or_none(
                    self.req(Method::DELETE, &format!("/api/v2/orgs/{org}")),
                    &format!("removing org {name:?}"),
                )
                .await?;
            removed = true;
        }
        Ok(if removed {
            Removal::Removed
        } else {
            Removal::Absent
        })
    }
}

impl Provisioner for InfluxDbProvisioner {
    fn service(&self) -> Service {
        Service::InfluxDb
    }

    fn probe(&self) -> BoxFuture<'_, Result<(), ProvisionError>> {
        Box::pin(async move {
            self.api
                .json_or_none(
                    self.req(Method::GET, "/api/v2/orgs?limit=1"),
                    "checking the operator token",
                )
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

    fn remove_user<'a>(
        &'a self,
        name: &'a str,
        keep_data: bool,
    ) -> BoxFuture<'a, Result<Removal, ProvisionError>> {
        Box::pin(self.remove(name, keep_data))
    }
}
