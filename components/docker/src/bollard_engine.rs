//! The engine interface on bollard: connection and the requests; `convert` maps between
//! bollard's types and ours, `exec` runs commands with attached streams.

mod convert;
mod exec;
mod swarm;
mod swarm_objects;
mod swarm_spec;

pub use self::swarm::{
    SwarmFileRef, SwarmMount, SwarmNode, SwarmRestart, SwarmServiceSpec, SwarmTask,
};
pub use self::swarm_objects::{SwarmObject, SwarmServiceInfo};

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters as q;
use futures_util::StreamExt;

use self::convert::{
    create_body, error_chain, listed_ports, log_chunk, map_error, port_specs, secs, to_map,
};
use crate::engine::label_filters;
use crate::{
    BoxStream, ContainerDetails, ContainerInfo, ContainerSpec, ContainerState, DockerError, Engine,
    EngineVersion, ExecInput, ExecOutput, ExecSink, ExecSpec, Health, ImageInfo, Listed, LogChunk,
    LogsOptions, NetworkInfo, NetworkSpec, PullProgress, VolumeInfo, VolumeSpec, split_image_ref,
};

/// The default engine address when no `DOCKER_HOST` is given.
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";
/// Per-request limit; long enough for a slow `stop` with a large timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3600);
/// How long the first contact (version negotiation) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The real Docker engine, through bollard.
#[derive(Clone)]
pub struct BollardEngine {
    docker: Docker,
    host: String,
}

impl fmt::Debug for BollardEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BollardEngine")
            .field("host", &redact::url(&self.host))
            .finish_non_exhaustive()
    }
}

impl BollardEngine {
    /// Connect to `host` (a `DOCKER_HOST` value: `unix://`, `tcp://`, `https://`, `ssh://`;
    /// the local socket when `None`) and negotiate the API version.
    ///
    /// # Errors
    /// [`DockerError::EngineUnreachable`] when the engine does not answer.
    pub async fn connect(host: Option<&str>) -> Result<BollardEngine, DockerError> {
        let host = host
            .filter(|h| !h.trim().is_empty())
            .unwrap_or(DEFAULT_HOST)
            .to_owned();
        let unreachable = |reason: String| DockerError::EngineUnreachable {
            host: redact::url(&host),
            reason: redact::text(&reason),
        };
        let docker = Docker::connect_with_host(&host)
            .map_err(|e| unreachable(e.to_string()))?
            .with_timeout(REQUEST_TIMEOUT);
        let docker = tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version())
            .await
            .map_err(|_| unreachable(format!("no answer within {}s", CONNECT_TIMEOUT.as_secs())))?
            .map_err(|e| unreachable(error_chain(&e)))?;
        Ok(BollardEngine { docker, host })
    }

    fn map(&self, what: &str, e: BollardError) -> DockerError {
        map_error(&self.host, what, e)
    }

    /// The name of a running container that publishes host `port`, if any.
    async fn port_holder(&self, port: u16) -> Option<String> {
        let mut filters = HashMap::new();
        filters.insert("publish".to_owned(), vec![port.to_string()]);
        let list = self
            .docker
            .list_containers(Some(q::ListContainersOptions {
                all: false,
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .ok()?;
        list.into_iter()
            .find_map(|c| c.names?.into_iter().next())
            .map(|n| n.trim_start_matches('/').to_owned())
    }
}

impl Engine for BollardEngine {
    /// `DOCKER_HOST` as messages show it ([`redact::url`]).
    fn host(&self) -> String {
        redact::url(&self.host)
    }

    async fn version(&self) -> Result<EngineVersion, DockerError> {
        let v = self
            .docker
            .version()
            .await
            .map_err(|e| self.map("engine", e))?;
        Ok(EngineVersion {
            version: v.version.unwrap_or_default(),
            api_version: v.api_version.unwrap_or_default(),
            os: v.os.unwrap_or_default(),
            arch: v.arch.unwrap_or_default(),
        })
    }

    async fn list_containers(
        &self,
        labels: &[(&str, Option<&str>)],
    ) -> Result<Vec<ContainerInfo>, DockerError> {
        let mut filters = HashMap::new();
        if !labels.is_empty() {
            filters.insert("label".to_owned(), label_filters(labels));
        }
        let list = self
            .docker
            .list_containers(Some(q::ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .map_err(|e| self.map("container", e))?;
        Ok(list
            .into_iter()
            .map(|c| {
                let status = c.status.unwrap_or_default();
                ContainerInfo {
                    id: c.id.unwrap_or_default(),
                    name: c
                        .names
                        .and_then(|n| n.into_iter().next())
                        .unwrap_or_default()
                        .trim_start_matches('/')
                        .to_owned(),
                    image: c.image.unwrap_or_default(),
                    image_id: c.image_id.unwrap_or_default(),
                    state: ContainerState::parse(
                        &c.state.map(|s| s.to_string()).unwrap_or_default(),
                    ),
                    health: Health::from_status_text(&status),
                    exit_code: None,
                    labels: to_map(c.labels),
                    details: None,
                    listed: Some(Listed {
                        published: listed_ports(c.ports.unwrap_or_default()),
                        status,
                    }),
                }
            })
            .collect())
    }

    async fn inspect_container(&self, id: &str) -> Result<ContainerInfo, DockerError> {
        let c = self
            .docker
            .inspect_container(id, None::<q::InspectContainerOptions>)
            .await
            .map_err(|e| self.map("container", e))?;
        let state = c.state.unwrap_or_default();
        let config = c.config.unwrap_or_default();
        let host_config = c.host_config.unwrap_or_default();
        let ports = port_specs(host_config.port_bindings.unwrap_or_default());
        let network_settings = c.network_settings.unwrap_or_default();
        let published = port_specs(network_settings.ports.clone().unwrap_or_default());
        let details = ContainerDetails {
            env: config.env.unwrap_or_default(),
            cmd: config.cmd.unwrap_or_default(),
            entrypoint: config.entrypoint.unwrap_or_default(),
            user: config.user.unwrap_or_default(),
            // From the mounts, not HostConfig.Binds: compose creates binds as mounts.
            binds: c
                .mounts
                .unwrap_or_default()
                .into_iter()
                .filter_map(|m| {
                    let source = if m.typ.as_deref() == Some("volume") {
                        m.name?
                    } else {
                        m.source?
                    };
                    let ro = if m.rw == Some(false) { ":ro" } else { "" };
                    Some(format!("{source}:{}{ro}", m.destination?))
                })
                .collect(),
            ports,
            networks: network_settings
                .networks
                .map(|n| n.into_keys().collect())
                .unwrap_or_default(),
            started_at: state
                .started_at
                .clone()
                .filter(|t| !t.is_empty() && !t.starts_with("0001-")),
            restart_count: c.restart_count.unwrap_or(0),
            published,
        };
        Ok(ContainerInfo {
            id: c.id.unwrap_or_default(),
            name: c
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_owned(),
            image: config.image.unwrap_or_default(),
            image_id: c.image.unwrap_or_default(),
            state: ContainerState::parse(&state.status.map(|s| s.to_string()).unwrap_or_default()),
            health: state
                .health
                .and_then(|h| h.status)
                .and_then(|s| Health::parse(s.as_ref())),
            exit_code: state.exit_code,
            labels: to_map(config.labels),
            details: Some(details),
            listed: None,
        })
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, DockerError> {
        let options = q::CreateContainerOptions {
            name: Some(spec.name.clone()),
            ..Default::default()
        };
        match self
            .docker
            .create_container(Some(options), create_body(spec))
            .await
        {
            Ok(r) => Ok(r.id),
            Err(BollardError::DockerResponseServerError {
                status_code: 404,
                message,
            }) if message.contains("image") => Err(DockerError::ImageMissing {
                image: spec.image.clone(),
                reason: message,
            }),
            Err(e) => Err(self.map("container", e)),
        }
    }

    async fn start_container(&self, id: &str) -> Result<(), DockerError> {
        match self
            .docker
            .start_container(id, None::<q::StartContainerOptions>)
            .await
            .map_err(|e| self.map("container", e))
        {
            Err(DockerError::PortAllocated { port, .. }) => Err(DockerError::PortAllocated {
                port,
                holder: self.port_holder(port).await,
            }),
            other => other,
        }
    }

    async fn stop_container(&self, id: &str, timeout: Option<Duration>) -> Result<(), DockerError> {
        self.docker
            .stop_container(
                id,
                Some(q::StopContainerOptions {
                    t: secs(timeout),
                    signal: None,
                }),
            )
            .await
            .map_err(|e| self.map("container", e))
    }

    async fn restart_container(
        &self,
        id: &str,
        timeout: Option<Duration>,
    ) -> Result<(), DockerError> {
        self.docker
            .restart_container(
                id,
                Some(q::RestartContainerOptions {
                    t: secs(timeout),
                    signal: None,
                }),
            )
            .await
            .map_err(|e| self.map("container", e))
    }

    async fn kill_container(&self, id: &str, signal: Option<&str>) -> Result<(), DockerError> {
        self.docker
            .kill_container(
                id,
                Some(q::KillContainerOptions {
                    signal: signal.unwrap_or("SIGKILL").to_owned(),
                }),
            )
            .await
            .map_err(|e| self.map("container", e))
    }

    async fn remove_container(
        &self,
        id: &str,
        force: bool,
        volumes: bool,
    ) -> Result<(), DockerError> {
        self.docker
            .remove_container(
                id,
                Some(q::RemoveContainerOptions {
                    v: volumes,
                    force,
                    link: false,
                }),
            )
            .await
            .map_err(|e| self.map("container", e))
    }

    async fn wait_container(&self, id: &str) -> Result<i64, DockerError> {
        let mut stream = self
            .docker
            .wait_container(id, None::<q::WaitContainerOptions>);
        match stream.next().await {
            Some(Ok(r)) => Ok(r.status_code),
            Some(Err(BollardError::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) => Err(self.map("container", e)),
            None => self
                .inspect_container(id)
                .await
                .map(|c| c.exit_code.unwrap_or(0)),
        }
    }

    fn logs(&self, id: &str, options: &LogsOptions) -> BoxStream<Result<LogChunk, DockerError>> {
        let host = self.host.clone();
        let stream = self
            .docker
            .logs(
                id,
                Some(q::LogsOptions {
                    follow: options.follow,
                    stdout: true,
                    stderr: true,
                    tail: options
                        .tail
                        .map_or_else(|| "all".to_owned(), |n| n.to_string()),
                    since: options
                        .since
                        .map_or(0, |s| i32::try_from(s).unwrap_or(i32::MAX)),
                    timestamps: options.timestamps,
                    ..Default::default()
                }),
            )
            .map(move |r| match r {
                Ok(out) => Ok(log_chunk(out)),
                Err(e) => Err(map_error(&host, "container", e)),
            });
        Box::pin(stream)
    }

    async fn exec(&self, id: &str, spec: &ExecSpec) -> Result<ExecOutput, DockerError> {
        let stdin = spec
            .stdin
            .clone()
            .map(|b| Box::new(std::io::Cursor::new(b)) as ExecInput);
        let mut stdout = Vec::new();
        let mut collect = |b: &[u8]| {
            stdout.extend_from_slice(b);
            Ok(())
        };
        let mut out = self.exec_streaming(id, spec, stdin, &mut collect).await?;
        out.stdout = stdout;
        Ok(out)
    }

    async fn exec_streaming(
        &self,
        id: &str,
        spec: &ExecSpec,
        stdin: Option<ExecInput>,
        sink: ExecSink<'_>,
    ) -> Result<ExecOutput, DockerError> {
        self.exec_attached(id, spec, stdin, sink).await
    }

    async fn inspect_network(&self, name: &str) -> Result<NetworkInfo, DockerError> {
        let n = self
            .docker
            .inspect_network(name, None::<q::InspectNetworkOptions>)
            .await
            .map_err(|e| self.map("network", e))?;
        Ok(NetworkInfo {
            id: n.id.unwrap_or_default(),
            name: n.name.unwrap_or_default(),
            labels: to_map(n.labels),
        })
    }

    async fn create_network(&self, spec: &NetworkSpec) -> Result<String, DockerError> {
        let r = self
            .docker
            .create_network(NetworkCreateRequest {
                name: spec.name.clone(),
                driver: Some(spec.driver.clone().unwrap_or_else(|| "bridge".to_owned())),
                labels: Some(
                    spec.labels
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                ),
                ..Default::default()
            })
            .await
            .map_err(|e| self.map("network", e))?;
        Ok(r.id)
    }

    async fn remove_network(&self, name: &str) -> Result<(), DockerError> {
        self.docker
            .remove_network(name)
            .await
            .map_err(|e| self.map("network", e))
    }

    async fn inspect_volume(&self, name: &str) -> Result<VolumeInfo, DockerError> {
        let v = self
            .docker
            .inspect_volume(name)
            .await
            .map_err(|e| self.map("volume", e))?;
        Ok(VolumeInfo {
            name: v.name,
            labels: v.labels.into_iter().collect(),
        })
    }

    async fn create_volume(&self, spec: &VolumeSpec) -> Result<VolumeInfo, DockerError> {
        let v = self
            .docker
            .create_volume(VolumeCreateRequest {
                name: Some(spec.name.clone()),
                labels: Some(
                    spec.labels
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                ),
                ..Default::default()
            })
            .await
            .map_err(|e| self.map("volume", e))?;
        Ok(VolumeInfo {
            name: v.name,
            labels: v.labels.into_iter().collect(),
        })
    }

    async fn remove_volume(&self, name: &str, force: bool) -> Result<(), DockerError> {
        self.docker
            .remove_volume(name, Some(q::RemoveVolumeOptions { force }))
            .await
            .map_err(|e| self.map("volume", e))
    }

    async fn list_volumes(
        &self,
        labels: &[(&str, Option<&str>)],
    ) -> Result<Vec<VolumeInfo>, DockerError> {
        let mut filters = HashMap::new();
        if !labels.is_empty() {
            filters.insert("label".to_owned(), label_filters(labels));
        }
        let r = self
            .docker
            .list_volumes(Some(q::ListVolumesOptions {
                filters: Some(filters),
            }))
            .await
            .map_err(|e| self.map("volume", e))?;
        Ok(r.volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| VolumeInfo {
                name: v.name,
                labels: v.labels.into_iter().collect(),
            })
            .collect())
    }

    async fn inspect_image(&self, image: &str) -> Result<ImageInfo, DockerError> {
        let i = self
            .docker
            .inspect_image(image)
            .await
            .map_err(|e| self.map("image", e))?;
        Ok(ImageInfo {
            id: i.id.unwrap_or_default(),
        })
    }

    fn pull_image(&self, image: &str) -> BoxStream<Result<PullProgress, DockerError>> {
        let (repo, tag) = split_image_ref(image);
        let image = image.to_owned();
        let host = self.host.clone();
        let stream = self
            .docker
            .create_image(
                Some(q::CreateImageOptions {
                    from_image: Some(repo),
                    tag: (!tag.is_empty()).then_some(tag),
                    ..Default::default()
                }),
                None,
                None,
            )
            .map(move |r| match r {
                Ok(info) => {
                    if let Some(err) = info.error_detail.and_then(|d| d.message) {
                        return Err(DockerError::ImageMissing {
                            image: image.clone(),
                            reason: err,
                        });
                    }
                    let detail = info.progress_detail.unwrap_or_default();
                    Ok(PullProgress {
                        id: info.id,
                        status: info.status.unwrap_or_default(),
                        current: detail.current,
                        total: detail.total,
                    })
                }
                Err(e) => match map_error(&host, "image", e) {
                    e @ DockerError::EngineUnreachable { .. } => Err(e),
                    e => Err(DockerError::ImageMissing {
                        image: image.clone(),
                        reason: match e {
                            DockerError::NotFound { message, .. }
                            | DockerError::Other { message }
                            | DockerError::Conflict { message } => message,
                            other => other.to_string(),
                        },
                    }),
                },
            });
        Box::pin(stream)
    }
}
