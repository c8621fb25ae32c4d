use std::time::Duration;

use password_store::{TB_SYSADMIN_CURRENT_PASSWORD, TB_TENANT_ADMIN_CURRENT_PASSWORD};
use secrecy::{ExposeSecret, SecretString};
use services_common::{Outcome, PasswordState, Provisioner, Removal, UserSpec};
use services_thingsboard::{EmailChange, PasswordChange, ThingsBoardProvisioner, configure};

use crate::{count, env, env_with, log_from};

async fn stored(e: &crate::Env, key: &str) -> Option<String> {
    e.store
        .get(key)
        .await
        .unwrap()
        .map(|s| s.expose_secret().to_owned())
}

fn quiet(_: &str) {}

#[tokio::test]
async fn fresh_install_sets_final_passwords_with_the_exact_requests() {
    let e = env().await;
    let (pw, tenant, admin) = configure(&e.tb, Duration::from_secs(5), &quiet)
        .await
        .unwrap();
    assert_eq!(pw, PasswordChange::Changed);
    assert_eq!((tenant, admin), (Outcome::Created, Outcome::Created));
    insta::assert_snapshot!(log_from(&e.server, 0).await, @r#"
    GET /api/auth/user
    POST /api/auth/login {"password":"Sys-Final-1","username":"sysadmin@thingsboard.org"}
    POST /api/auth/login {"password":"sysadmin","username":"sysadmin@thingsboard.org"}
    POST /api/auth/changePassword [Bearer jwt-3] {"currentPassword":"sysadmin","newPassword":"Sys-Final-1"}
    POST /api/auth/login {"password":"Sys-Final-1","username":"sysadmin@thingsboard.org"}
    GET /api/tenants?pageSize=100&page=0&textSearch=DTaaS [Bearer jwt-5]
    POST /api/tenant [Bearer jwt-5] {"title":"DTaaS"}
    GET /api/tenant/tenant-7/users?pageSize=100&page=0&textSearch=admin%40dtaas.example [Bearer jwt-5]
    POST /api/user?sendActivationMail=false [Bearer jwt-5] {"authority":"TENANT_ADMIN","email":"admin@dtaas.example","tenantId":{"entityType":"TENANT","id":"tenant-7"}}
    GET /api/user/user-9/activationLink [Bearer jwt-5]
    POST /api/noauth/activate?sendActivationMail=false {"activateToken":"act-user-9","password":"Tenant-Final-1"}
    POST /api/auth/login {"password":"Tenant-Final-1","username":"admin@dtaas.example"}
    "#);
    // No default or public password is left in place, and both are stored.
    assert_eq!(
        e.fake
            .user("sysadmin@thingsboard.org")
            .unwrap()
            .password
            .as_deref(),
        Some("Sys-Final-1")
    );
    assert_eq!(
        e.fake
            .user("admin@dtaas.example")
            .unwrap()
            .password
            .as_deref(),
        Some("Tenant-Final-1")
    );
    assert_eq!(
        stored(&e, TB_SYSADMIN_CURRENT_PASSWORD).await.as_deref(),
        Some("Sys-Final-1")
    );
    assert_eq!(
        stored(&e, TB_TENANT_ADMIN_CURRENT_PASSWORD)
            .await
            .as_deref(),
        Some("Tenant-Final-1")
    );
}

#[tokio::test]
async fn a_second_run_creates_nothing_new() {
    let e = env().await;
    configure(&e.tb, Duration::from_secs(5), &quiet)
        .await
        .unwrap();
    let before = e.fake.counts();
    let n = count(&e.server).await;
    let (pw, tenant, admin) = configure(&e.tb, Duration::from_secs(5), &quiet)
        .await
        .unwrap();
    assert_eq!(pw, PasswordChange::AlreadySet);
    assert_eq!((tenant, admin), (Outcome::Unchanged, Outcome::Unchanged));
    assert_eq!(e.fake.counts(), before);
    insta::assert_snapshot!(log_from(&e.server, n).await, @r#"
    GET /api/auth/user
    POST /api/auth/login {"password":"Sys-Final-1","username":"sysadmin@thingsboard.org"}
    GET /api/tenants?pageSize=100&page=0&textSearch=DTaaS [Bearer jwt-14]
    GET /api/tenant/tenant-7/users?pageSize=100&page=0&textSearch=admin%40dtaas.example [Bearer jwt-14]
    POST /api/auth/login {"password":"Tenant-Final-1","username":"admin@dtaas.example"}
    "#);
}

#[tokio::test]
async fn a_refused_stored_password_falls_back_to_the_final_one() {
    let e = env().await;
    configure(&e.tb, Duration::from_secs(5), &quiet)
        .await
        .unwrap();
    e.store
        .set(
            TB_SYSADMIN_CURRENT_PASSWORD,
            &SecretString::from("stale-one"),
        )
        .await
        .unwrap();
    let n = count(&e.server).await;
    let (_, change) = e.tb.ensure_sysadmin_password().await.unwrap();
    assert_eq!(change, PasswordChange::AlreadySet);
    insta::assert_snapshot!(log_from(&e.server, n).await, @r#"
    POST /api/auth/login {"password":"stale-one","username":"sysadmin@thingsboard.org"}
    POST /api/auth/login {"password":"Sys-Final-1","username":"sysadmin@thingsboard.org"}
    "#);
    assert_eq!(
        stored(&e, TB_SYSADMIN_CURRENT_PASSWORD).await.as_deref(),
        Some("Sys-Final-1")
    );
}

#[tokio::test]
async fn server_errors_are_retried_and_client_errors_are_not() {
    let e = env().await;
    e.fake.fail("POST", "/api/auth/login", 503, 2);
    let (_, change) = e.tb.ensure_sysadmin_password().await.unwrap();
    assert_eq!(change, PasswordChange::Changed);
    // Two 503s then the 401 of the final password (not retried), then the default.
    insta::assert_snapshot!(log_from(&e.server, 0).await, @r#"
    POST /api/auth/login {"password":"Sys-Final-1","username":"sysadmin@thingsboard.org"}
    POST /api/auth/login {"password":"Sys-Final-1","username":"sysadmin@thingsboard.org"}
    POST /api/auth/login {"password":"Sys-Final-1","username":"sysadmin@thingsboard.org"}
    POST /api/auth/login {"password":"sysadmin","username":"sysadmin@thingsboard.org"}
    POST /api/auth/changePassword [Bearer jwt-2] {"currentPassword":"sysadmin","newPassword":"Sys-Final-1"}
    POST /api/auth/login {"password":"Sys-Final-1","username":"sysadmin@thingsboard.org"}
    "#);

    let e = env().await;
    e.fake.fail("POST", "/api/tenant", 400, 1);
    let (sys, _) = e.tb.ensure_sysadmin_password().await.unwrap();
    let err = e.tb.ensure_tenant(&sys).await.unwrap_err();
    insta::assert_snapshot!(err, @"ThingsBoard: creating the tenant failed with HTTP 400: injected failure");
    let log = log_from(&e.server, 0).await;
    assert_eq!(
        log.lines()
            .filter(|l| l.starts_with("POST /api/tenant"))
            .count(),
        1,
        "{log}"
    );
}

#[tokio::test]
async fn a_failure_half_way_keeps_the_store_consistent_and_a_rerun_finishes() {
    let e = env().await;
    // A POST is not retried after a 500 (it may have been carried out): one failure.
    e.fake.fail("POST", "/api/noauth/activate", 500, 1);
    let err = configure(&e.tb, Duration::from_secs(5), &quiet)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("HTTP 500"), "{err}");
    // The sysadmin change happened and is stored; the tenant admin is not activated and
    // nothing claims otherwise.
    assert_eq!(
        stored(&e, TB_SYSADMIN_CURRENT_PASSWORD).await.as_deref(),
        Some("Sys-Final-1")
    );
    assert_eq!(stored(&e, TB_TENANT_ADMIN_CURRENT_PASSWORD).await, None);
    assert_eq!(e.fake.user("admin@dtaas.example").unwrap().password, None);

    let before = e.fake.counts();
    let (pw, tenant, admin) = configure(&e.tb, Duration::from_secs(5), &quiet)
        .await
        .unwrap();
    assert_eq!(pw, PasswordChange::AlreadySet);
    assert_eq!((tenant, admin), (Outcome::Unchanged, Outcome::Updated));
    assert_eq!(e.fake.counts(), before, "nothing created twice");
    assert_eq!(
        stored(&e, TB_TENANT_ADMIN_CURRENT_PASSWORD)
            .await
            .as_deref(),
        Some("Tenant-Final-1")
    );
}

#[tokio::test]
async fn reset_password_updates_email_and_passwords() {
    let e = env_with(|c| c.sysadmin_email = "ops@dtaas.example".into()).await;
    // No tenant admin yet: the sysadmin is reset, the tenant admin reported.
    let r = e.tb.reset_passwords().await.unwrap();
    assert_eq!(r.sysadmin_email, EmailChange::Changed);
    assert_eq!(r.sysadmin_password, PasswordChange::Changed);
    insta::assert_snapshot!(r.message(), @"Sysadmin password reset successfully. Tenant admin password was not reset: cannot log in as the tenant admin admin@dtaas.example with the stored password, TB_TENANT_ADMIN_PASSWORD or the legacy default (Re-run this command once the tenant admin account has been created.)");
    insta::assert_snapshot!(log_from(&e.server, 0).await, @r#"
    POST /api/auth/login {"password":"Sys-Final-1","username":"ops@dtaas.example"}
    POST /api/auth/login {"password":"sysadmin","username":"ops@dtaas.example"}
    POST /api/auth/login {"password":"Sys-Final-1","username":"sysadmin@thingsboard.org"}
    POST /api/auth/login {"password":"sysadmin","username":"sysadmin@thingsboard.org"}
    GET /api/auth/user [Bearer jwt-4]
    POST /api/user?sendActivationMail=false [Bearer jwt-4] {"authority":"SYS_ADMIN","email":"ops@dtaas.example","firstName":null,"id":{"entityType":"USER","id":"sys-1"}}
    POST /api/auth/changePassword [Bearer jwt-4] {"currentPassword":"sysadmin","newPassword":"Sys-Final-1"}
    POST /api/auth/login {"password":"Sys-Final-1","username":"ops@dtaas.example"}
    POST /api/auth/login {"password":"Tenant-Final-1","username":"admin@dtaas.example"}
    POST /api/auth/login {"password":"tenant","username":"admin@dtaas.example"}
    "#);
    assert_eq!(
        stored(&e, TB_SYSADMIN_CURRENT_PASSWORD).await.as_deref(),
        Some("Sys-Final-1")
    );

    // A legacy tenant admin with the public password gets the final one.
    let (sys, _) = e.tb.ensure_sysadmin_password().await.unwrap();
    e.tb.ensure_tenant(&sys).await.unwrap();
    {
        let mut s = e.fake.0.lock().unwrap();
        let u = s
            .users
            .iter_mut()
            .find(|u| u.email == "admin@dtaas.example")
            .unwrap();
        u.password = Some("tenant".into());
    }
    e.store
        .remove(TB_TENANT_ADMIN_CURRENT_PASSWORD)
        .await
        .unwrap();
    let r = e.tb.reset_passwords().await.unwrap();
    assert_eq!(r.sysadmin_email, EmailChange::Unchanged);
    assert_eq!(r.sysadmin_password, PasswordChange::AlreadySet);
    assert!(matches!(r.tenant_admin, Some(Ok(PasswordChange::Changed))));
    insta::assert_snapshot!(r.message(), @"ThingsBoard credentials updated successfully");
    assert_eq!(
        e.fake
            .user("admin@dtaas.example")
            .unwrap()
            .password
            .as_deref(),
        Some("Tenant-Final-1")
    );
    assert_eq!(
        stored(&e, TB_TENANT_ADMIN_CURRENT_PASSWORD)
            .await
            .as_deref(),
        Some("Tenant-Final-1")
    );
}

#[tokio::test]
async fn reset_without_a_final_password_is_a_config_error() {
    let e = env_with(|c| c.sysadmin_password = None).await;
    let err = e.tb.reset_passwords().await.unwrap_err();
    insta::assert_snapshot!(err, @"ThingsBoard: TB_SYSADMIN_NEW_PASSWORD is not set in services.env; cannot set the sysadmin password");
    assert_eq!(count(&e.server).await, 0);
}

fn spec(name: &str, pw: &str, state: PasswordState) -> UserSpec {
    UserSpec {
        name: name.into(),
        password: SecretString::from(pw.to_owned()),
        email: Some(format!("{name}@example.org")),
        password_state: state,
    }
}

#[tokio::test]
async fn user_add_creates_customers_and_activated_users_once() {
    let e = env().await;
    configure(&e.tb, Duration::from_secs(5), &quiet)
        .await
        .unwrap();
    let p = ThingsBoardProvisioner::new(e.tb.clone());
    p.probe().await.unwrap();
    let n = count(&e.server).await;
    let u1 = spec("user1", "User1-pass", PasswordState::Unknown);
    assert_eq!(p.ensure_user(&u1).await.unwrap(), Outcome::Created);
    // The probe only logged in: the tenant and its admin are ensured by the first user.
    insta::assert_snapshot!(log_from(&e.server, n).await, @r#"
    GET /api/tenants?pageSize=100&page=0&textSearch=DTaaS [Bearer jwt-13]
    GET /api/tenant/tenant-7/users?pageSize=100&page=0&textSearch=admin%40dtaas.example [Bearer jwt-13]
    POST /api/auth/login {"password":"Tenant-Final-1","username":"admin@dtaas.example"}
    GET /api/customers?pageSize=100&page=0&textSearch=user1 [Bearer jwt-16]
    POST /api/customer [Bearer jwt-16] {"title":"user1"}
    GET /api/customer/customer-18/users?pageSize=100&page=0&textSearch=user1%40example.org [Bearer jwt-16]
    POST /api/user?sendActivationMail=false [Bearer jwt-16] {"authority":"CUSTOMER_USER","customerId":{"entityType":"CUSTOMER","id":"customer-18"},"email":"user1@example.org"}
    GET /api/user/user-20/activationLink [Bearer jwt-16]
    POST /api/noauth/activate?sendActivationMail=false {"activateToken":"act-user-20","password":"User1-pass"}
    "#);
    let u2 = spec("user2", "User2-pass", PasswordState::Unknown);
    assert_eq!(p.ensure_user(&u2).await.unwrap(), Outcome::Created);
    assert_eq!(
        e.fake
            .user("user1@example.org")
            .unwrap()
            .password
            .as_deref(),
        Some("User1-pass")
    );
    // Second run: nothing new.
    let before = e.fake.counts();
    let p = ThingsBoardProvisioner::new(e.tb.clone());
    assert_eq!(p.ensure_user(&u1).await.unwrap(), Outcome::Unchanged);
    let same = spec("user2", "User2-pass", PasswordState::Same);
    assert_eq!(p.ensure_user(&same).await.unwrap(), Outcome::Unchanged);
    assert_eq!(e.fake.counts(), before);
    assert_eq!(p.list_users().await.unwrap(), vec!["user1", "user2"]);
    // A changed password cannot be set on an activated user: a clear per-row error.
    let changed = spec("user2", "Other-pass", PasswordState::Changed);
    let err = p.ensure_user(&changed).await.unwrap_err();
    insta::assert_snapshot!(err, @"ThingsBoard: user user2: exists and is activated with another password; ThingsBoard lets only the user change it (or remove the user and add it again)");
    // A row without email is refused before any request.
    let n = count(&e.server).await;
    let mut no_mail = spec("user3", "x", PasswordState::Unknown);
    no_mail.email = None;
    assert!(p.ensure_user(&no_mail).await.is_err());
    assert_eq!(count(&e.server).await, n);
    assert_eq!(
        p.remove_user("user2", false).await.unwrap(),
        Removal::Removed
    );
    assert_eq!(
        p.remove_user("user2", false).await.unwrap(),
        Removal::Absent
    );
    assert_eq!(p.list_users().await.unwrap(), vec!["user1"]);
}

#[tokio::test]
async fn probing_listing_and_removing_change_nothing() {
    // Not installed yet: no tenant. A dry run probes and lists; `user remove` looks up.
    let e = env().await;
    let p = ThingsBoardProvisioner::new(e.tb.clone());
    p.probe().await.unwrap();
    assert!(p.list_users().await.unwrap().is_empty());
    assert_eq!(
        p.remove_user("user1", false).await.unwrap(),
        Removal::Absent
    );
    let log = log_from(&e.server, 0).await;
    assert!(
        !log.lines()
            .any(|l| l.starts_with("POST /api/") && !l.starts_with("POST /api/auth/login")),
        "only logins may be posted:\n{log}"
    );
    assert_eq!(
        e.fake.counts(),
        (0, 0, 1),
        "no tenant, customer or user made"
    );
    assert_eq!(
        e.fake
            .user("sysadmin@thingsboard.org")
            .unwrap()
            .password
            .as_deref(),
        Some("sysadmin"),
        "no password changed"
    );
}

#[tokio::test]
async fn user_add_finishes_an_interrupted_activation() {
    let e = env().await;
    configure(&e.tb, Duration::from_secs(5), &quiet)
        .await
        .unwrap();
    let p = ThingsBoardProvisioner::new(e.tb.clone());
    let u1 = spec("user1", "User1-pass", PasswordState::Unknown);
    e.fake.fail("POST", "/api/noauth/activate", 400, 1);
    assert!(p.ensure_user(&u1).await.is_err());
    let before = e.fake.counts();
    assert_eq!(p.ensure_user(&u1).await.unwrap(), Outcome::Updated);
    assert_eq!(e.fake.counts(), before);
    assert_eq!(
        e.fake
            .user("user1@example.org")
            .unwrap()
            .password
            .as_deref(),
        Some("User1-pass")
    );
}
