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

/// A backup holding `archive` (crafted) as grafana's, under a valid checksum.
fn crafted_backup(
    build: impl FnOnce(&mut tar::Builder<flate2::write::GzEncoder<std::fs::File>>),
) -> tempfile::TempDir {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("grafana.tar.gz");
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&out).unwrap(),
        flate2::Compression::default(),
    );
    let mut tar = tar::Builder::new(gz);
    build(&mut tar);
    tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
    crate::Manifest {
        format: crate::FORMAT,
        created: "2025-01-01T00:00:00Z".into(),
        project: "proj".into(),
        tool_version: "0.1.0".into(),
        services: vec![ServiceBackup {
            service: "grafana".into(),
            kind: BackupKind::Archive,
            image: "img:1".into(),
            paths: vec!["data/grafana".into()],
            file: "grafana.tar.gz".into(),
            size: std::fs::metadata(&out).unwrap().len(),
            sha256: crate::sha256_file(&out).unwrap(),
            unpacked_size: None,
            entries: None,
            left_out: Vec::new(),
        }],
    }
    .write(dir.path())
    .unwrap();
    dir
}

fn link_header(kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(0o777);
    h.set_size(0);
    h
}

/// Finding 1 of the root-safety review: an archive entry `data/grafana` that is a symlink
/// to a host directory, or a hard link to the settings, is refused before any service is
/// stopped; the host directory and the settings are untouched.
#[tokio::test]
async fn an_archive_with_a_link_is_refused_before_anything_is_touched() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    let (e, files) = running(root).await;
    std::fs::create_dir_all(root.join("config")).unwrap();
    std::fs::write(
        root.join("config/services.env"),
        b"GRAFANA_ADMIN_PASSWORD=s3cret\n",
    )
    .unwrap();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("sentinel"), b"host file").unwrap();
    let symlinked = crafted_backup(|tar| {
        let mut h = link_header(tar::EntryType::Symlink);
        tar.append_link(&mut h, "data/grafana", host.path())
            .unwrap();
    });
    let hard_linked = crafted_backup(|tar| {
        let mut h = link_header(tar::EntryType::Directory);
        tar.append_data(&mut h, "data/grafana", &b""[..]).unwrap();
        let mut h = link_header(tar::EntryType::Link);
        tar.append_link(&mut h, "data/grafana/services.env", "config/services.env")
            .unwrap();
    });
    let ds = DataSafety::new(&e, &files, &BTreeMap::new()).unwrap();
    for (b, what) in [
        (&symlinked, "data/grafana is a symbolic link"),
        (&hard_linked, "data/grafana/services.env is a hard link"),
    ] {
        e.clear_events();
        let err = ds
            .restore(b.path(), &Selection::All, &RestoreOptions::default())
            .await
            .unwrap_err();
        assert!(err.to_string().contains(what), "{err}");
        assert_eq!(e.events(), Vec::new(), "something was stopped");
        assert_eq!(state_of(&e, "grafana").await, ContainerState::Running);
        let grafana = std::fs::symlink_metadata(root.join("data/grafana")).unwrap();
        assert!(grafana.is_dir() && !grafana.file_type().is_symlink());
        assert_eq!(
            std::fs::read(root.join("data/grafana/f")).unwrap(),
            b"backed up"
        );
        assert!(!root.join("data/grafana/services.env").exists());
        assert_eq!(names_in(host.path()), ["sentinel"]);
        assert_eq!(
            std::fs::read(root.join("config/services.env")).unwrap(),
            b"GRAFANA_ADMIN_PASSWORD=s3cret\n"
        );
    }
}

/// A dump is replayed by one psql per database, each with `ON_ERROR_STOP=1` (the fake
/// engine records the commands), and the check let it through first.
#[tokio::test]
async fn a_dump_is_replayed_by_one_psql_per_database_stopping_at_the_first_error() {
    use std::io::Write as _;
    let d = tempfile::tempdir().unwrap();
    let (e, files) = running(d.path()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("postgres.sql.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&out).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(b"\\restrict k\nCREATE ROLE u;\n\\unrestrict k\n\\connect template1\nSELECT 1;\n\\connect e2edb\nSELECT 2;\n")
        .unwrap();
    gz.finish().unwrap();
    crate::Manifest {
        format: crate::FORMAT,
        created: "2025-01-01T00:00:00Z".into(),
        project: "proj".into(),
        tool_version: "0.1.0".into(),
        services: vec![ServiceBackup {
            service: "postgres".into(),
            kind: BackupKind::PgDumpall,
            image: "img:1".into(),
            paths: Vec::new(),
            file: "postgres.sql.gz".into(),
            size: std::fs::metadata(&out).unwrap().len(),
            sha256: crate::sha256_file(&out).unwrap(),
            unpacked_size: None,
            entries: None,
            left_out: Vec::new(),
        }],
    }
    .write(dir.path())
    .unwrap();
    let ds = DataSafety::new(&e, &files, &BTreeMap::new()).unwrap();
    // ThingsBoard runs on this database: the guard refuses a restore of PostgreSQL alone.
    ds.lifecycle()
        .stop(&Selection::Only(vec![Service::ThingsBoard]), None)
        .await
        .unwrap();
    e.clear_events();
    let r = ds
        .restore(
            dir.path(),
            &Selection::Only(vec![Service::Postgres]),
            &RestoreOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(r.restored, ["postgres"]);
    let psql: Vec<Vec<String>> = e
        .events()
        .into_iter()
        .filter_map(|ev| match ev {
            docker::FakeEvent::Exec(c, cmd) if c == "postgres" => Some(cmd),
            _ => None,
        })
        .collect();
    let expected: Vec<String> = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"]
        .map(str::to_owned)
        .to_vec();
    assert_eq!(psql, vec![expected; 3]);
}
