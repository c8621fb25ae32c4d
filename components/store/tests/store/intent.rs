//! Desired state, maintenance markers and the project lock (issue 16).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use store::test_support::TestDb;
use store::{Desired, Holder, ProjectLock, Store, TryLock, both_backends, project_lock_holder};

fn t(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

async fn desired_state_and_maintenance(db: &TestDb) {
    let store = Store::open(&db.location()).await.unwrap();
    assert!(store.intents().await.unwrap().is_empty());
    store
        .set_desired(
            &["grafana", "rabbitmq"],
            Desired::Running,
            "service start",
            t(1_000),
        )
        .await
        .unwrap();
    store
        .set_desired(&["grafana"], Desired::Stopped, "service stop", t(2_000))
        .await
        .unwrap();
    let restore = Holder {
        command: "service restore -s grafana".into(),
        pid: 4242,
        host: "host-a".into(),
        since: t(3_000),
    };
    store
        .begin_maintenance(&["grafana", "mongodb"], &restore)
        .await
        .unwrap();
    let all = store.intents().await.unwrap();
    assert_eq!(all["grafana"].desired, Some(Desired::Stopped));
    assert_eq!(all["grafana"].command, "service stop");
    assert_eq!(all["grafana"].maintenance.as_ref(), Some(&restore));
    assert_eq!(all["rabbitmq"].desired, Some(Desired::Running));
    assert_eq!(all["rabbitmq"].maintenance, None);
    // A marker alone leaves the desired state unrecorded (legacy rule applies).
    assert_eq!(all["mongodb"].desired, None);
    // Another process's end does not clear this one's markers; a forced end does.
    let other = Holder {
        pid: 1,
        ..restore.clone()
    };
    assert_eq!(
        store
            .end_maintenance(&["grafana"], Some(&other))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .end_maintenance(&["grafana", "mongodb"], Some(&restore))
            .await
            .unwrap(),
        2
    );
    store
        .begin_maintenance(&["grafana"], &restore)
        .await
        .unwrap();
    assert_eq!(store.end_maintenance(&["grafana"], None).await.unwrap(), 1);
    let all = store.intents().await.unwrap();
    assert!(all.values().all(|i| i.maintenance.is_none()), "{all:?}");
    assert_eq!(all["grafana"].desired, Some(Desired::Stopped));
    store.close().await;
}
both_backends!(intent, super::desired_state_and_maintenance);

/// With a shared (PostgreSQL) database the lease keeps two projects dirs (two hosts) apart;
/// with SQLite the lock file does.
async fn project_lock_excludes(db: &TestDb) {
    let store = Store::open(&db.location()).await.unwrap();
    // Two project directories stand for two hosts sharing the state database.
    let host_a = tempfile::tempdir().unwrap();
    let host_b = tempfile::tempdir().unwrap();
    let first = Holder::this_process("service restore -s grafana");
    let TryLock::Acquired(lock) = ProjectLock::try_acquire(host_a.path(), Some(&store), &first)
        .await
        .unwrap()
    else {
        panic!("the first lock is free");
    };
    let second = Holder::this_process("config set");
    // Same directory: the lock file is held, and it names the holder.
    match ProjectLock::try_acquire(host_a.path(), Some(&store), &second)
        .await
        .unwrap()
    {
        TryLock::Busy(Some(h)) => assert_eq!(h.command, first.command),
        other => panic!("expected busy, got {other:?}"),
    }
    let shared = store.kind() == store::BackendKind::Postgres;
    let b = ProjectLock::try_acquire(host_b.path(), Some(&store), &second)
        .await
        .unwrap();
    assert_eq!(
        matches!(b, TryLock::Busy(_)),
        shared,
        "only a shared database keeps two hosts apart"
    );
    drop(b);
    assert_eq!(
        project_lock_holder(host_a.path(), Some(&store))
            .await
            .unwrap()
            .map(|h| h.command),
        Some(first.command.clone())
    );
    // A bounded wait ends with Busy naming the holder.
    let mut told = None;
    let err = ProjectLock::acquire(
        host_a.path(),
        Some(&store),
        &second,
        Duration::from_millis(300),
        |h| told = h.map(|h| h.command.clone()),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, store::StoreError::Busy { .. }), "{err}");
    assert!(
        err.to_string().contains("service restore -s grafana"),
        "{err}"
    );
    assert_eq!(told.as_deref(), Some("service restore -s grafana"));
    lock.release().await;
    assert!(
        project_lock_holder(host_a.path(), Some(&store))
            .await
            .unwrap()
            .is_none()
    );
    let TryLock::Acquired(again) = ProjectLock::try_acquire(host_b.path(), Some(&store), &second)
        .await
        .unwrap()
    else {
        panic!("released: free again");
    };
    again.release().await;
    store.close().await;
}
both_backends!(project_lock, super::project_lock_excludes);

#[cfg(unix)]
#[test]
fn the_lock_file_is_not_followed_through_a_symbolic_link() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".dtaas")).unwrap();
    let target = outside.path().join("victim");
    std::fs::write(&target, "keep me").unwrap();
    std::os::unix::fs::symlink(&target, dir.path().join(store::LOCK_FILE)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(ProjectLock::try_acquire(
            dir.path(),
            None,
            &Holder::this_process("config set"),
        ))
        .unwrap_err();
    assert!(matches!(err, store::StoreError::Io { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
}
