//! Root safety (docs/security.md, "Files and links"): opening the state DB never chmods,
//! creates or writes a file through a link or a hard link; a sentinel tree outside the
//! project keeps every file's content, mode, owner and mtime.

use std::fs;
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::Path;

use store::{Store, StoreError, StoreLocation};
use test_support::Sentinel;

fn project() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir(d.path().join(".dtaas")).unwrap();
    fs::set_permissions(d.path().join(".dtaas"), fs::Permissions::from_mode(0o700)).unwrap();
    d
}

async fn open_err(project: &Path) -> StoreError {
    let loc = StoreLocation::default_for_project(project);
    let err = Store::open(&loc).await.unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err}");
    err
}

fn chain(e: &StoreError) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(x) = src {
        s.push_str(&format!(" | {x}"));
        src = x.source();
    }
    s
}

#[tokio::test]
async fn a_linked_state_db_is_refused_and_its_target_keeps_its_mode() {
    let sentinel = Sentinel::plant();
    let d = project();
    symlink(
        sentinel.path().join("public.pem"),
        d.path().join(".dtaas/state.db"),
    )
    .unwrap();
    let err = open_err(d.path()).await;
    assert!(
        chain(&err).contains("state.db is a symbolic link"),
        "{}",
        chain(&err)
    );
    sentinel.assert_unchanged("opening a linked .dtaas/state.db");
    // `db status` does not open it either.
    assert!(
        Store::status(&StoreLocation::default_for_project(d.path()))
            .await
            .is_err()
    );
    sentinel.assert_unchanged("db status of a linked .dtaas/state.db");
}

#[tokio::test]
async fn a_dangling_lock_link_is_refused_and_its_target_not_created() {
    let sentinel = Sentinel::plant();
    let d = project();
    symlink(
        sentinel.path().join("made-by-open"),
        d.path().join(".dtaas/state.db.lock"),
    )
    .unwrap();
    let err = open_err(d.path()).await;
    assert!(
        chain(&err).contains("state.db.lock is a symbolic link"),
        "{}",
        chain(&err)
    );
    assert!(!sentinel.path().join("made-by-open").exists());
    sentinel.assert_unchanged("opening with a dangling .dtaas/state.db.lock");
}

#[tokio::test]
async fn a_linked_state_dir_a_hard_linked_db_and_a_linked_wal_are_refused() {
    let sentinel = Sentinel::plant();
    let d = tempfile::tempdir().unwrap();
    symlink(sentinel.path(), d.path().join(".dtaas")).unwrap();
    let err = open_err(d.path()).await;
    assert!(
        chain(&err).contains(".dtaas is a symbolic link"),
        "{}",
        chain(&err)
    );
    sentinel.assert_unchanged("opening with .dtaas linked");

    let d = project();
    fs::hard_link(
        sentinel.path().join("public.pem"),
        d.path().join(".dtaas/state.db"),
    )
    .unwrap();
    let err = open_err(d.path()).await;
    assert!(chain(&err).contains("hard links"), "{}", chain(&err));
    sentinel.assert_unchanged("opening a hard-linked .dtaas/state.db");

    let d = project();
    symlink(
        sentinel.path().join("secret.key"),
        d.path().join(".dtaas/state.db-wal"),
    )
    .unwrap();
    let err = open_err(d.path()).await;
    assert!(
        chain(&err).contains("state.db-wal is a symbolic link"),
        "{}",
        chain(&err)
    );
    sentinel.assert_unchanged("opening with a linked .dtaas/state.db-wal");
}
