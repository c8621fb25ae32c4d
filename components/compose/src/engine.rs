use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use docker::{
    ContainerInfo, ContainerSpec, ContainerState, DockerError, Engine, ExecInput, ExecOutput,
    ExecSink, ExecSpec, Health, HealthSpec, LogStream, LogsOptions, NetworkSpec, RestartPolicy,
    VolumeSpec,
};
use futures_util::future::{join_all, try_join_all};
use futures_util::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use tokio::time::{Instant, sleep};

use crate::ComposeError;
use crate::labels as l;
use crate::model::{Condition, Mount, Project, ServiceDef};
use crate::{Progress, ProgressSink};

const POLL: Duration = Duration::from_millis(200);
/// How long `up` waits for a `depends_on` condition when no timeout is given.
const DEFAULT_DEPENDENCY_TIMEOUT: Duration = Duration::from_secs(600);

/// Options of [`Compose::up`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpOptions {
    /// Wait until every started service is healthy (or running, without a healthcheck).
    pub wait: bool,
    /// Limit for `wait` and for `depends_on` conditions.
    pub timeout: Option<Duration>,
    /// Recreate even when the configuration did not change.
    pub force_recreate: bool,
    /// Where pull and wait progress goes.
    pub progress: ProgressSink,
}

/// What `up` did to one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Created and started.
    Created,
    /// Configuration changed: removed, created and started.
    Recreated,
    /// Existed but was stopped: started.
    Started,
    /// Already running with the same configuration.
    Unchanged,
}

/// One service's outcome in an [`UpReport`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServiceOutcome {
    pub service: String,
    pub container: String,
    pub action: Action,
}

/// What `up` did, in start order.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UpReport {
    pub services: Vec<ServiceOutcome>,
    /// Images that were pulled.
    pub pulled: Vec<String>,
}

/// What [`Compose::up_all`] did per service.
#[derive(Debug, Default)]
pub struct UpOutcome {
    /// The services brought up (and the images pulled).
    pub report: UpReport,
    /// The services that failed, in start order, with why.
    pub failed: Vec<(String, ComposeError)>,
    /// The services not started because a service they depend on failed (or was itself
    /// not started): `(service, dependency)`.
    pub not_started: Vec<(String, String)>,
}

/// A project container and the service it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceContainer {
    pub service: String,
    pub container: ContainerInfo,
}

/// Options of a one-off [`Compose::run`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Extra `KEY=value` variables (they override the service's).
    pub env: Vec<(String, String)>,
    pub user: Option<String>,
    /// Replaces the service's command.
    pub command: Option<Vec<String>>,
    /// Kill the one-off container when it runs longer.
    pub timeout: Option<Duration>,
}

/// How a one-off container ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    pub container: String,
    /// `None` when it was killed at the timeout.
    pub exit_code: Option<i64>,
    pub timed_out: bool,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// The sha256 (hex) of a normalised service definition.
#[must_use]
pub fn config_hash(def: &ServiceDef) -> String {
    let json = serde_json::to_vec(def).unwrap_or_default();
    hex::encode(Sha256::digest(&json))
}

fn hash_of<T: serde::Serialize>(v: &T) -> String {
    hex::encode(Sha256::digest(serde_json::to_vec(v).unwrap_or_default()))
}

/// A compose project bound to an engine: plan and apply.
#[derive(Debug)]
pub struct Compose<'e, E: Engine> {
    engine: &'e E,
    project: Project,
}

impl<'e, E: Engine> Compose<'e, E> {
    /// Bind a loaded project to an engine.
    #[must_use]
    pub fn new(engine: &'e E, project: Project) -> Compose<'e, E> {
        Compose { engine, project }
    }

    /// The loaded project.
    #[must_use]
    pub fn project(&self) -> &Project {
        &self.project
    }

    /// The engine.
    #[must_use]
    pub fn engine(&self) -> &'e E {
        self.engine
    }

    fn check_services(&self, services: &[String]) -> Result<Vec<String>, ComposeError> {
        if services.is_empty() {
            return Ok(self.project.service_names());
        }
        for s in services {
            if !self.project.services.contains_key(s) {
                return Err(ComposeError::UnknownService { name: s.clone() });
            }
        }
        Ok(services.to_vec())
    }

    /// Every read-only bind mount of `services` names a path that exists. Docker creates a
    /// missing bind source as an empty directory (as root); for the per-file certificate
    /// and config mounts that directory would then stand where `host setup` must write the
    /// file. Checked before anything is created. A link is not followed (`symlink_metadata`).
    fn check_bind_sources(&self, services: &[String]) -> Result<(), ComposeError> {
        for svc in services {
            let Some(def) = self.project.services.get(svc) else {
                continue;
            };
            for m in &def.volumes {
                if let Mount::Bind {
                    source,
                    read_only: true,
                    ..
                } = m
                    && std::fs::symlink_metadata(source).is_err()
                {
                    return Err(ComposeError::MissingBindSource {
                        service: svc.clone(),
                        source_path: source.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Dependency levels of `services` plus everything they depend on: each level only
    /// depends on earlier ones. Order inside a level follows the files.
    fn levels(&self, services: &[String], with_deps: bool) -> Vec<Vec<String>> {
        let mut wanted: BTreeSet<String> = services.iter().cloned().collect();
        if with_deps {
            let mut stack: Vec<String> = services.to_vec();
            while let Some(s) = stack.pop() {
                if let Some(def) = self.project.services.get(&s) {
                    for d in def.depends_on.keys() {
                        if wanted.insert(d.clone()) {
                            stack.push(d.clone());
                        }
                    }
                }
            }
        }
        let mut level_of: HashMap<String, usize> = HashMap::new();
        fn level(p: &Project, s: &str, memo: &mut HashMap<String, usize>, depth: usize) -> usize {
            if let Some(l) = memo.get(s) {
                return *l;
            }
            if depth > p.services.len() {
                return 0; // a cycle: the loader does not forbid it; do not loop forever
            }
            let l = p.services.get(s).map_or(0, |d| {
                d.depends_on
                    .keys()
                    .map(|dep| level(p, dep, memo, depth + 1) + 1)
                    .max()
                    .unwrap_or(0)
            });
            memo.insert(s.to_owned(), l);
            l
        }
        let mut levels: Vec<Vec<String>> = Vec::new();
        for name in self.project.services.keys() {
            if !wanted.contains(name) {
                continue;
            }
            let lv = level(&self.project, name, &mut level_of, 0);
            if levels.len() <= lv {
                levels.resize(lv + 1, Vec::new());
            }
            levels[lv].push(name.clone());
        }
        levels.retain(|l| !l.is_empty());
        levels
    }

    /// The project's containers (not one-offs), with their service.
    ///
    /// # Errors
    /// Engine errors.
    pub async fn ps(&self) -> Result<Vec<ServiceContainer>, ComposeError> {
        let list = self
            .engine
            .list_containers(&[(l::PROJECT, Some(&self.project.name))])
            .await?;
        let mut out: Vec<ServiceContainer> = list
            .into_iter()
            .filter(|c| c.label(l::ONEOFF) != Some("True"))
            .filter_map(|c| {
                let service = c.label(l::SERVICE)?.to_owned();
                Some(ServiceContainer {
                    service,
                    container: c,
                })
            })
            .collect();
        out.sort_by(|a, b| a.container.name.cmp(&b.container.name));
        Ok(out)
    }

    fn by_service(list: &[ServiceContainer], services: &[String]) -> Vec<ServiceContainer> {
        list.iter()
            .filter(|c| services.contains(&c.service))
            .cloned()
            .collect()
    }

    /// The container spec of a service, as `up` would create it.
    #[must_use]
    pub fn container_spec(&self, def: &ServiceDef, image_id: &str) -> ContainerSpec {
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
        let network = def.networks.iter().next().map(|(key, aliases)| {
            let name = p
                .networks
                .get(key)
                .map_or_else(|| format!("{}_{key}", p.name), |n| n.name.clone());
            let mut all = vec![def.name.clone()];
            all.extend(aliases.iter().cloned());
            (name, all)
        });
        let binds = def
            .volumes
            .iter()
            .map(|m| match m {
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
            })
            .collect();
        ContainerSpec {
            name: p.container_name(&def.name),
            image: def.image.clone(),
            cmd: def.command.clone(),
            entrypoint: def.entrypoint.clone(),
            env: def
                .environment
                .iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
                .collect(),
            labels,
            user: def.user.clone(),
            hostname: def.hostname.clone(),
            working_dir: None,
            ports: def.ports.clone(),
            binds,
            network,
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

    async fn ensure_networks(&self, services: &[String]) -> Result<(), ComposeError> {
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
                    let mut labels = net.labels.clone();
                    labels.insert(l::PROJECT.into(), self.project.name.clone());
                    labels.insert(l::NETWORK.into(), key.clone());
                    labels.insert(l::CONFIG_HASH.into(), hash_of(net));
                    labels.insert(l::VERSION.into(), l::COMPOSE_VERSION.into());
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

    async fn ensure_volumes(&self, services: &[String]) -> Result<(), ComposeError> {
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
                        let mut labels = vol.labels.clone();
                        labels.insert(l::PROJECT.into(), self.project.name.clone());
                        labels.insert(l::VOLUME.into(), key.clone());
                        labels.insert(l::CONFIG_HASH.into(), hash_of(vol));
                        labels.insert(l::VERSION.into(), l::COMPOSE_VERSION.into());
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
    async fn ensure_images(
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

    /// Whether an existing container already runs the desired configuration.
    async fn up_to_date(
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

    async fn wait_condition(
        &self,
        dep: &str,
        condition: Condition,
        deadline: Instant,
    ) -> Result<(), ComposeError> {
        let name = self.project.container_name(dep);
        loop {
            let c = self.engine.inspect_container(&name).await?;
            let failed = |reason: String| ComposeError::DependencyFailed {
                container: name.clone(),
                reason,
            };
            match condition {
                Condition::ServiceStarted => {
                    if c.state == ContainerState::Running || c.state == ContainerState::Exited {
                        return Ok(());
                    }
                }
                Condition::ServiceHealthy => match (&c.state, c.health) {
                    (ContainerState::Running, Some(Health::Healthy)) => return Ok(()),
                    (ContainerState::Running, None) => {
                        return Err(failed("has no healthcheck".into()));
                    }
                    (ContainerState::Exited | ContainerState::Dead, _) => {
                        return Err(failed(format!("exited ({})", c.exit_code.unwrap_or(-1))));
                    }
                    (_, Some(Health::Unhealthy)) => return Err(failed("is unhealthy".into())),
                    _ => {}
                },
                Condition::ServiceCompletedSuccessfully => match c.state {
                    ContainerState::Exited | ContainerState::Dead => {
                        let code = c.exit_code.unwrap_or(-1);
                        if code == 0 {
                            return Ok(());
                        }
                        return Err(ComposeError::DependencyFailed {
                            container: name.clone(),
                            reason: format!("didn't complete successfully: exit {code}"),
                        });
                    }
                    _ => {}
                },
            }
            if Instant::now() >= deadline {
                return Err(failed(format!(
                    "is not {} in time",
                    match condition {
                        Condition::ServiceStarted => "started",
                        Condition::ServiceHealthy => "healthy",
                        Condition::ServiceCompletedSuccessfully => "completed",
                    }
                )));
            }
            sleep(POLL).await;
        }
    }

    async fn converge(
        &self,
        service: &str,
        existing: Option<&ContainerInfo>,
        image_id: &str,
        force: bool,
    ) -> Result<ServiceOutcome, ComposeError> {
        let def = &self.project.services[service];
        let spec = self.container_spec(def, image_id);
        let outcome = |action| ServiceOutcome {
            service: service.to_owned(),
            container: spec.name.clone(),
            action,
        };
        if let Some(c) = existing {
            if !force && self.up_to_date(c, &spec, image_id).await? {
                if matches!(
                    c.state,
                    ContainerState::Running | ContainerState::Restarting
                ) {
                    return Ok(outcome(Action::Unchanged));
                }
                self.engine.start_container(&c.id).await?;
                return Ok(outcome(Action::Started));
            }
            self.engine
                .stop_container(&c.id, Some(Duration::from_secs(10)))
                .await?;
            self.engine.remove_container(&c.id, true, false).await?;
            let id = self.engine.create_container(&spec).await?;
            self.engine.start_container(&id).await?;
            return Ok(outcome(Action::Recreated));
        }
        let id = match self.engine.create_container(&spec).await {
            Ok(id) => id,
            Err(DockerError::Conflict { .. }) => {
                return Err(ComposeError::NameInUse {
                    name: spec.name.clone(),
                    project: self.project.name.clone(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        self.engine.start_container(&id).await?;
        Ok(outcome(Action::Created))
    }

    /// Create or recreate and start `services` (all when empty) and what they depend on,
    /// in dependency order; independent services in parallel. On a failure, every engine
    /// operation already begun is waited for and the services that do not depend on the
    /// failed one still start (see [`Compose::up_all`]); the first failure is returned.
    ///
    /// # Errors
    /// Unknown services, engine errors (port clash, missing image, ...), failed
    /// `depends_on` conditions, and with `wait` a container that is unhealthy, exited or
    /// not ready within the timeout.
    pub async fn up(
        &self,
        services: &[String],
        opts: &UpOptions,
    ) -> Result<UpReport, ComposeError> {
        let mut out = self.up_all(services, opts).await?;
        if out.failed.is_empty() {
            Ok(out.report)
        } else {
            Err(out.failed.remove(0).1)
        }
    }

    /// [`Compose::up`], reporting per service: what was done, which services failed (with
    /// their error), and which were not started because a service they depend on failed.
    /// It returns only once every engine operation it began has ended, so nothing it asked
    /// for appears afterwards. `wait` waits for the services that were brought up.
    ///
    /// # Errors
    /// What fails before any container is touched: unknown services, networks, volumes,
    /// images, listing the project's containers; and with `wait` a service not ready.
    pub async fn up_all(
        &self,
        services: &[String],
        opts: &UpOptions,
    ) -> Result<UpOutcome, ComposeError> {
        let services = self.check_services(services)?;
        let levels = self.levels(&services, true);
        let all: Vec<String> = levels.iter().flatten().cloned().collect();
        self.check_bind_sources(&all)?;
        let mut out = UpOutcome::default();
        self.ensure_networks(&all).await?;
        self.ensure_volumes(&all).await?;
        let images = self
            .ensure_images(&all, &mut out.report.pulled, &opts.progress)
            .await?;
        let existing = self.ps().await?;
        let started = Instant::now();
        let dep_deadline = started + opts.timeout.unwrap_or(DEFAULT_DEPENDENCY_TIMEOUT);
        for level in &levels {
            let runnable = self.runnable(level, &mut out);
            let futs = runnable.into_iter().map(|svc| {
                let def = &self.project.services[svc];
                let image_id = images.get(&def.image).cloned().unwrap_or_default();
                let current = existing
                    .iter()
                    .find(|c| &c.service == svc)
                    .map(|c| c.container.clone());
                async move {
                    let r = async {
                        for (dep, d) in &def.depends_on {
                            self.wait_condition(dep, d.condition, dep_deadline).await?;
                        }
                        self.converge(svc, current.as_ref(), &image_id, opts.force_recreate)
                            .await
                            .map_err(|e| match e {
                                e @ (ComposeError::NameInUse { .. }
                                | ComposeError::DependencyFailed { .. }) => e,
                                e => ComposeError::Service {
                                    service: svc.clone(),
                                    source: Box::new(e),
                                },
                            })
                    }
                    .await;
                    (svc.clone(), r)
                }
            });
            // join_all, not try_join_all: a failure must not drop the other services'
            // requests half-way (the engine would finish them after we returned).
            for (svc, r) in join_all(futs).await {
                match r {
                    Ok(o) => out.report.services.push(o),
                    Err(e) => out.failed.push((svc, e)),
                }
            }
        }
        if opts.wait {
            let done: Vec<String> = out
                .report
                .services
                .iter()
                .map(|o| o.service.clone())
                .collect();
            let deadline = started + opts.timeout.unwrap_or(DEFAULT_DEPENDENCY_TIMEOUT);
            self.wait_ready(
                &done,
                deadline,
                opts.timeout.unwrap_or(DEFAULT_DEPENDENCY_TIMEOUT),
                &opts.progress,
            )
            .await?;
        }
        Ok(out)
    }

    /// The services of `level` whose dependencies all came up; the others are recorded in
    /// `out.not_started` with the dependency that failed.
    fn runnable<'a>(&self, level: &'a [String], out: &mut UpOutcome) -> Vec<&'a String> {
        let mut runnable = Vec::new();
        for svc in level {
            let def = &self.project.services[svc];
            let broken = def.depends_on.keys().find(|dep| {
                out.failed.iter().any(|(f, _)| f == *dep)
                    || out.not_started.iter().any(|(n, _)| n == *dep)
            });
            match broken {
                Some(dep) => out.not_started.push((svc.clone(), dep.clone())),
                None => runnable.push(svc),
            }
        }
        runnable
    }

    /// Wait until the containers of `services` are healthy (or running, without a
    /// healthcheck), at most `timeout`.
    ///
    /// # Errors
    /// A container that exited or is unhealthy, or [`ComposeError::WaitTimeout`].
    pub async fn wait(&self, services: &[String], timeout: Duration) -> Result<(), ComposeError> {
        self.wait_with(services, timeout, &ProgressSink::none())
            .await
    }

    /// [`Compose::wait`], reporting [`Progress::Waiting`] on every poll and
    /// [`Progress::Ready`] for each container that becomes ready.
    ///
    /// # Errors
    /// As [`Compose::wait`].
    pub async fn wait_with(
        &self,
        services: &[String],
        timeout: Duration,
        progress: &ProgressSink,
    ) -> Result<(), ComposeError> {
        let services = self.check_services(services)?;
        self.wait_ready(&services, Instant::now() + timeout, timeout, progress)
            .await
    }

    /// Wait until each service's container is healthy (or running, without a healthcheck).
    async fn wait_ready(
        &self,
        services: &[String],
        deadline: Instant,
        timeout: Duration,
        progress: &ProgressSink,
    ) -> Result<(), ComposeError> {
        let started = Instant::now();
        let mut pending: Vec<String> = services
            .iter()
            .map(|s| self.project.container_name(s))
            .collect();
        // Restart counts when the wait began: a container the engine restarts meanwhile
        // (restart policy) crashed while starting, even when it is `running` again by the
        // next poll.
        let mut restarts: BTreeMap<String, i64> = BTreeMap::new();
        loop {
            let mut still = Vec::new();
            for name in &pending {
                let c = self.engine.inspect_container(name).await?;
                let count = c.details.as_ref().map_or(0, |d| d.restart_count);
                let first = *restarts.entry(name.clone()).or_insert(count);
                if c.state == ContainerState::Restarting || count > first {
                    // The engine keeps the last exit code only until the container runs again.
                    let last = match (&c.state, c.exit_code) {
                        (ContainerState::Restarting, Some(code)) => {
                            format!("last exit code {code}, ")
                        }
                        _ => String::new(),
                    };
                    return Err(ComposeError::NotReady {
                        container: name.clone(),
                        reason: format!("keeps restarting ({last}restarted {count} times)"),
                    });
                }
                match (&c.state, c.health) {
                    (ContainerState::Running, Some(Health::Healthy) | None) => {
                        progress.emit(Progress::Ready {
                            container: name.clone(),
                        });
                    }
                    (ContainerState::Exited | ContainerState::Dead, _) => {
                        return Err(ComposeError::NotReady {
                            container: name.clone(),
                            reason: format!("exited with code {}", c.exit_code.unwrap_or(-1)),
                        });
                    }
                    (_, Some(Health::Unhealthy)) => {
                        return Err(ComposeError::NotReady {
                            container: name.clone(),
                            reason: "is unhealthy".into(),
                        });
                    }
                    _ => still.push(name.clone()),
                }
            }
            if still.is_empty() {
                return Ok(());
            }
            progress.emit(Progress::Waiting {
                pending: still.clone(),
                elapsed: started.elapsed(),
                timeout,
            });
            if Instant::now() >= deadline {
                return Err(ComposeError::WaitTimeout {
                    containers: still,
                    timeout_secs: timeout.as_secs(),
                });
            }
            pending = still;
            sleep(POLL).await;
        }
    }

    /// Stop the containers of `services` (all when empty), dependents first.
    /// Returns the names of the containers that were running.
    ///
    /// # Errors
    /// Unknown services, engine errors.
    pub async fn stop(
        &self,
        services: &[String],
        timeout: Option<Duration>,
    ) -> Result<Vec<String>, ComposeError> {
        let services = self.check_services(services)?;
        let containers = Self::by_service(&self.ps().await?, &services);
        let mut stopped = Vec::new();
        for level in self.levels(&services, false).iter().rev() {
            let futs = containers
                .iter()
                .filter(|c| level.contains(&c.service))
                .map(|c| async move {
                    let was_running = matches!(
                        c.container.state,
                        ContainerState::Running
                            | ContainerState::Restarting
                            | ContainerState::Paused
                    );
                    self.engine.stop_container(&c.container.id, timeout).await?;
                    Ok::<_, ComposeError>(was_running.then(|| c.container.name.clone()))
                });
            stopped.extend(try_join_all(futs).await?.into_iter().flatten());
        }
        Ok(stopped)
    }

    /// Restart the containers of `services` (all when empty), in dependency order.
    /// Returns the names of the restarted containers.
    ///
    /// # Errors
    /// Unknown services, engine errors.
    pub async fn restart(
        &self,
        services: &[String],
        timeout: Option<Duration>,
    ) -> Result<Vec<String>, ComposeError> {
        let services = self.check_services(services)?;
        let containers = Self::by_service(&self.ps().await?, &services);
        let mut done = Vec::new();
        for level in self.levels(&services, false) {
            let futs = containers
                .iter()
                .filter(|c| level.contains(&c.service))
                .map(|c| async move {
                    self.engine
                        .restart_container(&c.container.id, timeout)
                        .await?;
                    Ok::<_, ComposeError>(c.container.name.clone())
                });
            done.extend(try_join_all(futs).await?);
        }
        Ok(done)
    }

    /// Stop and remove the containers of `services` (all when empty); `volumes` also
    /// removes their anonymous volumes. Returns the removed container names.
    ///
    /// # Errors
    /// Unknown services, engine errors.
    pub async fn rm(
        &self,
        services: &[String],
        volumes: bool,
        timeout: Option<Duration>,
    ) -> Result<Vec<String>, ComposeError> {
        let services = self.check_services(services)?;
        self.stop(&services, timeout).await?;
        let containers = Self::by_service(&self.ps().await?, &services);
        let futs = containers.iter().map(|c| async move {
            match self
                .engine
                .remove_container(&c.container.id, true, volumes)
                .await
            {
                Ok(()) | Err(DockerError::NotFound { .. }) => Ok(c.container.name.clone()),
                Err(e) => Err(ComposeError::from(e)),
            }
        });
        try_join_all(futs).await
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

    /// Run a one-off container of `service` (like `docker compose run --rm`): its
    /// dependencies are brought up first; the one-off container is killed at the timeout
    /// (never the service's own container) and always removed.
    ///
    /// # Errors
    /// Unknown service, engine errors, failed dependencies.
    pub async fn run(&self, service: &str, opts: &RunOptions) -> Result<RunOutput, ComposeError> {
        let services = self.check_services(&[service.to_owned()])?;
        self.check_bind_sources(&services)?;
        let def = self.project.services[service].clone();
        let deps: Vec<String> = def.depends_on.keys().cloned().collect();
        if !deps.is_empty() {
            self.up(&deps, &UpOptions::default()).await?;
        }
        self.ensure_networks(&services).await?;
        self.ensure_volumes(&services).await?;
        let images = self
            .ensure_images(&services, &mut Vec::new(), &ProgressSink::none())
            .await?;
        let image_id = images.get(&def.image).cloned().unwrap_or_default();
        let mut spec = self.container_spec(&def, &image_id);
        let slug = {
            let seed = format!(
                "{}-{}-{:?}",
                self.project.name,
                std::process::id(),
                std::time::SystemTime::now()
            );
            hex::encode(Sha256::digest(seed.as_bytes()))
        };
        spec.name = format!("{}-{service}-run-{}", self.project.name, &slug[..12]);
        spec.labels.remove(l::CONTAINER_NUMBER);
        spec.labels.insert(l::ONEOFF.into(), "True".into());
        spec.labels.insert(l::SLUG.into(), slug);
        spec.ports.clear();
        spec.restart = RestartPolicy::No;
        for (k, v) in &opts.env {
            spec.env
                .retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != k);
            spec.env.push(format!("{k}={v}"));
        }
        if let Some(u) = &opts.user {
            spec.user = Some(u.clone());
        }
        if let Some(c) = &opts.command {
            spec.cmd = Some(c.clone());
        }
        let id = self.engine.create_container(&spec).await?;
        let result = self.run_created(&id, &spec.name, opts.timeout).await;
        let removed = self.engine.remove_container(&id, true, true).await;
        let out = result?;
        removed?;
        Ok(out)
    }

    async fn run_created(
        &self,
        id: &str,
        name: &str,
        timeout: Option<Duration>,
    ) -> Result<RunOutput, ComposeError> {
        self.engine.start_container(id).await?;
        let waited = match timeout {
            Some(t) => tokio::time::timeout(t, self.engine.wait_container(id))
                .await
                .ok(),
            None => Some(self.engine.wait_container(id).await),
        };
        let (exit_code, timed_out) = match waited {
            Some(code) => (Some(code?), false),
            None => {
                match self.engine.kill_container(id, None).await {
                    Ok(()) | Err(DockerError::Conflict { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                let _ = self.engine.wait_container(id).await;
                (None, true)
            }
        };
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let mut logs = self.engine.logs(
            id,
            &LogsOptions {
                follow: false,
                tail: None,
                ..LogsOptions::default()
            },
        );
        while let Some(chunk) = logs.try_next().await? {
            match chunk.stream {
                LogStream::Stdout => stdout.extend(chunk.bytes),
                LogStream::Stderr => stderr.extend(chunk.bytes),
            }
        }
        Ok(RunOutput {
            container: name.to_owned(),
            exit_code,
            timed_out,
            stdout,
            stderr,
        })
    }

    /// Run a command in a service's running container.
    ///
    /// # Errors
    /// Unknown service, engine errors (not running: [`DockerError::Conflict`]).
    pub async fn exec(&self, service: &str, spec: &ExecSpec) -> Result<ExecOutput, ComposeError> {
        self.check_services(&[service.to_owned()])?;
        Ok(self
            .engine
            .exec(&self.project.container_name(service), spec)
            .await?)
    }

    /// [`Compose::exec`] with stdin read from `stdin` and stdout handed to `sink` as they
    /// flow (see [`Engine::exec_streaming`]): for data of any size.
    ///
    /// # Errors
    /// Unknown service, engine errors, a failing `stdin` or `sink`.
    pub async fn exec_streaming(
        &self,
        service: &str,
        spec: &ExecSpec,
        stdin: Option<ExecInput>,
        sink: ExecSink<'_>,
    ) -> Result<ExecOutput, ComposeError> {
        self.check_services(&[service.to_owned()])?;
        Ok(self
            .engine
            .exec_streaming(&self.project.container_name(service), spec, stdin, sink)
            .await?)
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
