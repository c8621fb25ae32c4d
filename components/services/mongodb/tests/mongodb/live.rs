//! The real exec path on the local engine: `EngineExec` over `BollardEngine` finds the
//! project's `mongodb` container by its compose labels and runs `mongosh` in it. No image
//! with a real mongosh can be pulled here: the container is the MongoDB stand-in image
//! (images/build.sh mongodb), whose `mongosh` reproduces mongosh 2.x (REPL on piped stdin,
//! `--eval` exiting 1 on a thrown error, logs under $HOME) with a small fake mongod, and
//! whose environment is the mongo image's as the compose file sets it: HOME=/data/db
//! (docker-library/mongo Dockerfile `ENV HOME /data/db`) and MONGO_INITDB_ROOT_*.
//!
//! Upstream: the stand-in mongosh reproduces github.com/mongodb-js/mongosh v2.5.10
//! (packages/cli-repl/src/cli-repl.ts, arg-parser.ts, mongosh-repl.ts; shell-api database.ts),
//! cited in images/standins/bin/mongosh; rows in docs/upstream-contracts.md.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use docker::{BollardEngine, ContainerSpec, Engine, ExecSpec};
use services_common::{Outcome, PasswordState, ProvisionError, Provisioner};
use services_mongodb::{EngineExec, MongoProvisioner};
use test_support::{ProjectGuard, engine_or_skip, unique_name};

use super::{ADMIN_PW, USER_PW, opts, spec};

/// The MongoDB stand-in image's tag, built (or found cached) by images/build.sh.
fn standin_image() -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../images/build.sh");
    let out = std::process::Command::new("bash")
        .arg(script)
        .arg("mongodb")
        .output()
        .expect("run images/build.sh");
    assert!(
        out.status.success(),
        "images/build.sh mongodb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("mongodb="))
        .expect("mongodb=<tag>")
        .to_owned()
}

/// A running stand-in labelled as `project`'s `mongodb` service (under a name that is not
/// `mongodb`); its id.
async fn mongodb_container(e: &BollardEngine, project: &str) -> String {
    let labels = BTreeMap::from(
        [
            ("com.docker.compose.project", project),
            ("com.docker.compose.service", "mongodb"),
            ("com.docker.compose.oneoff", "False"),
            ("com.docker.compose.container-number", "1"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let id = e
        .create_container(&ContainerSpec {
            name: format!("{project}-db"),
            image: standin_image(),
            env: vec![
                "HOME=/data/db".to_owned(),
                "MONGO_INITDB_ROOT_USERNAME=dtaas123".to_owned(),
                format!("MONGO_INITDB_ROOT_PASSWORD={ADMIN_PW}"),
            ],
            labels,
            ..ContainerSpec::default()
        })
        .await
        .unwrap();
    e.start_container(&id).await.unwrap();
    id
}

async fn sh(e: &BollardEngine, id: &str, script: &str) -> String {
    let out = e
        .exec(
            id,
            &ExecSpec {
                cmd: vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()],
                ..ExecSpec::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.exit_code, 0, "{script}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn provisioning_in_the_standin_container() {
    let Some(engine) = engine_or_skip().await else {
        return;
    };
    let project = unique_name("mongolive");
    let _guard = ProjectGuard::new(&project, &[]);
    let engine = Arc::new(engine);
    let id = mongodb_container(&engine, &project).await;
    let p = MongoProvisioner::new(EngineExec::new(engine.clone(), &project), opts(false));

    // The stand-in server starts listening shortly after the container.
    let mut ready = p.probe().await;
    for _ in 0..40 {
        if ready.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        ready = p.probe().await;
    }
    ready.unwrap();

    assert_eq!(
        p.ensure_user(&spec(PasswordState::Unknown)).await.unwrap(),
        Outcome::Created
    );
    assert_eq!(
        p.ensure_user(&spec(PasswordState::Same)).await.unwrap(),
        Outcome::Unchanged
    );
    assert_eq!(
        p.ensure_user(&spec(PasswordState::Changed)).await.unwrap(),
        Outcome::Updated
    );
    assert_eq!(p.list_users().await.unwrap(), ["user1"]);

    let mut wrong = opts(false);
    wrong.admin_password = secrecy::SecretString::from("not-the-password");
    let bad = MongoProvisioner::new(EngineExec::new(engine.clone(), &project), wrong);
    let e = bad.list_users().await.unwrap_err();
    assert!(matches!(e, ProvisionError::Unauthorized { .. }), "{e}");
    assert!(!e.to_string().contains(ADMIN_PW) && !e.to_string().contains(USER_PW));

    // The user is in the fake mongod's state; mongosh wrote no log into the data directory.
    let listing = sh(&engine, &id, "ls -A /data/db").await;
    assert!(
        listing.lines().any(|l| l == "standin-mongosh-state.json"),
        "{listing}"
    );
    assert!(!listing.lines().any(|l| l == ".mongodb"), "{listing}");
}
