//! One dispatched run: attempts, retries, timeout, cancellation, panic isolation, records.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::FutureExt;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::gate::Gate;
use crate::inner::Inner;
use crate::store::{NewExecution, Outcome};
use crate::task::{RetryPolicy, RunContext, TaskFn, TaskId};

/// A run handed from the dispatcher to its own tokio task, holding its slot.
pub(crate) struct Dispatch {
    pub(crate) task_id: TaskId,
    pub(crate) task_name: Arc<str>,
    pub(crate) trigger: Arc<str>,
    pub(crate) scheduled_for: SystemTime,
    pub(crate) func: TaskFn,
    pub(crate) retry: RetryPolicy,
    pub(crate) timeout: Option<Duration>,
    pub(crate) permit: OwnedSemaphorePermit,
}

/// Releases the slot and the task's running mark however the run ends (also when aborted).
struct RunGuard {
    inner: Arc<Inner>,
    task: TaskId,
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        drop(self.permit.take());
        self.inner.run_ended(self.task);
    }
}

/// A run's place in a batch prepared ahead: counted as started when dropped (after its
/// body's first poll, or when the run ends or is dropped before that).
struct StartTicket(Arc<Gate>);

impl Drop for StartTicket {
    fn drop(&mut self) {
        self.0.started();
    }
}

struct AttemptResult {
    outcome: Outcome,
    error: Option<String>,
    retryable: bool,
}

pub(crate) async fn execute(inner: Arc<Inner>, d: Dispatch, gate: Option<Arc<Gate>>) {
    let Dispatch {
        task_id,
        task_name,
        trigger,
        scheduled_for,
        func,
        retry,
        timeout,
        permit,
    } = d;
    let _guard = RunGuard {
        inner: Arc::clone(&inner),
        task: task_id,
        permit: Some(permit),
    };
    // Prepared ahead of its due instant: wait for it (or for a stop, then nothing runs).
    let mut ticket = gate.map(StartTicket);
    if let Some(StartTicket(gate)) = &ticket
        && !gate.pass().await
    {
        return;
    }
    let span =
        tracing::info_span!("task_run", task = %task_name, id = task_id.0, trigger = %trigger);
    async {
        let mut attempt = 1u32;
        loop {
            let started_at = inner.clock.now();
            // Not a child of `force` (that would lock the one parent twice per attempt
            // from every run): the attempt cancels it when it sees `force` cancelled.
            let token = CancellationToken::new();
            if inner.force.is_cancelled() {
                token.cancel();
            }
            let ctx = RunContext {
                task_id: Some(task_id),
                task_name: Arc::clone(&task_name),
                trigger: Arc::clone(&trigger),
                scheduled_for,
                attempt,
                cancel: token.clone(),
            };
            tracing::debug!(attempt, "attempt started");
            // The body is polled first; its start is recorded meanwhile (for a batch
            // prepared ahead: once every body of the batch started; the bookkeeping follows).
            let rec = NewExecution {
                task: String::from(&*task_name),
                trigger: String::from(&*trigger),
                scheduled_for,
                started_at,
                attempt,
            };
            let (r, rec_id) = futures_util::future::join(
                attempt_once(&inner, &func, ctx, timeout, &token),
                record_start(&inner, ticket.take(), &rec),
            )
            .await;
            let ended_at = inner.clock.now();
            log_outcome(attempt, &r);
            if let Some(id) = rec_id {
                record_end(&inner, &task_name, id, ended_at, &r).await;
            }
            if !retry_after_backoff(&inner, &r, attempt, &retry).await {
                break;
            }
            attempt += 1;
        }
    }
    .instrument(span)
    .await;
}

/// Whether a failed attempt is tried again: retryable, retries left and no stop; then
/// waits for the backoff (false when the scheduler stops meanwhile).
async fn retry_after_backoff(
    inner: &Inner,
    r: &AttemptResult,
    attempt: u32,
    retry: &RetryPolicy,
) -> bool {
    let again = r.outcome.is_failure()
        && r.retryable
        && attempt <= retry.max_retries
        && !inner.shutdown.is_cancelled();
    if !again {
        return false;
    }
    let delay = retry.delay(attempt);
    tracing::debug!(delay = ?delay, "retrying after backoff");
    tokio::select! {
        () = tokio::time::sleep(delay) => true,
        () = inner.shutdown.cancelled() => false,
    }
}

/// Records the start of an attempt. For a batch prepared ahead, only once every body of the
/// batch started (the bodies are polled first, the bookkeeping follows).
async fn record_start(
    inner: &Inner,
    batch: Option<StartTicket>,
    rec: &NewExecution,
) -> Option<i64> {
    if let Some(t) = batch {
        let gate = Arc::clone(&t.0);
        drop(t);
        gate.all_started().await;
    }
    match inner.store.start_execution(rec).await {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::warn!(error = %e, "cannot record the start of the run");
            None
        }
    }
}

fn log_outcome(attempt: u32, r: &AttemptResult) {
    match r.outcome {
        Outcome::Success => tracing::info!(attempt, "run succeeded"),
        Outcome::Panicked => {
            tracing::error!(
                attempt,
                error = r.error.as_deref().unwrap_or(""),
                "run panicked"
            );
        }
        outcome => tracing::warn!(attempt, %outcome,
            error = r.error.as_deref().unwrap_or(""), "run did not succeed"),
    }
}

/// Records the end of an attempt and keeps the task's history within its limit.
async fn record_end(
    inner: &Inner,
    task_name: &str,
    id: i64,
    ended_at: SystemTime,
    r: &AttemptResult,
) {
    if let Err(e) = inner
        .store
        .finish_execution(id, ended_at, r.outcome, r.error.as_deref())
        .await
    {
        tracing::warn!(error = %e, "cannot record the end of the run");
    }
    if let Err(e) = inner
        .store
        .prune_executions(task_name, inner.config.history_limit)
        .await
    {
        tracing::warn!(error = %e, "cannot prune the execution history");
    }
}

async fn attempt_once(
    inner: &Inner,
    func: &TaskFn,
    ctx: RunContext,
    timeout: Option<Duration>,
    token: &CancellationToken,
) -> AttemptResult {
    let fut = match std::panic::catch_unwind(AssertUnwindSafe(|| func(ctx))) {
        Ok(f) => f,
        Err(p) => return panicked(&*p),
    };
    let guarded = AssertUnwindSafe(fut).catch_unwind();
    let timed = async move {
        match timeout {
            Some(limit) => tokio::time::timeout(limit, guarded).await.ok(),
            None => Some(guarded.await),
        }
    };
    tokio::pin!(timed);
    let result = tokio::select! {
        biased;
        r = &mut timed => r,
        () = inner.force.cancelled() => {
            token.cancel();
            match tokio::time::timeout(inner.config.cancel_grace, &mut timed).await {
                Ok(Some(Ok(Ok(())))) => Some(Ok(Ok(()))),
                _ => return cancelled(),
            }
        }
    };
    match result {
        None => {
            token.cancel();
            AttemptResult {
                outcome: Outcome::TimedOut,
                error: timeout
                    .map(|t| format!("timed out after {}", humantime::format_duration(t))),
                retryable: true,
            }
        }
        Some(Err(p)) => panicked(&*p),
        Some(Ok(Ok(()))) => AttemptResult {
            outcome: Outcome::Success,
            error: None,
            retryable: false,
        },
        Some(Ok(Err(_))) if inner.force.is_cancelled() => cancelled(),
        Some(Ok(Err(e))) => AttemptResult {
            outcome: Outcome::Failed,
            retryable: e.is_retryable(),
            error: Some(e.message().to_owned()),
        },
    }
}

fn cancelled() -> AttemptResult {
    AttemptResult {
        outcome: Outcome::Cancelled,
        error: Some("cancelled: the scheduler stopped".to_owned()),
        retryable: false,
    }
}

fn panicked(payload: &(dyn Any + Send)) -> AttemptResult {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    AttemptResult {
        outcome: Outcome::Panicked,
        error: Some(format!("panicked: {msg}")),
        retryable: true,
    }
}
