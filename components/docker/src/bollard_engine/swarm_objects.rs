//! Swarm services as a stack manages them (list by label, create-or-update, scale) and the
//! Swarm secrets and configs they mount. Inherent methods of [`BollardEngine`], like
//! `swarm.rs`.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use bollard::models::{ConfigSpec, SecretSpec, ServiceSpec};
use bollard::query_parameters as q;

use super::BollardEngine;
use super::swarm::SwarmServiceSpec;
use crate::DockerError;

/// A service as the manager reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmServiceInfo {
    pub id: String,
    pub name: String,
    pub image: String,
    /// Replicas wanted (`None`: not a replicated service, such as a job).
    pub replicas: Option<u64>,
    pub labels: BTreeMap<String, String>,
}

/// A Swarm secret or config (its name and id; the data never comes back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmObject {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// Id, name and labels of a secret or config as the engine lists them.
type RawObject = (
    Option<String>,
    Option<String>,
    Option<HashMap<String, String>>,
);

fn label_filter(label: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_owned(), vec![label.to_owned()])])
}

fn info(s: bollard::models::Service) -> SwarmServiceInfo {
    let spec = s.spec.unwrap_or_default();
    SwarmServiceInfo {
        id: s.id.unwrap_or_default(),
        name: spec.name.unwrap_or_default(),
        image: spec
            .task_template
            .and_then(|t| t.container_spec)
            .and_then(|c| c.image)
            .unwrap_or_default(),
        replicas: spec
            .mode
            .and_then(|m| m.replicated)
            .and_then(|r| r.replicas)
            .and_then(|r| u64::try_from(r).ok()),
        labels: spec.labels.unwrap_or_default().into_iter().collect(),
    }
}

impl BollardEngine {
    /// The services carrying label `label` (`key=value` or `key`).
    ///
    /// # Errors
    /// [`DockerError`] from the engine (not a manager).
    pub async fn list_services_labelled(
        &self,
        label: &str,
    ) -> Result<Vec<SwarmServiceInfo>, DockerError> {
        let list = self
            .docker
            .list_services(Some(q::ListServicesOptions {
                filters: Some(label_filter(label)),
                ..Default::default()
            }))
            .await
            .map_err(|e| self.map("service", e))?;
        Ok(list.into_iter().map(info).collect())
    }

    /// The names of the networks carrying label `label` (`key=value` or `key`).
    ///
    /// # Errors
    /// [`DockerError`] from the engine.
    pub async fn list_networks_labelled(&self, label: &str) -> Result<Vec<String>, DockerError> {
        let list = self
            .docker
            .list_networks(Some(q::ListNetworksOptions {
                filters: Some(label_filter(label)),
            }))
            .await
            .map_err(|e| self.map("network", e))?;
        Ok(list.into_iter().filter_map(|n| n.name).collect())
    }

    /// The service named `name`, `None` when there is none.
    ///
    /// # Errors
    /// [`DockerError`] from the engine.
    pub async fn inspect_swarm_service(
        &self,
        name: &str,
    ) -> Result<Option<SwarmServiceInfo>, DockerError> {
        match self.docker.inspect_service(name, None).await {
            Ok(s) => Ok(Some(info(s))),
            Err(e) => match self.map("service", e) {
                DockerError::NotFound { .. } => Ok(None),
                e => Err(e),
            },
        }
    }

    async fn update_spec(
        &self,
        name: &str,
        edit: impl FnOnce(ServiceSpec) -> ServiceSpec,
    ) -> Result<(), DockerError> {
        let s = self
            .docker
            .inspect_service(name, None)
            .await
            .map_err(|e| self.map("service", e))?;
        let version = s.version.and_then(|v| v.index).unwrap_or_default();
        let spec = edit(s.spec.unwrap_or_default());
        self.docker
            .update_service(
                name,
                spec,
                q::UpdateServiceOptions {
                    version: i32::try_from(version).unwrap_or(i32::MAX),
                    ..Default::default()
                },
                None,
            )
            .await
            .map_err(|e| self.map("service", e))?;
        Ok(())
    }

    /// Create the service of `spec`, or update the existing one of that name to `spec`
    /// (Swarm replaces its tasks only when the task template changed). Returns whether it
    /// was created.
    ///
    /// # Errors
    /// [`DockerError`] from the engine.
    pub async fn deploy_service(&self, spec: &SwarmServiceSpec) -> Result<bool, DockerError> {
        if self.inspect_swarm_service(&spec.name).await?.is_none() {
            self.create_service(spec).await?;
            return Ok(true);
        }
        let new = super::swarm_spec::service_spec(spec);
        self.update_spec(&spec.name, |_| new).await?;
        Ok(false)
    }

    /// Set the replicas of replicated service `name` (0: its tasks stop, the spec stays).
    ///
    /// # Errors
    /// [`DockerError::NotFound`] for an unknown service; [`DockerError`] from the engine.
    pub async fn scale_service(&self, name: &str, replicas: u64) -> Result<(), DockerError> {
        self.update_spec(name, |mut spec| {
            if let Some(r) = spec.mode.as_mut().and_then(|m| m.replicated.as_mut()) {
                r.replicas = Some(i64::try_from(replicas).unwrap_or(i64::MAX));
            }
            spec
        })
        .await
    }

    /// Create a Swarm secret (`secret`) or config named `name` holding `data`; returns its
    /// id. Secrets and configs are immutable: a new content needs a new name.
    ///
    /// # Errors
    /// [`DockerError::Conflict`] when the name is taken; [`DockerError`] from the engine.
    pub async fn create_swarm_object(
        &self,
        secret: bool,
        name: &str,
        data: &[u8],
        labels: &BTreeMap<String, String>,
    ) -> Result<String, DockerError> {
        let data = Some(base64::engine::general_purpose::STANDARD.encode(data));
        let labels = Some(labels.clone().into_iter().collect());
        let r = if secret {
            self.docker
                .create_secret(SecretSpec {
                    name: Some(name.to_owned()),
                    labels,
                    data,
                    ..Default::default()
                })
                .await
                .map_err(|e| self.map("secret", e))?
        } else {
            self.docker
                .create_config(ConfigSpec {
                    name: Some(name.to_owned()),
                    labels,
                    data,
                    ..Default::default()
                })
                .await
                .map_err(|e| self.map("config", e))?
        };
        Ok(r.id)
    }

    /// The secrets (`secret`) or configs carrying label `label`.
    ///
    /// # Errors
    /// [`DockerError`] from the engine.
    pub async fn list_swarm_objects(
        &self,
        secret: bool,
        label: &str,
    ) -> Result<Vec<SwarmObject>, DockerError> {
        let filters = Some(label_filter(label));
        let out: Vec<RawObject> = if secret {
            self.docker
                .list_secrets(Some(q::ListSecretsOptions { filters }))
                .await
                .map_err(|e| self.map("secret", e))?
                .into_iter()
                .map(|s| {
                    let spec = s.spec.unwrap_or_default();
                    (s.id, spec.name, spec.labels)
                })
                .collect()
        } else {
            self.docker
                .list_configs(Some(q::ListConfigsOptions { filters }))
                .await
                .map_err(|e| self.map("config", e))?
                .into_iter()
                .map(|c| {
                    let spec = c.spec.unwrap_or_default();
                    (c.id, spec.name, spec.labels)
                })
                .collect()
        };
        Ok(out
            .into_iter()
            .map(|(id, name, labels)| SwarmObject {
                id: id.unwrap_or_default(),
                name: name.unwrap_or_default(),
                labels: labels.unwrap_or_default().into_iter().collect(),
            })
            .collect())
    }

    /// Remove a secret (`secret`) or config by id or name.
    ///
    /// # Errors
    /// [`DockerError::NotFound`]; [`DockerError::Conflict`] while a service uses it.
    pub async fn remove_swarm_object(&self, secret: bool, id: &str) -> Result<(), DockerError> {
        if secret {
            self.docker
                .delete_secret(id)
                .await
                .map_err(|e| self.map("secret", e))
        } else {
            self.docker
                .delete_config(id)
                .await
                .map_err(|e| self.map("config", e))
        }
    }
}
