//! The scheduler: task table, dispatcher loop, lifecycle.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::{Notify, OnceCell, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::{Clock, SystemClock};
use crate::error::SchedulerError;
use crate::run::{Dispatch, execute};
use crate::store::{ExecutionRecord, MemoryStore, SchedulerStore};
use crate::task::{OverlapPolicy, RetryPolicy, TaskFn, TaskId, TaskInfo, TaskSpec, TaskState};
use crate::trigger::TriggerState;

/// Scheduler settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// How many runs may go at once (all tasks together); at least 1.
    pub max_running: usize,
    /// The longest the dispatcher sleeps between passes (it also wakes exactly when a
    /// trigger is due, an event fires, a task is added, or a run ends while a due task
    /// waits for a slot or for that run). A pass costs only the tasks that can be due, so
    /// this is a bound for noticing wall-clock steps, not a polling rate. Default 1 s.
    pub poll_interval: Duration,
    /// How late an occurrence may start before it counts as missed (see
    /// [`crate::MissedRunPolicy`]). Default 5 s.
    pub late_tolerance: Duration,
    /// Execution records kept per task (older ones are pruned). Default 100.
    pub history_limit: u32,
    /// On a forced stop, how long a run may take to return after its token is cancelled
    /// before it is dropped and recorded as cancelled. Default 5 s.
    pub cancel_grace: Duration,
}

impl SchedulerConfig {
    /// Defaults with `max_running` slots.
    pub fn new(max_running: usize) -> Self {
        Self {
            max_running,
            poll_interval: Duration::from_secs(1),
            late_tolerance: Duration::from_secs(5),
            history_limit: 100,
            cancel_grace: Duration::from_secs(5),
        }
    }

    fn validate(&self) -> Result<(), SchedulerError> {
        if self.max_running == 0 {
            return Err(SchedulerError::InvalidConfig(
                "max_running must be at least 1".to_owned(),
            ));
        }
        if self.poll_interval.is_zero() {
            return Err(SchedulerError::InvalidConfig(
                "poll_interval must be greater than zero".to_owned(),
            ));
        }
        if self.history_limit == 0 {
            return Err(SchedulerError::InvalidConfig(
                "history_limit must be at least 1".to_owned(),
            ));
        }
        Ok(())
    }
}

impl Default for SchedulerConfig {
    /// 10 slots, like DMS.
    fn default() -> Self {
        Self::new(10)
    }
}

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

pub(crate) struct TaskEntry {
    pub(crate) id: TaskId,
    pub(crate) name: Arc<str>,
    description: String,
    priority: i32,
    overlap: OverlapPolicy,
    pub(crate) retry: RetryPolicy,
    pub(crate) timeout: Option<Duration>,
    remove_when_done: bool,
    pub(crate) func: TaskFn,
    triggers: Vec<TriggerState>,
    running: usize,
    /// The time of this task's live entry in [`Table::timers`], if it has one.
    armed: Option<SystemTime>,
}

impl TaskEntry {
    fn is_due(&self, now: SystemTime) -> bool {
        self.triggers.iter().any(|t| t.is_due(now))
    }

    fn next_fire(&self) -> Option<SystemTime> {
        self.triggers
            .iter()
            .filter_map(TriggerState::next_fire)
            .min()
    }

    fn done(&self) -> bool {
        self.running == 0 && self.triggers.iter().all(TriggerState::is_exhausted)
    }

    fn info(&self) -> TaskInfo {
        let state = if self.running > 0 {
            TaskState::Running
        } else if self.done() {
            TaskState::Completed
        } else {
            TaskState::Scheduled
        };
        TaskInfo {
            id: self.id,
            name: self.name.to_string(),
            description: self.description.clone(),
            priority: self.priority,
            overlap: self.overlap,
            state,
            running: self.running,
            next_run: self.next_fire(),
            triggers: self.triggers.iter().map(TriggerState::info).collect(),
        }
    }
}

/// The task table. A dispatcher pass only looks at the tasks that can be due: those whose
/// earliest timed trigger has come ([`Table::timers`], a min-heap), those left due by an
/// earlier pass ([`Table::waiting`]) and those with an event trigger.
#[derive(Default)]
pub(crate) struct Table {
    next_id: u64,
    tasks: BTreeMap<TaskId, TaskEntry>,
    names: HashMap<Arc<str>, TaskId>,
    /// `(fire time, task)` of each task's earliest future timed trigger. Entries whose time
    /// no longer matches the task's `armed` (or whose task is gone) are stale and skipped.
    timers: BinaryHeap<Reverse<(SystemTime, TaskId)>>,
    /// Tasks that are due but could not run (no free slot, or still running): retried on
    /// every pass, and a run that ends wakes the dispatcher for them.
    waiting: BTreeSet<TaskId>,
    /// Tasks with an event trigger (events are counted by their handles, outside the table).
    with_events: BTreeSet<TaskId>,
}

impl Table {
    /// After a task's triggers may have changed at `now`: keep it in `waiting` while it is
    /// due, and keep one live timer entry for its next future fire time.
    fn settle(&mut self, id: TaskId, now: SystemTime) {
        let Some(entry) = self.tasks.get_mut(&id) else {
            self.waiting.remove(&id);
            return;
        };
        if entry.is_due(now) {
            self.waiting.insert(id);
        } else {
            self.waiting.remove(&id);
        }
        match entry.next_fire().filter(|&t| t > now) {
            Some(t) if entry.armed != Some(t) => {
                entry.armed = Some(t);
                self.timers.push(Reverse((t, id)));
            }
            Some(_) => {}
            None => entry.armed = None,
        }
    }

    fn remove(&mut self, id: TaskId) -> Option<TaskEntry> {
        let entry = self.tasks.remove(&id)?;
        self.names.remove(&entry.name);
        self.waiting.remove(&id);
        self.with_events.remove(&id);
        Some(entry)
    }

    /// Pop the timer entries due at `now`: their tasks (live entries only).
    fn pop_due_timers(&mut self, now: SystemTime, out: &mut Vec<TaskId>) {
        while let Some(&Reverse((t, id))) = self.timers.peek() {
            if t > now {
                break;
            }
            self.timers.pop();
            if let Some(e) = self.tasks.get_mut(&id)
                && e.armed == Some(t)
            {
                e.armed = None;
                out.push(id);
            }
        }
    }

    /// The earliest live timer (stale entries at the top are dropped).
    fn next_timer(&mut self) -> Option<SystemTime> {
        while let Some(&Reverse((t, id))) = self.timers.peek() {
            if self.tasks.get(&id).is_some_and(|e| e.armed == Some(t)) {
                return Some(t);
            }
            self.timers.pop();
        }
        None
    }
}

enum Lifecycle {
    Idle,
    Running(JoinHandle<()>),
    Stopped,
}

pub(crate) struct Inner {
    pub(crate) config: SchedulerConfig,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) store: Arc<dyn SchedulerStore>,
    table: Mutex<Table>,
    permits: Arc<Semaphore>,
    pub(crate) wake: Arc<Notify>,
    /// Stop dispatching and retrying.
    pub(crate) shutdown: CancellationToken,
    /// Parent of every run's token: cancelled on a forced stop.
    pub(crate) force: CancellationToken,
    /// Drops the runs that still go after `cancel_grace` on a forced stop.
    abort: CancellationToken,
    tracker: TaskTracker,
    lifecycle: Mutex<Lifecycle>,
    stopped: OnceCell<StopReport>,
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

/// One dispatcher pass, computed under the table lock without awaiting anything.
#[derive(Default)]
struct Pass {
    dispatches: Vec<Dispatch>,
    persist: Vec<(Arc<str>, Arc<str>, SystemTime)>,
    next_wake: Option<SystemTime>,
}

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
                abort: CancellationToken::new(),
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
            inner.abort.cancel();
            inner.tracker.wait().await;
        }
    }
    tracing::info!(forced = report.forced, "scheduler stopped");
    report
}

async fn dispatch_loop(inner: Arc<Inner>) {
    loop {
        if inner.shutdown.is_cancelled() {
            break;
        }
        let now = inner.clock.now();
        let pass = plan(&inner, now);
        spawn_runs(&inner, pass.dispatches);
        for (task, trigger, at) in pass.persist {
            if let Err(e) = inner.store.set_last_scheduled(&task, &trigger, at).await {
                tracing::warn!(task = %task, trigger = %trigger, error = %e,
                    "cannot persist the last scheduled time");
            }
        }
        // Sleep until the next timer, but at most `poll_interval` (a wall-clock step is
        // noticed within that bound); events, added tasks and freed slots wake us early.
        let mut wait = inner.config.poll_interval;
        if let Some(next) = pass.next_wake {
            let until = next.duration_since(inner.clock.now()).unwrap_or_default();
            wait = wait.min(until);
        }
        tokio::select! {
            () = inner.shutdown.cancelled() => break,
            () = inner.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
    tracing::debug!("dispatcher stopped");
}

/// Each run is its own tokio task; a forced stop that runs out of `cancel_grace` drops it
/// (its guard then releases the slot and the task's running mark).
fn spawn_runs(inner: &Arc<Inner>, dispatches: Vec<Dispatch>) {
    for d in dispatches {
        let abort = inner.abort.clone();
        let run = execute(Arc::clone(inner), d);
        inner.tracker.spawn(async move {
            tokio::select! {
                biased;
                () = run => {}
                () = abort.cancelled() => {}
            }
        });
    }
}

fn plan(inner: &Inner, now: SystemTime) -> Pass {
    let tolerance = inner.config.late_tolerance;
    let mut pass = Pass::default();
    let mut guard = inner.table();
    let table = &mut *guard;
    // Only the tasks that can be due are looked at and ordered: those whose timer came,
    // those left due by an earlier pass and those with an event trigger.
    let mut candidates = Vec::new();
    table.pop_due_timers(now, &mut candidates);
    candidates.extend(table.waiting.iter().copied());
    candidates.extend(table.with_events.iter().copied());
    let mut order: Vec<(i32, TaskId)> = candidates
        .into_iter()
        .filter_map(|id| table.tasks.get(&id).map(|e| (e.priority, id)))
        .collect();
    order.sort_unstable();
    order.dedup();
    let mut full = false;
    for &(_, id) in &order {
        if let Some(entry) = table.tasks.get_mut(&id) {
            consider(inner, entry, now, tolerance, &mut full, &mut pass);
        }
        table.settle(id, now);
    }
    pass.next_wake = table.next_timer();
    pass
}

/// Dispatch one candidate task if it is due and can run; otherwise apply its overlap policy
/// or leave it due.
fn consider(
    inner: &Inner,
    entry: &mut TaskEntry,
    now: SystemTime,
    tolerance: Duration,
    full: &mut bool,
    pass: &mut Pass,
) {
    let due: Vec<usize> = (0..entry.triggers.len())
        .filter(|&i| entry.triggers[i].is_due(now))
        .collect();
    if due.is_empty() {
        return;
    }
    if entry.running > 0 && entry.overlap != OverlapPolicy::Allow {
        if entry.overlap == OverlapPolicy::Skip {
            for &i in &due {
                let trig = &mut entry.triggers[i];
                if let Some(at) = trig.skip(now) {
                    tracing::info!(task = %entry.name, trigger = %trig.name,
                        "occurrence skipped: the task is still running");
                    pass.persist
                        .push((Arc::clone(&entry.name), Arc::clone(&trig.name), at));
                }
            }
        }
        return;
    }
    if *full {
        return;
    }
    let Ok(permit) = Arc::clone(&inner.permits).try_acquire_owned() else {
        tracing::debug!(task = %entry.name, "no free slot: the task stays due");
        *full = true;
        return;
    };
    let mut primary = None;
    for &i in &due {
        let trig = &mut entry.triggers[i];
        let taken = trig.take(now, tolerance);
        if let Some(at) = taken.persist {
            pass.persist
                .push((Arc::clone(&entry.name), Arc::clone(&trig.name), at));
        }
        match taken.run {
            Some(s) if primary.is_none() => primary = Some((Arc::clone(&trig.name), s)),
            Some(_) => {}
            None if trig.is_periodic() => {
                tracing::info!(task = %entry.name, trigger = %trig.name,
                    "missed occurrences skipped (missed-run policy)");
            }
            None => {}
        }
    }
    let Some((trigger, scheduled_for)) = primary else {
        return;
    };
    entry.running += 1;
    pass.dispatches.push(Dispatch {
        task_id: entry.id,
        task_name: Arc::clone(&entry.name),
        trigger,
        scheduled_for,
        func: Arc::clone(&entry.func),
        retry: entry.retry.clone(),
        timeout: entry.timeout,
        permit,
    });
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
