//! The task table: registered tasks, their timers, and which of them can be due.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::task::{OverlapPolicy, RetryPolicy, TaskFn, TaskId, TaskInfo, TaskState};
use crate::trigger::TriggerState;

pub(crate) struct TaskEntry {
    pub(crate) id: TaskId,
    pub(crate) name: Arc<str>,
    pub(crate) description: String,
    pub(crate) priority: i32,
    pub(crate) overlap: OverlapPolicy,
    pub(crate) retry: RetryPolicy,
    pub(crate) timeout: Option<Duration>,
    pub(crate) remove_when_done: bool,
    pub(crate) func: TaskFn,
    pub(crate) triggers: Vec<TriggerState>,
    pub(crate) running: usize,
    /// The time of this task's live entry in [`Table::timers`], if it has one.
    pub(crate) armed: Option<SystemTime>,
}

impl TaskEntry {
    pub(crate) fn is_due(&self, now: SystemTime) -> bool {
        self.triggers.iter().any(|t| t.is_due(now))
    }

    pub(crate) fn next_fire(&self) -> Option<SystemTime> {
        self.triggers
            .iter()
            .filter_map(TriggerState::next_fire)
            .min()
    }

    pub(crate) fn done(&self) -> bool {
        self.running == 0 && self.triggers.iter().all(TriggerState::is_exhausted)
    }

    pub(crate) fn info(&self) -> TaskInfo {
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
    pub(crate) next_id: u64,
    pub(crate) tasks: BTreeMap<TaskId, TaskEntry>,
    pub(crate) names: HashMap<Arc<str>, TaskId>,
    /// `(fire time, task)` of each task's earliest future timed trigger. Entries whose time
    /// no longer matches the task's `armed` (or whose task is gone) are stale and skipped.
    pub(crate) timers: BinaryHeap<Reverse<(SystemTime, TaskId)>>,
    /// Tasks that are due but could not run (no free slot, or still running): retried on
    /// every pass, and a run that ends wakes the dispatcher for them.
    pub(crate) waiting: BTreeSet<TaskId>,
    /// Tasks with an event trigger (events are counted by their handles, outside the table).
    pub(crate) with_events: BTreeSet<TaskId>,
}

impl Table {
    /// After a task's triggers may have changed at `now`: keep it in `waiting` while it is
    /// due, and keep one live timer entry for its next future fire time.
    pub(crate) fn settle(&mut self, id: TaskId, now: SystemTime) {
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

    pub(crate) fn remove(&mut self, id: TaskId) -> Option<TaskEntry> {
        let entry = self.tasks.remove(&id)?;
        self.names.remove(&entry.name);
        self.waiting.remove(&id);
        self.with_events.remove(&id);
        Some(entry)
    }

    /// Pop the timer entries due at `now`: their tasks (live entries only).
    pub(crate) fn pop_due_timers(&mut self, now: SystemTime, out: &mut Vec<TaskId>) {
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
    pub(crate) fn next_timer(&mut self) -> Option<SystemTime> {
        while let Some(&Reverse((t, id))) = self.timers.peek() {
            if self.tasks.get(&id).is_some_and(|e| e.armed == Some(t)) {
                return Some(t);
            }
            self.timers.pop();
        }
        None
    }
}
