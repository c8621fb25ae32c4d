//! The container spec of a service (labels, binds, network, ...) and its config hash,
//! and whether an existing container already runs it.

use std::collections::{BTreeMap, BTreeSet};

use docker::{ContainerInfo, ContainerSpec, Engine, HealthSpec};
use sha2::{Digest, Sha256};

use super::Compose;
use crate::ComposeError;
use crate::labels as l;
use crate::model::{Mount, ServiceDef};

/// The sha256 (hex) of a normalised service definition.
#[must_use]
pub fn config_hash(def: &ServiceDef) -> String {
    let json = serde_json::to_vec(def).unwrap_or_default();
    hex::encode(Sha256::digest(&json))
}

pub(super) fn hash_of<T: serde::Serialize>(v: &T) -> String {
    hex::encode(Sha256::digest(serde_json::to_vec(v).unwrap_or_default()))
}

impl<E: Engine> Compose<'_, E> {
    /// The container spec of a service, as `up` would create it.
    #[must_use]
    pub fn container_spec(&self, def: &ServiceDef, image_id: &str) -> ContainerSpec {
        ContainerSpec {
            name: self.project.container_name(&def.name),
            image: def.image.clone(),
            cmd: def.command.clone(),
            entrypoint: def.entrypoint.clone(),
            env: def
                .environment
                .iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
                .collect(),
            labels: self.labels_of(def, image_id),
            user: def.user.clone(),
            hostname: def.hostname.clone(),
            working_dir: None,
            ports: def.ports.clone(),
            binds: def.volumes.iter().map(|m| self.bind_of(m)).collect(),
            network: self.network_of(def),
            restart: def.restart.clone(),
            shm_size: def.shm_size,
            log_config: def.logging.clone(),
            healthcheck: def.healthcheck.as_ref().map(|h| HealthSpec {
                test: h.test.clone(),
                interval: h.interval,
                timeout: h.timeout,
                retries: h.retries,
                start_period: h.start_period,
            }),
            tty: false,
            stop_timeout: None,
        }
    }

    /// The service's own labels plus the ones Docker Compose v2 writes (and our hash).
    fn labels_of(&self, def: &ServiceDef, image_id: &str) -> BTreeMap<String, String> {
        let p = &self.project;
        let hash = config_hash(def);
        let mut labels = def.labels.clone();
        let depends = def
            .depends_on
            .iter()
            .map(|(name, d)| format!("{name}:{}:{}", d.condition.as_str(), d.restart))
            .collect::<Vec<_>>()
            .join(",");
        let files = p
            .config_files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(",");
        for (k, v) in [
            (l::PROJECT, p.name.clone()),
            (l::SERVICE, def.name.clone()),
            (l::CONTAINER_NUMBER, "1".to_owned()),
            (l::ONEOFF, "False".to_owned()),
            (l::CONFIG_HASH, hash.clone()),
            (l::DEPENDS_ON, depends),
            (l::IMAGE, image_id.to_owned()),
            (l::WORKING_DIR, p.working_dir.display().to_string()),
            (l::CONFIG_FILES, files),
            (l::VERSION, l::COMPOSE_VERSION.to_owned()),
            (l::DTAAS_HASH, hash),
        ] {
            labels.insert(k.to_owned(), v);
        }
        labels
    }

    /// The service's first network (by its engine name) with the service name and its
    /// aliases.
    fn network_of(&self, def: &ServiceDef) -> Option<(String, Vec<String>)> {
        let p = &self.project;
        def.networks.iter().next().map(|(key, aliases)| {
            let name = p
                .networks
                .get(key)
                .map_or_else(|| format!("{}_{key}", p.name), |n| n.name.clone());
            let mut all = vec![def.name.clone()];
            all.extend(aliases.iter().cloned());
            (name, all)
        })
    }

    /// A mount as a bind string `source:target[:ro]`, a named volume by its engine name.
    fn bind_of(&self, m: &Mount) -> String {
        let p = &self.project;
        match m {
            Mount::Bind {
                source,
                target,
                read_only,
            } => {
                format!(
                    "{}:{target}{}",
                    source.display(),
                    if *read_only { ":ro" } else { "" }
                )
            }
            Mount::Volume {
                key,
                target,
                read_only,
            } => {
                let name = p
                    .volumes
                    .get(key)
                    .map_or_else(|| format!("{}_{key}", p.name), |v| v.name.clone());
                format!("{name}:{target}{}", if *read_only { ":ro" } else { "" })
            }
        }
    }

    /// Whether an existing container already runs the desired configuration.
    pub(super) async fn up_to_date(
        &self,
        c: &ContainerInfo,
        spec: &ContainerSpec,
        image_id: &str,
    ) -> Result<bool, ComposeError> {
        if !c.image_id.is_empty() && c.image_id != image_id {
            return Ok(false);
        }
        if let Some(ours) = c.label(l::DTAAS_HASH) {
            return Ok(Some(ours) == spec.labels.get(l::DTAAS_HASH).map(String::as_str));
        }
        // Created by another tool (docker compose): compare what the engine shows.
        let inspected = self.engine.inspect_container(&c.id).await?;
        Ok(adoptable(&inspected, spec))
    }
}

/// Whether a container made by another tool already matches the desired spec, judged
/// from what `inspect` shows (image, command, entrypoint, user, environment, binds,
/// published ports, network).
fn adoptable(c: &ContainerInfo, spec: &ContainerSpec) -> bool {
    let Some(d) = &c.details else { return false };
    let same_set = |a: &[String], b: &[String]| {
        let a: BTreeSet<&String> = a.iter().collect();
        let b: BTreeSet<&String> = b.iter().collect();
        a == b
    };
    let env: BTreeMap<&str, &str> = d.env.iter().filter_map(|e| e.split_once('=')).collect();
    let env_ok = spec.env.iter().all(|e| {
        e.split_once('=')
            .is_some_and(|(k, v)| env.get(k) == Some(&v))
    });
    let mut want_ports = spec.ports.clone();
    want_ports.sort();
    let mut have_ports: Vec<_> = d
        .ports
        .iter()
        .cloned()
        .map(|mut p| {
            if p.host_ip.as_deref() == Some("") {
                p.host_ip = None;
            }
            p
        })
        .collect();
    have_ports.sort();
    c.image == spec.image
        && spec.cmd.as_ref().is_none_or(|cmd| cmd == &d.cmd)
        && spec.entrypoint.as_ref().is_none_or(|e| e == &d.entrypoint)
        && spec.user.as_deref().unwrap_or("") == d.user
        && env_ok
        && same_set(&spec.binds, &d.binds)
        && want_ports == have_ports
        && spec
            .network
            .as_ref()
            .is_none_or(|(n, _)| d.networks.contains(n))
}
