use std::collections::BTreeMap;

use docker::ContainerState;

use super::*;
use crate::fixtures::{backup_of, backup_with, generated, names_in, running, state_of};

#[tokio::test]
async fn a_manifest_naming_paths_outside_the_state_of_its_service_is_refused() {
    let (_dir, files, vars) = generated();
    let root = files.working_dir.clone();
    let before = names_in(&root);
    let config_before = names_in(&root.join("config"));
    // A correct checksum, but `config` is not rabbitmq's to replace.
    let b = backup_of(&root, "rabbitmq", &["config"]);
    crate::verify(b.path(), None).unwrap();
    let engine = docker::FakeEngine::new();
    let ds = DataSafety::new(&engine, &files, &vars).unwrap();
    let err = ds
        .restore(
            b.path(),
            &Selection::Only(vec![Service::RabbitMq]),
            &RestoreOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, BackupError::BadManifest { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.ends_with(
            "rabbitmq lists the path \"config\", which is not one of its state paths (data/rabbitmq); nothing was restored"
        ),
        "{msg}"
    );
    assert!(!err.is_usage());
    assert_eq!(engine.events(), Vec::new(), "nothing was stopped");
    assert_eq!(names_in(&root), before, "nothing was set aside");
    assert_eq!(names_in(&root.join("config")), config_before);
}

#[tokio::test]
async fn a_failed_restore_names_the_services_restored_before_it() {
    let d = tempfile::tempdir().unwrap();
    let (e, files) = running(d.path()).await;
    let root = d.path();
    let b = backup_with(root, &["rabbitmq", "grafana"], &["grafana"]);
    std::fs::write(root.join("data/rabbitmq/f"), b"changed since").unwrap();
    let ds = DataSafety::new(&e, &files, &BTreeMap::new()).unwrap();
    let err = ds
        .restore(b.path(), &Selection::All, &RestoreOptions::default())
        .await
        .unwrap_err();
    let BackupError::Partial {
        restored,
        left_stopped,
        source,
        ..
    } = &err
    else {
        panic!("not partial: {err}");
    };
    assert_eq!(restored, &["rabbitmq"]);
    assert!(left_stopped.is_empty());
    assert!(
        matches!(
            **source,
            BackupError::RestoreRolledBack {
                restarted: true,
                ..
            }
        ),
        "{source}"
    );
    assert!(
        err.to_string().ends_with(
            "the previous data was put back and the service restarted; already restored: rabbitmq"
        ),
        "{err}"
    );
    assert!(!err.is_usage());
    assert_eq!(
        std::fs::read(root.join("data/rabbitmq/f")).unwrap(),
        b"backed up"
    );
    assert_eq!(state_of(&e, "grafana").await, ContainerState::Running);
}

#[tokio::test]
async fn thingsboard_stopped_for_its_database_runs_again_after_a_rollback() {
    let d = tempfile::tempdir().unwrap();
    let (e, files) = running(d.path()).await;
    let b = backup_with(d.path(), &["postgres", "thingsboard-ce"], &["postgres"]);
    let ds = DataSafety::new(&e, &files, &BTreeMap::new()).unwrap();
    let err = ds
        .restore(b.path(), &Selection::All, &RestoreOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, BackupError::RestoreRolledBack { ref service, restarted: true, .. } if service == "postgres"),
        "{err}"
    );
    assert_eq!(state_of(&e, "postgres").await, ContainerState::Running);
    assert_eq!(state_of(&e, "thingsboard").await, ContainerState::Running);
}
