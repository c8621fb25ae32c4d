//! The service commands in swarm mode, on a manager's engine: `start` (deploy in dependency
//! order and wait for each service's running task), `stop` (scale to 0, the spec stays),
//! `status` (tasks with node, desired and current state) and `remove`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use compose::ProjectFiles;
use docker::{BollardEngine, DockerError, Engine as _, SwarmNode, SwarmTask};

use crate::spec::{LABEL_SERVICE, Stack, StackService, prepare_job};
use crate::{LABEL_NAMESPACE, SwarmError, pins_from, translate};

/// How `start` waits.
#[derive(Debug, Clone, Copy)]
pub struct StartOptions {
    /// How long each service may take to have a running (healthy) task.
    pub timeout: Duration,
}

/// One service `start` deployed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StartedService {
    pub service: String,
    /// The Swarm service (`<project>_<service>`).
    pub swarm_service: String,
    /// Created now (else updated).
    pub created: bool,
    pub node: String,
    pub task: String,
    pub notes: Vec<String>,
}

/// What `start` did, in deploy order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StartReport {
    pub stack: String,
    pub started: Vec<StartedService>,
}

/// What `stop` did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StopReport {
    pub stopped: Vec<String>,
    /// Selected services with no Swarm service.
    pub absent: Vec<String>,
}

/// One task of `status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TaskRow {
    pub service: String,
    pub task: String,
    pub node: String,
    pub desired: String,
    pub current: String,
    pub since: String,
    pub error: Option<String>,
}

/// `status`: the stack's services (wanted replicas) and their current tasks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StatusReport {
    pub stack: String,
    /// Swarm service name -> wanted replicas.
    pub services: BTreeMap<String, u64>,
    pub tasks: Vec<TaskRow>,
}

/// What `remove` did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RemoveReport {
    pub services: Vec<String>,
    pub networks: Vec<String>,
    pub configs_and_secrets: usize,
}

const POLL: Duration = Duration::from_millis(500);
/// What `stop` waits beyond its timeout: Swarm kills a task only after the service's stop
/// grace period (10 s by default; the spec sets none), then reaps it.
const STOP_SLACK: Duration = Duration::from_secs(30);
/// How long removals wait for the tasks to let go of networks, configs and secrets.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(120);

fn stack_of(files: &ProjectFiles, vars: &BTreeMap<String, String>) -> Result<Stack, SwarmError> {
    let project = compose::load_project(files, vars)?;
    translate(&project, &pins_from(vars)?)
}

/// The stack's services of `selection` (compose names; `None`: all), in deploy order.
fn selected<'a>(
    stack: &'a Stack,
    selection: Option<&[String]>,
) -> Result<Vec<&'a StackService>, SwarmError> {
    let Some(sel) = selection else {
        return Ok(stack.services.iter().collect());
    };
    if let Some(bad) = sel
        .iter()
        .find(|s| !stack.services.iter().any(|x| x.service == **s))
    {
        return Err(SwarmError::Config(format!(
            "service {bad} is not defined in the compose files"
        )));
    }
    Ok(stack
        .services
        .iter()
        .filter(|s| sel.contains(&s.service))
        .collect())
}

fn ns_label(ns: &str) -> String {
    format!("{LABEL_NAMESPACE}={ns}")
}

fn check_pins(services: &[&StackService], nodes: &[SwarmNode]) -> Result<(), SwarmError> {
    for s in services {
        s.check_placement()?;
        if let Some(pin) = &s.pin
            && !nodes.iter().any(|n| pin.matches(n))
        {
            let names: Vec<_> = nodes.iter().map(|n| n.hostname.as_str()).collect();
            return Err(SwarmError::Config(format!(
                "{}: no node of the swarm matches {} (nodes: {}); nothing was done",
                s.service,
                pin.constraint(),
                names.join(", ")
            )));
        }
    }
    Ok(())
}

/// Deploy the selected services in dependency order, each after its configs, secrets and
/// node directories exist, waiting for its running task (healthy, when it has a
/// healthcheck) before the next.
///
/// # Errors
/// [`SwarmError`]: bad files or settings before anything is created; engine errors; a
/// service that has no running task within `opts.timeout` ([`SwarmError::NotReady`]).
pub async fn start(
    engine: &BollardEngine,
    files: &ProjectFiles,
    vars: &BTreeMap<String, String>,
    selection: Option<&[String]>,
    opts: &StartOptions,
) -> Result<StartReport, SwarmError> {
    let stack = stack_of(files, vars)?;
    let services = selected(&stack, selection)?;
    let nodes = engine.swarm_nodes().await?;
    check_pins(&services, &nodes)?;
    let ns = &stack.namespace;
    let labels = BTreeMap::from([(LABEL_NAMESPACE.to_owned(), ns.clone())]);
    for net in &stack.networks {
        match engine.inspect_network(net).await {
            Ok(_) => {}
            Err(DockerError::NotFound { .. }) => {
                engine.create_overlay_network(net, &labels).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut started = Vec::new();
    for s in services {
        let ids = create_files(engine, ns, s).await?;
        if let Some(job) = prepare_job(ns, s) {
            run_job(engine, &job, opts.timeout).await?;
        }
        let mut spec = s.spec.clone();
        for f in &mut spec.files {
            f.id = ids.get(&f.name).cloned().unwrap_or_default();
        }
        let created = engine.deploy_service(&spec).await?;
        let task = wait_running(engine, &s.spec.name, opts.timeout).await?;
        started.push(StartedService {
            service: s.service.clone(),
            swarm_service: s.spec.name.clone(),
            created,
            node: node_name(&nodes, &task.node_id),
            task: task.id,
            notes: s.notes.clone(),
        });
    }
    Ok(StartReport {
        stack: ns.clone(),
        started,
    })
}

/// Create the configs and secrets `s` references that do not exist yet; the ids of all of
/// them by name.
async fn create_files(
    engine: &BollardEngine,
    ns: &str,
    s: &StackService,
) -> Result<BTreeMap<String, String>, SwarmError> {
    let mut ids = BTreeMap::new();
    for secret in [false, true] {
        let have: BTreeMap<String, String> = engine
            .list_swarm_objects(secret, &ns_label(ns))
            .await?
            .into_iter()
            .map(|o| (o.name, o.id))
            .collect();
        for f in s.files.iter().filter(|f| f.secret == secret) {
            let id = match have.get(&f.name) {
                Some(id) => id.clone(),
                None => {
                    engine
                        .create_swarm_object(secret, &f.name, &f.data, &f.labels)
                        .await?
                }
            };
            ids.insert(f.name.clone(), id);
        }
    }
    Ok(ids)
}

/// Run a one-off job to completion and remove it.
async fn run_job(
    engine: &BollardEngine,
    job: &docker::SwarmServiceSpec,
    timeout: Duration,
) -> Result<(), SwarmError> {
    if engine.inspect_swarm_service(&job.name).await?.is_some() {
        engine.remove_service(&job.name).await?;
    }
    engine.create_service(job).await?;
    let deadline = Instant::now() + timeout;
    let outcome = loop {
        let tasks = engine.service_tasks(&job.name).await?;
        if tasks.iter().any(|t| t.state == "complete") {
            break Ok(());
        }
        if let Some(t) = tasks
            .iter()
            .find(|t| matches!(t.state.as_str(), "failed" | "rejected"))
        {
            break Err(not_ready(&job.name, &format!("failed: {t:?}")));
        }
        if Instant::now() > deadline {
            break Err(not_ready(&job.name, &format!("not complete: {tasks:?}")));
        }
        tokio::time::sleep(POLL).await;
    };
    engine.remove_service(&job.name).await?;
    outcome
}

fn not_ready(service: &str, message: &str) -> SwarmError {
    SwarmError::NotReady {
        service: service.to_owned(),
        message: message.to_owned(),
    }
}

fn task_text(t: &SwarmTask) -> String {
    format!(
        "task {} {}{}",
        t.id,
        t.state,
        t.error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default()
    )
}

/// The service's running task (Swarm reports `running` only once a healthcheck passed).
async fn wait_running(
    engine: &BollardEngine,
    service: &str,
    timeout: Duration,
) -> Result<SwarmTask, SwarmError> {
    let deadline = Instant::now() + timeout;
    loop {
        let tasks = engine.service_tasks(service).await?;
        if let Some(t) = tasks
            .iter()
            .find(|t| t.state == "running" && t.desired_state == "running")
        {
            return Ok(t.clone());
        }
        if Instant::now() > deadline {
            let seen: Vec<_> = tasks.iter().map(task_text).collect();
            return Err(not_ready(
                service,
                &format!(
                    "no running task after {}s ({})",
                    timeout.as_secs(),
                    seen.join("; ")
                ),
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

fn node_name(nodes: &[SwarmNode], id: &str) -> String {
    nodes
        .iter()
        .find(|n| n.id == id)
        .map_or_else(|| id.to_owned(), |n| n.hostname.clone())
}

/// Scale the selected services to 0 (their specs stay: `start` scales them back) and wait
/// until none of their tasks runs.
///
/// # Errors
/// [`SwarmError`]: bad files; engine errors; tasks still running after `timeout`.
pub async fn stop(
    engine: &BollardEngine,
    files: &ProjectFiles,
    vars: &BTreeMap<String, String>,
    selection: Option<&[String]>,
    timeout: Duration,
) -> Result<StopReport, SwarmError> {
    let stack = stack_of(files, vars)?;
    let services = selected(&stack, selection)?;
    let mut report = StopReport {
        stopped: Vec::new(),
        absent: Vec::new(),
    };
    for s in services.iter().rev() {
        if engine.inspect_swarm_service(&s.spec.name).await?.is_none() {
            report.absent.push(s.service.clone());
            continue;
        }
        engine.scale_service(&s.spec.name, 0).await?;
        let deadline = Instant::now() + timeout + STOP_SLACK;
        loop {
            let tasks = engine.service_tasks(&s.spec.name).await?;
            if !tasks.iter().any(|t| t.state == "running") {
                break;
            }
            if Instant::now() > deadline {
                return Err(not_ready(&s.spec.name, "tasks still running"));
            }
            tokio::time::sleep(POLL).await;
        }
        report.stopped.push(s.service.clone());
    }
    Ok(report)
}

/// The stack's services and their tasks: those Swarm wants running, and for a service
/// with none (stopped) its latest task.
///
/// # Errors
/// Engine errors (not a manager).
pub async fn status(engine: &BollardEngine, namespace: &str) -> Result<StatusReport, SwarmError> {
    let nodes = engine.swarm_nodes().await?;
    let mut services = BTreeMap::new();
    let mut tasks = Vec::new();
    for s in engine.list_services_labelled(&ns_label(namespace)).await? {
        services.insert(s.name.clone(), s.replicas.unwrap_or(0));
        let mut all = engine.service_tasks(&s.name).await?;
        all.sort_by(|a, b| b.since.cmp(&a.since));
        let wanted: Vec<_> = all
            .iter()
            .filter(|t| t.desired_state == "running")
            .collect();
        let shown = if wanted.is_empty() {
            all.iter().take(1).collect()
        } else {
            wanted
        };
        tasks.extend(shown.into_iter().map(|t| TaskRow {
            service: s.name.clone(),
            task: t.id.clone(),
            node: node_name(&nodes, &t.node_id),
            desired: t.desired_state.clone(),
            current: t.state.clone(),
            since: t.since.clone(),
            error: t.error.clone(),
        }));
    }
    Ok(StatusReport {
        stack: namespace.to_owned(),
        services,
        tasks,
    })
}

/// Remove the selected services (`None`: the whole stack, also its networks), with the
/// configs and secrets that were theirs. `volumes` (the data on the pinned nodes) is not
/// implemented in swarm mode yet and is refused before anything is removed.
///
/// # Errors
/// [`SwarmError::Unsupported`] for `volumes`; engine errors; a network, config or secret
/// still in use after two minutes.
pub async fn remove(
    engine: &BollardEngine,
    namespace: &str,
    selection: Option<&[String]>,
    volumes: bool,
) -> Result<RemoveReport, SwarmError> {
    if volumes {
        return Err(SwarmError::Unsupported(
            "service remove --volumes is not implemented in swarm mode yet (the data lives on \
             the pinned nodes; docs/multi-host.md); nothing was removed"
                .to_owned(),
        ));
    }
    let label = ns_label(namespace);
    let prefix = format!("{namespace}_");
    let services: Vec<_> = engine
        .list_services_labelled(&label)
        .await?
        .into_iter()
        .filter(|s| {
            selection.is_none_or(|sel| {
                s.name
                    .strip_prefix(&prefix)
                    .is_some_and(|n| sel.iter().any(|x| x == n))
            })
        })
        .collect();
    let mut report = RemoveReport {
        services: Vec::new(),
        networks: Vec::new(),
        configs_and_secrets: 0,
    };
    for s in &services {
        engine.remove_service(&s.name).await?;
        report.services.push(s.name.clone());
    }
    for secret in [false, true] {
        for o in engine.list_swarm_objects(secret, &label).await? {
            let ours = selection
                .is_none_or(|sel| o.labels.get(LABEL_SERVICE).is_some_and(|s| sel.contains(s)));
            if ours {
                retry(|| engine.remove_swarm_object(secret, &o.id)).await?;
                report.configs_and_secrets += 1;
            }
        }
    }
    if selection.is_none() {
        for n in engine.list_networks_labelled(&label).await? {
            retry(|| engine.remove_network(&n)).await?;
            report.networks.push(n);
        }
    }
    Ok(report)
}

/// Retry a removal while tasks still hold the object (a conflict), up to two minutes.
async fn retry<F, Fut>(mut f: F) -> Result<(), SwarmError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), DockerError>>,
{
    let deadline = Instant::now() + RELEASE_TIMEOUT;
    loop {
        match f().await {
            Ok(()) | Err(DockerError::NotFound { .. }) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(e.into()),
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}
