//! The gate a batch of runs prepared ahead waits at.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio_util::sync::CancellationToken;

/// Where runs prepared ahead wait for their due instant. Their bookkeeping (recording the
/// start) waits until every body of the batch had its first poll, so that the last body of
/// a large batch does not start after the bookkeeping of all the others.
pub(crate) struct Gate {
    opened: CancellationToken,
    go: AtomicBool,
    /// Runs of the batch whose body has not been polled yet.
    unstarted: AtomicUsize,
    all_started: CancellationToken,
}

impl Gate {
    pub(crate) fn new(runs: usize) -> Self {
        Self {
            opened: CancellationToken::new(),
            go: AtomicBool::new(false),
            unstarted: AtomicUsize::new(runs),
            all_started: CancellationToken::new(),
        }
    }

    pub(crate) fn open(&self, go: bool) {
        self.go.store(go, Ordering::Release);
        self.opened.cancel();
    }

    /// Wait for the gate; false if the scheduler stopped before it opened.
    pub(crate) async fn pass(&self) -> bool {
        self.opened.cancelled().await;
        self.go.load(Ordering::Acquire)
    }

    /// One run of the batch started its body (or will never start it).
    pub(crate) fn started(&self) {
        if self.unstarted.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.all_started.cancel();
        }
    }

    /// Wait until every run of the batch started its body.
    pub(crate) async fn all_started(&self) {
        self.all_started.cancelled().await;
    }
}
