use std::path::PathBuf;

use catalog::CatalogError;
use compose::ComposeError;
use docker::DockerError;
use store::StoreError;

/// Why a service command failed.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Selector(#[from] CatalogError),
    #[error(transparent)]
    Compose(#[from] ComposeError),
    #[error("{service} is not defined in the compose files ({files})")]
    NotDefined { service: String, files: String },
    #[error(
        "Cannot {action} PostgreSQL while ThingsBoard is running. Stop or remove ThingsBoard first with: dtaas-services service stop -s thingsboard (or {action} both together)"
    )]
    PostgresGuard { action: &'static str },
    #[error("cannot clean running services: {}; stop them first with: dtaas-services service stop -s {}", services.join(", "), services.join(","))]
    Running { services: Vec<String> },
    #[error("{service} has no container; start it with: dtaas-services service start -s {service}")]
    NoContainer { service: String },
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// `start` brought up what it could and every engine operation it began has ended; these
    /// services failed (the first is the source) or were not started.
    #[error("{}", partial_text(report, service, first, others))]
    Partial {
        /// What was done, per service.
        report: Box<crate::StartReport>,
        /// The first service that failed, and why.
        service: String,
        #[source]
        first: Box<ComposeError>,
        /// The other failures.
        others: Vec<(String, ComposeError)>,
    },
    /// The state database (recording the desired state) failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot empty {}: {message}", path.display())]
    Io { path: PathBuf, message: String },
}

fn partial_text(
    report: &crate::StartReport,
    service: &str,
    first: &ComposeError,
    others: &[(String, ComposeError)],
) -> String {
    let mut parts = vec![format!("{service} failed: {first}")];
    parts.extend(others.iter().map(|(s, e)| format!("{s} failed: {e}")));
    if !report.not_started.is_empty() {
        let list: Vec<String> = report
            .not_started
            .iter()
            .map(|(s, dep)| format!("{} (needs {dep})", s.compose_name()))
            .collect();
        parts.push(format!("not started: {}", list.join(", ")));
    }
    let mut up: Vec<&str> = report
        .started
        .iter()
        .map(|s| s.service.compose_name())
        .collect();
    up.extend(report.skipped_running.iter().map(|s| s.compose_name()));
    if !up.is_empty() {
        parts.push(format!("running: {}", up.join(", ")));
    }
    parts.join("; ")
}

impl LifecycleError {
    /// The engine error at the root, if any.
    #[must_use]
    pub fn docker(&self) -> Option<&DockerError> {
        match self {
            LifecycleError::Compose(c) => c.docker(),
            LifecycleError::Docker(d) => Some(d),
            LifecycleError::Partial { first, .. } => first.docker(),
            _ => None,
        }
    }

    /// Whether this is a usage or configuration error (the selection, the compose files):
    /// nothing was changed and re-running with the same input fails the same way. The exit
    /// status it maps to is decided by the exit_status component.
    #[must_use]
    pub fn is_usage(&self) -> bool {
        match self {
            LifecycleError::Selector(_) | LifecycleError::NotDefined { .. } => true,
            LifecycleError::Compose(c) => c.is_config_error(),
            _ => false,
        }
    }
}
