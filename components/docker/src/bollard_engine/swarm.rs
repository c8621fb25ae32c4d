//! Docker Swarm requests on bollard: init/join, nodes, overlay networks, services, tasks, and
//! moving an image between engines with no registry (export on one engine, load on another).
//! Inherent methods of [`BollardEngine`] (not part of [`crate::Engine`]): the swarm mode and
//! the test kit's two-node swarm use them; the compose engine does not.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{NetworkCreateRequest, NodeSpec, SwarmInitRequest, SwarmJoinRequest};
use bollard::query_parameters as q;
use futures_util::StreamExt;

use super::BollardEngine;
use crate::{DockerError, Engine as _};

/// A node of the swarm, as a manager lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmNode {
    pub id: String,
    pub hostname: String,
    /// `manager` or `worker`.
    pub role: String,
    /// `ready`, `down`, `unknown`, `disconnected`.
    pub state: String,
    /// `active`, `pause`, `drain`.
    pub availability: String,
    pub labels: BTreeMap<String, String>,
}

/// A replicated service to create (the subset of a service spec the callers need so far).
/// Its `Debug` shows the environment's keys only (the values hold admin passwords).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SwarmServiceSpec {
    pub name: String,
    pub image: String,
    /// The container's arguments after the image's entrypoint (empty: the image's CMD).
    pub args: Vec<String>,
    pub replicas: u32,
    pub labels: BTreeMap<String, String>,
    /// Placement constraints (`node.labels.dtaas.node==db`, `node.role==manager`).
    pub constraints: Vec<String>,
    /// Networks (names or ids) the tasks join.
    pub networks: Vec<String>,
    /// `endpoint_mode: dnsrr` (no virtual IP: the name resolves to the task IPs). Needed where
    /// the kernel has no IPVS.
    pub dnsrr: bool,
    /// The container's entrypoint (`ContainerSpec.Command`; empty: the image's).
    pub entrypoint: Vec<String>,
    /// `KEY=VALUE` environment entries.
    pub env: Vec<String>,
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub mounts: Vec<SwarmMount>,
    pub healthcheck: Option<crate::HealthSpec>,
    /// `None`: Swarm's default (`condition: any`).
    pub restart: Option<SwarmRestart>,
    /// The containers' labels; `None`: the same as [`SwarmServiceSpec::labels`].
    pub container_labels: Option<BTreeMap<String, String>>,
    /// Swarm secrets and configs mounted as files.
    pub files: Vec<SwarmFileRef>,
    /// Extra DNS names of the tasks on every network they join.
    pub aliases: Vec<String>,
    /// Ports published on the node that runs the task (`mode: host`, no routing mesh).
    pub host_ports: Vec<crate::PortSpec>,
    /// A `replicated-job` (runs to completion once per replica) instead of a service.
    pub job: bool,
    pub stop_grace_period: Option<std::time::Duration>,
}

impl std::fmt::Debug for SwarmServiceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            name,
            image,
            args,
            replicas,
            labels,
            constraints,
            networks,
            dnsrr,
            entrypoint,
            env,
            hostname,
            user,
            mounts,
            healthcheck,
            restart,
            container_labels,
            files,
            aliases,
            host_ports,
            job,
            stop_grace_period,
        } = self;
        f.debug_struct("SwarmServiceSpec")
            .field("name", name)
            .field("image", image)
            .field("args", args)
            .field("replicas", replicas)
            .field("labels", labels)
            .field("constraints", constraints)
            .field("networks", networks)
            .field("dnsrr", dnsrr)
            .field("entrypoint", entrypoint)
            .field("env_keys", &crate::types::env_keys(env))
            .field("hostname", hostname)
            .field("user", user)
            .field("mounts", mounts)
            .field("healthcheck", healthcheck)
            .field("restart", restart)
            .field("container_labels", container_labels)
            .field("files", files)
            .field("aliases", aliases)
            .field("host_ports", host_ports)
            .field("job", job)
            .field("stop_grace_period", stop_grace_period)
            .finish()
    }
}

/// A mount of a service's tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwarmMount {
    /// A path of the node running the task (it must exist there).
    Bind {
        source: String,
        target: String,
        read_only: bool,
    },
    /// A tmpfs of `size_bytes` (for `shm_size`: at `/dev/shm`).
    Tmpfs { target: String, size_bytes: i64 },
}

/// A restart policy (`deploy.restart_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwarmRestart {
    /// `any`, `on-failure` or `none`.
    pub condition: &'static str,
    /// 0: no limit.
    pub max_attempts: u32,
}

/// A Swarm secret or config a task sees as a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmFileRef {
    /// A secret (private: in memory on the task's node only) or a config.
    pub secret: bool,
    /// The secret's or config's name.
    pub name: String,
    /// Its id (the engine requires it besides the name; empty until it exists).
    pub id: String,
    /// The absolute path in the container.
    pub target: String,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// A task of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmTask {
    pub id: String,
    pub node_id: String,
    /// The state Swarm wants (`running`, `shutdown`).
    pub desired_state: String,
    /// The state the task is in (`new` ... `running`, `complete`, `failed`, `rejected`).
    pub state: String,
    /// Why the task failed, when it did.
    pub error: Option<String>,
    /// The task's container on its node, once it has one.
    pub container_id: Option<String>,
    /// The replica slot (1 for a one-replica service).
    pub slot: u64,
    /// When the task's state last changed (RFC 3339, as the engine reports it).
    pub since: String,
}

fn text<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

impl BollardEngine {
    /// Make this engine the first manager of a new swarm, advertised on `advertise_addr` (an
    /// IP address); returns the node id.
    ///
    /// # Errors
    /// [`DockerError`] from the engine (already part of a swarm is a `Other` error).
    pub async fn swarm_init(&self, advertise_addr: &str) -> Result<String, DockerError> {
        self.docker
            .init_swarm(SwarmInitRequest {
                advertise_addr: Some(advertise_addr.to_owned()),
                listen_addr: Some("0.0.0.0:2377".to_owned()),
                ..Default::default()
            })
            .await
            .map_err(|e| self.map("swarm", e))
    }

    /// The token a worker joins this manager's swarm with. A secret: never print or log it.
    ///
    /// # Errors
    /// [`DockerError`] from the engine (not a manager).
    pub async fn swarm_worker_token(&self) -> Result<String, DockerError> {
        let s = self
            .docker
            .inspect_swarm()
            .await
            .map_err(|e| self.map("swarm", e))?;
        s.join_tokens
            .and_then(|t| t.worker)
            .ok_or_else(|| DockerError::Other {
                message: format!("{}: the swarm has no worker join token", self.host()),
            })
    }

    /// Join the swarm whose manager listens on `manager_addr` (`ip:2377`) with `token`,
    /// advertising this node on `advertise_addr`.
    ///
    /// # Errors
    /// [`DockerError`] from the engine.
    pub async fn swarm_join(
        &self,
        manager_addr: &str,
        token: &str,
        advertise_addr: &str,
    ) -> Result<(), DockerError> {
        self.docker
            .join_swarm(SwarmJoinRequest {
                listen_addr: Some("0.0.0.0:2377".to_owned()),
                advertise_addr: Some(advertise_addr.to_owned()),
                remote_addrs: Some(vec![manager_addr.to_owned()]),
                join_token: Some(token.to_owned()),
                ..Default::default()
            })
            .await
            .map_err(|e| self.map("swarm", e))
    }

    /// The nodes of the swarm (a manager's view).
    ///
    /// # Errors
    /// [`DockerError`] from the engine (not a manager).
    pub async fn swarm_nodes(&self) -> Result<Vec<SwarmNode>, DockerError> {
        let nodes = self
            .docker
            .list_nodes(None::<q::ListNodesOptions>)
            .await
            .map_err(|e| self.map("node", e))?;
        Ok(nodes
            .into_iter()
            .map(|n| {
                let spec = n.spec.unwrap_or_default();
                SwarmNode {
                    id: n.id.unwrap_or_default(),
                    hostname: text(n.description.and_then(|d| d.hostname)),
                    role: text(spec.role),
                    state: text(n.status.and_then(|s| s.state)),
                    availability: text(spec.availability),
                    labels: spec.labels.unwrap_or_default().into_iter().collect(),
                }
            })
            .collect())
    }

    /// Add (or overwrite) labels of node `node` (id or hostname), keeping the others.
    ///
    /// # Errors
    /// [`DockerError::NotFound`] for an unknown node; [`DockerError`] from the engine.
    pub async fn swarm_label_node(
        &self,
        node: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), DockerError> {
        let n = self
            .docker
            .inspect_node(node)
            .await
            .map_err(|e| self.map("node", e))?;
        let version = n.version.and_then(|v| v.index).unwrap_or_default();
        let mut spec: NodeSpec = n.spec.unwrap_or_default();
        let mut have = spec.labels.take().unwrap_or_default();
        have.extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        spec.labels = Some(have);
        let id = n.id.unwrap_or_else(|| node.to_owned());
        self.docker
            .update_node(
                &id,
                spec,
                q::UpdateNodeOptions {
                    version: i64::try_from(version).unwrap_or(i64::MAX),
                },
            )
            .await
            .map_err(|e| self.map("node", e))
    }

    /// Create an attachable overlay network; returns its id.
    ///
    /// # Errors
    /// [`DockerError`] from the engine (not a manager, name taken).
    pub async fn create_overlay_network(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<String, DockerError> {
        let r = self
            .docker
            .create_network(NetworkCreateRequest {
                name: name.to_owned(),
                driver: Some("overlay".to_owned()),
                attachable: Some(true),
                labels: Some(labels.clone().into_iter().collect()),
                ..Default::default()
            })
            .await
            .map_err(|e| self.map("network", e))?;
        Ok(r.id)
    }

    /// Create a replicated service (or a replicated job); returns its id.
    ///
    /// # Errors
    /// [`DockerError`] from the engine.
    pub async fn create_service(&self, spec: &SwarmServiceSpec) -> Result<String, DockerError> {
        let r = self
            .docker
            .create_service(super::swarm_spec::service_spec(spec), None)
            .await
            .map_err(|e| self.map("service", e))?;
        Ok(r.id.unwrap_or_default())
    }

    /// Remove a service (its tasks stop on their nodes).
    ///
    /// # Errors
    /// [`DockerError::NotFound`] for an unknown service; [`DockerError`] from the engine.
    pub async fn remove_service(&self, name: &str) -> Result<(), DockerError> {
        self.docker
            .delete_service(name)
            .await
            .map_err(|e| self.map("service", e))
    }

    /// The tasks of service `service` (name or id), every state.
    ///
    /// # Errors
    /// [`DockerError`] from the engine.
    pub async fn service_tasks(&self, service: &str) -> Result<Vec<SwarmTask>, DockerError> {
        let mut filters = HashMap::new();
        filters.insert("service".to_owned(), vec![service.to_owned()]);
        let tasks = self
            .docker
            .list_tasks(Some(q::ListTasksOptions {
                filters: Some(filters),
            }))
            .await
            .map_err(|e| self.map("task", e))?;
        Ok(tasks
            .into_iter()
            .map(|t| {
                let status = t.status.unwrap_or_default();
                SwarmTask {
                    id: t.id.unwrap_or_default(),
                    node_id: t.node_id.unwrap_or_default(),
                    desired_state: text(t.desired_state),
                    state: text(status.state),
                    error: status.err.filter(|e| !e.is_empty()),
                    container_id: status.container_status.and_then(|c| c.container_id),
                    slot: t
                        .slot
                        .and_then(|s| u64::try_from(s).ok())
                        .unwrap_or_default(),
                    since: text(status.timestamp),
                }
            })
            .collect())
    }

    /// Copy local image `image` from this engine to engine `to` (export here, `POST
    /// /images/load` there, streamed: the tar is never held whole).
    ///
    /// # Errors
    /// [`DockerError::NotFound`] when the image is not here; [`DockerError`] from either engine.
    pub async fn copy_image_to(&self, image: &str, to: &BollardEngine) -> Result<(), DockerError> {
        self.docker
            .inspect_image(image)
            .await
            .map_err(|e| self.map("image", e))?;
        let tar = self.docker.export_image(image);
        let mut load = to.docker.import_image_stream(
            q::ImportImageOptions {
                quiet: true,
                ..Default::default()
            },
            tar,
            None,
        );
        while let Some(r) = load.next().await {
            r.map_err(|e| to.map("image", e))?;
        }
        Ok(())
    }
}
