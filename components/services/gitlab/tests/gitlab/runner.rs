//! The fake `gitlab-rails runner -`: it runs the statements it knows, each with the effect
//! the upstream model gives it (gitlabhq/gitlabhq v18.10.1), against the fake's state, in the
//! script's order, with the exec environment as `ENV`. Any other statement fails the run as
//! Ruby would fail an unknown call (exit 1), so a script that leaves out, misspells or
//! reorders a step gets no effect and no result line.
//!
//! Statements and their upstream meaning:
//! - `ENV.fetch(K).split(',').each do |x|` ... `end`: the body once per listed value
//!   (ENV#fetch raises KeyError when K is absent).
//! - `User.find(Integer(id))`: `Integer()` raises ArgumentError on a non-number, `find`
//!   ActiveRecord::RecordNotFound.
//! - `Users::UpdateService.new(user, user: user, password_expires_at: nil).execute`
//!   (app/services/users/update_service.rb: allowed when current_user == user or an admin;
//!   assigns the params and saves): the expiry is gone.
//! - `user.reload.password_expired_if_applicable?` (app/models/user.rb), printed with
//!   `user.id`.
//! - `Authn::OauthApplication` (app/models/authn/oauth_application.rb, a
//!   Doorkeeper::Application on the same table) `.find(Integer(id))`, `app.update!(trusted:
//!   ...)` saves the column, `app.reload.trusted`.
//! - the token script (admin.rs RUNNER_SCRIPT): root's `dtaas-services` tokens revoked, one
//!   made and printed.

use std::collections::BTreeMap;

use docker::ExecOutput;

use crate::fake::FakeGitLab;

/// Ruby's report of an uncaught exception: the message line, then the backtrace.
fn fail(msg: &str) -> ExecOutput {
    ExecOutput {
        exit_code: 1,
        stdout: Vec::new(),
        stderr: format!("-:1:in '<main>': {msg}\n\tfrom bin/rails:4:in '<main>'\n").into_bytes(),
    }
}

/// `ENV.fetch('K').split(',').each do |x|`: (K, x).
fn each_line(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("ENV.fetch('")?;
    let (key, rest) = rest.split_once("').split(',').each do |")?;
    let var = rest.strip_suffix('|')?;
    matches!(var, "pair" | "id").then_some((key, var))
}

#[derive(Default)]
struct Vars {
    user: Option<u64>,
    result_ok: Option<bool>,
    pair: Option<String>,
    id: Option<String>,
    want: Option<String>,
    app: Option<u64>,
}

impl FakeGitLab {
    /// Run `script` as `gitlab-rails runner -` with `env` (`K=V` entries).
    pub fn rails_runner(&self, script: &str, env: &[String]) -> ExecOutput {
        if script.contains("personal_access_tokens.build(name: 'dtaas-services'") {
            return ExecOutput {
                exit_code: 0,
                stdout: format!("DTAAS_TOKEN={}\n", self.runner_token()).into_bytes(),
                stderr: Vec::new(),
            };
        }
        let env: BTreeMap<&str, &str> = env.iter().filter_map(|kv| kv.split_once('=')).collect();
        let lines: Vec<&str> = script
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let mut out = String::new();
        let mut vars = Vars::default();
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i];
            if let Some((key, var)) = each_line(line) {
                let Some(list) = env.get(key) else {
                    return fail(&format!("key not found: \"{key}\" (KeyError)"));
                };
                let Some(len) = lines[i..].iter().position(|l| *l == "end") else {
                    return fail("syntax error, unexpected end-of-input");
                };
                let body = &lines[i + 1..i + len];
                for item in list.split(',') {
                    match var {
                        "pair" => vars.pair = Some(item.to_owned()),
                        _ => vars.id = Some(item.to_owned()),
                    }
                    for stmt in body {
                        if let Err(e) = self.statement(stmt, &mut vars, &mut out) {
                            return fail(&e);
                        }
                    }
                }
                i += len + 1;
                continue;
            }
            if let Err(e) = self.statement(line, &mut vars, &mut out) {
                return fail(&e);
            }
            i += 1;
        }
        ExecOutput {
            exit_code: 0,
            stdout: out.into_bytes(),
            stderr: Vec::new(),
        }
    }

    fn statement(&self, line: &str, v: &mut Vars, out: &mut String) -> Result<(), String> {
        let mut s = self.0.lock().unwrap();
        let int = |t: &str| {
            t.parse::<u64>()
                .map_err(|_| format!("invalid value for Integer(): {t:?} (ArgumentError)"))
        };
        match line {
            "user = User.find(Integer(id))" => {
                let id = int(v
                    .id
                    .as_deref()
                    .ok_or("undefined local variable or method `id' (NameError)")?)?;
                if !s.users.iter().any(|u| u.id == id) {
                    return Err(format!(
                        "Couldn't find User with 'id'={id} (ActiveRecord::RecordNotFound)"
                    ));
                }
                v.user = Some(id);
            }
            "result = Users::UpdateService.new(user, user: user, password_expires_at: nil).execute" =>
            {
                let id = v
                    .user
                    .ok_or("undefined local variable or method `user' (NameError)")?;
                let u = s.users.iter_mut().find(|u| u.id == id).unwrap();
                u.password_expired = false;
                v.result_ok = Some(true);
            }
            l if l.starts_with("raise ") && l.ends_with(" unless result[:status] == :success") => {
                match v.result_ok {
                    Some(true) => {}
                    Some(false) => return Err("password expiry not cleared (RuntimeError)".into()),
                    None => {
                        return Err(
                            "undefined local variable or method `result' (NameError)".into()
                        );
                    }
                }
            }
            "puts \"DTAAS_PASSWORD_EXPIRED=#{user.id}=#{user.reload.password_expired_if_applicable?}\"" =>
            {
                let id = v
                    .user
                    .ok_or("undefined local variable or method `user' (NameError)")?;
                let u = s.users.iter().find(|u| u.id == id).unwrap();
                let applicable = u.password_expired;
                out.push_str(&format!("DTAAS_PASSWORD_EXPIRED={id}={applicable}\n"));
            }
            "id, want = pair.split('=', 2)" => {
                let pair = v
                    .pair
                    .clone()
                    .ok_or("undefined local variable or method `pair' (NameError)")?;
                let (id, want) = match pair.split_once('=') {
                    Some((a, b)) => (a.to_owned(), Some(b.to_owned())),
                    None => (pair, None),
                };
                v.id = Some(id);
                v.want = want;
            }
            "app = (defined?(Authn::OauthApplication) ? Authn::OauthApplication : Doorkeeper::Application).find(Integer(id))" =>
            {
                let id = int(v
                    .id
                    .as_deref()
                    .ok_or("undefined local variable or method `id' (NameError)")?)?;
                if !s.apps.iter().any(|a| a.id == id) {
                    return Err(format!(
                        "Couldn't find Authn::OauthApplication with 'id'={id} (ActiveRecord::RecordNotFound)"
                    ));
                }
                v.app = Some(id);
            }
            "app.update!(trusted: want == 'true') unless app.trusted == (want == 'true')" => {
                let id = v
                    .app
                    .ok_or("undefined local variable or method `app' (NameError)")?;
                let want = v.want.as_deref() == Some("true");
                let a = s.apps.iter_mut().find(|a| a.id == id).unwrap();
                a.trusted = want;
            }
            "puts \"DTAAS_APP_TRUSTED=#{app.id}=#{app.reload.trusted}\"" => {
                let id = v
                    .app
                    .ok_or("undefined local variable or method `app' (NameError)")?;
                let a = s.apps.iter().find(|a| a.id == id).unwrap();
                out.push_str(&format!("DTAAS_APP_TRUSTED={}={}\n", a.id, a.trusted));
            }
            other => {
                return Err(format!(
                    "the fake runner does not know this statement (NameError): {other}"
                ));
            }
        }
        Ok(())
    }
}
