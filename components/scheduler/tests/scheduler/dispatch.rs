//! The dispatch path (issue 19): a run's body does not wait for the store, and one pass
//! persists its last scheduled times in one store call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use scheduler::{
    BoxError, BoxFuture, Clock, ExecutionRecord, MemoryStore, NewExecution, Outcome, Scheduler,
    SchedulerStore, TaskSpec, TokioClock, Trigger,
};

use super::{Probe, config, epoch, ms};

/// A [`MemoryStore`] that counts the calls that persist last scheduled times, and whose
/// `start_execution` can be held (it then stays pending, like a database that is slow).
#[derive(Debug, Default)]
struct CountingStore {
    inner: MemoryStore,
    single: AtomicUsize,
    batches: Mutex<Vec<usize>>,
    hold_start: bool,
    /// Bodies started so far (the tasks count them), and that count at each batch persist.
    bodies: AtomicUsize,
    bodies_at_persist: Mutex<Vec<usize>>,
}

impl SchedulerStore for CountingStore {
    fn last_scheduled<'a>(
        &'a self,
        task: &'a str,
        trigger: &'a str,
    ) -> BoxFuture<'a, Result<Option<SystemTime>, BoxError>> {
        self.inner.last_scheduled(task, trigger)
    }

    fn set_last_scheduled<'a>(
        &'a self,
        task: &'a str,
        trigger: &'a str,
        at: SystemTime,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        self.single.fetch_add(1, Ordering::SeqCst);
        self.inner.set_last_scheduled(task, trigger, at)
    }

    fn set_last_scheduled_many<'a>(
        &'a self,
        batch: &'a [(&'a str, &'a str, SystemTime)],
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        self.batches.lock().expect("batches").push(batch.len());
        self.bodies_at_persist
            .lock()
            .expect("bodies")
            .push(self.bodies.load(Ordering::SeqCst));
        self.inner.set_last_scheduled_many(batch)
    }

    fn start_execution<'a>(&'a self, e: &'a NewExecution) -> BoxFuture<'a, Result<i64, BoxError>> {
        if self.hold_start {
            return Box::pin(std::future::pending());
        }
        self.inner.start_execution(e)
    }

    fn finish_execution<'a>(
        &'a self,
        id: i64,
        ended_at: SystemTime,
        outcome: Outcome,
        error: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        self.inner.finish_execution(id, ended_at, outcome, error)
    }

    fn executions<'a>(
        &'a self,
        task: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<ExecutionRecord>, BoxError>> {
        self.inner.executions(task, limit)
    }

    fn prune_executions<'a>(
        &'a self,
        task: &'a str,
        keep: u32,
    ) -> BoxFuture<'a, Result<u64, BoxError>> {
        self.inner.prune_executions(task, keep)
    }
}

fn scheduler_on(store: &Arc<CountingStore>, max_running: usize) -> Scheduler {
    Scheduler::builder(config(max_running, ms(1000)))
        .store(Arc::clone(store) as Arc<dyn SchedulerStore>)
        .clock(Arc::new(TokioClock::starting_at(epoch())) as Arc<dyn Clock>)
        .build()
        .expect("valid config")
}

#[tokio::test(start_paused = true)]
async fn the_body_starts_while_the_store_still_records_its_start() {
    let store = Arc::new(CountingStore {
        hold_start: true,
        ..CountingStore::default()
    });
    let s = scheduler_on(&store, 4);
    let probe = Arc::new(Probe::default());
    let p = Arc::clone(&probe);
    s.add_task(
        TaskSpec::new("slow-store", move |_| {
            p.enter("body");
            p.leave();
            async { Ok(()) }
        })
        .trigger(Trigger::once(ms(5))),
    )
    .await
    .expect("add");
    s.start().expect("start");
    tokio::time::sleep(ms(50)).await;
    assert_eq!(
        probe.calls(),
        1,
        "the body ran though its start is not recorded yet"
    );
    s.stop(ms(10)).await;
}

#[tokio::test(start_paused = true)]
async fn tasks_due_together_are_persisted_in_one_store_call() {
    let store = Arc::new(CountingStore::default());
    let s = scheduler_on(&store, 100);
    let every = ms(100);
    let runs = Arc::new(AtomicUsize::new(0));
    for i in 0..50 {
        let name = format!("t{i}");
        let trigger = Trigger::interval(every);
        // All in phase: the store says each one last ran at the start.
        store
            .inner
            .set_last_scheduled(&name, &trigger.name(), epoch())
            .await
            .expect("seed");
        let r = Arc::clone(&runs);
        s.add_task(
            TaskSpec::new(name, move |ctx| {
                assert_eq!(
                    ctx.scheduled_for()
                        .duration_since(epoch())
                        .expect("after")
                        .as_millis()
                        % 100,
                    0
                );
                r.fetch_add(1, Ordering::SeqCst);
                async { Ok(()) }
            })
            .trigger(trigger),
        )
        .await
        .expect("add");
    }
    s.start().expect("start");
    tokio::time::sleep(ms(350)).await;
    s.stop(ms(100)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 150, "three rounds of 50");
    assert_eq!(
        store.single.load(Ordering::SeqCst),
        0,
        "no call per trigger"
    );
    assert_eq!(*store.batches.lock().expect("batches"), [50, 50, 50]);
}

#[tokio::test(start_paused = true)]
async fn a_batch_due_together_is_persisted_after_all_its_bodies_started() {
    let store = Arc::new(CountingStore::default());
    let s = scheduler_on(&store, 100);
    let every = ms(100);
    for i in 0..50 {
        let name = format!("t{i}");
        let trigger = Trigger::interval(every);
        store
            .inner
            .set_last_scheduled(&name, &trigger.name(), epoch())
            .await
            .expect("seed");
        let st = Arc::clone(&store);
        s.add_task(
            TaskSpec::new(name, move |_| {
                st.bodies.fetch_add(1, Ordering::SeqCst);
                async { Ok(()) }
            })
            .trigger(trigger),
        )
        .await
        .expect("add");
    }
    s.start().expect("start");
    tokio::time::sleep(ms(350)).await;
    s.stop(ms(100)).await;
    // Released through the gate at the due instant, the bodies go first; the dispatcher
    // writes the batch's last scheduled times after them (not before the first one).
    assert_eq!(
        *store.bodies_at_persist.lock().expect("bodies"),
        [50, 100, 150]
    );
}
