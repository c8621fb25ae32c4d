/// Why a provisioning step failed. Never holds a secret: messages are built from service
/// names, user names, HTTP statuses and the services' own (non-secret) error texts.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The service could not be reached (connection refused, TLS, timeout).
    #[error("{service} is not reachable at {target}: {detail}")]
    Unreachable {
        service: String,
        target: String,
        detail: String,
    },
    /// The service refused the admin credentials.
    #[error("{service} refused the admin credentials: {detail}")]
    Unauthorized { service: String, detail: String },
    /// The service answered an error.
    #[error("{service}: {action} failed with HTTP {status}: {detail}")]
    Api {
        service: String,
        action: String,
        status: u16,
        detail: String,
    },
    /// Any other failure of one operation.
    #[error("{service}: {detail}")]
    Failed { service: String, detail: String },
    /// A configuration problem (missing admin password, bad URL...).
    #[error("{service}: {detail}")]
    Config { service: String, detail: String },
    /// The service did not answer within the readiness timeout.
    #[error("{service} did not become ready within {seconds} s: {detail}")]
    NotReady {
        service: String,
        seconds: u64,
        detail: String,
    },
}

impl ProvisionError {
    /// Whether the service could not be reached or is not ready (try again later).
    #[must_use]
    pub fn is_not_ready(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::NotReady { .. })
    }
}
