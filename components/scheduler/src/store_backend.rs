//! [`SchedulerStore`] on the state database (components/store): tables `trigger_state`
//! (last scheduled time per task and trigger) and `executions` (one row per attempt). Task
//! names are the store's job names.

use std::time::SystemTime;

use store::{ExecutionOutcome, Store};

use crate::error::BoxError;
use crate::store::{BoxFuture, ExecutionRecord, NewExecution, Outcome, SchedulerStore};

fn to_store(o: Outcome) -> ExecutionOutcome {
    match o {
        Outcome::Success => ExecutionOutcome::Success,
        Outcome::Failed => ExecutionOutcome::Failed,
        Outcome::Panicked => ExecutionOutcome::Panicked,
        Outcome::TimedOut => ExecutionOutcome::TimedOut,
        Outcome::Cancelled => ExecutionOutcome::Cancelled,
    }
}

fn from_store(o: ExecutionOutcome) -> Outcome {
    match o {
        ExecutionOutcome::Success => Outcome::Success,
        ExecutionOutcome::Failed => Outcome::Failed,
        ExecutionOutcome::Panicked => Outcome::Panicked,
        ExecutionOutcome::TimedOut => Outcome::TimedOut,
        ExecutionOutcome::Cancelled => Outcome::Cancelled,
    }
}

impl SchedulerStore for Store {
    fn last_scheduled<'a>(
        &'a self,
        task: &'a str,
        trigger: &'a str,
    ) -> BoxFuture<'a, Result<Option<SystemTime>, BoxError>> {
        Box::pin(async move { Ok(Store::last_scheduled(self, task, trigger).await?) })
    }

    fn set_last_scheduled<'a>(
        &'a self,
        task: &'a str,
        trigger: &'a str,
        at: SystemTime,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            Store::set_last_scheduled(self, task, trigger, at).await?;
            Ok(())
        })
    }

    fn start_execution<'a>(&'a self, e: &'a NewExecution) -> BoxFuture<'a, Result<i64, BoxError>> {
        Box::pin(async move {
            let row = store::NewExecution {
                job: e.task.clone(),
                trigger: e.trigger.clone(),
                scheduled_for: e.scheduled_for,
                started_at: e.started_at,
                attempt: e.attempt,
            };
            Ok(Store::start_execution(self, &row).await?)
        })
    }

    fn finish_execution<'a>(
        &'a self,
        id: i64,
        ended_at: SystemTime,
        outcome: Outcome,
        error: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            Store::finish_execution(self, id, ended_at, to_store(outcome), error).await?;
            Ok(())
        })
    }

    fn executions<'a>(
        &'a self,
        task: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<ExecutionRecord>, BoxError>> {
        Box::pin(async move {
            let rows = Store::executions(self, task, limit).await?;
            Ok(rows
                .into_iter()
                .map(|r| ExecutionRecord {
                    id: r.id,
                    task: r.job,
                    trigger: r.trigger,
                    scheduled_for: r.scheduled_for,
                    started_at: r.started_at,
                    ended_at: r.ended_at,
                    attempt: r.attempt,
                    outcome: r.outcome.map(from_store),
                    error: r.error,
                })
                .collect())
        })
    }

    fn prune_executions<'a>(
        &'a self,
        task: &'a str,
        keep: u32,
    ) -> BoxFuture<'a, Result<u64, BoxError>> {
        Box::pin(async move { Ok(Store::prune_executions(self, task, keep).await?) })
    }
}
