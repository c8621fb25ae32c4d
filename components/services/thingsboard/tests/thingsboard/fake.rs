//! A small stateful ThingsBoard stand-in for wiremock: logins, users with activation,
//! tenants, customers, password changes (old sessions revoked), and failure injection.
//!
//! Upstream: the stand-in reproduces github.com/thingsboard/thingsboard v4.2.1
//! (application/.../controller/AuthController.java, UserController.java, TenantController.java,
//! CustomerController.java; dao/.../user/UserServiceImpl.java); rows in docs/upstream-contracts.md.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::{Request, Respond, ResponseTemplate};

#[derive(Debug, Clone)]
pub struct FakeUser {
    pub id: String,
    pub email: String,
    pub authority: String,
    pub owner: String,
    pub password: Option<String>,
}

#[derive(Debug, Default)]
pub struct State {
    pub users: Vec<FakeUser>,
    pub tenants: BTreeMap<String, String>,
    pub customers: BTreeMap<String, String>,
    pub tokens: BTreeMap<String, String>,
    pub next: u32,
    /// (method, path prefix, status, remaining times, message)
    pub failures: Vec<(String, String, u16, u32, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct FakeTb(pub Arc<Mutex<State>>);

fn page(items: Vec<Value>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(
        json!({"data": items, "totalPages": 1, "totalElements": 0, "hasNext": false}),
    )
}

fn msg(status: u16, m: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"status": status, "message": m, "errorCode": 31}))
}

impl FakeTb {
    pub fn new() -> Self {
        let f = Self::default();
        f.0.lock().unwrap().users.push(FakeUser {
            id: "sys-1".into(),
            email: "sysadmin@thingsboard.org".into(),
            authority: "SYS_ADMIN".into(),
            owner: String::new(),
            password: Some("sysadmin".into()),
        });
        f
    }

    pub fn fail(&self, method: &str, prefix: &str, status: u16, times: u32) {
        self.fail_with(method, prefix, status, times, "injected failure");
    }

    /// The next `times` matching requests answer `status` with ThingsBoard's error body
    /// carrying `message`.
    pub fn fail_with(&self, method: &str, prefix: &str, status: u16, times: u32, message: &str) {
        self.0.lock().unwrap().failures.push((
            method.into(),
            prefix.into(),
            status,
            times,
            message.into(),
        ));
    }

    pub fn user(&self, email: &str) -> Option<FakeUser> {
        self.0
            .lock()
            .unwrap()
            .users
            .iter()
            .find(|u| u.email == email)
            .cloned()
    }

    pub fn counts(&self) -> (usize, usize, usize) {
        let s = self.0.lock().unwrap();
        (s.tenants.len(), s.customers.len(), s.users.len())
    }
}

fn user_json(u: &FakeUser) -> Value {
    let mut v = json!({"id": {"entityType": "USER", "id": u.id}, "email": u.email, "authority": u.authority, "firstName": null});
    if u.authority == "TENANT_ADMIN" {
        v["tenantId"] = json!({"entityType": "TENANT", "id": u.owner});
    } else if u.authority == "CUSTOMER_USER" {
        v["customerId"] = json!({"entityType": "CUSTOMER", "id": u.owner});
    }
    v
}

impl Respond for FakeTb {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.0.lock().unwrap();
        let method = req.method.as_str().to_owned();
        let path = req.url.path().to_owned();
        let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        for f in &mut s.failures {
            if f.0 == method && path.starts_with(&f.1) && f.3 > 0 {
                f.3 -= 1;
                return msg(f.2, &f.4);
            }
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let caller = req
            .headers
            .get("x-authorization")
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .and_then(|t| s.tokens.get(t).cloned());
        let search = q.get("textSearch").cloned().unwrap_or_default();
        s.next += 1;
        let n = s.next;
        match (method.as_str(), path.as_str()) {
            ("POST", "/api/auth/login") => {
                let (e, p) = (body["username"].as_str().unwrap_or(""), body["password"].as_str());
                match s.users.iter().find(|u| u.email == e) {
                    Some(u) if u.password.is_some() && u.password.as_deref() == p => {
                        let t = format!("jwt-{n}");
                        let id = u.id.clone();
                        s.tokens.insert(t.clone(), id);
                        ResponseTemplate::new(200).set_body_json(json!({"token": t, "refreshToken": "r"}))
                    }
                    _ => msg(401, "Invalid username or password"),
                }
            }
            ("POST", "/api/noauth/activate") => {
                let tok = body["activateToken"].as_str().unwrap_or("");
                let pw = body["password"].as_str().unwrap_or("").to_owned();
                match s.users.iter_mut().find(|u| format!("act-{}", u.id) == tok && u.password.is_none()) {
                    Some(u) => {
                        u.password = Some(pw);
                        ResponseTemplate::new(200).set_body_json(json!({"token": "ignored", "refreshToken": "r"}))
                    }
                    None => msg(404, "Unable to find user credentials by activateToken"),
                }
            }
            _ if caller.is_none() => msg(401, "Authentication failed"),
            ("GET", "/api/auth/user") => {
                let id = caller.unwrap();
                let u = s.users.iter().find(|u| u.id == id).unwrap();
                ResponseTemplate::new(200).set_body_json(user_json(u))
            }
            ("POST", "/api/auth/changePassword") => {
                let id = caller.unwrap();
                let cur = body["currentPassword"].as_str().unwrap_or("");
                let new = body["newPassword"].as_str().unwrap_or("").to_owned();
                let u = s.users.iter_mut().find(|u| u.id == id).unwrap();
                // thingsboard/thingsboard v4.2.1 AuthController.changePassword: current
                // password, then the policy (DefaultSystemSecurityService.validatePassword;
                // the default policy of DefaultSecuritySettingsService: at least 6
                // characters, Passay's message), then "different from existing".
                if u.password.as_deref() != Some(cur) {
                    return msg(400, "Current password doesn't match!");
                }
                if new.chars().count() < 6 {
                    return msg(400, "Password must be 6 or more characters in length.");
                }
                if cur == new {
                    return msg(400, "New password should be different from existing!");
                }
                u.password = Some(new);
                s.tokens.retain(|_, v| *v != id);
                ResponseTemplate::new(200).set_body_json(json!({"token": "new", "refreshToken": "r"}))
            }
            ("POST", "/api/user") => {
                if body.get("id").is_some_and(|i| !i.is_null()) {
                    let id = body["id"]["id"].as_str().unwrap_or("").to_owned();
                    let email = body["email"].as_str().unwrap_or("").to_owned();
                    let u = s.users.iter_mut().find(|u| u.id == id).unwrap();
                    u.email = email;
                    let v = user_json(u);
                    return ResponseTemplate::new(200).set_body_json(v);
                }
                let email = body["email"].as_str().unwrap_or("").to_owned();
                if s.users.iter().any(|u| u.email == email) {
                    return msg(400, &format!("User with email '{email}' already present in database!"));
                }
                let authority = body["authority"].as_str().unwrap_or("").to_owned();
                let owner = body["tenantId"]["id"]
                    .as_str()
                    .or(body["customerId"]["id"].as_str())
                    .unwrap_or("")
                    .to_owned();
                let u = FakeUser { id: format!("user-{n}"), email, authority, owner, password: None };
                let v = user_json(&u);
                s.users.push(u);
                ResponseTemplate::new(200).set_body_json(v)
            }
            ("GET", "/api/tenants") => page(
                s.tenants
                    .iter()
                    .filter(|(_, t)| t.contains(&search))
                    .map(|(id, t)| json!({"id": {"entityType": "TENANT", "id": id}, "title": t}))
                    .collect(),
            ),
            ("POST", "/api/tenant") => {
                let id = format!("tenant-{n}");
                let t = body["title"].as_str().unwrap_or("").to_owned();
                s.tenants.insert(id.clone(), t.clone());
                ResponseTemplate::new(200).set_body_json(json!({"id": {"entityType": "TENANT", "id": id}, "title": t}))
            }
            ("GET", "/api/customers") => page(
                s.customers
                    .iter()
                    .filter(|(_, t)| t.contains(&search))
                    .map(|(id, t)| json!({"id": {"entityType": "CUSTOMER", "id": id}, "title": t, "additionalInfo": null}))
                    .collect(),
            ),
            ("POST", "/api/customer") => {
                let id = format!("customer-{n}");
                let t = body["title"].as_str().unwrap_or("").to_owned();
                s.customers.insert(id.clone(), t.clone());
                ResponseTemplate::new(200).set_body_json(json!({"id": {"entityType": "CUSTOMER", "id": id}, "title": t}))
            }
            ("GET", p) if p.ends_with("/users") => {
                let owner = p.split('/').nth(3).unwrap_or("").to_owned();
                page(
                    s.users
                        .iter()
                        .filter(|u| u.owner == owner && u.email.contains(&search))
                        .map(user_json)
                        .collect(),
                )
            }
            ("GET", p) if p.ends_with("/activationLink") => {
                let id = p.split('/').nth(3).unwrap_or("");
                match s.users.iter().find(|u| u.id == id) {
                    Some(u) if u.password.is_none() => ResponseTemplate::new(200)
                        .set_body_string(format!("https://tb.example/api/noauth/activate?activateToken=act-{id}")),
                    Some(_) => msg(400, "User is already activated!"),
                    None => msg(404, "not found"),
                }
            }
            ("DELETE", p) if p.starts_with("/api/customer/") => {
                let id = p.trim_start_matches("/api/customer/").to_owned();
                s.customers.remove(&id);
                s.users.retain(|u| u.owner != id);
                ResponseTemplate::new(200)
            }
            ("DELETE", p) if p.starts_with("/api/user/") => {
                let id = p.trim_start_matches("/api/user/").to_owned();
                s.users.retain(|u| u.id != id);
                ResponseTemplate::new(200)
            }
            _ => msg(404, "no such route in the fake"),
        }
    }
}
