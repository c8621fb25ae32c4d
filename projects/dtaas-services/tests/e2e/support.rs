//! Shared helpers: the live project, outputs, our status view vs `docker compose ps`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use e2e_kit::{TestProject, ensure_images, live_or_skip};

/// The binary under test (cargo builds it for this package's integration tests).
pub(crate) fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_dtaas-services"))
}

/// A generated project with self-signed certificates and `host setup` done, or `None`
/// (after saying why) when the live prerequisites are missing outside CI.
pub(crate) fn project(test: &str) -> Option<TestProject> {
    if !live_or_skip(test) {
        return None;
    }
    let images = ensure_images().expect("local test images (images/build.sh)");
    assert_eq!(
        images.standins.len(),
        5,
        "images/build.sh built no stand-ins: {images:?}"
    );
    let p = TestProject::generate(&bin(), &images).expect("project generate");
    p.setup_certs().expect("certs self-signed + host setup");
    Some(p)
}

/// Whether HOSTNAME resolves to this machine: `user add` and the status probes connect to
/// `HOSTNAME:<port>` like the Python CLI. `<name>.localhost` resolves with glibc only when
/// nss-myhostname is configured (Debian package libnss-myhostname). Fails in CI, skips
/// (saying so) otherwise.
#[allow(clippy::print_stderr)]
pub(crate) fn hostname_resolves_or_skip(p: &TestProject, test: &str) -> bool {
    use std::net::ToSocketAddrs;
    let ok = (p.hostname().as_str(), 1u16)
        .to_socket_addrs()
        .is_ok_and(|mut a| a.any(|a| a.ip().is_loopback()));
    if !ok {
        let why = format!(
            "{} does not resolve to a loopback address (install libnss-myhostname)",
            p.hostname()
        );
        assert!(
            std::env::var_os("CI").is_none(),
            "live test {test} cannot run in CI: {why}"
        );
        eprintln!("SKIPPED {test}: {why}; set CI=1 to make this a failure");
    }
    ok
}

/// Exit code, stdout and stderr of a finished command.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn of(o: &Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Panic with the whole output unless the exit code is `code`.
    #[track_caller]
    pub(crate) fn expect_code(self, code: i32, what: &str) -> Run {
        assert_eq!(
            self.code, code,
            "{what}: expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Run `dtaas-services <args>` on the project.
pub(crate) fn dtaas(p: &TestProject, args: &[&str]) -> Run {
    Run::of(&p.run(args).expect("run dtaas-services"))
}

/// Run a command; its output whatever the exit status.
pub(crate) fn run(c: &mut Command) -> Run {
    Run::of(
        &c.output()
            .unwrap_or_else(|e| panic!("cannot run {c:?}: {e}")),
    )
}

/// `(state, health)` of each service container that exists. Health only while running:
/// Docker keeps the last health status ("unhealthy") of a stopped container, which our
/// JSON reports and `docker compose ps` does not.
pub(crate) type View = BTreeMap<String, (String, Option<String>)>;

fn row(service: &str, state: &str, health: Option<&str>) -> (String, (String, Option<String>)) {
    let health = health.filter(|h| !h.is_empty() && state == "running");
    (
        service.to_owned(),
        (state.to_owned(), health.map(str::to_owned)),
    )
}

/// `service status --json`, parsed.
pub(crate) fn status_json(p: &TestProject) -> serde_json::Value {
    let r = dtaas(p, &["service", "status", "--json"]).expect_code(0, "service status --json");
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("status JSON: {e}\n{}", r.stdout))
}

/// Our view: the services whose container exists.
pub(crate) fn our_view(p: &TestProject) -> View {
    let v = status_json(p);
    v["services"]
        .as_array()
        .expect("services array")
        .iter()
        .filter(|s| !matches!(s["state"].as_str(), None | Some("removed")))
        .map(|s| {
            row(
                s["service"].as_str().unwrap_or_default(),
                s["state"].as_str().unwrap_or_default(),
                s["health"].as_str(),
            )
        })
        .collect()
}

/// The Compose v2 CLI's view: `docker compose ... ps -a --format json`.
pub(crate) fn compose_view(p: &TestProject) -> View {
    let out = p
        .compose_ok(["ps", "-a", "--format", "json"])
        .expect("docker compose ps");
    let mut rows: Vec<serde_json::Value> = Vec::new();
    let trimmed = out.trim();
    if trimmed.starts_with('[') {
        rows = serde_json::from_str(trimmed).expect("compose ps JSON array");
    } else {
        for line in trimmed.lines().filter(|l| !l.trim().is_empty()) {
            rows.push(serde_json::from_str(line).expect("compose ps JSON line"));
        }
    }
    rows.iter()
        .map(|r| {
            row(
                r["Service"].as_str().unwrap_or_default(),
                r["State"].as_str().unwrap_or_default(),
                r["Health"].as_str(),
            )
        })
        .collect()
}

/// Our status and the Compose CLI agree on which containers exist, their state and health.
/// Health can move on between the two reads (starting -> healthy), so a disagreement is
/// read again a few times before it fails.
#[track_caller]
pub(crate) fn assert_views_agree(p: &TestProject, step: &str) -> View {
    let mut last = (View::new(), View::new());
    for _ in 0..5 {
        let ours = our_view(p);
        let theirs = compose_view(p);
        if ours == theirs {
            return ours;
        }
        last = (ours, theirs);
        std::thread::sleep(Duration::from_secs(1));
    }
    panic!(
        "{step}: `service status --json` and `docker compose ps` disagree\n ours:    {:?}\n compose: {:?}",
        last.0, last.1
    );
}

/// Poll our view of `service` until `want(state, health)` holds; panic after `limit`.
#[track_caller]
pub(crate) fn wait_for(
    p: &TestProject,
    service: &str,
    limit: Duration,
    what: &str,
    want: impl Fn(&str, Option<&str>) -> bool,
) {
    let deadline = Instant::now() + limit;
    loop {
        let v = our_view(p);
        if let Some((state, health)) = v.get(service)
            && want(state, health.as_deref())
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{service} never became {what} within {limit:?}: {:?}\n{}",
            v.get(service),
            p.logs(service)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// `docker inspect` of a container: (status, health or "", id, started at).
pub(crate) fn inspect(container: &str) -> (String, String, String, String) {
    let out = Command::new("docker")
        .args([
            "inspect",
            "--format",
            "{{.State.Status}}|{{if .State.Health}}{{.State.Health.Status}}{{end}}|{{.Id}}|{{.State.StartedAt}}",
            container,
        ])
        .output()
        .expect("docker inspect");
    let s = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let mut parts = s.splitn(4, '|').map(str::to_owned);
    let mut next = || parts.next().unwrap_or_default();
    (next(), next(), next(), next())
}

/// `docker kill` (SIGKILL) a container.
pub(crate) fn docker_kill(container: &str) {
    run(Command::new("docker").args(["kill", container])).expect_code(0, "docker kill");
}

/// A key of the project's services.env (the value as written, unquoted).
pub(crate) fn env_value(p: &TestProject, key: &str) -> String {
    let text = std::fs::read_to_string(p.dir().join("config/services.env")).expect("services.env");
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim().trim_matches(['\'', '"']).to_owned())
        .unwrap_or_else(|| panic!("{key} is not set in services.env"))
}

/// SHA-256-free fingerprint of a file: its bytes (the files compared here are small).
pub(crate) fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `psql` from the host over TLS (`sslmode=require`) to the project's PostgreSQL on
/// 127.0.0.1; the password goes through the environment.
pub(crate) fn psql(p: &TestProject, user: &str, password: &str, db: &str, sql: &str) -> Run {
    let conninfo = format!(
        "host=127.0.0.1 port={} user={user} dbname={db} sslmode=require connect_timeout=10",
        p.port("POSTGRES_PORT")
    );
    run(Command::new("psql")
        .args([
            conninfo.as_str(),
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-Atc",
            sql,
        ])
        .env("PGPASSWORD", password)
        .env_remove("PGSERVICE")
        .env_remove("PGSSLMODE"))
}

/// A request to RabbitMQ's management API over HTTPS, verified against the project's CA
/// (the certificate names `localhost`); credentials go to curl through its config on
/// stdin, not argv. Returns (HTTP status, body).
pub(crate) fn rabbit_api(p: &TestProject, path: &str, user: &str, password: &str) -> (u16, String) {
    let url = format!(
        "https://localhost:{}/api/{path}",
        p.port("RABBITMQ_MANAGEMENT_PORT")
    );
    let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut child = Command::new("curl")
        .args(["-sS", "-K", "-", "--max-time", "20", "--cacert"])
        .arg(p.ca_cert())
        .args(["-w", "\n%{http_code}", &url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run curl");
    let cfg = format!("user = \"{}:{}\"\n", esc(user), esc(password));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(cfg.as_bytes())
        .expect("write curl config");
    let out = child.wait_with_output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
    let code = code.trim().parse().unwrap_or_else(|_| {
        panic!(
            "curl {url}: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, body.to_owned())
}

/// The names of the files under a directory, recursively, relative to it (sorted).
pub(crate) fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(
                    path.strip_prefix(dir)
                        .unwrap_or(&path)
                        .display()
                        .to_string(),
                );
            }
        }
    }
    out.sort();
    out
}
