use std::collections::BTreeSet;

use catalog::Service;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use services_common::{
    BoxFuture, Claim, Existing, HttpApi, HttpOptions, NameRule, Outcome, PasswordState,
    ProvisionError, Provisioner, Removal, Reserved, Retry, UserSpec, http_client,
};

const NAME: &str = "InfluxDB";
/// The page size of list requests (the API's maximum).
const PAGE: usize = 100;

/// Where the API is and how to authenticate.
#[derive(Debug, Clone)]
pub struct InfluxDbOptions {
    /// `https://HOSTNAME:INFLUXDB_PORT`.
    pub base_url: String,
    /// The operator (all-access) token.
    pub token: SecretString,
    /// `INFLUXDB_ADMIN_USERNAME`: never provisioned, listed or removed.
    pub admin_user: String,
    /// `INFLUXDB_ORG`: the platform's organisation, never given to a user.
    pub org: String,
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
            admin_user: settings.text("INFLUXDB_ADMIN_USERNAME").to_owned(),
            org: settings.text("INFLUXDB_ORG").to_owned(),
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
    org: String,
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
            org: opts.org,
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

    /// `POST path` with `body`: the new object's id and `true`. When the API answers that it
    /// already exists (409, or 422 as InfluxDB says "... already exists": made concurrently,
    /// or by an earlier run whose answer was lost), `lookup` finds it: its id and `false`;
    /// when even `lookup` does not find it, the API's error.
    async fn create_or_find(
        &self,
        path: &str,
        body: Value,
        action: &str,
        lookup: impl Future<Output = Result<Option<String>, ProvisionError>>,
    ) -> Result<(String, bool), ProvisionError> {
        let resp = self
            .api
            .send(self.req(Method::POST, path).json(&body))
            .await?;
        let status = resp.status();
        if status == StatusCode::CONFLICT || status == StatusCode::UNPROCESSABLE_ENTITY {
            let err = self.api.error(action, resp).await;
            return match lookup.await? {
                Some(id) => Ok((id, false)),
                None => Err(err),
            };
        }
        if !status.is_success() {
            return Err(self.api.error(action, resp).await);
        }
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        v.get("id")
            .and_then(Value::as_str)
            .map(|id| (id.to_owned(), true))
            .ok_or_else(|| failed(format!("{action}: the answer holds no id")))
    }

    async fn bucket_id(&self, org_id: &str, name: &str) -> Result<Option<String>, ProvisionError> {
        self.find(
            &format!("/api/v2/buckets?orgID={org_id}&name={name}"),
            "buckets",
            name,
            &format!("looking up bucket {name:?}"),
        )
        .await
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
        let (user_id, created) = match self.user_id(name).await? {
            Some(id) => (id, false),
            None => {
                self.create_or_find(
                    "/api/v2/users",
                    json!({ "name": name, "status": "active" }),
                    &format!("creating user {name:?}"),
                    self.user_id(name),
                )
                .await?
            }
        };
        let mut outcome = if created {
            self.set_password(&user_id, name, &user.password).await?;
            Outcome::Created
        } else {
            let update = match user.password_state {
                PasswordState::Same => false,
                PasswordState::Changed => true,
                PasswordState::Unknown => !self.password_matches(name, &user.password).await?,
            };
            if update {
                self.set_password(&user_id, name, &user.password).await?;
                Outcome::Updated
            } else {
                Outcome::Unchanged
            }
        };
        let changed = self.ensure_org(name, &user_id).await?;
        if changed && outcome == Outcome::Unchanged {
            outcome = Outcome::Updated;
        }
        Ok(outcome)
    }

    /// The user's own org (owned by the user) and bucket, both named after it; true when
    /// anything had to change.
    async fn ensure_org(&self, name: &str, user_id: &str) -> Result<bool, ProvisionError> {
        let mut changed = false;
        let org_id = match self.org_id(name).await? {
            Some(id) => id,
            None => {
                let (id, created) = self
                    .create_or_find(
                        "/api/v2/orgs",
                        json!({ "name": name, "description": name }),
                        &format!("creating org {name:?}"),
                        self.org_id(name),
                    )
                    .await?;
                changed |= created;
                id
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
        if self.bucket_id(&org_id, name).await?.is_none() {
            let (_, created) = self
                .create_or_find(
                    "/api/v2/buckets",
                    json!({ "orgID": org_id, "name": name, "retentionRules": [] }),
                    &format!("creating bucket {name:?}"),
                    self.bucket_id(&org_id, name),
                )
                .await?;
            changed |= created;
        }
        Ok(changed)
    }

    /// Every user but the admin, sorted.
    async fn list(&self) -> Result<Vec<String>, ProvisionError> {
        let mut names: Vec<String> = self
            .all_names("users")
            .await?
            .into_iter()
            .filter(|n| *n != self.admin_user)
            .collect();
        names.sort();
        Ok(names)
    }

    /// The names of every object of `list` (`users`, `orgs`), page by page
    /// (`limit=100&offset=N`; the API answers 20 without `limit`) until a short page, or a
    /// page of nothing new (a server that ignores `offset` must not loop forever).
    async fn all_names(&self, list: &str) -> Result<Vec<String>, ProvisionError> {
        let mut seen = BTreeSet::new();
        let mut names = Vec::new();
        let mut offset = 0usize;
        loop {
            let v = self
                .api
                .json_or_none(
                    self.req(
                        Method::GET,
                        &format!("/api/v2/{list}?limit={PAGE}&offset={offset}"),
                    ),
                    &format!("listing {list}"),
                )
                .await?
                .unwrap_or(Value::Null);
            let page = ids(&v, list);
            let len = page.len();
            let before = seen.len();
            for (id, name) in page {
                if seen.insert(id) {
                    names.push(name);
                }
            }
            if len < PAGE || seen.len() == before {
                break;
            }
            offset += len;
        }
        Ok(names)
    }

    /// Every user (the admin included) and every org.
    async fn existing(&self) -> Result<Vec<Existing>, ProvisionError> {
        let mut out: Vec<Existing> = self
            .all_names("users")
            .await?
            .into_iter()
            .map(|n| Existing::new("user", n))
            .collect();
        out.extend(
            self.all_names("orgs")
                .await?
                .into_iter()
                .map(|n| Existing::new("org", n)),
        );
        Ok(out)
    }

    /// The users of org `org_id` (owners and members) other than `user_id` and the admin
    /// (InfluxDB makes the creator of an org — the operator, for every org `ensure` made —
    /// one of its owners), by name.
    async fn other_org_users(
        &self,
        org_id: &str,
        name: &str,
        user_id: Option<&str>,
    ) -> Result<Vec<String>, ProvisionError> {
        let mut others = Vec::new();
        for list in ["owners", "members"] {
            let v = self
                .api
                .json_or_none(
                    self.req(Method::GET, &format!("/api/v2/orgs/{org_id}/{list}")),
                    &format!("listing the {list} of org {name:?}"),
                )
                .await?
                .unwrap_or(Value::Null);
            for (id, user) in ids(&v, "users") {
                if Some(id.as_str()) != user_id
                    && user != self.admin_user
                    && !others.contains(&user)
                {
                    others.push(user);
                }
            }
        }
        Ok(others)
    }

    async fn remove(&self, name: &str, keep_data: bool) -> Result<Removal, ProvisionError> {
        self.refuse_admin(name)?;
        let user_id = self.user_id(name).await?;
        // Only the user's own org goes with it: one nobody else owns or belongs to (the
        // platform's primary org may share a name with a user). Checked before anything
        // is deleted.
        let org = if keep_data {
            None
        } else {
            self.org_id(name).await?
        };
        if let Some(org_id) = &org {
            let others = self
                .other_org_users(org_id, name, user_id.as_deref())
                .await?;
            if !others.is_empty() {
                return Err(failed(format!(
                    "org {name:?} also belongs to {}: nothing removed; remove the user with --keep-data to keep the org, or delete the org in InfluxDB yourself",
                    others.join(", ")
                )));
            }
        }
        let mut removed = false;
        if let Some(id) = user_id {
            self.api
                .json_or_none(
                    self.req(Method::DELETE, &format!("/api/v2/users/{id}")),
                    &format!("removing user {name:?}"),
                )
                .await?;
            removed = true;
        }
        if let Some(org) = org {
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

    fn reserved_names(&self) -> Vec<Reserved> {
        vec![
            Reserved::new(
                "user",
                &self.admin_user,
                "the InfluxDB admin (INFLUXDB_ADMIN_USERNAME)",
            ),
            Reserved::new(
                "org",
                &self.org,
                "the platform's InfluxDB organisation (INFLUXDB_ORG)",
            ),
        ]
    }

    /// A user and an org of its name (the bucket lives in that org). InfluxDB compares user
    /// and org names byte for byte: its name indexes are keyed by the name's bytes
    /// (influxdata/influxdb v2.7.x tenant/storage_user.go `userIndexKey`,
    /// tenant/storage_org.go `organizationIndexKey`, which only trims spaces).
    fn claims(&self, name: &str, _email: Option<&str>) -> Vec<Claim> {
        vec![
            Claim::new("user", name, NameRule::Exact),
            Claim::new("org", name, NameRule::Exact),
        ]
    }

    fn existing_objects(&self) -> BoxFuture<'_, Result<Vec<Existing>, ProvisionError>> {
        Box::pin(self.existing())
    }
}
