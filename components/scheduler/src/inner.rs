//! The state a scheduler's handle, its dispatcher and its runs share.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, OnceCell, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::Clock;
use crate::config::SchedulerConfig;
use crate::id::TaskId;
use crate::live::LiveRuns;
use crate::store::SchedulerStore;
use crate::table::Table;

/// How [`Scheduler::stop`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopReport {
    /// Runs were still going after the grace period, so their tokens were cancelled.
    pub forced: bool,
    /// Runs that were going when the tokens were cancelled.
    pub cancelled: usize,
    /// Runs that still had not ended after `cancel_grace` and were aborted (their record
    /// may stay without an end).
    pub aborted: usize,
}
pub(crate) enum Lifecycle {
    Idle,
    Running(JoinHandle<()>),
    Stopped,
}

pub(crate) struct Inner {
    pub(crate) config: SchedulerConfig,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) store: Arc<dyn SchedulerStore>,
    pub(crate) table: Mutex<Table>,
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) wake: Arc<Notify>,
    /// Stop dispatching and retrying.
    pub(crate) shutdown: CancellationToken,
    /// Parent of every run's token: cancelled on a forced stop.
    pub(crate) force: CancellationToken,
    /// Drops the runs that still go after `cancel_grace` on a forced stop.
    pub(crate) live: LiveRuns,
    pub(crate) tracker: TaskTracker,
    pub(crate) lifecycle: Mutex<Lifecycle>,
    pub(crate) stopped: OnceCell<StopReport>,
}

impl Inner {
    pub(crate) fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A run ended (called from its guard, also when it was aborted).
    pub(crate) fn run_ended(&self, task: TaskId) {
        {
            let mut t = self.table();
            if let Some(e) = t.tasks.get_mut(&task) {
                e.running = e.running.saturating_sub(1);
                if e.remove_when_done && e.done() {
                    tracing::debug!(task = %e.name, "all triggers exhausted: task removed");
                    t.remove(task);
                }
            }
            // A slot or the task itself became free: only a task left due by a pass can
            // use it (a trigger that falls due later wakes the dispatcher by itself).
            if t.waiting.is_empty() {
                return;
            }
        }
        self.wake.notify_one();
    }
}
