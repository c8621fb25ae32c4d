//! Where the scheduler keeps its state: last scheduled times and execution records.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::SystemTime;

use crate::error::BoxError;

/// A boxed, sendable future (the store trait is object safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How an execution attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The task returned an error.
    Failed,
    /// The task panicked (the scheduler kept going).
    Panicked,
    /// The attempt ran past the task's timeout and was dropped.
    TimedOut,
    /// The scheduler stopped forcibly while the attempt ran.
    Cancelled,
}

impl Outcome {
    /// `success`, `failed`, `panicked`, `timed_out`, `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failed => "failed",
            Self::Panicked => "panicked",
            Self::TimedOut => "timed_out",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether the attempt failed in a way a retry might fix.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::Panicked | Self::TimedOut)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "success" => Self::Success,
            "failed" => Self::Failed,
            "panicked" => Self::Panicked,
            "timed_out" => Self::TimedOut,
            "cancelled" => Self::Cancelled,
            other => return Err(format!("unknown outcome {other:?}")),
        })
    }
}

/// The start of one execution attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewExecution {
    pub task: String,
    pub trigger: String,
    pub scheduled_for: SystemTime,
    pub started_at: SystemTime,
    /// 1 for the first attempt.
    pub attempt: u32,
}

/// One recorded execution attempt; `ended_at`/`outcome` are `None` while it runs (or if the
/// process died during it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionRecord {
    pub id: i64,
    pub task: String,
    pub trigger: String,
    pub scheduled_for: SystemTime,
    pub started_at: SystemTime,
    pub ended_at: Option<SystemTime>,
    pub attempt: u32,
    pub outcome: Option<Outcome>,
    pub error: Option<String>,
}

/// Persistence for the scheduler. Tasks are keyed by name and triggers by trigger name, so
/// state survives a restart (task ids do not). Implementations must be cheap to call from
/// many runs at once; a failing store is logged by the scheduler, never fatal to a run.
pub trait SchedulerStore: Send + Sync + fmt::Debug + 'static {
    /// The last scheduled occurrence recorded for a trigger.
    fn last_scheduled<'a>(
        &'a self,
        task: &'a str,
        trigger: &'a str,
    ) -> BoxFuture<'a, Result<Option<SystemTime>, BoxError>>;

    /// Record a trigger's last scheduled occurrence; it only moves forward.
    fn set_last_scheduled<'a>(
        &'a self,
        task: &'a str,
        trigger: &'a str,
        at: SystemTime,
    ) -> BoxFuture<'a, Result<(), BoxError>>;

    /// Record the last scheduled occurrences of several triggers (one dispatcher pass) as
    /// [`SchedulerStore::set_last_scheduled`] does; the default records them one by one.
    fn set_last_scheduled_many<'a>(
        &'a self,
        batch: &'a [(&'a str, &'a str, SystemTime)],
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            for &(task, trigger, at) in batch {
                self.set_last_scheduled(task, trigger, at).await?;
            }
            Ok(())
        })
    }

    /// Record the start of an attempt; returns its id.
    fn start_execution<'a>(&'a self, e: &'a NewExecution) -> BoxFuture<'a, Result<i64, BoxError>>;

    /// Record how an attempt ended.
    fn finish_execution<'a>(
        &'a self,
        id: i64,
        ended_at: SystemTime,
        outcome: Outcome,
        error: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), BoxError>>;

    /// The newest `limit` records of `task`, newest first.
    fn executions<'a>(
        &'a self,
        task: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<ExecutionRecord>, BoxError>>;

    /// Keep only the newest `keep` records of `task`; returns how many were deleted.
    fn prune_executions<'a>(
        &'a self,
        task: &'a str,
        keep: u32,
    ) -> BoxFuture<'a, Result<u64, BoxError>>;
}

#[derive(Debug, Default)]
struct MemoryState {
    /// Task -> trigger -> last scheduled time.
    last: HashMap<String, HashMap<String, SystemTime>>,
    runs: HashMap<String, VecDeque<ExecutionRecord>>,
    /// Record id -> task, so finishing a record does not scan every task's records.
    task_of: HashMap<i64, String>,
    next_id: i64,
}

impl MemoryState {
    fn set_last(&mut self, task: &str, trigger: &str, at: SystemTime) {
        let triggers = match self.last.get_mut(task) {
            Some(m) => m,
            None => self.last.entry(task.to_owned()).or_default(),
        };
        match triggers.get_mut(trigger) {
            Some(slot) if *slot < at => *slot = at,
            Some(_) => {}
            None => {
                triggers.insert(trigger.to_owned(), at);
            }
        }
    }
}

/// A [`SchedulerStore`] in memory (state is lost with the process).
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<MemoryState>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SchedulerStore for MemoryStore {
    fn last_scheduled<'a>(
        &'a self,
        task: &'a str,
        trigger: &'a str,
    ) -> BoxFuture<'a, Result<Option<SystemTime>, BoxError>> {
        let v = self
            .lock()
            .last
            .get(task)
            .and_then(|m| m.get(trigger))
            .copied();
        Box::pin(async move { Ok(v) })
    }

    fn set_last_scheduled<'a>(
        &'a self,
        task: &'a str,
        trigger: &'a str,
        at: SystemTime,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        self.lock().set_last(task, trigger, at);
        Box::pin(async { Ok(()) })
    }

    fn set_last_scheduled_many<'a>(
        &'a self,
        batch: &'a [(&'a str, &'a str, SystemTime)],
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        let mut s = self.lock();
        for &(task, trigger, at) in batch {
            s.set_last(task, trigger, at);
        }
        Box::pin(async { Ok(()) })
    }

    fn start_execution<'a>(&'a self, e: &'a NewExecution) -> BoxFuture<'a, Result<i64, BoxError>> {
        let mut s = self.lock();
        s.next_id += 1;
        let id = s.next_id;
        s.task_of.insert(id, e.task.clone());
        let q = match s.runs.get_mut(&e.task) {
            Some(q) => q,
            None => s.runs.entry(e.task.clone()).or_default(),
        };
        q.push_back(ExecutionRecord {
            id,
            task: e.task.clone(),
            trigger: e.trigger.clone(),
            scheduled_for: e.scheduled_for,
            started_at: e.started_at,
            ended_at: None,
            attempt: e.attempt,
            outcome: None,
            error: None,
        });
        Box::pin(async move { Ok(id) })
    }

    fn finish_execution<'a>(
        &'a self,
        id: i64,
        ended_at: SystemTime,
        outcome: Outcome,
        error: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        let mut guard = self.lock();
        let s = &mut *guard;
        // Ids grow, so each task's records are sorted by id.
        if let Some(q) = s.task_of.get(&id).and_then(|t| s.runs.get_mut(t))
            && let Ok(i) = q.binary_search_by_key(&id, |r| r.id)
        {
            let r = &mut q[i];
            r.ended_at = Some(ended_at);
            r.outcome = Some(outcome);
            r.error = error.map(str::to_owned);
        }
        Box::pin(async { Ok(()) })
    }

    fn executions<'a>(
        &'a self,
        task: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<ExecutionRecord>, BoxError>> {
        let v: Vec<ExecutionRecord> = self
            .lock()
            .runs
            .get(task)
            .map(|q| q.iter().rev().take(limit as usize).cloned().collect())
            .unwrap_or_default();
        Box::pin(async move { Ok(v) })
    }

    fn prune_executions<'a>(
        &'a self,
        task: &'a str,
        keep: u32,
    ) -> BoxFuture<'a, Result<u64, BoxError>> {
        let mut guard = self.lock();
        let s = &mut *guard;
        let mut deleted = 0;
        if let Some(q) = s.runs.get_mut(task) {
            while q.len() > keep as usize {
                if let Some(r) = q.pop_front() {
                    s.task_of.remove(&r.id);
                }
                deleted += 1;
            }
        }
        Box::pin(async move { Ok(deleted) })
    }
}
