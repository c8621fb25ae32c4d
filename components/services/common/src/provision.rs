use std::future::Future;
use std::pin::Pin;

use catalog::Service;
use secrecy::SecretString;

use crate::ProvisionError;

/// A boxed, sendable future (keeps [`Provisioner`] object safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the state database knows about the user's password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PasswordState {
    /// No fingerprint recorded: the service may hold any password, set it.
    Unknown,
    /// The recorded fingerprint matches the CSV password.
    Same,
    /// The recorded fingerprint differs: the CSV password changed.
    Changed,
}

/// One user to provision.
#[derive(Debug, Clone)]
pub struct UserSpec {
    pub name: String,
    pub password: SecretString,
    pub email: Option<String>,
    pub password_state: PasswordState,
}

/// What `ensure_user` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

impl Outcome {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Unchanged => "unchanged",
        }
    }
}

/// What `remove_user` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Removal {
    /// The user (and, unless kept, its data) was removed.
    Removed,
    /// There was no such user.
    Absent,
    /// The account was blocked, not deleted, so that what it owns is kept (`keep_data` in a
    /// service where deleting the user would delete its data, e.g. GitLab's projects).
    Blocked,
}

/// User provisioning in one service.
pub trait Provisioner: Send + Sync + std::fmt::Debug {
    /// The service this provisions.
    fn service(&self) -> Service;

    /// One readiness probe: `Ok` when the service answers with the admin credentials.
    fn probe(&self) -> BoxFuture<'_, Result<(), ProvisionError>>;

    /// The users this tool manages in the service (admin and system users excluded), sorted.
    fn list_users(&self) -> BoxFuture<'_, Result<Vec<String>, ProvisionError>>;

    /// Create the user if missing, set its password when it changed (or is unknown), and
    /// ensure its database/vhost/org/bucket and grants.
    fn ensure_user<'a>(
        &'a self,
        user: &'a UserSpec,
    ) -> BoxFuture<'a, Result<Outcome, ProvisionError>>;

    /// Finish what this provisioner batches over the users of one `add` run, called once
    /// after every [`Provisioner::ensure_user`] of the run has returned (GitLab clears the
    /// expiry of every changed password with one `gitlab-rails runner`). Returns the users
    /// whose work failed, each with why: their rows fail and their passwords are not
    /// recorded, so the next run does them again. Default: nothing is batched.
    fn finish_users(&self) -> BoxFuture<'_, Vec<(String, ProvisionError)>> {
        Box::pin(async { Vec::new() })
    }

    /// Remove the user, and its database/vhost/org unless `keep_data`.
    fn remove_user<'a>(
        &'a self,
        name: &'a str,
        keep_data: bool,
    ) -> BoxFuture<'a, Result<Removal, ProvisionError>>;

    /// The accounts and objects no CSV row may take: the service's admin accounts (named
    /// by the settings key that sets them) and the platform's own objects. From the
    /// settings only: no request.
    fn reserved_names(&self) -> Vec<Reserved>;

    /// What a row named `name` (with `email`) would create or be given in this service —
    /// its login, vhost, database, org ... — each with the service's own rule for comparing
    /// names of that kind.
    fn claims(&self, name: &str, email: Option<&str>) -> Vec<Claim>;

    /// Every object of the kinds [`Provisioner::claims`] names that exists in the service
    /// now (admin and system ones included), whoever made it.
    fn existing_objects(&self) -> BoxFuture<'_, Result<Vec<Existing>, ProvisionError>>;
}

/// How a service compares two names of one kind of object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// Byte for byte (RabbitMQ, InfluxDB, PostgreSQL quoted identifiers, MongoDB users).
    Exact,
    /// Ignoring case (Grafana logins and emails, GitLab usernames, MongoDB database names).
    IgnoreCase,
}

impl NameRule {
    /// Whether the service takes `a` and `b` for the same name.
    #[must_use]
    pub fn same(self, a: &str, b: &str) -> bool {
        match self {
            Self::Exact => a == b,
            Self::IgnoreCase => a == b || a.to_lowercase() == b.to_lowercase(),
        }
    }
}

/// An object a CSV row would create or be given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// `user`, `vhost`, `database`, `org`, `customer`, `email` ...
    pub kind: &'static str,
    pub name: String,
    pub rule: NameRule,
}

impl Claim {
    #[must_use]
    pub fn new(kind: &'static str, name: &str, rule: NameRule) -> Self {
        Self {
            kind,
            name: name.to_owned(),
            rule,
        }
    }
}

/// A name reserved for the service or the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reserved {
    pub kind: &'static str,
    pub name: String,
    /// What it is, for the refusal: `the RabbitMQ admin (RABBITMQ_ADMIN_USERNAME)`.
    pub what: String,
}

impl Reserved {
    #[must_use]
    pub fn new(kind: &'static str, name: &str, what: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.to_owned(),
            what: what.into(),
        }
    }
}

/// An object that exists in the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub kind: &'static str,
    pub name: String,
}

impl Existing {
    #[must_use]
    pub fn new(kind: &'static str, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
        }
    }
}

/// Refuse to manage `service`'s own admin account (set by `key` in services.env) from
/// credentials.csv.
///
/// # Errors
/// [`ProvisionError::Failed`] when `name` is `admin`.
pub fn refuse_admin(
    service: &str,
    key: &str,
    admin: &str,
    name: &str,
) -> Result<(), ProvisionError> {
    if name == admin {
        Err(ProvisionError::Failed {
            service: service.to_owned(),
            detail: format!(
                "{name:?} is the {service} admin ({key}); it is not managed from credentials.csv"
            ),
        })
    } else {
        Ok(())
    }
}
