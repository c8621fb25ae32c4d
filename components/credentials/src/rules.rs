//! Which usernames, emails and passwords each service accepts.

use catalog::Service;
use secrecy::ExposeSecret as _;

use crate::Credential;

/// The longest username: PostgreSQL identifiers are limited to 63 bytes.
const MAX_USERNAME: usize = 63;

/// Check a username is a safe identifier for every service:
/// `^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`.
///
/// # Errors
/// Why the name is not accepted.
pub fn check_username(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err("the username is empty".to_owned());
    };
    if name.len() > MAX_USERNAME {
        return Err(format!(
            "username {name:?} is longer than {MAX_USERNAME} characters"
        ));
    }
    if !first.is_ascii_alphanumeric() {
        return Err(format!(
            "username {name:?} must start with a letter or a digit"
        ));
    }
    if let Some(bad) = chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "username {name:?} contains {bad:?}; use only letters, digits, '_', '.' and '-'"
        ));
    }
    Ok(())
}

/// Whether `service` needs an email for every user.
#[must_use]
pub(crate) fn needs_email(service: Service) -> bool {
    matches!(service, Service::ThingsBoard | Service::GitLab)
}

/// What `service` cannot accept in `cred` (beyond [`check_username`]), if anything.
#[must_use]
pub fn service_problem(service: Service, cred: &Credential) -> Option<String> {
    let name = cred.username.as_str();
    let display = service.display_name();
    match service {
        Service::MongoDb if name.contains('.') => Some(format!(
            "{display} database names cannot contain '.': rename {name:?}"
        )),
        Service::Postgres
            if name.to_ascii_lowercase().starts_with("pg_")
                || name.eq_ignore_ascii_case("public") =>
        {
            Some(format!("{display} reserves the role name {name:?}"))
        }
        Service::InfluxDb if cred.password.expose_secret().chars().count() < 8 => Some(format!(
            "{display} needs passwords of at least 8 characters (user {name:?})"
        )),
        s if needs_email(s) && cred.email.is_none() => {
            Some(format!("{display} needs an email for user {name:?}"))
        }
        _ => None,
    }
}
