use crate::id::TaskId;

/// A boxed error, as returned by [`crate::SchedulerStore`] implementations.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything the scheduler reports to its caller. Configuration mistakes (a bad cron, an
/// unknown zone, a task without triggers, ...) are distinct variants so a base can map them
/// to its "usage/configuration" exit status; [`SchedulerError::Store`] is an operational
/// failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchedulerError {
    /// The scheduler settings are unusable (e.g. `max_running` is 0).
    #[error("invalid scheduler configuration: {0}")]
    InvalidConfig(String),
    /// A cron expression does not parse, or never matches.
    #[error("invalid cron expression {expr:?}: {detail}")]
    InvalidCron { expr: String, detail: String },
    /// `@every <duration>` with a duration that does not parse or is zero.
    #[error("invalid interval {value:?}: {detail}")]
    InvalidInterval { value: String, detail: String },
    /// The time zone is not an IANA zone name.
    #[error(
        "unknown time zone {zone:?} (expected an IANA name such as \"Europe/Zurich\" or \"UTC\")"
    )]
    UnknownTimeZone { zone: String },
    /// A task was added without any trigger: it could never run.
    #[error("task {task:?} has no trigger")]
    NoTrigger { task: String },
    /// A task with this name is already registered (names key the persisted state).
    #[error("a task named {task:?} is already registered")]
    DuplicateTask { task: String },
    /// Two triggers of one task have the same name (names key the persisted state).
    #[error("task {task:?} has two triggers named {trigger:?}")]
    DuplicateTrigger { task: String, trigger: String },
    /// `start` was called on a scheduler that was already started (or stopped).
    #[error("the scheduler was already started")]
    AlreadyStarted,
    /// `start` was called outside a tokio runtime.
    #[error("the scheduler must be started inside a tokio runtime")]
    NoRuntime,
    /// No task has this id.
    #[error("no task with id {0}")]
    UnknownTask(TaskId),
    /// The scheduler store failed.
    #[error("scheduler store: {0}")]
    Store(#[source] BoxError),
}

impl SchedulerError {
    /// True for mistakes in the task or scheduler definition (exit status 2 at the edge).
    pub fn is_config_error(&self) -> bool {
        matches!(
            self,
            Self::InvalidConfig(_)
                | Self::InvalidCron { .. }
                | Self::InvalidInterval { .. }
                | Self::UnknownTimeZone { .. }
                | Self::NoTrigger { .. }
                | Self::DuplicateTask { .. }
                | Self::DuplicateTrigger { .. }
        )
    }
}
