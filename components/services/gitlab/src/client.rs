//! The GitLab REST calls the flows use: API v4 under `<base>/api/v4`, where the base is
//! `https://<HOSTNAME>:<GITLAB_PORT>/gitlab` and root is user id 1. A refusal (401/403) says
//! whose credential was refused: the admin's, or a user's own token.

use std::fmt;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use services_common::{HttpApi, ProvisionError, encode};

/// The root user's id.
pub const ROOT_ID: u64 = 1;

/// How a request authenticates.
#[derive(Clone)]
pub enum Auth {
    /// A personal access token (`PRIVATE-TOKEN` header).
    Pat(SecretString),
    /// An OAuth access token (`Authorization: Bearer`).
    OAuth(SecretString),
    /// A user's own personal access token (`PRIVATE-TOKEN`), not an admin credential: a
    /// refusal names the user.
    UserPat { user: String, token: SecretString },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pat(_) => "Auth::Pat(<redacted>)",
            Self::OAuth(_) => "Auth::OAuth(<redacted>)",
            Self::UserPat { .. } => "Auth::UserPat(<redacted>)",
        })
    }
}

/// A GitLab user (the fields the flows read).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct User {
    pub id: u64,
    pub username: String,
    #[serde(default)]
    pub is_admin: bool,
    #[serde(default)]
    pub bot: bool,
}

/// A personal access token as listed (never its value).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub active: bool,
}

/// An OAuth application as `GET /applications` lists it (no secret).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Application {
    pub id: u64,
    pub application_id: String,
    pub application_name: String,
    #[serde(default)]
    pub callback_url: String,
    #[serde(default)]
    pub confidential: bool,
}

/// A new or renewed application with its secret.
#[derive(Clone)]
pub struct AppWithSecret {
    pub id: u64,
    pub application_id: String,
    pub application_name: String,
    pub secret: SecretString,
}

impl fmt::Debug for AppWithSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppWithSecret")
            .field("id", &self.id)
            .field("application_id", &self.application_id)
            .field("application_name", &self.application_name)
            .finish_non_exhaustive()
    }
}

/// What the password grant answered (Doorkeeper's token endpoint, gitlabhq v18.10.1
/// config/initializers/doorkeeper.rb).
#[derive(Debug)]
pub enum Grant {
    Token(SecretString),
    /// Wrong credentials, or a user the grant refuses (2FA, no password): `invalid_grant`.
    Refused,
    /// The instance no longer offers the password grant: `unsupported_grant_type`.
    Unsupported,
    /// The instance takes the password grant only with an OAuth application's client
    /// credentials (admin setting `ropc_without_client_credentials` off): `invalid_client`.
    ClientCredentialsRequired,
}

/// The GitLab API of one installation.
#[derive(Debug, Clone)]
pub struct GitLabClient {
    api: HttpApi,
}

impl GitLabClient {
    /// `api.base` is the GitLab URL (`https://host:port/gitlab`).
    #[must_use]
    pub fn new(api: HttpApi) -> Self {
        Self { api }
    }

    /// The base URL, for messages.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.api.base
    }

    fn req(&self, method: Method, path: &str, auth: &Auth) -> RequestBuilder {
        let r = self.api.request(method, &format!("/api/v4{path}"));
        match auth {
            Auth::Pat(t) | Auth::UserPat { token: t, .. } => {
                r.header("PRIVATE-TOKEN", t.expose_secret())
            }
            Auth::OAuth(t) => r.header("Authorization", format!("Bearer {}", t.expose_secret())),
        }
    }

    fn bad_answer(&self, action: &str, e: impl fmt::Display) -> ProvisionError {
        ProvisionError::Failed {
            service: self.api.service.clone(),
            detail: format!("{action}: unexpected answer: {e}"),
        }
    }

    /// A non-success answer as an error: 401/403 for an admin credential is "refused the
    /// admin credentials"; for a user's own token it names that user instead.
    async fn error(&self, auth: &Auth, action: &str, resp: Response) -> ProvisionError {
        match (self.api.error(action, resp).await, auth) {
            (ProvisionError::Unauthorized { service, detail }, Auth::UserPat { user, .. }) => {
                ProvisionError::Failed {
                    service,
                    detail: format!("refused user {user}'s own token: {detail}"),
                }
            }
            (e, _) => e,
        }
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        auth: &Auth,
        action: &str,
        req: RequestBuilder,
    ) -> Result<T, ProvisionError> {
        let resp = self.api.send(req).await?;
        if !resp.status().is_success() {
            return Err(self.error(auth, action, resp).await);
        }
        resp.json().await.map_err(|e| self.bad_answer(action, e))
    }

    async fn call_empty(
        &self,
        auth: &Auth,
        action: &str,
        req: RequestBuilder,
    ) -> Result<(), ProvisionError> {
        let resp = self.api.send(req).await?;
        if !resp.status().is_success() {
            return Err(self.error(auth, action, resp).await);
        }
        Ok(())
    }

    /// Every page of a list (`per_page=100`, following `X-Next-Page`).
    async fn all_pages<T: serde::de::DeserializeOwned>(
        &self,
        action: &str,
        path: &str,
        auth: &Auth,
    ) -> Result<Vec<T>, ProvisionError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut out = Vec::new();
        let mut page = 1u32;
        loop {
            let req = self.req(
                Method::GET,
                &format!("{path}{sep}per_page=100&page={page}"),
                auth,
            );
            let resp = self.api.send(req).await?;
            if !resp.status().is_success() {
                return Err(self.error(auth, action, resp).await);
            }
            let next = resp
                .headers()
                .get("x-next-page")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u32>().ok());
            let items: Vec<T> = resp.json().await.map_err(|e| self.bad_answer(action, e))?;
            out.extend(items);
            match next {
                Some(n) if n > page && page < 1000 => page = n,
                _ => return Ok(out),
            }
        }
    }

    /// `GET /user`: the token's user; `None` when the token is refused (401).
    ///
    /// # Errors
    /// HTTP failures other than 401.
    pub async fn whoami(&self, auth: &Auth) -> Result<Option<User>, ProvisionError> {
        let resp = self.api.send(self.req(Method::GET, "/user", auth)).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(self.error(auth, "checking the token", resp).await);
        }
        resp.json()
            .await
            .map(Some)
            .map_err(|e| self.bad_answer("checking the token", e))
    }

    /// `POST /oauth/token` with the resource-owner password grant for `root`.
    ///
    /// # Errors
    /// HTTP failures other than a refusal.
    pub async fn password_grant(&self, password: &SecretString) -> Result<Grant, ProvisionError> {
        let body = format!(
            "grant_type=password&username=root&password={}",
            encode(password.expose_secret())
        );
        let req = self
            .api
            .request(Method::POST, "/oauth/token")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        let resp = self.api.send(req).await?;
        let status = resp.status();
        if status.is_success() {
            let v: Value = resp
                .json()
                .await
                .map_err(|e| self.bad_answer("password grant", e))?;
            let t = v
                .get("access_token")
                .and_then(Value::as_str)
                .ok_or_else(|| self.bad_answer("password grant", "no access_token"))?;
            return Ok(Grant::Token(SecretString::from(t.to_owned())));
        }
        if status.is_client_error() {
            let text = resp.text().await.unwrap_or_default();
            let error = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
                .unwrap_or_default();
            return match error.as_str() {
                "invalid_grant" => Ok(Grant::Refused),
                "unsupported_grant_type" => Ok(Grant::Unsupported),
                "invalid_client" => Ok(Grant::ClientCredentialsRequired),
                other => Err(ProvisionError::Api {
                    service: self.api.service.clone(),
                    action: "password grant".into(),
                    status: status.as_u16(),
                    detail: if other.is_empty() {
                        "(no OAuth error code)".into()
                    } else {
                        other.into()
                    },
                }),
            };
        }
        Err(ProvisionError::Api {
            service: self.api.service.clone(),
            action: "password grant".into(),
            status: status.as_u16(),
            detail: "server error".into(),
        })
    }

    /// `GET /personal_access_tokens?user_id={id}&state=active` (all pages).
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn list_tokens(
        &self,
        auth: &Auth,
        user_id: u64,
    ) -> Result<Vec<TokenInfo>, ProvisionError> {
        self.all_pages(
            "listing access tokens",
            &format!("/personal_access_tokens?user_id={user_id}&state=active"),
            auth,
        )
        .await
    }

    /// `DELETE /personal_access_tokens/{id}` (revoke).
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn revoke_token(&self, auth: &Auth, id: u64) -> Result<(), ProvisionError> {
        self.call_empty(
            auth,
            "revoking an access token",
            self.req(
                Method::DELETE,
                &format!("/personal_access_tokens/{id}"),
                auth,
            ),
        )
        .await
    }

    /// `POST /users/{id}/personal_access_tokens` with `{name, scopes, expires_at}`.
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn create_token(
        &self,
        auth: &Auth,
        user_id: u64,
        name: &str,
        scopes: &[&str],
        expires_at: &str,
    ) -> Result<SecretString, ProvisionError> {
        let req = self
            .req(
                Method::POST,
                &format!("/users/{user_id}/personal_access_tokens"),
                auth,
            )
            .json(&json!({"name": name, "scopes": scopes, "expires_at": expires_at}));
        let v: Value = self.call(auth, "creating an access token", req).await?;
        v.get("token")
            .and_then(Value::as_str)
            .map(|t| SecretString::from(t.to_owned()))
            .ok_or_else(|| self.bad_answer("creating an access token", "no token"))
    }

    /// `GET /users/{id}`.
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn user(&self, auth: &Auth, id: u64) -> Result<User, ProvisionError> {
        self.call(
            auth,
            "reading the user",
            self.req(Method::GET, &format!("/users/{id}"), auth),
        )
        .await
    }

    /// `PUT /users/{id}` with `{password, skip_reconfirmation: true}`.
    ///
    /// # Errors
    /// HTTP failures (a rejected password is [`ProvisionError::Api`] with GitLab's message).
    pub async fn set_password(
        &self,
        auth: &Auth,
        id: u64,
        password: &SecretString,
    ) -> Result<(), ProvisionError> {
        let req = self
            .req(Method::PUT, &format!("/users/{id}"), auth)
            .json(&json!({"password": password.expose_secret(), "skip_reconfirmation": true}));
        self.call::<Value>(auth, "setting the password", req)
            .await
            .map(drop)
    }

    /// `GET /users?username={u}`: the user with exactly that username.
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn find_user(
        &self,
        auth: &Auth,
        username: &str,
    ) -> Result<Option<User>, ProvisionError> {
        let req = self.req(
            Method::GET,
            &format!("/users?username={}", encode(username)),
            auth,
        );
        let users: Vec<User> = self.call(auth, "looking up the user", req).await?;
        Ok(users
            .into_iter()
            .find(|u| u.username.eq_ignore_ascii_case(username)))
    }

    /// Every human user except root (`GET /users?exclude_internal=true`, bots dropped).
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn list_users(&self, auth: &Auth) -> Result<Vec<User>, ProvisionError> {
        let all: Vec<User> = self
            .all_pages(
                "listing users",
                "/users?exclude_internal=true&without_project_bots=true",
                auth,
            )
            .await?;
        Ok(all
            .into_iter()
            .filter(|u| u.id != ROOT_ID && !u.bot)
            .collect())
    }

    /// `POST /users` with `{username, email, password, name, skip_confirmation: true}`;
    /// `None` on 409 (exists).
    ///
    /// # Errors
    /// HTTP failures other than 409.
    pub async fn create_user(
        &self,
        auth: &Auth,
        username: &str,
        email: &str,
        password: &SecretString,
    ) -> Result<Option<User>, ProvisionError> {
        let req = self.req(Method::POST, "/users", auth).json(&json!({
            "username": username,
            "email": email,
            "password": password.expose_secret(),
            "name": username,
            "skip_confirmation": true,
        }));
        let resp = self.api.send(req).await?;
        if resp.status() == StatusCode::CONFLICT {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(self.error(auth, "creating the user", resp).await);
        }
        resp.json()
            .await
            .map(Some)
            .map_err(|e| self.bad_answer("creating the user", e))
    }

    /// `DELETE /users/{id}` (`hard_delete=false`: contributions go to the ghost user).
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn delete_user(&self, auth: &Auth, id: u64) -> Result<(), ProvisionError> {
        self.call_empty(
            auth,
            "deleting the user",
            self.req(
                Method::DELETE,
                &format!("/users/{id}?hard_delete=false"),
                auth,
            ),
        )
        .await
    }

    /// `POST /users/{id}/block`: the user can no longer sign in or use its tokens; its
    /// projects stay.
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn block_user(&self, auth: &Auth, id: u64) -> Result<(), ProvisionError> {
        self.call_empty(
            auth,
            "blocking the user",
            self.req(Method::POST, &format!("/users/{id}/block"), auth),
        )
        .await
    }

    /// `GET /applications`.
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn list_applications(&self, auth: &Auth) -> Result<Vec<Application>, ProvisionError> {
        self.call(
            auth,
            "listing OAuth applications",
            self.req(Method::GET, "/applications", auth),
        )
        .await
    }

    fn app_with_secret(&self, action: &str, v: &Value) -> Result<AppWithSecret, ProvisionError> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let parsed = (|| {
            Some(AppWithSecret {
                id: v.get("id").and_then(Value::as_u64)?,
                application_id: s("application_id")?,
                application_name: s("application_name")?,
                secret: SecretString::from(s("secret")?),
            })
        })();
        parsed.ok_or_else(|| self.bad_answer(action, "missing fields"))
    }

    /// `POST /applications` with `{name, redirect_uri, scopes, confidential}` (the params
    /// gitlabhq v18.10.1 lib/api/applications.rb declares; `trusted` would be ignored).
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn create_application(
        &self,
        auth: &Auth,
        spec: &crate::AppSpec,
    ) -> Result<AppWithSecret, ProvisionError> {
        let req = self.req(Method::POST, "/applications", auth).json(&json!({
            "name": spec.name,
            "redirect_uri": spec.redirect_uri,
            "scopes": spec.scopes,
            "confidential": spec.confidential,
        }));
        let v: Value = self
            .call(auth, "creating an OAuth application", req)
            .await?;
        self.app_with_secret("creating an OAuth application", &v)
    }

    /// `POST /applications/{id}/renew-secret`.
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn renew_secret(
        &self,
        auth: &Auth,
        id: u64,
    ) -> Result<AppWithSecret, ProvisionError> {
        let req = self.req(
            Method::POST,
            &format!("/applications/{id}/renew-secret"),
            auth,
        );
        let v: Value = self.call(auth, "renewing an OAuth secret", req).await?;
        self.app_with_secret("renewing an OAuth secret", &v)
    }

    /// `DELETE /applications/{id}`.
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn delete_application(&self, auth: &Auth, id: u64) -> Result<(), ProvisionError> {
        self.call_empty(
            auth,
            "deleting an OAuth application",
            self.req(Method::DELETE, &format!("/applications/{id}"), auth),
        )
        .await
    }
}
