//! Live tests of the service commands on the local Docker engine (busybox test image,
//! images overridden through `<SERVICE>_IMAGE`, unique names and ports per test).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use catalog::Service;
use compose::ProjectFiles;
use docker::{ContainerState, Engine, Health};
use lifecycle::{Lifecycle, LifecycleError, Selection, StartOptions};
use test_support::{ProjectGuard, busybox_image, engine_or_skip, free_port, unique_name};

struct Fx {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    project: String,
    guard: ProjectGuard,
}

fn fixture(prefix: &str) -> Fx {
    let tmp = tempfile::tempdir().unwrap();
    let project = unique_name(prefix);
    let guard = ProjectGuard::new(&project, &[&format!("{project}-net")]);
    let dir = tmp.path().to_owned();
    let p = &project;
    std::fs::write(
        dir.join("compose.services.yml"),
        format!(
            r#"
networks:
  platform-services:
    name: {p}-net
services:
  rabbitmq:
    image: ${{RABBITMQ_IMAGE:-rabbitmq:4.2.2-management}}
    container_name: {p}-rabbitmq
    command: sleep 3600
    volumes: ["./data/rabbitmq:/var/lib/rabbitmq"]
    networks: [platform-services]
  postgres:
    image: ${{POSTGRES_IMAGE:-postgres:16.11}}
    container_name: {p}-postgres
    command: ["httpd", "-f", "-p", "5432", "-h", "/www"]
    ports: ["127.0.0.1:${{POSTGRES_PORT}}:5432"]
    networks: [platform-services]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:5432/"]
      interval: 1s
      retries: 30
"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("compose.thingsboard.yml"),
        format!(
            r#"
networks:
  platform-services:
    name: {p}-net
services:
  thingsboard-ce:
    image: ${{THINGSBOARD_IMAGE:-thingsboard/tb-node:4.2.1}}
    container_name: {p}-thingsboard
    command: sleep 3600
    volumes: ["./data/thingsboard:/data", "./log/thingsboard:/var/log/thingsboard"]
    networks: [platform-services]
    depends_on:
      postgres:
        condition: service_healthy
"#
        ),
    )
    .unwrap();
    Fx {
        _tmp: tmp,
        dir,
        project,
        guard,
    }
}

fn vars(port: u16) -> BTreeMap<String, String> {
    let img = busybox_image().to_owned();
    BTreeMap::from([
        ("RABBITMQ_IMAGE".to_owned(), img.clone()),
        ("POSTGRES_IMAGE".to_owned(), img.clone()),
        ("THINGSBOARD_IMAGE".to_owned(), img),
        ("POSTGRES_PORT".to_owned(), port.to_string()),
    ])
}

fn files(f: &Fx) -> ProjectFiles {
    ProjectFiles {
        name: f.project.clone(),
        working_dir: f.dir.clone(),
        files: compose::default_compose_files(&f.dir),
    }
}

fn sel(s: &str) -> Selection {
    Selection::parse(Some(s)).unwrap()
}

fn wait() -> StartOptions {
    StartOptions {
        wait: true,
        timeout: Some(Duration::from_secs(60)),
        ..StartOptions::default()
    }
}

#[tokio::test]
async fn full_lifecycle_on_the_real_engine() {
    let Some(e) = engine_or_skip().await else {
        return;
    };
    let f = fixture("lfull");
    let l = Lifecycle::new(&e, &files(&f), &vars(free_port())).unwrap();
    let p = &f.project;

    // start all --wait: dependency order, postgres healthy before thingsboard.
    let r = l.start(&Selection::All, &wait()).await.unwrap();
    let started: Vec<_> = r.started.iter().map(|s| s.service).collect();
    assert_eq!(
        started,
        [Service::RabbitMq, Service::Postgres, Service::ThingsBoard]
    );
    assert!(r.waited);
    let st = l.status(&Selection::All).await.unwrap();
    let rows: Vec<_> = st
        .services
        .iter()
        .map(|s| (s.service, s.state.as_str(), s.health))
        .collect();
    assert_eq!(
        rows,
        [
            (Service::RabbitMq, "running", None),
            (Service::Postgres, "running", Some(Health::Healthy)),
            (Service::ThingsBoard, "running", None),
        ]
    );
    let json = serde_json::to_value(&st).unwrap();
    assert_eq!(json["services"][1]["health"], "healthy");

    // docker compose v2 lists the same services running.
    let out = Command::new("docker")
        .args(["compose", "-p", p, "ps", "--format", "json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for svc in ["rabbitmq", "postgres", "thingsboard-ce"] {
        assert!(text.contains(&format!("\"Service\":\"{svc}\"")), "{text}");
    }

    // start again: everything skipped.
    let r = l
        .start(&Selection::All, &StartOptions::default())
        .await
        .unwrap();
    assert_eq!(r.skipped_running.len(), 3);
    assert!(r.started.is_empty());

    // The PostgreSQL guard, and stopping both together.
    let err = l
        .stop(&sel("postgresql"), Some(Duration::from_secs(1)))
        .await
        .unwrap_err();
    assert!(matches!(err, LifecycleError::PostgresGuard { .. }), "{err}");

    // stop one, restart it.
    let r = l
        .stop(&sel("rabbitmq"), Some(Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(r.stopped, [format!("{p}-rabbitmq")]);
    let st = l.status(&sel("rabbit")).await.unwrap();
    assert_eq!(st.services[0].state, "exited");
    let r = l
        .restart(&sel("rabbitmq"), Some(Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(r.restarted, [format!("{p}-rabbitmq")]);
    assert_eq!(
        e.inspect_container(&format!("{p}-rabbitmq"))
            .await
            .unwrap()
            .state,
        ContainerState::Running
    );

    // clean refuses a running service (by alias), then works once stopped.
    std::fs::write(f.dir.join("data/thingsboard/db"), "x").unwrap();
    let err = l.clean(&sel("tb")).await.unwrap_err();
    assert!(matches!(err, LifecycleError::Running { .. }), "{err}");
    l.stop(&sel("thingsboard,postgres"), Some(Duration::from_secs(1)))
        .await
        .unwrap();
    let r = l.clean(&sel("tb")).await.unwrap();
    assert_eq!(r.cleaned, ["data/thingsboard", "log/thingsboard"]);
    assert!(f.dir.join("data/thingsboard").is_dir());
    assert!(!f.dir.join("data/thingsboard/db").exists());

    // remove with volumes.
    std::fs::write(f.dir.join("data/rabbitmq/x"), "x").unwrap();
    let r = l
        .remove(&sel("rabbitmq"), true, Some(Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(r.removed, [format!("{p}-rabbitmq")]);
    assert_eq!(r.wiped, ["data/rabbitmq"]);
    assert!(!f.dir.join("data/rabbitmq/x").exists());
    let st = l.status(&sel("rabbitmq")).await.unwrap();
    assert_eq!(st.services[0].state, "removed");
    drop(f.guard);
}

#[tokio::test]
async fn status_and_stop_handle_containers_made_by_docker_compose() {
    let Some(e) = engine_or_skip().await else {
        return;
    };
    let f = fixture("lcompose");
    let port = free_port();
    let mut cmd = Command::new("docker");
    cmd.args([
        "compose",
        "-p",
        &f.project,
        "-f",
        "compose.services.yml",
        "-f",
        "compose.thingsboard.yml",
        "up",
        "-d",
        "--wait",
    ])
    .current_dir(&f.dir);
    for (k, v) in vars(port) {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let l = Lifecycle::new(&e, &files(&f), &vars(port)).unwrap();
    let st = l.status(&Selection::All).await.unwrap();
    assert!(st.services.iter().all(|s| s.state == "running"), "{st:?}");
    let r = l
        .start(&Selection::All, &StartOptions::default())
        .await
        .unwrap();
    assert_eq!(r.skipped_running.len(), 3);
    let r = l
        .stop(&Selection::All, Some(Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(r.stopped.len(), 3);
    // Adopted on start: no recreation of containers compose made.
    let before = e
        .inspect_container(&format!("{}-postgres", f.project))
        .await
        .unwrap()
        .id;
    let r = l.start(&sel("postgres"), &wait()).await.unwrap();
    assert_eq!(r.started[0].action, compose::Action::Started);
    assert_eq!(
        e.inspect_container(&format!("{}-postgres", f.project))
            .await
            .unwrap()
            .id,
        before
    );
    drop(f.guard);
}

#[tokio::test]
async fn start_wait_reports_a_container_killed_during_the_wait() {
    let Some(e) = engine_or_skip().await else {
        return;
    };
    let f = fixture("lkill");
    let text = std::fs::read_to_string(f.dir.join("compose.services.yml"))
        .unwrap()
        .replace("interval: 1s", "interval: 1h");
    std::fs::write(f.dir.join("compose.services.yml"), text).unwrap();
    let l = Lifecycle::new(&e, &files(&f), &vars(free_port())).unwrap();
    let name = format!("{}-postgres", f.project);
    let killer = {
        let name = name.clone();
        tokio::spawn(async move {
            let e = docker::BollardEngine::connect(None).await.unwrap();
            loop {
                if let Ok(c) = e.inspect_container(&name).await
                    && c.state == ContainerState::Running
                {
                    e.kill_container(&name, None).await.unwrap();
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let err = l.start(&sel("postgres"), &wait()).await.unwrap_err();
    killer.await.unwrap();
    assert_eq!(
        err.to_string(),
        format!("container {name} exited with code 137")
    );
    assert!(!err.is_usage());
    drop(f.guard);
}

#[tokio::test]
async fn unsupported_key_names_key_and_file() {
    let f = fixture("lbad");
    std::fs::write(
        f.dir.join("compose.gitlab.yml"),
        "services:\n  gitlab:\n    image: x\n    privileged: true\n",
    )
    .unwrap();
    let e = docker::FakeEngine::new();
    let err = Lifecycle::new(&e, &files(&f), &vars(1)).unwrap_err();
    assert!(err.is_usage());
    assert_eq!(
        err.to_string(),
        format!(
            "{}: unsupported key `services.gitlab.privileged`",
            f.dir.join("compose.gitlab.yml").display()
        )
    );
}

/// A project whose containers restart in a loop, are unhealthy, and print lines.
fn operability_fixture(prefix: &str, port: u16) -> Fx {
    let tmp = tempfile::tempdir().unwrap();
    let project = unique_name(prefix);
    let guard = ProjectGuard::new(&project, &[&format!("{project}-net")]);
    let dir = tmp.path().to_owned();
    let p = &project;
    let img = busybox_image();
    std::fs::write(
        dir.join("compose.services.yml"),
        format!(
            r#"
networks:
  platform-services:
    name: {p}-net
services:
  rabbitmq:
    image: {img}
    container_name: {p}-rabbitmq
    command: ["sh", "-c", "exit 1"]
    restart: always
    networks: [platform-services]
  grafana:
    image: {img}
    container_name: {p}-grafana
    command: ["sh", "-c", "for i in 1 2 3 4 5; do echo line $$i; done; echo oops >&2; sleep 3600"]
    ports: ["127.0.0.1:{port}:3000"]
    networks: [platform-services]
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      retries: 1
  mongodb:
    image: {img}
    container_name: {p}-mongodb
    command: sleep 3600
    networks: [platform-services]
"#
        ),
    )
    .unwrap();
    Fx {
        _tmp: tmp,
        dir,
        project,
        guard,
    }
}

#[tokio::test]
async fn status_shows_restart_loops_unhealthy_ports_image_and_uptime() {
    use futures_util::TryStreamExt as _;
    let Some(e) = engine_or_skip().await else {
        return;
    };
    let port = free_port();
    let f = operability_fixture("lstatus", port);
    let l = Lifecycle::new(&e, &files(&f), &BTreeMap::new()).unwrap();
    l.start(&sel("rabbitmq,grafana"), &StartOptions::default())
        .await
        .unwrap();
    // Poll until the loop restarted at least twice and the healthcheck failed.
    let mut st = l.status(&Selection::All).await.unwrap();
    for _ in 0..150 {
        let rabbit = &st.services[0];
        let grafana = &st.services[2];
        if rabbit.restart_count >= Some(2) && grafana.health == Some(Health::Unhealthy) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        st = l.status(&Selection::All).await.unwrap();
    }
    let names: Vec<_> = st.services.iter().map(|s| s.service).collect();
    assert_eq!(
        names,
        [Service::RabbitMq, Service::MongoDb, Service::Grafana]
    );
    let rabbit = &st.services[0];
    assert!(rabbit.restart_count >= Some(2), "{rabbit:?}");
    assert!(
        ["restarting", "running", "exited"].contains(&rabbit.state.as_str()),
        "{rabbit:?}"
    );
    let mongo = &st.services[1];
    assert_eq!(mongo.state, "removed");
    assert_eq!(mongo.image, busybox_image());
    let grafana = &st.services[2];
    assert_eq!(grafana.state, "running");
    assert_eq!(grafana.health, Some(Health::Unhealthy));
    assert_eq!(grafana.effective(), "unhealthy");
    assert_eq!(grafana.image, busybox_image());
    assert_eq!(grafana.tag, "1");
    assert_eq!(
        grafana.ports,
        [lifecycle::PublishedPort {
            host_ip: Some("127.0.0.1".into()),
            host_port: port,
            container_port: 3000,
            protocol: "tcp",
        }]
    );
    assert!(grafana.started_at.is_some());
    assert!(grafana.uptime_secs.is_some_and(|u| u < 3600), "{grafana:?}");
    assert_eq!(grafana.restart_count, Some(0));

    // Logs: all lines, then the tail, both streams.
    let chunks: Vec<_> = l
        .logs(Service::Grafana, &docker::LogsOptions::default())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    // Docker keeps each stream in order, not the order between stdout and stderr.
    let stream = |which: docker::LogStream| -> String {
        chunks
            .iter()
            .filter(|c| c.stream == which)
            .map(|c| String::from_utf8_lossy(&c.bytes).into_owned())
            .collect()
    };
    assert_eq!(
        stream(docker::LogStream::Stdout),
        "line 1\nline 2\nline 3\nline 4\nline 5\n"
    );
    assert_eq!(stream(docker::LogStream::Stderr), "oops\n");
    assert!(
        chunks
            .iter()
            .any(|c| c.stream == docker::LogStream::Stderr && c.bytes == b"oops\n")
    );
    let tail: Vec<_> = l
        .logs(
            Service::Grafana,
            &docker::LogsOptions {
                tail: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let text: String = tail
        .iter()
        .map(|c| String::from_utf8_lossy(&c.bytes).into_owned())
        .collect();
    // The last two lines by time; whether `oops` (stderr) came before `line 5` is a race.
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("line 5\n"), "{text}");
    let err = match l
        .logs(Service::MongoDb, &docker::LogsOptions::default())
        .await
    {
        Ok(_) => panic!("mongodb has no container"),
        Err(e) => e,
    };
    assert_eq!(
        err.to_string(),
        "mongodb has no container; start it with: dtaas-services service start -s mongodb"
    );
    drop(f.guard);
}
