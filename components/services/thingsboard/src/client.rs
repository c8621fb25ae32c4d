//! The ThingsBoard REST calls the flows use, one method per request (API under `<base>/api`).

use std::fmt;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use services_common::{HttpApi, ProvisionError, encode};

const LOGIN_TIMEOUT: Duration = Duration::from_secs(10);
const ENTITY_TIMEOUT: Duration = Duration::from_secs(20);
const ACTIVATE_TIMEOUT: Duration = Duration::from_secs(15);
const PAGE_SIZE: u32 = 100;

/// A JWT of a logged-in ThingsBoard user; never shown.
#[derive(Clone)]
pub struct Token(SecretString);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// Wrap a JWT.
    #[must_use]
    pub fn new(jwt: SecretString) -> Self {
        Self(jwt)
    }
}

/// Who owns a user being created.
#[derive(Debug, Clone, Copy)]
pub enum Owner<'a> {
    /// A `TENANT_ADMIN` of this tenant id.
    Tenant(&'a str),
    /// A `CUSTOMER_USER` of this customer id.
    Customer(&'a str),
}

/// A ThingsBoard entity: its id and title (customers, tenants) or email (users).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    pub id: String,
    pub name: String,
}

/// The answer to `POST /api/user` for a new user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    Id(String),
    /// ThingsBoard says a user with that email already exists.
    AlreadyExists,
}

fn page_path(base: &str, page: u32, search: &str) -> String {
    format!(
        "{base}?pageSize={PAGE_SIZE}&page={page}&textSearch={}",
        encode(search)
    )
}

/// The ThingsBoard REST API of one installation.
#[derive(Debug, Clone)]
pub struct TbClient {
    api: HttpApi,
}

impl TbClient {
    #[must_use]
    pub fn new(api: HttpApi) -> Self {
        Self { api }
    }

    /// The base URL, for messages.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.api.base
    }

    fn authed(&self, method: Method, path: &str, token: &Token) -> RequestBuilder {
        self.api.request(method, path).header(
            "X-Authorization",
            format!("Bearer {}", token.0.expose_secret()),
        )
    }

    async fn json_ok(&self, action: &str, req: RequestBuilder) -> Result<Value, ProvisionError> {
        let resp = self.api.send(req).await?;
        if !resp.status().is_success() {
            return Err(self.api.error(action, resp).await);
        }
        let text = resp.text().await.unwrap_or_default();
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| ProvisionError::Failed {
            service: self.api.service.clone(),
            detail: format!("{action}: unexpected answer: {e}"),
        })
    }

    /// `POST /api/auth/login`: `Some(token)` on 200, `None` on 401 (wrong credentials, not
    /// retried); anything else is an error (5xx and network errors are retried first).
    ///
    /// # Errors
    /// Unreachable, or an unexpected answer.
    pub async fn login(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<Option<Token>, ProvisionError> {
        let req = self
            .api
            .request(Method::POST, "/api/auth/login")
            .timeout(LOGIN_TIMEOUT)
            .json(&json!({"username": username, "password": password.expose_secret()}));
        let resp = self.api.send(req).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(self.api.error("login", resp).await);
        }
        let v: Value = resp.json().await.map_err(|e| ProvisionError::Failed {
            service: self.api.service.clone(),
            detail: format!("login: unexpected answer: {e}"),
        })?;
        let token =
            v.get("token")
                .and_then(Value::as_str)
                .ok_or_else(|| ProvisionError::Failed {
                    service: self.api.service.clone(),
                    detail: "login: no token in the answer".into(),
                })?;
        Ok(Some(Token(SecretString::from(token.to_owned()))))
    }

    /// Whether the API answers at all (`GET /api/auth/user` without a token: any answer
    /// below 500, normally 401). One attempt, no retry.
    pub async fn answers(&self) -> bool {
        self.api
            .request(Method::GET, "/api/auth/user")
            .timeout(LOGIN_TIMEOUT)
            .send()
            .await
            .is_ok_and(|r| !r.status().is_server_error())
    }

    /// `GET /api/auth/user`: the logged-in user.
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn current_user(&self, token: &Token) -> Result<Value, ProvisionError> {
        let req = self
            .authed(Method::GET, "/api/auth/user", token)
            .timeout(ENTITY_TIMEOUT);
        self.json_ok("reading the current user", req).await
    }

    /// `POST /api/user?sendActivationMail=false` with a full user object (update).
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn save_user(&self, token: &Token, user: &Value) -> Result<Value, ProvisionError> {
        let req = self
            .authed(Method::POST, "/api/user?sendActivationMail=false", token)
            .timeout(ENTITY_TIMEOUT)
            .json(user);
        self.json_ok("saving the user", req).await
    }

    /// `POST /api/auth/changePassword`.
    ///
    /// # Errors
    /// HTTP failures; a rejected password is [`ProvisionError::Api`] with ThingsBoard's message.
    pub async fn change_password(
        &self,
        token: &Token,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<(), ProvisionError> {
        let req = self
            .authed(Method::POST, "/api/auth/changePassword", token)
            .timeout(ENTITY_TIMEOUT)
            .json(&json!({
                "currentPassword": current.expose_secret(),
                "newPassword": new.expose_secret(),
            }));
        self.json_ok("changing the password", req).await.map(drop)
    }

    /// Every page of `base?pageSize&page&textSearch=search`.
    async fn pages(
        &self,
        token: &Token,
        action: &str,
        base: &str,
        search: &str,
    ) -> Result<Vec<Value>, ProvisionError> {
        let mut out = Vec::new();
        for page in 0.. {
            let req = self
                .authed(Method::GET, &page_path(base, page, search), token)
                .timeout(ENTITY_TIMEOUT);
            let v = self.json_ok(action, req).await?;
            if let Some(data) = v.get("data").and_then(Value::as_array) {
                out.extend(data.iter().cloned());
            }
            if !v.get("hasNext").and_then(Value::as_bool).unwrap_or(false) || page >= 1000 {
                break;
            }
        }
        Ok(out)
    }

    fn entity(v: &Value, name_key: &str) -> Option<Entity> {
        Some(Entity {
            id: v.get("id")?.get("id")?.as_str()?.to_owned(),
            name: v.get(name_key)?.as_str()?.to_owned(),
        })
    }

    async fn find_exact(
        &self,
        token: &Token,
        action: &str,
        base: &str,
        key: &str,
        value: &str,
    ) -> Result<Option<Entity>, ProvisionError> {
        let all = self.pages(token, action, base, value).await?;
        Ok(all
            .iter()
            .filter_map(|v| Self::entity(v, key))
            .find(|e| e.name == value))
    }

    fn created_id(&self, action: &str, v: &Value) -> Result<String, ProvisionError> {
        v.get("id")
            .and_then(|i| i.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ProvisionError::Failed {
                service: self.api.service.clone(),
                detail: format!("{action}: no id in the answer"),
            })
    }

    /// The tenant titled exactly `title` (`GET /api/tenants?pageSize=100&page=0&textSearch=`).
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn find_tenant(
        &self,
        token: &Token,
        title: &str,
    ) -> Result<Option<Entity>, ProvisionError> {
        self.find_exact(
            token,
            "looking up the tenant",
            "/api/tenants",
            "title",
            title,
        )
        .await
    }

    /// `POST /api/tenant` with `{"title"}`; returns the new id.
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn create_tenant(
        &self,
        token: &Token,
        title: &str,
    ) -> Result<String, ProvisionError> {
        let req = self
            .authed(Method::POST, "/api/tenant", token)
            .timeout(ENTITY_TIMEOUT)
            .json(&json!({ "title": title }));
        let v = self.json_ok("creating the tenant", req).await?;
        self.created_id("creating the tenant", &v)
    }

    /// The customer titled exactly `title`.
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn find_customer(
        &self,
        token: &Token,
        title: &str,
    ) -> Result<Option<Entity>, ProvisionError> {
        self.find_exact(
            token,
            "looking up the customer",
            "/api/customers",
            "title",
            title,
        )
        .await
    }

    /// Every customer of the tenant except the public one: (id, title).
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn list_customers(&self, token: &Token) -> Result<Vec<Entity>, ProvisionError> {
        let all = self
            .pages(token, "listing customers", "/api/customers", "")
            .await?;
        Ok(all
            .iter()
            .filter(|v| {
                !v.pointer("/additionalInfo/isPublic")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            })
            .filter_map(|v| Self::entity(v, "title"))
            .collect())
    }

    /// `POST /api/customer` with `{"title"}`; returns the new id.
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn create_customer(
        &self,
        token: &Token,
        title: &str,
    ) -> Result<String, ProvisionError> {
        let req = self
            .authed(Method::POST, "/api/customer", token)
            .timeout(ENTITY_TIMEOUT)
            .json(&json!({ "title": title }));
        let v = self.json_ok("creating the customer", req).await?;
        self.created_id("creating the customer", &v)
    }

    /// `DELETE /api/customer/{id}` (its users go with it).
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn delete_customer(&self, token: &Token, id: &str) -> Result<(), ProvisionError> {
        let req = self
            .authed(Method::DELETE, &format!("/api/customer/{id}"), token)
            .timeout(ENTITY_TIMEOUT);
        self.json_ok("deleting the customer", req).await.map(drop)
    }

    /// The users of a tenant (`GET /api/tenant/{id}/users`) or customer
    /// (`GET /api/customer/{id}/users`) matching `email` exactly (empty: all).
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn find_users(
        &self,
        token: &Token,
        owner: Owner<'_>,
        email: &str,
    ) -> Result<Vec<Entity>, ProvisionError> {
        let base = match owner {
            Owner::Tenant(id) => format!("/api/tenant/{id}/users"),
            Owner::Customer(id) => format!("/api/customer/{id}/users"),
        };
        let all = self.pages(token, "looking up users", &base, email).await?;
        Ok(all
            .iter()
            .filter_map(|v| Self::entity(v, "email"))
            .filter(|e| email.is_empty() || e.name.eq_ignore_ascii_case(email))
            .collect())
    }

    /// `POST /api/user?sendActivationMail=false` creating a tenant admin or customer user.
    ///
    /// # Errors
    /// HTTP failures other than "already exists".
    pub async fn create_user(
        &self,
        token: &Token,
        owner: Owner<'_>,
        email: &str,
    ) -> Result<Created, ProvisionError> {
        let body = match owner {
            Owner::Tenant(id) => json!({
                "email": email,
                "authority": "TENANT_ADMIN",
                "tenantId": {"id": id, "entityType": "TENANT"},
            }),
            Owner::Customer(id) => json!({
                "email": email,
                "authority": "CUSTOMER_USER",
                "customerId": {"id": id, "entityType": "CUSTOMER"},
            }),
        };
        let req = self
            .authed(Method::POST, "/api/user?sendActivationMail=false", token)
            .timeout(ENTITY_TIMEOUT)
            .json(&body);
        let resp = self.api.send(req).await?;
        if resp.status() == StatusCode::BAD_REQUEST {
            let err = self.api.error("creating the user", resp).await;
            if err.to_string().to_ascii_lowercase().contains("already") {
                return Ok(Created::AlreadyExists);
            }
            return Err(err);
        }
        if !resp.status().is_success() {
            return Err(self.api.error("creating the user", resp).await);
        }
        let v: Value = resp.json().await.map_err(|e| ProvisionError::Failed {
            service: self.api.service.clone(),
            detail: format!("creating the user: unexpected answer: {e}"),
        })?;
        self.created_id("creating the user", &v).map(Created::Id)
    }

    /// `DELETE /api/user/{id}`.
    ///
    /// # Errors
    /// HTTP failures.
    pub async fn delete_user(&self, token: &Token, id: &str) -> Result<(), ProvisionError> {
        let req = self
            .authed(Method::DELETE, &format!("/api/user/{id}"), token)
            .timeout(ENTITY_TIMEOUT);
        self.json_ok("deleting the user", req).await.map(drop)
    }

    /// `GET /api/user/{id}/activationLink`: the `activateToken` of a user that is not
    /// activated yet; `None` when ThingsBoard answers 400 (already activated).
    ///
    /// # Errors
    /// HTTP failures, or a link without a token.
    pub async fn activation_token(
        &self,
        token: &Token,
        user_id: &str,
    ) -> Result<Option<SecretString>, ProvisionError> {
        let req = self
            .authed(
                Method::GET,
                &format!("/api/user/{user_id}/activationLink"),
                token,
            )
            .timeout(ACTIVATE_TIMEOUT);
        let resp = self.api.send(req).await?;
        if resp.status() == StatusCode::BAD_REQUEST {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(self.api.error("reading the activation link", resp).await);
        }
        let link = resp.text().await.unwrap_or_default();
        let tok = link
            .split(['?', '&'])
            .find_map(|kv| kv.strip_prefix("activateToken="))
            .map(|t| t.trim().trim_end_matches('"').to_owned())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ProvisionError::Failed {
                service: self.api.service.clone(),
                detail: "the activation link holds no activateToken".into(),
            })?;
        Ok(Some(SecretString::from(tok)))
    }

    /// `POST /api/noauth/activate?sendActivationMail=false` with `{"activateToken","password"}`
    /// (no auth).
    ///
    /// # Errors
    /// HTTP failures (a weak password is [`ProvisionError::Api`] with ThingsBoard's message).
    pub async fn activate(
        &self,
        activate_token: &SecretString,
        password: &SecretString,
    ) -> Result<(), ProvisionError> {
        let req = self
            .api
            .request(
                Method::POST,
                "/api/noauth/activate?sendActivationMail=false",
            )
            .timeout(ACTIVATE_TIMEOUT)
            .json(&json!({
                "activateToken": activate_token.expose_secret(),
                "password": password.expose_secret(),
            }));
        self.json_ok("activating the user", req).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode("DTaaS Tenant&x=1"), "DTaaS%20Tenant%26x%3D1");
        assert_eq!(encode("a.b-c_d~"), "a.b-c_d~");
        assert_eq!(encode("a/b%c #d?e"), "a%2Fb%25c%20%23d%3Fe");
    }

    #[test]
    fn token_debug_is_redacted() {
        let t = Token::new(SecretString::from("jwt-secret"));
        assert!(!format!("{t:?}").contains("jwt-secret"));
    }
}
