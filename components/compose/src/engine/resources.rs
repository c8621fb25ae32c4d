//! The networks, volumes and images the services need (created or pulled when missing,
//! with Docker Compose v2's labels), and the removal of the project's unused networks.

use std::collections::{BTreeMap, HashMap};

use docker::{DockerError, Engine, NetworkSpec, VolumeSpec};
use futures_util::StreamExt;

use super::Compose;
use super::spec::hash_of;
use crate::labels as l;
use crate::model::Mount;
use crate::{ComposeError, Progress, ProgressSink};

impl<E: Engine> Compose<'_, E> {
    /// The labels of a network or volume the project creates: its own, plus the project,
    /// its key (`(l::NETWORK | l::VOLUME, key)`), the config hash and the compose version.
    fn resource_labels<T: serde::Serialize>(
        &self,
        own: &BTreeMap<String, String>,
        (kind, key): (&str, &str),
        def: &T,
    ) -> BTreeMap<String, String> {
        let mut labels = own.clone();
        labels.insert(l::PROJECT.into(), self.project.name.clone());
        labels.insert(kind.into(), key.to_owned());
        labels.insert(l::CONFIG_HASH.into(), hash_of(def));
        labels.insert(l::VERSION.into(), l::COMPOSE_VERSION.into());
        labels
    }

    pub(super) async fn ensure_networks(&self, services: &[String]) -> Result<(), ComposeError> {
        let mut keys: Vec<&String> = Vec::new();
        for s in services {
            for k in self.project.services[s].networks.keys() {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        for key in keys {
            let Some(net) = self.project.networks.get(key) else {
                continue;
            };
            match self.engine.inspect_network(&net.name).await {
                Ok(found) => {
                    if found
                        .labels
                        .get(l::PROJECT)
                        .is_some_and(|p| p != &self.project.name)
                    {
                        tracing::warn!(network = %net.name, "network exists but was created for another project");
                    }
                }
                Err(DockerError::NotFound { .. }) if net.external => {
                    return Err(ComposeError::Invalid {
                        file: self
                            .project
                            .config_files
                            .first()
                            .cloned()
                            .unwrap_or_default(),
                        key: format!("networks.{key}"),
                        message: format!("external network {} does not exist", net.name),
                    });
                }
                Err(DockerError::NotFound { .. }) => {
                    let labels = self.resource_labels(&net.labels, (l::NETWORK, key), net);
                    let spec = NetworkSpec {
                        name: net.name.clone(),
                        driver: net.driver.clone(),
                        labels,
                    };
                    match self.engine.create_network(&spec).await {
                        Ok(_) | Err(DockerError::Conflict { .. }) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    pub(super) async fn ensure_volumes(&self, services: &[String]) -> Result<(), ComposeError> {
        for s in services {
            for m in &self.project.services[s].volumes {
                let Mount::Volume { key, .. } = m else {
                    continue;
                };
                let Some(vol) = self.project.volumes.get(key) else {
                    continue;
                };
                match self.engine.inspect_volume(&vol.name).await {
                    Ok(_) => {}
                    Err(DockerError::NotFound { .. }) if !vol.external => {
                        let labels = self.resource_labels(&vol.labels, (l::VOLUME, key), vol);
                        self.engine
                            .create_volume(&VolumeSpec {
                                name: vol.name.clone(),
                                labels,
                            })
                            .await?;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    /// Image ids by image reference, pulling the missing ones.
    pub(super) async fn ensure_images(
        &self,
        services: &[String],
        pulled: &mut Vec<String>,
        progress: &ProgressSink,
    ) -> Result<HashMap<String, String>, ComposeError> {
        let mut ids = HashMap::new();
        for s in services {
            let image = &self.project.services[s].image;
            if ids.contains_key(image) {
                continue;
            }
            let id = match self.engine.inspect_image(image).await {
                Ok(i) => i.id,
                Err(DockerError::NotFound { .. }) => {
                    progress.emit(Progress::PullStarted {
                        image: image.clone(),
                    });
                    let mut stream = self.engine.pull_image(image);
                    while let Some(ev) = stream.next().await {
                        let ev = ev.map_err(|e| ComposeError::Service {
                            service: s.clone(),
                            source: Box::new(e.into()),
                        })?;
                        if let Some(layer) = ev.id {
                            progress.emit(Progress::PullLayer {
                                image: image.clone(),
                                layer,
                                status: ev.status,
                                current: ev.current.and_then(|c| u64::try_from(c).ok()),
                                total: ev.total.and_then(|t| u64::try_from(t).ok()),
                            });
                        }
                    }
                    progress.emit(Progress::PullDone {
                        image: image.clone(),
                    });
                    pulled.push(image.clone());
                    self.engine
                        .inspect_image(image)
                        .await
                        .map_err(|e| match e {
                            DockerError::NotFound { message, .. } => DockerError::ImageMissing {
                                image: image.clone(),
                                reason: message,
                            },
                            e => e,
                        })?
                        .id
                }
                Err(e) => return Err(e.into()),
            };
            ids.insert(image.clone(), id);
        }
        Ok(ids)
    }

    /// Remove the project's own networks once none of its containers is left, as
    /// `docker compose down` does. External networks, networks another project created and
    /// networks still used by other containers stay. Returns the removed names.
    ///
    /// # Errors
    /// Engine errors other than "not found" and "in use".
    pub async fn remove_networks_if_unused(&self) -> Result<Vec<String>, ComposeError> {
        if !self.ps().await?.is_empty() {
            return Ok(Vec::new());
        }
        let mut removed = Vec::new();
        for net in self.project.networks.values().filter(|n| !n.external) {
            match self.engine.inspect_network(&net.name).await {
                Ok(found) if found.labels.get(l::PROJECT) == Some(&self.project.name) => {}
                Ok(_) | Err(DockerError::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
            match self.engine.remove_network(&net.name).await {
                Ok(()) => removed.push(net.name.clone()),
                Err(DockerError::NotFound { .. }) => {}
                // "has active endpoints": another container (e.g. dtaas-jobs) still uses it.
                Err(e @ (DockerError::Conflict { .. } | DockerError::Other { .. })) => {
                    tracing::info!(network = %net.name, error = %e, "network kept");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(removed)
    }
}
