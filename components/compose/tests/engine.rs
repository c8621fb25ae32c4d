//! Live tests of the compose engine on the local Docker engine, with the busybox test image.
//! Each test has its own project, network, container names and ports, and a guard that
//! removes them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use compose::{Action, Compose, ComposeError, ProjectFiles, RunOptions, UpOptions, load_project};
use docker::{BollardEngine, ContainerState, DockerError, Engine};
use test_support::{ProjectGuard, busybox_image, engine_or_skip, free_port, unique_name};

struct Fixture {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    project: String,
    net: String,
    guard: ProjectGuard,
}

fn fixture(prefix: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let project = unique_name(prefix);
    let net = format!("{project}-net");
    let guard = ProjectGuard::new(&project, &[&net]);
    Fixture {
        dir: dir.path().to_owned(),
        _dir: dir,
        project,
        net,
        guard,
    }
}

/// A two-service file: `web` (httpd with a healthcheck, published on `port`) and `app`
/// (sleep) that waits for `web` to be healthy.
fn two_services(f: &Fixture, port: u16, image: &str) -> String {
    format!(
        r#"
networks:
  platform-services:
    name: {net}
services:
  web:
    image: ${{WEB_IMAGE:-{image}}}
    container_name: {p}-web
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    ports: ["127.0.0.1:{port}:8080"]
    volumes: ["./data/web:/data"]
    networks: [platform-services]
    environment:
      GREETING: ${{GREETING:-hello}}
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 1s
      retries: 30
  app:
    image: {image}
    container_name: {p}-app
    command: sleep 3600
    networks: [platform-services]
    depends_on:
      web:
        condition: service_healthy
"#,
        net = f.net,
        p = f.project,
    )
}

/// A file with one busybox service `name` (container `<project>-<name>`) on the project's
/// network; `extra` adds keys to the service (indented by four spaces).
fn one_service(f: &Fixture, name: &str, extra: &str) -> String {
    format!(
        r#"
networks:
  platform-services:
    name: {net}
services:
  {name}:
    image: {image}
    container_name: {p}-{name}
    networks: [platform-services]
    {extra}
"#,
        net = f.net,
        p = f.project,
        image = busybox_image(),
    )
}

fn files(f: &Fixture, text: &str) -> ProjectFiles {
    let file = f.dir.join("compose.services.yml");
    std::fs::write(&file, text).unwrap();
    ProjectFiles {
        name: f.project.clone(),
        working_dir: f.dir.clone(),
        files: vec![file],
    }
}

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn compose<'e>(
    e: &'e BollardEngine,
    pf: &ProjectFiles,
    v: &BTreeMap<String, String>,
) -> Compose<'e, BollardEngine> {
    Compose::new(e, load_project(pf, v).unwrap())
}

fn docker_compose(args: &[&str], dir: &Path) -> String {
    let out = Command::new("docker")
        .arg("compose")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("docker compose");
    assert!(
        out.status.success(),
        "docker compose {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_opts() -> UpOptions {
    UpOptions {
        wait: true,
        timeout: Some(Duration::from_secs(60)),
        ..UpOptions::default()
    }
}

#[tokio::test]
async fn up_in_dependency_order_waits_for_health_and_docker_compose_sees_it() {
    let Some(e) = engine_or_skip().await else {
        return;
    };
    let f = fixture("cup");
    let port = free_port();
    let pf = files(&f, &two_services(&f, port, busybox_image()));
    let c = compose(&e, &pf, &vars(&[])).await;
    let r = c.up(&[], &wait_opts()).await.unwrap();
    let order: Vec<_> = r
        .services
        .iter()
        .map(|s| (s.service.as_str(), s.action))
        .collect();
    assert_eq!(order, [("web", Action::Created), ("app", Action::Created)]);
    let web = e
        .inspect_container(&format!("{}-web", f.project))
        .await
        .unwrap();
    assert_eq!(web.health, Some(docker::Health::Healthy));
    // The published port answers.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::io::Write::write_all(&mut s, b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut body = String::new();
    std::io::Read::read_to_string(&mut s, &mut body).unwrap();
    assert!(body.contains("ok"), "{body}");
    // Relative bind resolved against the project dir and created.
    assert!(f.dir.join("data/web").is_dir());

    // docker compose v2 sees the same services running.
    let json = docker_compose(&["-p", &f.project, "ps", "--format", "json"], &f.dir);
    for svc in ["web", "app"] {
        assert!(json.contains(&format!("\"Service\":\"{svc}\"")), "{json}");
    }
    assert_eq!(json.matches("\"State\":\"running\"").count(), 2, "{json}");

    // Second up: nothing changes.
    let r = c.up(&[], &UpOptions::default()).await.unwrap();
    assert!(
        r.services.iter().all(|s| s.action == Action::Unchanged),
        "{r:?}"
    );

    // Stop goes dependents first; ps shows both exited.
    let stopped = c.stop(&[], Some(Duration::from_secs(1))).await.unwrap();
    assert_eq!(
        stopped,
        [format!("{}-app", f.project), format!("{}-web", f.project)]
    );
    assert!(
        c.ps()
            .await
            .unwrap()
            .iter()
            .all(|s| s.container.state == ContainerState::Exited)
    );
    let removed = c.rm(&[], true, None).await.unwrap();
    assert_eq!(removed.len(), 2);
    assert!(c.ps().await.unwrap().is_empty());
    drop(f.guard);
}

#[tokio::test]
async fn changed_config_recreates_only_that_service() {
    let Some(e) = engine_or_skip().await else {
        return;
    };
    let f = fixture("crec");
    let pf = files(&f, &two_services(&f, free_port(), busybox_image()));
    let c = compose(&e, &pf, &vars(&[])).await;
    c.up(&[], &wait_opts()).await.unwrap();
    let before = e
        .inspect_container(&format!("{}-app", f.project))
        .await
        .unwrap()
        .id;
    let c2 = compose(&e, &pf, &vars(&[("GREETING", "bonjour")])).await;
    let r = c2.up(&[], &wait_opts()).await.unwrap();
    let actions: Vec<_> = r
        .services
        .iter()
        .map(|s| (s.service.as_str(), s.action))
        .collect();
    assert_eq!(
        actions,
        [("web", Action::Recreated), ("app", Action::Unchanged)]
    );
    assert_eq!(
        e.inspect_container(&format!("{}-app", f.project))
            .await
            .unwrap()
            .id,
        before
    );
    let web = e
        .inspect_container(&format!("{}-web", f.project))
        .await
        .unwrap();
    assert!(
        web.details
            .unwrap()
            .env
            .contains(&"GREETING=bonjour".to_owned())
    );
    drop(f.guard);
}

#[tokio::test]
async fn containers_made_by_docker_compose_are_adopted() {
    let Some(e) = engine_or_skip().await else {
        return;
    };
    let f = fixture("cadopt");
    let pf = files(&f, &two_services(&f, free_port(), busybox_image()));
    docker_compose(
        &[
            "-p",
            &f.project,
            "-f",
            "compose.services.yml",
            "up",
            "-d",
            "--wait",
        ],
        &f.dir,
    );
    let c = compose(&e, &pf, &vars(&[])).await;
    let ps = c.ps().await.unwrap();
    assert_eq!(
        ps.iter().map(|s| s.service.as_str()).collect::<Vec<_>>(),
        ["app", "web"]
    );
    let r = c.up(&[], &UpOptions::default()).await.unwrap();
    assert!(
        r.services.iter().all(|s| s.action == Action::Unchanged),
        "{r:?}"
    );
    let stopped = c
        .stop(&["web".into(), "app".into()], Some(Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(stopped.len(), 2);
    let json = docker_compose(&["-p", &f.project, "ps", "-a", "--format", "json"], &f.dir);
    assert_eq!(json.matches("\"State\":\"exited\"").count(), 2, "{json}");
    drop(f.guard);
}

#[tokio::test]
async fn port_in_use_is_reported_with_the_port() {
    let Some(e) = engine_or_skip().await else {
        return;
    };
    let f = fixture("cport");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let pf = files(&f, &two_services(&f, port, busybox_image()));
    let c = compose(&e, &pf, &vars(&[])).await;
    let err = c
        .up(&["web".into()], &UpOptions::default())
        .await
        .unwrap_err();
    match err.docker() {
        Some(DockerError::PortAllocated { port: p, .. }) => assert_eq!(*p, port),
        other => panic!("expected PortAllocated, got {other:?} ({err})"),
    }
    assert!(
        err.to_string()
            .contains(&format!("host port {port} is already in use")),
        "{err}"
    );
    drop(listener);
    drop(f.guard);
}

#[tokio::test]
async fn missing_image_names_the_image() {
    let Some(e) = engine_or_skip().await else {
        return;
    };
    let f = fixture("cimg");
    let image = format!("dtaas-test/does-not-exist:{}", f.project);
    let pf = files(&f, &two_services(&f, free_port(), busybox_image()));
    let c = compose(&e, &pf, &vars(&[("WEB_IMAGE", &image)])).await;
    let err = c
        .up(&["web".into()], &UpOptions::default())
        .await
        .unwrap_err();
    match err.docker() {
        Some(DockerError::ImageMissing { image: i, .. }) => assert_eq!(i, &image),
        other => panic!("expected ImageMissing, got {other:?} ({err})"),
    }
    drop(f.guard);
}

#[tokio::test]
async fn a_restart_loop_during_wait_is_reported_as_such() {
    let Some(e) = engine_or_skip().await else {
        return;
    };
    let f = fixture("cloop");
    let text = one_service(
        &f,
        "crash",
        r#"command: ["sh", "-c", "sleep 1; exit 3"]
    restart: unless-stopped
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      retries: 1000"#,
    );
    let pf = files(&f, &text);
    let c = compose(&e, &pf, &vars(&[])).await;
    let err = c.up(&["crash".into()], &wait_opts()).await.unwrap_err();
    assert!(matches!(err, ComposeError::NotReady { .. }), "{err}");
    let text = err.to_string();
    // Caught while restarting (with its exit code) or already running again (without).
    assert!(
        text.starts_with(&format!("container {}-crash keeps restarting (", f.project))
            && text.contains("restarted ")
            && (text.contains("(last exit code 3, ") || !text.contains("exit code")),
        "{text}"
    );
    drop(f.guard);
}

#[tokio::test]
async fn container_killed_during_wait_is_reported() {
    let Some(e) = engine_or_skip().await else {
        return;
    };
    let f = fixture("ckill");
    let text =
        two_services(&f, free_port(), busybox_image()).replace("interval: 1s", "interval: 1h");
    let pf = files(&f, &text);
    let c = compose(&e, &pf, &vars(&[])).await;
    let name = format!("{}-web", f.project);
    let killer = {
        let name = name.clone();
        tokio::spawn(async move {
            let e = BollardEngine::connect(None).await.unwrap();
            loop {
                if let Ok(c) = e.inspect_container(&name).await
                    && c.state == ContainerState::Running
                {
                    e.kill_container(&name, None).await.unwrap();
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let err = c.up(&["web".into()], &wait_opts()).await.unwrap_err();
    killer.await.unwrap();
    assert!(matches!(err, ComposeError::NotReady { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!("container {name} exited with code 137")
    );
    drop(f.guard);
}

#[tokio::test]
async fn one_off_run_timeout_kills_only_the_one_off() {
    let Some(e) = engine_or_skip().await else {
        return;
    };
    let f = fixture("crun");
    let pf = files(&f, &two_services(&f, free_port(), busybox_image()));
    let c = compose(&e, &pf, &vars(&[])).await;
    c.up(&["app".into()], &wait_opts()).await.unwrap();
    // A quick one-off: output captured, env and user applied, container removed.
    let quick = RunOptions {
        env: vec![("INSTALL_TB".into(), "true".into())],
        user: Some("nobody".into()),
        command: Some(vec![
            "sh".into(),
            "-c".into(),
            "echo $INSTALL_TB; id -u; echo err >&2".into(),
        ]),
        timeout: Some(Duration::from_secs(60)),
    };
    let out = c.run("app", &quick).await.unwrap();
    assert_eq!(out.exit_code, Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "true\n65534\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    // A one-off past its timeout is killed and removed; the service container runs on.
    let slow = RunOptions {
        timeout: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    let out = c.run("app", &slow).await.unwrap();
    assert!(out.timed_out);
    assert!(matches!(
        e.inspect_container(&out.container).await,
        Err(DockerError::NotFound { .. })
    ));
    let app = e
        .inspect_container(&format!("{}-app", f.project))
        .await
        .unwrap();
    assert_eq!(app.state, ContainerState::Running);
    let all = e
        .list_containers(&[("com.docker.compose.project", Some(&f.project))])
        .await
        .unwrap();
    assert!(
        all.iter()
            .all(|c| c.label("com.docker.compose.oneoff") == Some("False"))
    );
    drop(f.guard);
}

#[tokio::test]
async fn unreachable_engine_is_its_own_error() {
    let err = BollardEngine::connect(Some("unix:///nonexistent/docker.sock"))
        .await
        .unwrap_err();
    assert!(err.is_unreachable(), "{err}");
    assert!(
        err.to_string()
            .starts_with("cannot reach the Docker engine at unix:///nonexistent/docker.sock"),
        "{err}"
    );
}

/// A reader of `len` bytes of a repeating pattern that fails with `fail` once it is used up.
struct Pattern {
    left: usize,
    fail: bool,
}

impl std::io::Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return if self.fail {
                Err(std::io::Error::other("disk read error"))
            } else {
                Ok(0)
            };
        }
        let n = buf.len().min(self.left).min(10_000);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = ((self.left - i) % 251) as u8;
        }
        self.left -= n;
        Ok(n)
    }
}

#[tokio::test]
async fn exec_streaming_moves_large_data_both_ways_without_holding_it() {
    let Some(e) = engine_or_skip().await else {
        return;
    };
    let f = fixture("cexec");
    let text = one_service(&f, "box", r#"command: ["sleep", "3600"]"#);
    let pf = files(&f, &text);
    let c = compose(&e, &pf, &vars(&[])).await;
    c.up(&["box".into()], &UpOptions::default()).await.unwrap();
    let spec = |script: &str| docker::ExecSpec {
        cmd: vec!["sh".into(), "-c".into(), script.into()],
        ..docker::ExecSpec::default()
    };
    const LEN: usize = 8 * 1024 * 1024;

    // 8 MiB in through stdin, back out through stdout, while stderr overflows.
    let (mut total, mut chunks, mut sum) = (0usize, 0usize, 0u64);
    let mut sink = |b: &[u8]| {
        total += b.len();
        chunks += 1;
        sum += b.iter().map(|x| u64::from(*x)).sum::<u64>();
        Ok(())
    };
    let input = Box::new(Pattern {
        left: LEN,
        fail: false,
    });
    let out = c
        .exec_streaming(
            "box",
            &spec("head -c 300000 /dev/zero >&2; cat"),
            Some(input),
            &mut sink,
        )
        .await
        .unwrap();
    let mut expected = Pattern {
        left: LEN,
        fail: false,
    };
    let mut want = Vec::new();
    std::io::Read::read_to_end(&mut expected, &mut want).unwrap();
    assert_eq!(out.exit_code, 0);
    assert_eq!(total, LEN);
    assert_eq!(sum, want.iter().map(|x| u64::from(*x)).sum::<u64>());
    assert!(chunks > 1, "delivered in chunks, got {chunks}");
    assert!(out.stdout.is_empty());
    assert_eq!(
        out.stderr.len(),
        docker::EXEC_STDERR_KEEP,
        "only the end of stderr"
    );

    // A sink that fails stops the exec with an error naming the output.
    let mut failing = |_: &[u8]| Err(std::io::Error::other("no space left on device"));
    let err = c
        .exec_streaming("box", &spec("head -c 100000 /dev/zero"), None, &mut failing)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("output could not be written: no space left on device"),
        "{err}"
    );

    // A failing input is an error naming the input, not a silently short stdin.
    let mut ignore = |_: &[u8]| Ok(());
    let broken = Box::new(Pattern {
        left: 100_000,
        fail: true,
    });
    let err = c
        .exec_streaming("box", &spec("cat >/dev/null"), Some(broken), &mut ignore)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("input could not be read: disk read error"),
        "{err}"
    );
    drop(f.guard);
}

/// The restart policy of the compose file reaches the container's HostConfig (what
/// `docker inspect` shows), and under `unless-stopped` a crashed container is restarted by
/// the engine while one stopped on purpose stays stopped.
#[tokio::test]
async fn restart_policy_reaches_the_container_and_a_crash_is_restarted() {
    let Some(e) = engine_or_skip().await else {
        return;
    };
    let f = fixture("cpolicy");
    let text = one_service(
        &f,
        "crash",
        r#"command: ["sh", "-c", "sleep 1; exit 3"]
    restart: unless-stopped"#,
    );
    let pf = files(&f, &text);
    let c = compose(&e, &pf, &vars(&[])).await;
    c.up(&["crash".into()], &UpOptions::default())
        .await
        .unwrap();
    let name = format!("{}-crash", f.project);
    let inspect = |format: &str| {
        let out = Command::new("docker")
            .args(["inspect", "--format", format, &name])
            .output()
            .expect("docker inspect");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(
        inspect("{{.HostConfig.RestartPolicy.Name}}"),
        "unless-stopped"
    );
    // It exits 3 after a second; the engine restarts it.
    let mut count = 0;
    for _ in 0..100 {
        count = inspect("{{.RestartCount}}").parse::<i64>().unwrap();
        if count >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(count >= 1, "never restarted");
    // Stopped on purpose: it stays stopped.
    c.stop(&["crash".into()], Some(Duration::from_secs(1)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(inspect("{{.State.Status}}"), "exited");
    drop(f.guard);
}
