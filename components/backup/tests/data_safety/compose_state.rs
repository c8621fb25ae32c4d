use std::collections::BTreeMap;
use std::path::Path;

use backup::{StateFinding, check_state};
use compose::{ProjectFiles, load_project};

fn generated() -> (tempfile::TempDir, compose::Project) {
    let dir = tempfile::tempdir().unwrap();
    project::generate(dir.path(), false).unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let (settings, _) = config::load(&config::LoadOptions {
        project_dir: root.clone(),
        env: Vec::new(),
        overrides: vec![("HOSTNAME".into(), "example.org".into())],
    })
    .unwrap();
    let files = ProjectFiles {
        name: settings.project_name(),
        working_dir: root.clone(),
        files: compose::default_compose_files(&root),
    };
    let project = load_project(&files, &settings.interpolation_vars()).unwrap();
    (dir, project)
}

#[test]
fn generated_compose_files_mount_every_state_path_with_a_stable_identity() {
    let (_dir, project) = generated();
    assert_eq!(project.services.len(), 7, "all seven services are defined");
    assert_eq!(check_state(&project), Vec::<StateFinding>::new());
    assert_eq!(
        project.services["rabbitmq"].hostname.as_deref(),
        Some("rabbitmq")
    );
}

#[test]
fn a_missing_mount_or_host_name_is_reported() {
    let (_dir, mut project) = generated();
    let root = project.working_dir.clone();
    let influx = project.services.get_mut("influxdb").unwrap();
    influx.volumes.retain(
        |m| !matches!(m, compose::Mount::Bind { target, .. } if target == "/etc/influxdb2"),
    );
    let pg = project.services.get_mut("postgres").unwrap();
    pg.environment.insert(
        "PGDATA".into(),
        Some("/var/lib/postgresql/elsewhere".into()),
    );
    project.services.get_mut("rabbitmq").unwrap().hostname = None;
    let grafana = project.services.get_mut("grafana").unwrap();
    for m in &mut grafana.volumes {
        if let compose::Mount::Bind { source, target, .. } = m
            && target == "/var/lib/grafana"
        {
            *source = Path::new("/srv/grafana").to_owned();
        }
    }
    let findings: Vec<String> = check_state(&project)
        .iter()
        .map(ToString::to_string)
        .collect();
    insta::assert_snapshot!(findings.join("\n"), @"
    rabbitmq: no fixed hostname; every recreated container starts an empty node (set `hostname:` in its compose file)
    grafana: /var/lib/grafana is mounted from /srv/grafana outside the project; backups do not cover it
    influxdb: /etc/influxdb2 is not mounted from the host; its data is lost when the container is recreated
    postgres: /var/lib/postgresql/elsewhere is not mounted from the host; its data is lost when the container is recreated
    ");
    assert!(root.is_absolute());
}

#[test]
fn state_paths_of_every_service_are_backed_up_except_logs() {
    let table: BTreeMap<&str, Vec<(&str, bool)>> = catalog::Service::ALL
        .iter()
        .map(|s| {
            (
                s.compose_name(),
                backup::state_paths(*s)
                    .iter()
                    .map(|p| (p.container, p.backed_up))
                    .collect(),
            )
        })
        .collect();
    insta::assert_debug_snapshot!(table);
}
