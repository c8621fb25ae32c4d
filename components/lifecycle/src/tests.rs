//! Unit tests on the fake engine.

use std::collections::BTreeMap;
use std::path::Path;

use catalog::Service;
use compose::ProjectFiles;
use docker::{ContainerState, FakeEngine, FakeEvent, Health};

use crate::*;

const FILE: &str = r#"
networks:
  platform-services:
    name: dtaas-services
services:
  rabbitmq:
    image: img:1
    container_name: rabbitmq
    networks: [platform-services]
  postgres:
    image: img:1
    container_name: postgres
    networks: [platform-services]
    healthcheck: { test: ["CMD", "true"] }
  influxdb:
    image: img:1
    container_name: influxdb
    networks: [platform-services]
"#;

const TB: &str = r#"
networks:
  platform-services:
    name: dtaas-services
services:
  thingsboard-ce:
    image: img:1
    container_name: thingsboard
    networks: [platform-services]
    depends_on:
      postgres: { condition: service_healthy }
"#;

pub(crate) fn setup(dir: &Path) -> (FakeEngine, ProjectFiles) {
    std::fs::write(dir.join("compose.services.yml"), FILE).unwrap();
    std::fs::write(dir.join("compose.thingsboard.yml"), TB).unwrap();
    let e = FakeEngine::new();
    e.add_image("img:1");
    let files = ProjectFiles {
        name: "proj".into(),
        working_dir: dir.to_owned(),
        files: compose::default_compose_files(dir),
    };
    (e, files)
}

pub(crate) fn sel(raw: &str) -> Selection {
    Selection::parse(Some(raw)).unwrap()
}

#[tokio::test]
async fn start_skips_running_and_reports() {
    let d = tempfile::tempdir().unwrap();
    let (e, files) = setup(d.path());
    let l = Lifecycle::new(&e, &files, &BTreeMap::new()).unwrap();
    let r = l
        .start(&sel("rabbitmq"), &StartOptions::default())
        .await
        .unwrap();
    assert_eq!(r.started.len(), 1);
    let r = l
        .start(&Selection::All, &StartOptions::default())
        .await
        .unwrap();
    assert_eq!(r.skipped_running, [Service::RabbitMq]);
    let started: Vec<_> = r.started.iter().map(|s| s.container.as_str()).collect();
    assert_eq!(started, ["postgres", "influxdb", "thingsboard"]);
    e.set_state("influxdb", ContainerState::Restarting);
    let r = l
        .start(
            &Selection::All,
            &StartOptions {
                wait: false,
                timeout: None,
                ..StartOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.restarting, [(Service::InfluxDb, "influxdb".to_owned())]);
    assert!(r.started.is_empty());
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["restarting"][0][1], "influxdb");
}

#[tokio::test]
async fn start_recreates_a_running_service_whose_configuration_changed() {
    let d = tempfile::tempdir().unwrap();
    let (e, files) = setup(d.path());
    let l = Lifecycle::new(&e, &files, &BTreeMap::new()).unwrap();
    l.start(&Selection::All, &StartOptions::default())
        .await
        .unwrap();
    let changed = FILE.replace(
        "    container_name: rabbitmq\n",
        "    container_name: rabbitmq\n    environment: { RABBITMQ_LOGS: \"-\" }\n",
    );
    assert_ne!(changed, FILE);
    std::fs::write(d.path().join("compose.services.yml"), changed).unwrap();
    e.clear_events();
    let l = Lifecycle::new(&e, &files, &BTreeMap::new()).unwrap();
    let r = l
        .start(&Selection::All, &StartOptions::default())
        .await
        .unwrap();
    let started: Vec<_> = r
        .started
        .iter()
        .map(|s| (s.container.as_str(), s.action))
        .collect();
    assert_eq!(started, [("rabbitmq", compose::Action::Recreated)]);
    let mut skipped = r.skipped_running.clone();
    skipped.sort();
    assert_eq!(
        skipped,
        [Service::InfluxDb, Service::Postgres, Service::ThingsBoard]
    );
    assert!(
        !e.events()
            .iter()
            .any(|ev| matches!(ev, FakeEvent::Stop(n) if n != "rabbitmq")),
        "only rabbitmq was touched: {:?}",
        e.events()
    );
}

#[tokio::test]
async fn status_uses_normalised_names_and_says_what_matched() {
    let d = tempfile::tempdir().unwrap();
    let (e, files) = setup(d.path());
    let l = Lifecycle::new(&e, &files, &BTreeMap::new()).unwrap();
    l.start(&sel("thingsboard"), &StartOptions::default())
        .await
        .unwrap();
    e.set_health_after_start("postgres", Health::Starting);
    let r = l
        .status(&sel("ThingsBoard,PostgreSQL,influx"))
        .await
        .unwrap();
    let rows: Vec<_> = r
        .services
        .iter()
        .map(|s| (s.container.as_str(), s.effective()))
        .collect();
    assert_eq!(
        rows,
        [
            ("thingsboard", "running"),
            ("postgres", "running"),
            ("influxdb", "removed")
        ]
    );
    assert!(r.matched());
    let r = l.status(&sel("gitlab")).await.unwrap();
    assert!(!r.matched());
    assert_eq!(r.not_defined, [Service::GitLab]);
}

#[tokio::test]
async fn postgres_guard_only_when_thingsboard_runs_and_is_not_selected() {
    let d = tempfile::tempdir().unwrap();
    let (e, files) = setup(d.path());
    let l = Lifecycle::new(&e, &files, &BTreeMap::new()).unwrap();
    l.start(&Selection::All, &StartOptions::default())
        .await
        .unwrap();
    let err = l.stop(&sel("postgresql"), None).await.unwrap_err();
    insta::assert_snapshot!(err, @"Cannot stop PostgreSQL while ThingsBoard is running. Stop or remove ThingsBoard first with: dtaas-services service stop -s thingsboard (or stop both together)");
    assert!(!err.is_usage());
    let err = l.remove(&sel("postgres"), false, None).await.unwrap_err();
    assert!(matches!(
        err,
        LifecycleError::PostgresGuard { action: "remove" }
    ));
    // Both together: fine, ThingsBoard stops first.
    e.clear_events();
    let r = l.stop(&sel("postgres,thingsboard"), None).await.unwrap();
    assert_eq!(r.stopped, ["thingsboard", "postgres"]);
    // ThingsBoard stopped: PostgreSQL alone is fine.
    l.start(&sel("postgres"), &StartOptions::default())
        .await
        .unwrap();
    l.stop(&sel("postgres"), None).await.unwrap();
    assert_eq!(e.events().last(), Some(&FakeEvent::Stop("postgres".into())));
}

#[tokio::test]
async fn remove_with_volumes_wipes_the_right_dirs() {
    let d = tempfile::tempdir().unwrap();
    let (e, files) = setup(d.path());
    for dir in [
        "data/thingsboard",
        "log/thingsboard",
        "data/thingsboard-ce",
        "data/postgres",
        "config/influxdb/influx-configs",
    ] {
        std::fs::create_dir_all(d.path().join(dir)).unwrap();
        std::fs::write(d.path().join(dir).join("f"), "x").unwrap();
    }
    std::fs::write(d.path().join("data/thingsboard/.gitkeep"), "").unwrap();
    let l = Lifecycle::new(&e, &files, &BTreeMap::new()).unwrap();
    l.start(&Selection::All, &StartOptions::default())
        .await
        .unwrap();
    let r = l.remove(&sel("thingsboard"), true, None).await.unwrap();
    assert_eq!(r.removed, ["thingsboard"]);
    assert_eq!(r.wiped, ["data/thingsboard", "log/thingsboard"]);
    assert!(!d.path().join("data/thingsboard/f").exists());
    assert!(d.path().join("data/thingsboard/.gitkeep").exists());
    assert!(!d.path().join("log/thingsboard/f").exists());
    assert!(
        d.path().join("data/thingsboard-ce/f").exists(),
        "never the compose name"
    );
    assert!(d.path().join("data/postgres/f").exists());
    l.stop(&sel("influxdb"), None).await.unwrap();
    let r = l.remove(&sel("influx"), true, None).await.unwrap();
    assert_eq!(r.wiped, ["config/influxdb/influx-configs"]);
    assert_eq!(r.data_deleted, [Service::InfluxDb]);
    assert!(
        r.networks_removed.is_empty(),
        "postgres and rabbitmq still use it"
    );
    assert_eq!(e.network_names(), ["dtaas-services"]);

    // The last containers go: the project's network goes with them (not with --volumes
    // only: data is kept here).
    let r = l.remove(&Selection::All, false, None).await.unwrap();
    assert!(r.data_deleted.is_empty());
    assert_eq!(r.networks_removed, ["dtaas-services"]);
    assert!(e.network_names().is_empty());
}

#[tokio::test]
async fn remove_keeps_a_network_another_project_made() {
    let d = tempfile::tempdir().unwrap();
    let (e, files) = setup(d.path());
    let l = Lifecycle::new(&e, &files, &BTreeMap::new()).unwrap();
    l.start(&sel("rabbitmq"), &StartOptions::default())
        .await
        .unwrap();
    let other = ProjectFiles {
        name: "other".into(),
        ..files.clone()
    };
    let l2 = Lifecycle::new(&e, &other, &BTreeMap::new()).unwrap();
    let r = l2.remove(&Selection::All, false, None).await.unwrap();
    assert!(r.removed.is_empty());
    assert!(r.networks_removed.is_empty(), "made by project proj");
    assert_eq!(e.network_names(), ["dtaas-services"]);
}

#[tokio::test]
async fn clean_refuses_running_services_by_normalised_name() {
    let d = tempfile::tempdir().unwrap();
    let (e, files) = setup(d.path());
    std::fs::create_dir_all(d.path().join("data/thingsboard")).unwrap();
    std::fs::write(d.path().join("data/thingsboard/f"), "x").unwrap();
    std::fs::create_dir_all(d.path().join("data/grafana")).unwrap();
    std::fs::write(d.path().join("data/grafana/.gitkeep"), "").unwrap();
    let l = Lifecycle::new(&e, &files, &BTreeMap::new()).unwrap();
    l.start(&sel("tb"), &StartOptions::default()).await.unwrap();
    let err = l.clean(&sel("thingsboard")).await.unwrap_err();
    insta::assert_snapshot!(err, @"cannot clean running services: thingsboard-ce; stop them first with: dtaas-services service stop -s thingsboard-ce");
    l.stop(&Selection::All, None).await.unwrap();
    let r = l.clean(&sel("thingsboard")).await.unwrap();
    assert_eq!(r.cleaned, ["data/thingsboard"]);
    assert!(d.path().join("data/thingsboard").is_dir());
    assert!(d.path().join("data/grafana/.gitkeep").exists());
}

#[tokio::test]
async fn clean_certs_empties_certs_but_keeps_the_dir_and_gitkeep() {
    let d = tempfile::tempdir().unwrap();
    let (e, files) = setup(d.path());
    let certs = d.path().join("certs");
    std::fs::create_dir_all(certs.join("old")).unwrap();
    std::fs::write(certs.join(".gitkeep"), "").unwrap();
    std::fs::write(certs.join("privkey.pem"), "k").unwrap();
    std::fs::write(certs.join("old/chain.pem"), "c").unwrap();
    let l = Lifecycle::new(&e, &files, &BTreeMap::new()).unwrap();
    let mut r = CleanReport::default();
    l.clean_certs(&mut r).unwrap();
    assert_eq!(r.cleaned, ["certs"]);
    let left: Vec<_> = std::fs::read_dir(&certs)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [".gitkeep"]);
}

#[tokio::test]
async fn errors_map_to_exit_codes() {
    let d = tempfile::tempdir().unwrap();
    let (e, files) = setup(d.path());
    let l = Lifecycle::new(&e, &files, &BTreeMap::new()).unwrap();
    let err = l
        .start(&sel("gitlab"), &StartOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_usage());
    e.set_unreachable();
    let err = l.status(&Selection::All).await.unwrap_err();
    assert!(
        err.docker()
            .is_some_and(docker::DockerError::is_unreachable)
    );
}

// Root safety (docs/security.md, "Files and links"): nothing outside the project changes.

#[tokio::test]
async fn remove_volumes_refuses_a_linked_data_dir_and_leaves_its_target_alone() {
    let d = tempfile::tempdir().unwrap();
    let (e, files) = setup(d.path());
    let sentinel = test_support::Sentinel::plant();
    std::fs::create_dir_all(d.path().join("data")).unwrap();
    std::os::unix::fs::symlink(sentinel.path(), d.path().join("data/rabbitmq")).unwrap();
    let l = Lifecycle::new(&e, &files, &BTreeMap::new()).unwrap();
    l.start(&sel("rabbitmq"), &StartOptions::default())
        .await
        .unwrap();
    let err = l.remove(&sel("rabbitmq"), true, None).await.unwrap_err();
    assert!(
        err.to_string().contains("data/rabbitmq is a symbolic link"),
        "{err}"
    );
    sentinel.assert_unchanged("service remove -s rabbitmq --volumes");
    assert!(
        std::fs::symlink_metadata(d.path().join("data/rabbitmq"))
            .unwrap()
            .is_symlink()
    );
    // Refused before anything changed: the container is still there.
    assert!(
        !e.events()
            .iter()
            .any(|ev| matches!(ev, FakeEvent::Remove(n) if n == "rabbitmq")),
        "{:?}",
        e.events()
    );
}

#[tokio::test]
async fn clean_removes_links_inside_data_dirs_as_links_and_refuses_linked_dirs() {
    let d = tempfile::tempdir().unwrap();
    let (e, files) = setup(d.path());
    let sentinel = test_support::Sentinel::plant();
    let p = d.path();
    let data = p.join("data/rabbitmq");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    use std::os::unix::fs::symlink;
    symlink(sentinel.secret(), data.join("file-link")).unwrap();
    symlink(sentinel.path(), data.join("sub/dir-link")).unwrap();
    symlink(p.join("gone"), data.join("dangling")).unwrap();
    std::fs::hard_link(sentinel.secret(), data.join("hard")).unwrap();
    std::fs::create_dir_all(p.join("config/influxdb")).unwrap();
    symlink(sentinel.path(), p.join("config/influxdb/influx-configs")).unwrap();
    let l = Lifecycle::new(&e, &files, &BTreeMap::new()).unwrap();
    let r = l.clean(&sel("rabbitmq,influxdb")).await.unwrap();
    assert_eq!(
        r.cleaned,
        ["data/rabbitmq", "config/influxdb/influx-configs"]
    );
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0);
    assert!(std::fs::symlink_metadata(p.join("config/influxdb/influx-configs")).is_err());
    sentinel.assert_unchanged("service clean");

    // A linked log dir, and `data` itself a link: refused, nothing emptied.
    std::fs::create_dir_all(p.join("log")).unwrap();
    symlink(sentinel.path(), p.join("log/thingsboard")).unwrap();
    let err = l.clean(&sel("thingsboard")).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("log/thingsboard is a symbolic link"),
        "{err}"
    );
    std::fs::remove_dir_all(p.join("data")).unwrap();
    symlink(sentinel.path(), p.join("data")).unwrap();
    let err = l.clean(&sel("rabbitmq")).await.unwrap_err();
    assert!(err.to_string().contains("data is a symbolic link"), "{err}");
    sentinel.assert_unchanged("service clean through linked dirs");
}

#[tokio::test]
async fn clean_certs_refuses_a_linked_certs_dir() {
    let d = tempfile::tempdir().unwrap();
    let (e, files) = setup(d.path());
    let sentinel = test_support::Sentinel::plant();
    std::os::unix::fs::symlink(sentinel.path(), d.path().join("certs")).unwrap();
    let l = Lifecycle::new(&e, &files, &BTreeMap::new()).unwrap();
    let err = l.clean_certs(&mut CleanReport::default()).unwrap_err();
    assert!(
        err.to_string().contains("certs is a symbolic link"),
        "{err}"
    );
    sentinel.assert_unchanged("service clean --certs");
}
