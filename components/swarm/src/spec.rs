//! The compose model -> Swarm service specs, as `docker stack deploy` converts them.
//! Upstream: github.com/docker/cli cli/compose/convert/compose.go (`Namespace.Scope`:
//! `<namespace>_<name>`, `addStackLabel`: `com.docker.stack.namespace` on services,
//! containers, networks, secrets and configs) and cli/compose/convert/service.go
//! (`Service()`: `com.docker.stack.image` on the service, `entrypoint` -> Command, `command` ->
//! Args, the service name as a network alias, `convertRestartPolicy`: `always` and
//! `unless-stopped` -> `any`, `on-failure[:n]` -> `on-failure` with max attempts, `no` -> the
//! Swarm default), read at commit 0163d9c0ee5a03e0f15c3ff7815f18b8d80bdde4 (master, 2026).
//! What Swarm ignores is handled here (docs/multi-host.md): `container_name` dropped with a
//! note, `shm_size` as a tmpfs at `/dev/shm`, `depends_on` as deploy order, bind-mounted
//! files as Swarm configs (secrets when private), bind-mounted directories on the pinned node.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use compose::{Mount, Project, ServiceDef};
use docker::{RestartPolicy, SwarmFileRef, SwarmMount, SwarmRestart, SwarmServiceSpec};
use safe_fs::{Dir, Kind};
use sha2::{Digest, Sha256};

use crate::placement::{Pin, node_key};
use crate::{LABEL_IMAGE, LABEL_NAMESPACE, SwarmError};

/// Our label on the configs and secrets: the compose service they belong to.
pub(crate) const LABEL_SERVICE: &str = "org.dtaas.services.service";
/// Swarm's limit on secret and config names.
const MAX_OBJECT_NAME: usize = 64;

/// A project as a stack: its overlay networks and its services in deploy order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    /// The project name: the stack's namespace.
    pub namespace: String,
    /// Overlay networks to create (attachable), by name.
    pub networks: Vec<String>,
    /// In dependency order (a service after those it depends on).
    pub services: Vec<StackService>,
}

/// One compose service as a Swarm service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackService {
    /// The compose service name (`postgres`).
    pub service: String,
    pub spec: SwarmServiceSpec,
    /// The configs and secrets its spec references, to create first.
    pub files: Vec<StackFile>,
    /// Bind-mount sources (directories) that must exist on the node the service is pinned to.
    pub node_dirs: Vec<String>,
    pub depends_on: Vec<String>,
    /// Its pin (`<SERVICE>_NODE`), when set.
    pub pin: Option<Pin>,
    /// What the swarm mode did differently from compose (for the report).
    pub notes: Vec<String>,
}

impl StackService {
    /// Refuse to deploy a service with data directories and no pin: its data would be
    /// created on whichever node Swarm picks, and lost when it picks another.
    ///
    /// # Errors
    /// [`SwarmError::Config`] naming the `<SERVICE>_NODE` key.
    pub fn check_placement(&self) -> Result<(), SwarmError> {
        if self.node_dirs.is_empty() || self.pin.is_some() {
            return Ok(());
        }
        Err(SwarmError::Config(format!(
            "{} is not set: {} keeps data in {} on one node; pin it to that node \
             (a node hostname, or a node label such as dtaas.node==db; docs/multi-host.md)",
            pin_key(&self.service),
            self.service,
            self.node_dirs.join(", ")
        )))
    }
}

/// A Swarm secret or config to create, named by its content (immutable in Swarm).
#[derive(Clone, PartialEq, Eq)]
pub struct StackFile {
    pub secret: bool,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub data: Vec<u8>,
}

impl fmt::Debug for StackFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StackFile")
            .field("secret", &self.secret)
            .field("name", &self.name)
            .field("labels", &self.labels)
            .field("data", &format_args!("<{} bytes>", self.data.len()))
            .finish()
    }
}

/// The stack of `project` with the services pinned as `pins` says (by compose name).
///
/// # Errors
/// [`SwarmError::Unsupported`] for what cannot become a Swarm service (a named volume, a
/// bind mount outside the project or of a link), [`SwarmError::Io`] reading a mounted file.
/// A service with data directories and no pin is refused by
/// [`StackService::check_placement`] when it is deployed.
pub fn translate(project: &Project, pins: &BTreeMap<String, Pin>) -> Result<Stack, SwarmError> {
    let ns = project.name.clone();
    let root = Dir::open_root(&project.working_dir).map_err(|source| SwarmError::Io {
        path: project.working_dir.display().to_string(),
        source,
    })?;
    let mut networks = Vec::new();
    let mut services = Vec::new();
    for name in deploy_order(project) {
        let def = &project.services[&name];
        let svc = service(&ns, def, &root, &project.working_dir, pins.get(&name))?;
        for n in &svc.spec.networks {
            if !networks.contains(n) {
                networks.push(n.clone());
            }
        }
        services.push(svc);
    }
    Ok(Stack {
        namespace: ns,
        networks,
        services,
    })
}

/// Service names so that each comes after its `depends_on` (file order otherwise).
fn deploy_order(project: &Project) -> Vec<String> {
    fn visit(p: &Project, name: &str, seen: &mut Vec<String>, out: &mut Vec<String>) {
        if seen.iter().any(|s| s == name) {
            return;
        }
        seen.push(name.to_owned());
        if let Some(def) = p.services.get(name) {
            for dep in def.depends_on.keys() {
                visit(p, dep, seen, out);
            }
            out.push(name.to_owned());
        }
    }
    let (mut seen, mut out) = (Vec::new(), Vec::new());
    for name in project.services.keys() {
        visit(project, name, &mut seen, &mut out);
    }
    out
}

fn restart(r: &RestartPolicy) -> Option<SwarmRestart> {
    match r {
        RestartPolicy::No => None,
        RestartPolicy::Always | RestartPolicy::UnlessStopped => Some(SwarmRestart {
            condition: "any",
            max_attempts: 0,
        }),
        RestartPolicy::OnFailure(n) => Some(SwarmRestart {
            condition: "on-failure",
            max_attempts: n.and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
        }),
    }
}

fn pin_key(service: &str) -> String {
    catalog::Service::from_compose_name(service)
        .map_or_else(|| format!("the pin of {service}"), node_key)
}

fn service(
    ns: &str,
    def: &ServiceDef,
    root: &Dir,
    dir: &Path,
    pin: Option<&Pin>,
) -> Result<StackService, SwarmError> {
    let name = &def.name;
    let mut notes = Vec::new();
    if let Some(c) = &def.container_name {
        notes.push(format!(
            "container_name {c} dropped: Swarm names the tasks {ns}_{name}.<slot>.<task id>"
        ));
    }
    let stack_label = BTreeMap::from([(LABEL_NAMESPACE.to_owned(), ns.to_owned())]);
    let mut labels = stack_label.clone();
    labels.insert(LABEL_IMAGE.to_owned(), def.image.clone());
    let mut container_labels = def.labels.clone();
    container_labels.extend(stack_label.clone());
    let (mounts, files, node_dirs) = mounts(ns, def, root, dir)?;
    let mut mounts = mounts;
    if let Some(size) = def.shm_size {
        mounts.push(SwarmMount::Tmpfs {
            target: "/dev/shm".to_owned(),
            size_bytes: size,
        });
        notes.push(format!("shm_size as a tmpfs of {size} bytes at /dev/shm"));
    }
    let mut aliases: Vec<String> = vec![name.clone()];
    for a in def.networks.values().flatten() {
        if !aliases.contains(a) {
            aliases.push(a.clone());
        }
    }
    let spec = SwarmServiceSpec {
        name: format!("{ns}_{name}"),
        image: def.image.clone(),
        args: def.command.clone().unwrap_or_default(),
        entrypoint: def.entrypoint.clone().unwrap_or_default(),
        replicas: 1,
        labels,
        container_labels: Some(container_labels),
        constraints: pin.map(Pin::constraint).into_iter().collect(),
        networks: def.networks.keys().map(|k| format!("{ns}_{k}")).collect(),
        dnsrr: true,
        env: def
            .environment
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect(),
        hostname: def.hostname.clone(),
        user: def.user.clone(),
        mounts,
        healthcheck: def.healthcheck.as_ref().map(|h| docker::HealthSpec {
            test: h.test.clone(),
            interval: h.interval,
            timeout: h.timeout,
            retries: h.retries,
            start_period: h.start_period,
        }),
        restart: restart(&def.restart),
        files: files.iter().map(|(r, _)| r.clone()).collect(),
        aliases,
        host_ports: def.ports.clone(),
        job: false,
        stop_grace_period: None,
    };
    Ok(StackService {
        service: name.clone(),
        spec,
        files: files.into_iter().map(|(_, f)| f).collect(),
        node_dirs,
        depends_on: def.depends_on.keys().cloned().collect(),
        pin: pin.cloned(),
        notes,
    })
}

type Mounts = (Vec<SwarmMount>, Vec<(SwarmFileRef, StackFile)>, Vec<String>);

fn mounts(ns: &str, def: &ServiceDef, root: &Dir, dir: &Path) -> Result<Mounts, SwarmError> {
    let name = &def.name;
    let (mut out, mut files, mut dirs) = (Vec::new(), Vec::new(), Vec::new());
    for m in &def.volumes {
        let (source, target, read_only) = match m {
            Mount::Bind {
                source,
                target,
                read_only,
            } => (source, target, *read_only),
            Mount::Volume { key, .. } => {
                return Err(SwarmError::Unsupported(format!(
                    "{name}: named volume {key} is not supported in swarm mode (data lives \
                     in bind-mounted directories on the pinned node)"
                )));
            }
        };
        let io = |source| SwarmError::Io {
            path: source_text(dir, source_path(m)),
            source,
        };
        let rel = source.strip_prefix(dir).map_err(|_| {
            SwarmError::Unsupported(format!(
                "{name}: bind mount {} is outside the project directory {}",
                source.display(),
                dir.display()
            ))
        })?;
        match root.meta(rel).map_err(io)?.map(|m| m.kind) {
            None | Some(Kind::Dir) => {
                dirs.push(source.display().to_string());
                out.push(SwarmMount::Bind {
                    source: source.display().to_string(),
                    target: target.clone(),
                    read_only,
                });
            }
            Some(Kind::File) => {
                let meta = root
                    .meta(rel)
                    .map_err(io)?
                    .ok_or_else(|| io(std::io::Error::from(std::io::ErrorKind::NotFound)))?;
                let data = root.read(rel).map_err(io)?;
                files.push(file(ns, name, target, &meta, data));
            }
            Some(_) => {
                return Err(SwarmError::Unsupported(format!(
                    "{name}: bind mount {} is a link or special file",
                    source.display()
                )));
            }
        }
    }
    Ok((out, files, dirs))
}

fn source_path(m: &Mount) -> &Path {
    match m {
        Mount::Bind { source, .. } => source,
        Mount::Volume { .. } => Path::new(""),
    }
}

fn source_text(dir: &Path, p: &Path) -> String {
    p.strip_prefix(dir).unwrap_or(p).display().to_string()
}

/// A mounted file as a config, or a secret when it is private (not readable by others, or
/// a private key), owned and moded as on this host.
fn file(
    ns: &str,
    service: &str,
    target: &str,
    meta: &safe_fs::Meta,
    data: Vec<u8>,
) -> (SwarmFileRef, StackFile) {
    let secret = meta.mode & 0o004 == 0 || contains(&data, b"PRIVATE KEY");
    let mode = meta.mode & 0o777;
    let mut h = Sha256::new();
    h.update(format!("{target}\0{}:{}:{mode:o}\0", meta.uid, meta.gid));
    h.update(&data);
    let hash = &hex::encode(h.finalize())[..12];
    let prefix = format!("{ns}_{service}");
    let keep = prefix.len().min(MAX_OBJECT_NAME - hash.len() - 1);
    let name = format!("{}_{hash}", &prefix[..keep]);
    let labels = BTreeMap::from([
        (LABEL_NAMESPACE.to_owned(), ns.to_owned()),
        (LABEL_SERVICE.to_owned(), service.to_owned()),
    ]);
    let r = SwarmFileRef {
        secret,
        name: name.clone(),
        id: String::new(),
        target: target.to_owned(),
        uid: meta.uid,
        gid: meta.gid,
        mode,
    };
    (
        r,
        StackFile {
            secret,
            name,
            labels,
            data,
        },
    )
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The one-off task that creates `svc`'s bind-mount directories on its pinned node (the
/// service's own image, as root; each path's first component, which exists on any host,
/// mounted at the same place), or `None` when it has none.
pub(crate) fn prepare_job(ns: &str, svc: &StackService) -> Option<SwarmServiceSpec> {
    if svc.node_dirs.is_empty() {
        return None;
    }
    let mut tops: Vec<String> = Vec::new();
    for d in &svc.node_dirs {
        let top = Path::new(d)
            .components()
            .take(2)
            .collect::<std::path::PathBuf>()
            .display()
            .to_string();
        if !tops.contains(&top) {
            tops.push(top);
        }
    }
    let owner = svc
        .spec
        .user
        .as_deref()
        .filter(|u| u.split(':').all(|p| p.parse::<u32>().is_ok()));
    let entrypoint = match owner {
        Some(o) => {
            let mut v = vec![
                "sh".to_owned(),
                "-c".to_owned(),
                format!("mkdir -p \"$@\" && chown {o} \"$@\""),
                "sh".to_owned(),
            ];
            v.extend(svc.node_dirs.iter().cloned());
            v
        }
        None => {
            let mut v = vec!["mkdir".to_owned(), "-p".to_owned()];
            v.extend(svc.node_dirs.iter().cloned());
            v
        }
    };
    Some(SwarmServiceSpec {
        name: format!("{}-dirs", svc.spec.name),
        image: svc.spec.image.clone(),
        entrypoint,
        replicas: 1,
        // A one-replica service that is not restarted, not a `replicated-job`: Swarm leaves
        // a removed job's exited container on the node (seen on Docker 20.10).
        job: false,
        user: Some("0:0".to_owned()),
        labels: BTreeMap::from([(LABEL_NAMESPACE.to_owned(), ns.to_owned())]),
        constraints: svc.spec.constraints.clone(),
        mounts: tops
            .into_iter()
            .map(|t| SwarmMount::Bind {
                source: t.clone(),
                target: t,
                read_only: false,
            })
            .collect(),
        restart: Some(SwarmRestart {
            condition: "none",
            max_attempts: 0,
        }),
        ..Default::default()
    })
}
