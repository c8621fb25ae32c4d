//! The cli's side of the one exit-status policy (the exit_status component): its own
//! errors ([`CliError`]) classified, then every component error by `exit_status::of_error`;
//! rendering an error and its fix hints.

pub(crate) use exit_status::ExitStatus as Exit;

/// Errors the cli itself raises.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("Aborted!")]
    Aborted,
    /// Another command holds the project lock (after the bounded wait).
    #[error("{0}")]
    Busy(String),
}

/// The exit status of an error, found by walking its source chain.
pub(crate) fn status_of(err: &anyhow::Error) -> Exit {
    exit_status::of_error(err, |cause| {
        cause.downcast_ref::<CliError>().map(|e| match e {
            CliError::Usage(_) => Exit::Usage,
            CliError::Aborted => Exit::Failed,
            CliError::Busy(_) => Exit::Busy,
        })
    })
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

    #[test]
    fn the_cli_s_own_errors_map_to_2_and_1_and_a_wrapped_error_keeps_its_status() {
        let usage = anyhow::Error::new(CliError::Usage("bad".into()));
        assert_eq!(status_of(&usage), Exit::Usage);
        assert_eq!(status_of(&usage).code(), 2);
        let aborted = anyhow::Error::new(CliError::Aborted);
        assert_eq!(status_of(&aborted).code(), 1);
        // The error chain is kept: a wrapped engine error still exits 4 and renders fully.
        let wrapped = anyhow::Error::new(docker::DockerError::EngineUnreachable {
            host: "unix:///var/run/docker.sock".into(),
            reason: "refused".into(),
        })
        .context("Installation failed");
        assert_eq!(status_of(&wrapped).code(), 4);
        assert!(
            render(&wrapped).starts_with("Installation failed: "),
            "{}",
            render(&wrapped)
        );
    }
}
