//! The translation of a project into a stack, as `docker stack deploy` would make it
//! (Upstream: github.com/docker/cli cli/compose/convert/{compose,service}.go at commit
//! 0163d9c0ee5a03e0f15c3ff7815f18b8d80bdde4), and the settings the swarm mode reads.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use docker::{SwarmMount, SwarmRestart};

use crate::spec::prepare_job;
use crate::*;

const COMPOSE: &str = r#"
services:
  app:
    image: example/app:1
    container_name: app
    restart: unless-stopped
    depends_on:
      db:
        condition: service_healthy
    environment:
      DB_HOST: db
      UNSET:
    shm_size: 64m
    networks:
      - platform
  db:
    image: ${DB_IMAGE:-postgres:16}
    container_name: ${CONTAINER_PREFIX:-}postgres
    hostname: db
    restart: on-failure:3
    entrypoint: ["docker-entrypoint.sh"]
    command: ["postgres", "-c", "ssl=on"]
    ports:
      - "5432:5432"
    volumes:
      - ./data/postgres:/var/lib/postgresql/data
      - ./certs/postgres.crt:/etc/tls/postgres.crt:ro
      - ./certs/postgres.key:/etc/tls/postgres.key:ro
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -q"]
      interval: 5s
      retries: 3
    networks:
      platform:
        aliases: [database]
networks:
  platform:
    name: dtaas-services
"#;

fn project(compose: &str) -> (tempfile::TempDir, compose::Project) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("compose.yml"), compose).unwrap();
    std::fs::create_dir_all(d.join("certs")).unwrap();
    std::fs::write(
        d.join("certs/postgres.crt"),
        "-----BEGIN CERTIFICATE-----\n",
    )
    .unwrap();
    let key = d.join("certs/postgres.key");
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let p = load(d);
    (dir, p)
}

fn load(d: &Path) -> compose::Project {
    compose::load_project(
        &compose::ProjectFiles {
            name: "svc-example-org".into(),
            working_dir: d.to_owned(),
            files: vec![d.join("compose.yml")],
        },
        &BTreeMap::from([("DB_IMAGE".to_owned(), "dtaas-test/postgres:15".to_owned())]),
    )
    .unwrap()
}

fn pins(db: &str) -> BTreeMap<String, Pin> {
    BTreeMap::from([(
        "db".to_owned(),
        Pin::Label {
            key: "dtaas.node".into(),
            value: db.into(),
        },
    )])
}

#[test]
fn services_are_named_labelled_and_ordered_as_docker_stack_deploy_does() {
    let (_d, p) = project(COMPOSE);
    let stack = translate(&p, &pins("db")).unwrap();
    assert_eq!(stack.namespace, "svc-example-org");
    // depends_on: the database first although the file names the app first.
    let order: Vec<_> = stack
        .services
        .iter()
        .map(|s| s.spec.name.as_str())
        .collect();
    assert_eq!(order, ["svc-example-org_db", "svc-example-org_app"]);
    // One attachable overlay per compose network, scoped by the namespace.
    assert_eq!(stack.networks, ["svc-example-org_platform"]);
    let db = &stack.services[0].spec;
    assert_eq!(
        db.labels,
        BTreeMap::from([
            (LABEL_NAMESPACE.to_owned(), "svc-example-org".to_owned()),
            (LABEL_IMAGE.to_owned(), "dtaas-test/postgres:15".to_owned()),
        ])
    );
    assert_eq!(
        db.container_labels,
        Some(BTreeMap::from([(
            LABEL_NAMESPACE.to_owned(),
            "svc-example-org".to_owned()
        )]))
    );
    assert_eq!(db.image, "dtaas-test/postgres:15");
    assert_eq!(db.entrypoint, ["docker-entrypoint.sh"]);
    assert_eq!(db.args, ["postgres", "-c", "ssl=on"]);
    assert_eq!(db.hostname.as_deref(), Some("db"));
    assert!(db.dnsrr, "no VIP: the name resolves to the task IPs");
    assert_eq!(db.networks, ["svc-example-org_platform"]);
    assert_eq!(db.aliases, ["db", "database"]);
    assert_eq!(db.constraints, ["node.labels.dtaas.node==db"]);
    assert_eq!(
        db.restart,
        Some(SwarmRestart {
            condition: "on-failure",
            max_attempts: 3
        })
    );
    assert_eq!(db.host_ports.len(), 1);
    let hc = db.healthcheck.as_ref().unwrap();
    assert_eq!(hc.test, ["CMD-SHELL", "pg_isready -q"]);
    assert_eq!(hc.retries, Some(3));
    let app = &stack.services[1];
    assert_eq!(
        app.spec.restart,
        Some(SwarmRestart {
            condition: "any",
            max_attempts: 0
        })
    );
    assert_eq!(
        app.spec.env,
        ["DB_HOST=db"],
        "an unset variable is left out"
    );
    assert_eq!(app.depends_on, ["db"]);
    assert!(app.spec.constraints.is_empty(), "stateless: floats");
}

#[test]
fn what_swarm_ignores_is_handled_not_dropped() {
    let (_d, p) = project(COMPOSE);
    let stack = translate(&p, &pins("db")).unwrap();
    let app = &stack.services[1];
    assert!(
        app.spec.mounts.contains(&SwarmMount::Tmpfs {
            target: "/dev/shm".into(),
            size_bytes: 64 * 1024 * 1024
        }),
        "{:?}",
        app.spec.mounts
    );
    assert!(
        app.notes
            .iter()
            .any(|n| n.starts_with("container_name app dropped")),
        "{:?}",
        app.notes
    );
}

#[test]
fn mounted_files_become_configs_and_private_ones_secrets_named_by_content() {
    let (d, p) = project(COMPOSE);
    let stack = translate(&p, &pins("db")).unwrap();
    let db = &stack.services[0];
    let by_target: BTreeMap<_, _> = db
        .spec
        .files
        .iter()
        .map(|f| (f.target.as_str(), f))
        .collect();
    let crt = by_target["/etc/tls/postgres.crt"];
    let key = by_target["/etc/tls/postgres.key"];
    assert!(!crt.secret, "a public certificate is a config");
    assert!(key.secret, "a private key is a secret");
    assert_eq!(key.mode, 0o600, "the mode of the host file");
    assert!(crt.name.starts_with("svc-example-org_db_"), "{}", crt.name);
    assert_eq!(db.files.len(), 2);
    assert!(
        db.files
            .iter()
            .all(|f| f.labels[LABEL_NAMESPACE] == "svc-example-org")
    );
    let debug = format!("{:?}", db.files);
    assert!(
        !debug.contains("PRIVATE KEY"),
        "file content in Debug: {debug}"
    );
    // Swarm secrets are immutable: a new content is a new name.
    std::fs::write(
        d.path().join("certs/postgres.key"),
        "-----BEGIN PRIVATE KEY-----\nx\n",
    )
    .unwrap();
    let again = translate(&load(d.path()), &pins("db")).unwrap();
    let key2 = again.services[0]
        .spec
        .files
        .iter()
        .find(|f| f.target == "/etc/tls/postgres.key")
        .unwrap();
    assert_ne!(key2.name, key.name);
    assert!(key2.name.len() <= 64);
    // Data directories stay bind mounts, created on the pinned node by a one-off job.
    let data = d.path().join("data/postgres").display().to_string();
    assert_eq!(db.node_dirs, std::slice::from_ref(&data));
    let job = prepare_job(&stack.namespace, db).unwrap();
    assert_eq!(
        job.restart,
        Some(SwarmRestart {
            condition: "none",
            max_attempts: 0
        }),
        "runs once"
    );
    assert_eq!(job.name, "svc-example-org_db-dirs");
    assert_eq!(job.constraints, db.spec.constraints);
    assert_eq!(job.entrypoint, ["mkdir", "-p", data.as_str()]);
    let top = Path::new(&data)
        .components()
        .take(2)
        .collect::<std::path::PathBuf>();
    assert_eq!(
        job.mounts,
        [SwarmMount::Bind {
            source: top.display().to_string(),
            target: top.display().to_string(),
            read_only: false
        }]
    );
    assert!(prepare_job(&stack.namespace, &stack.services[1]).is_none());
}

#[test]
fn a_service_with_data_and_no_pin_is_refused_naming_the_key() {
    let (_d, p) = project(
        &COMPOSE
            .replace("  db:", "  postgres:")
            .replace("db:\n        condition", "postgres:\n        condition"),
    );
    let stack = translate(&p, &BTreeMap::new()).unwrap();
    let pg = stack
        .services
        .iter()
        .find(|s| s.service == "postgres")
        .unwrap();
    let err = pg.check_placement().unwrap_err().to_string();
    let app = stack.services.iter().find(|s| s.service == "app").unwrap();
    assert!(app.check_placement().is_ok(), "no data: may float");
    assert!(
        err.starts_with("POSTGRES_NODE is not set: postgres keeps data in"),
        "{err}"
    );
}

#[test]
fn named_volumes_are_refused() {
    let compose = "services:\n  db:\n    image: x\n    volumes:\n      - dbdata:/data\nvolumes:\n  dbdata: {}\n";
    let (_d, p) = project(compose);
    let err = translate(&p, &BTreeMap::new()).unwrap_err().to_string();
    assert!(
        err.contains("db: named volume dbdata is not supported"),
        "{err}"
    );
}

#[test]
fn pins_are_node_hostnames_or_labels() {
    let vars = BTreeMap::from([
        ("POSTGRES_NODE".to_owned(), "host-b".to_owned()),
        ("RABBITMQ_NODE".to_owned(), "dtaas.node==mq".to_owned()),
        ("MONGODB_NODE".to_owned(), "role=db".to_owned()),
        ("GRAFANA_NODE".to_owned(), " ".to_owned()),
    ]);
    let pins = pins_from(&vars).unwrap();
    assert_eq!(pins["postgres"].constraint(), "node.hostname==host-b");
    assert_eq!(pins["rabbitmq"].constraint(), "node.labels.dtaas.node==mq");
    assert_eq!(pins["mongodb"].constraint(), "node.labels.role==db");
    assert!(!pins.contains_key("grafana"), "blank: floats");
    assert_eq!(node_key(catalog::Service::ThingsBoard), "THINGSBOARD_NODE");
    let bad = BTreeMap::from([("POSTGRES_NODE".to_owned(), "host b".to_owned())]);
    let err = pins_from(&bad).unwrap_err().to_string();
    assert!(
        err.starts_with("POSTGRES_NODE: invalid node \"host b\""),
        "{err}"
    );
}

#[test]
fn a_remote_manager_is_reached_only_over_tls() {
    for ok in [
        None,
        Some("unix:///var/run/docker.sock"),
        Some("ssh://admin@manager"),
        Some("tcp://127.0.0.1:2375"),
        Some("tcp://localhost:2375"),
        Some("tcp://[::1]:2375"),
        Some("https://manager:2376"),
    ] {
        assert!(check_manager_host(ok, false, false).is_ok(), "{ok:?}");
    }
    let err = check_manager_host(Some("tcp://10.0.0.5:2375"), false, false)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "DOCKER_HOST=tcp://10.0.0.5:2375: swarm mode reaches a remote manager only over TLS"
        ),
        "{err}"
    );
    for remote in [
        "tcp://127.evil.example:2375",
        "tcp://localhost.example:2375",
    ] {
        assert!(
            check_manager_host(Some(remote), false, false).is_err(),
            "{remote} is not loopback"
        );
    }
    assert!(check_manager_host(Some("tcp://10.0.0.5:2376"), true, false).is_ok());
    assert!(check_manager_host(Some("tcp://10.0.0.5:2375"), false, true).is_ok());
}
