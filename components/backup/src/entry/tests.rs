use std::path::PathBuf;

use super::{keeps_new_image, record_image, revert_image};

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir(name: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("backup-entry-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Dir(d)
}

#[test]
fn the_recorded_image_is_put_back_exactly() {
    let d = dir("record");
    let path = d.0.join("services.env");
    let text = "# images\nRABBITMQ_IMAGE=rabbitmq:4.2.2-management\nOTHER=1\n";
    std::fs::write(&path, text).unwrap();
    let previous = record_image(&path, "RABBITMQ_IMAGE", "rabbitmq:4.3").unwrap();
    assert_eq!(previous, Some(Some("rabbitmq:4.2.2-management".to_owned())));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "# images\nRABBITMQ_IMAGE=rabbitmq:4.3\nOTHER=1\n"
    );
    assert_eq!(
        record_image(&path, "RABBITMQ_IMAGE", "rabbitmq:4.3").unwrap(),
        None,
        "already recorded: nothing to put back"
    );
    revert_image(&path, "RABBITMQ_IMAGE", Some("rabbitmq:4.2.2-management")).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

    let previous = record_image(&path, "GRAFANA_IMAGE", "grafana:12").unwrap();
    assert_eq!(previous, Some(None));
    revert_image(&path, "GRAFANA_IMAGE", None).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn only_a_failed_rollback_keeps_the_new_image_recorded() {
    let rolled_back = crate::BackupError::UpgradeRolledBack {
        service: "postgres".into(),
        image: "postgres:17".into(),
        reason: "exited".into(),
        previous: "postgres:16".into(),
        backup: PathBuf::from("backups/x"),
        thingsboard_restarted: true,
    };
    assert!(!keeps_new_image(&rolled_back));
    let unavailable = crate::BackupError::ImageUnavailable {
        image: "postgres:17".into(),
        reason: "no registry".into(),
    };
    assert!(!keeps_new_image(&unavailable));
    let failed = crate::BackupError::RollbackFailed {
        action: "upgrade",
        service: "postgres".into(),
        reason: "exited".into(),
        rollback: "disk full".into(),
        saved: PathBuf::from("backups/x"),
    };
    let thingsboard_left_stopped = |source| crate::BackupError::Partial {
        restored: Vec::new(),
        leftovers: Vec::new(),
        left_stopped: vec!["thingsboard-ce".into()],
        source: Box::new(source),
    };
    assert!(!keeps_new_image(&thingsboard_left_stopped(rolled_back)));
    assert!(keeps_new_image(&thingsboard_left_stopped(failed)));
}

/// Upgrades `postgres` to `img:2` on the fixture project, marking in a fresh state DB when
/// `mark`; returns the recorded intents afterwards.
async fn upgrade_postgres(mark: bool) -> std::collections::BTreeMap<String, store::ServiceIntent> {
    let d = tempfile::tempdir().unwrap();
    let (e, files) = crate::fixtures::running(d.path()).await;
    e.allow_pull("img:2");
    let db = store::test_support::TestDb::sqlite();
    let store = store::Store::open(&db.location()).await.unwrap();
    let mut ds = crate::DataSafety::new(&e, &files, &std::collections::BTreeMap::new()).unwrap();
    if mark {
        ds = ds.marking(&store);
    }
    let opts = crate::UpgradeOptions {
        image: Some("img:2".to_owned()),
        timeout: std::time::Duration::from_secs(1),
        ..crate::UpgradeOptions::default()
    };
    ds.upgrade(catalog::Service::Postgres, &opts).await.unwrap();
    store.intents().await.unwrap()
}

#[tokio::test]
async fn a_marking_upgrade_records_running_and_clears_its_maintenance_marker() {
    let intents = upgrade_postgres(true).await;
    let pg = &intents["postgres"];
    assert_eq!(pg.desired, Some(lifecycle::Desired::Running));
    assert_eq!(pg.command, "service upgrade");
    assert!(pg.maintenance.is_none(), "{:?}", pg.maintenance);
    assert!(upgrade_postgres(false).await.is_empty());
}
