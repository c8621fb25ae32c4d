//! `daemon`: jobs run on their schedules from services.env, logs are JSON lines, SIGTERM
//! stops it gracefully (exit 0).

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::fixture::{Project, jobs_in};

#[test]
fn the_daemon_runs_scheduled_jobs_logs_json_and_stops_on_sigterm() {
    let p = Project::new(
        "daemon.example.org",
        &[
            ("JOBS_SERVICE_HEALTH_SCHEDULE", ""),
            ("JOBS_USERS_SYNC_SCHEDULE", ""),
            ("JOBS_CERTS_EXPIRY_SCHEDULE", ""),
            ("JOBS_ADMIN_CREDENTIALS_SCHEDULE", ""),
            ("JOBS_PRUNE_HISTORY_SCHEDULE", "\"@every 1s\""),
        ],
    );
    let daemon = std::process::Command::new(assert_cmd::cargo::cargo_bin("dtaas-jobs"))
        .arg("--project-dir")
        .arg(p.path())
        .arg("daemon")
        .env_remove("DTAAS_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (bounded) until the scheduler has recorded a run.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = jobs_in(&p).args(["history", "--json"]).output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if v["executions"]
            .as_array()
            .is_some_and(|e| e.iter().any(|x| x["outcome"] == "success"))
        {
            assert_eq!(v["executions"][0]["job"], "prune-history");
            assert_eq!(v["executions"][0]["trigger"], "schedule");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon never ran prune-history"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = daemon.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let messages: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["fields"]["message"].as_str())
        .collect();
    assert!(
        messages.contains(&"dtaas-jobs daemon started"),
        "{messages:?}"
    );
    assert!(messages.contains(&"job finished"), "{messages:?}");
    let stopping = lines
        .iter()
        .find(|l| l["fields"]["message"] == "stopping")
        .expect("a stopping line");
    assert_eq!(stopping["fields"]["signal"], "SIGTERM");
    assert_eq!(messages.last(), Some(&"stopped"));
}
