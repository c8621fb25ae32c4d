//! The restart budget `service-health` spends: at most `budget` restarts of one service
//! within a sliding `window`, the restart times kept in the state database (meta key
//! `jobs.service-health.restarts.<service>`), so a crash loop is reported instead of
//! hammered. Next to [`crate::reconcile`], which decides when a restart is wanted.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use catalog::Service;
use store::Store;

use crate::LifecycleError;

/// At most `budget` restarts of a service within `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartBudget {
    pub budget: u32,
    pub window: Duration,
}

/// The restarts of one service within the window ending at `now`, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restarts {
    service: Service,
    budget: RestartBudget,
    /// Unix milliseconds.
    times: Vec<u64>,
}

fn budget_key(service: Service) -> String {
    format!("jobs.service-health.restarts.{}", service.compose_name())
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl RestartBudget {
    /// The restarts of `service` recorded within the window ending at `now`.
    ///
    /// # Errors
    /// The state database fails.
    pub async fn restarts(
        self,
        store: &Store,
        service: Service,
        now: SystemTime,
    ) -> Result<Restarts, LifecycleError> {
        let window = u64::try_from(self.window.as_millis()).unwrap_or(u64::MAX);
        let since = millis(now).saturating_sub(window);
        let raw = store
            .get_meta(&budget_key(service))
            .await?
            .unwrap_or_default();
        let mut times: Vec<u64> = raw
            .split(',')
            .filter_map(|t| t.trim().parse().ok())
            .filter(|t| *t > since)
            .collect();
        times.sort_unstable();
        Ok(Restarts {
            service,
            budget: self,
            times,
        })
    }
}

impl Restarts {
    /// How many restarts the window holds.
    #[must_use]
    pub fn count(&self) -> u32 {
        u32::try_from(self.times.len()).unwrap_or(u32::MAX)
    }

    /// No restart is allowed now: the window holds `budget` of them already.
    #[must_use]
    pub fn spent(&self) -> bool {
        self.count() >= self.budget.budget
    }

    /// When enough restarts have left the window for one more to be allowed (the window may
    /// hold more than the budget when the budget was lowered).
    #[must_use]
    pub fn next_allowed(&self) -> Option<SystemTime> {
        let over = self.times.len().saturating_sub(self.budget.budget as usize);
        self.times
            .get(over)
            .map(|t| UNIX_EPOCH + Duration::from_millis(*t) + self.budget.window)
    }

    /// Record a restart at `now`; returns the restarts the window holds with it.
    ///
    /// # Errors
    /// The state database fails.
    pub async fn record(mut self, store: &Store, now: SystemTime) -> Result<u32, LifecycleError> {
        self.times.push(millis(now));
        let value = self
            .times
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        store
            .set_meta(&budget_key(self.service), &value, now)
            .await?;
        Ok(self.count())
    }
}

#[cfg(test)]
mod tests;
