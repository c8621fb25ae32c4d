//! Scheduler settings.

use std::time::Duration;

use crate::error::SchedulerError;

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

    pub(crate) fn validate(&self) -> Result<(), SchedulerError> {
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
    /// 10 slots.
    fn default() -> Self {
        Self::new(10)
    }
}
