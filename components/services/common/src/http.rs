//! The one reqwest client builder of the workspace, and a bounded retry around requests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Client, RequestBuilder, Response, StatusCode};

use crate::ProvisionError;

/// How the HTTP client verifies TLS.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// `SSL_VERIFY`: false accepts any certificate (self-signed test installs).
    pub ssl_verify: bool,
    /// Extra trusted roots (PEM bundle), merged with the platform's.
    pub ca_file: Option<PathBuf>,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            ssl_verify: true,
            ca_file: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl HttpOptions {
    /// From the project's settings: `SSL_VERIFY`, and the project's CA ([`project_ca_file`]).
    #[must_use]
    pub fn from_settings(settings: &config::Settings) -> Self {
        Self {
            ssl_verify: settings.ssl_verify(),
            ca_file: project_ca_file(settings.project_dir()),
            ..Self::default()
        }
    }
}

/// The project's CA bundle: `certs/ca.pem`, else `certs/fullchain.pem`, when present.
#[must_use]
pub fn project_ca_file(project_dir: &Path) -> Option<PathBuf> {
    ["ca.pem", "fullchain.pem"]
        .iter()
        .map(|f| project_dir.join("certs").join(f))
        .find(|p| p.is_file())
}

/// Build the HTTP client every service crate uses.
///
/// # Errors
/// [`ProvisionError::Config`] when the CA file cannot be read or parsed, or TLS cannot be
/// initialised.
pub fn http_client(opts: &HttpOptions) -> Result<Client, ProvisionError> {
    let cfg = |detail: String| ProvisionError::Config {
        service: "HTTP client".to_owned(),
        detail,
    };
    let mut b = Client::builder()
        .timeout(opts.timeout)
        .connect_timeout(opts.connect_timeout)
        .user_agent(concat!("dtaas-services/", env!("CARGO_PKG_VERSION")));
    if opts.ssl_verify {
        if let Some(path) = &opts.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| cfg(format!("cannot read CA file {}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| cfg(format!("invalid CA file {}: {e}", path.display())))?;
            b = b.tls_certs_merge(certs);
        }
    } else {
        b = b.tls_danger_accept_invalid_certs(true);
    }
    b.build()
        .map_err(|e| cfg(format!("cannot build the HTTP client: {e}")))
}

/// Bounded exponential backoff for network errors and 5xx answers.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Total attempts (at least 1).
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 4,
            first_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl Retry {
    /// No retry at all.
    #[must_use]
    pub fn none() -> Self {
        Self {
            attempts: 1,
            ..Self::default()
        }
    }

    fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.min(16);
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// A service's HTTP API: a client, a base URL and a retry policy. Its Debug shows the base
/// URL as [`redact::url`] shows it (no userinfo password, no secret query value) and not the
/// client.
#[derive(Clone)]
pub struct HttpApi {
    pub client: Client,
    /// Without a trailing slash and without credentials.
    pub base: String,
    /// The display name of the service, for messages.
    pub service: String,
    pub retry: Retry,
}

impl std::fmt::Debug for HttpApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpApi")
            .field("base", &redact::url(&self.base))
            .field("service", &self.service)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl HttpApi {
    #[must_use]
    pub fn new(client: Client, base: &str, service: &str) -> Self {
        Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            service: service.to_owned(),
            retry: Retry::default(),
        }
    }

    /// A request to `path` (starting with `/`) of the API.
    pub fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    /// Send `req`, retrying what cannot have had an effect twice; 4xx answers are returned at
    /// once, and so is the last 5xx answer (the caller maps statuses to errors).
    ///
    /// Idempotent requests (GET, PUT, DELETE...) are retried after any network error and any
    /// 5xx answer. Others (POST, PATCH) may already have been carried out when the answer is
    /// lost (a whole-request timeout, a reset connection, a 500/502/504), and a second attempt
    /// would duplicate it (a second OAuth application, token or user): they are retried only
    /// when the connection could not be made, or on 503 (the server did not take the request).
    ///
    /// # Errors
    /// [`ProvisionError::Unreachable`] when the last attempt failed without an answer.
    pub async fn send(&self, req: RequestBuilder) -> Result<Response, ProvisionError> {
        let attempts = self.retry.attempts.max(1);
        let idempotent = req
            .try_clone()
            .and_then(|r| r.build().ok())
            .is_none_or(|r| r.method().is_idempotent());
        let mut attempt = 0;
        loop {
            let this = req.try_clone().ok_or_else(|| ProvisionError::Failed {
                service: self.service.clone(),
                detail: "internal: request body cannot be retried".to_owned(),
            })?;
            attempt += 1;
            match this.send().await {
                Ok(resp)
                    if attempt < attempts
                        && resp.status().is_server_error()
                        && (idempotent || resp.status() == StatusCode::SERVICE_UNAVAILABLE) =>
                {
                    tracing::debug!(service = %self.service, status = %resp.status(), attempt, "retrying after a server error");
                }
                Ok(resp) => return Ok(resp),
                Err(e)
                    if attempt < attempts && !e.is_builder() && (idempotent || e.is_connect()) =>
                {
                    tracing::debug!(service = %self.service, error = %e.without_url(), attempt, "retrying after a network error");
                }
                Err(e) => {
                    return Err(ProvisionError::Unreachable {
                        service: self.service.clone(),
                        target: redact::url(&self.base),
                        detail: redact::text(&error_chain(&e.without_url())),
                    });
                }
            }
            tokio::time::sleep(self.retry.delay(attempt - 1)).await;
        }
    }

    /// Map a non-success answer to an error: 401/403 → `Unauthorized`, others → `Api`.
    /// Send `req`: its JSON body on 2xx (`null` when empty), `None` on 404, otherwise an
    /// error about `action`.
    ///
    /// # Errors
    /// The API could not be reached or answered something other than 2xx/404.
    pub async fn json_or_none(
        &self,
        req: RequestBuilder,
        action: &str,
    ) -> Result<Option<serde_json::Value>, ProvisionError> {
        let resp = self.send(req).await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(resp.json().await.unwrap_or(serde_json::Value::Null))),
            _ => Err(self.error(action, resp).await),
        }
    }

    /// Whether `user` logs in with `password`: `method path` with their basic auth; a 2xx
    /// answer is yes, 401/403 no, anything else an error about `action`.
    ///
    /// # Errors
    /// The API could not be reached or answered something else.
    pub async fn login_ok(
        &self,
        method: reqwest::Method,
        path: &str,
        user: &str,
        password: &secrecy::SecretString,
        action: &str,
    ) -> Result<bool, ProvisionError> {
        use secrecy::ExposeSecret as _;
        let req = self
            .request(method, path)
            .basic_auth(user, Some(password.expose_secret()));
        let resp = self.send(req).await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Ok(false),
            _ => Err(self.error(action, resp).await),
        }
    }

    pub async fn error(&self, action: &str, resp: Response) -> ProvisionError {
        let status = resp.status();
        let detail = api_message(resp).await;
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            ProvisionError::Unauthorized {
                service: self.service.clone(),
                detail: format!("{action}: HTTP {}: {detail}", status.as_u16()),
            }
        } else {
            ProvisionError::Api {
                service: self.service.clone(),
                action: action.to_owned(),
                status: status.as_u16(),
                detail,
            }
        }
    }
}

/// The `message`/`error`/`reason` of a JSON error body, or the first line of the text.
async fn api_message(resp: Response) -> String {
    let text = resp.text().await.unwrap_or_default();
    let from_json = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            ["message", "reason", "error"]
                .iter()
                .find_map(|k| v.get(k).and_then(|m| m.as_str()).map(str::to_owned))
        });
    let msg = from_json.unwrap_or_else(|| text.lines().next().unwrap_or("").trim().to_owned());
    if msg.is_empty() {
        "(no message)".to_owned()
    } else {
        msg.chars().take(300).collect()
    }
}

/// An error and its sources on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
