//! State that lives in a service's data: when that data is deleted (`service remove
//! --volumes`, `service clean`) the stored secrets and account records describing it are
//! stale, and are forgotten with it. This needs no store key: deleting never decrypts.

use catalog::Service;
use serde::Serialize;
use store::Store;

use crate::error::PasswordStoreError;
use crate::names::{
    GITLAB_CLIENT_APP, GITLAB_ROOT_CURRENT_PASSWORD, GITLAB_ROOT_PAT, GITLAB_SERVER_APP,
    GITLAB_USER_PAT_PREFIX, INFLUXDB_OPERATOR_TOKEN, TB_SYSADMIN_CURRENT_PASSWORD,
    TB_TENANT_ADMIN_CURRENT_PASSWORD,
};

/// What the data directory of one service holds, as far as the state database knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldState {
    /// Secrets that are only valid against this data.
    pub secrets: &'static [&'static str],
    /// Prefixes of per-user secrets (`GITLAB_USER_PAT:<user>`).
    pub prefixes: &'static [&'static str],
    /// The services whose user accounts this data holds.
    pub accounts_of: &'static [Service],
}

/// The state held in the data of `service`. ThingsBoard keeps its users and admin
/// passwords in PostgreSQL's database, so they go with PostgreSQL's data, not with
/// `data/thingsboard`.
#[must_use]
pub fn held_in_data_of(service: Service) -> HeldState {
    const NONE: &[&str] = &[];
    match service {
        Service::Postgres => HeldState {
            secrets: &[
                TB_SYSADMIN_CURRENT_PASSWORD,
                TB_TENANT_ADMIN_CURRENT_PASSWORD,
            ],
            prefixes: NONE,
            accounts_of: &[Service::Postgres, Service::ThingsBoard],
        },
        Service::ThingsBoard => HeldState {
            secrets: NONE,
            prefixes: NONE,
            accounts_of: &[],
        },
        Service::InfluxDb => HeldState {
            secrets: &[INFLUXDB_OPERATOR_TOKEN],
            prefixes: NONE,
            accounts_of: &[Service::InfluxDb],
        },
        Service::GitLab => HeldState {
            secrets: &[
                GITLAB_ROOT_CURRENT_PASSWORD,
                GITLAB_ROOT_PAT,
                GITLAB_SERVER_APP,
                GITLAB_CLIENT_APP,
            ],
            prefixes: &[GITLAB_USER_PAT_PREFIX],
            accounts_of: &[Service::GitLab],
        },
        Service::RabbitMq => HeldState {
            secrets: NONE,
            prefixes: NONE,
            accounts_of: &[Service::RabbitMq],
        },
        Service::MongoDb => HeldState {
            secrets: NONE,
            prefixes: NONE,
            accounts_of: &[Service::MongoDb],
        },
        Service::Grafana => HeldState {
            secrets: NONE,
            prefixes: NONE,
            accounts_of: &[Service::Grafana],
        },
    }
}

/// What [`forget_data_of`] deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Forgotten {
    /// Secret names, sorted.
    pub secrets: Vec<String>,
    /// Account records deleted.
    pub accounts: u64,
}

impl Forgotten {
    /// Nothing was deleted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty() && self.accounts == 0
    }
}

/// Forget the secrets and account records held in the data of `services` (just deleted).
///
/// # Errors
/// [`PasswordStoreError::Store`] when the state database fails.
pub async fn forget_data_of(
    store: &Store,
    services: &[Service],
) -> Result<Forgotten, PasswordStoreError> {
    let names: Vec<String> = store
        .list_secrets()
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    let mut out = Forgotten::default();
    for service in services {
        let held = held_in_data_of(*service);
        for name in &names {
            let matches = held.secrets.contains(&name.as_str())
                || held.prefixes.iter().any(|p| name.starts_with(p));
            if matches && !out.secrets.contains(name) && store.delete_secret(name).await? {
                out.secrets.push(name.clone());
            }
        }
        for owner in held.accounts_of {
            out.accounts += store.delete_accounts(owner.compose_name()).await?;
        }
    }
    out.secrets.sort();
    Ok(out)
}
