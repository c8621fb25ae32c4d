//! The wall clock the scheduler reads. Sleeping always goes through tokio's timer, so a
//! [`TokioClock`] under a paused tokio clock makes whole schedules deterministic.

use std::fmt;
use std::time::{Duration, SystemTime};

/// A source of wall-clock time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A wall clock that starts at a given time and then follows tokio's clock: with
/// `tokio::time::pause()` (or `#[tokio::test(start_paused = true)]`) it only moves when tokio
/// time is advanced, so cron and interval schedules can be tested without sleeping.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    wall: SystemTime,
    instant: tokio::time::Instant,
}

impl TokioClock {
    /// A clock reading `start` now. Must be created inside a tokio runtime.
    pub fn starting_at(start: SystemTime) -> Self {
        Self {
            wall: start,
            instant: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> SystemTime {
        self.wall + self.instant.elapsed()
    }
}

/// A duration in nanoseconds, saturating (as persisted and compared).
pub(crate) fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
