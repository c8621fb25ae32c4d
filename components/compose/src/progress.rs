//! Progress events of long operations (image pulls, readiness waits), handed to a callback
//! the caller supplies: this crate never prints.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// One progress event of [`crate::Compose::up`] or [`crate::Compose::wait_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// An image is missing locally and its pull starts.
    PullStarted { image: String },
    /// One layer of a pull: its status (`Downloading`, `Extracting`, `Pull complete`) and
    /// the bytes done of the total, when the engine tells them.
    PullLayer {
        image: String,
        layer: String,
        status: String,
        current: Option<u64>,
        total: Option<u64>,
    },
    /// The pull of an image finished.
    PullDone { image: String },
    /// Waiting for containers to be healthy (or running): those still pending, the time
    /// spent and the limit. Sent on every poll.
    Waiting {
        pending: Vec<String>,
        elapsed: Duration,
        timeout: Duration,
    },
    /// A container the wait was waiting for is ready.
    Ready { container: String },
}

type Callback = Arc<dyn Fn(Progress) + Send + Sync>;

/// Where progress events go: a callback, or nowhere (the default). Cheap to clone.
#[derive(Clone, Default)]
pub struct ProgressSink(Option<Callback>);

impl ProgressSink {
    /// Send events to `f` (called on the task doing the work: keep it quick).
    #[must_use]
    pub fn new(f: impl Fn(Progress) + Send + Sync + 'static) -> ProgressSink {
        ProgressSink(Some(Arc::new(f)))
    }

    /// A sink that drops every event.
    #[must_use]
    pub fn none() -> ProgressSink {
        ProgressSink(None)
    }

    /// Report one event.
    pub fn emit(&self, p: Progress) {
        if let Some(f) = &self.0 {
            f(p);
        }
    }
}

impl fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "ProgressSink(callback)"
        } else {
            "ProgressSink(none)"
        })
    }
}

/// Two sinks are equal when both are empty or both call the same callback.
impl PartialEq for ProgressSink {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for ProgressSink {}
