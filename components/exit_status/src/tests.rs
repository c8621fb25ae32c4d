use std::path::PathBuf;
use std::process::ExitCode;

use super::*;

fn unreachable() -> docker::DockerError {
    docker::DockerError::EngineUnreachable {
        host: "unix:///var/run/docker.sock".into(),
        reason: "connection refused".into(),
    }
}

fn components(err: impl Into<anyhow::Error>) -> ExitStatus {
    of_error(&err.into(), |_| None)
}

#[test]
fn every_status_has_its_documented_number() {
    let all = [
        (ExitStatus::Success, 0),
        (ExitStatus::Failed, 1),
        (ExitStatus::Usage, 2),
        (ExitStatus::NotReady, 3),
        (ExitStatus::EngineUnreachable, 4),
        (ExitStatus::Busy, 5),
    ];
    for (status, code) in all {
        assert_eq!(status.code(), code, "{status:?}");
        assert_eq!(ExitCode::from(status), ExitCode::from(code), "{status:?}");
    }
}

#[test]
fn code_1_an_error_nobody_classifies_and_an_unreadable_file() {
    assert_eq!(
        components(std::io::Error::other("disk full")),
        ExitStatus::Failed
    );
    let io = config::ConfigError::Io {
        path: PathBuf::from("/p/config/services.env"),
        source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
    };
    assert_eq!(components(io), ExitStatus::Failed);
}

#[test]
fn code_2_bad_configuration_or_selection() {
    let missing = config::ConfigError::Missing {
        path: PathBuf::from("/p/config/services.env"),
    };
    assert_eq!(components(missing), ExitStatus::Usage);
    let unknown = catalog::CatalogError::Unknown {
        names: "nginx".into(),
        valid: "postgres".into(),
    };
    assert_eq!(components(unknown), ExitStatus::Usage);
    let tb = services_thingsboard::ThingsBoardError::Config("HOSTNAME is not set".into());
    assert_eq!(components(tb), ExitStatus::Usage);
    let gl = services_gitlab::GitLabError::OAuthFile {
        path: "config/oauth.json".into(),
        detail: "not JSON".into(),
    };
    assert_eq!(components(gl), ExitStatus::Usage);
}

#[test]
fn code_3_a_service_not_ready_yet() {
    let e = services_common::ProvisionError::NotReady {
        service: "grafana".into(),
        seconds: 30,
        detail: "HTTP 503".into(),
    };
    assert_eq!(components(e), ExitStatus::NotReady);
    let gl = services_gitlab::GitLabError::NotReady {
        status: "starting".into(),
    };
    assert_eq!(components(gl), ExitStatus::NotReady);
}

#[test]
fn code_4_the_engine_unreachable_also_under_a_component_error() {
    assert_eq!(components(unreachable()), ExitStatus::EngineUnreachable);
    let compose = compose::ComposeError::from(unreachable());
    assert_eq!(components(compose), ExitStatus::EngineUnreachable);
    let gl = services_gitlab::GitLabError::Docker(unreachable());
    assert_eq!(components(gl), ExitStatus::EngineUnreachable);
    // Any other engine error is a failed operation.
    let conflict = docker::DockerError::Conflict {
        message: "name in use".into(),
    };
    assert_eq!(components(conflict), ExitStatus::Failed);
}

#[test]
fn code_5_and_the_binary_s_own_errors_come_first_anywhere_in_the_chain() {
    #[derive(Debug, thiserror::Error)]
    #[error("the project is locked by another run")]
    struct Locked;
    let err = anyhow::Error::new(Locked).context("service start");
    let own = |cause: &(dyn std::error::Error + 'static)| {
        cause.is::<Locked>().then_some(ExitStatus::Busy)
    };
    assert_eq!(of_error(&err, own), ExitStatus::Busy);
    assert_eq!(of_error(&err, |_| None), ExitStatus::Failed);
    // The first cause that is classified decides: the context (an unclassified string) is
    // skipped, the engine error under it counts.
    let err = anyhow::Error::new(unreachable()).context("starting postgres");
    assert_eq!(of_error(&err, |_| None), ExitStatus::EngineUnreachable);
}
