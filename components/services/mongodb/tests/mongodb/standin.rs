//! The provisioner against the stand-in `mongosh` (images/standins/bin/mongosh, the one the
//! MongoDB stand-in image runs) executed by the host's Node.js, as `docker exec` runs it in
//! the mongo container: the container's environment (MONGO_INITDB_ROOT_*, HOME=/data/db as the
//! mongo image sets it) under the exec's own, stdin fed only when the exec has one. The
//! stand-in reproduces mongosh 2.x semantics (REPL on piped stdin, `--eval` exiting 1 on a
//! thrown error) and MongoDB's user commands, so these tests fail on a client that pipes its
//! script to the REPL.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;

use docker::{ExecOutput, ExecSpec};
use secrecy::SecretString;
use services_common::{
    BoxFuture, Outcome, PasswordState, ProvisionError, Provisioner, Removal, UserSpec,
};
use services_mongodb::{MongoExec, MongoOptions, MongoProvisioner};
use tokio::io::AsyncWriteExt as _;

const ROOT: &str = "dtaas123";
const ROOT_PW: &str = "R00t-Secret-pw";

/// `docker exec` of the stand-in mongosh, on the host.
#[derive(Debug)]
struct HostMongosh {
    data: tempfile::TempDir,
    _mongod: std::net::TcpListener,
    addr: String,
    /// Everything the runs printed (stdout and stderr).
    printed: Mutex<String>,
}

fn script_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../images/standins/bin/mongosh")
}

/// The host's `node`, or `None` (skip) outside CI.
///
/// # Panics
/// When `node` is missing and `CI` is set (a test must not be skipped in CI).
#[allow(clippy::print_stderr, reason = "a skipped test says why")]
fn host_mongosh_or_skip() -> Option<HostMongosh> {
    let ok = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "node (Debian's nodejs) is needed to run the mongosh stand-in in CI"
        );
        eprintln!("SKIPPED: no node on this host; set CI=1 to make this a failure");
        return None;
    }
    let mongod = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = mongod.local_addr().unwrap().to_string();
    Some(HostMongosh {
        data: tempfile::tempdir().unwrap(),
        _mongod: mongod,
        addr,
        printed: Mutex::new(String::new()),
    })
}

impl HostMongosh {
    /// The data directory (`/data/db` of the container).
    fn data_dir(&self) -> &Path {
        self.data.path()
    }

    async fn run(&self, spec: &ExecSpec) -> ExecOutput {
        assert_eq!(spec.cmd.first().map(String::as_str), Some("mongosh"));
        let mut cmd = tokio::process::Command::new("node");
        cmd.arg(script_path()).args(&spec.cmd[1..]).env_clear();
        let data = self.data.path();
        let container_env = [
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("HOME", data.display().to_string()),
            ("MONGO_INITDB_ROOT_USERNAME", ROOT.to_owned()),
            ("MONGO_INITDB_ROOT_PASSWORD", ROOT_PW.to_owned()),
            (
                "STANDIN_MONGO_STATE",
                data.join("standin-mongosh-state.json")
                    .display()
                    .to_string(),
            ),
            ("STANDIN_MONGOD_ADDR", self.addr.clone()),
        ];
        for (k, v) in container_env {
            cmd.env(k, v);
        }
        for kv in &spec.env {
            let (k, v) = kv.split_once('=').unwrap();
            cmd.env(k, v);
        }
        cmd.stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run node");
        if let Some(input) = &spec.stdin {
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(input).await.unwrap();
        }
        let out = child.wait_with_output().await.unwrap();
        let mut printed = self.printed.lock().unwrap();
        printed.push_str(&String::from_utf8_lossy(&out.stdout));
        printed.push_str(&String::from_utf8_lossy(&out.stderr));
        ExecOutput {
            exit_code: i64::from(out.status.code().unwrap_or(-1)),
            stdout: out.stdout,
            stderr: out.stderr,
        }
    }
}

impl MongoExec for HostMongosh {
    fn exec<'a>(&'a self, spec: &'a ExecSpec) -> BoxFuture<'a, Result<ExecOutput, ProvisionError>> {
        Box::pin(async move { Ok(self.run(spec).await) })
    }
}

fn opts(password: &str) -> MongoOptions {
    MongoOptions {
        admin_user: ROOT.to_owned(),
        admin_password: SecretString::from(password),
        ssl_verify: false,
    }
}

fn user(name: &str, pw: &str, state: PasswordState) -> UserSpec {
    UserSpec {
        name: name.to_owned(),
        password: SecretString::from(pw),
        email: None,
        password_state: state,
    }
}

/// The stand-in's user documents (the fake mongod's state), read directly.
fn stored_users(m: &HostMongosh) -> serde_json::Value {
    let text = std::fs::read_to_string(m.data_dir().join("standin-mongosh-state.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["users"].clone()
}

#[tokio::test]
async fn provisioning_runs_non_interactively_with_the_right_results() {
    let Some(m) = host_mongosh_or_skip() else {
        return;
    };
    let p = MongoProvisioner::new(m, opts(ROOT_PW));
    p.probe().await.unwrap();
    assert_eq!(p.list_users().await.unwrap(), Vec::<String>::new());
    let alice = user("alice", "Alice-pw-1", PasswordState::Unknown);
    assert_eq!(p.ensure_user(&alice).await.unwrap(), Outcome::Created);
    let bob = user("bob", "Bob-pw-1", PasswordState::Unknown);
    assert_eq!(p.ensure_user(&bob).await.unwrap(), Outcome::Created);
    let same = user("alice", "Alice-pw-1", PasswordState::Same);
    assert_eq!(p.ensure_user(&same).await.unwrap(), Outcome::Unchanged);
    let changed = user("alice", "Alice-pw-2", PasswordState::Changed);
    assert_eq!(p.ensure_user(&changed).await.unwrap(), Outcome::Updated);
    assert_eq!(p.list_users().await.unwrap(), ["alice", "bob"]);

    let users = stored_users(p.exec());
    assert_eq!(
        users["alice.alice"]["roles"],
        serde_json::json!([{"role": "readWrite", "db": "alice"}])
    );
    assert_eq!(p.remove_user("bob", true).await.unwrap(), Removal::Removed);
    assert_eq!(p.remove_user("bob", true).await.unwrap(), Removal::Absent);
    assert_eq!(p.list_users().await.unwrap(), ["alice"]);

    // Nothing printed holds credential material, and mongosh wrote no log into the data
    // directory (HOME of the mongo image).
    let printed = p.exec().printed.lock().unwrap().clone();
    for secret in [
        "credentials",
        "storedKey",
        "serverKey",
        "SCRAM",
        ROOT_PW,
        "Alice-pw",
    ] {
        assert!(!printed.contains(secret), "{secret} printed: {printed}");
    }
    assert!(
        !p.exec().data_dir().join(".mongodb").exists(),
        "mongosh wrote its logs into the data directory"
    );
}

#[tokio::test]
async fn a_wrong_admin_password_fails_and_changes_nothing() {
    let Some(m) = host_mongosh_or_skip() else {
        return;
    };
    let p = MongoProvisioner::new(m, opts("not-the-password"));
    let e = p
        .ensure_user(&user("carol", "Carol-pw-1", PasswordState::Unknown))
        .await
        .unwrap_err();
    assert!(matches!(e, ProvisionError::Unauthorized { .. }), "{e}");
    insta::assert_snapshot!(e.to_string(), @"MongoDB refused the admin credentials: MongoServerError: Authentication failed.");
    assert!(p.probe().await.is_err());
    assert!(p.list_users().await.is_err());
    assert!(stored_users(p.exec()).get("carol.carol").is_none());
}

#[tokio::test]
async fn a_refused_command_is_an_error_not_a_success() {
    let Some(m) = host_mongosh_or_skip() else {
        return;
    };
    // An admin login without the right to manage users: the login works, `getUser` is
    // refused (Unauthorized), mongosh exits 1, nothing is created.
    let seeded = m
        .run(&ExecSpec {
            cmd: ["mongosh", "--quiet", "--eval", "db.getSiblingDB('admin').auth(process.env.R, process.env.P); \
                db.getSiblingDB('admin').createUser({ user: 'ops', pwd: process.env.P, roles: ['readWrite'] });"]
                .map(str::to_owned)
                .to_vec(),
            env: vec![format!("R={ROOT}"), format!("P={ROOT_PW}")],
            ..ExecSpec::default()
        })
        .await;
    assert_eq!(seeded.exit_code, 0, "{seeded:?}");
    let mut o = opts(ROOT_PW);
    o.admin_user = "ops".to_owned();
    let p = MongoProvisioner::new(m, o);
    let e = p
        .ensure_user(&user("dave", "Dave-pw-1", PasswordState::Unknown))
        .await
        .unwrap_err();
    assert!(matches!(e, ProvisionError::Failed { .. }), "{e}");
    insta::assert_snapshot!(e.to_string(), @"MongoDB: mongosh exited with 1: MongoServerError: not authorized on dave to execute command { usersInfo: 1 }");
    assert!(stored_users(p.exec()).get("dave.dave").is_none());
}

#[tokio::test]
async fn a_database_of_the_users_name_is_dropped_only_with_its_user() {
    let Some(m) = host_mongosh_or_skip() else {
        return;
    };
    let p = MongoProvisioner::new(m, opts(ROOT_PW));
    assert_eq!(
        p.ensure_user(&user("erin", "Erin-pw-1", PasswordState::Unknown))
            .await
            .unwrap(),
        Outcome::Created
    );
    // Data in erin's database and in a database without its own user.
    seed_databases(p.exec(), &["erin", "shared"]).await;
    let e = p.remove_user("shared", false).await.unwrap_err();
    assert!(e.to_string().contains("not dropped"), "{e}");
    assert_eq!(
        p.remove_user("erin", false).await.unwrap(),
        Removal::Removed
    );
    let text =
        std::fs::read_to_string(p.exec().data_dir().join("standin-mongosh-state.json")).unwrap();
    let state: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(state["databases"], serde_json::json!(["shared"]));
}

#[tokio::test]
async fn existing_objects_name_every_database_and_every_own_user() {
    let Some(m) = host_mongosh_or_skip() else {
        return;
    };
    let p = MongoProvisioner::new(m, opts(ROOT_PW));
    assert_eq!(
        p.ensure_user(&user("frank", "Frank-pw-1", PasswordState::Unknown))
            .await
            .unwrap(),
        Outcome::Created
    );
    seed_databases(p.exec(), &["sensors"]).await;
    let objects = p.existing_objects().await.unwrap();
    let text = format!("{objects:?}");
    assert!(text.contains("sensors"), "{text}");
    assert!(text.contains("frank"), "{text}");
    assert!(!text.contains("Frank-pw-1"), "{text}");
}

/// Create a collection in each database, as a client with data would.
async fn seed_databases(m: &HostMongosh, dbs: &[&str]) {
    let script = format!(
        "db.getSiblingDB('admin').auth(process.env.R, process.env.P);\n\
         for (const d of {}) db.getSiblingDB(d).createCollection('c');\n",
        serde_json::to_string(dbs).unwrap()
    );
    let out = m
        .run(&ExecSpec {
            cmd: ["mongosh", "--quiet", "--eval", &script]
                .map(str::to_owned)
                .to_vec(),
            env: vec![format!("R={ROOT}"), format!("P={ROOT_PW}")],
            ..ExecSpec::default()
        })
        .await;
    assert_eq!(out.exit_code, 0, "{out:?}");
}

#[tokio::test]
async fn the_standin_runs_piped_stdin_as_mongoshs_repl() {
    // The upstream behaviour the client must avoid, reproduced by the stand-in.
    let Some(m) = host_mongosh_or_skip() else {
        return;
    };
    let script = "const admin = db.getSiblingDB(\"admin\");\n\
        admin.auth(\"dtaas123\", \"wrong\");\n\
        const users = admin.system.users.find({}).toArray()\n\
        .map(u => u.user);\n\
        print(\"DTAAS_RESULT \" + JSON.stringify(users));\n";
    let out = m
        .run(&ExecSpec {
            cmd: ["mongosh", "--quiet", "mongodb://localhost:27017/admin"]
                .map(str::to_owned)
                .to_vec(),
            stdin: Some(script.as_bytes().to_vec()),
            ..ExecSpec::default()
        })
        .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.exit_code, 0, "the REPL exits 0 after a thrown error");
    assert!(
        stdout.contains("admin> MongoServerError[AuthenticationFailed]: Authentication failed."),
        "{stdout}"
    );
    assert!(stdout.contains("admin> Invalid REPL keyword"), "{stdout}");
    assert!(
        !stdout.lines().any(|l| l.starts_with("DTAAS_RESULT")),
        "{stdout}"
    );
}

#[tokio::test]
async fn concurrent_runs_lose_no_user() {
    // `user add` provisions the rows of one service in parallel.
    let Some(m) = host_mongosh_or_skip() else {
        return;
    };
    let p = std::sync::Arc::new(MongoProvisioner::new(m, opts(ROOT_PW)));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..6 {
        let p = p.clone();
        set.spawn(async move {
            let u = user(&format!("u{i}"), "Pw-123456", PasswordState::Unknown);
            p.ensure_user(&u).await.unwrap()
        });
    }
    while let Some(r) = set.join_next().await {
        assert_eq!(r.unwrap(), Outcome::Created);
    }
    assert_eq!(
        p.list_users().await.unwrap(),
        ["u0", "u1", "u2", "u3", "u4", "u5"]
    );
}
