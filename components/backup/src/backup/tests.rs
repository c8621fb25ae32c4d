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
