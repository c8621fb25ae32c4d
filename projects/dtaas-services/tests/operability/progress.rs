//! `service start --wait` progress: a bar on a terminal (run under tmux), plain lines when
//! piped, nothing with -q.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Project, engine_or_skip, stderr};

/// Kills the test's own tmux server (its own socket) when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    fn capture(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "t"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

#[allow(clippy::print_stderr)]
fn tmux_or_skip() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "tmux is missing, and CI is set: the terminal test cannot run"
        );
        eprintln!("SKIPPED: tmux is not installed (apt-get install -y tmux)");
    }
    ok
}

#[test]
fn start_shows_a_wait_bar_on_a_terminal_and_plain_lines_when_piped() {
    if !engine_or_skip() || !tmux_or_skip() {
        return;
    }
    let p = Project::new("opprog");
    let bin = env!("CARGO_BIN_EXE_dtaas-services");
    let tmux = Tmux {
        socket: format!("{}-tmux", p.name),
    };
    let script = format!(
        "env -u DTAAS_LOG NO_COLOR=1 {bin} --project-dir {} service start -s thingsboard --wait --timeout 60s; echo EXIT=$?; sleep 60",
        p.dir.display()
    );
    let out = tmux
        .cmd()
        .args([
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "160",
            "-y",
            "40",
            &script,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut saw_bar = None;
    let screen = loop {
        let screen = tmux.capture();
        if saw_bar.is_none()
            && screen.contains(&format!("waiting for {}-thingsboard", p.name))
            && screen.contains("s of 60s")
        {
            saw_bar = Some(screen.clone());
        }
        if screen.contains("EXIT=") {
            break screen;
        }
        assert!(Instant::now() < deadline, "no end in 60s:\n{screen}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(
        saw_bar.is_some(),
        "no wait bar was drawn; last screen:\n{screen}"
    );
    assert!(
        screen.contains(&format!("✓ {}-thingsboard is ready", p.name)),
        "{screen}"
    );
    // The bar is cleared once the wait is over.
    assert!(!screen.contains("s of 60s"), "{screen}");

    // Piped: plain lines, no escape sequences.
    p.cmd()
        .args(["service", "stop", "-s", "thingsboard", "--timeout", "1s"])
        .assert()
        .success();
    let out = p
        .cmd()
        .args([
            "service",
            "start",
            "-s",
            "thingsboard",
            "--wait",
            "--timeout",
            "60s",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(!err.contains('\x1b'), "{err:?}");
    assert!(
        err.contains(&format!("Waiting for {}-thingsboard: 0s of 60s\n", p.name)),
        "{err}"
    );
    assert!(
        err.contains(&format!("✓ {}-thingsboard is ready\n", p.name)),
        "{err}"
    );

    // -q: silent.
    p.cmd()
        .args(["service", "stop", "-s", "thingsboard", "--timeout", "1s"])
        .assert()
        .success();
    let out = p
        .cmd()
        .args([
            "-q",
            "service",
            "start",
            "-s",
            "thingsboard",
            "--wait",
            "--timeout",
            "60s",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
}
