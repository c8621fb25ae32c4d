use std::collections::BTreeMap;

use docker::ContainerState;

use super::*;
use crate::fixtures::{at, last_at, running, state_of};

#[tokio::test]
async fn archiving_a_running_postgres_stops_thingsboard_first_and_starts_it_again() {
    use docker::FakeEvent::{Start, Stop};
    let d = tempfile::tempdir().unwrap();
    let (e, files) = running(d.path()).await;
    e.clear_events();
    let ds = DataSafety::new(&e, &files, &BTreeMap::new()).unwrap();
    let r = ds
        .backup(
            &Selection::Only(vec![Service::Postgres]),
            &BackupOptions {
                postgres_dump: false,
                ..BackupOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.manifest.services[0].kind, BackupKind::Archive);
    assert_eq!(r.restarted, ["thingsboard-ce"]);
    let tb = || "thingsboard".to_owned();
    let pg = || "postgres".to_owned();
    assert!(
        at(&e, &Stop(tb())) < at(&e, &Stop(pg())),
        "{:?}",
        e.events()
    );
    assert!(
        last_at(&e, &Start(pg())) < last_at(&e, &Start(tb())),
        "{:?}",
        e.events()
    );
    assert_eq!(state_of(&e, "postgres").await, ContainerState::Running);
    assert_eq!(state_of(&e, "thingsboard").await, ContainerState::Running);
}

#[tokio::test]
async fn every_backup_file_is_0600_in_a_0700_directory() {
    use std::os::unix::fs::PermissionsExt as _;
    let d = tempfile::tempdir().unwrap();
    let (e, files) = running(d.path()).await;
    let ds = DataSafety::new(&e, &files, &BTreeMap::new()).unwrap();
    // A umask that would leave new files world-readable.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let r = ds
        .backup(
            &Selection::Only(vec![Service::RabbitMq, Service::Grafana]),
            &BackupOptions::default(),
        )
        .await;
    nix::sys::stat::umask(old);
    let r = r.unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&r.dir), 0o700);
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&r.dir).unwrap() {
        let p = entry.unwrap().path();
        assert_eq!(mode(&p), 0o600, "{}", p.display());
        seen.push(p.file_name().unwrap().to_string_lossy().into_owned());
    }
    seen.sort();
    assert_eq!(seen, ["grafana.tar.gz", "manifest.json", "rabbitmq.tar.gz"]);
}

#[test]
fn a_dump_file_is_0600() {
    use std::os::unix::fs::PermissionsExt as _;
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("postgres.sql.gz");
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let gz = archive::GzipFile::create(&p);
    nix::sys::stat::umask(old);
    gz.unwrap().finish().unwrap();
    assert_eq!(
        std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

/// A data dir as GitLab's holds them (docs/data-safety.md, "What an archive holds"): the
/// socket and FIFO are left out and listed in the manifest, the relative link inside comes
/// back as a link, the link leading out is left out and listed.
#[tokio::test]
async fn a_data_dir_with_sockets_fifos_and_links_backs_up_and_restores() {
    use std::os::unix::fs::symlink;
    let d = tempfile::tempdir().unwrap();
    let (e, files) = running(d.path()).await;
    let data = d.path().join("data/rabbitmq");
    std::fs::create_dir_all(data.join("sockets")).unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(data.join("sockets/socket")).unwrap();
    nix::unistd::mkfifo(
        &data.join("queue.fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    symlink("f", data.join("current")).unwrap();
    symlink("/etc", data.join("etc")).unwrap();
    let ds = DataSafety::new(&e, &files, &BTreeMap::new()).unwrap();
    let r = ds
        .backup(
            &Selection::Only(vec![Service::RabbitMq]),
            &BackupOptions::default(),
        )
        .await
        .unwrap();
    let left: Vec<&str> = r.manifest.services[0]
        .left_out
        .iter()
        .map(|l| l.path.as_str())
        .collect();
    assert_eq!(
        left,
        [
            "data/rabbitmq/etc",
            "data/rabbitmq/queue.fifo",
            "data/rabbitmq/sockets/socket"
        ]
    );
    let on_disk: crate::Manifest =
        serde_json::from_slice(&std::fs::read(r.dir.join(crate::MANIFEST_FILE)).unwrap()).unwrap();
    assert_eq!(
        on_disk.services[0].left_out,
        r.manifest.services[0].left_out
    );

    std::fs::write(data.join("f"), b"changed since").unwrap();
    std::fs::remove_file(data.join("current")).unwrap();
    ds.restore(
        &r.dir,
        &Selection::Only(vec![Service::RabbitMq]),
        &crate::RestoreOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(std::fs::read(data.join("f")).unwrap(), b"backed up");
    assert_eq!(
        std::fs::read_link(data.join("current")).unwrap(),
        Path::new("f")
    );
    for gone in ["sockets/socket", "queue.fifo", "etc"] {
        assert!(
            std::fs::symlink_metadata(data.join(gone)).is_err(),
            "{gone}"
        );
    }
    assert!(data.join("sockets").is_dir());
}

#[tokio::test]
async fn a_linked_backups_dir_is_refused_and_its_target_never_chmod_ed() {
    let d = tempfile::tempdir().unwrap();
    let (e, files) = running(d.path()).await;
    let sentinel = test_support::Sentinel::plant();
    std::os::unix::fs::symlink(sentinel.path(), d.path().join("backups")).unwrap();
    let ds = DataSafety::new(&e, &files, &BTreeMap::new()).unwrap();
    let err = ds
        .backup(
            &Selection::Only(vec![Service::Grafana]),
            &BackupOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("backups is a symbolic link"),
        "{err}"
    );
    sentinel.assert_unchanged("service backup through a linked backups/");
}
