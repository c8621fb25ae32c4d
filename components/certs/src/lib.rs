//! Certificates of a DTaaS host: copy `CERTS_SRC` into the project's `certs/` (Let's Encrypt
//! names normalised), derive the per-service files (MongoDB's `combined.pem`, the InfluxDB,
//! RabbitMQ, PostgreSQL and ThingsBoard copies) with their owners and modes, prepare the
//! ThingsBoard data and log directories, validate certificates (`check`), make self-signed
//! development certificates, and tell which services a refresh touched.
//!
//! Every write is atomic (same-directory temp file, then rename) and skipped when the file
//! already has the right content, mode and owner. This crate knows nothing of the config
//! file, env vars, Docker or the terminal: it takes option structs and returns reports.

mod check;
mod error;
mod fsx;
mod options;
mod refresh;
mod selfsigned;
mod setup;
mod step;

pub use check::{CertInfo, CheckOptions, CheckReport, EXPIRY_WARNING_DAYS, Finding, Level, check};
pub use error::CertsError;
pub use options::{CertsOptions, Owner, Owners};
pub use refresh::{RefreshReport, refresh, refresh_as, services_reading};
pub use selfsigned::{SELF_SIGNED_FILES, SelfSignedOptions, SelfSignedReport, self_signed};
pub use setup::{
    Action, Aspect, FileReport, SetupReport, Step, StepReport, host_setup, host_setup_as,
};
