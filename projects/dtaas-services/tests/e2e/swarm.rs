//! Swarm mode end to end on a two-node swarm of the test's own (`e2e_kit::TestSwarm`: inner
//! engines in containers, never the shared engine): the project's PostgreSQL and RabbitMQ
//! (the local images, loaded into the worker only) pinned to the worker, one by hostname
//! and one by node label; `service start` deploys them as `docker stack deploy` would
//! (services labelled `com.docker.stack.namespace`), `service status` shows their tasks
//! running on the worker, a killed task container is replaced by Swarm, `service stop`
//! leaves no running task, `service remove` leaves no service, network, config or secret on
//! the manager and no container on the worker.

// Progress and the worker's logs on failure go to stderr (nextest shows them on failure).
#![allow(clippy::print_stderr)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use docker::{BollardEngine, Engine as _};
use e2e_kit::{TestProject, TestSwarm, ensure_images, live_or_skip};

use crate::support::{Run, bin};

const NS_LABEL: &str = "com.docker.stack.namespace";

fn swarm_cli(p: &TestProject, host: &str, args: &[&str]) -> Run {
    let mut c = p.cli();
    c.args(args)
        .env("DOCKER_HOST", host)
        .env("DTAAS_TEST_SWARM_PLAIN_TCP", "1")
        .env_remove("DOCKER_TLS_VERIFY");
    Run::of(&c.output().expect("run dtaas-services"))
}

fn status(p: &TestProject, host: &str) -> serde_json::Value {
    let r = swarm_cli(p, host, &["--json", "service", "status"]).expect_code(0, "status");
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

/// The running task (id, container) of a Swarm service, polled until there is one.
async fn running_task(m: &BollardEngine, service: &str, not: Option<&str>) -> (String, String) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let tasks = m.service_tasks(service).await.expect("tasks");
        if let Some(t) = tasks.iter().find(|t| {
            t.state == "running" && t.desired_state == "running" && Some(t.id.as_str()) != not
        }) {
            return (t.id.clone(), t.container_id.clone().expect("container"));
        }
        assert!(
            Instant::now() < deadline,
            "{service}: no new running task: {tasks:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The worker's containers and their last log lines (why a task failed).
async fn dump_worker(w: &BollardEngine) {
    use futures_util::StreamExt as _;
    for c in w.list_containers(&[]).await.unwrap_or_default() {
        let opts = docker::LogsOptions {
            tail: Some(30),
            ..Default::default()
        };
        let mut out = Vec::new();
        let mut logs = w.logs(&c.id, &opts);
        while let Some(Ok(chunk)) = logs.next().await {
            out.extend(chunk.bytes);
        }
        eprintln!(
            "--- worker container {c:?}\n{}",
            String::from_utf8_lossy(&out)
        );
    }
}

#[test]
fn postgres_and_rabbitmq_pinned_to_the_worker_start_heal_stop_and_go() {
    if !live_or_skip("swarm_platform") {
        return;
    }
    let t0 = Instant::now();
    let images = ensure_images().expect("local test images (images/build.sh)");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let swarm = rt
        .block_on(TestSwarm::start(&[]))
        .expect("start the test swarm");
    let (m, w) = (&swarm.manager.engine, &swarm.worker.engine);
    rt.block_on(swarm.load_images(&[&images.postgres, &images.rabbitmq], &swarm.worker))
        .expect("load the images into the worker");
    let label = BTreeMap::from([("dtaas.node".to_owned(), "mq".to_owned())]);
    rt.block_on(m.swarm_label_node(&swarm.worker.name, &label))
        .expect("label the worker");
    eprintln!("swarm ready after {:?}", t0.elapsed());

    let p = TestProject::generate(&bin(), &images).expect("project generate");
    p.setup_certs().expect("certs self-signed + host setup");
    p.set("ORCHESTRATOR", "swarm").expect("config set");
    p.set("POSTGRES_NODE", &swarm.worker.name)
        .expect("config set");
    p.set("RABBITMQ_NODE", "dtaas.node==mq")
        .expect("config set");
    let host = swarm.manager_host();
    let ns = p.project_name();
    let sel = "postgres,rabbitmq";

    let r = swarm_cli(
        &p,
        &host,
        &["service", "start", "-s", sel, "--timeout", "150s"],
    );
    if r.code != 0 {
        rt.block_on(dump_worker(w));
    }
    let r = r.expect_code(0, "start");
    eprintln!("started after {:?}:\n{}", t0.elapsed(), r.stdout);
    // Labelled as `docker stack deploy` labels them, so `docker stack ps <project>` lists them.
    let services = rt
        .block_on(m.list_services_labelled(&format!("{NS_LABEL}={ns}")))
        .expect("services");
    let mut names: Vec<_> = services.iter().map(|s| s.name.clone()).collect();
    names.sort();
    assert_eq!(names, [format!("{ns}_postgres"), format!("{ns}_rabbitmq")]);
    assert!(
        services
            .iter()
            .all(|s| s.labels.get("com.docker.stack.image") == Some(&s.image))
    );
    let st = status(&p, &host);
    let tasks = st["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 2, "{st}");
    for t in tasks {
        assert_eq!(t["node"], swarm.worker.name.as_str(), "{st}");
        assert_eq!(t["desired"], "running", "{st}");
        assert_eq!(t["current"], "running", "{st}");
    }

    // A killed task container: Swarm replaces the task (restart policy `any`).
    let pg = format!("{ns}_postgres");
    let (old, cid) = rt.block_on(running_task(m, &pg, None));
    rt.block_on(w.kill_container(&cid, None)).expect("kill");
    let (new, _) = rt.block_on(running_task(m, &pg, Some(&old)));
    assert_ne!(new, old);
    eprintln!("replaced after {:?}", t0.elapsed());

    swarm_cli(&p, &host, &["service", "stop", "-s", sel]).expect_code(0, "stop");
    for s in [&pg, &format!("{ns}_rabbitmq")] {
        let tasks = rt.block_on(m.service_tasks(s)).expect("tasks");
        assert!(
            !tasks.iter().any(|t| t.state == "running"),
            "{s}: {tasks:?}"
        );
    }
    let st = status(&p, &host);
    assert!(
        st["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .all(|t| t["current"] != "running"),
        "{st}"
    );

    // --volumes is not there yet: refused before anything is removed.
    swarm_cli(&p, &host, &["service", "remove", "--volumes"]).expect_code(2, "remove -v");
    swarm_cli(&p, &host, &["service", "remove"]).expect_code(0, "remove");
    let label = format!("{NS_LABEL}={ns}");
    rt.block_on(async {
        assert!(m.list_services_labelled(&label).await.unwrap().is_empty());
        assert!(m.list_networks_labelled(&label).await.unwrap().is_empty());
        for secret in [false, true] {
            let left = m.list_swarm_objects(secret, &label).await.unwrap();
            assert!(left.is_empty(), "{left:?}");
        }
        // The worker's task containers go once Swarm has shut the tasks down.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let left = w.list_containers(&[]).await.unwrap();
            if left.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "left on the worker: {left:?}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    eprintln!("whole swarm test: {:?}", t0.elapsed());
}
