//! `pg_admin` on the real PostgreSQL of `DTAAS_TEST_PG_URL`: role passwords reach the server
//! only as SCRAM-SHA-256 verifiers, and the logins work.

use secrecy::SecretString;
use store::pg_admin::{PgAdmin, check_login};
use store::test_support::TestDb;

#[tokio::test]
async fn role_passwords_are_stored_as_scram_verifiers_and_log_in() {
    let Some(db) = TestDb::postgres("pg_admin_scram").await else {
        return;
    };
    // Were the clear password sent, the server would store it MD5-hashed in these sessions.
    let target = db
        .pg_target()
        .expect("postgres")
        .setting("password_encryption", "md5");
    let admin = PgAdmin::connect(&target).await.expect("admin login");
    let role = format!("scram_{}", std::process::id());
    let first = SecretString::from("first 'Pa55' \\ word".to_owned());
    let second = SecretString::from("second-Pa55".to_owned());
    let stored_as_scram = format!(
        "SELECT COUNT(*) FROM pg_authid WHERE rolname = '{role}' \
         AND rolpassword LIKE 'SCRAM-SHA-256$4096:%' AND rolpassword NOT LIKE '%Pa55%'"
    );

    assert!(admin.ensure_role(&role, &first).await.expect("create role"));
    assert_eq!(db.count(&stored_as_scram).await, 1);
    check_login(&target.with_login(&role, &first))
        .await
        .expect("login with the first password");

    admin
        .alter_password(&role, &second)
        .await
        .expect("alter password");
    assert_eq!(db.count(&stored_as_scram).await, 1);
    check_login(&target.with_login(&role, &second))
        .await
        .expect("login with the new password");
    let old = check_login(&target.with_login(&role, &first)).await;
    assert!(old.is_err(), "the old password must be refused");

    let nul = admin
        .alter_password(&role, &SecretString::from("a\0b".to_owned()))
        .await
        .expect_err("NUL refused");
    assert!(nul.to_string().contains("NUL"), "{nul}");

    assert!(admin.drop_role(&role).await.expect("drop role"));
    admin.close().await;
    db.cleanup().await;
}
