use catalog::Service;
use secrecy::SecretString;
use services_common::{
    BoxFuture, Outcome, PasswordState, ProvisionError, Provisioner, Removal, UserSpec,
};
use store::StoreError;
use store::pg_admin::{PgAdmin, PgTarget, PgTls, check_login};
use tokio::sync::OnceCell;

const NAME: &str = "PostgreSQL";

/// The admin target of a project: `HOSTNAME:POSTGRES_PORT`, database `postgres`, login
/// `POSTGRES_USER`/`POSTGRES_PASSWORD`, TLS `prefer`.
///
/// # Errors
/// [`ProvisionError::Config`] when `POSTGRES_PASSWORD` is not set.
pub fn target_from_settings(settings: &config::Settings) -> Result<PgTarget, ProvisionError> {
    let password: SecretString =
        settings
            .secret("POSTGRES_PASSWORD")
            .ok_or_else(|| ProvisionError::Config {
                service: NAME.to_owned(),
                detail: "POSTGRES_PASSWORD is not set".to_owned(),
            })?;
    let user = settings.get("POSTGRES_USER").unwrap_or("postgres");
    Ok(PgTarget::new(
        settings.hostname(),
        settings.port("POSTGRES_PORT"),
        user,
        &password,
    )
    .tls(PgTls::Prefer, None))
}

/// Provisions roles and databases; connects lazily on first use.
#[derive(Debug)]
pub struct PostgresProvisioner {
    target: PgTarget,
    admin: OnceCell<PgAdmin>,
}

fn map_err(e: StoreError) -> ProvisionError {
    match e {
        StoreError::Unreachable { location, detail } => {
            if detail.contains("password authentication failed") {
                ProvisionError::Unauthorized {
                    service: NAME.to_owned(),
                    detail,
                }
            } else {
                ProvisionError::Unreachable {
                    service: NAME.to_owned(),
                    target: location,
                    detail,
                }
            }
        }
        StoreError::Query { detail, .. } => ProvisionError::Failed {
            service: NAME.to_owned(),
            detail,
        },
        other => ProvisionError::Failed {
            service: NAME.to_owned(),
            detail: other.to_string(),
        },
    }
}

impl PostgresProvisioner {
    #[must_use]
    pub fn new(target: PgTarget) -> Self {
        Self {
            target,
            admin: OnceCell::new(),
        }
    }

    async fn admin(&self) -> Result<&PgAdmin, ProvisionError> {
        self.admin
            .get_or_try_init(|| PgAdmin::connect(&self.target))
            .await
            .map_err(map_err)
    }

    /// The same server, logging in as `user` (to check a provisioned login).
    #[must_use]
    pub fn login_target(&self, user: &str, password: &SecretString) -> PgTarget {
        self.target.with_login(user, password).database(user)
    }

    async fn ensure(&self, user: &UserSpec) -> Result<Outcome, ProvisionError> {
        let admin = self.admin().await?;
        let name = user.name.as_str();
        let created = admin
            .ensure_role(name, &user.password)
            .await
            .map_err(map_err)?;
        let mut outcome = if created {
            Outcome::Created
        } else if user.password_state == PasswordState::Same {
            Outcome::Unchanged
        } else {
            admin
                .alter_password(name, &user.password)
                .await
                .map_err(map_err)?;
            Outcome::Updated
        };
        let db_changed = admin.ensure_database(name, name).await.map_err(map_err)?;
        if db_changed && outcome == Outcome::Unchanged {
            outcome = Outcome::Updated;
        }
        Ok(outcome)
    }

    async fn remove(&self, name: &str, keep_data: bool) -> Result<Removal, ProvisionError> {
        let admin = self.admin().await?;
        let had_db = admin.database_exists(name).await.map_err(map_err)?;
        if had_db {
            if keep_data {
                admin.adopt_database(name).await.map_err(map_err)?;
            } else {
                admin.drop_database(name).await.map_err(map_err)?;
            }
        }
        let had_role = admin.drop_role(name).await.map_err(map_err)?;
        Ok(if had_role || (had_db && !keep_data) {
            Removal::Removed
        } else {
            Removal::Absent
        })
    }
}

impl Provisioner for PostgresProvisioner {
    fn service(&self) -> Service {
        Service::Postgres
    }

    fn probe(&self) -> BoxFuture<'_, Result<(), ProvisionError>> {
        Box::pin(async move { check_login(&self.target).await.map_err(map_err) })
    }

    fn list_users(&self) -> BoxFuture<'_, Result<Vec<String>, ProvisionError>> {
        Box::pin(async move { self.admin().await?.list_roles().await.map_err(map_err) })
    }

    fn ensure_user<'a>(
        &'a self,
        user: &'a UserSpec,
    ) -> BoxFuture<'a, Result<Outcome, ProvisionError>> {
        Box::pin(self.ensure(user))
    }

    fn remove_user<'a>(
        &'a self,
        name: &'a str,
        keep_data: bool,
    ) -> BoxFuture<'a, Result<Removal, ProvisionError>> {
        Box::pin(self.remove(name, keep_data))
    }
}
