//! Live test (issue 16): `start` of seven services where one container name is taken by a
//! container outside the project. Before: the command failed at once, dropping the other
//! requests half-way (containers left "Created", one appearing after it returned). Now it
//! waits for every engine operation it began, starts the services that do not depend on
//! the failed one, reports per service, and nothing changes after it returned.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use catalog::Service;
use compose::ProjectFiles;
use lifecycle::{Lifecycle, LifecycleError, Selection, StartOptions};
use test_support::{ProjectGuard, busybox_image, engine_or_skip, unique_name};

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `name state` of every container of the compose project, sorted.
fn project_containers(project: &str) -> Vec<String> {
    let mut v: Vec<String> = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
        "--format",
        "{{.Names}} {{.State}}",
    ])
    .lines()
    .map(str::to_owned)
    .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_taken_container_name_fails_one_service_and_the_others_start() {
    let Some(e) = engine_or_skip().await else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let p = unique_name("lpartial");
    let mut guard = ProjectGuard::new(&p, &[&format!("{p}-net")]);
    let mut yaml = format!("networks:\n  platform-services:\n    name: {p}-net\nservices:\n");
    for s in [
        "rabbitmq", "mongodb", "grafana", "influxdb", "postgres", "gitlab",
    ] {
        yaml.push_str(&format!(
            "  {s}:\n    image: {img}\n    container_name: {p}-{s}\n    command: sleep 3600\n    networks: [platform-services]\n",
            img = busybox_image()
        ));
    }
    // ThingsBoard depends on PostgreSQL, whose name is taken.
    yaml.push_str(&format!(
        "  thingsboard-ce:\n    image: {img}\n    container_name: {p}-thingsboard\n    command: sleep 3600\n    networks: [platform-services]\n    depends_on:\n      postgres: {{ condition: service_started }}\n",
        img = busybox_image()
    ));
    std::fs::write(tmp.path().join("compose.services.yml"), yaml).unwrap();
    // A container outside the project holds PostgreSQL's name.
    let outsider = format!("{p}-postgres");
    guard.container(&outsider);
    docker(&[
        "run",
        "-d",
        "--name",
        &outsider,
        busybox_image(),
        "sleep",
        "3600",
    ]);

    let files = ProjectFiles {
        name: p.clone(),
        working_dir: tmp.path().to_owned(),
        files: compose::default_compose_files(tmp.path()),
    };
    let l = Lifecycle::new(&e, &files, &BTreeMap::new()).unwrap();
    let err = l
        .start(&Selection::All, &StartOptions::default())
        .await
        .unwrap_err();
    let LifecycleError::Partial {
        report, service, ..
    } = &err
    else {
        panic!("expected a partial start, got {err}");
    };
    assert_eq!(service, "postgres", "{err}");
    assert!(!err.is_usage());
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "postgres failed: container name {p}-postgres is already in use by a container outside project {p}"
        )),
        "{msg}"
    );
    assert!(
        msg.contains("not started: thingsboard-ce (needs postgres)"),
        "{msg}"
    );
    assert_eq!(report.failed, [Service::Postgres]);
    assert_eq!(
        report.not_started,
        [(Service::ThingsBoard, "postgres".to_owned())]
    );
    let mut started: Vec<&str> = report
        .started
        .iter()
        .map(|s| s.service.compose_name())
        .collect();
    started.sort_unstable();
    assert_eq!(
        started,
        ["gitlab", "grafana", "influxdb", "mongodb", "rabbitmq"]
    );

    // The state afterwards is what the report says: five running, nothing left
    // "created", and nothing appears after the command returned.
    let after = project_containers(&p);
    let expected: Vec<String> = ["gitlab", "grafana", "influxdb", "mongodb", "rabbitmq"]
        .iter()
        .map(|s| format!("{p}-{s} running"))
        .collect();
    assert_eq!(after, expected);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        project_containers(&p),
        expected,
        "a container appeared later"
    );
    // The outsider was not touched.
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Running}}", &outsider]),
        "true"
    );
}
