//! The scheduler on the state database (components/store, SQLite here; PostgreSQL when
//! DTAAS_TEST_PG_URL is set). Real time: the database driver's own timeouts run on tokio's
//! clock, which a paused clock would fire spuriously. Nothing here asserts on speed.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use scheduler::{
    Outcome, RetryPolicy, Scheduler, SchedulerConfig, SchedulerStore, TaskError, TaskSpec, Trigger,
};
use store::Store;
use store::test_support::TestDb;

use super::ms;

async fn scheduled_on(db: &TestDb) {
    let store = Arc::new(Store::open(&db.location()).await.expect("open"));
    // The previous run of the hourly job was a little over an hour ago: it is due now.
    let last = SystemTime::now() - Duration::from_secs(3601);
    SchedulerStore::set_last_scheduled(&*store, "flaky", "hourly", last)
        .await
        .expect("seed");
    let s = Scheduler::builder(SchedulerConfig {
        history_limit: 2,
        poll_interval: ms(10),
        ..SchedulerConfig::new(2)
    })
    .store(Arc::clone(&store) as Arc<dyn SchedulerStore>)
    .build()
    .expect("build");
    s.add_task(
        TaskSpec::new("flaky", |ctx| async move {
            if ctx.attempt() < 3 {
                Err(TaskError::msg(format!("attempt {} failed", ctx.attempt())))
            } else {
                Ok(())
            }
        })
        .retry(RetryPolicy::fixed(2, ms(5)))
        .trigger(Trigger::interval(Duration::from_secs(3600)).named("hourly")),
    )
    .await
    .expect("add");
    s.start().expect("start");
    for _ in 0..1000 {
        let h = s.history("flaky", 10).await.expect("history");
        if h.first()
            .is_some_and(|r| r.outcome == Some(Outcome::Success))
        {
            break;
        }
        tokio::time::sleep(ms(10)).await;
    }
    assert!(!s.stop(ms(1000)).await.forced);
    // Read again after the run ended: it prunes after recording its last attempt.
    let h = s.history("flaky", 10).await.expect("history");
    assert_eq!(h.len(), 2, "bounded to the newest 2: {h:?}");
    assert_eq!((h[0].attempt, h[0].outcome), (3, Some(Outcome::Success)));
    assert_eq!((h[1].attempt, h[1].outcome), (2, Some(Outcome::Failed)));
    assert_eq!(h[1].error.as_deref(), Some("attempt 2 failed"));
    assert_eq!(h[0].trigger, "hourly");
    let expected = last + Duration::from_secs(3600);
    let millis = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .expect("after epoch")
            .as_millis()
    };
    assert_eq!(millis(h[0].scheduled_for), millis(expected));
    let persisted = SchedulerStore::last_scheduled(&*store, "flaky", "hourly")
        .await
        .expect("last")
        .expect("persisted");
    assert_eq!(millis(persisted), millis(expected));
    store.close().await;
}

#[tokio::test]
async fn sqlite_keeps_records_and_last_scheduled_times() {
    let db = TestDb::sqlite();
    scheduled_on(&db).await;
}

#[tokio::test]
async fn postgres_keeps_records_and_last_scheduled_times() {
    if let Some(db) = TestDb::postgres("scheduler_store_backend").await {
        scheduled_on(&db).await;
    }
}
