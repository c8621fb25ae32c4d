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
    /// The state database (recording the desired state) failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot empty {}: {message}", path.display())]
    Io { path: PathBuf, message: String },
}

impl LifecycleError {
    /// The engine error at the root, if any.
    #[must_use]
    pub fn docker(&self) -> Option<&DockerError> {
        match self {
            LifecycleError::Compose(c) => c.docker(),
            LifecycleError::Docker(d) => Some(d),
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
