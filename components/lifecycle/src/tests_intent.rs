//! The recorded desired state and the reconcile rules (issue 16), on the fake engine.

use std::collections::BTreeMap;

use compose::ProjectFiles;
use docker::{ContainerState, Engine as _, FakeEngine, Health};
use store::test_support::TestDb;
use store::{Desired, Holder, Store};

use crate::reconcile::{Decision, decide};
use crate::*;

const FILE: &str = r#"
networks:
  platform-services:
    name: dtaas-services
services:
  rabbitmq:
    image: img:1
    container_name: rabbitmq
    networks: [platform-services]
  grafana:
    image: img:1
    container_name: grafana
    networks: [platform-services]
"#;

struct Fx {
    _dir: tempfile::TempDir,
    engine: FakeEngine,
    files: ProjectFiles,
    store: Store,
    _db: TestDb,
}

async fn fixture() -> Fx {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.services.yml"), FILE).unwrap();
    let engine = FakeEngine::new();
    engine.add_image("img:1");
    let files = ProjectFiles {
        name: "proj".into(),
        working_dir: dir.path().to_owned(),
        files: compose::default_compose_files(dir.path()),
    };
    let db = TestDb::sqlite();
    let store = Store::open(&db.location()).await.unwrap();
    Fx {
        _dir: dir,
        engine,
        files,
        store,
        _db: db,
    }
}

fn sel(raw: &str) -> Selection {
    Selection::parse(Some(raw)).unwrap()
}

async fn desired(store: &Store, service: &str) -> Option<Desired> {
    store
        .intents()
        .await
        .unwrap()
        .get(service)
        .and_then(|i| i.desired)
}

#[tokio::test]
async fn every_lifecycle_command_records_what_the_operator_wants() {
    let f = fixture().await;
    let vars = BTreeMap::new();
    let l = |cmd: &str| {
        Lifecycle::new(&f.engine, &f.files, &vars)
            .unwrap()
            .recording(&f.store, cmd)
    };
    l("service start")
        .start(&Selection::All, &StartOptions::default())
        .await
        .unwrap();
    assert_eq!(desired(&f.store, "grafana").await, Some(Desired::Running));
    assert_eq!(desired(&f.store, "rabbitmq").await, Some(Desired::Running));
    l("service stop").stop(&sel("grafana"), None).await.unwrap();
    assert_eq!(desired(&f.store, "grafana").await, Some(Desired::Stopped));
    assert_eq!(desired(&f.store, "rabbitmq").await, Some(Desired::Running));
    // status shows desired beside actual, and flags a deviation.
    f.engine.set_state("rabbitmq", ContainerState::Exited);
    let st = l("service status").status(&Selection::All).await.unwrap();
    let row = |name: &str| {
        st.services
            .iter()
            .find(|s| s.service.compose_name() == name)
            .unwrap()
            .clone()
    };
    assert_eq!(row("grafana").desired, Some(Desired::Stopped));
    assert_eq!(row("grafana").deviation, None);
    assert_eq!(
        row("rabbitmq").deviation.as_deref(),
        Some("wanted running, is exited")
    );
    l("service restart")
        .restart(&sel("grafana"), None)
        .await
        .unwrap();
    assert_eq!(desired(&f.store, "grafana").await, Some(Desired::Running));
    l("service remove")
        .remove(&sel("grafana"), false, None)
        .await
        .unwrap();
    assert_eq!(desired(&f.store, "grafana").await, Some(Desired::Absent));
    // A lifecycle that does not record (service-health's repairs) changes no intent.
    Lifecycle::new(&f.engine, &f.files, &vars)
        .unwrap()
        .start(&sel("grafana"), &StartOptions::default())
        .await
        .unwrap();
    assert_eq!(desired(&f.store, "grafana").await, Some(Desired::Absent));
    let row = &l("service status")
        .status(&sel("grafana"))
        .await
        .unwrap()
        .services[0];
    assert_eq!(row.deviation.as_deref(), Some("wanted absent, is running"));
}

#[tokio::test]
async fn start_clears_a_maintenance_marker_an_interrupted_command_left() {
    let f = fixture().await;
    let crashed = Holder {
        command: "service restore -s grafana".into(),
        pid: 999_999,
        host: "elsewhere".into(),
        since: std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000),
    };
    f.store
        .begin_maintenance(&["grafana", "rabbitmq"], &crashed)
        .await
        .unwrap();
    let l = Lifecycle::new(&f.engine, &f.files, &BTreeMap::new())
        .unwrap()
        .recording(&f.store, "service start");
    let st = l.status(&sel("grafana")).await.unwrap();
    assert!(
        st.services[0]
            .maintenance
            .as_deref()
            .unwrap()
            .starts_with("`service restore -s grafana` (pid 999999 on elsewhere"),
        "{st:?}"
    );
    l.start(&sel("grafana"), &StartOptions::default())
        .await
        .unwrap();
    let all = f.store.intents().await.unwrap();
    assert_eq!(all["grafana"].maintenance, None);
    // Only the services the command acted on.
    assert_eq!(all["rabbitmq"].maintenance.as_ref(), Some(&crashed));
}

#[tokio::test]
async fn the_decision_follows_the_intent_not_the_container_alone() {
    let f = fixture().await;
    let l = Lifecycle::new(&f.engine, &f.files, &BTreeMap::new()).unwrap();
    l.start(&Selection::All, &StartOptions::default())
        .await
        .unwrap();
    let row = |st: &StatusReport, name: &str| {
        st.services
            .iter()
            .find(|s| s.service.compose_name() == name)
            .unwrap()
            .clone()
    };
    let intents = || async { f.store.intents().await.unwrap() };
    // Legacy: nothing recorded. Running counts as wanted running; stopped is left alone.
    f.engine.set_state("grafana", ContainerState::Exited);
    let st = l.status(&Selection::All).await.unwrap();
    let i = intents().await;
    assert_eq!(
        decide(&row(&st, "rabbitmq"), i.get("rabbitmq")),
        Decision::Adopt
    );
    assert_eq!(
        decide(&row(&st, "grafana"), i.get("grafana")),
        Decision::Unknown
    );
    // Wanted stopped: left stopped; running anyway: reported.
    f.store
        .set_desired(
            &["grafana"],
            Desired::Stopped,
            "service stop",
            std::time::SystemTime::now(),
        )
        .await
        .unwrap();
    f.store
        .set_desired(
            &["rabbitmq"],
            Desired::Absent,
            "service remove",
            std::time::SystemTime::now(),
        )
        .await
        .unwrap();
    let i = intents().await;
    assert_eq!(
        decide(&row(&st, "grafana"), i.get("grafana")),
        Decision::LeaveStopped(Desired::Stopped)
    );
    assert_eq!(
        decide(&row(&st, "rabbitmq"), i.get("rabbitmq")),
        Decision::RunsUnwanted(Desired::Absent)
    );
    // Wanted running: exited is started, unhealthy restarted, a loop reported.
    f.store
        .set_desired(
            &["grafana", "rabbitmq"],
            Desired::Running,
            "service start",
            std::time::SystemTime::now(),
        )
        .await
        .unwrap();
    let i = intents().await;
    assert_eq!(
        decide(&row(&st, "grafana"), i.get("grafana")),
        Decision::Start
    );
    assert_eq!(
        decide(&row(&st, "rabbitmq"), i.get("rabbitmq")),
        Decision::Healthy
    );
    let mut unhealthy = row(&st, "rabbitmq");
    unhealthy.health = Some(Health::Unhealthy);
    assert_eq!(decide(&unhealthy, i.get("rabbitmq")), Decision::Restart);
    let mut looping = row(&st, "rabbitmq");
    looping.state = "restarting".into();
    assert_eq!(decide(&looping, i.get("rabbitmq")), Decision::Looping);
    // In maintenance: skipped, whatever the state.
    let restore = Holder::this_process("service restore -s grafana");
    f.store
        .begin_maintenance(&["grafana"], &restore)
        .await
        .unwrap();
    let i = intents().await;
    assert_eq!(
        decide(&row(&st, "grafana"), i.get("grafana")),
        Decision::Maintenance(restore)
    );
    assert!(f.engine.inspect_container("grafana").await.is_ok());
}

#[tokio::test]
async fn a_backup_marks_its_services_in_maintenance_while_it_works() {
    let f = fixture().await;
    let seen = in_maintenance(
        &f.store,
        &sel("grafana"),
        "service upgrade -s grafana",
        Some(Desired::Running),
        async {
            let all = f.store.intents().await.unwrap();
            Ok::<_, LifecycleError>(all["grafana"].maintenance.clone())
        },
    )
    .await
    .unwrap()
    .expect("marked while the work runs");
    assert_eq!(seen.command, "service upgrade -s grafana");
    assert!(seen.is_this_process());
    let all = f.store.intents().await.unwrap();
    assert_eq!(all["grafana"].maintenance, None, "cleared after the work");
    assert_eq!(all["grafana"].desired, Some(Desired::Running));
    // Cleared on failure too.
    let err = in_maintenance(&f.store, &sel("grafana"), "service restore", None, async {
        Err::<(), _>(LifecycleError::NoContainer {
            service: "grafana".into(),
        })
    })
    .await
    .unwrap_err();
    assert!(matches!(err, LifecycleError::NoContainer { .. }));
    assert_eq!(
        f.store.intents().await.unwrap()["grafana"].maintenance,
        None
    );
}
