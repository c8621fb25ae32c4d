use catalog::Service;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;
use services_common::{
    BoxFuture, Claim, Existing, HttpApi, HttpOptions, NameRule, Outcome, PasswordState,
    ProvisionError, Provisioner, Removal, Reserved, Retry, UserSpec, http_client,
};

const NAME: &str = "RabbitMQ";

/// Where the management API is and how to log in.
#[derive(Debug, Clone)]
pub struct RabbitMqOptions {
    /// `https://HOSTNAME:RABBITMQ_MANAGEMENT_PORT` (the compose file publishes management
    /// over HTTPS), without credentials.
    pub base_url: String,
    pub admin_user: String,
    pub admin_password: SecretString,
    pub http: HttpOptions,
    pub retry: Retry,
}

impl RabbitMqOptions {
    /// From the project's settings.
    ///
    /// # Errors
    /// [`ProvisionError::Config`] when `RABBITMQ_ADMIN_PASSWORD` is not set.
    pub fn from_settings(settings: &config::Settings) -> Result<Self, ProvisionError> {
        Ok(Self {
            base_url: format!(
                "https://{}:{}",
                settings.hostname(),
                settings.port("RABBITMQ_MANAGEMENT_PORT")
            ),
            admin_user: settings.text("RABBITMQ_ADMIN_USERNAME").to_owned(),
            admin_password: settings.secret("RABBITMQ_ADMIN_PASSWORD").ok_or_else(|| {
                ProvisionError::Config {
                    service: NAME.to_owned(),
                    detail: "RABBITMQ_ADMIN_PASSWORD is not set".to_owned(),
                }
            })?,
            http: HttpOptions::from_settings(settings),
            retry: Retry::default(),
        })
    }
}

/// Provisions users, vhosts and permissions.
#[derive(Debug)]
pub struct RabbitMqProvisioner {
    api: HttpApi,
    admin_user: String,
    admin_password: SecretString,
}

#[derive(serde::Deserialize)]
struct UserInfo {
    name: String,
    #[serde(default)]
    tags: serde_json::Value,
}

impl UserInfo {
    fn tags(&self) -> Vec<String> {
        match &self.tags {
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
            serde_json::Value::String(s) => s
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    }
}

const PERMS: &str = ".*";

/// `name` as one path segment. Usernames are restricted to [A-Za-z0-9_.-] by the credentials
/// rules; anything else is encoded anyway so a path can never be escaped.
fn seg(name: &str) -> String {
    services_common::encode(name)
}

impl RabbitMqProvisioner {
    /// # Errors
    /// [`ProvisionError::Config`] when the HTTP client cannot be built.
    pub fn new(opts: RabbitMqOptions) -> Result<Self, ProvisionError> {
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

    /// Whether `user` can log in with `password` (`GET /api/whoami` with its credentials;
    /// "Not management user" still proves the password right).
    ///
    /// # Errors
    /// When the API cannot be reached or answers something unexpected.
    pub async fn password_matches(
        &self,
        user: &str,
        password: &SecretString,
    ) -> Result<bool, ProvisionError> {
        let resp = self
            .api
            .send(
                self.api
                    .request(Method::GET, "/api/whoami")
                    .basic_auth(user, Some(password.expose_secret())),
            )
            .await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(true);
        }
        if status == StatusCode::UNAUTHORIZED {
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            let reason = body.get("reason").and_then(|r| r.as_str()).unwrap_or("");
            return Ok(reason.contains("Not management user"));
        }
        Err(self.api.error("checking a user's login", resp).await)
    }

    async fn get_user(&self, name: &str) -> Result<Option<UserInfo>, ProvisionError> {
        let resp = self
            .api
            .send(self.admin(Method::GET, &format!("/api/users/{}", seg(name))))
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                resp.json()
                    .await
                    .map(Some)
                    .map_err(|e| ProvisionError::Failed {
                        service: NAME.to_owned(),
                        detail: format!("unexpected answer to GET /api/users/{name}: {e}"),
                    })
            }
            _ => Err(self
                .api
                .error(&format!("looking up user {name:?}"), resp)
                .await),
        }
    }

    async fn exists(&self, path: &str, action: &str) -> Result<bool, ProvisionError> {
        let resp = self.api.send(self.admin(Method::GET, path)).await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(false),
            s if s.is_success() => Ok(true),
            _ => Err(self.api.error(action, resp).await),
        }
    }

    async fn put(
        &self,
        path: &str,
        body: serde_json::Value,
        action: &str,
    ) -> Result<(), ProvisionError> {
        let resp = self
            .api
            .send(self.admin(Method::PUT, path).json(&body))
            .await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(self.api.error(action, resp).await)
        }
    }

    /// DELETE; false when it was already absent.
    async fn delete(&self, path: &str, action: &str) -> Result<bool, ProvisionError> {
        let resp = self.api.send(self.admin(Method::DELETE, path)).await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(false),
            s if s.is_success() => Ok(true),
            _ => Err(self.api.error(action, resp).await),
        }
    }

    async fn put_user(
        &self,
        name: &str,
        password: &SecretString,
        tags: &[String],
    ) -> Result<(), ProvisionError> {
        self.put(
            &format!("/api/users/{}", seg(name)),
            json!({ "password": password.expose_secret(), "tags": tags.join(",") }),
            &format!("setting user {name:?}"),
        )
        .await
    }

    async fn ensure(&self, user: &UserSpec) -> Result<Outcome, ProvisionError> {
        let name = user.name.as_str();
        let mut outcome = match self.get_user(name).await? {
            None => {
                self.put_user(name, &user.password, &[]).await?;
                Outcome::Created
            }
            Some(existing) => {
                let update = match user.password_state {
                    PasswordState::Same => false,
                    PasswordState::Changed => true,
                    PasswordState::Unknown => !self.password_matches(name, &user.password).await?,
                };
                if update {
                    self.put_user(name, &user.password, &existing.tags())
                        .await?;
                    Outcome::Updated
                } else {
                    Outcome::Unchanged
                }
            }
        };
        let vhost = format!("/api/vhosts/{}", seg(name));
        let mut changed = false;
        if !self
            .exists(&vhost, &format!("looking up vhost {name:?}"))
            .await?
        {
            self.put(&vhost, json!({}), &format!("creating vhost {name:?}"))
                .await?;
            changed = true;
        }
        let perms_path = format!("/api/permissions/{}/{}", seg(name), seg(name));
        let resp = self.api.send(self.admin(Method::GET, &perms_path)).await?;
        let perms_ok = match resp.status() {
            StatusCode::NOT_FOUND => false,
            s if s.is_success() => {
                let v: serde_json::Value = resp.json().await.unwrap_or_default();
                ["configure", "write", "read"]
                    .iter()
                    .all(|k| v.get(k).and_then(|x| x.as_str()) == Some(PERMS))
            }
            _ => {
                return Err(self
                    .api
                    .error(&format!("reading permissions of {name:?}"), resp)
                    .await);
            }
        };
        if !perms_ok {
            self.put(
                &perms_path,
                json!({ "configure": PERMS, "write": PERMS, "read": PERMS }),
                &format!("granting {name:?} its vhost"),
            )
            .await?;
            changed = true;
        }
        if changed && outcome == Outcome::Unchanged {
            outcome = Outcome::Updated;
        }
        Ok(outcome)
    }

    async fn list(&self) -> Result<Vec<String>, ProvisionError> {
        let resp = self.api.send(self.admin(Method::GET, "/api/users")).await?;
        if !resp.status().is_success() {
            return Err(self.api.error("listing users", resp).await);
        }
        let users: Vec<UserInfo> = resp.json().await.map_err(|e| ProvisionError::Failed {
            service: NAME.to_owned(),
            detail: format!("unexpected answer to GET /api/users: {e}"),
        })?;
        let mut names: Vec<String> = users
            .into_iter()
            .filter(|u| u.name != self.admin_user && !u.tags().iter().any(|t| t == "administrator"))
            .map(|u| u.name)
            .collect();
        names.sort();
        Ok(names)
    }

    /// The names of `GET path` (a JSON array of objects with a `name`).
    async fn names(&self, path: &str, what: &str) -> Result<Vec<String>, ProvisionError> {
        #[derive(serde::Deserialize)]
        struct Named {
            name: String,
        }
        let resp = self.api.send(self.admin(Method::GET, path)).await?;
        if !resp.status().is_success() {
            return Err(self.api.error(&format!("listing {what}"), resp).await);
        }
        let v: Vec<Named> = resp.json().await.map_err(|e| ProvisionError::Failed {
            service: NAME.to_owned(),
            detail: format!("unexpected answer to GET {path}: {e}"),
        })?;
        Ok(v.into_iter().map(|n| n.name).collect())
    }

    /// Every user (the admin and `administrator`-tagged ones included) and every vhost.
    async fn existing(&self) -> Result<Vec<Existing>, ProvisionError> {
        let mut out: Vec<Existing> = self
            .names("/api/users", "users")
            .await?
            .into_iter()
            .map(|n| Existing::new("user", n))
            .collect();
        out.extend(
            self.names("/api/vhosts", "vhosts")
                .await?
                .into_iter()
                .map(|n| Existing::new("vhost", n)),
        );
        Ok(out)
    }

    async fn remove(&self, name: &str, keep_data: bool) -> Result<Removal, ProvisionError> {
        if name == self.admin_user {
            return Err(ProvisionError::Failed {
                service: NAME.to_owned(),
                detail: format!("refusing to remove the admin user {name:?}"),
            });
        }
        let had_user = self
            .delete(
                &format!("/api/users/{}", seg(name)),
                &format!("removing user {name:?}"),
            )
            .await?;
        let had_vhost = if keep_data {
            false
        } else {
            self.delete(
                &format!("/api/vhosts/{}", seg(name)),
                &format!("removing vhost {name:?}"),
            )
            .await?
        };
        Ok(if had_user || had_vhost {
            Removal::Removed
        } else {
            Removal::Absent
        })
    }
}

impl Provisioner for RabbitMqProvisioner {
    fn service(&self) -> Service {
        Service::RabbitMq
    }

    fn probe(&self) -> BoxFuture<'_, Result<(), ProvisionError>> {
        Box::pin(async move {
            let resp = self
                .api
                .send(self.admin(Method::GET, "/api/whoami"))
                .await?;
            if resp.status().is_success() {
                Ok(())
            } else {
                Err(self.api.error("logging in", resp).await)
            }
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
                "the RabbitMQ admin (RABBITMQ_ADMIN_USERNAME)",
            ),
            Reserved::new("vhost", "/", "RabbitMQ's default vhost"),
        ]
    }

    /// A user and a vhost of its name. RabbitMQ compares both byte for byte: user and vhost
    /// names are binaries looked up as given (rabbitmq/rabbitmq-server v4.2.x
    /// deps/rabbit/src/rabbit_auth_backend_internal.erl, deps/rabbit/src/rabbit_vhost.erl).
    fn claims(&self, name: &str, _email: Option<&str>) -> Vec<Claim> {
        vec![
            Claim::new("user", name, NameRule::Exact),
            Claim::new("vhost", name, NameRule::Exact),
        ]
    }

    fn existing_objects(&self) -> BoxFuture<'_, Result<Vec<Existing>, ProvisionError>> {
        Box::pin(self.existing())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(seg("user.1-a_b"), "user.1-a_b");
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
        assert_eq!(seg("a%b#c?d"), "a%25b%23c%3Fd");
    }
}
