use std::collections::BTreeMap;

use docker::ContainerState;

use super::*;
use crate::fixtures::{at, last_at, running, state_of};

#[tokio::test]
async fn archiving_a_running_postgres_stops_thingsboard_first_and_starts_it_again() {
    use docker::FakeEvent::{Start, Stop};
    let d = tempfile::tempdir().unwrap();
    let (e, files) = running(d.path()).await;
    e.clear_events();
    let ds = DataSafety::new(&e, &files, &BTreeMap::new()).unwrap();
    let r = ds
        .backup(
            &Selection::Only(vec![Service::Postgres]),
            &BackupOptions {
                postgres_dump: false,
                ..BackupOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.manifest.services[0].kind, BackupKind::Archive);
    assert_eq!(r.restarted, ["thingsboard-ce"]);
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
    assert_eq!(state_of(&e, "postgres").await, ContainerState::Running);
    assert_eq!(state_of(&e, "thingsboard").await, ContainerState::Running);
}
