//! A two-node Docker Swarm of the test's own (docs/multi-host.md, "Test engines"): two
//! inner dockerd containers (`images/dind`) on a network of their own, the first the
//! manager, the second a worker. The outer containers and network are made and removed
//! with the `docker` CLI, as the rest of the kit does; the swarm itself (init, join, nodes,
//! images) goes through the `docker` component's bollard adapter on the inner engines' tcp
//! API. [`TestSwarm`] removes the containers, the network and the inner engines' cgroup
//! subtrees when it drops, also when the test panics.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use docker::{BollardEngine, DockerError, SwarmNode};

use crate::{KitError, images_dir};

/// The name prefix of everything a test swarm makes on the outer engine.
const PREFIX: &str = "dtaas-swarm";
/// The label on the outer containers and network.
const LABEL: &str = "org.dtaas.test=swarm";
const LABEL_FILTER: &str = "label=org.dtaas.test=swarm";
/// The cgroup v1 hierarchy the inner engines share with the host.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// How long an inner engine may take to answer, and the swarm to report two ready nodes.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// One inner engine.
#[derive(Debug)]
pub struct SwarmEngine {
    /// The outer container's name, also the node's hostname.
    pub name: String,
    /// Its address on the test network (the swarm advertises it).
    pub ip: String,
    /// Its Engine API (`tcp://<ip>:2375`).
    pub engine: BollardEngine,
}

/// A running two-node swarm; everything goes away when it drops.
#[derive(Debug)]
pub struct TestSwarm {
    pub manager: SwarmEngine,
    pub worker: SwarmEngine,
    guard: SwarmGuard,
}

impl TestSwarm {
    /// Build `dtaas-test/dind:1` when needed (`images/build.sh dind`), start a manager and a
    /// worker engine, join them, wait until both nodes are ready, and load the outer
    /// engine's local `images` into both (save/load through the Engine API).
    ///
    /// # Errors
    /// [`KitError`] naming the step that failed; what was made so far is removed.
    pub async fn start(images: &[&str]) -> Result<TestSwarm, KitError> {
        let dind = dind_image()?;
        TestSwarm::sweep_stale();
        let name = test_support::unique_name(PREFIX);
        let mut guard = SwarmGuard {
            network: None,
            containers: Vec::new(),
        };
        docker(&[
            "network",
            "create",
            "--label",
            "org.dtaas.test=swarm",
            &name,
        ])?;
        guard.network = Some(name.clone());
        let manager = start_engine(&dind, &name, "manager", &mut guard).await?;
        let worker = start_engine(&dind, &name, "worker", &mut guard).await?;
        let swarm = TestSwarm {
            manager,
            worker,
            guard,
        };
        swarm.join().await?;
        let outer = BollardEngine::connect(None)
            .await
            .map_err(|e| kit("outer engine", &e))?;
        for image in images {
            for node in [&swarm.manager, &swarm.worker] {
                outer
                    .copy_image_to(image, &node.engine)
                    .await
                    .map_err(|e| kit(&format!("load {image} into {}", node.name), &e))?;
            }
        }
        Ok(swarm)
    }

    /// Load the outer engine's local `images` into `node` only (a pinned service needs its
    /// image on its node alone; each load takes seconds and tmpfs memory: copy no more).
    ///
    /// # Errors
    /// [`KitError`] naming the image and node.
    pub async fn load_images(&self, images: &[&str], node: &SwarmEngine) -> Result<(), KitError> {
        let outer = BollardEngine::connect(None)
            .await
            .map_err(|e| kit("outer engine", &e))?;
        for image in images {
            outer
                .copy_image_to(image, &node.engine)
                .await
                .map_err(|e| kit(&format!("load {image} into {}", node.name), &e))?;
        }
        Ok(())
    }

    /// The manager's Engine API address (`tcp://<ip>:2375`, plain tcp inside the test
    /// network), as `DOCKER_HOST` for the binary under test.
    #[must_use]
    pub fn manager_host(&self) -> String {
        format!("tcp://{}:2375", self.manager.ip)
    }

    async fn join(&self) -> Result<(), KitError> {
        let (m, w) = (&self.manager, &self.worker);
        m.engine
            .swarm_init(&m.ip)
            .await
            .map_err(|e| kit("swarm init", &e))?;
        let token = m
            .engine
            .swarm_worker_token()
            .await
            .map_err(|e| kit("swarm join token", &e))?;
        w.engine
            .swarm_join(&format!("{}:2377", m.ip), &token, &w.ip)
            .await
            .map_err(|e| kit("swarm join", &e))?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let nodes = self.nodes().await?;
            if nodes.len() == 2 && nodes.iter().all(|n| n.state == "ready") {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(KitError::Images(format!(
                    "the swarm has no two ready nodes after {}s: {nodes:?}",
                    START_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Remove what test swarms of processes that no longer run left behind (a test killed
    /// by a timeout never runs its guard): containers labelled `org.dtaas.test=swarm` named
    /// `dtaas-swarm-<pid>-...` whose pid is gone, their network and cgroup subtrees.
    /// Returns the names of the containers removed.
    pub fn sweep_stale() -> Vec<String> {
        let names = docker(&[
            "ps",
            "-a",
            "--filter",
            LABEL_FILTER,
            "--format",
            "{{.Names}}",
        ])
        .unwrap_or_default();
        let mut removed = Vec::new();
        for name in names.lines() {
            let Some((prefix, pid)) = stale_prefix(name) else {
                continue;
            };
            if Path::new("/proc").join(pid.to_string()).exists() {
                continue;
            }
            drop(SwarmGuard {
                network: Some(prefix.to_owned()),
                containers: vec![name.to_owned()],
            });
            removed.push(name.to_owned());
        }
        removed
    }

    /// The nodes as the manager lists them.
    ///
    /// # Errors
    /// [`KitError`] when the manager does not answer.
    pub async fn nodes(&self) -> Result<Vec<SwarmNode>, KitError> {
        self.manager
            .engine
            .swarm_nodes()
            .await
            .map_err(|e| kit("node list", &e))
    }

    /// The name of the test network and the prefix of everything made on the outer engine.
    #[must_use]
    pub fn name(&self) -> &str {
        self.guard.network.as_deref().unwrap_or_default()
    }

    /// The cgroup directories of the inner engines (`/sys/fs/cgroup/<controller>/<name>-*`),
    /// for tests of the teardown.
    #[must_use]
    pub fn cgroup_dirs(&self) -> Vec<PathBuf> {
        cgroup_dirs(&self.guard.containers)
    }
}

/// Start one inner engine named `<prefix>-<role>` and wait until its API answers.
async fn start_engine(
    image: &str,
    prefix: &str,
    role: &str,
    guard: &mut SwarmGuard,
) -> Result<SwarmEngine, KitError> {
    let name = format!("{prefix}-{role}");
    let parent = format!("/{name}");
    let tasks = format!("--cgroup-parent={parent}/inner");
    guard.containers.push(name.clone());
    // overlay2 (overlayfs on the tmpfs), not vfs: vfs gives every container a root
    // directory of mode 0700 here (the debootstrapped base layer's `./` entry), so a
    // service that drops root (RabbitMQ, PostgreSQL) cannot load libc; overlay2 also
    // needs half the memory (docs/multi-host.md).
    #[rustfmt::skip]
    let args = [
        "run", "-d", "--name", &name, "--hostname", &name, "--network", prefix,
        "--label", LABEL,
        // --privileged is refused here (no CAP_SYS_RESOURCE in the kernel's bounding set).
        "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
        "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
        "--security-opt", "systempaths=unconfined",
        "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--cgroup-parent", &parent,
        "--tmpfs", "/run", "--tmpfs", "/var/lib/docker:exec",
        image,
        "--host=tcp://0.0.0.0:2375", "--host=unix:///run/docker.sock",
        "--storage-driver=overlay2", "--tls=false", &tasks,
    ];
    docker(&args)?;
    let ip = docker(&[
        "inspect",
        "--format",
        &format!("{{{{(index .NetworkSettings.Networks \"{prefix}\").IPAddress}}}}"),
        &name,
    ])?;
    let host = format!("tcp://{ip}:2375");
    let deadline = Instant::now() + START_TIMEOUT;
    let engine = loop {
        match BollardEngine::connect(Some(&host)).await {
            Ok(e) => break e,
            Err(e) if Instant::now() > deadline => return Err(kit(&name, &e)),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    Ok(SwarmEngine { name, ip, engine })
}

/// `dtaas-swarm-<pid>-<n>-<nanos>-<role>` -> (`dtaas-swarm-<pid>-<n>-<nanos>`, pid).
fn stale_prefix(name: &str) -> Option<(&str, u32)> {
    let rest = name.strip_prefix(PREFIX)?.strip_prefix('-')?;
    let pid = rest.split('-').next()?.parse().ok()?;
    let (prefix, role) = name.rsplit_once('-')?;
    matches!(role, "manager" | "worker").then_some((prefix, pid))
}

/// `images/build.sh dind` and the tag it printed.
fn dind_image() -> Result<String, KitError> {
    let script = images_dir().join("build.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg("dind")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|source| KitError::Spawn {
            program: script.display().to_string(),
            source,
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("dind="))
        .filter(|_| out.status.success())
        .map(str::to_owned)
        .ok_or_else(|| {
            KitError::Images(format!("{} dind failed ({})", script.display(), out.status))
        })
}

fn kit(step: &str, e: &DockerError) -> KitError {
    KitError::Command {
        command: step.to_owned(),
        status: "engine error".to_owned(),
        stderr: e.to_string(),
    }
}

/// Run `docker <args>` on the outer engine; its trimmed stdout.
fn docker(args: &[&str]) -> Result<String, KitError> {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| KitError::Spawn {
            program: "docker".to_owned(),
            source,
        })?;
    if !out.status.success() {
        return Err(KitError::Command {
            command: format!("docker {}", args.first().copied().unwrap_or_default()),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `/sys/fs/cgroup/<controller>/<name>` for every controller and container name that exists.
fn cgroup_dirs(names: &[String]) -> Vec<PathBuf> {
    let Ok(controllers) = std::fs::read_dir(CGROUP_ROOT) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in controllers.flatten() {
        for n in names {
            let d = c.path().join(n);
            if d.is_dir() && !d.is_symlink() {
                out.push(d);
            }
        }
    }
    out.sort();
    out
}

/// Remove a cgroup directory tree bottom-up (`rmdir` only: a cgroup still holding a
/// process stays, and the caller retries). Never follows a symlink.
fn remove_cgroup_tree(dir: &Path) -> bool {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    std::fs::remove_dir(dir).is_ok()
}

/// What was made on the outer engine; removed on drop.
#[derive(Debug)]
struct SwarmGuard {
    network: Option<String>,
    containers: Vec<String>,
}

impl Drop for SwarmGuard {
    fn drop(&mut self) {
        if !self.containers.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(self.containers.iter().map(String::as_str));
            let _ = docker(&args);
        }
        if let Some(n) = &self.network {
            let _ = docker(&["network", "rm", n]);
        }
        // The killed inner engines' task processes leave their cgroups a moment later.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left: Vec<_> = cgroup_dirs(&self.containers)
                .into_iter()
                .filter(|d| !remove_cgroup_tree(d))
                .collect();
            if left.is_empty() || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_test_swarm_engines_are_stale_candidates() {
        assert_eq!(
            stale_prefix("dtaas-swarm-4242-0-7a171-manager"),
            Some(("dtaas-swarm-4242-0-7a171", 4242))
        );
        assert_eq!(
            stale_prefix("dtaas-swarm-7-3-1-worker"),
            Some(("dtaas-swarm-7-3-1", 7))
        );
        for other in [
            "dtaas-swarm-4242-0-7a171",
            "dtaas-swarm-x-0-1-manager",
            "dtaas-swarmhand-m",
            "postgres",
            "dtaas-swarm-4242-0-1-postgres",
        ] {
            assert_eq!(stale_prefix(other), None, "{other}");
        }
    }
}
