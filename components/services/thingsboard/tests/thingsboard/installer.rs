//! The one-off installer on the real engine with the busybox stand-in image: success,
//! non-zero exit, and timeout (only the one-off container is killed, and it is removed).

use std::collections::BTreeMap;
use std::time::Duration;

use compose::{Compose, ProjectFiles, UpOptions, load_project};
use docker::{BollardEngine, ContainerState, Engine};
use services_thingsboard::{ThingsBoardError, run_installer};
use test_support::{ProjectGuard, busybox_image, engine_or_skip, unique_name};

struct Fixture {
    _dir: tempfile::TempDir,
    files: ProjectFiles,
    project: String,
    _guard: ProjectGuard,
}

/// A `thingsboard-ce` stand-in: as the installer (INSTALL_TB=true, LOAD_DEMO=false, root)
/// it runs `behaviour`; as the service it sleeps.
fn fixture(behaviour: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let project = unique_name("tbinst");
    let net = format!("{project}-net");
    let guard = ProjectGuard::new(&project, &[&net]);
    let text = format!(
        r#"
networks:
  platform-services:
    name: {net}
services:
  thingsboard-ce:
    image: {image}
    container_name: {project}-thingsboard
    command:
      - sh
      - -c
      - 'if [ "$$INSTALL_TB" = true ] && [ "$$LOAD_DEMO" = false ] && [ "$$(id -u)" = 0 ]; then echo installing; {behaviour}; fi; exec sleep 3600'
    networks: [platform-services]
"#,
        image = busybox_image(),
    );
    let file = dir.path().join("compose.thingsboard.yml");
    std::fs::write(&file, text).unwrap();
    Fixture {
        files: ProjectFiles {
            name: project.clone(),
            working_dir: dir.path().to_owned(),
            files: vec![file],
        },
        _dir: dir,
        project,
        _guard: guard,
    }
}

async fn compose<'e>(e: &'e BollardEngine, f: &Fixture) -> Compose<'e, BollardEngine> {
    let c = Compose::new(e, load_project(&f.files, &BTreeMap::new()).unwrap());
    c.up(
        &["thingsboard-ce".into()],
        &UpOptions {
            wait: true,
            timeout: Some(Duration::from_secs(60)),
            ..UpOptions::default()
        },
    )
    .await
    .unwrap();
    c
}

async fn assert_only_the_service_is_left(e: &BollardEngine, f: &Fixture) {
    let all = e
        .list_containers(&[("com.docker.compose.project", Some(&f.project))])
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "the one-off container was removed");
    let svc = e
        .inspect_container(&format!("{}-thingsboard", f.project))
        .await
        .unwrap();
    assert_eq!(
        svc.state,
        ContainerState::Running,
        "service container untouched"
    );
}

#[tokio::test]
async fn installer_success() {
    let Some(e) = engine_or_skip().await else {
        return;
    };
    let f = fixture("exit 0");
    let c = compose(&e, &f).await;
    let run = run_installer(&c, Duration::from_secs(60)).await.unwrap();
    assert!(
        run.output_tail.contains("installing"),
        "{}",
        run.output_tail
    );
    assert_only_the_service_is_left(&e, &f).await;
}

#[tokio::test]
async fn installer_non_zero_exit() {
    let Some(e) = engine_or_skip().await else {
        return;
    };
    let f = fixture("echo schema failed >&2; exit 3");
    let c = compose(&e, &f).await;
    let err = run_installer(&c, Duration::from_secs(60))
        .await
        .unwrap_err();
    match &err {
        ThingsBoardError::InstallFailed { code, tail, .. } => {
            assert_eq!(*code, 3);
            assert!(tail.contains("schema failed"), "{tail}");
        }
        other => panic!("unexpected {other}"),
    }
    assert_only_the_service_is_left(&e, &f).await;
}

#[tokio::test]
async fn installer_timeout_kills_only_the_one_off() {
    let Some(e) = engine_or_skip().await else {
        return;
    };
    let f = fixture("sleep 600");
    let c = compose(&e, &f).await;
    let err = run_installer(&c, Duration::from_secs(2)).await.unwrap_err();
    assert!(
        matches!(err, ThingsBoardError::InstallTimeout { seconds: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("was not touched"), "{err}");
    assert_only_the_service_is_left(&e, &f).await;
}
