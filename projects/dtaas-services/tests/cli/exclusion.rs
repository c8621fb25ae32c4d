//! The project lock (issue 16): mutating commands on one project never interleave; a second
//! one waits a bounded time naming the holder, then exits 5 ("busy, retry later"); a
//! crashed holder never blocks; read-only commands never wait.

use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Project, mode, stderr};

/// Two processes each set a different key at the same moment, 20 times: with the
/// read-modify-write under the project lock, no edit is lost (without it, one of the two
/// writes replaced the other's file in most rounds).
#[test]
fn concurrent_config_sets_of_different_keys_lose_no_edit() {
    let p = Project::new();
    let bin = assert_cmd::cargo::cargo_bin("dtaas-services");
    let mut lost = Vec::new();
    for round in 0..20u16 {
        let a = 9100 + round;
        let b = 9200 + round;
        let spawn = |key: &str, value: u16| {
            StdCommand::new(&bin)
                .arg("--project-dir")
                .arg(&p.dir)
                .args(["config", "set", key, &value.to_string()])
                .env("NO_COLOR", "1")
                .env_remove("DTAAS_PROJECT_DIR")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let first = spawn("RABBITMQ_PORT", a);
        let second = spawn("GRAFANA_PORT", b);
        for child in [first, second] {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "round {round}: {}", stderr(&out));
        }
        let env = p.read_env();
        if !env.contains(&format!("\nRABBITMQ_PORT={a}\n"))
            || !env.contains(&format!("\nGRAFANA_PORT={b}\n"))
        {
            lost.push(round);
        }
    }
    assert!(lost.is_empty(), "an edit was lost in rounds {lost:?}");
    assert_eq!(mode(&p.dir.join(".dtaas/project.lock")), 0o600);
}

/// Hold the project lock the way a running command does (`flock` on the lock file, the
/// holder line in it) from another process: `flock(1)`, killed to simulate a crash.
struct Holder(std::process::Child);

impl Holder {
    fn hold(p: &Project, command: &str) -> Holder {
        let dir = p.dir.join(".dtaas");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("project.lock");
        // The format of store::Holder::encode: host, pid, since (ms), command.
        std::fs::write(&file, format!("ops-host\t4242\t1800000000000\t{command}")).unwrap();
        // -o: only flock itself holds the lock (not the sleep), so killing it is a crash.
        let child = StdCommand::new("flock")
            .arg("-o")
            .arg(&file)
            .args(["sleep", "20"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until flock holds it (a read-only probe never waits).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let probe = StdCommand::new("flock")
                .args(["-n", "-s"])
                .arg(&file)
                .arg("true")
                .status()
                .unwrap();
            if !probe.success() {
                break;
            }
            assert!(Instant::now() < deadline, "flock never took the lock");
            std::thread::sleep(Duration::from_millis(50));
        }
        Holder(child)
    }

    /// A crash: the kernel drops the lock with the process.
    fn crash(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_second_command_waits_names_the_holder_then_exits_busy_and_a_crash_never_blocks() {
    let p = Project::new();
    let before = p.read_env();
    let holder = Holder::hold(&p, "service restore -s grafana");
    let started = Instant::now();
    let out = p
        .cmd()
        .args(["config", "set", "RABBITMQ_PORT", "9083"])
        .env("DTAAS_LOCK_WAIT", "1")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(
        err.contains(
            "`service restore -s grafana` (pid 4242 on ops-host, since 2027-01-15T08:00:00Z)"
        ),
        "{err}"
    );
    assert!(err.contains("retry later"), "{err}");
    assert!(
        !err.contains("unknown key"),
        "DTAAS_LOCK_WAIT is no settings key: {err}"
    );
    assert!(started.elapsed() >= Duration::from_secs(1), "it waited");
    assert_eq!(p.read_env(), before, "nothing was written");
    // Read-only commands never wait.
    let started = Instant::now();
    p.cmd()
        .args(["config", "get", "RABBITMQ_PORT"])
        .env("DTAAS_LOCK_WAIT", "30")
        .assert()
        .success();
    assert!(started.elapsed() < Duration::from_secs(5));
    // The holder crashes: the next command goes ahead at once.
    holder.crash();
    p.cmd()
        .args(["config", "set", "RABBITMQ_PORT", "9083"])
        .env("DTAAS_LOCK_WAIT", "0")
        .assert()
        .success();
    assert!(p.read_env().contains("\nRABBITMQ_PORT=9083\n"));
}

#[test]
fn two_user_adds_do_not_interleave() {
    let p = Project::new();
    let _first = Holder::hold(&p, "user add");
    let out = p
        .cmd()
        .args(["user", "add"])
        .env("DTAAS_LOCK_WAIT", "1")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(
        err.contains("the project is busy: `user add` (pid 4242"),
        "{err}"
    );
}
