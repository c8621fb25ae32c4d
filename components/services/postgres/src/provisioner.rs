use std::path::PathBuf;

use catalog::Service;
use secrecy::SecretString;
use services_common::{
    BoxFuture, Claim, Existing, HttpOptions, NameRule, Outcome, PasswordState, ProvisionError,
    Provisioner, Removal, Reserved, UserSpec,
};
use store::StoreError;
use store::pg_admin::{PgAdmin, PgTarget, PgTls, check_login};
use tokio::sync::OnceCell;

const NAME: &str = "PostgreSQL";

/// The admin target of a project: `HOSTNAME:POSTGRES_PORT`, database `postgres`, login
/// `POSTGRES_USER`/`POSTGRES_PASSWORD`, TLS as [`tls_from`] decides it for the project's
/// [`HttpOptions::from_settings`] (`SSL_VERIFY`, the project's CA).
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
    let user = settings.text("POSTGRES_USER");
    let (tls, ca_file) = tls_from(&HttpOptions::from_settings(settings));
    Ok(PgTarget::new(
        settings.hostname(),
        settings.port("POSTGRES_PORT"),
        user,
        &password,
    )
    .tls(tls, ca_file))
}

/// The TLS of PostgreSQL connections, decided as for the HTTP clients: with `ssl_verify`,
/// `verify-full` (certificate chain and host name checked, the project's CA trusted besides
/// the platform's roots); without, `prefer` (TLS when offered, any certificate accepted).
#[must_use]
pub fn tls_from(http: &HttpOptions) -> (PgTls, Option<PathBuf>) {
    if http.ssl_verify {
        (PgTls::VerifyFull, http.ca_file.clone())
    } else {
        (PgTls::Prefer, None)
    }
}

/// The databases PostgreSQL itself needs: never provisioned, given away or dropped.
pub const SYSTEM_DATABASES: [&str; 3] = ["postgres", "template0", "template1"];

/// Provisions roles and databases; connects lazily on first use.
///
/// Never touches the admin login, the application database (`POSTGRES_DB`, see
/// [`PostgresProvisioner::protect_database`]) or the [`SYSTEM_DATABASES`], and only drops a
/// database its user owns.
#[derive(Debug)]
pub struct PostgresProvisioner {
    target: PgTarget,
    app_database: Option<String>,
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

fn refused(detail: String) -> ProvisionError {
    ProvisionError::Failed {
        service: NAME.to_owned(),
        detail,
    }
}

impl PostgresProvisioner {
    #[must_use]
    pub fn new(target: PgTarget) -> Self {
        Self {
            target,
            app_database: None,
            admin: OnceCell::new(),
        }
    }

    /// The provisioner of a project: [`target_from_settings`], with `POSTGRES_DB` (the
    /// ThingsBoard database) protected.
    ///
    /// # Errors
    /// [`ProvisionError::Config`] when `POSTGRES_PASSWORD` is not set.
    pub fn from_settings(settings: &config::Settings) -> Result<Self, ProvisionError> {
        Ok(Self::new(target_from_settings(settings)?).protect_database(settings.postgres_db()))
    }

    /// Never provision, give away or drop database `name` (the application's own database,
    /// `POSTGRES_DB`), nor a role of that name.
    #[must_use]
    pub fn protect_database(mut self, name: &str) -> Self {
        self.app_database = Some(name.to_owned());
        self
    }

    /// Refuse a user name that is the admin login, the application database or a system
    /// database.
    fn refuse_reserved(&self, name: &str) -> Result<(), ProvisionError> {
        let why = if name == self.target.user() {
            "is the PostgreSQL admin (POSTGRES_USER)"
        } else if self.app_database.as_deref() == Some(name) {
            "is the application database (POSTGRES_DB)"
        } else if SYSTEM_DATABASES.contains(&name) {
            "is a PostgreSQL system database"
        } else {
            return Ok(());
        };
        Err(refused(format!(
            "{name:?} {why}; it is never managed as a user (refused)"
        )))
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
        let name = user.name.as_str();
        self.refuse_reserved(name)?;
        let admin = self.admin().await?;
        // A database of that name owned by another user is not given away (one owned by
        // the admin is: it was kept by `user remove --keep-data`).
        if let Some(owner) = admin.database_owner(name).await.map_err(map_err)?
            && owner != name
            && owner != self.target.user()
        {
            return Err(refused(format!(
                "database {name:?} belongs to role {owner:?}, not to {name:?}; it is not given to user {name:?} (refused)"
            )));
        }
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

    /// Drop role `name`, and its database (the one named `name` that it owns) unless
    /// `keep_data`, when the admin takes the database over. A database of that name owned
    /// by someone else is never dropped (an error) nor taken over.
    async fn remove(&self, name: &str, keep_data: bool) -> Result<Removal, ProvisionError> {
        self.refuse_reserved(name)?;
        let admin = self.admin().await?;
        let owner = admin.database_owner(name).await.map_err(map_err)?;
        let own_db = owner.as_deref() == Some(name);
        if let Some(owner) = &owner
            && !own_db
            && !keep_data
        {
            return Err(refused(format!(
                "database {name:?} belongs to role {owner:?}, not to {name:?}: not dropped, nothing removed (drop it by hand if it is no longer needed, or use --keep-data to remove only the login)"
            )));
        }
        if own_db {
            if keep_data {
                admin.adopt_database(name).await.map_err(map_err)?;
            } else {
                admin.drop_database(name).await.map_err(map_err)?;
            }
        }
        let had_role = admin.drop_role(name).await.map_err(map_err)?;
        Ok(if had_role || (own_db && !keep_data) {
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

    fn reserved_names(&self) -> Vec<Reserved> {
        let admin = self.target.user();
        let mut out = vec![Reserved::new(
            "role",
            admin,
            "the PostgreSQL admin (POSTGRES_USER)",
        )];
        if let Some(db) = &self.app_database {
            out.push(Reserved::new(
                "database",
                db,
                "the application database (POSTGRES_DB)",
            ));
            out.push(Reserved::new(
                "role",
                db,
                "the application database's name (POSTGRES_DB)",
            ));
        }
        for db in SYSTEM_DATABASES {
            out.push(Reserved::new(
                "database",
                db,
                "a PostgreSQL system database",
            ));
        }
        out
    }

    /// A role and a database of its name. We always quote identifiers
    /// ([`store::pg_admin::quote_ident`]), and a quoted identifier is case-sensitive
    /// (postgres/postgres REL_17_STABLE doc/src/sgml/syntax.sgml, "Quoting an identifier also
    /// makes it case-sensitive"): names compare byte for byte.
    fn claims(&self, name: &str, _email: Option<&str>) -> Vec<Claim> {
        vec![
            Claim::new("role", name, NameRule::Exact),
            Claim::new("database", name, NameRule::Exact),
        ]
    }

    fn existing_objects(&self) -> BoxFuture<'_, Result<Vec<Existing>, ProvisionError>> {
        Box::pin(async move {
            let admin = self.admin().await?;
            let mut out: Vec<Existing> = admin
                .all_roles()
                .await
                .map_err(map_err)?
                .into_iter()
                .map(|n| Existing::new("role", n))
                .collect();
            out.extend(
                admin
                    .databases()
                    .await
                    .map_err(map_err)?
                    .into_iter()
                    .map(|n| Existing::new("database", n)),
            );
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_follows_ssl_verify_and_the_project_ca() {
        let ca = PathBuf::from("/project/certs/ca.pem");
        let verify = HttpOptions {
            ssl_verify: true,
            ca_file: Some(ca.clone()),
            ..HttpOptions::default()
        };
        assert_eq!(tls_from(&verify), (PgTls::VerifyFull, Some(ca)));
        let verify_no_ca = HttpOptions {
            ca_file: None,
            ..verify.clone()
        };
        assert_eq!(tls_from(&verify_no_ca), (PgTls::VerifyFull, None));
        let off = HttpOptions {
            ssl_verify: false,
            ..verify
        };
        assert_eq!(tls_from(&off), (PgTls::Prefer, None));
    }

    fn settings(dir: &std::path::Path, extra: &str) -> config::Settings {
        let text = format!("HOSTNAME=db.example.org\nPOSTGRES_PASSWORD=pw-Secret-1\n{extra}");
        let doc = config::EnvFile::parse(&dir.join("config/services.env"), &text).unwrap();
        config::resolve(dir, &doc, &[], &[]).unwrap().0
    }

    #[test]
    fn tls_from_the_project_settings() {
        let dir = std::env::temp_dir().join(format!("svc-pg-tls-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("certs")).unwrap();
        std::fs::write(dir.join("certs/ca.pem"), "x").unwrap();
        let http = HttpOptions::from_settings(&settings(&dir, ""));
        assert_eq!(
            tls_from(&http),
            (PgTls::VerifyFull, Some(dir.join("certs/ca.pem"))),
            "SSL_VERIFY defaults to on"
        );
        let http = HttpOptions::from_settings(&settings(&dir, "SSL_VERIFY=false\n"));
        assert_eq!(tls_from(&http), (PgTls::Prefer, None));
        let target = target_from_settings(&settings(&dir, "SSL_VERIFY=false\n")).unwrap();
        assert_eq!(target.describe(), "dtaas_user@db.example.org:5432/postgres");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
