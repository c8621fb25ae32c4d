//! The mongosh exec path: the project's container found by its compose labels on the fake
//! engine, no secret on the command line, the script (names only) in `--eval`, secrets and
//! HOME in the exec environment. `standin`: the provisioner against the stand-in mongosh
//! (mongosh 2.x semantics) run by the host's Node.js. `live`: the same on the local engine,
//! in the MongoDB stand-in image (no image with a real mongosh can be pulled here).
//!
//! Upstream: the stand-in mongosh reproduces github.com/mongodb-js/mongosh v2.5.10
//! (packages/cli-repl/src/cli-repl.ts, arg-parser.ts, mongosh-repl.ts; shell-api database.ts),
//! cited in images/standins/bin/mongosh; rows in docs/upstream-contracts.md.

mod live;
mod standin;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use docker::{ContainerSpec, ContainerState, ExecOutput, ExecSpec, FakeEngine, FakeEvent};
use secrecy::SecretString;
use services_common::{BoxFuture, Outcome, PasswordState, ProvisionError, Provisioner, UserSpec};
use services_mongodb::{EngineExec, MongoExec, MongoOptions, MongoProvisioner, Script};

const ADMIN_PW: &str = "Adm1n-Secret";
const USER_PW: &str = "Us3r-Secret";

fn opts(ssl_verify: bool) -> MongoOptions {
    MongoOptions {
        admin_user: "dtaas123".to_owned(),
        admin_password: SecretString::from(ADMIN_PW),
        ssl_verify,
    }
}

fn spec(state: PasswordState) -> UserSpec {
    UserSpec {
        name: "user1".to_owned(),
        password: SecretString::from(USER_PW),
        email: None,
        password_state: state,
    }
}

fn mongo_container(engine: &FakeEngine, project: &str, name: &str) {
    let labels = BTreeMap::from([
        ("com.docker.compose.project".to_owned(), project.to_owned()),
        (
            "com.docker.compose.service".to_owned(),
            "mongodb".to_owned(),
        ),
    ]);
    engine.insert_container(
        &ContainerSpec {
            name: name.to_owned(),
            image: "mongo:8.2.3".to_owned(),
            labels,
            ..ContainerSpec::default()
        },
        ContainerState::Running,
    );
}

#[tokio::test]
async fn exec_goes_to_the_projects_container_with_no_secret_in_argv() {
    let engine = Arc::new(FakeEngine::new());
    mongo_container(&engine, "other-project", "mongodb");
    mongo_container(&engine, "services-example-org", "custom-mongo-name");
    engine.set_exec_result(
        "custom-mongo-name",
        ExecOutput {
            exit_code: 0,
            stdout: b"DTAAS_RESULT created\n".to_vec(),
            stderr: Vec::new(),
        },
    );
    let p = MongoProvisioner::new(
        EngineExec::new(engine.clone(), "services-example-org"),
        opts(false),
    );
    assert_eq!(
        p.ensure_user(&spec(PasswordState::Unknown)).await.unwrap(),
        Outcome::Created
    );
    let execs: Vec<_> = engine
        .events()
        .into_iter()
        .filter_map(|e| match e {
            FakeEvent::Exec(name, cmd) => Some((name, cmd)),
            _ => None,
        })
        .collect();
    assert_eq!(execs.len(), 1);
    assert_eq!(execs[0].0, "custom-mongo-name");
    let argv = &execs[0].1;
    assert!(
        argv.iter()
            .all(|a| !a.contains(ADMIN_PW) && !a.contains(USER_PW)),
        "{argv:?}"
    );
    insta::assert_snapshot!(argv[..5].join(" "), @"mongosh --quiet --tls --tlsAllowInvalidCertificates --eval");
    assert_eq!(argv[6], "mongodb://localhost:27017/admin");
}

#[tokio::test]
async fn no_running_container_is_not_ready() {
    let engine = Arc::new(FakeEngine::new());
    let p = MongoProvisioner::new(EngineExec::new(engine, "proj"), opts(true));
    let e = p.probe().await.unwrap_err();
    assert!(e.is_not_ready(), "{e}");
    insta::assert_snapshot!(e.to_string(), @"MongoDB is not reachable at project proj: the MongoDB container is not running; start it with `dtaas-services service start -s mongodb`");
}

/// Records every exec spec and answers with a fixed output — the output of `mongosh --eval`.
/// Given a script on stdin instead, it answers as mongosh's REPL does (see standin.rs): the
/// prompt before every line, errors printed on stdout, exit status 0.
#[derive(Debug)]
struct Recorder {
    specs: Mutex<Vec<ExecSpec>>,
    answer: ExecOutput,
}

impl MongoExec for Recorder {
    fn exec<'a>(&'a self, spec: &'a ExecSpec) -> BoxFuture<'a, Result<ExecOutput, ProvisionError>> {
        self.specs.lock().unwrap().push(spec.clone());
        let answer = if spec.stdin.is_some() {
            let text = String::from_utf8_lossy(&self.answer.stdout).into_owned()
                + &String::from_utf8_lossy(&self.answer.stderr);
            ExecOutput {
                exit_code: 0,
                stdout: text
                    .lines()
                    .map(|l| format!("admin> {l}\n"))
                    .collect::<String>()
                    .into_bytes(),
                stderr: Vec::new(),
            }
        } else {
            self.answer.clone()
        };
        Box::pin(async move { Ok(answer) })
    }
}

fn recorder(stdout: &str, stderr: &str, code: i64) -> Recorder {
    Recorder {
        specs: Mutex::new(Vec::new()),
        answer: ExecOutput {
            exit_code: code,
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        },
    }
}

#[tokio::test]
async fn script_in_eval_and_secrets_and_home_in_the_environment() {
    let p = MongoProvisioner::new(recorder("DTAAS_RESULT updated\n", "", 0), opts(true));
    assert_eq!(
        p.ensure_user(&spec(PasswordState::Changed)).await.unwrap(),
        Outcome::Updated
    );
    let specs = p_specs(&p);
    let s = &specs[0];
    assert!(
        s.stdin.is_none(),
        "nothing on stdin: mongosh would run its REPL"
    );
    let script = s.cmd[5].clone();
    assert!(!script.contains(ADMIN_PW) && !script.contains(USER_PW));
    assert!(s.cmd.iter().all(|a| !a.contains("Secret")), "{:?}", s.cmd);
    let env: Vec<&str> = s.env.iter().map(String::as_str).collect();
    assert_eq!(
        env,
        [
            "HOME=/tmp",
            "DTAAS_MONGO_ADMIN_USER=dtaas123",
            "DTAAS_MONGO_ADMIN_PASSWORD=Adm1n-Secret",
            "DTAAS_MONGO_USER_PASSWORD=Us3r-Secret"
        ]
    );
    let mut cmd = s.cmd.clone();
    cmd[5] = "<script>".to_owned();
    insta::assert_snapshot!(cmd.join(" "), @"mongosh --quiet --tls --tlsAllowInvalidHostnames --eval <script> mongodb://localhost:27017/admin");
    insta::assert_snapshot!(script, @r#"
    const admin = db.getSiblingDB("admin");
    admin.auth(process.env.DTAAS_MONGO_ADMIN_USER, process.env.DTAAS_MONGO_ADMIN_PASSWORD);
    const name = "user1";
    const target = db.getSiblingDB(name);
    const role = { role: "readWrite", db: name };
    const existing = target.getUser(name);
    let outcome = "unchanged";
    if (existing === null) {
    target.createUser({ user: name, pwd: process.env.DTAAS_MONGO_USER_PASSWORD, roles: [role] });
    outcome = "created";
    } else {
    if (true) {
    target.updateUser(name, { pwd: process.env.DTAAS_MONGO_USER_PASSWORD });
    outcome = "updated";
    }
    if (!existing.roles.some(r => r.role === role.role && r.db === role.db)) {
    target.grantRolesToUser(name, [role]);
    outcome = "updated";
    }
    }
    print("DTAAS_RESULT " + outcome);
    "#);
}

fn p_specs(p: &MongoProvisioner<Recorder>) -> Vec<ExecSpec> {
    // The provisioner owns the recorder; reach it through Debug-free accessor semantics.
    p_exec(p).specs.lock().unwrap().clone()
}

fn p_exec(p: &MongoProvisioner<Recorder>) -> &Recorder {
    p.exec()
}

#[test]
fn the_other_scripts() {
    insta::assert_snapshot!(Script::List.text(), @r#"
    const admin = db.getSiblingDB("admin");
    admin.auth(process.env.DTAAS_MONGO_ADMIN_USER, process.env.DTAAS_MONGO_ADMIN_PASSWORD);
    const users = admin.runCommand({ usersInfo: { forAllDBs: true } }).users
    .filter(u => u.db !== "admin" && u.user === u.db).map(u => u.user).sort();
    print("DTAAS_RESULT " + JSON.stringify(users));
    "#);
    insta::assert_snapshot!(Script::Remove { user: "o'brien\"x".to_owned(), keep_data: false }.text(), @r#"
    const admin = db.getSiblingDB("admin");
    admin.auth(process.env.DTAAS_MONGO_ADMIN_USER, process.env.DTAAS_MONGO_ADMIN_PASSWORD);
    const name = "o'brien\"x";
    const target = db.getSiblingDB(name);
    const hasDb = db.getMongo().getDBNames().includes(name);
    let result = "absent";
    if (target.getUser(name) !== null) {
    if (!false && hasDb) { target.dropDatabase(); }
    target.dropUser(name);
    result = "removed";
    } else if (!false && hasDb) {
    result = "not-own-database";
    }
    print("DTAAS_RESULT " + result);
    "#);
}

#[tokio::test]
async fn remove_never_runs_for_the_admin_or_system_databases() {
    let p = MongoProvisioner::new(recorder("DTAAS_RESULT removed\n", "", 0), opts(false));
    for name in ["dtaas123", "admin", "local", "config"] {
        for keep in [false, true] {
            let e = p.remove_user(name, keep).await.unwrap_err();
            assert!(matches!(e, ProvisionError::Failed { .. }), "{e}");
        }
    }
    insta::assert_snapshot!(p.remove_user("admin", false).await.unwrap_err().to_string(), @r#"MongoDB: "admin" is a MongoDB system database; it is never managed as a user (refused)"#);
    insta::assert_snapshot!(p.remove_user("dtaas123", false).await.unwrap_err().to_string(), @r#"MongoDB: "dtaas123" is the MongoDB admin (MONGODB_ADMIN_USERNAME); it is not managed from credentials.csv"#);
    let e = p
        .ensure_user(&UserSpec {
            name: "local".to_owned(),
            ..spec(PasswordState::Unknown)
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("system database"), "{e}");
    assert!(p_specs(&p).is_empty(), "no mongosh run at all");
}

#[tokio::test]
async fn a_database_without_its_user_is_not_dropped() {
    let p = MongoProvisioner::new(
        recorder("DTAAS_RESULT not-own-database\n", "", 0),
        opts(false),
    );
    let e = p.remove_user("shared", false).await.unwrap_err();
    insta::assert_snapshot!(e.to_string(), @r#"MongoDB: database "shared" has no user "shared" of its own: not dropped (drop it by hand if it is no longer needed, or use --keep-data)"#);
}

#[tokio::test]
async fn failures_are_reported_without_secrets() {
    let p = MongoProvisioner::new(
        recorder("", "MongoServerError: Authentication failed.\n", 1),
        opts(false),
    );
    let e = p
        .ensure_user(&spec(PasswordState::Unknown))
        .await
        .unwrap_err();
    assert!(matches!(e, ProvisionError::Unauthorized { .. }), "{e}");
    insta::assert_snapshot!(e.to_string(), @"MongoDB refused the admin credentials: MongoServerError: Authentication failed.");
    let p = MongoProvisioner::new(recorder("", "", 0), opts(false));
    let e = p
        .ensure_user(&UserSpec {
            name: "dtaas123".to_owned(),
            ..spec(PasswordState::Unknown)
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("admin"), "{e}");
}
