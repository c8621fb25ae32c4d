//! The pre-start sysadmin password step on the real PostgreSQL of `DTAAS_TEST_PG_URL`, on
//! ThingsBoard's own `tb_user` / `user_credentials` tables (its schema-entities.sql).

use secrecy::SecretString;
use services_thingsboard::secure_default_sysadmin;
use store::pg_admin::thingsboard_sysadmin_hashes;
use store::test_support::TestDb;

const SYSADMIN: &str = "5a797660-4612-11e7-a919-92ebcb67fe33";
const OTHER_SYSADMIN: &str = "5a797660-4612-11e7-a919-92ebcb67fe34";
const TENANT_ADMIN: &str = "5a797660-4612-11e7-a919-92ebcb67fe35";

fn hash(pw: &str) -> String {
    bcrypt::hash_with_result(pw, 4)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoA)
}

#[tokio::test]
async fn the_factory_sysadmin_password_is_replaced_before_the_first_start() {
    let Some(db) = TestDb::postgres("tb_secure_sysadmin").await else {
        return;
    };
    let default = hash("sysadmin");
    let custom = hash("changed-by-hand");
    db.raw(&format!(
        "CREATE TABLE tb_user (id uuid NOT NULL PRIMARY KEY, created_time bigint NOT NULL, \
           additional_info varchar, authority varchar(255), customer_id uuid, \
           email varchar(255) UNIQUE, first_name varchar(255), last_name varchar(255), \
           phone varchar(255), tenant_id uuid);
         CREATE TABLE user_credentials (id uuid NOT NULL PRIMARY KEY, created_time bigint NOT NULL, \
           activate_token varchar(255) UNIQUE, enabled boolean, password varchar(255), \
           reset_token varchar(255) UNIQUE, user_id uuid UNIQUE, additional_info varchar DEFAULT '{{}}');
         INSERT INTO tb_user (id, created_time, authority, email) VALUES
           ('{SYSADMIN}', 0, 'SYS_ADMIN', 'sysadmin@thingsboard.org'),
           ('{OTHER_SYSADMIN}', 0, 'SYS_ADMIN', 'ops@example.org'),
           ('{TENANT_ADMIN}', 0, 'TENANT_ADMIN', 'tenant@thingsboard.org');
         INSERT INTO user_credentials (id, created_time, enabled, password, user_id) VALUES
           (gen_random_uuid(), 0, true, '{default}', '{SYSADMIN}'),
           (gen_random_uuid(), 0, true, '{custom}', '{OTHER_SYSADMIN}'),
           (gen_random_uuid(), 0, true, '{default}', '{TENANT_ADMIN}');"
    ))
    .await;
    let pg = db.pg_target().expect("postgres");
    let fin = SecretString::from("Sys-Final-1".to_owned());

    assert_eq!(secure_default_sysadmin(&pg, &fin).await.unwrap(), 1);
    let hashes = thingsboard_sysadmin_hashes(&pg).await.unwrap();
    assert_eq!(hashes.len(), 2, "{hashes:?}");
    let new = hashes[0].1.as_deref().unwrap();
    assert_eq!(hashes[0].0, SYSADMIN);
    assert!(
        new.starts_with("$2a$10$"),
        "ThingsBoard's own format: {new}"
    );
    assert!(bcrypt::verify("Sys-Final-1", new).unwrap());
    assert!(!bcrypt::verify("sysadmin", new).unwrap());
    assert_eq!(
        hashes[1].1.as_deref(),
        Some(custom.as_str()),
        "a sysadmin without the factory password is left alone"
    );
    let tenant_untouched = format!(
        "SELECT COUNT(*) FROM user_credentials WHERE user_id = '{TENANT_ADMIN}' AND password = '{default}'"
    );
    assert_eq!(db.count(&tenant_untouched).await, 1, "only SYS_ADMIN rows");

    assert_eq!(
        secure_default_sysadmin(&pg, &fin).await.unwrap(),
        0,
        "a second run changes nothing"
    );

    // A password BCrypt cannot hold whole is left to the API step.
    db.raw(&format!(
        "UPDATE user_credentials SET password = '{default}' WHERE user_id = '{SYSADMIN}'"
    ))
    .await;
    let long = SecretString::from("x".repeat(80));
    assert_eq!(secure_default_sysadmin(&pg, &long).await.unwrap(), 0);
    let still_default = format!(
        "SELECT COUNT(*) FROM user_credentials WHERE user_id = '{SYSADMIN}' AND password = '{default}'"
    );
    assert_eq!(db.count(&still_default).await, 1);
    db.cleanup().await;
}
