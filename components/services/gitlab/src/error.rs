use password_store::PasswordStoreError;
use services_common::ProvisionError;

/// The hint printed when GitLab is not ready yet: how to see its health and how to re-run
/// or wait for the install, with this tool's command names.
pub const NOT_READY_HINT: &str = "GitLab is not ready yet. It typically takes 5-10 minutes after first start.\nNext steps: 1. Check health: dtaas-services service status -s gitlab (it shows 'starting' while it is initializing). 2. When it is healthy, re-run: dtaas-services service install -s gitlab (or wait for it: --wait --timeout 15m)";

/// Why a GitLab flow failed. Never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum GitLabError {
    /// An HTTP step failed (unreachable, refused token, API error).
    #[error(transparent)]
    Api(#[from] ProvisionError),
    /// The password store could not be read or written.
    #[error("password store: {0}")]
    Store(#[from] PasswordStoreError),
    /// A required setting is missing or invalid.
    #[error("GitLab: {0}")]
    Config(String),
    /// The OAuth applications file is missing or invalid.
    #[error("GitLab OAuth apps file {path}: {detail}")]
    OAuthFile { path: String, detail: String },
    /// GitLab is not ready (yet): retry later.
    #[error("GitLab is {status}.\n{NOT_READY_HINT}")]
    NotReady { status: String },
    /// The container could not be inspected or exec'd into.
    #[error("GitLab container: {0}")]
    Docker(#[from] docker::DockerError),
    /// Starting the container failed.
    #[error(transparent)]
    Lifecycle(#[from] lifecycle::LifecycleError),
    /// A `gitlab-rails runner` step failed or its result was not what was asked.
    #[error("GitLab: {action} through gitlab-rails runner failed: {detail}")]
    Runner { action: String, detail: String },
    /// No admin token could be obtained.
    #[error("GitLab: cannot obtain an admin token: {0}")]
    Bootstrap(String),
}

impl GitLabError {
    /// Whether retrying later may help (not ready yet, or unreachable).
    #[must_use]
    pub fn is_not_ready(&self) -> bool {
        match self {
            Self::NotReady { .. } => true,
            Self::Api(e) => e.is_not_ready(),
            _ => false,
        }
    }

    /// The Docker engine error at the root, if any.
    #[must_use]
    pub fn docker(&self) -> Option<&docker::DockerError> {
        match self {
            Self::Docker(e) => Some(e),
            Self::Lifecycle(e) => e.docker(),
            _ => None,
        }
    }
}
