//! Two `run` processes at once: one runs the job, the other reports the lease holder and
//! does not run it. Deterministic without timing: the first process is held inside its job
//! by a Docker socket that accepts the connection and never answers.

use std::os::unix::net::UnixListener;
use std::process::Stdio;

use predicates::prelude::*;

use crate::fixture::{Project, jobs_in};

#[test]
fn a_second_runner_reports_the_lease_holder_and_does_not_run() {
    let p = Project::new("lease.example.org", &[]);
    std::fs::write(
        p.path().join("compose.services.yml"),
        "services:\n  rabbitmq:\n    image: busybox\n",
    )
    .unwrap();
    let sock = p.path().join("stalled-docker.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let host = format!("unix://{}", sock.display());

    let first = std::process::Command::new(assert_cmd::cargo::cargo_bin("dtaas-jobs"))
        .arg("--project-dir")
        .arg(p.path())
        .args(["run", "service-health"])
        .env("DOCKER_HOST", &host)
        .env_remove("DTAAS_PROJECT_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first runner talks to the engine only once it holds the lease.
    let (conn, _) = listener.accept().unwrap();

    jobs_in(&p)
        .args(["run", "service-health", "prune-history"])
        .env("DOCKER_HOST", &host)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "service-health     skipped  not run: another runner holds the lease",
        ))
        .stdout(predicate::str::contains(format!(":{}, until", first.id())))
        .stdout(predicate::str::contains("prune-history      ok"));

    // Let the first runner go: its engine answers nothing, so its job fails.
    drop(conn);
    drop(listener);
    let out = first.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("service-health     failed"), "{stdout}");

    // The skip is journalled; the lease is free again for the next runner.
    let out = jobs_in(&p)
        .args(["history", "--json", "--job", "service-health"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let actions = v["actions"].as_array().unwrap();
    assert!(
        actions.iter().any(|a| a["outcome"] == "skipped"
            && a["detail"].as_str().unwrap().contains("holds the lease")),
        "{v}"
    );
    // Only the first runner ran the job: one execution, failed.
    let execs = v["executions"].as_array().unwrap();
    assert_eq!(execs.len(), 1, "{v}");
    assert_eq!(execs[0]["outcome"], "failed");
}
