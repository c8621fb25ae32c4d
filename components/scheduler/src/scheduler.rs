//! The scheduler handle: registering tasks, start and stop.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, OnceCell, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::{Clock, SystemClock};
use crate::config::SchedulerConfig;
use crate::dispatch::dispatch_loop;
use crate::error::SchedulerError;
use crate::id::TaskId;
use crate::inner::{Inner, Lifecycle, StopReport};
use crate::live::LiveRuns;
use crate::store::{ExecutionRecord, MemoryStore, SchedulerStore};
use crate::table::{Table, TaskEntry};
use crate::task::{TaskInfo, TaskSpec};
use crate::trigger::TriggerState;

/// A background-task scheduler. Cheap to clone (all clones are the same scheduler).
///
/// Tasks run on the tokio runtime `start` was called in. When several tasks are due and
/// slots are scarce, lower priority values run first, ties by id; a task that cannot get a
/// slot keeps its due occurrence (or event) for the next pass: nothing waits for a slot
/// while holding a lock, and nothing is lost.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler")
            .field("config", &self.inner.config)
            .field("tasks", &self.inner.table().tasks.len())
            .finish_non_exhaustive()
    }
}

/// Builds a [`Scheduler`] with a custom store or clock.
#[derive(Debug)]
pub struct SchedulerBuilder {
    config: SchedulerConfig,
    store: Option<Arc<dyn SchedulerStore>>,
    clock: Option<Arc<dyn Clock>>,
}

impl SchedulerBuilder {
    /// Persist last scheduled times and execution records here (default: a [`MemoryStore`]).
    #[must_use]
    pub fn store(mut self, store: Arc<dyn SchedulerStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Read the wall clock from here (default: [`SystemClock`]).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Validate the settings and build the scheduler (not started).
    pub fn build(self) -> Result<Scheduler, SchedulerError> {
        self.config.validate()?;
        let permits = Arc::new(Semaphore::new(self.config.max_running));
        Ok(Scheduler {
            inner: Arc::new(Inner {
                store: self.store.unwrap_or_else(|| Arc::new(MemoryStore::new())),
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                config: self.config,
                table: Mutex::new(Table::default()),
                permits,
                wake: Arc::new(Notify::new()),
                shutdown: CancellationToken::new(),
                force: CancellationToken::new(),
                live: LiveRuns::default(),
                tracker: TaskTracker::new(),
                lifecycle: Mutex::new(Lifecycle::Idle),
                stopped: OnceCell::new(),
            }),
        })
    }
}

impl Scheduler {
    /// A scheduler with an in-memory store and the system clock.
    pub fn new(config: SchedulerConfig) -> Result<Self, SchedulerError> {
        Self::builder(config).build()
    }

    /// Start building a scheduler.
    pub fn builder(config: SchedulerConfig) -> SchedulerBuilder {
        SchedulerBuilder {
            config,
            store: None,
            clock: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &SchedulerConfig {
        &self.inner.config
    }

    /// How many runs may go at once.
    pub fn max_running(&self) -> usize {
        self.inner.config.max_running
    }

    /// How many runs are going right now.
    pub fn running(&self) -> usize {
        self.inner.config.max_running - self.inner.permits.available_permits()
    }

    /// Register a task (also while running); returns its id. The periodic triggers resume
    /// from their persisted last scheduled time, if the store has one (a store failure is
    /// logged and the trigger starts from now).
    pub async fn add_task(&self, spec: TaskSpec) -> Result<TaskId, SchedulerError> {
        if spec.triggers.is_empty() {
            return Err(SchedulerError::NoTrigger { task: spec.name });
        }
        let mut names = HashSet::new();
        for t in &spec.triggers {
            t.validate()?;
            if !names.insert(t.name()) {
                return Err(SchedulerError::DuplicateTrigger {
                    task: spec.name.clone(),
                    trigger: t.name(),
                });
            }
        }
        self.check_name_free(&spec.name)?;
        let mut last = Vec::with_capacity(spec.triggers.len());
        for t in &spec.triggers {
            let v = if t.is_periodic() {
                match self.inner.store.last_scheduled(&spec.name, &t.name()).await {
                    Ok(v) => v,
                    Err(e) => {
                        tracing::warn!(task = %spec.name, trigger = %t.name(), error = %e,
                            "cannot read the last scheduled time; the trigger starts from now");
                        None
                    }
                }
            } else {
                None
            };
            last.push(v);
        }
        let now = self.inner.clock.now();
        let id = {
            let mut table = self.inner.table();
            if table.names.contains_key(spec.name.as_str()) {
                return Err(SchedulerError::DuplicateTask { task: spec.name });
            }
            let id = TaskId(table.next_id);
            table.next_id += 1;
            let triggers: Vec<TriggerState> = spec
                .triggers
                .into_iter()
                .zip(last)
                .map(|(t, last)| {
                    let s = TriggerState::new(t, now, last);
                    s.attach(&self.inner.wake);
                    s
                })
                .collect();
            tracing::debug!(task = %spec.name, id = id.0, "task added");
            let name: Arc<str> = spec.name.into();
            if triggers.iter().any(TriggerState::is_event) {
                table.with_events.insert(id);
            }
            table.names.insert(Arc::clone(&name), id);
            table.tasks.insert(
                id,
                TaskEntry {
                    id,
                    name,
                    description: spec.description,
                    priority: spec.priority,
                    overlap: spec.overlap,
                    retry: spec.retry,
                    timeout: spec.timeout,
                    remove_when_done: spec.remove_when_done,
                    func: spec.func,
                    triggers,
                    running: 0,
                    armed: None,
                },
            );
            table.settle(id, now);
            id
        };
        self.inner.wake.notify_one();
        Ok(id)
    }

    fn check_name_free(&self, name: &str) -> Result<(), SchedulerError> {
        if self.inner.table().names.contains_key(name) {
            return Err(SchedulerError::DuplicateTask {
                task: name.to_owned(),
            });
        }
        Ok(())
    }

    /// Unregister a task; false if there was none. Runs already going finish normally.
    pub fn remove_task(&self, id: TaskId) -> bool {
        let removed = self.inner.table().remove(id).is_some();
        if removed {
            tracing::debug!(id = id.0, "task removed");
        }
        removed
    }

    /// A snapshot of a task.
    pub fn get_task(&self, id: TaskId) -> Option<TaskInfo> {
        self.inner.table().tasks.get(&id).map(TaskEntry::info)
    }

    /// A snapshot of the task named `name`.
    pub fn task_by_name(&self, name: &str) -> Option<TaskInfo> {
        let table = self.inner.table();
        let id = table.names.get(name)?;
        table.tasks.get(id).map(TaskEntry::info)
    }

    /// Snapshots of all tasks, in dispatch order (priority, then id).
    pub fn tasks(&self) -> Vec<TaskInfo> {
        let mut v: Vec<TaskInfo> = self
            .inner
            .table()
            .tasks
            .values()
            .map(TaskEntry::info)
            .collect();
        v.sort_by_key(|t| (t.priority, t.id));
        v
    }

    /// The newest `limit` execution records of the task named `name`, newest first (also
    /// for removed tasks, as long as the store keeps them).
    pub async fn history(
        &self,
        name: &str,
        limit: u32,
    ) -> Result<Vec<ExecutionRecord>, SchedulerError> {
        self.inner
            .store
            .executions(name, limit)
            .await
            .map_err(SchedulerError::Store)
    }

    /// Start dispatching on the current tokio runtime. Only once: a second call (also after
    /// `stop`) is [`SchedulerError::AlreadyStarted`].
    pub fn start(&self) -> Result<(), SchedulerError> {
        let rt = tokio::runtime::Handle::try_current().map_err(|_| SchedulerError::NoRuntime)?;
        let mut lc = self
            .inner
            .lifecycle
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if !matches!(*lc, Lifecycle::Idle) {
            return Err(SchedulerError::AlreadyStarted);
        }
        let inner = Arc::clone(&self.inner);
        *lc = Lifecycle::Running(rt.spawn(dispatch_loop(inner)));
        tracing::info!(
            max_running = self.inner.config.max_running,
            "scheduler started"
        );
        Ok(())
    }

    /// Stop: no new runs, no further retries; wait up to `grace` for the runs going, then
    /// cancel their tokens, give them `cancel_grace` to return, then abort them. Idempotent
    /// (also concurrently): later calls wait for and return the first call's report. A
    /// scheduler that was never started just becomes stopped.
    pub async fn stop(&self, grace: Duration) -> StopReport {
        *self
            .inner
            .stopped
            .get_or_init(|| stop_inner(Arc::clone(&self.inner), grace))
            .await
    }
}

async fn stop_inner(inner: Arc<Inner>, grace: Duration) -> StopReport {
    let dispatcher = {
        let mut lc = inner.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
        match std::mem::replace(&mut *lc, Lifecycle::Stopped) {
            Lifecycle::Running(h) => Some(h),
            Lifecycle::Idle | Lifecycle::Stopped => None,
        }
    };
    inner.shutdown.cancel();
    if let Some(h) = dispatcher
        && let Err(e) = h.await
    {
        tracing::error!(error = %e, "the dispatcher ended abnormally");
    }
    inner.tracker.close();
    let mut report = StopReport {
        forced: false,
        cancelled: 0,
        aborted: 0,
    };
    if tokio::time::timeout(grace, inner.tracker.wait())
        .await
        .is_err()
    {
        report.forced = true;
        report.cancelled = inner.tracker.len();
        tracing::warn!(
            runs = report.cancelled,
            "grace period over: cancelling the runs"
        );
        inner.force.cancel();
        let margin = inner.config.cancel_grace + Duration::from_millis(100);
        if tokio::time::timeout(margin, inner.tracker.wait())
            .await
            .is_err()
        {
            report.aborted = inner.tracker.len();
            tracing::warn!(
                runs = report.aborted,
                "runs did not end after cancellation: aborting them"
            );
            inner.live.abort_all();
            inner.tracker.wait().await;
        }
    }
    tracing::info!(forced = report.forced, "scheduler stopped");
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Scheduler>();
        check::<TaskSpec>();
        check::<crate::Trigger>();
        check::<crate::EventHandle>();
        check::<Arc<dyn SchedulerStore>>();
    }
}
