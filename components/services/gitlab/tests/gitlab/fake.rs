//! A small stateful GitLab stand-in for wiremock (API v4 under /gitlab), and a fake
//! container (readiness, `gitlab-rails runner`, `cat initial_root_password`).
//!
//! Reproduces gitlabhq/gitlabhq v18.10.1 where it matters to our client:
//! - lib/api/users.rb `PUT /users/:id`: a password set by an admin for ANOTHER user sets
//!   `password_expires_at = Time.current`; app/models/user.rb `password_expired_if_applicable?`
//!   then holds (a human user, password not set automatically, password auth allowed), and
//!   app/policies/global_policy.rb prevents `access_api`, so lib/api/api_guard.rb
//!   `find_current_user!` answers that user's tokens with `forbidden!` and
//!   lib/gitlab/auth/user_access_denied_reason.rb's message (403, below); the same for a
//!   blocked user. `POST /users` (Users::BuildService) sets no expiry.
//! - lib/api/applications.rb: admin only; `POST` declares name, redirect_uri, scopes
//!   (required, not blank) and confidential (default true): `trusted` is ignored and a new
//!   application is not trusted; lib/api/entities/application.rb shows no `trusted`.
//! - lib/api/users.rb `POST /users/:id/personal_access_tokens` (admin only; `name`, `scopes`
//!   from the available ones) with app/models/personal_access_token.rb: `expires_at` at most
//!   `Date.current` + 365 days in the instance's time zone (`today_offset_days`), else 422
//!   "Expires at must be before <date>".
//! - config/initializers/doorkeeper.rb: `POST /oauth/token` password grant (`ropc`), without
//!   client credentials only while `ropc_without_client_credentials` is on, else 401
//!   `invalid_client`.
//! - `gitlab-rails runner -` interprets the statements of our scripts against this state
//!   (runner.rs).
//!
//! Version read: the 18.x files of the stored gitlabhq/gitlabhq index (the repository is too
//! large to fetch whole); the ones cited carry 18.x features (`Current.organization_id` on
//! token creation, granular tokens, `device_code` in doorkeeper.rb).
//!
//! Upstream: the stand-in reproduces github.com/gitlabhq/gitlabhq v18.10.1 (lib/api/users.rb,
//! lib/api/applications.rb, app/policies/global_policy.rb, app/controllers/health_controller.rb;
//! each behaviour cited in fake.rs, every row in docs/upstream-contracts.md).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use docker::{DockerError, ExecOutput, ExecSpec};
use serde_json::{Value, json};
use services_common::BoxFuture;
use services_gitlab::{GitLabContainer, Readiness};
use wiremock::{Request, Respond, ResponseTemplate};

#[derive(Debug, Clone)]
pub struct FakeUser {
    pub id: u64,
    pub username: String,
    pub email: String,
    pub password: String,
    pub admin: bool,
    pub blocked: bool,
    /// `password_expires_at` set and in the past (an admin changed the password).
    pub password_expired: bool,
}

#[derive(Debug, Clone)]
pub struct FakeToken {
    pub id: u64,
    pub user: u64,
    pub name: String,
    pub value: String,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub struct FakeApp {
    pub id: u64,
    pub uid: String,
    pub name: String,
    pub callback: String,
    pub confidential: bool,
    pub secret: String,
    /// Doorkeeper's `trusted` column (no consent screen); only the runner changes it.
    pub trusted: bool,
}

#[derive(Debug, Default)]
pub struct State {
    pub users: Vec<FakeUser>,
    pub tokens: Vec<FakeToken>,
    pub oauth: BTreeMap<String, u64>,
    pub apps: Vec<FakeApp>,
    pub next: u64,
    /// Doorkeeper's `password` grant flow is on (config/initializers/doorkeeper.rb
    /// `grant_flows`); off answers `unsupported_grant_type`.
    pub ropc: bool,
    /// Application setting `ropc_without_client_credentials` (default true): off, a
    /// password grant without client credentials is `invalid_client` (401).
    pub ropc_without_client_credentials: bool,
    /// The instance's `Date.current` minus UTC's today, in days (its time zone).
    pub today_offset_days: i64,
    pub failures: Vec<(String, String, u16, u32)>,
}

#[derive(Debug, Clone, Default)]
pub struct FakeGitLab(pub Arc<Mutex<State>>);

fn msg(status: u16, m: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"message": m}))
}

impl FakeGitLab {
    pub fn new() -> Self {
        let f = Self::default();
        {
            let mut s = f.0.lock().unwrap();
            s.ropc = true;
            s.ropc_without_client_credentials = true;
            s.next = 100;
            s.users.push(FakeUser {
                id: 1,
                username: "root".into(),
                email: "admin@example.com".into(),
                password: "Initial-Root-Pw".into(),
                admin: true,
                blocked: false,
                password_expired: false,
            });
        }
        f
    }

    pub fn fail(&self, method: &str, prefix: &str, status: u16, times: u32) {
        self.0
            .lock()
            .unwrap()
            .failures
            .push((method.into(), prefix.into(), status, times));
    }

    /// What `gitlab-rails runner` does with the script: revoke and create root's token.
    pub fn runner_token(&self) -> String {
        let mut s = self.0.lock().unwrap();
        for t in s
            .tokens
            .iter_mut()
            .filter(|t| t.user == 1 && t.name == "dtaas-services")
        {
            t.revoked = true;
        }
        s.next += 1;
        let id = s.next;
        let value = format!("glpat-runner-{id}");
        s.tokens.push(FakeToken {
            id,
            user: 1,
            name: "dtaas-services".into(),
            value: value.clone(),
            revoked: false,
        });
        value
    }

    pub fn active_tokens(&self, user: u64) -> Vec<String> {
        let s = self.0.lock().unwrap();
        s.tokens
            .iter()
            .filter(|t| t.user == user && !t.revoked)
            .map(|t| t.name.clone())
            .collect()
    }

    /// Each application's name and `trusted` flag.
    pub fn app_trust(&self) -> Vec<(String, bool)> {
        let s = self.0.lock().unwrap();
        s.apps.iter().map(|a| (a.name.clone(), a.trusted)).collect()
    }

    pub fn password_expired(&self, username: &str) -> bool {
        let s = self.0.lock().unwrap();
        s.users
            .iter()
            .find(|u| u.username == username)
            .is_some_and(|u| u.password_expired)
    }

    pub fn app_names(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .apps
            .iter()
            .map(|a| a.name.clone())
            .collect()
    }

    /// The user's state: `None` when deleted, else whether it is blocked.
    pub fn blocked(&self, username: &str) -> Option<bool> {
        let s = self.0.lock().unwrap();
        s.users
            .iter()
            .find(|u| u.username == username)
            .map(|u| u.blocked)
    }

    pub fn password(&self, username: &str) -> String {
        let s = self.0.lock().unwrap();
        s.users
            .iter()
            .find(|u| u.username == username)
            .unwrap()
            .password
            .clone()
    }
}

fn user_json(u: &FakeUser) -> Value {
    let state = if u.blocked { "blocked" } else { "active" };
    json!({"id": u.id, "username": u.username, "name": u.username, "email": u.email, "is_admin": u.admin, "bot": false, "state": state})
}

fn app_json(a: &FakeApp, secret: bool) -> Value {
    let mut v = json!({"id": a.id, "application_id": a.uid, "application_name": a.name, "callback_url": a.callback, "confidential": a.confidential});
    if secret {
        v["secret"] = json!(a.secret);
    }
    v
}

impl Respond for FakeGitLab {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.0.lock().unwrap();
        let method = req.method.as_str().to_owned();
        let path = req.url.path().trim_start_matches("/gitlab").to_owned();
        let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        for f in &mut s.failures {
            if f.0 == method && path.starts_with(&f.1) && f.3 > 0 {
                f.3 -= 1;
                return msg(f.2, "injected failure");
            }
        }
        s.next += 1;
        let n = s.next;
        if method == "POST" && path == "/oauth/token" {
            let form: BTreeMap<String, String> = url_pairs(&String::from_utf8_lossy(&req.body));
            if !s.ropc {
                return ResponseTemplate::new(400)
                    .set_body_json(json!({"error": "unsupported_grant_type"}));
            }
            // doorkeeper.rb PasswordAccessTokenRequest#validate_client: without client
            // credentials only while ropc_without_client_credentials is on.
            if !s.ropc_without_client_credentials && !form.contains_key("client_id") {
                return ResponseTemplate::new(401).set_body_json(json!({
                    "error": "invalid_client",
                    "error_description": "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."
                }));
            }
            let ok = form.get("grant_type").map(String::as_str) == Some("password")
                && s.users.iter().any(|u| {
                    Some(&u.username) == form.get("username")
                        && Some(&u.password) == form.get("password")
                });
            if !ok {
                return ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"}));
            }
            let t = format!("oauth-{n}");
            s.oauth.insert(t.clone(), 1);
            return ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": t, "token_type": "Bearer"}));
        }
        let pat = req
            .headers
            .get("private-token")
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned);
        let bearer = req
            .headers
            .get("authorization")
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::to_owned);
        let caller = match (pat, bearer) {
            (Some(p), _) => s
                .tokens
                .iter()
                .find(|t| t.value == p && !t.revoked)
                .map(|t| t.user),
            (_, Some(b)) => s.oauth.get(&b).copied(),
            _ => None,
        };
        let Some(caller) = caller else {
            return msg(401, "401 Unauthorized");
        };
        let Some(me) = s.users.iter().find(|u| u.id == caller).cloned() else {
            return msg(401, "401 Unauthorized");
        };
        // lib/api/api_guard.rb find_current_user!: GlobalPolicy's access_api, refused with
        // Gitlab::Auth::UserAccessDeniedReason#rejection_message.
        if me.blocked {
            return msg(403, "403 Forbidden - Your account has been blocked.");
        }
        if me.password_expired {
            return msg(
                403,
                "403 Forbidden - Your password expired. Please access GitLab from a web browser to update your password.",
            );
        }
        let admin_only = matches!(
            (method.as_str(), path.trim_start_matches("/api/v4")),
            ("PUT" | "DELETE", p) if p.starts_with("/users/")
        ) || path.starts_with("/api/v4/applications")
            || (method == "POST" && path.starts_with("/api/v4/users"));
        if admin_only && !me.admin {
            return msg(403, "403 Forbidden");
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let parts: Vec<&str> = path.trim_start_matches("/api/v4/").split('/').collect();
        match (method.as_str(), parts.as_slice()) {
            ("GET", ["user"]) => {
                let u = s.users.iter().find(|u| u.id == caller).unwrap();
                ResponseTemplate::new(200).set_body_json(user_json(u))
            }
            ("GET", ["personal_access_tokens"]) => {
                let uid: u64 = q.get("user_id").and_then(|v| v.parse().ok()).unwrap_or(0);
                let v: Vec<Value> = s
                    .tokens
                    .iter()
                    .filter(|t| t.user == uid && !t.revoked)
                    .map(|t| json!({"id": t.id, "name": t.name, "revoked": false, "active": true}))
                    .collect();
                ResponseTemplate::new(200).set_body_json(v)
            }
            ("DELETE", ["personal_access_tokens", id]) => {
                let id: u64 = id.parse().unwrap();
                match s.tokens.iter_mut().find(|t| t.id == id) {
                    Some(t) => {
                        t.revoked = true;
                        ResponseTemplate::new(204)
                    }
                    None => msg(404, "404 Not found"),
                }
            }
            ("POST", ["users", id, "personal_access_tokens"]) => {
                let uid: u64 = id.parse().unwrap();
                if let Err(refusal) = check_new_token(&body, s.today_offset_days) {
                    return *refusal;
                }
                let value = format!("glpat-{n}");
                s.tokens.push(FakeToken {
                    id: n,
                    user: uid,
                    name: body["name"].as_str().unwrap_or("").into(),
                    value: value.clone(),
                    revoked: false,
                });
                ResponseTemplate::new(201)
                    .set_body_json(json!({"id": n, "name": body["name"], "token": value}))
            }
            ("GET", ["users", id]) => {
                let id: u64 = id.parse().unwrap();
                match s.users.iter().find(|u| u.id == id) {
                    Some(u) => ResponseTemplate::new(200).set_body_json(user_json(u)),
                    None => msg(404, "404 User Not Found"),
                }
            }
            ("PUT", ["users", id]) => {
                let id: u64 = id.parse().unwrap();
                let u = s.users.iter_mut().find(|u| u.id == id).unwrap();
                if let Some(p) = body["password"].as_str().filter(|p| !p.is_empty()) {
                    u.password = p.into();
                    // admin_making_changes_for_another_user: password_expires_at = now.
                    if caller != id {
                        u.password_expired = true;
                    }
                }
                let v = user_json(u);
                ResponseTemplate::new(200).set_body_json(v)
            }
            ("POST", ["users", id, "block"]) => {
                let id: u64 = id.parse().unwrap();
                match s.users.iter_mut().find(|u| u.id == id) {
                    Some(u) => {
                        u.blocked = true;
                        ResponseTemplate::new(201).set_body_json(json!(true))
                    }
                    None => msg(404, "404 User Not Found"),
                }
            }
            ("DELETE", ["users", id]) => {
                let id: u64 = id.parse().unwrap();
                s.users.retain(|u| u.id != id);
                ResponseTemplate::new(204)
            }
            ("GET", ["users"]) => {
                let v: Vec<Value> = s
                    .users
                    .iter()
                    .filter(|u| q.get("username").is_none_or(|n| *n == u.username))
                    .map(user_json)
                    .collect();
                ResponseTemplate::new(200).set_body_json(v)
            }
            ("POST", ["users"]) => {
                let username = body["username"].as_str().unwrap_or("").to_owned();
                let email = body["email"].as_str().unwrap_or("").to_owned();
                if s.users
                    .iter()
                    .any(|u| u.username == username || u.email == email)
                {
                    return msg(409, "Username has already been taken");
                }
                let u = FakeUser {
                    id: n,
                    username,
                    email,
                    password: body["password"].as_str().unwrap_or("").into(),
                    admin: false,
                    blocked: false,
                    password_expired: false,
                };
                let v = user_json(&u);
                s.users.push(u);
                ResponseTemplate::new(201).set_body_json(v)
            }
            ("GET", ["applications"]) => {
                let v: Vec<Value> = s.apps.iter().map(|a| app_json(a, false)).collect();
                ResponseTemplate::new(200).set_body_json(v)
            }
            ("POST", ["applications"]) => {
                if body["scopes"].as_str().is_none_or(|v| v.trim().is_empty()) {
                    return msg(400, "scopes is missing, scopes is empty");
                }
                let a = FakeApp {
                    id: n,
                    uid: format!("uid-{n}"),
                    name: body["name"].as_str().unwrap_or("").into(),
                    callback: body["redirect_uri"].as_str().unwrap_or("").into(),
                    confidential: body["confidential"].as_bool().unwrap_or(true),
                    secret: format!("gloas-{n}"),
                    trusted: false,
                };
                let v = app_json(&a, true);
                s.apps.push(a);
                ResponseTemplate::new(201).set_body_json(v)
            }
            ("POST", ["applications", id, "renew-secret"]) => {
                let id: u64 = id.parse().unwrap();
                let a = s.apps.iter_mut().find(|a| a.id == id).unwrap();
                a.secret = format!("gloas-renewed-{n}");
                let v = app_json(a, true);
                ResponseTemplate::new(201).set_body_json(v)
            }
            ("DELETE", ["applications", id]) => {
                let id: u64 = id.parse().unwrap();
                s.apps.retain(|a| a.id != id);
                ResponseTemplate::new(204)
            }
            _ => msg(404, "no such route in the fake"),
        }
    }
}

/// The scopes `Gitlab::Auth.all_available_scopes` offers a CE instance (lib/gitlab/auth.rb).
const SCOPES: &[&str] = &[
    "api",
    "read_api",
    "read_user",
    "create_runner",
    "manage_runner",
    "k8s_proxy",
    "self_rotate",
    "read_repository",
    "write_repository",
    "read_registry",
    "write_registry",
    "read_virtual_registry",
    "write_virtual_registry",
    "sudo",
    "admin_mode",
    "read_service_ping",
];

/// `POST /users/:id/personal_access_tokens` (lib/api/users.rb: `name` and `scopes`
/// required, scopes from the available ones; `expires_at` optional, a date): the
/// PersonalAccessToken validations (app/models/personal_access_token.rb): with
/// `require_personal_access_token_expiry` (default on) `expires_at` at most
/// `Date.current` + 365 days in the instance's time zone, else 422 "Expires at must be
/// before <date>"; a missing date becomes that maximum (PersonalAccessTokens::CreateService).
fn check_new_token(body: &Value, today_offset_days: i64) -> Result<(), Box<ResponseTemplate>> {
    let bad = |m: &str| {
        Err(Box::new(
            ResponseTemplate::new(400).set_body_json(json!({"error": m})),
        ))
    };
    if body["name"].as_str().is_none_or(str::is_empty) {
        return bad("name is missing");
    }
    let scopes = body["scopes"].as_array().cloned().unwrap_or_default();
    if scopes.is_empty() {
        return bad("scopes is missing");
    }
    if scopes
        .iter()
        .any(|s| s.as_str().is_none_or(|s| !SCOPES.contains(&s)))
    {
        return bad("scopes does not have a valid value");
    }
    let today = time::OffsetDateTime::now_utc().date() + time::Duration::days(today_offset_days);
    let max = today + time::Duration::days(365);
    let Some(raw) = body["expires_at"].as_str() else {
        return Ok(());
    };
    let Some(date) = date(raw) else {
        return bad("expires_at is invalid");
    };
    if date > max {
        return Err(Box::new(ResponseTemplate::new(422).set_body_json(
            json!({"message": format!("Expires at must be before {max}")}),
        )));
    }
    Ok(())
}

/// `YYYY-MM-DD`.
fn date(raw: &str) -> Option<time::Date> {
    let mut parts = raw.splitn(3, '-').map(str::parse::<u32>);
    let (y, m, d) = (
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    );
    let month = time::Month::try_from(u8::try_from(m).ok()?).ok()?;
    time::Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(d).ok()?).ok()
}

fn url_pairs(body: &str) -> BTreeMap<String, String> {
    let url = reqwest::Url::parse(&format!("http://x/?{body}")).unwrap();
    url.query_pairs().into_owned().collect()
}

/// The GitLab container: scripted readiness, runner and initial-password file.
#[derive(Debug)]
pub struct FakeContainer {
    pub gitlab: FakeGitLab,
    pub readiness: Mutex<Vec<Readiness>>,
    /// `false`: every `gitlab-rails runner` fails.
    pub runner_works: bool,
    /// Only the token script fails (an image whose models differ from what it expects).
    pub token_script_fails: bool,
    /// Rewrites the runner's stdout (to test that results are checked).
    pub tamper: Option<fn(String) -> String>,
    pub initial_password: Option<String>,
    pub execs: Mutex<Vec<ExecSpec>>,
}

impl FakeContainer {
    pub fn new(gitlab: &FakeGitLab) -> Self {
        Self {
            gitlab: gitlab.clone(),
            readiness: Mutex::new(vec![Readiness::Healthy]),
            runner_works: true,
            token_script_fails: false,
            tamper: None,
            initial_password: Some("Initial-Root-Pw".into()),
            execs: Mutex::new(Vec::new()),
        }
    }
}

impl GitLabContainer for FakeContainer {
    fn readiness(&self) -> BoxFuture<'_, Result<Readiness, DockerError>> {
        let mut r = self.readiness.lock().unwrap();
        let v = if r.len() > 1 { r.remove(0) } else { r[0] };
        Box::pin(async move { Ok(v) })
    }

    fn exec<'a>(&'a self, spec: &'a ExecSpec) -> BoxFuture<'a, Result<ExecOutput, DockerError>> {
        self.execs.lock().unwrap().push(spec.clone());
        let out = match spec.cmd[0].as_str() {
            "gitlab-rails"
                if self.runner_works
                    && !(self.token_script_fails
                        && spec.stdin.as_ref().is_some_and(|s| {
                            String::from_utf8_lossy(s).contains("personal_access_tokens")
                        })) =>
            {
                assert_eq!(spec.cmd, ["gitlab-rails", "runner", "-"], "script on STDIN");
                let script = String::from_utf8(spec.stdin.clone().unwrap_or_default()).unwrap();
                let mut out = self.gitlab.rails_runner(&script, &spec.env);
                if let Some(t) = self.tamper {
                    out.stdout = t(String::from_utf8(out.stdout).unwrap()).into_bytes();
                }
                out
            }
            "gitlab-rails" => ExecOutput {
                exit_code: 1,
                stdout: Vec::new(),
                stderr: b"NameError: undefined method".to_vec(),
            },
            "cat" => match &self.initial_password {
                Some(p) => ExecOutput {
                    exit_code: 0,
                    stdout: format!("# comment\nPassword: {p}\n").into_bytes(),
                    stderr: Vec::new(),
                },
                None => ExecOutput {
                    exit_code: 1,
                    stdout: Vec::new(),
                    stderr: b"No such file".to_vec(),
                },
            },
            _ => ExecOutput {
                exit_code: 127,
                ..ExecOutput::default()
            },
        };
        Box::pin(async move { Ok(out) })
    }
}
