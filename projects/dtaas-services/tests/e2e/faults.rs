//! Fault injection: each fault gives its documented message and exit code, and loses no
//! data. (Malformed services.env and credentials.csv are steps of the platform test, which
//! has the users whose survival they check.)

use std::net::TcpListener;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support::{
    Run, assert_views_agree, bytes, compose_view, docker_kill, dtaas, files_under, inspect,
    project, run,
};

/// A container killed while `start --wait` waits for it: the wait ends at once with the
/// container's exit code in the message, and the command exits 1.
#[test]
fn a_container_killed_during_start_wait() {
    let Some(p) = project("e2e fault: kill during start --wait") else {
        return;
    };
    let c = p.container("grafana");
    // Grafana's healthcheck runs every 10 s, so the wait lasts at least that long.
    let child = p
        .cli()
        .args([
            "service",
            "start",
            "-s",
            "grafana",
            "--wait",
            "--timeout",
            "2m",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn start --wait");
    // Kill it once it runs and has written its data (the wait is still going on).
    let marker = p.dir().join("data/grafana/standin-grafana.txt");
    let deadline = Instant::now() + Duration::from_secs(60);
    while inspect(&c).0 != "running" || !marker.exists() {
        assert!(Instant::now() < deadline, "grafana never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    docker_kill(&c);
    let r =
        Run::of(&child.wait_with_output().expect("start --wait")).expect_code(1, "start --wait");
    assert!(
        r.stderr
            .contains(&format!("container {c} exited with code 137")),
        "the message must name the container and its exit code:\n{}",
        r.stderr
    );
    let view = assert_views_agree(&p, "after the kill");
    assert_eq!(
        view.keys().collect::<Vec<_>>(),
        ["grafana"],
        "start touched other services"
    );
    assert_eq!(view["grafana"].0, "exited");
    // The marker the stand-in wrote is still there, and a new start works.
    assert!(marker.exists(), "the killed service's data is gone");
    dtaas(
        &p,
        &[
            "service",
            "start",
            "-s",
            "grafana",
            "--wait",
            "--timeout",
            "2m",
        ],
    )
    .expect_code(0, "start after the kill");
}

/// A host port held by another process: exit 1, the message names the service and port,
/// and the service starts once the port is free.
#[test]
fn a_port_taken_by_another_process() {
    let Some(p) = project("e2e fault: port taken") else {
        return;
    };
    let port = p.port("GRAFANA_PORT");
    let holder = TcpListener::bind(("0.0.0.0", port)).expect("take GRAFANA_PORT");
    let r = dtaas(&p, &["service", "start", "-s", "grafana", "--wait"]).expect_code(1, "start");
    assert!(
        r.stderr.contains("grafana") && r.stderr.contains(&format!("port {port}")),
        "the message must name the service and the port:\n{}",
        r.stderr
    );
    assert!(r.stderr.contains("already in use"), "{}", r.stderr);
    assert_ne!(inspect(&p.container("grafana")).0, "running");
    assert_views_agree(&p, "after the refused start");
    drop(holder);
    dtaas(
        &p,
        &[
            "service",
            "start",
            "-s",
            "grafana",
            "--wait",
            "--timeout",
            "2m",
        ],
    )
    .expect_code(0, "start once the port is free");
    assert_eq!(compose_view(&p)["grafana"].0, "running");
}

/// A Unix-socket proxy to the real engine that can go away and come back: what a client
/// sees when dockerd restarts, without restarting the engine other tests share.
struct EngineProxy {
    path: PathBuf,
    target: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EngineProxy {
    fn new(path: &Path) -> EngineProxy {
        let target = std::env::var("DOCKER_HOST")
            .ok()
            .and_then(|h| h.strip_prefix("unix://").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("/var/run/docker.sock"));
        let mut p = EngineProxy {
            path: path.to_owned(),
            target,
            stop: Arc::new(AtomicBool::new(false)),
            thread: None,
        };
        p.up();
        p
    }

    fn docker_host(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    fn up(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let listener = UnixListener::bind(&self.path).expect("bind the proxy socket");
        let stop = Arc::new(AtomicBool::new(false));
        self.stop = Arc::clone(&stop);
        let target = self.target.clone();
        self.thread = Some(std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(engine) = UnixStream::connect(&target) else {
                    continue;
                };
                let (mut c2, mut e2) = (
                    client.try_clone().expect("clone"),
                    engine.try_clone().expect("clone"),
                );
                let (mut c1, mut e1) = (client, engine);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c1, &mut e1);
                    let _ = e1.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut e2, &mut c2);
                    let _ = c2.shutdown(std::net::Shutdown::Write);
                });
            }
        }));
    }

    /// The engine goes away: no more connections, the socket file is gone.
    fn down(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = UnixStream::connect(&self.path); // wake the accept loop
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for EngineProxy {
    fn drop(&mut self) {
        self.down();
    }
}

/// The engine goes away between commands (simulated: DOCKER_HOST is a proxy socket that
/// disappears; restarting the shared dockerd would kill other suites' containers): every
/// command exits 4 with the address in the message, nothing is changed, and once the
/// engine is back the same containers are there and commands work again.
#[test]
fn the_engine_goes_away_between_commands() {
    let Some(p) = project("e2e fault: engine goes away") else {
        return;
    };
    let mut proxy = EngineProxy::new(&p.dir().join("engine.sock"));
    let host = proxy.docker_host();
    let via = |args: &[&str]| run(p.cli().env("DOCKER_HOST", &host).args(args));
    via(&["service", "start", "-s", "mongodb"]).expect_code(0, "start through the proxy");
    let c = p.container("mongodb");
    let (state, _, id, started) = inspect(&c);
    assert_eq!(state, "running");

    proxy.down();
    for args in [
        &["service", "status"][..],
        &["service", "stop", "-s", "mongodb"],
        &["service", "start", "-s", "grafana"],
        &["service", "remove", "--volumes", "--yes"],
    ] {
        let r = via(args).expect_code(4, &format!("{args:?} with the engine gone"));
        assert!(
            r.stderr.contains("cannot reach the Docker engine") && r.stderr.contains(&host),
            "{args:?}: the message must say the engine is unreachable and where:\n{}",
            r.stderr
        );
    }
    let after = inspect(&c);
    assert_eq!(
        (after.0.as_str(), &after.2, &after.3),
        ("running", &id, &started)
    );
    assert_eq!(
        inspect(&p.container("grafana")).0,
        "",
        "grafana was created"
    );
    assert!(files_under(&p.dir().join("data/mongodb")).contains(&"standin-mongodb.txt".to_owned()));

    proxy.up();
    let r = via(&["service", "status", "--json"]).expect_code(0, "status with the engine back");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("status JSON");
    let mongo = v["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "mongodb")
        .expect("mongodb row");
    assert_eq!(mongo["state"], "running", "{mongo:#}");
    via(&["service", "stop", "-s", "mongodb"]).expect_code(0, "stop with the engine back");
    assert_eq!(compose_view(&p)["mongodb"].0, "exited");
}

/// A small tmpfs mounted over a project directory; unmounted (after the container that
/// used it is removed) when dropped.
struct SmallDisk {
    path: PathBuf,
    container: String,
}

impl SmallDisk {
    /// `None` (after saying why) when mounting is not possible outside CI.
    #[allow(clippy::print_stderr)]
    fn mount(path: &Path, size: &str, container: String) -> Option<SmallDisk> {
        let r = run(Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(path));
        if r.code != 0 {
            assert!(
                std::env::var_os("CI").is_none(),
                "cannot mount a tmpfs in CI: {}",
                r.stderr
            );
            eprintln!("SKIPPED full disk: cannot mount a tmpfs: {}", r.stderr);
            return None;
        }
        Some(SmallDisk {
            path: path.to_owned(),
            container,
        })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &self.container])
            .output();
        let ok = Command::new("umount")
            .arg(&self.path)
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.path).output();
        }
    }
}

/// data/postgres on a 1 MiB tmpfs: PostgreSQL cannot initialise, `start --wait` exits 1
/// naming the container, its log says why, and no other service's data or the project's
/// files are touched.
#[test]
fn a_full_disk_under_data() {
    let Some(p) = project("e2e fault: full disk") else {
        return;
    };
    dtaas(&p, &["service", "start", "-s", "mongodb"]).expect_code(0, "start mongodb");
    let marker = p.dir().join("data/mongodb/standin-mongodb.txt");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !marker.exists() {
        assert!(
            Instant::now() < deadline,
            "the MongoDB stand-in wrote no data"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let marker_before = bytes(&marker);
    let config: Vec<(PathBuf, Vec<u8>)> = ["config/services.env", "config/credentials.csv"]
        .iter()
        .map(|f| (p.dir().join(f), bytes(&p.dir().join(f))))
        .collect();

    let pg = p.dir().join("data/postgres");
    let Some(_disk) = SmallDisk::mount(&pg, "1m", p.container("postgres")) else {
        return;
    };
    let r = dtaas(
        &p,
        &[
            "service",
            "start",
            "-s",
            "postgres",
            "--wait",
            "--timeout",
            "90s",
        ],
    )
    .expect_code(1, "start postgres on a full disk");
    let c = p.container("postgres");
    assert!(
        r.stderr.contains(&format!("container {c}")),
        "the message must name the container:\n{}",
        r.stderr
    );
    let logs = dtaas(&p, &["service", "logs", "-s", "postgres", "--tail", "200"]);
    assert!(
        logs.stdout.contains("No space left on device")
            || logs.stderr.contains("No space left on device"),
        "`service logs` does not show why:\n{}{}",
        logs.stdout,
        logs.stderr
    );
    assert_eq!(
        bytes(&marker),
        marker_before,
        "another service's data changed"
    );
    assert_eq!(inspect(&p.container("mongodb")).0, "running");
    for (path, before) in &config {
        assert_eq!(&bytes(path), before, "{} changed", path.display());
    }
    // doctor sees the small filesystem mounted at data/postgres, not only data/'s.
    let doctor = dtaas(&p, &["--json", "doctor"]);
    let report: serde_json::Value = serde_json::from_str(&doctor.stdout).unwrap();
    let low = report["findings"].as_array().unwrap().iter().any(|f| {
        f["check"] == "disk"
            && f["level"] == "warning"
            && f["message"]
                .as_str()
                .is_some_and(|m| m.contains("data/postgres"))
    });
    assert!(
        low,
        "doctor does not warn about the full data/postgres:\n{}",
        doctor.stdout
    );
}
