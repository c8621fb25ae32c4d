//! Live tests against a real PostgreSQL (env DTAAS_TEST_PG_URL, an admin login; .ci/run
//! creates it). Without it they fail in CI and skip (saying why) elsewhere.

use secrecy::SecretString;
use services_common::{Outcome, PasswordState, Provisioner, Removal, UserSpec};
use services_postgres::{PostgresProvisioner, SYSTEM_DATABASES, target_from_settings};
use store::pg_admin::{PgAdmin, PgTarget, check_login};

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

/// The live admin target, and the database its URL names (the admin's own database).
fn admin_target() -> Option<(PgTarget, String)> {
    let url = std::env::var("DTAAS_TEST_PG_URL").ok()?;
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    let target = PgTarget::from_url(&SecretString::from(url.clone())).unwrap();
    Some((target, db.to_owned()))
}

#[tokio::test]
async fn a_database_owned_by_someone_else_survives_remove() {
    let Some(p) = provisioner() else { return };
    let Some((target, _)) = admin_target() else {
        return;
    };
    let admin = PgAdmin::connect(&target).await.unwrap();
    let owner = test_support::unique_name("pgo");
    let name = test_support::unique_name("pgv");
    let pw = SecretString::from("other-Pa55word");
    admin.ensure_role(&owner, &pw).await.unwrap();
    admin.ensure_role(&name, &pw).await.unwrap();
    admin.ensure_database(&name, &owner).await.unwrap();

    let e = p.remove_user(&name, false).await.unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("belongs to role {owner:?}")) && msg.contains("not dropped"),
        "{msg}"
    );
    assert_eq!(
        admin.database_owner(&name).await.unwrap().as_deref(),
        Some(owner.as_str()),
        "the other user's database is still there, still theirs"
    );
    assert!(
        admin.role_exists(&name).await.unwrap(),
        "a refusal removes nothing"
    );

    // Nor is it given to the user of that name by `user add`.
    let e = p
        .ensure_user(&user(&name, "other-Pa55word", PasswordState::Unknown))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("is not given to user"), "{e}");
    assert_eq!(
        admin.database_owner(&name).await.unwrap().as_deref(),
        Some(owner.as_str())
    );

    // --keep-data removes only the login, and leaves the database alone (not taken over).
    assert_eq!(p.remove_user(&name, true).await.unwrap(), Removal::Removed);
    assert!(!admin.role_exists(&name).await.unwrap());
    assert_eq!(
        admin.database_owner(&name).await.unwrap().as_deref(),
        Some(owner.as_str())
    );

    assert!(admin.drop_database(&name).await.unwrap());
    assert!(admin.drop_role(&owner).await.unwrap());
}

#[tokio::test]
async fn the_admin_the_application_database_and_system_databases_are_refused() {
    let Some((target, admin_db)) = admin_target() else {
        let _ = provisioner();
        return;
    };
    let admin = PgAdmin::connect(&target).await.unwrap();
    let app = test_support::unique_name("pgapp");
    let pw = SecretString::from("app-Pa55word");
    // An application database owned by a role of the same name: the worst case.
    admin.ensure_role(&app, &pw).await.unwrap();
    admin.ensure_database(&app, &app).await.unwrap();
    let p = PostgresProvisioner::new(target.clone()).protect_database(&app);

    let e = p.remove_user(&app, false).await.unwrap_err();
    insta::assert_snapshot!(
        e.to_string().replace(&app, "APP"),
        @r#"PostgreSQL: "APP" is the application database (POSTGRES_DB); it is never managed as a user (refused)"#
    );
    assert!(p.remove_user(&app, true).await.is_err());
    assert!(
        p.ensure_user(&user(&app, "x-Pa55word", PasswordState::Unknown))
            .await
            .is_err()
    );
    assert_eq!(
        admin.database_owner(&app).await.unwrap().as_deref(),
        Some(app.as_str())
    );
    assert!(admin.role_exists(&app).await.unwrap());

    let admin_user = target.user().to_owned();
    let e = p.remove_user(&admin_user, false).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("is the PostgreSQL admin (POSTGRES_USER)"),
        "{e}"
    );
    assert!(
        p.ensure_user(&user(&admin_user, "x-Pa55word", PasswordState::Changed))
            .await
            .is_err()
    );
    check_login(&target)
        .await
        .expect("the admin login is untouched");
    assert!(admin.database_exists(&admin_db).await.unwrap());

    for system in SYSTEM_DATABASES {
        let e = p.remove_user(system, false).await.unwrap_err();
        assert!(
            e.to_string().contains("is a PostgreSQL system database"),
            "{e}"
        );
        assert!(admin.database_exists(system).await.unwrap(), "{system}");
    }

    assert!(admin.drop_database(&app).await.unwrap());
    assert!(admin.drop_role(&app).await.unwrap());
}

/// Settings of a project in `dir` whose PostgreSQL is the live test server, plus `extra`.
/// `None` only when `DTAAS_TEST_PG_URL` is unset; a URL that is set but not of the form
/// `postgres://user:password@host[:port]/db` fails the test.
fn live_settings(dir: &std::path::Path, extra: &str) -> Option<config::Settings> {
    let url = std::env::var("DTAAS_TEST_PG_URL").ok()?;
    fn bad<T>() -> T {
        panic!("DTAAS_TEST_PG_URL is not postgres://user:password@host[:port]/db")
    }
    let rest = url.split_once("://").unwrap_or_else(bad).1;
    let (login, at) = rest.rsplit_once('@').unwrap_or_else(bad);
    let (user, pw) = login.split_once(':').unwrap_or_else(bad);
    let hostport = at.split('/').next().unwrap_or_else(bad);
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "5432"));
    let text = format!(
        "HOSTNAME={host}\nPOSTGRES_PORT={port}\nPOSTGRES_USER={user}\nPOSTGRES_PASSWORD={pw}\n{extra}"
    );
    let doc = config::EnvFile::parse(&dir.join("config/services.env"), &text).unwrap();
    Some(config::resolve(dir, &doc, &[], &[]).unwrap().0)
}

#[tokio::test]
async fn ssl_verify_decides_whether_the_certificate_is_checked() {
    // The live server offers TLS with a certificate no project CA vouches for.
    let dir = tempfile::tempdir().unwrap();
    let Some(on) = live_settings(dir.path(), "") else {
        let _ = provisioner();
        return;
    };
    let e = check_login(&target_from_settings(&on).unwrap())
        .await
        .expect_err("SSL_VERIFY on: verify-full refuses an unknown certificate");
    assert!(e.to_string().contains("certificate"), "{e}");
    let off = live_settings(dir.path(), "SSL_VERIFY=false\n").unwrap();
    check_login(&target_from_settings(&off).unwrap())
        .await
        .expect("SSL_VERIFY off: prefer accepts any certificate");
}
