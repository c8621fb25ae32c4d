//! Scheduler acceptance tests (S1–S11, R1–R10; T1–T7 are unit tests of the trigger module;
//! the cases are listed in docs/adr/0006-scheduler.md), policies, DST and the
//! state-database backend. All on tokio's paused
//! clock: deterministic, and fast however long the simulated schedules are.

mod acceptance;
mod dispatch;
mod dst;
mod policies;
mod regression;
mod store_backend;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use scheduler::{
    Clock, ExecutionRecord, MemoryStore, Scheduler, SchedulerConfig, SchedulerStore, TokioClock,
};

/// 2025-06-15T15:06:40Z, an arbitrary fixed start.
pub(crate) fn epoch() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000)
}

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(crate) fn config(max_running: usize, poll: Duration) -> SchedulerConfig {
    SchedulerConfig {
        poll_interval: poll,
        ..SchedulerConfig::new(max_running)
    }
}

/// A scheduler on a [`TokioClock`] starting at `start`, with a shared in-memory store.
pub(crate) fn scheduler_at(
    config: SchedulerConfig,
    start: SystemTime,
) -> (Scheduler, Arc<MemoryStore>, Arc<TokioClock>) {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(TokioClock::starting_at(start));
    let s = Scheduler::builder(config)
        .store(Arc::clone(&store) as Arc<dyn SchedulerStore>)
        .clock(Arc::clone(&clock) as Arc<dyn Clock>)
        .build()
        .expect("valid config");
    (s, store, clock)
}

pub(crate) fn scheduler(config: SchedulerConfig) -> Scheduler {
    scheduler_at(config, epoch()).0
}

/// History oldest first.
pub(crate) async fn history(s: &Scheduler, task: &str) -> Vec<ExecutionRecord> {
    let mut h = s.history(task, 1000).await.expect("history");
    h.reverse();
    h
}

/// Counts calls and the highest number of concurrent calls.
#[derive(Debug, Default)]
pub(crate) struct Probe {
    pub(crate) calls: AtomicUsize,
    pub(crate) now: AtomicUsize,
    pub(crate) max: AtomicUsize,
    pub(crate) log: Mutex<Vec<String>>,
}

impl Probe {
    pub(crate) fn enter(&self, label: &str) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
        self.log.lock().expect("log").push(label.to_owned());
    }

    pub(crate) fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }

    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub(crate) fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }

    pub(crate) fn log(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }
}
