use services_gitlab::GitLabError;
use services_thingsboard::ThingsBoardError;

/// Why `service install` failed. Each variant keeps the service error as its source, so the
/// exit status mapping (components/exit_status) classifies it.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// A GitLab setting or flow error whose message says all (bad setting, OAuth file,
    /// not ready).
    #[error("{0}")]
    GitLab(#[source] GitLabError),
    /// The GitLab install failed.
    #[error("Installation failed")]
    GitLabFailed(#[source] GitLabError),
    /// A ThingsBoard setting is missing or invalid.
    #[error("{0}")]
    ThingsBoard(#[source] ThingsBoardError),
    /// The ThingsBoard install failed.
    #[error("Installation failed")]
    ThingsBoardFailed(#[source] ThingsBoardError),
    /// The PostgreSQL settings ThingsBoard needs are missing or invalid.
    #[error("{0}")]
    Postgres(#[source] services_common::ProvisionError),
}

impl InstallError {
    /// The GitLab install's error: a bad setting, the OAuth file or "not ready" says all by
    /// itself; anything else is an "Installation failed".
    pub(crate) fn gitlab(e: GitLabError) -> Self {
        if e.is_not_ready() || matches!(e, GitLabError::Config(_) | GitLabError::OAuthFile { .. }) {
            Self::GitLab(e)
        } else {
            Self::GitLabFailed(e)
        }
    }
}
