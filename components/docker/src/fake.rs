use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::engine::labels_match;
use crate::{
    BoxStream, ContainerDetails, ContainerInfo, ContainerSpec, ContainerState, DockerError, Engine,
    EngineVersion, ExecInput, ExecOutput, ExecSink, ExecSpec, Health, ImageInfo, Listed, LogChunk,
    LogsOptions, NetworkInfo, NetworkSpec, PullProgress, VolumeInfo, VolumeSpec,
};

/// Something the fake engine was asked to do, recorded in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeEvent {
    Create(String),
    Start(String),
    Stop(String),
    Restart(String),
    Kill(String),
    Remove(String),
    CreateNetwork(String),
    RemoveNetwork(String),
    Pull(String),
    Exec(String, Vec<String>),
}

#[derive(Debug, Clone)]
struct FakeContainer {
    info: ContainerInfo,
    spec: ContainerSpec,
}

#[derive(Debug, Default)]
struct State {
    containers: Vec<FakeContainer>,
    networks: BTreeMap<String, NetworkInfo>,
    volumes: BTreeMap<String, VolumeInfo>,
    images: BTreeMap<String, String>,
    pullable: Vec<String>,
    health_after_start: HashMap<String, Health>,
    exit_on_start: HashMap<String, i64>,
    start_errors: HashMap<String, DockerError>,
    exec_results: HashMap<String, ExecOutput>,
    exec_inputs: HashMap<String, Vec<u8>>,
    events: Vec<FakeEvent>,
    next_id: u64,
    unreachable: bool,
    inspects: usize,
}

/// An in-memory [`Engine`] for unit tests: containers change state instantly, images
/// exist when added with [`FakeEngine::add_image`], and every call is recorded.
#[derive(Debug, Clone, Default)]
pub struct FakeEngine {
    state: Arc<Mutex<State>>,
}

impl FakeEngine {
    /// An empty engine.
    #[must_use]
    pub fn new() -> FakeEngine {
        FakeEngine::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Make an image present locally.
    pub fn add_image(&self, image: &str) {
        let mut s = self.lock();
        let id = format!("sha256:{:064x}", s.images.len() + 1);
        s.images.insert(image.to_owned(), id);
    }

    /// Let a pull of `image` succeed (it is then present).
    pub fn allow_pull(&self, image: &str) {
        self.lock().pullable.push(image.to_owned());
    }

    /// After start, the container named `name` reports this health.
    pub fn set_health_after_start(&self, name: &str, health: Health) {
        self.lock()
            .health_after_start
            .insert(name.to_owned(), health);
    }

    /// After start, containers whose name starts with `prefix` exit at once with `code`.
    pub fn set_exit_on_start(&self, prefix: &str, code: i64) {
        self.lock().exit_on_start.insert(prefix.to_owned(), code);
    }

    /// Starting the container named `name` fails with `error`.
    pub fn fail_start(&self, name: &str, error: DockerError) {
        self.lock().start_errors.insert(name.to_owned(), error);
    }

    /// Every call fails with [`DockerError::EngineUnreachable`].
    pub fn set_unreachable(&self) {
        self.lock().unreachable = true;
    }

    /// The output an exec in the container named `name` returns.
    pub fn set_exec_result(&self, name: &str, output: ExecOutput) {
        self.lock().exec_results.insert(name.to_owned(), output);
    }

    /// The stdin the last exec in container `name` was given, if any.
    pub fn last_exec_input(&self, name: &str) -> Option<Vec<u8>> {
        self.lock().exec_inputs.get(name).cloned()
    }

    /// Put a container in place as if another tool created it.
    pub fn insert_container(&self, spec: &ContainerSpec, state: ContainerState) -> String {
        let mut s = self.lock();
        s.next_id += 1;
        let id = format!("{:064x}", s.next_id);
        let image_id = s.images.get(&spec.image).cloned().unwrap_or_default();
        s.containers.push(FakeContainer {
            info: ContainerInfo {
                id: id.clone(),
                name: spec.name.clone(),
                image: spec.image.clone(),
                image_id,
                state,
                health: None,
                exit_code: None,
                labels: spec.labels.clone(),
                details: None,
                listed: None,
            },
            spec: spec.clone(),
        });
        id
    }

    /// Change a container's state (to simulate a crash or an outside `docker stop`).
    pub fn set_state(&self, name: &str, state: ContainerState) {
        let mut s = self.lock();
        if let Some(c) = s.containers.iter_mut().find(|c| c.info.name == name) {
            c.info.state = state;
        }
    }

    /// The calls so far.
    #[must_use]
    pub fn events(&self) -> Vec<FakeEvent> {
        self.lock().events.clone()
    }

    /// How many `inspect_container` calls were made so far.
    #[must_use]
    pub fn inspect_calls(&self) -> usize {
        self.lock().inspects
    }

    /// Forget the recorded calls.
    pub fn clear_events(&self) {
        self.lock().events.clear();
    }

    /// The spec a container was created with.
    #[must_use]
    pub fn spec(&self, name: &str) -> Option<ContainerSpec> {
        self.lock()
            .containers
            .iter()
            .find(|c| c.info.name == name)
            .map(|c| c.spec.clone())
    }

    /// Names of the networks that exist.
    #[must_use]
    pub fn network_names(&self) -> Vec<String> {
        self.lock().networks.keys().cloned().collect()
    }

    fn check(&self) -> Result<MutexGuard<'_, State>, DockerError> {
        let s = self.lock();
        if s.unreachable {
            return Err(DockerError::EngineUnreachable {
                host: "fake://".into(),
                reason: "the fake engine is unreachable".into(),
            });
        }
        Ok(s)
    }
}

fn not_found(what: &str, id: &str) -> DockerError {
    DockerError::NotFound {
        what: what.to_owned(),
        message: format!("No such {what}: {id}"),
    }
}

/// What the list says of a fake container: its ports while it runs, and the status text
/// as the engine words it (upstream: github.com/moby/moby v20.10.24 container/state.go
/// `State.String`; the fake's containers have been up or down for 5 seconds).
fn listed(c: &FakeContainer) -> Listed {
    let i = &c.info;
    let status = match i.state {
        ContainerState::Running => match i.health {
            Some(h) => format!("Up 5 seconds ({})", health_text(h)),
            None => "Up 5 seconds".to_owned(),
        },
        ContainerState::Paused => "Up 5 seconds (Paused)".to_owned(),
        ContainerState::Restarting => {
            format!("Restarting ({}) 5 seconds ago", i.exit_code.unwrap_or(1))
        }
        ContainerState::Exited => format!("Exited ({}) 5 seconds ago", i.exit_code.unwrap_or(0)),
        ContainerState::Dead => "Dead".to_owned(),
        ContainerState::Removing => "Removal In Progress".to_owned(),
        _ => "Created".to_owned(),
    };
    Listed {
        published: if i.state == ContainerState::Running {
            c.spec.ports.clone()
        } else {
            Vec::new()
        },
        status,
    }
}

/// The health as `State.String` words it (`health: starting` while starting).
fn health_text(h: Health) -> &'static str {
    match h {
        Health::Starting => "health: starting",
        Health::Healthy => "healthy",
        Health::Unhealthy => "unhealthy",
    }
}

fn find<'a>(s: &'a mut State, id: &str) -> Result<&'a mut FakeContainer, DockerError> {
    s.containers
        .iter_mut()
        .find(|c| c.info.id == id || c.info.name == id)
        .ok_or_else(|| not_found("container", id))
}

impl Engine for FakeEngine {
    fn host(&self) -> String {
        "fake://".into()
    }

    async fn version(&self) -> Result<EngineVersion, DockerError> {
        drop(self.check()?);
        Ok(EngineVersion {
            version: "0.0.0-fake".into(),
            api_version: "1.41".into(),
            os: "linux".into(),
            arch: "amd64".into(),
        })
    }

    async fn list_containers(
        &self,
        labels: &[(&str, Option<&str>)],
    ) -> Result<Vec<ContainerInfo>, DockerError> {
        let s = self.check()?;
        Ok(s.containers
            .iter()
            .filter(|c| labels_match(&c.info.labels, labels))
            .map(|c| ContainerInfo {
                listed: Some(listed(c)),
                ..c.info.clone()
            })
            .collect())
    }

    async fn inspect_container(&self, id: &str) -> Result<ContainerInfo, DockerError> {
        let mut s = self.check()?;
        s.inspects += 1;
        find(&mut s, id).map(|c| {
            let mut info = c.info.clone();
            info.details = Some(ContainerDetails {
                env: c.spec.env.clone(),
                cmd: c.spec.cmd.clone().unwrap_or_default(),
                entrypoint: c.spec.entrypoint.clone().unwrap_or_default(),
                user: c.spec.user.clone().unwrap_or_default(),
                binds: c.spec.binds.clone(),
                ports: c.spec.ports.clone(),
                networks: c.spec.network.iter().map(|(n, _)| n.clone()).collect(),
                started_at: None,
                restart_count: 0,
                published: if c.info.state == ContainerState::Running {
                    c.spec.ports.clone()
                } else {
                    Vec::new()
                },
            });
            info
        })
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, DockerError> {
        let mut s = self.check()?;
        if !s.images.contains_key(&spec.image) {
            return Err(DockerError::ImageMissing {
                image: spec.image.clone(),
                reason: format!("No such image: {}", spec.image),
            });
        }
        if s.containers.iter().any(|c| c.info.name == spec.name) {
            return Err(DockerError::Conflict {
                message: format!("The container name \"/{}\" is already in use", spec.name),
            });
        }
        s.events.push(FakeEvent::Create(spec.name.clone()));
        drop(s);
        Ok(self.insert_container(spec, ContainerState::Created))
    }

    async fn start_container(&self, id: &str) -> Result<(), DockerError> {
        let mut s = self.check()?;
        let name = find(&mut s, id)?.info.name.clone();
        s.events.push(FakeEvent::Start(name.clone()));
        if let Some(e) = s.start_errors.get(&name).cloned() {
            return Err(e);
        }
        let health = s.health_after_start.get(&name).copied();
        let exit = s
            .exit_on_start
            .iter()
            .find(|(prefix, _)| name.starts_with(prefix.as_str()))
            .map(|(_, code)| *code);
        let c = find(&mut s, id)?;
        if let Some(code) = exit {
            c.info.state = ContainerState::Exited;
            c.info.exit_code = Some(code);
        } else {
            c.info.state = ContainerState::Running;
            c.info.health = health.or(c.spec.healthcheck.as_ref().map(|_| Health::Healthy));
        }
        Ok(())
    }

    async fn stop_container(
        &self,
        id: &str,
        _timeout: Option<Duration>,
    ) -> Result<(), DockerError> {
        let mut s = self.check()?;
        let c = find(&mut s, id)?;
        let name = c.info.name.clone();
        if c.info.state == ContainerState::Running {
            c.info.state = ContainerState::Exited;
            c.info.exit_code = Some(0);
            c.info.health = None;
        }
        s.events.push(FakeEvent::Stop(name));
        Ok(())
    }

    async fn restart_container(
        &self,
        id: &str,
        _timeout: Option<Duration>,
    ) -> Result<(), DockerError> {
        let mut s = self.check()?;
        let c = find(&mut s, id)?;
        c.info.state = ContainerState::Running;
        let name = c.info.name.clone();
        s.events.push(FakeEvent::Restart(name));
        Ok(())
    }

    async fn kill_container(&self, id: &str, _signal: Option<&str>) -> Result<(), DockerError> {
        let mut s = self.check()?;
        let c = find(&mut s, id)?;
        if c.info.state != ContainerState::Running {
            return Err(DockerError::Conflict {
                message: format!("Container {id} is not running"),
            });
        }
        c.info.state = ContainerState::Exited;
        c.info.exit_code = Some(137);
        let name = c.info.name.clone();
        s.events.push(FakeEvent::Kill(name));
        Ok(())
    }

    async fn remove_container(
        &self,
        id: &str,
        force: bool,
        _volumes: bool,
    ) -> Result<(), DockerError> {
        let mut s = self.check()?;
        let c = find(&mut s, id)?;
        if c.info.state == ContainerState::Running && !force {
            return Err(DockerError::Conflict {
                message: format!("You cannot remove a running container {id}"),
            });
        }
        let name = c.info.name.clone();
        s.containers.retain(|c| c.info.name != name);
        s.events.push(FakeEvent::Remove(name));
        Ok(())
    }

    async fn wait_container(&self, id: &str) -> Result<i64, DockerError> {
        loop {
            {
                let mut s = self.check()?;
                let c = find(&mut s, id)?;
                if !matches!(
                    c.info.state,
                    ContainerState::Running | ContainerState::Restarting
                ) {
                    return Ok(c.info.exit_code.unwrap_or(0));
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn logs(&self, _id: &str, _options: &LogsOptions) -> BoxStream<Result<LogChunk, DockerError>> {
        Box::pin(futures_util::stream::empty())
    }

    async fn exec(&self, id: &str, spec: &ExecSpec) -> Result<ExecOutput, DockerError> {
        let mut s = self.check()?;
        let c = find(&mut s, id)?;
        if c.info.state != ContainerState::Running {
            return Err(DockerError::Conflict {
                message: format!("Container {id} is not running"),
            });
        }
        let name = c.info.name.clone();
        s.events
            .push(FakeEvent::Exec(name.clone(), spec.cmd.clone()));
        if let Some(input) = &spec.stdin {
            s.exec_inputs.insert(name.clone(), input.clone());
        }
        Ok(s.exec_results.get(&name).cloned().unwrap_or_default())
    }

    async fn exec_streaming(
        &self,
        id: &str,
        spec: &ExecSpec,
        stdin: Option<ExecInput>,
        sink: ExecSink<'_>,
    ) -> Result<ExecOutput, DockerError> {
        let input = match stdin {
            Some(mut r) => {
                let mut all = Vec::new();
                r.read_to_end(&mut all).map_err(|e| DockerError::Other {
                    message: format!("the command's input could not be read: {e}"),
                })?;
                Some(all)
            }
            None => None,
        };
        let spec = ExecSpec {
            stdin: input,
            ..spec.clone()
        };
        let mut out = self.exec(id, &spec).await?;
        // In small chunks, as the engine delivers them.
        for chunk in std::mem::take(&mut out.stdout).chunks(7) {
            sink(chunk).map_err(|e| DockerError::Other {
                message: format!("the command's output could not be written: {e}"),
            })?;
        }
        Ok(out)
    }

    async fn inspect_network(&self, name: &str) -> Result<NetworkInfo, DockerError> {
        let s = self.check()?;
        s.networks
            .get(name)
            .cloned()
            .ok_or_else(|| not_found("network", name))
    }

    async fn create_network(&self, spec: &NetworkSpec) -> Result<String, DockerError> {
        let mut s = self.check()?;
        if s.networks.contains_key(&spec.name) {
            return Err(DockerError::Conflict {
                message: format!("network with name {} already exists", spec.name),
            });
        }
        let id = format!("net-{}", spec.name);
        s.networks.insert(
            spec.name.clone(),
            NetworkInfo {
                id: id.clone(),
                name: spec.name.clone(),
                labels: spec.labels.clone(),
            },
        );
        s.events.push(FakeEvent::CreateNetwork(spec.name.clone()));
        Ok(id)
    }

    async fn remove_network(&self, name: &str) -> Result<(), DockerError> {
        let mut s = self.check()?;
        s.networks
            .remove(name)
            .ok_or_else(|| not_found("network", name))?;
        s.events.push(FakeEvent::RemoveNetwork(name.to_owned()));
        Ok(())
    }

    async fn inspect_volume(&self, name: &str) -> Result<VolumeInfo, DockerError> {
        let s = self.check()?;
        s.volumes
            .get(name)
            .cloned()
            .ok_or_else(|| not_found("volume", name))
    }

    async fn create_volume(&self, spec: &VolumeSpec) -> Result<VolumeInfo, DockerError> {
        let mut s = self.check()?;
        let v = VolumeInfo {
            name: spec.name.clone(),
            labels: spec.labels.clone(),
        };
        s.volumes.insert(spec.name.clone(), v.clone());
        Ok(v)
    }

    async fn remove_volume(&self, name: &str, _force: bool) -> Result<(), DockerError> {
        let mut s = self.check()?;
        s.volumes
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| not_found("volume", name))
    }

    async fn list_volumes(
        &self,
        labels: &[(&str, Option<&str>)],
    ) -> Result<Vec<VolumeInfo>, DockerError> {
        let s = self.check()?;
        Ok(s.volumes
            .values()
            .filter(|v| labels_match(&v.labels, labels))
            .cloned()
            .collect())
    }

    async fn inspect_image(&self, image: &str) -> Result<ImageInfo, DockerError> {
        let s = self.check()?;
        s.images
            .get(image)
            .map(|id| ImageInfo { id: id.clone() })
            .ok_or_else(|| not_found("image", image))
    }

    fn pull_image(&self, image: &str) -> BoxStream<Result<PullProgress, DockerError>> {
        let ok = {
            let mut s = self.lock();
            s.events.push(FakeEvent::Pull(image.to_owned()));
            s.pullable.iter().any(|p| p == image)
        };
        let items = if ok {
            self.add_image(image);
            // One layer downloaded in two steps, then the final status, like the engine.
            let layer = |status: &str, current: Option<i64>| PullProgress {
                id: Some("fakelayer01".into()),
                status: status.into(),
                current,
                total: current.map(|_| 1024),
            };
            vec![
                Ok(layer("Downloading", Some(512))),
                Ok(layer("Downloading", Some(1024))),
                Ok(layer("Pull complete", None)),
                Ok(PullProgress {
                    id: None,
                    status: format!("Downloaded newer image for {image}"),
                    current: None,
                    total: None,
                }),
            ]
        } else {
            vec![Err(DockerError::ImageMissing {
                image: image.to_owned(),
                reason: format!("pull access denied for {image}"),
            })]
        };
        Box::pin(futures_util::stream::iter(items))
    }
}
