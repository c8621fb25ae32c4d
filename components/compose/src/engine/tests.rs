//! Unit tests of the engine: `up`/`stop`/`run` on the fake engine, with the projects of
//! the loader's tests.

use std::path::Path;
use std::time::Duration;

use docker::{ContainerState, DockerError, FakeEngine, FakeEvent, Health};

use crate::load::tests::{MAIN, TB, load, write};
use crate::*;

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
