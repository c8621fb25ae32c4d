//! `service install -s gitlab` checks its inputs before it contacts the engine or starts
//! GitLab: a broken OAuth file is a usage error (exit 2) naming file, line and key.

use crate::support::{Project, stderr};

#[test]
fn a_broken_oauth_file_stops_the_install_before_the_engine_is_contacted() {
    let p = Project::new();
    let file = p.dir.join("config/gitlab_oauth.json");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replacen("\"trusted\": true", "\"trusted\": \"yes\"", 1),
    )
    .unwrap();
    let out = p
        .cmd()
        .args(["service", "install", "-s", "gitlab"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("gitlab_oauth.json:7: key \"trusted\" must be true or false, found \"yes\""),
        "{err}"
    );
    assert!(!err.contains("Docker"), "{err}");
}
