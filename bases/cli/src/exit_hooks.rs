//! Exit codes of the errors of the docker/compose/store/service components (kept apart so each
//! component's owner can extend it without touching the policy in exit.rs).

/// `Some(code)` when `cause` is a component error with a specific exit status.
pub(crate) fn code_of_component_error(cause: &(dyn std::error::Error + 'static)) -> Option<u8> {
    if let Some(e) = cause.downcast_ref::<backup::BackupError>() {
        return Some(e.exit_code());
    }
    if let Some(e) = cause.downcast_ref::<lifecycle::LifecycleError>() {
        return Some(e.exit_code());
    }
    if let Some(e) = cause.downcast_ref::<compose::ComposeError>() {
        if e.docker().is_some_and(docker::DockerError::is_unreachable) {
            return Some(4);
        }
        return Some(if e.is_config_error() { 2 } else { 1 });
    }
    if let Some(e) = cause.downcast_ref::<docker::DockerError>() {
        return Some(if e.is_unreachable() { 4 } else { 1 });
    }
    if let Some(e) = cause.downcast_ref::<services_thingsboard::ThingsBoardError>() {
        return Some(service_code(e.is_not_ready(), e.docker()));
    }
    if let Some(e) = cause.downcast_ref::<services_gitlab::GitLabError>() {
        return Some(service_code(e.is_not_ready(), e.docker()));
    }
    if let Some(e) = cause.downcast_ref::<services_common::ProvisionError>() {
        return Some(match e {
            services_common::ProvisionError::Config { .. } => 2,
            e if e.is_not_ready() => 3,
            _ => 1,
        });
    }
    if let Some(e) = cause.downcast_ref::<store::StoreError>() {
        return Some(store_code(e));
    }
    if let Some(e) = cause.downcast_ref::<password_store::PasswordStoreError>() {
        return Some(match e {
            password_store::PasswordStoreError::Store(inner) => store_code(inner),
            password_store::PasswordStoreError::WrongKey { .. }
            | password_store::PasswordStoreError::KeyFileMissing { .. }
            | password_store::PasswordStoreError::InvalidKey { .. }
            | password_store::PasswordStoreError::InvalidName { .. } => 2,
            _ => 1,
        });
    }
    if let Some(e) = cause.downcast_ref::<certs::CertsError>() {
        return Some(if e.is_usage() { 2 } else { 1 });
    }
    None
}

/// A bad URL or a database this binary cannot use is a configuration matter.
fn store_code(e: &store::StoreError) -> u8 {
    match e {
        store::StoreError::InvalidUrl { .. } | store::StoreError::SchemaTooNew { .. } => 2,
        _ => 1,
    }
}

fn service_code(not_ready: bool, docker: Option<&docker::DockerError>) -> u8 {
    if not_ready {
        3
    } else if docker.is_some_and(docker::DockerError::is_unreachable) {
        4
    } else {
        1
    }
}
