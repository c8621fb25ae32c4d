//! scheduler component: a background-task scheduler on tokio.
//!
//! Tasks have a priority (lower runs first, ties by id) and triggers that are OR-ed:
//! an interval (no drift), a cron expression in an IANA time zone (croner, OCPS DST rules),
//! an event fired through an [`EventHandle`] (counted, never lost when the scheduler is
//! full), or a one-time delay. A bound on running tasks is kept with a semaphore that is only
//! ever tried, never awaited, so a saturated scheduler never wedges. Per task: an overlap
//! policy, retries with capped exponential backoff and jitter, a timeout and a cancellation
//! token per attempt; a panic is recorded, never fatal. Per periodic trigger: jitter drawn
//! once per occurrence and a missed-run policy over the last scheduled time, which is
//! persisted with bounded per-attempt execution records through [`SchedulerStore`] (in
//! memory, or the state database through `store_backend`). `stop` is idempotent, graceful,
//! then forced.
//!
//! It knows nothing of services, Docker, jobs or the command line; it never prints (logs go
//! to `tracing`) and never reads environment variables.

mod clock;
mod config;
mod cron;
mod dispatch;
mod error;
mod gate;
mod id;
mod inner;
mod live;
mod run;
mod scheduler;
mod store;
mod store_backend;
mod table;
mod task;
mod trigger;

pub use clock::{Clock, SystemClock, TokioClock};
pub use config::SchedulerConfig;
pub use cron::CronSchedule;
pub use error::{BoxError, SchedulerError};
pub use id::TaskId;
pub use inner::StopReport;
pub use scheduler::{Scheduler, SchedulerBuilder};
pub use store::{BoxFuture, ExecutionRecord, MemoryStore, NewExecution, Outcome, SchedulerStore};
pub use task::{OverlapPolicy, RetryPolicy, RunContext, TaskError, TaskInfo, TaskSpec, TaskState};
pub use tokio_util::sync::CancellationToken;
pub use trigger::{EventHandle, Jitter, MissedRunPolicy, Trigger, TriggerInfo, TriggerKindInfo};
