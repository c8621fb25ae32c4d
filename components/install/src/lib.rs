//! install: `service install` — the ThingsBoard and GitLab install flows in the caller's
//! order. [`Plan::new`] checks what can be checked from the settings alone (GitLab's OAuth
//! applications file and root password) before the caller contacts the engine; [`Plan::run`]
//! builds each flow's options from the settings (defaults from the config KEYS table only)
//! and runs the flows, telling the caller each step through an [`Event`] sink. Errors keep
//! their chain so the exit status mapping classifies the service error inside. It never
//! prints and never reads environment variables.

mod error;
mod plan;

pub use error::InstallError;
pub use plan::{Event, Options, Plan, Report};

#[cfg(test)]
mod tests;
