//! `service install -s gitlab` on the fake engine: a broken input is reported before GitLab
//! (minutes of boot, gigabytes of memory) is started.

use std::collections::BTreeMap;
use std::time::Duration;

use compose::ProjectFiles;
use docker::FakeEngine;
use lifecycle::Lifecycle;
use services_gitlab::{GitLab, GitLabConfig, GitLabError, InstallOptions, install};

use crate::env;

const GITLAB: &str = r#"
networks:
  platform-services:
    name: dtaas-services
services:
  gitlab:
    image: img:1
    container_name: gitlab
    networks: [platform-services]
"#;

fn project() -> (tempfile::TempDir, ProjectFiles, FakeEngine) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.gitlab.yml"), GITLAB).unwrap();
    let files = ProjectFiles {
        name: "proj".into(),
        working_dir: dir.path().to_owned(),
        files: compose::default_compose_files(dir.path()),
    };
    let engine = FakeEngine::new();
    engine.add_image("img:1");
    (dir, files, engine)
}

fn opts() -> InstallOptions {
    InstallOptions {
        wait: None,
        poll: Duration::from_millis(1),
    }
}

#[tokio::test]
async fn a_broken_oauth_file_is_reported_before_gitlab_starts() {
    let e = env().await;
    let file = e.dir.path().join("gitlab_oauth.json");
    std::fs::write(
        &file,
        crate::APPS.replace("\"scopes\": \"read_user\"", "\"scopes\": 7"),
    )
    .unwrap();
    let (_dir, files, engine) = project();
    let lc = Lifecycle::new(&engine, &files, &BTreeMap::new()).unwrap();
    let err = install(&lc, &e.gl, &opts(), &|_| {}).await.unwrap_err();
    assert!(matches!(err, GitLabError::OAuthFile { .. }), "{err:?}");
    let text = err
        .to_string()
        .replace(&e.dir.path().display().to_string(), "<dir>");
    insta::assert_snapshot!(text, @"GitLab OAuth apps file <dir>/gitlab_oauth.json:2: key \"scopes\" must be a string, found 7");
    assert_eq!(engine.events(), vec![], "nothing was started");
}

#[tokio::test]
async fn a_missing_root_password_is_reported_before_gitlab_starts() {
    let e = env().await;
    let cfg = GitLabConfig {
        root_password: None,
        ..e.gl.config().clone()
    };
    let gl = GitLab::new(e.gl.client().clone(), cfg, e.store.clone());
    let (_dir, files, engine) = project();
    let lc = Lifecycle::new(&engine, &files, &BTreeMap::new()).unwrap();
    let err = install(&lc, &gl, &opts(), &|_| {}).await.unwrap_err();
    assert!(matches!(err, GitLabError::Config(_)), "{err:?}");
    insta::assert_snapshot!(err, @"GitLab: GITLAB_ROOT_NEW_PASSWORD is empty (config/services.env:7); cannot set the root password");
    assert_eq!(engine.events(), vec![], "nothing was started");
}
