use std::time::UNIX_EPOCH;

use super::*;
use docker::{ContainerState, FakeEngine, Health};
use store::test_support::TestDb;

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
    let l = Lifecycle::new(&engine, &files, &BTreeMap::new())
        .unwrap()
        .recording(&store, "service start");
    l.start(&Selection::All, &StartOptions::default())
        .await
        .unwrap();
    Fx {
        _dir: dir,
        engine,
        files,
        store,
        _db: db,
    }
}

fn opts(now: SystemTime) -> HealthOptions {
    HealthOptions {
        services: Selection::All,
        budget: 2,
        window: Duration::from_secs(3600),
        now,
    }
}

async fn state(f: &Fx, name: &str) -> ContainerState {
    f.engine.inspect_container(name).await.unwrap().state
}

/// `dtaas-services service <cmd> -s <service>` as the cli runs it: a recording lifecycle.
async fn operator(f: &Fx, cmd: &str, service: &str) {
    let l = Lifecycle::new(&f.engine, &f.files, &BTreeMap::new())
        .unwrap()
        .recording(&f.store, &format!("service {cmd}"));
    let sel = Selection::parse(Some(service)).unwrap();
    match cmd {
        "stop" => drop(l.stop(&sel, None).await.unwrap()),
        "start" => drop(l.start(&sel, &StartOptions::default()).await.unwrap()),
        "remove" => drop(l.remove(&sel, false, None).await.unwrap()),
        other => panic!("{other}"),
    }
}

async fn pass(f: &Fx, minute: u64) -> JobOutput {
    let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    run(
        &f.engine,
        &f.files,
        &BTreeMap::new(),
        &f.store,
        &opts(t0 + Duration::from_secs(minute * 60)),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_service_stopped_on_purpose_stays_stopped_and_a_crash_after_start_is_repaired() {
    let f = fixture().await;
    operator(&f, "stop", "grafana").await;
    let out = pass(&f, 0).await;
    assert_eq!(state(&f, "grafana").await, ContainerState::Exited);
    assert!(out.actions.is_empty(), "{out:?}");
    assert_eq!(
        out.notes,
        ["grafana: wanted stopped (by `service stop`): left stopped"]
    );
    assert_eq!(out.status(), crate::job::Status::Ok);
    assert_eq!(
        out.summary,
        "1 running, 0 restarted, 1 left as they are, 0 failing"
    );
    // A killed container of a service wanted running is repaired meanwhile.
    f.engine.set_state("rabbitmq", ContainerState::Exited);
    let out = pass(&f, 1).await;
    assert_eq!(
        out.actions,
        ["rabbitmq: container exited; started again (1 of 2 restarts within 1h)"]
    );
    assert_eq!(state(&f, "grafana").await, ContainerState::Exited);
    // Once started again by the operator, a crash of grafana is repaired again.
    operator(&f, "start", "grafana").await;
    f.engine.set_state("grafana", ContainerState::Dead);
    let out = pass(&f, 2).await;
    assert_eq!(out.actions.len(), 1, "{out:?}");
    assert!(
        out.actions[0].starts_with("grafana: container dead")
            && out.actions[0].ends_with("started again (1 of 2 restarts within 1h)"),
        "{out:?}"
    );
    assert_eq!(state(&f, "grafana").await, ContainerState::Running);
    // Every decision is journalled, the leave-alone one included.
    let journal = f.store.history(10).await.unwrap();
    assert!(
        journal
            .iter()
            .any(|r| r.entry.service.as_deref() == Some("grafana")
                && r.entry.outcome == Outcome::Skipped
                && r.entry.detail.contains("wanted stopped")),
        "{journal:?}"
    );
}

#[tokio::test]
async fn a_service_in_maintenance_is_skipped_naming_the_command() {
    let f = fixture().await;
    // A long restore of grafana: it stopped grafana and holds the marker meanwhile.
    let restore = store::Holder {
        command: "service restore -s grafana".into(),
        pid: 4242,
        host: "ops-host".into(),
        since: UNIX_EPOCH + Duration::from_secs(1_800_000_000),
    };
    f.store
        .begin_maintenance(&["grafana"], &restore)
        .await
        .unwrap();
    f.engine.stop_container("grafana", None).await.unwrap();
    let out = pass(&f, 0).await;
    assert_eq!(state(&f, "grafana").await, ContainerState::Exited);
    insta::assert_snapshot!(out.warnings.join("\n"), @"grafana: skipped: in maintenance by `service restore -s grafana` (pid 4242 on ops-host, since 2027-01-15T08:00:00Z); if that command no longer runs, check the service's data, then `dtaas-services service start -s grafana` clears the marker");
    // A skip is not a failure.
    assert_ne!(out.status(), crate::job::Status::Failed);
    f.store
        .end_maintenance(&["grafana"], Some(&restore))
        .await
        .unwrap();
    let out = pass(&f, 1).await;
    assert_eq!(out.actions.len(), 1, "{out:?}");
    assert_eq!(state(&f, "grafana").await, ContainerState::Running);
}

#[tokio::test]
async fn a_service_running_though_wanted_stopped_is_reported_not_touched() {
    let f = fixture().await;
    operator(&f, "stop", "grafana").await;
    f.engine.start_container("grafana").await.unwrap();
    let out = pass(&f, 0).await;
    assert_eq!(state(&f, "grafana").await, ContainerState::Running);
    assert!(
        out.warnings[0].starts_with("grafana: runs although wanted stopped (by `service stop`)"),
        "{out:?}"
    );
}

#[tokio::test]
async fn a_legacy_install_counts_running_containers_as_wanted_running() {
    let f = fixture().await;
    // Nothing recorded (an install from before the desired state was recorded).
    f._db.raw("DELETE FROM service_intent").await;
    f.engine.set_state("grafana", ContainerState::Exited);
    let out = pass(&f, 0).await;
    assert_eq!(state(&f, "grafana").await, ContainerState::Exited);
    assert!(
        out.notes.iter().any(|n| n
            .starts_with("grafana: container exited and no desired state is recorded: left alone")),
        "{out:?}"
    );
    assert!(
        out.notes
            .iter()
            .any(|n| n.starts_with("rabbitmq: running with no recorded desired state")),
        "{out:?}"
    );
    // rabbitmq was adopted as wanted running: its crash is now repaired.
    f.engine.set_state("rabbitmq", ContainerState::Exited);
    let out = pass(&f, 1).await;
    assert_eq!(out.actions.len(), 1, "{out:?}");
    assert_eq!(state(&f, "rabbitmq").await, ContainerState::Running);
}

#[tokio::test]
async fn healthy_services_are_left_alone() {
    let f = fixture().await;
    f.engine.clear_events();
    let out = run(
        &f.engine,
        &f.files,
        &BTreeMap::new(),
        &f.store,
        &opts(SystemTime::now()),
    )
    .await
    .unwrap();
    assert_eq!(
        out.summary,
        "2 running, 0 restarted, 0 left as they are, 0 failing"
    );
    assert!(out.actions.is_empty() && out.failures.is_empty());
}

#[tokio::test]
async fn an_exited_service_is_started_and_a_crash_loop_spends_the_budget() {
    let f = fixture().await;
    let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    for (i, minute) in [0u64, 10].into_iter().enumerate() {
        f.engine.set_state("rabbitmq", ContainerState::Exited);
        let out = run(
            &f.engine,
            &f.files,
            &BTreeMap::new(),
            &f.store,
            &opts(t0 + Duration::from_secs(minute * 60)),
        )
        .await
        .unwrap();
        assert_eq!(
            out.actions,
            [format!(
                "rabbitmq: container exited; started again ({} of 2 restarts within 1h)",
                i + 1
            )]
        );
        assert!(out.failures.is_empty(), "{:?}", out.failures);
        assert_eq!(state(&f, "rabbitmq").await, ContainerState::Running);
    }
    // Third crash within the hour: reported, not restarted.
    f.engine.set_state("rabbitmq", ContainerState::Exited);
    let out = run(
        &f.engine,
        &f.files,
        &BTreeMap::new(),
        &f.store,
        &opts(t0 + Duration::from_secs(20 * 60)),
    )
    .await
    .unwrap();
    assert!(out.actions.is_empty());
    insta::assert_snapshot!(out.failures.join("\n"), @"rabbitmq: container exited; restart budget spent (2 restarts within 1h): looks like a crash loop, not restarted (next restart allowed after 2027-01-15T09:00:00Z)");
    assert_eq!(state(&f, "rabbitmq").await, ContainerState::Exited);
    // The budget is per service: grafana may still be restarted.
    f.engine.set_state("grafana", ContainerState::Dead);
    let out = run(
        &f.engine,
        &f.files,
        &BTreeMap::new(),
        &f.store,
        &opts(t0 + Duration::from_secs(21 * 60)),
    )
    .await
    .unwrap();
    assert_eq!(out.actions.len(), 1, "{out:?}");
    assert!(out.actions[0].starts_with("grafana: container dead; started again"));
    // Once the first restart leaves the window, rabbitmq gets one more.
    let out = run(
        &f.engine,
        &f.files,
        &BTreeMap::new(),
        &f.store,
        &opts(t0 + Duration::from_secs(61 * 60)),
    )
    .await
    .unwrap();
    assert_eq!(
        out.actions,
        ["rabbitmq: container exited; started again (2 of 2 restarts within 1h)"]
    );
    // Every action is journalled per service.
    let journal = f.store.history(20).await.unwrap();
    let lines: Vec<(String, String)> = journal
        .iter()
        .map(|r| {
            (
                r.entry.service.clone().unwrap_or_default(),
                r.entry.outcome.to_string(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("rabbitmq".to_owned(), "ok".to_owned()),
            ("grafana".to_owned(), "ok".to_owned()),
            // Still in its crash loop on the grafana pass: reported again.
            ("rabbitmq".to_owned(), "failed".to_owned()),
            ("rabbitmq".to_owned(), "failed".to_owned()),
            ("rabbitmq".to_owned(), "ok".to_owned()),
            ("rabbitmq".to_owned(), "ok".to_owned()),
        ]
    );
}

#[tokio::test]
async fn an_unhealthy_service_is_restarted_and_an_unreachable_engine_is_an_error() {
    let f = fixture().await;
    f.engine
        .set_health_after_start("grafana", Health::Unhealthy);
    f.engine.stop_container("grafana", None).await.unwrap();
    f.engine.start_container("grafana").await.unwrap();
    f.engine.set_health_after_start("grafana", Health::Healthy);
    let out = run(
        &f.engine,
        &f.files,
        &BTreeMap::new(),
        &f.store,
        &opts(SystemTime::now()),
    )
    .await
    .unwrap();
    assert_eq!(out.actions.len(), 1, "{out:?}");
    assert!(
        out.actions[0].starts_with("grafana: container is unhealthy; restarted"),
        "{out:?}"
    );
    f.engine.set_unreachable();
    let err = run(
        &f.engine,
        &f.files,
        &BTreeMap::new(),
        &f.store,
        &opts(SystemTime::now()),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("unreachable"), "{err}");
}
