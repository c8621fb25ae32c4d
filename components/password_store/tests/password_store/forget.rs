//! Deleting a service's data forgets the state held in it, and nothing else.

use std::time::SystemTime;

use catalog::Service;
use password_store::{
    GITLAB_ROOT_PAT, INFLUXDB_OPERATOR_TOKEN, KeySource, PasswordStore,
    TB_SYSADMIN_CURRENT_PASSWORD, forget_data_of, gitlab_user_pat,
};
use secrecy::SecretString;
use store::test_support::TestDb;
use store::{Account, Store, both_backends};

const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn account(service: &str, user: &str) -> Account {
    Account {
        service: service.to_owned(),
        username: user.to_owned(),
        state: "present".to_owned(),
        fingerprint: "fp".to_owned(),
        updated_at: SystemTime::now(),
    }
}

async fn forgets_only_what_the_deleted_data_held(db: &TestDb) {
    let store = Store::open(&db.location()).await.expect("open store");
    let ps = PasswordStore::open(store, &KeySource::Env(SecretString::from(KEY)))
        .await
        .unwrap();
    for name in [
        TB_SYSADMIN_CURRENT_PASSWORD,
        INFLUXDB_OPERATOR_TOKEN,
        GITLAB_ROOT_PAT,
        &gitlab_user_pat("alice"),
    ] {
        ps.set(name, &SecretString::from("value")).await.unwrap();
    }
    for (service, user) in [
        ("postgres", "alice"),
        ("thingsboard-ce", "alice"),
        ("gitlab", "alice"),
        ("rabbitmq", "alice"),
    ] {
        ps.store()
            .upsert_account(&account(service, user))
            .await
            .unwrap();
    }

    // ThingsBoard's data directory holds none of it (its users live in PostgreSQL).
    let none = forget_data_of(ps.store(), &[Service::ThingsBoard])
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");

    let pg = forget_data_of(ps.store(), &[Service::Postgres])
        .await
        .unwrap();
    assert_eq!(pg.secrets, vec![TB_SYSADMIN_CURRENT_PASSWORD.to_owned()]);
    assert_eq!(pg.accounts, 2, "postgres and thingsboard-ce accounts");
    assert!(
        ps.store()
            .account("thingsboard-ce", "alice")
            .await
            .unwrap()
            .is_none()
    );

    let gl = forget_data_of(ps.store(), &[Service::GitLab, Service::GitLab])
        .await
        .unwrap();
    assert_eq!(
        gl.secrets,
        vec![GITLAB_ROOT_PAT.to_owned(), gitlab_user_pat("alice")]
    );
    assert_eq!(gl.accounts, 1);

    // Untouched: another service's secret and accounts.
    assert!(ps.get(INFLUXDB_OPERATOR_TOKEN).await.unwrap().is_some());
    assert!(
        ps.store()
            .account("rabbitmq", "alice")
            .await
            .unwrap()
            .is_some()
    );
}
both_backends!(forget, super::forgets_only_what_the_deleted_data_held);
