//! A stateful Grafana stand-in for wiremock, reproducing the upstream behaviour the
//! provisioner depends on (grafana/grafana v12.3.1, the pinned `grafana/grafana:12.3.1-ubuntu`):
//!
//! - pkg/services/authn/authnimpl/registration.go: the basic-auth client exists only with
//!   `[auth.basic] enabled` (the generated service sets GF_AUTH_BASIC_ENABLED=false); the
//!   form client (`POST /login`) unless `disable_login_form`; the session client reads the
//!   cookie named `[auth] login_cookie_name` (default `grafana_session`). A request that no
//!   client authenticates gets 401.
//! - pkg/services/authn/clients/form.go + password.go: `POST /login` with JSON
//!   `{"user","password"}` (both required, else 400 "bad login data"); the user is found by
//!   login or email, case-insensitively (user.case_insensitive_login, default on); a wrong
//!   password is 401 "Invalid username or password" (password-auth.failed) and counts as a
//!   failed attempt.
//! - pkg/services/loginattempt/loginattemptimpl/login_attempt.go: 5 failed attempts for a
//!   (lower-cased) login within 5 minutes block its logins (401, login-attempt.blocked).
//! - pkg/api/login.go LoginPost + pkg/services/authn/authn.go HandleLoginResponse: 200
//!   `{"message":"Logged in","redirectUrl":"/"}` and Set-Cookie `<login_cookie_name>=<token>`
//!   (plus `grafana_session_expiry`); Logout (`GET /logout`) revokes the token and redirects
//!   to /login.
//! - pkg/middleware/csrf/csrf.go: a request carrying the login cookie with a method other
//!   than HEAD/OPTIONS/TRACE and an `Origin` whose host differs from the Host header is 403
//!   "origin not allowed"; no Origin passes.
//! - pkg/api/admin_users.go: create (412 "User with email '…' or username '…' already
//!   exists"; 400 for a password under 4 characters), password (400 "New password too
//!   short"), delete (404 "user not found"); the admin API needs a server admin (403).
//!   pkg/api/org_users.go: 409 "User is already member of this organization".
//!   pkg/api/user.go: lookup 404 "user not found"; pkg/api/users.go search.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::{Request, Respond, ResponseTemplate};

/// The settings of the stand-in that upstream reads from grafana.ini / GF_* variables.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `[auth.basic] enabled` (GF_AUTH_BASIC_ENABLED).
    pub basic_auth_enabled: bool,
    /// `[auth] login_cookie_name`.
    pub login_cookie_name: String,
    /// `[auth] disable_login_form`.
    pub disable_login_form: bool,
}

impl Settings {
    /// As the generated compose file configures Grafana.
    pub fn generated() -> Self {
        Self {
            basic_auth_enabled: false,
            login_cookie_name: "grafana_session".to_owned(),
            disable_login_form: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub login: String,
    pub email: String,
    pub password: String,
    pub is_admin: bool,
    /// org id -> role
    pub orgs: BTreeMap<i64, String>,
}

#[derive(Debug)]
pub struct State {
    pub settings: Settings,
    pub users: Vec<User>,
    /// session token -> user id
    pub sessions: BTreeMap<String, i64>,
    /// lower-cased login -> failed attempts (the 5-minute window is longer than a test)
    pub failed: BTreeMap<String, u32>,
    next: i64,
}

/// The stand-in; clones share the state.
#[derive(Debug, Clone)]
pub struct FakeGrafana(pub Arc<Mutex<State>>);

/// Grafana's error body (pkg/api/response).
fn err(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"message": message}))
}

/// The errutil body of the authn errors.
fn authn_err(status: u16, message: &str, id: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"message": message, "messageId": id, "statusCode": status}))
}

/// The host of `host[:port]` (the port is ignored, as csrf.go does).
fn host_of(authority: &str) -> String {
    authority
        .rsplit_once(':')
        .map_or(authority, |(h, _)| h)
        .to_owned()
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn user_json(u: &User) -> Value {
    json!({"id": u.id, "login": u.login, "email": u.email, "name": u.login, "isGrafanaAdmin": u.is_admin, "isDisabled": false})
}

impl FakeGrafana {
    /// A Grafana with its admin (`GF_SECURITY_ADMIN_USER` / `_PASSWORD`).
    pub fn new(settings: Settings, admin: &str, admin_password: &str) -> Self {
        let admin = User {
            id: 1,
            login: admin.to_owned(),
            email: "admin@localhost".to_owned(),
            password: admin_password.to_owned(),
            is_admin: true,
            orgs: BTreeMap::from([(1, "Admin".to_owned())]),
        };
        Self(Arc::new(Mutex::new(State {
            settings,
            users: vec![admin],
            sessions: BTreeMap::new(),
            failed: BTreeMap::new(),
            next: 2,
        })))
    }

    pub fn user(&self, login: &str) -> Option<User> {
        let s = self.0.lock().unwrap();
        s.find(login).cloned()
    }

    pub fn open_sessions(&self) -> usize {
        self.0.lock().unwrap().sessions.len()
    }
}

impl State {
    /// By login or email, case-insensitively.
    fn find(&self, login_or_email: &str) -> Option<&User> {
        let k = login_or_email.to_lowercase();
        self.users
            .iter()
            .find(|u| u.login.to_lowercase() == k || u.email.to_lowercase() == k)
    }

    /// password.go: blocked logins first, then the password; a wrong one is counted.
    fn authenticate_password(&mut self, user: &str, password: &str) -> Result<i64, &'static str> {
        let key = user.to_lowercase();
        if self.failed.get(&key).copied().unwrap_or(0) >= 5 {
            return Err("login-attempt.blocked");
        }
        match self.find(user) {
            Some(u) if u.password == password => Ok(u.id),
            _ => {
                *self.failed.entry(key).or_default() += 1;
                Err("password-auth.failed")
            }
        }
    }

    fn login(&mut self, body: &Value) -> ResponseTemplate {
        if self.settings.disable_login_form {
            return authn_err(401, "Login is disabled", "authn.client-not-found");
        }
        let (Some(user), Some(password)) = (body["user"].as_str(), body["password"].as_str())
        else {
            return authn_err(400, "bad login data", "form-auth.invalid");
        };
        if user.is_empty() || password.is_empty() {
            return authn_err(400, "bad login data", "form-auth.invalid");
        }
        let id = match self.authenticate_password(user, password) {
            Ok(id) => id,
            Err(id) => return authn_err(401, "Invalid username or password", id),
        };
        let token = format!("tok{}x{}", self.next, id);
        self.next += 1;
        self.sessions.insert(token.clone(), id);
        let name = &self.settings.login_cookie_name;
        ResponseTemplate::new(200)
            .set_body_json(json!({"message": "Logged in", "redirectUrl": "/"}))
            .append_header(
                "set-cookie",
                format!("{name}={token}; Path=/; Max-Age=2592000; HttpOnly; Secure; SameSite=Lax"),
            )
            .append_header(
                "set-cookie",
                "grafana_session_expiry=1999999999; Path=/; Max-Age=2592000; Secure; SameSite=Lax",
            )
    }

    fn session_token(&self, req: &Request) -> Option<String> {
        let name = &self.settings.login_cookie_name;
        req.headers
            .get_all("cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_owned())
    }

    /// The authn clients in order: session cookie, then basic auth when registered.
    fn identity(&mut self, req: &Request) -> Option<i64> {
        if let Some(t) = self.session_token(req) {
            return self.sessions.get(&t).copied();
        }
        let basic = req
            .headers
            .get("authorization")
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Basic "))
            .map(str::to_owned)?;
        if !self.settings.basic_auth_enabled {
            return None;
        }
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(basic)
            .ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let (u, p) = raw.split_once(':')?;
        self.authenticate_password(u, p).ok()
    }

    /// csrf.go: cookie-authenticated unsafe requests must not come from a foreign Origin.
    fn csrf_refused(&self, req: &Request) -> bool {
        if self.session_token(req).is_none()
            || matches!(req.method.as_str(), "HEAD" | "OPTIONS" | "TRACE")
        {
            return false;
        }
        let Some(origin) = req.headers.get("origin").and_then(|o| o.to_str().ok()) else {
            return false;
        };
        let origin_host = origin
            .split_once("://")
            .map(|(_, rest)| host_of(rest.split('/').next().unwrap_or("")));
        let host = req
            .headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .map(host_of);
        host.is_none() || origin_host != host
    }

    fn admin_api(&mut self, method: &str, path: &str, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        let id_of = |p: &str, prefix: &str, suffix: &str| {
            p.strip_prefix(prefix)?
                .strip_suffix(suffix)?
                .parse::<i64>()
                .ok()
        };
        match (method, path) {
            ("GET", "/api/users/lookup") => {
                match self.find(q.get("loginOrEmail").map_or("", String::as_str)) {
                    Some(u) => ok(user_json(u)),
                    None => err(404, "user not found"),
                }
            }
            ("GET", "/api/users/search") => {
                let users: Vec<Value> = self
                    .users
                    .iter()
                    .map(|u| json!({"id": u.id, "login": u.login, "email": u.email, "isAdmin": u.is_admin}))
                    .collect();
                ok(json!({"totalCount": users.len(), "users": users, "page": 1, "perPage": 5000}))
            }
            ("POST", "/api/admin/users") => self.create_user(&body),
            ("PUT", p) if id_of(p, "/api/admin/users/", "/password").is_some() => {
                let id = id_of(p, "/api/admin/users/", "/password").unwrap();
                let pw = body["password"].as_str().unwrap_or("");
                if pw.len() < 4 {
                    return err(400, "New password too short");
                }
                match self.users.iter_mut().find(|u| u.id == id) {
                    Some(u) => {
                        u.password = pw.to_owned();
                        ok(json!({"message": "User password updated"}))
                    }
                    None => err(404, "user not found"),
                }
            }
            ("DELETE", p) if id_of(p, "/api/admin/users/", "").is_some() => {
                let id = id_of(p, "/api/admin/users/", "").unwrap();
                let before = self.users.len();
                self.users.retain(|u| u.id != id);
                if self.users.len() == before {
                    return err(404, "user not found");
                }
                self.sessions.retain(|_, u| *u != id);
                ok(json!({"message": "User deleted"}))
            }
            ("POST", p) if id_of(p, "/api/orgs/", "/users").is_some() => {
                let org = id_of(p, "/api/orgs/", "/users").unwrap();
                let who = body["loginOrEmail"].as_str().unwrap_or("").to_lowercase();
                let role = body["role"].as_str().unwrap_or("Viewer").to_owned();
                let Some(u) = self
                    .users
                    .iter_mut()
                    .find(|u| u.login.to_lowercase() == who || u.email.to_lowercase() == who)
                else {
                    return err(404, "User not found");
                };
                if u.orgs.contains_key(&org) {
                    return ResponseTemplate::new(409).set_body_json(
                        json!({"message": "User is already member of this organization", "userId": u.id}),
                    );
                }
                u.orgs.insert(org, role);
                ok(json!({"message": "User added to organization", "userId": u.id}))
            }
            _ => err(404, "Not found"),
        }
    }

    fn create_user(&mut self, body: &Value) -> ResponseTemplate {
        let email = body["email"].as_str().unwrap_or("").trim().to_owned();
        let mut login = body["login"].as_str().unwrap_or("").trim().to_owned();
        if login.is_empty() {
            login.clone_from(&email);
            if login.is_empty() {
                return err(
                    400,
                    "Validation error, need specify either username or email",
                );
            }
        }
        let password = body["password"].as_str().unwrap_or("").to_owned();
        if password.len() < 4 {
            return err(400, "Password is missing or too short");
        }
        let clash = |k: &str| !k.is_empty() && self.find(k).is_some();
        if clash(&login) || clash(&email) {
            return err(
                412,
                &format!("User with email '{email}' or username '{login}' already exists"),
            );
        }
        let id = self.next;
        self.next += 1;
        // auto_assign_org (default on): the main org, auto_assign_org_role Viewer.
        self.users.push(User {
            id,
            login,
            email,
            password,
            is_admin: false,
            orgs: BTreeMap::from([(1, "Viewer".to_owned())]),
        });
        ok(json!({"id": id, "uid": format!("u{id}"), "message": "User created"}))
    }
}

impl Respond for FakeGrafana {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.0.lock().unwrap();
        let method = req.method.as_str().to_owned();
        let path = req.url.path().to_owned();
        if s.csrf_refused(req) {
            return ResponseTemplate::new(403).set_body_string("origin not allowed\n");
        }
        match (method.as_str(), path.as_str()) {
            ("POST", "/login") => {
                let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                return s.login(&body);
            }
            ("GET", "/logout") => {
                if let Some(t) = s.session_token(req) {
                    s.sessions.remove(&t);
                }
                let name = s.settings.login_cookie_name.clone();
                return ResponseTemplate::new(302)
                    .append_header("location", "/login")
                    .append_header("set-cookie", format!("{name}=; Path=/; Max-Age=0"));
            }
            ("GET", "/login") => {
                return ResponseTemplate::new(200).set_body_string("<html>login</html>");
            }
            _ => {}
        }
        let Some(id) = s.identity(req) else {
            return authn_err(401, "Unauthorized", "auth.unauthorized");
        };
        let me = s.users.iter().find(|u| u.id == id).cloned().unwrap();
        match (method.as_str(), path.as_str()) {
            ("GET", "/api/user") => return ok(user_json(&me)),
            ("GET", "/api/org") => return ok(json!({"id": 1, "name": "Main Org."})),
            _ => {}
        }
        if !me.is_admin {
            return err(
                403,
                "You'll need additional permissions to perform this action.",
            );
        }
        s.admin_api(&method, &path, req)
    }
}
