//! The runs that may still go, kept for a forced stop that must drop them.
//!
//! A run's tokio task is aborted through its [`AbortHandle`] rather than by each run
//! waiting on one shared "abort" token: such a wait is registered in the token's one list,
//! and every poll of every run would lock that list (two workers contending on it while a
//! batch of 10,000 runs starts). Handles of finished runs are dropped in bulk when the list
//! has doubled since the last sweep, so adding a batch costs one lock.

use std::sync::Mutex;

use tokio::task::AbortHandle;

#[derive(Default)]
pub(crate) struct LiveRuns {
    inner: Mutex<Handles>,
}

#[derive(Default)]
struct Handles {
    handles: Vec<AbortHandle>,
    /// The length after the last sweep of finished runs.
    swept: usize,
}

impl LiveRuns {
    fn lock(&self) -> std::sync::MutexGuard<'_, Handles> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keep the handles of runs just spawned.
    pub(crate) fn add(&self, new: impl IntoIterator<Item = AbortHandle>) {
        let mut h = self.lock();
        h.handles.extend(new);
        if h.handles.len() > 2 * h.swept.max(64) {
            h.handles.retain(|a| !a.is_finished());
            h.swept = h.handles.len();
        }
    }

    /// Abort every run that still goes (their futures are dropped on their workers).
    pub(crate) fn abort_all(&self) {
        let mut h = self.lock();
        for a in h.handles.drain(..) {
            a.abort();
        }
        h.swept = 0;
    }
}
