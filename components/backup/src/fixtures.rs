//! Test fixtures shared by the unit tests of backups, restores and upgrades: projects on
//! the fake engine, and backup directories made for them.

use std::collections::BTreeMap;
use std::path::Path;

use compose::ProjectFiles;
use docker::{ContainerState, Engine as _};
use lifecycle::{Lifecycle, Selection, StartOptions};

use crate::archive;
use crate::data_safety::rfc3339_now;
use crate::manifest::{BackupKind, FORMAT, Manifest, ServiceBackup};

/// A generated project (all seven services) on a fake engine's terms.
pub(crate) fn generated() -> (tempfile::TempDir, ProjectFiles, BTreeMap<String, String>) {
    let dir = tempfile::tempdir().unwrap();
    project::generate(dir.path(), false).unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let (settings, _) = config::load(&config::LoadOptions {
        project_dir: root.clone(),
        env: Vec::new(),
        overrides: vec![("HOSTNAME".into(), "example.org".into())],
    })
    .unwrap();
    let files = ProjectFiles {
        name: settings.project_name(),
        working_dir: root.clone(),
        files: compose::default_compose_files(&root),
    };
    (dir, files, settings.interpolation_vars())
}

/// A backup directory holding one archive of `paths` of the project for `service`.
pub(crate) fn backup_of(root: &Path, service: &str, paths: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<String> = paths.iter().map(|p| (*p).to_owned()).collect();
    let file = format!("{service}.tar.gz");
    let w = archive::create(root, &paths, &dir.path().join(&file), service).unwrap();
    Manifest {
        format: FORMAT,
        created: rfc3339_now(),
        project: "p".into(),
        tool_version: "0.1.0".into(),
        services: vec![ServiceBackup {
            service: service.to_owned(),
            kind: BackupKind::Archive,
            image: "img:1".into(),
            paths,
            file,
            size: w.size,
            sha256: w.sha256,
            unpacked_size: Some(w.unpacked_size),
            entries: w.entries,
            left_out: w.left_out.clone(),
        }],
    }
    .write(dir.path())
    .unwrap();
    dir
}

pub(crate) fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

pub(crate) const SERVICES: &str = r#"
networks:
  platform-services:
    name: dtaas-services
services:
  rabbitmq:
    image: img:1
    container_name: rabbitmq
    hostname: rabbitmq
    networks: [platform-services]
    volumes: ["./data/rabbitmq:/var/lib/rabbitmq"]
  grafana:
    image: img:1
    container_name: grafana
    networks: [platform-services]
    volumes: ["./data/grafana:/var/lib/grafana"]
  postgres:
    image: ${POSTGRES_IMAGE:-img:1}
    container_name: postgres
    networks: [platform-services]
    healthcheck: { test: ["CMD", "true"] }
    volumes: ["./data/postgres:/var/lib/postgresql/data/pgdata"]
"#;

pub(crate) const TB: &str = r#"
networks:
  platform-services:
    name: dtaas-services
services:
  thingsboard-ce:
    image: img:1
    container_name: thingsboard
    networks: [platform-services]
    depends_on:
      postgres: { condition: service_healthy }
    volumes: ["./data/thingsboard:/data", "./log/thingsboard:/var/log/thingsboard"]
"#;

/// A small project on the fake engine with every service running and some data.
pub(crate) async fn running(dir: &Path) -> (docker::FakeEngine, ProjectFiles) {
    std::fs::write(dir.join("compose.services.yml"), SERVICES).unwrap();
    std::fs::write(dir.join("compose.thingsboard.yml"), TB).unwrap();
    for d in ["rabbitmq", "grafana", "postgres", "thingsboard", "other"] {
        std::fs::create_dir_all(dir.join("data").join(d)).unwrap();
        std::fs::write(dir.join("data").join(d).join("f"), b"backed up").unwrap();
    }
    let e = docker::FakeEngine::new();
    e.add_image("img:1");
    let files = ProjectFiles {
        name: "proj".into(),
        working_dir: dir.to_owned(),
        files: compose::default_compose_files(dir),
    };
    Lifecycle::new(&e, &files, &BTreeMap::new())
        .unwrap()
        .start(&Selection::All, &StartOptions::default())
        .await
        .unwrap();
    (e, files)
}

/// A backup of `services`; `bad` ones hold an archive of their own path that passes
/// every check but fails while it is unpacked (its file `f` twice), under a valid
/// checksum.
pub(crate) fn backup_with(root: &Path, services: &[&str], bad: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut m = Manifest {
        format: FORMAT,
        created: rfc3339_now(),
        project: "proj".into(),
        tool_version: "0.1.0".into(),
        services: Vec::new(),
    };
    for s in services {
        let short = if *s == "thingsboard-ce" {
            "thingsboard"
        } else {
            s
        };
        let paths = vec![format!("data/{short}")];
        let file = format!("{s}.tar.gz");
        let out = dir.path().join(&file);
        let w = if bad.contains(s) {
            twice(root, &paths[0], &out)
        } else {
            archive::create(root, &paths, &out, s).unwrap()
        };
        m.services.push(ServiceBackup {
            service: (*s).to_owned(),
            kind: BackupKind::Archive,
            image: "img:1".into(),
            paths,
            file,
            size: w.size,
            sha256: w.sha256,
            unpacked_size: Some(w.unpacked_size),
            entries: w.entries,
            left_out: w.left_out.clone(),
        });
    }
    m.write(dir.path()).unwrap();
    dir
}

/// A tar.gz of `root/path` with its file `f` in it twice.
fn twice(root: &Path, path: &str, out: &Path) -> archive::Written {
    use std::io::Write as _;
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(out).unwrap(),
        flate2::Compression::default(),
    );
    let mut tar = tar::Builder::new(gz);
    tar.append_dir_all(path, root.join(path)).unwrap();
    let f = format!("{path}/f");
    tar.append_path_with_name(root.join(&f), &f).unwrap();
    tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
    archive::Written {
        size: std::fs::metadata(out).unwrap().len(),
        sha256: crate::manifest::sha256_file(out).unwrap(),
        unpacked_size: 1 << 20,
        entries: Some(100),
        left_out: Vec::new(),
    }
}

pub(crate) async fn state_of(e: &docker::FakeEngine, name: &str) -> ContainerState {
    e.inspect_container(name).await.unwrap().state
}

/// The position of `ev` in the engine's calls.
pub(crate) fn at(e: &docker::FakeEngine, ev: &docker::FakeEvent) -> usize {
    e.events()
        .iter()
        .position(|x| x == ev)
        .unwrap_or_else(|| panic!("{ev:?} not in {:?}", e.events()))
}

pub(crate) fn last_at(e: &docker::FakeEngine, ev: &docker::FakeEvent) -> usize {
    e.events()
        .iter()
        .rposition(|x| x == ev)
        .unwrap_or_else(|| panic!("{ev:?} not in {:?}", e.events()))
}
