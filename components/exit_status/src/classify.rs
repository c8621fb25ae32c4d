use std::error::Error;

use docker::DockerError;

use crate::ExitStatus;

type Cause<'a> = &'a (dyn Error + 'static);

/// The exit status of `err`: the first cause in its source chain that `own` (the binary's
/// own error types) or this mapping (the components' errors) knows decides; `Failed` when
/// none does.
pub fn of_error(err: &anyhow::Error, own: impl Fn(Cause<'_>) -> Option<ExitStatus>) -> ExitStatus {
    err.chain()
        .find_map(|cause| own(cause).or_else(|| of_component_error(cause)))
        .unwrap_or(ExitStatus::Failed)
}

/// `Some(status)` when `cause` is a component error this mapping knows.
fn of_component_error(cause: Cause<'_>) -> Option<ExitStatus> {
    if let Some(e) = cause.downcast_ref::<config::ConfigError>() {
        // A file that cannot be read or written (full disk, permissions) is a failed
        // operation; everything else the config brick reports is a configuration error.
        return Some(if matches!(e, config::ConfigError::Io { .. }) {
            ExitStatus::Failed
        } else {
            ExitStatus::Usage
        });
    }
    if cause.is::<catalog::CatalogError>() || cause.is::<credentials::CredentialsError>() {
        return Some(ExitStatus::Usage);
    }
    if let Some(e) = cause.downcast_ref::<backup::BackupError>() {
        return Some(classified(e.is_usage(), false, e.docker()));
    }
    if let Some(e) = cause.downcast_ref::<lifecycle::LifecycleError>() {
        return Some(classified(e.is_usage(), false, e.docker()));
    }
    if let Some(e) = cause.downcast_ref::<compose::ComposeError>() {
        return Some(classified(e.is_config_error(), false, e.docker()));
    }
    if let Some(e) = cause.downcast_ref::<DockerError>() {
        return Some(classified(false, false, Some(e)));
    }
    service_error(cause).or_else(|| state_error(cause))
}

/// The service flows' errors (ThingsBoard, GitLab, user provisioning).
fn service_error(cause: Cause<'_>) -> Option<ExitStatus> {
    use services_gitlab::GitLabError;
    use services_thingsboard::ThingsBoardError;
    if let Some(e) = cause.downcast_ref::<ThingsBoardError>() {
        return Some(match e {
            ThingsBoardError::Config(_) => ExitStatus::Usage,
            ThingsBoardError::Store(inner) => password_store_status(inner),
            e => classified(false, e.is_not_ready(), e.docker()),
        });
    }
    if let Some(e) = cause.downcast_ref::<GitLabError>() {
        return Some(match e {
            GitLabError::Config(_) | GitLabError::OAuthFile { .. } => ExitStatus::Usage,
            GitLabError::Store(inner) => password_store_status(inner),
            e => classified(false, e.is_not_ready(), e.docker()),
        });
    }
    if let Some(e) = cause.downcast_ref::<services_common::ProvisionError>() {
        return Some(match e {
            services_common::ProvisionError::Config { .. } => ExitStatus::Usage,
            e => classified(false, e.is_not_ready(), None),
        });
    }
    None
}

/// The state DB, the password store and the certificates.
fn state_error(cause: Cause<'_>) -> Option<ExitStatus> {
    if let Some(e) = cause.downcast_ref::<store::StoreError>() {
        return Some(store_status(e));
    }
    if let Some(e) = cause.downcast_ref::<password_store::PasswordStoreError>() {
        return Some(password_store_status(e));
    }
    if let Some(e) = cause.downcast_ref::<certs::CertsError>() {
        return Some(classified(e.is_usage(), false, None));
    }
    None
}

/// The order of the classifications: an unreachable engine first (nothing else can be
/// told then), then bad input, then "retry later".
fn classified(usage: bool, not_ready: bool, docker: Option<&DockerError>) -> ExitStatus {
    if docker.is_some_and(DockerError::is_unreachable) {
        ExitStatus::EngineUnreachable
    } else if usage {
        ExitStatus::Usage
    } else if not_ready {
        ExitStatus::NotReady
    } else {
        ExitStatus::Failed
    }
}

/// A bad URL or a database this binary cannot use is a configuration matter.
fn store_status(e: &store::StoreError) -> ExitStatus {
    match e {
        store::StoreError::InvalidUrl { .. } | store::StoreError::SchemaTooNew { .. } => {
            ExitStatus::Usage
        }
        _ => ExitStatus::Failed,
    }
}

/// A wrong, missing or invalid key (or secret name) is a configuration matter.
fn password_store_status(e: &password_store::PasswordStoreError) -> ExitStatus {
    use password_store::PasswordStoreError as E;
    match e {
        E::Store(inner) => store_status(inner),
        E::WrongKey { .. }
        | E::KeyFileMissing { .. }
        | E::InvalidKey { .. }
        | E::InvalidName { .. } => ExitStatus::Usage,
        _ => ExitStatus::Failed,
    }
}
