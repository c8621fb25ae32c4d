//! `status` and `status_listed` on the fake engine: what the list call says is not asked
//! again per container.

use std::collections::BTreeMap;
use std::path::Path;

use compose::ProjectFiles;
use docker::{FakeEngine, Health};

use crate::*;

const FILE: &str = r#"
services:
  rabbitmq:
    image: img:1
    container_name: rabbitmq
    ports: ["5672:5672"]
  postgres:
    image: img:1
    container_name: postgres
    ports: ["127.0.0.1:5432:5432"]
    healthcheck: { test: ["CMD", "true"] }
  influxdb:
    image: img:1
    container_name: influxdb
    ports: ["8086:8086"]
"#;

fn setup(dir: &Path) -> (FakeEngine, ProjectFiles) {
    std::fs::write(dir.join("compose.services.yml"), FILE).unwrap();
    let e = FakeEngine::new();
    e.add_image("img:1");
    let files = ProjectFiles {
        name: "proj".into(),
        working_dir: dir.to_owned(),
        files: compose::default_compose_files(dir),
    };
    (e, files)
}

fn ports(s: &ServiceStatus) -> Vec<(Option<&str>, u16, u16)> {
    s.ports
        .iter()
        .map(|p| (p.host_ip.as_deref(), p.host_port, p.container_port))
        .collect()
}

#[tokio::test]
async fn the_status_table_is_one_list_call_and_no_inspect() {
    let d = tempfile::tempdir().unwrap();
    let (e, files) = setup(d.path());
    let l = Lifecycle::new(&e, &files, &BTreeMap::new()).unwrap();
    e.set_exit_on_start("influxdb", 137);
    e.set_health_after_start("postgres", Health::Healthy);
    l.start(&Selection::All, &StartOptions::default())
        .await
        .unwrap();
    let before = e.inspect_calls();
    let r = l.status_listed(&Selection::All).await.unwrap();
    assert_eq!(e.inspect_calls(), before, "no inspect for the table");
    let by = |name: &str| r.services.iter().find(|s| s.container == name).unwrap();
    let (rabbit, pg, influx) = (by("rabbitmq"), by("postgres"), by("influxdb"));
    assert_eq!(
        (rabbit.state.as_str(), pg.effective()),
        ("running", "running")
    );
    assert_eq!(pg.health, Some(Health::Healthy));
    // The bound ports and the uptime, as the list's `Ports` and `Status` say them.
    assert_eq!(ports(rabbit), [(None, 5672, 5672)]);
    assert_eq!(ports(pg), [(Some("127.0.0.1"), 5432, 5432)]);
    assert_eq!(rabbit.uptime_secs, Some(5));
    // Only an inspect says these.
    assert_eq!(
        (rabbit.started_at.as_deref(), rabbit.restart_count),
        (None, None)
    );
    // A stopped container: its exit code from `Exited (137) ...`, the configured ports.
    assert_eq!(influx.state, "exited");
    assert_eq!(influx.exit_code, Some(137));
    assert_eq!(influx.uptime_secs, None);
    assert_eq!(ports(influx), [(None, 8086, 8086)]);
}

#[tokio::test]
async fn the_full_status_inspects_each_container_once() {
    let d = tempfile::tempdir().unwrap();
    let (e, files) = setup(d.path());
    let l = Lifecycle::new(&e, &files, &BTreeMap::new()).unwrap();
    l.start(
        &Selection::Only(vec![catalog::Service::RabbitMq]),
        &StartOptions::default(),
    )
    .await
    .unwrap();
    let before = e.inspect_calls();
    let r = l.status(&Selection::All).await.unwrap();
    assert_eq!(e.inspect_calls() - before, 1, "one container, one inspect");
    let rabbit = r
        .services
        .iter()
        .find(|s| s.container == "rabbitmq")
        .unwrap();
    assert_eq!(rabbit.restart_count, Some(0));
    assert_eq!(ports(rabbit), [(None, 5672, 5672)]);
}
