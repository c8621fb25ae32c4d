use password_store::PasswordStoreError;
use services_common::ProvisionError;

/// Why a ThingsBoard flow failed. Never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum ThingsBoardError {
    /// An HTTP step failed (unreachable, refused credentials, API error).
    #[error(transparent)]
    Api(#[from] ProvisionError),
    /// The password store could not be read or written.
    #[error("password store: {0}")]
    Store(#[from] PasswordStoreError),
    /// A required setting is missing or invalid.
    #[error("ThingsBoard: {0}")]
    Config(String),
    /// Starting or waiting for a container failed.
    #[error(transparent)]
    Lifecycle(#[from] lifecycle::LifecycleError),
    /// The one-off installer container could not be run.
    #[error("ThingsBoard installation failed: {0}")]
    Compose(#[from] compose::ComposeError),
    /// PostgreSQL could not be reached or queried for the schema probe.
    #[error("PostgreSQL ({target}): {detail}")]
    Postgres { target: String, detail: String },
    /// The installer exited with a non-zero status.
    #[error(
        "ThingsBoard installation failed: the installer container {container} exited with code {code}{tail}\nhint: fix the cause, then re-run: dtaas-services service install -s thingsboard --force"
    )]
    InstallFailed {
        container: String,
        code: i64,
        tail: String,
    },
    /// The installer ran past its time limit and was killed (the one-off container only).
    #[error(
        "ThingsBoard installation timed out after {seconds} s; the installer container {container} was killed and removed (the ThingsBoard service container was not touched)\nhint: raise THINGSBOARD_INSTALL_TIMEOUT, then re-run: dtaas-services service install -s thingsboard --force"
    )]
    InstallTimeout { container: String, seconds: u64 },
    /// The ThingsBoard API did not answer in time.
    #[error("ThingsBoard API at {url} did not answer within {seconds} s")]
    NotReady { url: String, seconds: u64 },
}

impl ThingsBoardError {
    /// Whether retrying later may help (service unreachable or not ready).
    #[must_use]
    pub fn is_not_ready(&self) -> bool {
        match self {
            Self::Api(e) => e.is_not_ready(),
            Self::NotReady { .. } => true,
            _ => false,
        }
    }

    /// The Docker engine error at the root, if any.
    #[must_use]
    pub fn docker(&self) -> Option<&docker::DockerError> {
        match self {
            Self::Lifecycle(e) => e.docker(),
            Self::Compose(e) => e.docker(),
            _ => None,
        }
    }
}
