//! The mongosh command line and its `--eval` script (names only: the secrets are read from
//! `process.env`, set in the exec's environment).
//!
//! mongosh reads a script from stdin only as its interactive REPL (mongodb-js/mongosh v2.5.10
//! packages/cli-repl/src/cli-repl.ts `getFileAndEvalInfo`, mongosh-repl.ts): the prompt
//! prefixes every output line, a line starting with `.` is a REPL command, and a thrown error
//! stops neither the script nor the exit status 0. With `--eval` it is not interactive: the
//! script runs once, and a thrown error (a refused login, a failed `createUser`) ends it with
//! exit status 1 (`loadCommandLineFilesAndEval`, run.ts).

/// The environment variable holding the admin login name.
pub(crate) const ENV_ADMIN_USER: &str = "DTAAS_MONGO_ADMIN_USER";
/// The environment variable holding the admin password.
pub(crate) const ENV_ADMIN_PASSWORD: &str = "DTAAS_MONGO_ADMIN_PASSWORD";
/// The environment variable holding the user's password.
pub(crate) const ENV_USER_PASSWORD: &str = "DTAAS_MONGO_USER_PASSWORD";
/// The line prefix of a script's result.
pub(crate) const RESULT: &str = "DTAAS_RESULT ";
/// mongosh's home for every run: the mongo image sets `HOME=/data/db`, and mongosh writes its
/// logs under `$HOME/.mongodb/mongosh` (packages/cli-repl/src/config-directory.ts), which
/// would put them in the data directory.
pub const MONGOSH_HOME: &str = "/tmp";

/// `mongosh` running `script` non-interactively (`--eval`), connecting to the container's own
/// mongod over TLS. With `ssl_verify` the chain is verified (the host name cannot match
/// `localhost`); without, any certificate is accepted, as the reference CLI does.
#[must_use]
pub fn argv(ssl_verify: bool, script: &Script) -> Vec<String> {
    let mut v = vec![
        "mongosh".to_owned(),
        "--quiet".to_owned(),
        "--tls".to_owned(),
    ];
    if ssl_verify {
        v.push("--tlsAllowInvalidHostnames".to_owned());
    } else {
        v.push("--tlsAllowInvalidCertificates".to_owned());
    }
    v.push("--eval".to_owned());
    v.push(script.text());
    v.push("mongodb://localhost:27017/admin".to_owned());
    v
}

/// One script for mongosh's `--eval`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Script {
    /// Log in and report success.
    Probe,
    /// Create or update a user; `update_password` false keeps an existing password.
    Ensure { user: String, update_password: bool },
    /// The users of every database but `admin` whose name equals their database: names only
    /// (`usersInfo` shows no credentials unless asked to).
    List,
    /// What exists: `{"dbs": [every database name], "users": [every user defined in the
    /// database of its own name]}`.
    Objects,
    /// Drop the user, and its database unless `keep_data`: only the database the user is
    /// defined in (its own), dropped before the user so an interrupted run can be resumed.
    /// A database of that name without the user is not dropped (`not-own-database`).
    Remove { user: String, keep_data: bool },
}

fn js(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// Log in as the admin; a refused login throws ("Authentication failed.", exit status 1).
const LOGIN: &str = "const admin = db.getSiblingDB(\"admin\");\n\
admin.auth(process.env.DTAAS_MONGO_ADMIN_USER, process.env.DTAAS_MONGO_ADMIN_PASSWORD);\n";

impl Script {
    /// The JavaScript text.
    #[must_use]
    pub fn text(&self) -> String {
        let body = match self {
            Script::Probe => format!("print({});\n", js(&format!("{RESULT}ok"))),
            Script::Ensure {
                user,
                update_password,
            } => format!(
                "const name = {u};\n\
const target = db.getSiblingDB(name);\n\
const role = {{ role: \"readWrite\", db: name }};\n\
const existing = target.getUser(name);\n\
let outcome = \"unchanged\";\n\
if (existing === null) {{\n\
  target.createUser({{ user: name, pwd: process.env.DTAAS_MONGO_USER_PASSWORD, roles: [role] }});\n\
  outcome = \"created\";\n\
}} else {{\n\
  if ({update_password}) {{\n\
    target.updateUser(name, {{ pwd: process.env.DTAAS_MONGO_USER_PASSWORD }});\n\
    outcome = \"updated\";\n\
  }}\n\
  if (!existing.roles.some(r => r.role === role.role && r.db === role.db)) {{\n\
    target.grantRolesToUser(name, [role]);\n\
    outcome = \"updated\";\n\
  }}\n\
}}\n\
print({r} + outcome);\n",
                u = js(user),
                r = js(RESULT),
            ),
            Script::List => format!(
                "const users = admin.runCommand({{ usersInfo: {{ forAllDBs: true }} }}).users\n\
  .filter(u => u.db !== \"admin\" && u.user === u.db).map(u => u.user).sort();\n\
print({r} + JSON.stringify(users));\n",
                r = js(RESULT)
            ),
            Script::Objects => format!(
                "const dbs = db.getMongo().getDBNames();\n\
const own = admin.runCommand({{ usersInfo: {{ forAllDBs: true }} }}).users\n\
  .filter(u => u.user === u.db).map(u => u.user);\n\
print({r} + JSON.stringify({{ dbs: dbs, users: own }}));\n",
                r = js(RESULT)
            ),
            Script::Remove { user, keep_data } => format!(
                "const name = {u};\n\
const target = db.getSiblingDB(name);\n\
const hasDb = db.getMongo().getDBNames().includes(name);\n\
let result = \"absent\";\n\
if (target.getUser(name) !== null) {{\n\
  if (!{keep_data} && hasDb) {{ target.dropDatabase(); }}\n\
  target.dropUser(name);\n\
  result = \"removed\";\n\
}} else if (!{keep_data} && hasDb) {{\n\
  result = \"not-own-database\";\n\
}}\n\
print({r} + result);\n",
                u = js(user),
                r = js(RESULT),
            ),
        };
        format!("{LOGIN}{body}")
    }
}
