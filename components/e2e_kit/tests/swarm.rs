//! The test kit's two-node swarm on engines of its own (never the shared engine): two ready
//! nodes, a service pinned to the worker by a node label runs there, and the teardown
//! leaves nothing on the outer engine (no container, network or cgroup directory).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use docker::{Engine as _, SwarmServiceSpec};
use e2e_kit::{TestSwarm, live_or_skip};

fn outer_lines(args: &[&str]) -> Vec<String> {
    let out = Command::new("docker").args(args).output().expect("docker");
    assert!(out.status.success(), "docker {args:?} failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
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
    m.create_overlay_network("dtaas-test-net", &BTreeMap::new())
        .await
        .expect("overlay");
    m.create_service(&SwarmServiceSpec {
        name: "pinned".to_owned(),
        image: busybox.to_owned(),
        args: vec![
            "httpd".into(),
            "-f".into(),
            "-p".into(),
            "8080".into(),
            "-h".into(),
            "/www".into(),
        ],
        replicas: 1,
        constraints: vec!["node.labels.dtaas.node==db".to_owned()],
        networks: vec!["dtaas-test-net".to_owned()],
        dnsrr: true,
        ..Default::default()
    })
    .await
    .expect("create the pinned service");

    let worker_id = nodes
        .iter()
        .find(|n| n.role == "worker")
        .map(|n| n.id.clone())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let task = loop {
        let tasks = m.service_tasks("pinned").await.expect("tasks");
        if let Some(t) = tasks.iter().find(|t| t.state == "running") {
            break t.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no running task after 60 s: {tasks:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(
        task.node_id, worker_id,
        "the task is not on the labelled worker: {task:?}"
    );
    let cid = task
        .container_id
        .clone()
        .expect("the running task has a container");
    // The container is on the worker's engine, not on the manager's.
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
    assert!(
        mem.join(format!("{}/inner/{cid}", swarm.worker.name))
            .is_dir(),
        "task cgroup not under /{}/inner",
        swarm.worker.name
    );
    assert!(
        !mem.join("docker").join(&cid).exists(),
        "task cgroup leaked into /docker"
    );
    eprintln!(
        "two-node swarm up and the pinned task running after {:?}",
        t0.elapsed()
    );

    drop(swarm);
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
        .unwrap()
        .flatten()
        .map(|c| c.path().join("docker").join(&cid))
        .filter(|d| d.exists())
        .collect();
    assert!(
        leaked.is_empty(),
        "task cgroups left in the outer engine's parent: {leaked:?}"
    );
    eprintln!("whole test incl. teardown: {:?}", t0.elapsed());
}
