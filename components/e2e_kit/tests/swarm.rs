//! The test kit's two-node swarm on engines of its own (never the shared engine): two ready
//! nodes, a service pinned to the worker by a node label runs there, a task on the manager
//! reaches it over the overlay network (dnsrr: no IPVS here), and the teardown leaves
//! nothing on the outer engine (no container, network or cgroup directory).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use docker::{BollardEngine, Engine as _, ExecSpec, SwarmServiceSpec, SwarmTask};
use e2e_kit::{TestSwarm, live_or_skip};

const NET: &str = "dtaas-test-net";

fn outer_lines(args: &[&str]) -> Vec<String> {
    let out = Command::new("docker").args(args).output().expect("docker");
    assert!(out.status.success(), "docker {args:?} failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

fn service(name: &str, image: &str, args: &[&str], constraint: &str) -> SwarmServiceSpec {
    SwarmServiceSpec {
        name: name.to_owned(),
        image: image.to_owned(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        replicas: 1,
        constraints: vec![constraint.to_owned()],
        networks: vec![NET.to_owned()],
        dnsrr: true,
        ..Default::default()
    }
}

/// The service's running task, waiting up to a minute for it.
async fn running_task(m: &BollardEngine, service: &str) -> SwarmTask {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let tasks = m.service_tasks(service).await.expect("tasks");
        if let Some(t) = tasks.iter().find(|t| t.state == "running") {
            return t.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{service}: no running task after 60 s: {tasks:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_node_swarm_runs_a_pinned_service_on_the_worker_and_leaves_nothing_behind() {
    if !live_or_skip("two_node_swarm") {
        return;
    }
    let t0 = Instant::now();
    let busybox = test_support::busybox_image();
    let swarm = TestSwarm::start(&[busybox])
        .await
        .expect("start the test swarm");
    let name = swarm.name().to_owned();
    let cgroups = swarm.cgroup_dirs();
    assert!(
        !cgroups.is_empty(),
        "the inner engines have no cgroup subtree of their own"
    );

    let nodes = swarm.nodes().await.expect("nodes");
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    assert!(
        nodes
            .iter()
            .all(|n| n.state == "ready" && n.availability == "active"),
        "{nodes:?}"
    );
    let roles: Vec<_> = nodes
        .iter()
        .map(|n| (n.hostname.as_str(), n.role.as_str()))
        .collect();
    assert!(
        roles.contains(&(swarm.manager.name.as_str(), "manager")),
        "{roles:?}"
    );
    assert!(
        roles.contains(&(swarm.worker.name.as_str(), "worker")),
        "{roles:?}"
    );

    let m = &swarm.manager.engine;
    let label = BTreeMap::from([("dtaas.node".to_owned(), "db".to_owned())]);
    m.swarm_label_node(&swarm.worker.name, &label)
        .await
        .expect("label the worker");
    m.create_overlay_network(NET, &BTreeMap::new())
        .await
        .expect("overlay");
    let httpd = ["httpd", "-f", "-p", "8080", "-h", "/www"];
    m.create_service(&service(
        "pinned",
        busybox,
        &httpd,
        "node.labels.dtaas.node==db",
    ))
    .await
    .expect("create the pinned service");
    m.create_service(&service(
        "client",
        busybox,
        &["sleep", "600"],
        "node.role==manager",
    ))
    .await
    .expect("create the client service");

    let worker_id = nodes
        .iter()
        .find(|n| n.role == "worker")
        .map(|n| n.id.clone());
    let task = running_task(m, "pinned").await;
    assert_eq!(
        Some(&task.node_id),
        worker_id.as_ref(),
        "not on the labelled worker: {task:?}"
    );
    let cid = task
        .container_id
        .clone()
        .expect("the running task has a container");
    assert!(
        swarm.worker.engine.inspect_container(&cid).await.is_ok(),
        "task container {cid} is not on the worker engine"
    );
    assert!(
        m.inspect_container(&cid).await.is_err(),
        "task container {cid} on the manager"
    );
    // Its cgroup is inside the worker engine's own subtree, not the outer engine's /docker.
    let mem = Path::new("/sys/fs/cgroup/memory");
    let inner = mem.join(format!("{}/inner/{cid}", swarm.worker.name));
    assert!(inner.is_dir(), "task cgroup not at {}", inner.display());
    assert!(
        !mem.join("docker").join(&cid).exists(),
        "task cgroup leaked into /docker"
    );

    // A task on the manager reaches the worker's task by service name over the overlay
    // (busybox's nc: its static wget crashes in these containers).
    let client = running_task(m, "client").await;
    let ccid = client.container_id.expect("client container");
    let get = "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 5 pinned 8080";
    let spec = ExecSpec {
        cmd: vec!["sh".into(), "-c".into(), get.into()],
        ..Default::default()
    };
    let out = m.exec(&ccid, &spec).await.expect("exec in the client task");
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.exit_code == 0 && body.starts_with("HTTP/1.1 200 OK") && body.ends_with("ok\n"),
        "manager -> worker over the overlay: {out:?} {body}"
    );
    eprintln!("two-node swarm checked after {:?}", t0.elapsed());

    drop(swarm);
    assert_torn_down(&name, &cgroups, &cid);
    eprintln!("whole test incl. teardown: {:?}", t0.elapsed());
}

fn assert_torn_down(name: &str, cgroups: &[std::path::PathBuf], cid: &str) {
    assert!(
        outer_lines(&["ps", "-aq", "--filter", &format!("name={name}")]).is_empty(),
        "containers of {name} left on the outer engine"
    );
    assert!(
        outer_lines(&["network", "ls", "-q", "--filter", &format!("name={name}")]).is_empty(),
        "network {name} left on the outer engine"
    );
    let left: Vec<_> = cgroups.iter().filter(|d| d.exists()).collect();
    assert!(left.is_empty(), "cgroup dirs left: {left:?}");
    let leaked: Vec<_> = std::fs::read_dir("/sys/fs/cgroup")
        .expect("cgroup root")
        .flatten()
        .map(|c| c.path().join("docker").join(cid))
        .filter(|d| d.exists())
        .collect();
    assert!(
        leaked.is_empty(),
        "task cgroups left in the outer engine's parent: {leaked:?}"
    );
}

/// A test killed before its guard ran (a nextest timeout) leaves its engines behind: the
/// next `TestSwarm::start` sweeps them (container, network, cgroup subtree) by the dead pid
/// in their names, and leaves the engines of running processes alone.
#[test]
fn engines_of_a_dead_test_process_are_swept() {
    if !live_or_skip("stale_swarm_sweep") {
        return;
    }
    let busybox = test_support::busybox_image();
    let mut child = Command::new("true").spawn().expect("spawn true");
    let dead = child.id();
    child.wait().expect("wait true");
    assert!(!Path::new("/proc").join(dead.to_string()).exists());
    let prefix = format!("dtaas-swarm-{dead}-0-1");
    let name = format!("{prefix}-manager");
    let live_name = format!("dtaas-swarm-{}-0-1-worker", std::process::id());
    outer_lines(&[
        "network",
        "create",
        "--label",
        "org.dtaas.test=swarm",
        &prefix,
    ]);
    for (n, parent) in [
        (&name, format!("/{name}")),
        (&live_name, format!("/{live_name}")),
    ] {
        outer_lines(&[
            "run",
            "-d",
            "--name",
            n,
            "--network",
            &prefix,
            "--label",
            "org.dtaas.test=swarm",
            "--cgroup-parent",
            &parent,
            busybox,
            "sleep",
            "600",
        ]);
    }
    let cgroup = Path::new("/sys/fs/cgroup/memory").join(&name);
    assert!(cgroup.is_dir(), "{} missing", cgroup.display());

    let removed = TestSwarm::sweep_stale();
    let live_left = outer_lines(&["ps", "-aq", "--filter", &format!("name={live_name}")]);
    // Clean up the live one ourselves before asserting (it is this process's).
    outer_lines(&["rm", "-f", "-v", &live_name]);
    outer_lines(&["network", "rm", &prefix]);
    for c in std::fs::read_dir("/sys/fs/cgroup")
        .expect("cgroup root")
        .flatten()
    {
        let _ = std::fs::remove_dir(c.path().join(&live_name));
    }
    // A concurrent `TestSwarm::start` in another test process may have swept it first.
    assert!(
        removed.is_empty() || removed == vec![name.clone()],
        "{removed:?}"
    );
    assert_eq!(live_left.len(), 1, "the live process's engine was swept");
    assert!(outer_lines(&["ps", "-aq", "--filter", &format!("name={name}")]).is_empty());
    assert!(!cgroup.exists(), "{} left", cgroup.display());
}
