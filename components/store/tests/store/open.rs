use std::os::unix::fs::PermissionsExt;

use secrecy::SecretString;
use store::{BackendKind, JournalEntry, Outcome, Store, StoreError, StoreLocation};

use store::both_backends;
use store::test_support::TestDb;

async fn migrates_on_open(db: &TestDb) {
    let loc = db.location();
    let before = Store::status(&loc).await.expect("status before");
    assert!(!before.known.is_empty());
    if let Some(path) = db.sqlite_path() {
        assert!(!before.exists, "status must not create the file");
        assert!(!path.exists(), "status created {}", path.display());
    }
    assert_eq!(before.pending, before.known);

    let store = Store::open(&loc).await.expect("open");
    let status = Store::status(&loc).await.expect("status after");
    assert!(status.exists);
    assert_eq!(status.applied, status.known);
    assert!(status.pending.is_empty() && status.unknown_applied.is_empty());
    // Migrating again applies nothing, and a second open succeeds.
    assert_eq!(
        store.migrate().await.expect("migrate again"),
        Vec::<i64>::new()
    );
    store.close().await;
    let again = Store::open(&loc).await.expect("reopen");
    again.close().await;

    if let Some(path) = db.sqlite_path() {
        assert_eq!(store.kind(), BackendKind::Sqlite);
        let file_mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(file_mode, 0o600, "state.db mode");
        assert_eq!(dir_mode, 0o700, ".dtaas mode");
    } else {
        assert_eq!(store.kind(), BackendKind::Postgres);
    }
}
both_backends!(migrate_on_open, super::migrates_on_open);

async fn refuses_a_newer_schema(db: &TestDb) {
    let loc = db.location();
    let store = Store::open(&loc).await.expect("open");
    store
        .record(&JournalEntry::new("service install", Outcome::Ok))
        .await
        .unwrap();
    store.close().await;
    db.raw(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', TRUE, X'00', 1)"
            .replace(
                "X'00'",
                if db.sqlite_path().is_some() {
                    "X'00'"
                } else {
                    "'\\x00'::bytea"
                },
            )
            .as_str(),
    )
    .await;

    let err = Store::open(&loc)
        .await
        .expect_err("a newer schema must be refused");
    match &err {
        StoreError::SchemaTooNew {
            db_version,
            binary_version,
            ..
        } => {
            assert_eq!(*db_version, 9999);
            // The newest migration this binary embeds (not a fixed number: it grows).
            let known = Store::status(&loc).await.unwrap().known;
            assert_eq!(Some(*binary_version), known.last().copied());
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("schema version 9999") && msg.contains("upgrade dtaas-services"),
        "{msg}"
    );
    let status = Store::status(&loc).await.expect("status still works");
    assert_eq!(status.unknown_applied, vec![9999]);
    // Nothing was downgraded or dropped: the journal row survives.
    assert_eq!(
        db.count("SELECT COUNT(*) FROM journal WHERE command = 'service install'")
            .await,
        1
    );
    let known = i64::try_from(Store::status(&loc).await.unwrap().known.len()).unwrap();
    assert_eq!(
        db.count("SELECT COUNT(*) FROM _sqlx_migrations").await,
        known + 1
    );
}
both_backends!(schema_too_new, super::refuses_a_newer_schema);

#[tokio::test]
async fn a_garbage_file_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();

    let err = Store::open(&StoreLocation::Sqlite(path.clone()))
        .await
        .expect_err("garbage");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()) && msg.contains("left untouched"),
        "{msg}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        garbage,
        "the file was modified"
    );
}

#[tokio::test]
async fn a_damaged_page_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let loc = StoreLocation::Sqlite(path.clone());
    let store = Store::open(&loc).await.unwrap();
    for i in 0..200 {
        store
            .record(&JournalEntry::new(format!("command {i}"), Outcome::Ok).detail("x".repeat(200)))
            .await
            .unwrap();
    }
    store.close().await;
    assert!(
        !dir.path().join("state.db-wal").exists()
            || std::fs::metadata(dir.path().join("state.db-wal"))
                .unwrap()
                .len()
                == 0
    );
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 4 * 4096, "db too small: {}", bytes.len());
    // Scribble over the b-tree headers of pages 2..5 (the file header on page 1 stays valid).
    for page in 1..5 {
        for b in &mut bytes[page * 4096..page * 4096 + 64] {
            *b = 0xA5;
        }
    }
    std::fs::write(&path, &bytes).unwrap();

    let err = Store::open(&loc).await.expect_err("damaged");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "the file was modified"
    );
}

#[tokio::test]
async fn an_unreachable_postgres_is_a_clear_error_without_the_password() {
    let loc = StoreLocation::Postgres(SecretString::from(
        "postgres://dtaas:hunter2-secret@127.0.0.1:1/state",
    ));
    let err = Store::open(&loc).await.expect_err("port 1 is closed");
    assert!(matches!(err, StoreError::Unreachable { .. }), "{err:?}");
    let (msg, dbg) = (err.to_string(), format!("{err:?}"));
    assert!(
        msg.starts_with(
            "cannot connect to the state database postgres://dtaas:***@127.0.0.1:1/state"
        ),
        "{msg}"
    );
    assert!(
        !msg.contains("hunter2") && !dbg.contains("hunter2"),
        "{msg} / {dbg}"
    );
}

#[tokio::test]
async fn an_unreachable_url_with_a_query_password_shows_none_of_it() {
    // Issue 15 finding 8: an `@` inside a query password moved the hand-written parser's
    // userinfo end, and the error showed `...Tail`.
    let loc = StoreLocation::Postgres(SecretString::from(
        "postgres://127.0.0.1:1/db?user=u&password=Secret@Tail",
    ));
    let err = Store::open(&loc).await.expect_err("port 1 is closed");
    let (msg, dbg) = (err.to_string(), format!("{err:?}"));
    assert!(
        msg.starts_with(
            "cannot connect to the state database postgres://127.0.0.1:1/db?user=u&password=***"
        ),
        "{msg}"
    );
    for part in ["Secret", "Tail"] {
        assert!(!msg.contains(part) && !dbg.contains(part), "{msg} / {dbg}");
    }
}

#[tokio::test]
async fn an_invalid_url_is_a_configuration_error() {
    let loc = StoreLocation::Postgres(SecretString::from(
        "postgres://u:pw-secret@host:notaport/db",
    ));
    let err = Store::open(&loc).await.expect_err("bad port");
    assert!(matches!(err, StoreError::InvalidUrl { .. }), "{err:?}");
    assert!(!err.to_string().contains("pw-secret"), "{err}");
}

async fn debug_hides_the_url_password(db: &TestDb) {
    let store = Store::open(&db.location()).await.unwrap();
    let dbg = format!("{store:?}");
    assert!(dbg.starts_with("Store { backend: "), "{dbg}");
    assert!(
        !dbg.contains("dtaas_test@") || dbg.contains(":***@"),
        "{dbg}"
    );
    store.close().await;
}
both_backends!(debug_redacts, super::debug_hides_the_url_password);
