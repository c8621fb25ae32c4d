//! The whole `service install -s thingsboard` flow: the fake engine, the real PostgreSQL of
//! `DTAAS_TEST_PG_URL` (ThingsBoard's user tables in a test schema, no `admin_settings`:
//! the schema counts as absent) and the stateful API stand-in.

use std::collections::BTreeMap;
use std::time::Duration;

use compose::ProjectFiles;
use docker::{FakeEngine, FakeEvent};
use lifecycle::{Lifecycle, Selection, StartOptions};
use password_store::TB_SYSADMIN_CURRENT_PASSWORD;
use secrecy::ExposeSecret;
use services_thingsboard::{InstallOptions, PasswordChange, SchemaAction, install};
use store::pg_admin::thingsboard_sysadmin_hashes;
use store::test_support::TestDb;

use crate::{env, log_from};

const SERVICES: &str = r#"
networks:
  platform-services:
    name: dtaas-services
services:
  postgres:
    image: img:1
    container_name: postgres
    networks: [platform-services]
    healthcheck: { test: ["CMD", "true"] }
"#;

const THINGSBOARD: &str = r#"
networks:
  platform-services:
    name: dtaas-services
services:
  thingsboard-ce:
    image: img:1
    container_name: thingsboard
    networks: [platform-services]
    depends_on:
      postgres: { condition: service_healthy }
"#;

/// A project of PostgreSQL and ThingsBoard on the fake engine (its directory, files, engine).
fn project() -> (tempfile::TempDir, ProjectFiles, FakeEngine) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.services.yml"), SERVICES).unwrap();
    std::fs::write(dir.path().join("compose.thingsboard.yml"), THINGSBOARD).unwrap();
    let files = ProjectFiles {
        name: "proj".into(),
        working_dir: dir.path().to_owned(),
        files: compose::default_compose_files(dir.path()),
    };
    let engine = FakeEngine::new();
    engine.add_image("img:1");
    (dir, files, engine)
}

#[tokio::test]
async fn install_stops_a_running_thingsboard_and_never_serves_the_factory_password() {
    let Some(db) = TestDb::postgres("tb_install_flow").await else {
        return;
    };
    let factory = bcrypt::hash_with_result("sysadmin", 4)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoA);
    db.raw(&format!(
        "CREATE TABLE tb_user (id uuid NOT NULL PRIMARY KEY, created_time bigint NOT NULL, \
           authority varchar(255), email varchar(255) UNIQUE);
         CREATE TABLE user_credentials (id uuid NOT NULL PRIMARY KEY, created_time bigint NOT NULL, \
           enabled boolean, password varchar(255), user_id uuid UNIQUE);
         INSERT INTO tb_user VALUES ('5a797660-4612-11e7-a919-92ebcb67fe33', 0, 'SYS_ADMIN', \
           'sysadmin@thingsboard.org');
         INSERT INTO user_credentials VALUES (gen_random_uuid(), 0, true, '{factory}', \
           '5a797660-4612-11e7-a919-92ebcb67fe33');"
    ))
    .await;
    let pg = db.pg_target().expect("postgres");
    let e = env().await;
    // The stand-in's sysadmin logs in with what the SQL step writes.
    e.fake.0.lock().unwrap().users[0].password = Some("Sys-Final-1".into());

    let (_dir, files, engine) = project();
    engine.set_exit_on_start("proj-thingsboard-ce-run-", 0);
    let lc = Lifecycle::new(&engine, &files, &BTreeMap::new()).unwrap();
    // ThingsBoard already runs (without a schema it would only crash-loop).
    lc.start(&Selection::All, &StartOptions::default())
        .await
        .unwrap();
    engine.clear_events();

    let mut steps = std::sync::Mutex::new(Vec::<String>::new());
    let progress = |line: &str| steps.lock().unwrap().push(line.to_owned());
    let opts = InstallOptions {
        force: false,
        postgres_timeout: Duration::from_secs(10),
        install_timeout: Duration::from_secs(30),
        api_timeout: Duration::from_secs(10),
    };
    let report = install(&lc, &pg, &e.tb, &opts, &progress).await.unwrap();
    assert_eq!(report.schema, SchemaAction::Installed);
    assert_eq!(report.sysadmin_password, PasswordChange::Changed);

    // Stopped before the installer's one-off container was even created.
    let events = engine.events();
    let stopped = events
        .iter()
        .position(|ev| *ev == FakeEvent::Stop("thingsboard".into()))
        .unwrap_or_else(|| panic!("ThingsBoard was not stopped: {events:?}"));
    let installer = events
        .iter()
        .position(
            |ev| matches!(ev, FakeEvent::Create(n) if n.starts_with("proj-thingsboard-ce-run-")),
        )
        .unwrap_or_else(|| panic!("the installer did not run: {events:?}"));
    assert!(stopped < installer, "{events:?}");
    let steps = steps.get_mut().unwrap().join("\n");
    assert!(
        steps.contains("Stopped thingsboard while its schema is installed"),
        "{steps}"
    );

    // The factory password was replaced before ThingsBoard started again, and the API
    // never saw it.
    let hashes = thingsboard_sysadmin_hashes(&pg).await.unwrap();
    let hash = hashes[0].1.as_deref().unwrap();
    assert!(bcrypt::verify("Sys-Final-1", hash).unwrap());
    let log = log_from(&e.server, 0).await;
    assert!(!log.contains(r#""password":"sysadmin""#), "{log}");
    let stored = e.store.get(TB_SYSADMIN_CURRENT_PASSWORD).await.unwrap();
    assert_eq!(
        stored.as_ref().map(|s| s.expose_secret()),
        Some("Sys-Final-1")
    );
    db.cleanup().await;
}

#[tokio::test]
async fn missing_final_passwords_stop_the_install_before_anything_runs() {
    let e = crate::env_with(|c| c.tenant_admin_password = None).await;
    let (_dir, files, engine) = project();
    let lc = Lifecycle::new(&engine, &files, &BTreeMap::new()).unwrap();
    // Never contacted: the settings are checked first.
    let pg = store::pg_admin::PgTarget::new(
        "127.0.0.1",
        1,
        "nobody",
        &secrecy::SecretString::from("x".to_owned()),
    );
    let opts = InstallOptions {
        force: false,
        postgres_timeout: Duration::from_secs(1),
        install_timeout: Duration::from_secs(1),
        api_timeout: Duration::from_secs(1),
    };
    let err = install(&lc, &pg, &e.tb, &opts, &|_| {}).await.unwrap_err();
    assert!(
        err.to_string().contains("TB_TENANT_ADMIN_PASSWORD"),
        "{err}"
    );
    assert!(engine.events().is_empty(), "{:?}", engine.events());
}
