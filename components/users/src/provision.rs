//! Building the provisioners of the services `user add|list|remove` and the `users-sync` job
//! work on, from the project's settings: the one construction path both bases share.

use std::path::Path;
use std::sync::Arc;

use catalog::Service;
use password_store::PasswordStore;
use secrecy::{ExposeSecret as _, SecretString};
use services_common::{ProvisionError, Provisioner};

/// The services whose users are provisioned through [`provisioners_for`], in the order of
/// the Python CLI's `user add` (Grafana, new, before ThingsBoard and GitLab).
pub const SUPPORTED: [Service; 7] = [
    Service::InfluxDb,
    Service::RabbitMq,
    Service::MongoDb,
    Service::Postgres,
    Service::Grafana,
    Service::ThingsBoard,
    Service::GitLab,
];

/// The provisioners that could be built, and the services that cannot be provisioned now
/// (with the reason), in the order asked for.
#[derive(Default)]
pub struct Provisioners {
    pub ready: Vec<Box<dyn Provisioner>>,
    pub unavailable: Vec<(Service, String)>,
}

impl std::fmt::Debug for Provisioners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provisioners")
            .field("ready", &self.ready.len())
            .field("unavailable", &self.unavailable)
            .finish()
    }
}

/// The InfluxDB operator token: the `influx` CLI's config file
/// `config/influxdb/influx-configs` (what InfluxDB's setup wrote; the password store is kept in
/// step with it), else the password store (the file lost or removed).
async fn influx_token(
    project_dir: &Path,
    secrets: &PasswordStore,
) -> Result<Option<SecretString>, ProvisionError> {
    let name = password_store::INFLUXDB_OPERATOR_TOKEN;
    let file = project_dir
        .join("config")
        .join("influxdb")
        .join("influx-configs");
    let stored = secrets
        .get(name)
        .await
        .map_err(|e| ProvisionError::Failed {
            service: Service::InfluxDb.compose_name().to_owned(),
            detail: format!("cannot read the operator token: {e}"),
        })?;
    let Some(from_file) = services_influxdb::token_from_influx_configs(&file) else {
        return Ok(stored);
    };
    if stored
        .as_ref()
        .is_none_or(|s| s.expose_secret() != from_file.expose_secret())
        && let Err(e) = secrets.set(name, &from_file).await
    {
        tracing::warn!(error = %e, "could not keep the InfluxDB operator token in the password store");
    }
    Ok(Some(from_file))
}

/// The provisioner of each of `services` (see [`SUPPORTED`]). `docker_host` is the
/// engine MongoDB's shell runs through (`None`: the platform default socket).
///
/// # Errors
/// A service whose settings are invalid ([`ProvisionError::Config`] and the like). A
/// service that cannot be reached right now (no engine, no InfluxDB token) or is not
/// supported is listed in [`Provisioners::unavailable`] instead.
pub async fn provisioners_for(
    settings: &config::Settings,
    services: &[Service],
    secrets: &PasswordStore,
    docker_host: Option<&str>,
) -> Result<Provisioners, ProvisionError> {
    let mut out = Provisioners::default();
    for s in services {
        match s {
            Service::Postgres => out.ready.push(Box::new(
                services_postgres::PostgresProvisioner::from_settings(settings)?,
            )),
            Service::RabbitMq => out.ready.push(Box::new(
                services_rabbitmq::RabbitMqProvisioner::new(
                    services_rabbitmq::RabbitMqOptions::from_settings(settings)?,
                )?,
            )),
            Service::Grafana => out.ready.push(Box::new(
                services_grafana::GrafanaProvisioner::new(
                    services_grafana::GrafanaOptions::from_settings(settings)?,
                )?,
            )),
            Service::InfluxDb => match influx_token(settings.project_dir(), secrets).await? {
                Some(token) => out.ready.push(Box::new(
                    services_influxdb::InfluxDbProvisioner::new(
                        services_influxdb::InfluxDbOptions::from_settings(settings, token),
                    )?,
                )),
                None => out.unavailable.push((
                    *s,
                    "no operator token (INFLUXDB_OPERATOR_TOKEN in the password store, or config/influxdb/influx-configs)".to_owned(),
                )),
            },
            Service::MongoDb => match docker::BollardEngine::connect(docker_host).await {
                Ok(engine) => out.ready.push(Box::new(services_mongodb::MongoProvisioner::new(
                    services_mongodb::EngineExec::new(Arc::new(engine), &settings.project_name()),
                    services_mongodb::MongoOptions::from_settings(settings)?,
                ))),
                Err(e) => out.unavailable.push((*s, e.to_string())),
            },
            Service::ThingsBoard => {
                match services_thingsboard::ThingsBoard::from_settings(settings, secrets.clone()) {
                    Ok(tb) => out.ready.push(Box::new(
                        services_thingsboard::ThingsBoardProvisioner::new(tb),
                    )),
                    Err(e) => out.unavailable.push((*s, e.to_string())),
                }
            }
            Service::GitLab => {
                match services_gitlab::GitLab::from_settings(settings, secrets.clone()) {
                    Ok(gl) => {
                        // The container clears a changed password's expiry (gitlab-rails
                        // runner); without an engine, only that step fails.
                        let mut p = services_gitlab::GitLabProvisioner::new(gl);
                        if let Ok(engine) = docker::BollardEngine::connect(docker_host).await {
                            p = p.with_container(Arc::new(services_gitlab::ProjectContainer::new(
                                Arc::new(engine),
                                &settings.project_name(),
                            )));
                        }
                        out.ready.push(Box::new(p));
                    }
                    Err(e) => out.unavailable.push((*s, e.to_string())),
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use password_store::KeySource;
    use store::Store;
    use store::test_support::TestDb;

    #[tokio::test]
    async fn the_influx_token_follows_influx_configs_and_is_kept_in_the_store() {
        let db = TestDb::sqlite();
        let ps = PasswordStore::open(
            Store::open(&db.location()).await.unwrap(),
            &KeySource::Env(SecretString::from(
                "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            )),
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config/influxdb/influx-configs");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let name = password_store::INFLUXDB_OPERATOR_TOKEN;
        let token = |t: &str| {
            std::fs::write(
                &file,
                format!("[default]\n  url = \"http://localhost:8086\"\n  token = \"{t}\"\n  active = true\n"),
            )
            .unwrap();
        };
        let got = |v: Option<SecretString>| v.map(|s| s.expose_secret().to_owned());

        assert_eq!(got(influx_token(dir.path(), &ps).await.unwrap()), None);
        token("first-token");
        assert_eq!(
            got(influx_token(dir.path(), &ps).await.unwrap()).as_deref(),
            Some("first-token")
        );
        assert_eq!(
            got(ps.get(name).await.unwrap()).as_deref(),
            Some("first-token")
        );
        // A new setup wrote a new token: the file wins and the store follows.
        token("second-token");
        assert_eq!(
            got(influx_token(dir.path(), &ps).await.unwrap()).as_deref(),
            Some("second-token")
        );
        assert_eq!(
            got(ps.get(name).await.unwrap()).as_deref(),
            Some("second-token")
        );
        // The file gone: the stored token still serves.
        std::fs::remove_file(&file).unwrap();
        assert_eq!(
            got(influx_token(dir.path(), &ps).await.unwrap()).as_deref(),
            Some("second-token")
        );
    }
}
