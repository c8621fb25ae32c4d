//! doctor: checks a DTaaS host and project before (or while) it runs — the Docker engine
//! and its API version, the compose files (and whether an older `project generate` wrote
//! them), published ports (free, or held by this
//! project's own containers), where the stateful services keep their state
//! (`backup::check_state`: mounted from the project, RabbitMQ with a fixed host name), DNS
//! for HOSTNAME, the certificates (`certs::check`), secret file modes, secrets still at
//! their public template value or weak, free disk space under `data/`, and the state
//! database.
//!
//! It returns a [`DoctorReport`] of [`Finding`]s, each with a fix hint; it never prints,
//! never reads environment variables and never shows a secret value (keys are named only).

mod checks;
mod report;

pub use checks::{DoctorOptions, diagnose};
pub use report::{DoctorReport, Finding, Level};
