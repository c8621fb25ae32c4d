use secrecy::SecretString;
use services_common::{HttpOptions, Outcome, PasswordState, Provisioner, Removal, Retry, UserSpec};
use services_rabbitmq::{RabbitMqOptions, RabbitMqProvisioner};

/// Split `http://user:pw@host:port` into the base URL and the login.
fn parse(url: &str) -> RabbitMqOptions {
    let (scheme, rest) = url.split_once("://").expect("scheme://");
    let (login, host) = rest.rsplit_once('@').expect("user:password@host");
    let (user, pw) = login.split_once(':').expect("user:password");
    RabbitMqOptions {
        base_url: format!("{scheme}://{}", host.trim_end_matches('/')),
        admin_user: user.to_owned(),
        admin_password: SecretString::from(pw.to_owned()),
        http: HttpOptions::default(),
        retry: Retry::default(),
    }
}

#[allow(clippy::print_stderr)]
fn provisioner() -> Option<RabbitMqProvisioner> {
    match std::env::var("DTAAS_TEST_RABBITMQ_URL") {
        Ok(url) => Some(RabbitMqProvisioner::new(parse(&url)).expect("client")),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!(
                "DTAAS_TEST_RABBITMQ_URL is not set, and CI is: the live RabbitMQ test cannot run"
            )
        }
        Err(_) => {
            eprintln!(
                "skipped: set DTAAS_TEST_RABBITMQ_URL=http://admin:pw@127.0.0.1:15672 to run"
            );
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
    let name = test_support::unique_name("rmq");
    let (first, second) = ("first-Pa55\"word", "second-Pa55 word");

    assert_eq!(
        p.ensure_user(&user(&name, first, PasswordState::Unknown))
            .await
            .unwrap(),
        Outcome::Created
    );
    assert!(
        p.password_matches(&name, &SecretString::from(first))
            .await
            .unwrap()
    );
    // Re-run: known unchanged, and unknown but verified by a login.
    assert_eq!(
        p.ensure_user(&user(&name, first, PasswordState::Same))
            .await
            .unwrap(),
        Outcome::Unchanged
    );
    assert_eq!(
        p.ensure_user(&user(&name, first, PasswordState::Unknown))
            .await
            .unwrap(),
        Outcome::Unchanged
    );
    assert_eq!(
        p.ensure_user(&user(&name, second, PasswordState::Changed))
            .await
            .unwrap(),
        Outcome::Updated
    );
    assert!(
        p.password_matches(&name, &SecretString::from(second))
            .await
            .unwrap()
    );
    assert!(
        !p.password_matches(&name, &SecretString::from(first))
            .await
            .unwrap()
    );

    assert!(p.list_users().await.unwrap().contains(&name));
    assert_eq!(p.remove_user(&name, false).await.unwrap(), Removal::Removed);
    assert!(!p.list_users().await.unwrap().contains(&name));
    assert_eq!(p.remove_user(&name, false).await.unwrap(), Removal::Absent);
}

#[tokio::test]
async fn a_removed_vhost_or_grant_is_restored() {
    let Some(p) = provisioner() else { return };
    let name = test_support::unique_name("rmqv");
    let spec = user(&name, "vhost-Pa55word", PasswordState::Unknown);
    assert_eq!(p.ensure_user(&spec).await.unwrap(), Outcome::Created);
    // Keep-data removal keeps the vhost; adding again recreates only the user.
    assert_eq!(p.remove_user(&name, true).await.unwrap(), Removal::Removed);
    assert_eq!(p.ensure_user(&spec).await.unwrap(), Outcome::Created);
    assert_eq!(p.remove_user(&name, false).await.unwrap(), Removal::Removed);
}
