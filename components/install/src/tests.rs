use std::path::Path;
use std::time::Duration;

use catalog::Service;
use services_gitlab::GitLabError;

use crate::{InstallError, Options, Plan};

const OPTS: Options = Options {
    force: false,
    wait: false,
    timeout: Duration::from_secs(1),
};

fn settings(dir: &Path) -> config::Settings {
    let text = "HOSTNAME=example.org\nPOSTGRES_PASSWORD=pw-Secret-1\n";
    let doc = config::EnvFile::parse(&dir.join("config/services.env"), text).unwrap();
    config::resolve(dir, &doc, &[], &[]).unwrap().0
}

#[test]
fn a_missing_oauth_file_is_refused_before_anything_when_gitlab_is_selected() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let err = Plan::new(&s, vec![Service::ThingsBoard, Service::GitLab], OPTS).unwrap_err();
    // The service error is kept as the source (the exit status mapping classifies it).
    assert!(matches!(
        err,
        InstallError::GitLab(GitLabError::OAuthFile { .. })
    ));
    assert!(err.to_string().contains("gitlab_oauth.json"), "{err}");
    let source = std::error::Error::source(&err).unwrap();
    assert!(source.is::<GitLabError>());
}

#[test]
fn gitlab_inputs_are_not_checked_when_only_thingsboard_is_selected() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    assert!(Plan::new(&s, vec![Service::ThingsBoard], OPTS).is_ok());
}

#[test]
fn a_gitlab_setting_error_says_all_and_a_flow_error_is_an_installation_failure() {
    let config = InstallError::gitlab(GitLabError::Config("GITLAB_PORT is bad".into()));
    assert_eq!(config.to_string(), "GitLab: GITLAB_PORT is bad");
    let not_ready = InstallError::gitlab(GitLabError::NotReady {
        status: "starting".into(),
    });
    assert!(matches!(not_ready, InstallError::GitLab(_)));
    let failed = InstallError::gitlab(GitLabError::Bootstrap("boom".into()));
    assert_eq!(failed.to_string(), "Installation failed");
    assert!(
        std::error::Error::source(&failed)
            .unwrap()
            .is::<GitLabError>()
    );
}
