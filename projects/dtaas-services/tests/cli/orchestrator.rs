//! `ORCHESTRATOR=swarm` (docs/multi-host.md): until the swarm mode of a command exists, every
//! command that acts on the services' engine refuses with a usage error (exit 2) naming the
//! command and where the setting came from, and touches no engine (DOCKER_HOST points at
//! nothing: acting on it would exit 4). Commands that do not act on the engine still work,
//! so `config set ORCHESTRATOR compose` can switch back. `service start/stop/status/remove`
//! have their swarm mode (the `swarm` component; live: `tests/e2e/swarm.rs`): they go to the
//! manager (exit 4 here), and refuse plain tcp to a remote manager (exit 2).

use crate::support::{Project, stderr};

const ENGINE_COMMANDS: &[&[&str]] = &[
    &["service", "install"],
    &["service", "restart"],
    &["service", "logs", "-s", "postgres"],
    &["service", "clean", "--yes"],
    &["service", "upgrade", "-s", "postgres"],
    &["service", "backup"],
    &["service", "restore", "--from", "/nonexistent"],
    &["user", "add"],
    &["user", "list"],
    &["user", "remove", "alice"],
    &["user", "reset-password"],
    &["certs", "refresh"],
    &["doctor"],
    &["start"],
    &["status"],
];

fn dead_engine(p: &Project) -> std::path::PathBuf {
    p.dir.join("no-engine.sock")
}

#[test]
fn every_engine_command_refuses_in_swarm_mode_and_touches_no_engine() {
    let p = Project::new();
    p.cmd()
        .args(["config", "set", "ORCHESTRATOR", "swarm"])
        .assert()
        .success();
    let host = format!("unix://{}", dead_engine(&p).display());
    for args in ENGINE_COMMANDS {
        let name = args
            .iter()
            .take_while(|a| !a.starts_with('-') && **a != "alice")
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let out = p
            .cmd()
            .env("DOCKER_HOST", &host)
            .args(*args)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(&format!("swarm mode is not implemented yet for {name} ("))
                && err.contains("config/services.env:"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn the_swarm_commands_go_to_the_manager_and_never_over_plain_tcp_to_another_host() {
    let p = Project::new();
    p.cmd()
        .args(["config", "set", "ORCHESTRATOR", "swarm"])
        .assert()
        .success();
    let host = format!("unix://{}", dead_engine(&p).display());
    for args in [
        &["service", "start"][..],
        &["service", "stop"],
        &["service", "status"],
        &["service", "remove", "--yes"],
    ] {
        let out = p
            .cmd()
            .env("DOCKER_HOST", &host)
            .args(args)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {err}");
        assert!(!err.contains("not implemented"), "{args:?}: {err}");
        let out = p
            .cmd()
            .env("DOCKER_HOST", "tcp://192.0.2.7:2375")
            .env_remove("DOCKER_TLS_VERIFY")
            .args(args)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("DOCKER_HOST=tcp://192.0.2.7:2375: swarm mode reaches a remote manager only over TLS"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn compose_mode_is_unchanged_and_config_switches_back() {
    let p = Project::new();
    let host = format!("unix://{}", dead_engine(&p).display());
    // compose (the default): the command goes to the engine (unreachable here: exit 4).
    let out = p
        .cmd()
        .env("DOCKER_HOST", &host)
        .args(["service", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(!stderr(&out).contains("swarm"), "{}", stderr(&out));
    // A --set flag selects swarm too, and config still works in swarm mode.
    let out = p
        .cmd()
        .env("DOCKER_HOST", &host)
        .args(["--set", "ORCHESTRATOR=swarm", "service", "restart"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--set flag"), "{}", stderr(&out));
    p.cmd()
        .args(["config", "set", "ORCHESTRATOR", "swarm"])
        .assert()
        .success();
    p.cmd()
        .args(["config", "set", "ORCHESTRATOR", "compose"])
        .assert()
        .success();
    let out = p
        .cmd()
        .args(["config", "set", "ORCHESTRATOR", "kubernetes"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("expected compose or swarm"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn swarm_status_refuses_the_flags_it_does_not_support_before_any_engine_call() {
    let p = Project::new();
    p.cmd()
        .args(["config", "set", "ORCHESTRATOR", "swarm"])
        .assert()
        .success();
    let host = format!("unix://{}", dead_engine(&p).display());
    for args in [
        &["service", "status", "-s", "postgres"][..],
        &["service", "status", "--watch"][..],
    ] {
        let out = p
            .cmd()
            .env("DOCKER_HOST", &host)
            .args(args)
            .output()
            .unwrap();
        let err = stderr(&out);
        // 2, not 4: refused before the (dead) engine is contacted.
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("-s and --watch are not supported"),
            "{args:?}: {err}"
        );
    }
}
