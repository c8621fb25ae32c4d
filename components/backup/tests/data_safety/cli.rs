//! The grammar and the checks that come before any engine call, through the real binary
//! (the engine is pointed at a socket that does not exist).

use std::path::Path;
use std::process::{Command, Output};

use e2e_kit::workspace_bin;

fn run(project: &Path, args: &[&str]) -> Output {
    let bin = workspace_bin("dtaas-services")
        .expect("dtaas-services binary (cargo build -p dtaas-services)");
    Command::new(bin)
        .arg("--project-dir")
        .arg(project)
        .args(args)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("NO_COLOR", "1")
        .env_remove("DTAAS_PROJECT_DIR")
        .output()
        .expect("run dtaas-services")
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    project::generate(dir.path(), false).unwrap();
    dir
}

#[test]
fn upgrade_takes_exactly_one_service() {
    let p = project();
    let out = run(p.path(), &["service", "upgrade", "-s", "postgres,rabbitmq"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("service upgrade takes exactly one service, got: postgres,rabbitmq"),
        "{err}"
    );
}

#[test]
fn a_corrupted_backup_is_refused_before_the_engine_is_contacted() {
    let p = project();
    let bk = p.path().join("bk");
    std::fs::create_dir_all(&bk).unwrap();
    std::fs::write(bk.join("grafana.tar.gz"), b"not the archive").unwrap();
    let m = backup::Manifest {
        format: backup::FORMAT,
        created: "2025-01-01T00:00:00Z".into(),
        project: "x".into(),
        tool_version: "0.1.0".into(),
        services: vec![backup::ServiceBackup {
            service: "grafana".into(),
            kind: backup::BackupKind::Archive,
            image: "grafana/grafana:12.3.1-ubuntu".into(),
            paths: vec!["data/grafana".into()],
            file: "grafana.tar.gz".into(),
            size: 15,
            sha256: "0".repeat(64),
            unpacked_size: None,
            entries: None,
            left_out: Vec::new(),
        }],
    };
    m.write(&bk).unwrap();
    let out = run(
        p.path(),
        &[
            "service",
            "restore",
            "--from",
            bk.to_str().unwrap(),
            "--yes",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("grafana.tar.gz is corrupted: the sha256 is"),
        "{err}"
    );
    assert!(
        !err.contains("Docker engine"),
        "the engine was contacted: {err}"
    );

    let out = run(
        p.path(),
        &[
            "service",
            "restore",
            "--from",
            bk.to_str().unwrap(),
            "-s",
            "postgres",
            "--yes",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("holds no postgres; it holds: grafana"),
        "{err}"
    );
}

#[test]
fn restore_refuses_without_yes_and_without_a_terminal() {
    let p = project();
    let bk = p.path().join("bk");
    std::fs::create_dir_all(&bk).unwrap();
    backup::Manifest {
        format: backup::FORMAT,
        created: "2025-01-01T00:00:00Z".into(),
        project: "x".into(),
        tool_version: "0.1.0".into(),
        services: Vec::new(),
    }
    .write(&bk)
    .unwrap();
    let out = run(
        p.path(),
        &["service", "restore", "--from", bk.to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("pass --yes to confirm"), "{err}");
}

/// An archive whose `data/grafana` entry is a symlink to a host directory (finding 1 of
/// the root-safety review) is refused before the confirmation and before the engine is
/// contacted; the host directory is untouched.
#[test]
fn an_archive_with_a_symlink_is_refused_before_the_engine_is_contacted() {
    use std::io::Write as _;
    let p = project();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("sentinel"), b"host file").unwrap();
    let bk = p.path().join("bk");
    std::fs::create_dir_all(&bk).unwrap();
    let out = bk.join("grafana.tar.gz");
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&out).unwrap(),
        flate2::Compression::default(),
    );
    let mut tar = tar::Builder::new(gz);
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_mode(0o777);
    h.set_size(0);
    tar.append_link(&mut h, "data/grafana", host.path())
        .unwrap();
    tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
    backup::Manifest {
        format: backup::FORMAT,
        created: "2025-01-01T00:00:00Z".into(),
        project: "x".into(),
        tool_version: "0.1.0".into(),
        services: vec![backup::ServiceBackup {
            service: "grafana".into(),
            kind: backup::BackupKind::Archive,
            image: "grafana/grafana:12.3.1-ubuntu".into(),
            paths: vec!["data/grafana".into()],
            file: "grafana.tar.gz".into(),
            size: std::fs::metadata(&out).unwrap().len(),
            sha256: backup::sha256_file(&out).unwrap(),
            unpacked_size: None,
            entries: None,
            left_out: Vec::new(),
        }],
    }
    .write(&bk)
    .unwrap();
    let out = run(
        p.path(),
        &["service", "restore", "--from", bk.to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "entry data/grafana is a symbolic link where a directory belongs; nothing was restored"
        ),
        "{err}"
    );
    assert!(!err.contains("--yes"), "asked before checking: {err}");
    assert!(
        std::fs::symlink_metadata(p.path().join("data/grafana"))
            .is_ok_and(|m| m.is_dir() && !m.file_type().is_symlink())
    );
    let names: Vec<_> = std::fs::read_dir(host.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["sentinel"]);
}

/// A PostgreSQL dump with a psql shell escape (finding 2 of the root-safety review: `\!`
/// ran as root in the container and wrote into the host's certs/) is refused naming its
/// line, before the confirmation and before the engine is contacted.
#[test]
fn a_dump_with_a_shell_escape_is_refused_before_the_engine_is_contacted() {
    use std::io::Write as _;
    let p = project();
    let bk = p.path().join("bk");
    std::fs::create_dir_all(&bk).unwrap();
    let out = bk.join("postgres.sql.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&out).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(
        b"SET client_encoding = 'UTF8';\nCREATE ROLE x;\n\\! id > /etc/ssl/x\nSELECT 1;\n",
    )
    .unwrap();
    gz.finish().unwrap();
    backup::Manifest {
        format: backup::FORMAT,
        created: "2025-01-01T00:00:00Z".into(),
        project: "x".into(),
        tool_version: "0.1.0".into(),
        services: vec![backup::ServiceBackup {
            service: "postgres".into(),
            kind: backup::BackupKind::PgDumpall,
            image: "postgres:16.11".into(),
            paths: Vec::new(),
            file: "postgres.sql.gz".into(),
            size: std::fs::metadata(&out).unwrap().len(),
            sha256: backup::sha256_file(&out).unwrap(),
            unpacked_size: None,
            entries: None,
            left_out: Vec::new(),
        }],
    }
    .write(&bk)
    .unwrap();
    let out = run(
        p.path(),
        &["service", "restore", "--from", bk.to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("postgres.sql.gz: line 3: \\! is not a command a pg_dumpall script holds"),
        "{err}"
    );
    assert!(!err.contains("--yes"), "asked before checking: {err}");
}
