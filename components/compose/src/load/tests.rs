//! Unit tests of loading: merging, interpolation, the syntaxes, and the message of each
//! bad input. The engine's tests (`engine/tests.rs`) use these projects.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use docker::Protocol;

use super::syntax::{parse_bytes, parse_duration, parse_port, shell_split};
use crate::*;

pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

pub(crate) fn load(
    dir: &Path,
    files: &[PathBuf],
    vars: &[(&str, &str)],
) -> Result<Project, ComposeError> {
    let vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    load_project(
        &ProjectFiles {
            name: "proj".into(),
            working_dir: dir.to_owned(),
            files: files.to_vec(),
        },
        &vars,
    )
}

pub(crate) const MAIN: &str = r#"
networks:
  platform-services:
    name: ${NET:-dtaas-services}
services:
  db:
    image: ${DB_IMAGE:-busy:1}
    container_name: db
    command: sleep "36 00"
    environment:
      PASSWORD: ${PW:?set PW}
      EMPTY:
    ports:
      - "${DB_PORT}:5432"
      - 127.0.0.1::9000
      - "5683-5685:5683-5685/udp"
    volumes:
      - ./data/db:/var/lib/db
      - ./certs:/certs:ro
    networks:
      - platform-services
    restart: always
    shm_size: 256m
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
      retries: 3
      start_period: 1m30s
    x-note: ignored
"#;

pub(crate) const TB: &str = r#"
networks:
  platform-services:
    name: ${NET:-dtaas-services}
services:
  tb:
    image: busy:1
    container_name: tb
    entrypoint: ["/bin/sh", "-c"]
    environment:
      - A=1
      - PW
    user: root
    hostname: h
    logging:
      driver: json-file
      options: { max-size: 100m, max-file: 10 }
    depends_on:
      db:
        condition: service_healthy
    networks:
      - platform-services
    labels:
      x.y: z
"#;

#[test]
fn loads_merges_and_interpolates() {
    let d = tempfile::tempdir().unwrap();
    let files = vec![write(d.path(), "a.yml", MAIN), write(d.path(), "b.yml", TB)];
    let p = load(d.path(), &files, &[("PW", "s3cret"), ("DB_PORT", "15432")]).unwrap();
    assert_eq!(p.service_names(), vec!["db", "tb"]);
    assert_eq!(p.networks["platform-services"].name, "dtaas-services");
    let db = &p.services["db"];
    assert_eq!(db.image, "busy:1");
    assert_eq!(db.command.as_deref().unwrap(), ["sleep", "36 00"]);
    assert_eq!(db.environment["PASSWORD"].as_deref(), Some("s3cret"));
    assert_eq!(db.environment["EMPTY"], None);
    assert_eq!(db.ports.len(), 5);
    assert_eq!(db.ports[0].host_port, Some(15432));
    assert_eq!(db.ports[1].host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(db.ports[1].host_port, None);
    assert_eq!(db.ports[4].protocol, Protocol::Udp);
    assert_eq!(db.ports[4].container_port, 5685);
    assert_eq!(
        db.volumes[1],
        Mount::Bind {
            source: d.path().join("certs"),
            target: "/certs".into(),
            read_only: true
        }
    );
    assert_eq!(db.shm_size, Some(256 << 20));
    let hc = db.healthcheck.as_ref().unwrap();
    assert_eq!(hc.start_period, Some(Duration::from_secs(90)));
    let tb = &p.services["tb"];
    assert_eq!(tb.environment["PW"].as_deref(), Some("s3cret"));
    assert_eq!(tb.depends_on["db"].condition, Condition::ServiceHealthy);
    assert_eq!(tb.logging.as_ref().unwrap().1["max-file"], "10");
    assert_eq!(p.container_name("tb"), "tb");
}

#[test]
fn errors_name_file_and_key() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "a.yml", MAIN);
    let err = load(d.path(), std::slice::from_ref(&f), &[]).unwrap_err();
    let msg = err
        .to_string()
        .replace(&d.path().display().to_string(), "DIR");
    insta::assert_snapshot!(msg, @"DIR/a.yml: `services.db.environment.PASSWORD`: required variable PW is missing a value: set PW");

    let bad = write(
        d.path(),
        "bad.yml",
        "services:\n  x:\n    image: a\n    build: .\n",
    );
    let err = load(d.path(), &[f.clone(), bad], &[("PW", "x")]).unwrap_err();
    assert!(err.is_config_error());
    let msg = err
        .to_string()
        .replace(&d.path().display().to_string(), "DIR");
    insta::assert_snapshot!(msg, @"DIR/bad.yml: unsupported key `services.x.build`");

    let bad = write(d.path(), "top.yml", "configs: {}\n");
    let msg = load(d.path(), &[bad], &[])
        .unwrap_err()
        .to_string()
        .replace(&d.path().display().to_string(), "DIR");
    insta::assert_snapshot!(msg, @"DIR/top.yml: unsupported key `configs`");

    let bad = write(
        d.path(),
        "hc.yml",
        "services:\n  x:\n    image: a\n    healthcheck:\n      test: \"true\"\n      start_interval: 1s\n",
    );
    let msg = load(d.path(), &[bad], &[])
        .unwrap_err()
        .to_string()
        .replace(&d.path().display().to_string(), "DIR");
    insta::assert_snapshot!(msg, @"DIR/hc.yml: unsupported key `services.x.healthcheck.start_interval`");
}

#[test]
fn small_parsers() {
    assert_eq!(
        shell_split(r#"a "b c" 'd e' f\ g"#).unwrap(),
        ["a", "b c", "d e", "f g"]
    );
    assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
    assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
    assert_eq!(parse_bytes("1g").unwrap(), 1 << 30);
    assert_eq!(parse_bytes("64kb").unwrap(), 64 << 10);
    let p = parse_port("[::1]:8080:80").unwrap();
    assert_eq!(
        (p[0].host_ip.as_deref(), p[0].host_port, p[0].container_port),
        (Some("::1"), Some(8080), 80)
    );
    assert!(parse_port("1-3:5-6").is_err());
    assert_eq!(
        project_name_from_hostname("Services.INTOCPS_org"),
        "services-intocps-org"
    );
}

/// Bad files, one per case, and the message each gives: every one names the file and the
/// key path (and the line, for YAML syntax).
#[test]
fn every_bad_input_names_file_and_key() {
    let d = tempfile::tempdir().unwrap();
    let svc = |body: &str| format!("services:\n  x:\n    image: a\n{body}");
    let cases: Vec<(&str, String)> = vec![
        ("syntax", "services: [\n  x: 1\n".to_owned()),
        ("top_list", "- a\n".to_owned()),
        ("services_list", "services: [a]\n".to_owned()),
        ("service_list", "services:\n  x: [a]\n".to_owned()),
        ("no_image", "services:\n  x:\n".to_owned()),
        ("image_list", "services:\n  x:\n    image: [a]\n".to_owned()),
        ("container_name_map", svc("    container_name: {a: 1}\n")),
        ("command_map", svc("    command: {a: 1}\n")),
        ("command_item", svc("    command: [a, {b: 1}]\n")),
        ("command_quote", svc("    command: echo 'a\n")),
        ("environment_scalar", svc("    environment: 3\n")),
        ("environment_item", svc("    environment:\n      - {a: 1}\n")),
        ("environment_value", svc("    environment:\n      A: [1]\n")),
        ("ports_scalar", svc("    ports: 80\n")),
        ("ports_bad", svc("    ports: [\"a:b\"]\n")),
        ("ports_range", svc("    ports: [\"1-3:5-6\"]\n")),
        ("ports_long_no_target", svc("    ports:\n      - published: 80\n")),
        ("ports_long_key", svc("    ports:\n      - {target: 80, foo: 1}\n")),
        ("ports_long_protocol", svc("    ports:\n      - {target: 80, protocol: xyz}\n")),
        ("volumes_scalar", svc("    volumes: ./a:/b\n")),
        ("volumes_undeclared", svc("    volumes: [\"data:/x\"]\n")),
        ("volumes_home", svc("    volumes: [\"~/x:/y\"]\n")),
        ("volumes_anonymous", svc("    volumes: [\"/y\"]\n")),
        ("volumes_mode", svc("    volumes: [\"./a:/b:z\"]\n")),
        ("volumes_long_type", svc("    volumes:\n      - {type: tmpfs, source: a, target: /b}\n")),
        ("volumes_long_no_source", svc("    volumes:\n      - {type: bind, target: /b}\n")),
        ("volumes_long_key", svc("    volumes:\n      - {type: bind, source: ., target: /b, consistency: x}\n")),
        ("volumes_long_read_only", svc("    volumes:\n      - {type: bind, source: ., target: /b, read_only: 1}\n")),
        ("networks_scalar", svc("    networks: n\n")),
        ("networks_two", "networks: {a: {}, b: {}}\nservices:\n  x:\n    image: a\n    networks: [a, b]\n".to_owned()),
        ("networks_undeclared", svc("    networks: [net]\n")),
        ("networks_alias_key", "networks: {a: {}}\nservices:\n  x:\n    image: a\n    networks:\n      a: {ipv4_address: 1.2.3.4}\n".to_owned()),
        ("restart_unknown", svc("    restart: sometimes\n")),
        ("restart_count", svc("    restart: on-failure:x\n")),
        ("shm_size", svc("    shm_size: lots\n")),
        ("logging_key", svc("    logging: {driver: json-file, format: x}\n")),
        ("logging_options", svc("    logging: {options: 3}\n")),
        ("healthcheck_scalar", svc("    healthcheck: yes\n")),
        ("healthcheck_no_test", svc("    healthcheck: {interval: 1s}\n")),
        ("healthcheck_test_list", svc("    healthcheck: {test: [foo]}\n")),
        ("healthcheck_interval", svc("    healthcheck: {test: [CMD, \"true\"], interval: 1x}\n")),
        ("healthcheck_retries", svc("    healthcheck: {test: [CMD, \"true\"], retries: many}\n")),
        ("healthcheck_disable", svc("    healthcheck: {disable: maybe}\n")),
        ("depends_on_scalar", svc("    depends_on: 3\n")),
        ("depends_on_condition", "services:\n  y:\n    image: a\n  x:\n    image: a\n    depends_on:\n      y: {condition: service_done}\n".to_owned()),
        ("depends_on_key", "services:\n  y:\n    image: a\n  x:\n    image: a\n    depends_on:\n      y: {when: now}\n".to_owned()),
        ("depends_on_restart", "services:\n  y:\n    image: a\n  x:\n    image: a\n    depends_on:\n      y: {restart: often}\n".to_owned()),
        ("depends_on_undefined", svc("    depends_on: [z]\n")),
        ("labels_scalar", svc("    labels: 3\n")),
        ("labels_value", svc("    labels: {a: [1]}\n")),
        ("network_key", "networks:\n  n: {foo: 1}\n".to_owned()),
        ("network_external", "networks:\n  n: {external: maybe}\n".to_owned()),
        ("network_scalar", "networks:\n  n: 3\n".to_owned()),
        ("network_name", "networks:\n  n: {name: [a]}\n".to_owned()),
        ("volume_key", "volumes:\n  v: {driver: local}\n".to_owned()),
        ("volume_labels", "volumes:\n  v: {labels: 3}\n".to_owned()),
        ("interpolation", svc("    user: ${U:?who}\n")),
        ("interpolation_syntax", svc("    user: ${U\n")),
    ];
    let mut out = String::new();
    for (name, text) in &cases {
        let f = write(d.path(), &format!("{name}.yml"), text);
        let msg = match load(d.path(), &[f], &[]) {
            Ok(_) => "LOADED".to_owned(),
            Err(e) => {
                assert!(e.is_config_error(), "{name}: {e}");
                e.to_string()
            }
        };
        out.push_str(&msg.replace(&d.path().display().to_string(), "DIR"));
        out.push('\n');
    }
    insta::assert_snapshot!(out);
}

/// Compose allows `x-` keys in every mapping of the format: they are ignored, wherever
/// they are, and a name that starts with `x-` under `services` is still a service.
#[test]
fn x_keys_are_ignored_in_every_mapping() {
    let d = tempfile::tempdir().unwrap();
    let text = r#"
x-top: 1
networks:
  n: {x-a: 1}
volumes:
  v: {x-a: 1}
services:
  x-svc:
    image: a
  y:
    image: a
    x-a: 1
    ports: [{target: 80, x-a: 1}]
    volumes: [{type: volume, source: v, target: /v, x-a: 1}]
    networks: {n: {x-a: 1}}
    logging: {x-a: 1}
    healthcheck: {test: [NONE], x-a: 1}
    depends_on: {x-svc: {x-a: 1}}
    labels: {x-label: kept}
"#;
    let f = write(d.path(), "x.yml", text);
    let p = load(d.path(), &[f], &[]).unwrap();
    assert_eq!(p.service_names(), ["x-svc", "y"]);
    let y = &p.services["y"];
    assert_eq!(y.labels["x-label"], "kept");
    assert_eq!(y.depends_on.keys().collect::<Vec<_>>(), ["x-svc"]);
    assert_eq!(y.ports[0].container_port, 80);
    assert_eq!(y.logging.as_ref().unwrap().0, "json-file");
}
