use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use store::{
    Account, ExecutionOutcome, ImportOutcome, JournalEntry, NewExecution, NewSecret, Outcome, Store,
};

use store::both_backends;
use store::test_support::TestDb;

fn t(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

async fn journal_keeps_order_and_limit(db: &TestDb) {
    let store = Store::open(&db.location()).await.unwrap();
    assert!(store.history(10).await.unwrap().is_empty());
    let mut first = JournalEntry::new("service install", Outcome::Ok).service("mongodb");
    first.at = t(1_700_000_000_000);
    store.record(&first).await.unwrap();
    store
        .record(
            &JournalEntry::new("user add", Outcome::Failed)
                .service("gitlab")
                .detail("HTTP 500"),
        )
        .await
        .unwrap();
    store
        .record(&JournalEntry::new("project generate", Outcome::Partial))
        .await
        .unwrap();

    let all = store.history(10).await.unwrap();
    let commands: Vec<&str> = all.iter().map(|r| r.entry.command.as_str()).collect();
    assert_eq!(
        commands,
        ["project generate", "user add", "service install"]
    );
    assert_eq!(all[2].entry, first, "round trip of the oldest entry");
    assert_eq!(all[1].entry.detail, "HTTP 500");
    assert_eq!(all[1].entry.outcome, Outcome::Failed);
    assert_eq!(all[0].entry.service, None);
    assert!(all[0].id > all[1].id && all[1].id > all[2].id);
    assert_eq!(store.history(2).await.unwrap().len(), 2);
    store.close().await;
}
both_backends!(journal, super::journal_keeps_order_and_limit);

fn secret(name: &str, byte: u8) -> NewSecret {
    NewSecret {
        name: name.to_owned(),
        ciphertext: vec![byte; 40],
        nonce: vec![byte; 24],
    }
}

async fn secrets_round_trip(db: &TestDb) {
    let store = Store::open(&db.location()).await.unwrap();
    store
        .put_secret(&secret("B_TOKEN", 1), t(1000))
        .await
        .unwrap();
    store
        .put_secret(&secret("A_PASSWORD", 2), t(2000))
        .await
        .unwrap();
    store
        .put_secret(&secret("B_TOKEN", 3), t(3000))
        .await
        .unwrap();

    let row = store.get_secret("B_TOKEN").await.unwrap().expect("B_TOKEN");
    assert_eq!(row.ciphertext, vec![3; 40]);
    assert_eq!(
        (row.created_at, row.updated_at),
        (t(1000), t(3000)),
        "update keeps created_at"
    );
    assert!(
        !format!("{row:?}").contains("[3, 3"),
        "Debug shows ciphertext bytes"
    );

    let names: Vec<String> = store
        .list_secrets()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["A_PASSWORD", "B_TOKEN"]);
    assert!(store.delete_secret("A_PASSWORD").await.unwrap());
    assert!(!store.delete_secret("A_PASSWORD").await.unwrap());
    assert_eq!(store.get_secret("A_PASSWORD").await.unwrap(), None);
    store.close().await;
}
both_backends!(secrets, super::secrets_round_trip);

async fn import_runs_once_and_keeps_existing(db: &TestDb) {
    let store = Store::open(&db.location()).await.unwrap();
    store
        .put_secret(&secret("EXISTING", 9), t(1))
        .await
        .unwrap();
    let batch = [secret("EXISTING", 1), secret("NEW", 2)];
    let first = store
        .import_secrets_once("import.legacy", "done", &batch, t(2))
        .await
        .unwrap();
    assert_eq!(
        first,
        ImportOutcome::Imported {
            inserted: vec!["NEW".into()],
            kept: vec!["EXISTING".into()]
        }
    );
    assert_eq!(
        store
            .get_secret("EXISTING")
            .await
            .unwrap()
            .unwrap()
            .ciphertext,
        vec![9; 40]
    );
    let second = store
        .import_secrets_once("import.legacy", "done", &[secret("OTHER", 3)], t(3))
        .await
        .unwrap();
    assert_eq!(second, ImportOutcome::AlreadyDone);
    assert_eq!(store.get_secret("OTHER").await.unwrap(), None);
    assert_eq!(
        store.get_meta("import.legacy").await.unwrap().as_deref(),
        Some("done")
    );
    store.close().await;
}
both_backends!(import_once, super::import_runs_once_and_keeps_existing);

async fn meta_values(db: &TestDb) {
    let store = Store::open(&db.location()).await.unwrap();
    assert_eq!(store.get_meta("k").await.unwrap(), None);
    assert!(store.set_meta_if_absent("k", "v1", t(1)).await.unwrap());
    assert!(!store.set_meta_if_absent("k", "v2", t(2)).await.unwrap());
    assert_eq!(store.get_meta("k").await.unwrap().as_deref(), Some("v1"));
    store.set_meta("k", "v3", t(3)).await.unwrap();
    assert_eq!(store.get_meta("k").await.unwrap().as_deref(), Some("v3"));
    store.close().await;
}
both_backends!(meta, super::meta_values);

async fn accounts_upsert(db: &TestDb) {
    let store = Store::open(&db.location()).await.unwrap();
    let mut a = Account {
        service: "gitlab".into(),
        username: "user1".into(),
        state: "created".into(),
        fingerprint: "fp1".into(),
        updated_at: t(10),
    };
    store.upsert_account(&a).await.unwrap();
    a.fingerprint = "fp2".into();
    a.updated_at = t(20);
    store.upsert_account(&a).await.unwrap();
    let other = Account {
        service: "mongodb".into(),
        ..a.clone()
    };
    store.upsert_account(&other).await.unwrap();

    assert_eq!(
        store.account("gitlab", "user1").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store.accounts(Some("gitlab")).await.unwrap(),
        vec![a.clone()]
    );
    assert_eq!(store.accounts(None).await.unwrap(), vec![a.clone(), other]);
    assert!(store.delete_account("gitlab", "user1").await.unwrap());
    assert_eq!(store.account("gitlab", "user1").await.unwrap(), None);
    store.close().await;
}
both_backends!(accounts, super::accounts_upsert);

async fn executions_and_triggers(db: &TestDb) {
    let store = Store::open(&db.location()).await.unwrap();
    let mut ids = Vec::new();
    for attempt in 1..=3 {
        let id = store
            .start_execution(&NewExecution {
                job: "sync".into(),
                trigger: "cron".into(),
                scheduled_for: t(1000),
                started_at: t(1000 + u64::from(attempt)),
                attempt,
            })
            .await
            .unwrap();
        ids.push(id);
    }
    assert!(
        store
            .finish_execution(ids[0], t(1100), ExecutionOutcome::Failed, Some("boom"))
            .await
            .unwrap()
    );
    assert!(
        store
            .finish_execution(ids[1], t(1200), ExecutionOutcome::Success, None)
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_execution(-1, t(1), ExecutionOutcome::Success, None)
            .await
            .unwrap()
    );

    let list = store.executions("sync", 10).await.unwrap();
    assert_eq!(
        list.iter().map(|e| e.attempt).collect::<Vec<_>>(),
        [3, 2, 1]
    );
    assert_eq!(
        (list[0].outcome, list[0].ended_at),
        (None, None),
        "still running"
    );
    assert_eq!(list[2].outcome, Some(ExecutionOutcome::Failed));
    assert_eq!(list[2].error.as_deref(), Some("boom"));
    assert_eq!(list[1].ended_at, Some(t(1200)));
    assert_eq!(store.prune_executions("sync", 1).await.unwrap(), 2);
    assert_eq!(store.executions("sync", 10).await.unwrap().len(), 1);

    assert_eq!(store.last_scheduled("sync", "cron").await.unwrap(), None);
    assert!(
        store
            .set_last_scheduled("sync", "cron", t(5000))
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_last_scheduled("sync", "cron", t(4000))
            .await
            .unwrap(),
        "never moves back"
    );
    assert_eq!(
        store.last_scheduled("sync", "cron").await.unwrap(),
        Some(t(5000))
    );
    assert!(
        store
            .set_last_scheduled("sync", "cron", t(6000))
            .await
            .unwrap()
    );
    assert_eq!(
        store.last_scheduled("sync", "cron").await.unwrap(),
        Some(t(6000))
    );
    assert_eq!(store.last_scheduled("sync", "other").await.unwrap(), None);
    store.close().await;
}
both_backends!(executions, super::executions_and_triggers);

async fn leases_are_exclusive(db: &TestDb) {
    let store = Store::open(&db.location()).await.unwrap();
    let ttl = Duration::from_secs(60);
    let now = t(1_000_000);

    // 16 runners race for the same lease at the same instant: exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let holder = format!("runner-{i}");
            store
                .try_acquire_lease("job:sync", &holder, now, ttl)
                .await
                .unwrap()
                .map(|l| l.holder)
        }));
    }
    let mut winners = HashSet::new();
    for task in tasks {
        if let Some(h) = task.await.unwrap() {
            winners.insert(h);
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let winner = winners.into_iter().next().unwrap();
    assert_eq!(
        store.lease("job:sync").await.unwrap().unwrap().holder,
        winner
    );

    // Others cannot take or renew it while valid; the holder can re-acquire and renew.
    assert_eq!(
        store
            .try_acquire_lease("job:sync", "intruder", t(1_030_000), ttl)
            .await
            .unwrap(),
        None
    );
    assert!(
        !store
            .renew_lease("job:sync", "intruder", t(1_030_000), ttl)
            .await
            .unwrap()
    );
    assert!(
        store
            .renew_lease("job:sync", &winner, t(1_030_000), ttl)
            .await
            .unwrap()
    );
    assert_eq!(
        store.lease("job:sync").await.unwrap().unwrap().expires_at,
        t(1_090_000)
    );
    assert!(
        store
            .try_acquire_lease("job:sync", &winner, t(1_031_000), ttl)
            .await
            .unwrap()
            .is_some()
    );
    // After expiry the holder cannot renew, someone else can take it.
    let late = t(1_091_000 + 1);
    assert!(
        !store
            .renew_lease("job:sync", &winner, late, ttl)
            .await
            .unwrap()
    );
    let taken = store
        .try_acquire_lease("job:sync", "intruder", late, ttl)
        .await
        .unwrap();
    assert_eq!(taken.map(|l| l.holder).as_deref(), Some("intruder"));
    assert!(
        !store.release_lease("job:sync", &winner).await.unwrap(),
        "not the holder any more"
    );
    assert!(store.release_lease("job:sync", "intruder").await.unwrap());
    assert_eq!(store.lease("job:sync").await.unwrap(), None);
    store.close().await;
}
both_backends!(leases, super::leases_are_exclusive);
