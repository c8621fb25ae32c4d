//! The id of a registered task.

use std::fmt;

/// A task's id: assigned by [`crate::Scheduler::add_task`], 0, 1, 2, ... and never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub u64);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
