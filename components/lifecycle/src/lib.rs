//! lifecycle: the service commands `start`, `stop`, `restart`, `status`, `remove` and
//! `clean` on top of the compose engine, with the DTaaS rules: one selector
//! normalisation (catalog), the PostgreSQL guard while ThingsBoard runs, skipping running
//! services, waiting on healthchecks, wiping the right data and log directories; and what
//! the operator wants of each service: a [`Lifecycle::recording`] one records the desired
//! state in the state database, [`reconcile`] holds the rules `service-health` acts on.
//!
//! It returns reports (data) and typed errors; it never prints, prompts or reads the
//! environment: confirmations and output are the cli's job.

mod dirs;
mod error;
mod intent;
mod maintenance;
mod ops;
pub mod reconcile;
mod report;
mod restart_budget;
mod status;

pub use compose::{Progress, ProgressSink};
pub use error::LifecycleError;
pub use maintenance::in_maintenance;
pub use ops::{Lifecycle, Selection, StartOptions};
pub use report::{
    CleanReport, LeftAlone, PublishedPort, RemoveReport, RestartReport, ServiceStatus, StartReport,
    StartedService, StatusReport, StopReport,
};
pub use restart_budget::{RestartBudget, Restarts};
pub use store::Desired;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_intent;
#[cfg(test)]
mod tests_left_alone;
#[cfg(test)]
mod tests_status;
