//! Exit status policy, in one place: 0 success; 1 the operation failed (also partly);
//! 2 usage or configuration error; 3 not ready yet, retry later; 4 Docker engine unreachable;
//! 5 busy: another command holds the project lock, retry later.

use std::process::ExitCode;

/// How a command that did not error ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Success,
    /// The command ran but (part of) the operation failed; details were printed.
    Failed,
}

/// Errors the cli itself raises.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("Aborted!")]
    Aborted,
    #[error("{0}")]
    NotReady(String),
    /// Another command holds the project lock (after the bounded wait).
    #[error("{0}")]
    Busy(String),
}

pub(crate) const USAGE: u8 = 2;
/// Another command holds the project lock: retry later.
pub(crate) const BUSY: u8 = 5;

impl Exit {
    pub(crate) fn code(self) -> ExitCode {
        match self {
            Exit::Success => ExitCode::SUCCESS,
            Exit::Failed => ExitCode::from(1),
        }
    }
}

/// The exit status of an error, found by walking its source chain.
pub(crate) fn code_of(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<CliError>() {
            return match e {
                CliError::Usage(_) => USAGE,
                CliError::Aborted => 1,
                CliError::NotReady(_) => 3,
                CliError::Busy(_) => BUSY,
            };
        }
        // A file that cannot be read or written (full disk, permissions) is a failed
        // operation; everything else the config brick reports is a configuration error.
        if let Some(e) = cause.downcast_ref::<config::ConfigError>() {
            return if matches!(e, config::ConfigError::Io { .. }) {
                1
            } else {
                USAGE
            };
        }
        if cause.is::<catalog::CatalogError>() {
            return USAGE;
        }
        if let Some(code) = crate::exit_hooks::code_of_component_error(cause) {
            return code;
        }
    }
    1
}

/// The error as one line: each cause of the chain once (a message that already contains
/// its source's text is not repeated).
pub(crate) fn render(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let msg = cause.to_string();
        if out.contains(&msg) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&msg);
    }
    out
}

/// Fix hints for errors a user can act on.
pub(crate) fn hints(err: &anyhow::Error) -> Vec<String> {
    let mut service = None;
    let mut hints = Vec::new();
    for cause in err.chain() {
        let docker_err = if let Some(e) = cause.downcast_ref::<compose::ComposeError>() {
            if let compose::ComposeError::Service { service: s, .. } = e {
                service = service.or(catalog::Service::from_compose_name(s));
            }
            e.docker()
        } else {
            cause.downcast_ref::<docker::DockerError>()
        };
        match docker_err {
            Some(docker::DockerError::ImageMissing { image, .. }) => {
                let key = service.map_or("<SERVICE>_IMAGE", catalog::Service::image_key);
                hints.push(format!(
                    "{image} cannot be pulled here; point {key} at an image available locally: \
dtaas-services config set {key} <image>"
                ));
            }
            Some(docker::DockerError::EngineUnreachable { .. }) => hints.push(
                "start the Docker engine, or point DOCKER_HOST at a reachable one".to_owned(),
            ),
            _ => {}
        }
    }
    hints.dedup();
    hints
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_does_not_repeat_a_source_the_message_already_contains() {
        let inner = docker::DockerError::ImageMissing {
            image: "postgres:16.11".into(),
            reason: "no registry".into(),
        };
        let err = anyhow::Error::new(compose::ComposeError::Service {
            service: "postgres".into(),
            source: Box::new(compose::ComposeError::from(inner)),
        });
        assert_eq!(
            render(&err),
            "service postgres: image postgres:16.11 is not available locally and could not be pulled: no registry"
        );
        assert_eq!(
            hints(&err),
            [
                "postgres:16.11 cannot be pulled here; point POSTGRES_IMAGE at an image available locally: dtaas-services config set POSTGRES_IMAGE <image>"
            ]
        );
        let chained = anyhow::Error::new(std::io::Error::other("disk full")).context("writing x");
        assert_eq!(render(&chained), "writing x: disk full");
    }
}
