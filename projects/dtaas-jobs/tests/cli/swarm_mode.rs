//! `ORCHESTRATOR=swarm` (docs/multi-host.md): no job has a swarm mode yet, so `run` and
//! `daemon` refuse with a configuration error (exit 2) instead of acting on the local engine.

use predicates::prelude::*;

use crate::fixture::{Project, jobs_in};

#[test]
fn swarm_mode_refuses_every_job() {
    let p = Project::new("jobs.example.org", &[("ORCHESTRATOR", "swarm")]);
    for job in ["service-health", "users-sync", "prune-history"] {
        jobs_in(&p)
            .args(["run", job])
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                "swarm mode is not implemented yet for dtaas-jobs",
            ));
    }
}
