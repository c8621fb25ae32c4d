//! Building the provisioners of the services `user add|list|remove` and the `users-sync` job
//! work on, from the project's settings: the one construction path both bases share.

use std::path::Path;
use std::sync::Arc;

use catalog::Service;
use password_store::PasswordStore;
use secrecy::SecretString;
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

/// The InfluxDB operator token: the password store, else the `influx` CLI's config file
/// `config/influxdb/influx-configs`.
async fn influx_token(
    project_dir: &Path,
    secrets: &PasswordStore,
) -> Result<Option<SecretString>, ProvisionError> {
    match secrets.get(password_store::INFLUXDB_OPERATOR_TOKEN).await {
        Ok(Some(t)) => return Ok(Some(t)),
        Ok(None) => {}
        Err(e) => {
            return Err(ProvisionError::Failed {
                service: Service::InfluxDb.compose_name().to_owned(),
                detail: format!("cannot read the operator token: {e}"),
            });
        }
    }
    let file = project_dir
        .join("config")
        .join("influxdb")
        .join("influx-configs");
    Ok(services_influxdb::token_from_influx_configs(&file))
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
                    Ok(gl) => out
                        .ready
                        .push(Box::new(services_gitlab::GitLabProvisioner::new(gl))),
                    Err(e) => out.unavailable.push((*s, e.to_string())),
                }
            }
        }
    }
    Ok(out)
}
