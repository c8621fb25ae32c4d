//! Unit tests: loading and interpolation, and `up`/`stop`/`run` on the fake engine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use docker::{ContainerState, DockerError, FakeEngine, FakeEvent, Health, Protocol};

use crate::load::{parse_bytes, parse_duration, parse_port, shell_split};
use crate::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn load(dir: &Path, files: &[PathBuf], vars: &[(&str, &str)]) -> Result<Project, ComposeError> {
    let vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    load_project(
        &ProjectFiles {
            name: "proj".into(),
            working_dir: dir.to_owned(),
            files: files.to_vec(),
        },
        &vars,
    )
}

const MAIN: &str = r#"
networks:
  platform-services:
    name: ${NET:-dtaas-services}
services:
  db:
    image: ${DB_IMAGE:-busy:1}
    container_name: db
    command: sleep "36 00"
    environment:
      PASSWORD: ${PW:?set PW}
      EMPTY:
    ports:
      - "${DB_PORT}:5432"
      - 127.0.0.1::9000
      - "5683-5685:5683-5685/udp"
    volumes:
      - ./data/db:/var/lib/db
      - ./certs:/certs:ro
    networks:
      - platform-services
    restart: always
    shm_size: 256m
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
      retries: 3
      start_period: 1m30s
    x-note: ignored
"#;

const TB: &str = r#"
networks:
  platform-services:
    name: ${NET:-dtaas-services}
services:
  tb:
    image: busy:1
    container_name: tb
    entrypoint: ["/bin/sh", "-c"]
    environment:
      - A=1
      - PW
    user: root
    hostname: h
    logging:
      driver: json-file
      options: { max-size: 100m, max-file: 10 }
    depends_on:
      db:
        condition: service_healthy
    networks:
      - platform-services
    labels:
      x.y: z
"#;

#[test]
fn loads_merges_and_interpolates() {
    let d = tempfile::tempdir().unwrap();
    let files = vec![write(d.path(), "a.yml", MAIN), write(d.path(), "b.yml", TB)];
    let p = load(d.path(), &files, &[("PW", "s3cret"), ("DB_PORT", "15432")]).unwrap();
    assert_eq!(p.service_names(), vec!["db", "tb"]);
    assert_eq!(p.networks["platform-services"].name, "dtaas-services");
    let db = &p.services["db"];
    assert_eq!(db.image, "busy:1");
    assert_eq!(db.command.as_deref().unwrap(), ["sleep", "36 00"]);
    assert_eq!(db.environment["PASSWORD"].as_deref(), Some("s3cret"));
    assert_eq!(db.environment["EMPTY"], None);
    assert_eq!(db.ports.len(), 5);
    assert_eq!(db.ports[0].host_port, Some(15432));
    assert_eq!(db.ports[1].host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(db.ports[1].host_port, None);
    assert_eq!(db.ports[4].protocol, Protocol::Udp);
    assert_eq!(db.ports[4].container_port, 5685);
    assert_eq!(
        db.volumes[1],
        Mount::Bind {
            source: d.path().join("certs"),
            target: "/certs".into(),
            read_only: true
        }
    );
    assert_eq!(db.shm_size, Some(256 << 20));
    let hc = db.healthcheck.as_ref().unwrap();
    assert_eq!(hc.start_period, Some(Duration::from_secs(90)));
    let tb = &p.services["tb"];
    assert_eq!(tb.environment["PW"].as_deref(), Some("s3cret"));
    assert_eq!(tb.depends_on["db"].condition, Condition::ServiceHealthy);
    assert_eq!(tb.logging.as_ref().unwrap().1["max-file"], "10");
    assert_eq!(p.container_name("tb"), "tb");
}

#[test]
fn errors_name_file_and_key() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "a.yml", MAIN);
    let err = load(d.path(), std::slice::from_ref(&f), &[]).unwrap_err();
    let msg = err
        .to_string()
        .replace(&d.path().display().to_string(), "DIR");
    insta::assert_snapshot!(msg, @"DIR/a.yml: `services.db.environment.PASSWORD`: required variable PW is missing a value: set PW");

    let bad = write(
        d.path(),
        "bad.yml",
        "services:\n  x:\n    image: a\n    build: .\n",
    );
    let err = load(d.path(), &[f.clone(), bad], &[("PW", "x")]).unwrap_err();
    assert!(err.is_config_error());
    let msg = err
        .to_string()
        .replace(&d.path().display().to_string(), "DIR");
    insta::assert_snapshot!(msg, @"DIR/bad.yml: unsupported key `services.x.build`");

    let bad = write(d.path(), "top.yml", "configs: {}\n");
    let msg = load(d.path(), &[bad], &[])
        .unwrap_err()
        .to_string()
        .replace(&d.path().display().to_string(), "DIR");
    insta::assert_snapshot!(msg, @"DIR/top.yml: unsupported key `configs`");

    let bad = write(
        d.path(),
        "hc.yml",
        "services:\n  x:\n    image: a\n    healthcheck:\n      test: true\n      start_interval: 1s\n",
    );
    let msg = load(d.path(), &[bad], &[])
        .unwrap_err()
        .to_string()
        .replace(&d.path().display().to_string(), "DIR");
    insta::assert_snapshot!(msg, @"DIR/hc.yml: unsupported key `services.x.healthcheck.start_interval`");
}

#[test]
fn small_parsers() {
    assert_eq!(
        shell_split(r#"a "b c" 'd e' f\ g"#).unwrap(),
        ["a", "b c", "d e", "f g"]
    );
    assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
    assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
    assert_eq!(parse_bytes("1g").unwrap(), 1 << 30);
    assert_eq!(parse_bytes("64kb").unwrap(), 64 << 10);
    let p = parse_port("[::1]:8080:80").unwrap();
    assert_eq!(
        (p[0].host_ip.as_deref(), p[0].host_port, p[0].container_port),
        (Some("::1"), Some(8080), 80)
    );
    assert!(parse_port("1-3:5-6").is_err());
    assert_eq!(
        project_name_from_hostname("Services.INTOCPS_org"),
        "services-intocps-org"
    );
}

fn fixture(dir: &Path) -> Project {
    // The read-only bind source exists, as `host setup` leaves it.
    std::fs::create_dir_all(dir.join("certs")).unwrap();
    let files = vec![write(dir, "a.yml", MAIN), write(dir, "b.yml", TB)];
    load(dir, &files, &[("PW", "pw"), ("DB_PORT", "15432")]).unwrap()
}

#[tokio::test]
async fn up_creates_network_and_starts_in_dependency_order_with_compose_labels() {
    let d = tempfile::tempdir().unwrap();
    let e = FakeEngine::new();
    e.add_image("busy:1");
    let c = Compose::new(&e, fixture(d.path()));
    let r = c.up(&["tb".into()], &UpOptions::default()).await.unwrap();
    let actions: Vec<_> = r
        .services
        .iter()
        .map(|s| (s.service.as_str(), s.action))
        .collect();
    assert_eq!(actions, [("db", Action::Created), ("tb", Action::Created)]);
    assert_eq!(
        e.events(),
        [
            FakeEvent::CreateNetwork("dtaas-services".into()),
            FakeEvent::Create("db".into()),
            FakeEvent::Start("db".into()),
            FakeEvent::Create("tb".into()),
            FakeEvent::Start("tb".into()),
        ]
    );
    let spec = e.spec("tb").unwrap();
    let mut labels = spec.labels.clone();
    labels.insert("com.docker.compose.config-hash".into(), "HASH".into());
    labels.insert("org.dtaas.services.config-hash".into(), "HASH".into());
    labels.insert("com.docker.compose.image".into(), "IMAGE".into());
    let dir = d.path().display().to_string();
    let text = format!("{labels:#?}").replace(&dir, "DIR");
    insta::assert_snapshot!(text, @r#"
    {
        "com.docker.compose.config-hash": "HASH",
        "com.docker.compose.container-number": "1",
        "com.docker.compose.depends_on": "db:service_healthy:false",
        "com.docker.compose.image": "IMAGE",
        "com.docker.compose.oneoff": "False",
        "com.docker.compose.project": "proj",
        "com.docker.compose.project.config_files": "DIR/a.yml,DIR/b.yml",
        "com.docker.compose.project.working_dir": "DIR",
        "com.docker.compose.service": "tb",
        "com.docker.compose.version": "2.40.3",
        "org.dtaas.services.config-hash": "HASH",
        "x.y": "z",
    }
    "#);
    assert_eq!(
        spec.network,
        Some(("dtaas-services".into(), vec!["tb".into()]))
    );
    assert!(spec.env.contains(&"PW=pw".to_owned()));

    // Second up: nothing to do.
    e.clear_events();
    let r = c.up(&[], &UpOptions::default()).await.unwrap();
    assert!(r.services.iter().all(|s| s.action == Action::Unchanged));
    assert!(e.events().is_empty(), "{:?}", e.events());
}

#[tokio::test]
async fn a_missing_read_only_bind_source_is_refused_before_anything_is_created() {
    let d = tempfile::tempdir().unwrap();
    let e = FakeEngine::new();
    e.add_image("busy:1");
    let p = fixture(d.path());
    std::fs::remove_dir(d.path().join("certs")).unwrap();
    let c = Compose::new(&e, p);
    let err = c
        .up(&["tb".into()], &UpOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ComposeError::MissingBindSource { service, source_path }
            if service == "db" && source_path.ends_with("certs")),
        "{err}"
    );
    assert!(err.is_config_error());
    assert!(err.to_string().contains("host setup"), "{err}");
    assert!(e.events().is_empty(), "nothing created: {:?}", e.events());
    assert!(
        !d.path().join("certs").exists(),
        "no directory made in its place"
    );
}

#[tokio::test]
async fn changed_config_recreates_and_stopped_is_started() {
    let d = tempfile::tempdir().unwrap();
    let e = FakeEngine::new();
    e.add_image("busy:1");
    let c = Compose::new(&e, fixture(d.path()));
    c.up(&[], &UpOptions::default()).await.unwrap();
    e.set_state("tb", ContainerState::Exited);
    let files = vec![d.path().join("a.yml"), d.path().join("b.yml")];
    let p2 = load(d.path(), &files, &[("PW", "changed"), ("DB_PORT", "15432")]).unwrap();
    let c2 = Compose::new(&e, p2);
    let r = c2.up(&[], &UpOptions::default()).await.unwrap();
    let actions: Vec<_> = r
        .services
        .iter()
        .map(|s| (s.service.as_str(), s.action))
        .collect();
    assert_eq!(
        actions,
        [("db", Action::Recreated), ("tb", Action::Recreated)]
    );
    e.set_state("db", ContainerState::Exited);
    let r = c2.up(&["db".into()], &UpOptions::default()).await.unwrap();
    assert_eq!(r.services[0].action, Action::Started);
}

#[tokio::test]
async fn unhealthy_dependency_fails_naming_the_container() {
    let d = tempfile::tempdir().unwrap();
    let e = FakeEngine::new();
    e.add_image("busy:1");
    e.set_health_after_start("db", Health::Unhealthy);
    let c = Compose::new(&e, fixture(d.path()));
    let err = c.up(&[], &UpOptions::default()).await.unwrap_err();
    insta::assert_snapshot!(err, @"dependency failed to start: container db is unhealthy");
    assert!(!e.events().contains(&FakeEvent::Create("tb".into())));
}

#[tokio::test]
async fn wait_reports_an_exited_container() {
    let d = tempfile::tempdir().unwrap();
    let e = FakeEngine::new();
    e.add_image("busy:1");
    e.set_exit_on_start("db", 3);
    let c = Compose::new(&e, fixture(d.path()));
    let opts = UpOptions {
        wait: true,
        timeout: Some(Duration::from_secs(5)),
        ..Default::default()
    };
    let err = c.up(&["db".into()], &opts).await.unwrap_err();
    insta::assert_snapshot!(err, @"container db exited with code 3");
}

#[tokio::test]
async fn missing_image_is_pulled_or_reported() {
    let d = tempfile::tempdir().unwrap();
    let e = FakeEngine::new();
    let c = Compose::new(&e, fixture(d.path()));
    let err = c
        .up(&["db".into()], &UpOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err.docker(), Some(DockerError::ImageMissing { image, .. }) if image == "busy:1"),
        "{err}"
    );
    e.allow_pull("busy:1");
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = {
        let events = events.clone();
        ProgressSink::new(move |p| events.lock().unwrap().push(p))
    };
    let opts = UpOptions {
        progress: sink,
        ..UpOptions::default()
    };
    let r = c.up(&["db".into()], &opts).await.unwrap();
    assert_eq!(r.pulled, ["busy:1"]);
    let layer = |status: &str, current| Progress::PullLayer {
        image: "busy:1".into(),
        layer: "fakelayer01".into(),
        status: status.into(),
        current,
        total: current.map(|_| 1024),
    };
    assert_eq!(
        *events.lock().unwrap(),
        [
            Progress::PullStarted {
                image: "busy:1".into()
            },
            layer("Downloading", Some(512)),
            layer("Downloading", Some(1024)),
            layer("Pull complete", None),
            Progress::PullDone {
                image: "busy:1".into()
            },
        ]
    );
}

#[tokio::test]
async fn stop_goes_dependents_first_and_unknown_service_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let e = FakeEngine::new();
    e.add_image("busy:1");
    let c = Compose::new(&e, fixture(d.path()));
    c.up(&[], &UpOptions::default()).await.unwrap();
    e.clear_events();
    let stopped = c.stop(&[], None).await.unwrap();
    assert_eq!(stopped, ["tb", "db"]);
    assert_eq!(
        e.events(),
        [FakeEvent::Stop("tb".into()), FakeEvent::Stop("db".into())]
    );
    let err = c.stop(&["nope".into()], None).await.unwrap_err();
    insta::assert_snapshot!(err, @"no such service: nope");
    let removed = c.rm(&["tb".into()], true, None).await.unwrap();
    assert_eq!(removed, ["tb"]);
    assert_eq!(c.ps().await.unwrap().len(), 1);
}

#[tokio::test]
async fn one_off_run_is_labelled_and_removed() {
    let d = tempfile::tempdir().unwrap();
    let e = FakeEngine::new();
    e.add_image("busy:1");
    e.set_exit_on_start("proj-tb-run-", 0);
    let c = Compose::new(&e, fixture(d.path()));
    let opts = RunOptions {
        env: vec![("INSTALL".into(), "true".into())],
        user: Some("root".into()),
        ..Default::default()
    };
    let out = c.run("tb", &opts).await.unwrap();
    assert!(out.container.starts_with("proj-tb-run-"));
    assert_eq!(out.exit_code, Some(0));
    // The dependency came up; the one-off is gone; only service containers remain.
    let ps = c.ps().await.unwrap();
    assert_eq!(
        ps.iter()
            .map(|c| c.container.name.as_str())
            .collect::<Vec<_>>(),
        ["db"]
    );
}

#[tokio::test]
async fn one_off_run_past_its_timeout_is_killed_not_the_service() {
    let d = tempfile::tempdir().unwrap();
    let e = FakeEngine::new();
    e.add_image("busy:1");
    let c = Compose::new(&e, fixture(d.path()));
    c.up(&[], &UpOptions::default()).await.unwrap();
    let opts = RunOptions {
        timeout: Some(Duration::from_millis(50)),
        ..Default::default()
    };
    let out = c.run("tb", &opts).await.unwrap();
    assert!(out.timed_out);
    assert_eq!(out.exit_code, None);
    let kills: Vec<_> = e
        .events()
        .into_iter()
        .filter(|ev| matches!(ev, FakeEvent::Kill(_)))
        .collect();
    assert_eq!(kills, [FakeEvent::Kill(out.container.clone())]);
    let ps = c.ps().await.unwrap();
    assert!(
        ps.iter()
            .all(|c| c.container.state == ContainerState::Running)
    );
    assert_eq!(ps.len(), 2);
}
