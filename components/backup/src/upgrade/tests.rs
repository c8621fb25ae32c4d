use std::collections::BTreeMap;

use compose::{Progress, ProgressSink};
use docker::{ContainerState, Engine as _, Health};

use super::*;
use crate::fixtures::{at, last_at, running, state_of};

fn upgrade_to(image: &str, progress: ProgressSink) -> UpgradeOptions {
    UpgradeOptions {
        image: Some(image.to_owned()),
        timeout: Duration::from_secs(1),
        backup_to: None,
        progress,
    }
}

#[tokio::test]
async fn upgrading_postgres_stops_thingsboard_first_and_starts_it_again_after() {
    use docker::FakeEvent::{Start, Stop};
    let d = tempfile::tempdir().unwrap();
    let (e, files) = running(d.path()).await;
    e.allow_pull("img:2");
    e.clear_events();
    let ds = DataSafety::new(&e, &files, &BTreeMap::new()).unwrap();
    let r = ds
        .upgrade(
            Service::Postgres,
            &upgrade_to("img:2", ProgressSink::none()),
        )
        .await
        .unwrap();
    assert_eq!(r.action, UpgradeAction::Upgraded);
    assert_eq!(r.restarted, ["thingsboard-ce"]);
    assert!(r.left_stopped.is_empty(), "{:?}", r.left_stopped);
    let tb = || "thingsboard".to_owned();
    let pg = || "postgres".to_owned();
    assert!(
        at(&e, &Stop(tb())) < at(&e, &Stop(pg())),
        "{:?}",
        e.events()
    );
    assert!(
        last_at(&e, &Start(pg())) < last_at(&e, &Start(tb())),
        "{:?}",
        e.events()
    );
    let pg_now = e.inspect_container("postgres").await.unwrap();
    assert_eq!(pg_now.image, "img:2");
    assert_eq!(pg_now.state, ContainerState::Running);
    assert_eq!(state_of(&e, "thingsboard").await, ContainerState::Running);
    let backup = r.backup.unwrap();
    assert!(
        backup.join("postgres.tar.gz").exists(),
        "{}",
        backup.display()
    );
}

#[tokio::test]
async fn thingsboard_stopped_for_a_postgres_upgrade_runs_again_after_the_rollback() {
    use docker::FakeEvent::{Start, Stop};
    let d = tempfile::tempdir().unwrap();
    let (e, files) = running(d.path()).await;
    e.allow_pull("img:2");
    // The new container never turns healthy; once the upgrade waits for it, any
    // container created later (the rollback's) is healthy.
    e.set_health_after_start("postgres", Health::Starting);
    let fake = e.clone();
    let progress = ProgressSink::new(move |p| {
        if matches!(p, Progress::Waiting { .. }) {
            fake.set_health_after_start("postgres", Health::Healthy);
        }
    });
    e.clear_events();
    let ds = DataSafety::new(&e, &files, &BTreeMap::new()).unwrap();
    let err = ds
        .upgrade(Service::Postgres, &upgrade_to("img:2", progress))
        .await
        .unwrap_err();
    let BackupError::UpgradeRolledBack {
        ref previous,
        thingsboard_restarted,
        ..
    } = err
    else {
        panic!("not rolled back: {err}");
    };
    assert_eq!(previous, "img:1");
    assert!(thingsboard_restarted);
    assert!(
        err.to_string()
            .ends_with("; ThingsBoard, stopped for its database, runs again"),
        "{err}"
    );
    let tb = || "thingsboard".to_owned();
    let pg = || "postgres".to_owned();
    assert!(
        at(&e, &Stop(tb())) < at(&e, &Stop(pg())),
        "{:?}",
        e.events()
    );
    assert!(
        last_at(&e, &Start(pg())) < last_at(&e, &Start(tb())),
        "{:?}",
        e.events()
    );
    let pg_now = e.inspect_container("postgres").await.unwrap();
    assert_eq!(pg_now.image, "img:1", "the previous image serves again");
    assert_eq!(pg_now.state, ContainerState::Running);
    assert_eq!(state_of(&e, "thingsboard").await, ContainerState::Running);
}

#[tokio::test]
async fn a_thingsboard_that_does_not_start_again_is_reported_and_the_upgrade_stands() {
    let d = tempfile::tempdir().unwrap();
    let (e, files) = running(d.path()).await;
    e.allow_pull("img:2");
    e.fail_start(
        "thingsboard",
        docker::DockerError::Other {
            message: "no memory".into(),
        },
    );
    let ds = DataSafety::new(&e, &files, &BTreeMap::new()).unwrap();
    let r = ds
        .upgrade(
            Service::Postgres,
            &upgrade_to("img:2", ProgressSink::none()),
        )
        .await
        .unwrap();
    assert_eq!(r.action, UpgradeAction::Upgraded);
    assert!(r.restarted.is_empty());
    assert_eq!(r.left_stopped.len(), 1, "{:?}", r.left_stopped);
    assert_eq!(r.left_stopped[0].0, "thingsboard-ce");
    assert!(
        r.left_stopped[0].1.contains("no memory"),
        "{:?}",
        r.left_stopped
    );
    assert_eq!(
        e.inspect_container("postgres").await.unwrap().image,
        "img:2"
    );
}
