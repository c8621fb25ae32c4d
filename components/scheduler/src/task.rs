//! What a task is: its function, priority, triggers and policies.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::RngExt;
use tokio_util::sync::CancellationToken;

use crate::clock::duration_nanos;
pub(crate) use crate::id::TaskId;
use crate::trigger::{Trigger, TriggerInfo};

/// Why a task run failed. Built from any error with `?` (the source chain is kept in the
/// message), or with [`TaskError::msg`]; [`TaskError::permanent`] marks it not worth retrying.
pub struct TaskError {
    message: String,
    retryable: bool,
}

impl TaskError {
    /// A retryable failure with this message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            retryable: true,
        }
    }

    /// A failure that retrying will not fix: no further attempts are made.
    pub fn permanent(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            retryable: false,
        }
    }

    /// The error text (with its source chain, joined by ": ").
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the scheduler may retry after this failure.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for TaskError {
    fn from(e: E) -> Self {
        let mut message = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        Self {
            message,
            retryable: true,
        }
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskError")
            .field("message", &self.message)
            .field("retryable", &self.retryable)
            .finish()
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a task function receives for one attempt.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub(crate) task_id: Option<TaskId>,
    pub(crate) task_name: Arc<str>,
    pub(crate) trigger: Arc<str>,
    pub(crate) scheduled_for: SystemTime,
    pub(crate) attempt: u32,
    pub(crate) cancel: CancellationToken,
}

impl RunContext {
    /// A context for calling a task function directly, outside a scheduler
    /// (see [`TaskSpec::call`]): attempt 1, trigger `"manual"`.
    pub fn manual(task_name: &str, scheduled_for: SystemTime, cancel: CancellationToken) -> Self {
        Self {
            task_id: None,
            task_name: task_name.into(),
            trigger: "manual".into(),
            scheduled_for,
            attempt: 1,
            cancel,
        }
    }

    /// The task's id (`None` for a manual call).
    pub fn task_id(&self) -> Option<TaskId> {
        self.task_id
    }

    /// The task's name.
    pub fn task_name(&self) -> &str {
        &self.task_name
    }

    /// The name of the trigger that caused this run.
    pub fn trigger(&self) -> &str {
        &self.trigger
    }

    /// The nominal time of the occurrence being run (without jitter).
    pub fn scheduled_for(&self) -> SystemTime {
        self.scheduled_for
    }

    /// 1 for the first attempt, 2 for the first retry, ...
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Cancelled when the run times out or the scheduler stops forcibly: long work should
    /// watch it and return early.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }
}

pub(crate) type TaskFuture = Pin<Box<dyn Future<Output = Result<(), TaskError>> + Send + 'static>>;
pub(crate) type TaskFn = Arc<dyn Fn(RunContext) -> TaskFuture + Send + Sync + 'static>;

/// What to do when a task's periodic trigger falls due while a run of it is still going.
/// Event and one-time triggers are never dropped: they wait until the task can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverlapPolicy {
    /// Drop the occurrence (it is recorded as the last scheduled time, not run).
    #[default]
    Skip,
    /// Keep one occurrence per trigger pending and run it when the current run ends.
    Queue,
    /// Start another run concurrently (still bounded by the scheduler's `max_running`).
    Allow,
}

/// Retries of a failed attempt: `max_retries + 1` attempts in all, waiting
/// `min(initial * factor^(n-1), max_delay)` before retry `n`, drawn uniformly from the upper
/// half of that delay when `jitter` is on. A stop interrupts the wait. The concurrency slot
/// stays held while waiting.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub initial_delay: Duration,
    pub factor: f64,
    pub max_delay: Duration,
    pub jitter: bool,
}

impl Default for RetryPolicy {
    /// No retry.
    fn default() -> Self {
        Self::none()
    }
}

impl RetryPolicy {
    /// One attempt only.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            initial_delay: Duration::ZERO,
            factor: 1.0,
            max_delay: Duration::ZERO,
            jitter: false,
        }
    }

    /// A fixed delay between attempts.
    pub fn fixed(max_retries: u32, delay: Duration) -> Self {
        Self {
            max_retries,
            initial_delay: delay,
            factor: 1.0,
            max_delay: delay,
            jitter: false,
        }
    }

    /// Exponential backoff (factor 2) from `initial` up to `max`, with jitter.
    pub fn exponential(max_retries: u32, initial: Duration, max: Duration) -> Self {
        Self {
            max_retries,
            initial_delay: initial,
            factor: 2.0,
            max_delay: max,
            jitter: true,
        }
    }

    /// The un-jittered delay before retry `retry` (1-based), capped at `max_delay`.
    pub fn base_delay(&self, retry: u32) -> Duration {
        let exp = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let factor = if self.factor.is_finite() && self.factor >= 1.0 {
            self.factor
        } else {
            1.0
        };
        let secs = self.initial_delay.as_secs_f64() * factor.powi(exp);
        let cap = self.max_delay.max(self.initial_delay);
        if !secs.is_finite() || secs >= cap.as_secs_f64() {
            cap
        } else {
            Duration::from_secs_f64(secs)
        }
    }

    /// The delay actually waited before retry `retry` (1-based).
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        let base = self.base_delay(retry);
        if self.jitter && !base.is_zero() {
            let half = base / 2;
            let extra = rand::rng().random_range(0..=duration_nanos(base - half));
            half + Duration::from_nanos(extra)
        } else {
            base
        }
    }
}

/// A task to register with [`crate::Scheduler::add_task`].
pub struct TaskSpec {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) priority: i32,
    pub(crate) triggers: Vec<Trigger>,
    pub(crate) overlap: OverlapPolicy,
    pub(crate) retry: RetryPolicy,
    pub(crate) timeout: Option<Duration>,
    pub(crate) remove_when_done: bool,
    pub(crate) func: TaskFn,
}

impl fmt::Debug for TaskSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskSpec")
            .field("name", &self.name)
            .field("priority", &self.priority)
            .field("triggers", &self.triggers)
            .field("overlap", &self.overlap)
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .field("remove_when_done", &self.remove_when_done)
            .finish_non_exhaustive()
    }
}

impl TaskSpec {
    /// A task named `name` (unique within a scheduler) running `f`. Defaults: priority 0,
    /// no trigger, overlap [`OverlapPolicy::Skip`], no retry, no timeout.
    pub fn new<F, Fut>(name: impl Into<String>, f: F) -> Self
    where
        F: Fn(RunContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), TaskError>> + Send + 'static,
    {
        Self {
            name: name.into(),
            description: String::new(),
            priority: 0,
            triggers: Vec::new(),
            overlap: OverlapPolicy::default(),
            retry: RetryPolicy::default(),
            timeout: None,
            remove_when_done: false,
            func: Arc::new(move |ctx| Box::pin(f(ctx))),
        }
    }

    /// Free text shown in listings.
    #[must_use]
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// Lower runs first when several tasks are due and slots are scarce; ties by id.
    #[must_use]
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Add a trigger; any of a task's triggers fires it (OR).
    #[must_use]
    pub fn trigger(mut self, trigger: Trigger) -> Self {
        self.triggers.push(trigger);
        self
    }

    /// What to do with a periodic occurrence while the task still runs.
    #[must_use]
    pub fn overlap(mut self, policy: OverlapPolicy) -> Self {
        self.overlap = policy;
        self
    }

    /// Retries of failed attempts.
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Limit each attempt to `timeout`: the run's token is cancelled, the attempt is dropped
    /// and recorded as timed out (and retried if the policy allows).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Remove the task once all its triggers are exhausted (only one-time triggers can be)
    /// and its last run has ended, instead of keeping it as [`TaskState::Completed`].
    #[must_use]
    pub fn remove_when_done(mut self, yes: bool) -> Self {
        self.remove_when_done = yes;
        self
    }

    /// The task's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Call the task function once, directly (no scheduler, retry, timeout or record):
    /// for one-shot runners and tests.
    pub async fn call(&self, ctx: RunContext) -> Result<(), TaskError> {
        (self.func)(ctx).await
    }
}

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Waiting for a trigger.
    Scheduled,
    /// At least one run is going.
    Running,
    /// Every trigger is exhausted (one-time triggers that fired) and no run is going.
    Completed,
}

/// A snapshot of a registered task.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TaskInfo {
    pub id: TaskId,
    pub name: String,
    pub description: String,
    pub priority: i32,
    pub overlap: OverlapPolicy,
    pub state: TaskState,
    /// Runs going right now.
    pub running: usize,
    /// The earliest time a trigger will fire next (with jitter), if any is timed.
    pub next_run: Option<SystemTime>,
    pub triggers: Vec<TriggerInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            jitter: false,
            ..RetryPolicy::exponential(10, Duration::from_secs(1), Duration::from_secs(10))
        };
        let d: Vec<u64> = (1..=6).map(|n| p.base_delay(n).as_secs()).collect();
        assert_eq!(d, [1, 2, 4, 8, 10, 10]);
        assert_eq!(p.base_delay(1000), Duration::from_secs(10));
        let fixed = RetryPolicy::fixed(3, Duration::from_millis(5));
        assert_eq!(fixed.delay(3), Duration::from_millis(5));
    }

    #[test]
    fn jittered_backoff_stays_in_the_upper_half() {
        let p = RetryPolicy::exponential(5, Duration::from_secs(4), Duration::from_secs(60));
        for _ in 0..200 {
            let d = p.delay(2);
            assert!(
                d >= Duration::from_secs(4) && d <= Duration::from_secs(8),
                "{d:?}"
            );
        }
    }

    #[test]
    fn task_error_keeps_the_source_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let e = TaskError::from(Outer(std::io::Error::other("inner")));
        assert_eq!(e.message(), "outer: inner");
        assert!(e.is_retryable());
        assert!(!TaskError::permanent("no").is_retryable());
    }
}
