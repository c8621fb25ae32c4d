//! Live tests against a real PostgreSQL (env DTAAS_TEST_PG_URL, an admin login; .ci/run
//! creates it). Without it they fail in CI and skip (saying why) elsewhere.

use secrecy::SecretString;
use services_common::{Outcome, PasswordState, Provisioner, Removal, UserSpec};
use services_postgres::PostgresProvisioner;
use store::pg_admin::{PgTarget, check_login};

#[allow(clippy::print_stderr)]
fn provisioner() -> Option<PostgresProvisioner> {
    match std::env::var("DTAAS_TEST_PG_URL") {
        Ok(url) => Some(PostgresProvisioner::new(
            PgTarget::from_url(&SecretString::from(url)).expect("DTAAS_TEST_PG_URL"),
        )),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("DTAAS_TEST_PG_URL is not set, and CI is: the live PostgreSQL test cannot run")
        }
        Err(_) => {
            eprintln!("skipped: set DTAAS_TEST_PG_URL=postgres://user:pw@127.0.0.1:5432/db to run");
            None
        }
    }
}

fn user(name: &str, pw: &str, state: PasswordState) -> UserSpec {
    UserSpec {
        name: name.to_owned(),
        password: SecretString::from(pw.to_owned()),
        email: None,
        password_state: state,
    }
}

#[tokio::test]
async fn create_rerun_change_password_list_remove() {
    let Some(p) = provisioner() else { return };
    p.probe().await.expect("probe");
    let name = test_support::unique_name("pgu");
    let first = "first-Pa55'\\\"word";
    let second = "second-Pa55 word";

    let out = p
        .ensure_user(&user(&name, first, PasswordState::Unknown))
        .await
        .unwrap();
    assert_eq!(out, Outcome::Created);
    check_login(&p.login_target(&name, &SecretString::from(first)))
        .await
        .expect("login with the first password into the user's own database");

    let out = p
        .ensure_user(&user(&name, first, PasswordState::Same))
        .await
        .unwrap();
    assert_eq!(out, Outcome::Unchanged);

    let out = p
        .ensure_user(&user(&name, second, PasswordState::Changed))
        .await
        .unwrap();
    assert_eq!(out, Outcome::Updated);
    check_login(&p.login_target(&name, &SecretString::from(second)))
        .await
        .expect("login with the new password");
    let old = check_login(&p.login_target(&name, &SecretString::from(first))).await;
    let e = old.expect_err("the old password must fail");
    assert!(!e.to_string().contains("first-Pa55"), "{e}");

    let users = p.list_users().await.unwrap();
    assert!(users.contains(&name), "{users:?}");

    assert_eq!(p.remove_user(&name, false).await.unwrap(), Removal::Removed);
    assert!(!p.list_users().await.unwrap().contains(&name));
    assert_eq!(p.remove_user(&name, false).await.unwrap(), Removal::Absent);
}

#[tokio::test]
async fn remove_keeping_data_keeps_the_database() {
    let Some(p) = provisioner() else { return };
    let name = test_support::unique_name("pgk");
    let pw = SecretString::from("keep-Pa55word");
    let spec = UserSpec {
        name: name.clone(),
        password: pw.clone(),
        email: None,
        password_state: PasswordState::Unknown,
    };
    assert_eq!(p.ensure_user(&spec).await.unwrap(), Outcome::Created);
    assert_eq!(p.remove_user(&name, true).await.unwrap(), Removal::Removed);
    assert!(
        check_login(&p.login_target(&name, &pw)).await.is_err(),
        "the role is gone"
    );
    // Re-creating the user gives the kept database back to it.
    assert_eq!(p.ensure_user(&spec).await.unwrap(), Outcome::Created);
    check_login(&p.login_target(&name, &pw))
        .await
        .expect("login into the kept database");
    assert_eq!(p.remove_user(&name, false).await.unwrap(), Removal::Removed);
}
