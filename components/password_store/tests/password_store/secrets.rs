use password_store::{
    GITLAB_ROOT_PAT, GITLAB_SERVER_APP, KeySource, OAuthApp, PasswordStore, PasswordStoreError,
    TB_SYSADMIN_CURRENT_PASSWORD, gitlab_user_pat,
};
use secrecy::{ExposeSecret, SecretString};
use store::test_support::TestDb;
use store::{JournalEntry, NewSecret, Outcome, Store, both_backends};

const KEY_A: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const KEY_B: &str = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const VALUE: &str = "Very-S3cret-Admin-Pa55";

fn key(k: &str) -> KeySource {
    KeySource::Env(SecretString::from(k))
}

async fn open(db: &TestDb, k: &str) -> Result<PasswordStore, PasswordStoreError> {
    let store = Store::open(&db.location()).await.expect("open store");
    PasswordStore::open(store, &key(k)).await
}

async fn round_trip_without_leaking(db: &TestDb) {
    let ps = open(db, KEY_A).await.unwrap();
    assert!(
        ps.get(TB_SYSADMIN_CURRENT_PASSWORD)
            .await
            .unwrap()
            .is_none()
    );
    ps.set(TB_SYSADMIN_CURRENT_PASSWORD, &SecretString::from(VALUE))
        .await
        .unwrap();
    ps.set(
        &gitlab_user_pat("alice"),
        &SecretString::from("glpat-alice-token"),
    )
    .await
    .unwrap();
    ps.set(TB_SYSADMIN_CURRENT_PASSWORD, &SecretString::from(VALUE))
        .await
        .unwrap();
    let got = ps.get(TB_SYSADMIN_CURRENT_PASSWORD).await.unwrap().unwrap();
    assert_eq!(got.expose_secret(), VALUE);

    let names: Vec<String> = ps
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(
        names,
        ["GITLAB_USER_PAT:alice", TB_SYSADMIN_CURRENT_PASSWORD]
    );

    // Never in Debug output of anything we hold.
    let list = ps.list().await.unwrap();
    let row = ps
        .store()
        .get_secret(TB_SYSADMIN_CURRENT_PASSWORD)
        .await
        .unwrap()
        .unwrap();
    for dbg in [
        format!("{ps:?}"),
        format!("{got:?}"),
        format!("{list:?}"),
        format!("{row:?}"),
    ] {
        assert!(!dbg.contains(VALUE) && !dbg.contains(KEY_A), "{dbg}");
    }
    // Not stored in clear.
    assert!(
        !row.ciphertext
            .windows(VALUE.len())
            .any(|w| w == VALUE.as_bytes())
    );
    // Not in the journal.
    ps.store()
        .record(&JournalEntry::new("user reset-password", Outcome::Ok).service("thingsboard"))
        .await
        .unwrap();
    let journal = format!("{:?}", ps.store().history(100).await.unwrap());
    assert!(!journal.contains(VALUE), "{journal}");

    // Invalid names are refused, and their error does not echo values.
    let err = ps
        .set("not a name", &SecretString::from(VALUE))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PasswordStoreError::InvalidName { .. }) && !err.to_string().contains(VALUE)
    );
    assert!(ps.remove(&gitlab_user_pat("alice")).await.unwrap());
    assert!(ps.get(&gitlab_user_pat("alice")).await.unwrap().is_none());
}
both_backends!(round_trip, super::round_trip_without_leaking);

async fn a_wrong_key_is_refused_and_changes_nothing(db: &TestDb) {
    let ps = open(db, KEY_A).await.unwrap();
    ps.set(GITLAB_ROOT_PAT, &SecretString::from(VALUE))
        .await
        .unwrap();
    let before = ps.store().get_secret(GITLAB_ROOT_PAT).await.unwrap();

    let err = open(db, KEY_B).await.unwrap_err();
    assert!(
        matches!(err, PasswordStoreError::WrongKey { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert_eq!(
        msg,
        "the store key (key given in the environment) is not the key this state database was \
         encrypted with; nothing was changed: use the original key"
    );
    assert!(!msg.contains(KEY_B) && !format!("{err:?}").contains(KEY_B));

    // The data is untouched and the right key still reads it.
    let again = open(db, KEY_A).await.unwrap();
    assert_eq!(
        again.store().get_secret(GITLAB_ROOT_PAT).await.unwrap(),
        before
    );
    assert_eq!(
        again
            .get(GITLAB_ROOT_PAT)
            .await
            .unwrap()
            .unwrap()
            .expose_secret(),
        VALUE
    );
}
both_backends!(wrong_key, super::a_wrong_key_is_refused_and_changes_nothing);

async fn a_moved_ciphertext_does_not_decrypt(db: &TestDb) {
    let ps = open(db, KEY_A).await.unwrap();
    ps.set(GITLAB_ROOT_PAT, &SecretString::from(VALUE))
        .await
        .unwrap();
    let row = ps
        .store()
        .get_secret(GITLAB_ROOT_PAT)
        .await
        .unwrap()
        .unwrap();
    let moved = NewSecret {
        name: TB_SYSADMIN_CURRENT_PASSWORD.into(),
        ciphertext: row.ciphertext,
        nonce: row.nonce,
    };
    ps.store()
        .put_secret(&moved, std::time::SystemTime::now())
        .await
        .unwrap();
    let err = ps.get(TB_SYSADMIN_CURRENT_PASSWORD).await.unwrap_err();
    assert!(
        matches!(err, PasswordStoreError::Undecryptable { .. }),
        "{err:?}"
    );
}
both_backends!(tamper, super::a_moved_ciphertext_does_not_decrypt);

async fn oauth_apps_and_fingerprints(db: &TestDb) {
    let ps = open(db, KEY_A).await.unwrap();
    let app = OAuthApp {
        application_id: "7".into(),
        name: "dtaas-server".into(),
        client_id: "cid-123".into(),
        client_secret: SecretString::from("gloas-client-secret"),
    };
    assert!(!format!("{app:?}").contains("gloas-client-secret"));
    ps.set_oauth_app(GITLAB_SERVER_APP, &app).await.unwrap();
    let got = ps.get_oauth_app(GITLAB_SERVER_APP).await.unwrap().unwrap();
    assert_eq!(
        (
            got.application_id.as_str(),
            got.name.as_str(),
            got.client_id.as_str()
        ),
        ("7", "dtaas-server", "cid-123")
    );
    assert_eq!(got.client_secret.expose_secret(), "gloas-client-secret");

    let pw = SecretString::from(VALUE);
    let fp = ps.fingerprint("gitlab", "alice", &pw);
    assert!(!fp.contains(VALUE));
    drop(ps);
    let reopened = open(db, KEY_A).await.unwrap();
    assert_eq!(
        reopened.fingerprint("gitlab", "alice", &pw),
        fp,
        "stable across opens"
    );
    assert_ne!(
        reopened.fingerprint("gitlab", "alice", &SecretString::from("changed")),
        fp
    );
}
both_backends!(apps_and_fingerprints, super::oauth_apps_and_fingerprints);

async fn a_missing_key_file_is_not_replaced_by_a_new_key(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(".dtaas/store.key");
    let source = KeySource::File(file.clone());
    let ps = PasswordStore::open(Store::open(&db.location()).await.unwrap(), &source)
        .await
        .unwrap();
    ps.set(GITLAB_ROOT_PAT, &SecretString::from(VALUE))
        .await
        .unwrap();
    let saved = std::fs::read(&file).unwrap();
    std::fs::remove_file(&file).unwrap();

    let err = PasswordStore::open(Store::open(&db.location()).await.unwrap(), &source)
        .await
        .unwrap_err();
    assert!(
        matches!(err, PasswordStoreError::KeyFileMissing { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("is missing"), "{err}");
    assert!(!file.exists(), "no new key was made in its place");

    // Put back, it reads the data again.
    std::fs::write(&file, saved).unwrap();
    let again = PasswordStore::open(Store::open(&db.location()).await.unwrap(), &source)
        .await
        .unwrap();
    assert_eq!(
        again
            .get(GITLAB_ROOT_PAT)
            .await
            .unwrap()
            .unwrap()
            .expose_secret(),
        VALUE
    );
}
both_backends!(
    missing_key_file,
    super::a_missing_key_file_is_not_replaced_by_a_new_key
);
