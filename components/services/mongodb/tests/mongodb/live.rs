//! The real exec path on the local engine: `EngineExec` over `BollardEngine` finds the
//! project's `mongodb` container by its compose labels and runs `mongosh` in it. No image
//! with a real mongosh can be pulled here, so the container is the busybox test image with a
//! recording `/bin/mongosh`: it writes its argv, environment and stdin to
//! `/data/calls/<n>/` and answers like the provisioner's script would on a MongoDB that
//! remembers its users.

use std::collections::BTreeMap;
use std::sync::Arc;

use docker::{BollardEngine, ContainerSpec, Engine, ExecSpec};
use services_common::{Outcome, PasswordState, Provisioner};
use services_mongodb::{EngineExec, MongoProvisioner};
use test_support::{ProjectGuard, busybox_image, engine_or_skip, unique_name};

use super::{ADMIN_PW, USER_PW, opts, spec};

/// The stand-in `mongosh`. A user exists once a script named it (`const name = ...;`);
/// then `if (true)` (update the password) answers `updated`, else `unchanged`.
const RECORDING_MONGOSH: &str = r#"#!/bin/sh
set -e
n=$(ls /data/calls | wc -l)
d=/data/calls/$n
mkdir "$d"
printf '%s\n' "$0" "$@" > "$d/argv"
env > "$d/env"
cat > "$d/stdin"
name=$(grep '^const name = ' "$d/stdin" || true)
if [ -z "$name" ]; then echo 'MongoServerError: no user in the script' >&2; exit 1; fi
if ! grep -qxF "$name" /data/users; then
  echo "$name" >> /data/users
  echo 'DTAAS_RESULT created'
elif grep -qF 'if (true) {' "$d/stdin"; then
  echo 'DTAAS_RESULT updated'
else
  echo 'DTAAS_RESULT unchanged'
fi
"#;

/// Installs the stdin as `/bin/mongosh` (busybox has no `chmod` applet linked).
const INSTALL: &str = "cat > /bin/mongosh && busybox chmod 0755 /bin/mongosh \
    && mkdir /data/calls && touch /data/users";

/// A running container labelled as `project`'s `mongodb` service (as compose labels it,
/// under a name that is not `mongodb`) with the recording `mongosh` installed; its id.
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
            image: busybox_image().to_owned(),
            cmd: Some(vec!["sleep".to_owned(), "3600".to_owned()]),
            labels,
            ..ContainerSpec::default()
        })
        .await
        .unwrap();
    e.start_container(&id).await.unwrap();
    let install = e
        .exec(
            &id,
            &ExecSpec {
                cmd: vec!["sh".to_owned(), "-c".to_owned(), INSTALL.to_owned()],
                stdin: Some(RECORDING_MONGOSH.as_bytes().to_vec()),
                ..ExecSpec::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(install.exit_code, 0, "{install:?}");
    id
}

/// A file of the container, read through the engine.
async fn read(e: &BollardEngine, id: &str, path: &str) -> String {
    let out = e
        .exec(
            id,
            &ExecSpec {
                cmd: vec!["cat".to_owned(), path.to_owned()],
                ..ExecSpec::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        out.exit_code,
        0,
        "cat {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn ensure_user_runs_mongosh_in_the_projects_container_with_secrets_off_argv() {
    let Some(engine) = engine_or_skip().await else {
        return;
    };
    let project = unique_name("mongolive");
    let _guard = ProjectGuard::new(&project, &[]);
    let engine = Arc::new(engine);
    let id = mongodb_container(&engine, &project).await;
    let p = MongoProvisioner::new(EngineExec::new(engine.clone(), &project), opts(false));

    assert_eq!(
        p.ensure_user(&spec(PasswordState::Unknown)).await.unwrap(),
        Outcome::Created
    );

    let argv = read(&engine, &id, "/data/calls/0/argv").await;
    assert!(
        !argv.contains(ADMIN_PW) && !argv.contains(USER_PW),
        "{argv}"
    );
    insta::assert_snapshot!(argv, @r"
    /bin/mongosh
    --quiet
    --tls
    --tlsAllowInvalidCertificates
    mongodb://localhost:27017/admin
    ");

    let env = read(&engine, &id, "/data/calls/0/env").await;
    let mut ours: Vec<&str> = env
        .lines()
        .filter(|l| l.starts_with("DTAAS_MONGO_"))
        .collect();
    ours.sort_unstable();
    assert_eq!(
        ours,
        [
            "DTAAS_MONGO_ADMIN_PASSWORD=Adm1n-Secret",
            "DTAAS_MONGO_ADMIN_USER=dtaas123",
            "DTAAS_MONGO_USER_PASSWORD=Us3r-Secret",
        ]
    );

    let stdin = read(&engine, &id, "/data/calls/0/stdin").await;
    assert!(
        !stdin.contains(ADMIN_PW) && !stdin.contains(USER_PW),
        "{stdin}"
    );
    insta::assert_snapshot!(stdin, @r#"
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

    // The user exists now: an unchanged password is `unchanged`, a changed one `updated`.
    assert_eq!(
        p.ensure_user(&spec(PasswordState::Same)).await.unwrap(),
        Outcome::Unchanged
    );
    assert_eq!(
        p.ensure_user(&spec(PasswordState::Changed)).await.unwrap(),
        Outcome::Updated
    );
    for call in 1..=2 {
        let argv = read(&engine, &id, &format!("/data/calls/{call}/argv")).await;
        assert!(
            !argv.contains(ADMIN_PW) && !argv.contains(USER_PW),
            "{argv}"
        );
    }
}
