//! Usage and configuration errors exit 2; `list` shows the schedules.

use predicates::prelude::*;

use crate::fixture::{Project, jobs, jobs_in};

#[test]
fn without_a_project_run_is_a_configuration_error() {
    jobs()
        .args(["run", "prune-history"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no DTaaS services project found"));
}

#[test]
fn an_unknown_job_is_a_usage_error() {
    let p = Project::new("jobs.example.org", &[]);
    jobs_in(&p)
        .args(["run", "make-coffee"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("service-health"));
}

#[test]
fn a_bad_schedule_is_a_configuration_error_naming_the_key() {
    let p = Project::new(
        "jobs.example.org",
        &[("JOBS_SERVICE_HEALTH_SCHEDULE", "\"*/5 * * *\"")],
    );
    jobs_in(&p)
        .arg("list")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("JOBS_SERVICE_HEALTH_SCHEDULE"));
}

#[test]
fn list_shows_every_job_with_its_schedule() {
    let p = Project::new(
        "jobs.example.org",
        &[
            ("JOBS_TIMEZONE", "Europe/Zurich"),
            ("JOBS_USERS_SYNC_SCHEDULE", ""),
        ],
    );
    let out = jobs_in(&p).args(["list", "--json"]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let rows: Vec<(String, String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["job"].as_str().unwrap().to_owned(),
                r["schedule"].as_str().unwrap().to_owned(),
                r["time_zone"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let zurich = "Europe/Zurich".to_owned();
    assert_eq!(
        rows,
        [
            (
                "service-health".into(),
                "*/5 * * * *".into(),
                zurich.clone()
            ),
            ("users-sync".into(), "disabled".into(), String::new()),
            ("certs-expiry".into(), "0 6 * * *".into(), zurich.clone()),
            (
                "admin-credentials".into(),
                "30 6 * * *".into(),
                zurich.clone()
            ),
            ("prune-history".into(), "0 4 * * *".into(), zurich),
        ]
    );
    assert!(v[0]["next_run"].is_string());
    assert!(v[0]["last_run"].is_null());

    // The table has the zone column too.
    let out = jobs_in(&p).arg("list").assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("JOB                SCHEDULE    ZONE          NEXT RUN (UTC)"),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("service-health     */5 * * * * Europe/Zurich "),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with("users-sync         disabled    -             -"),
        "{stdout}"
    );
}

#[test]
fn prune_history_runs_and_is_recorded() {
    let p = Project::new("jobs.example.org", &[]);
    jobs_in(&p)
        .args(["run", "prune-history"])
        .assert()
        .success()
        .stdout(predicate::str::contains("prune-history      ok"));
    let out = jobs_in(&p).args(["history", "--json"]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["executions"][0]["job"], "prune-history");
    assert_eq!(v["executions"][0]["trigger"], "run");
    assert_eq!(v["executions"][0]["outcome"], "success");
}

#[test]
fn failures_are_collected_into_one_report_and_exit_1() {
    // No certificates and no credentials.csv: both jobs fail, prune-history still runs.
    let p = Project::new("jobs.example.org", &[]);
    let out = jobs_in(&p)
        .args(["run", "certs-expiry", "prune-history", "users-sync"])
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(stdout.contains("prune-history      ok"), "{stdout}");
    assert!(stdout.contains("2 of 3 job(s) failed"), "{stdout}");
    assert!(
        stdout.contains("=== Error 1/2 === certs-expiry:"),
        "{stdout}"
    );
    assert!(stdout.contains("=== Error 2/2 === users-sync:"), "{stdout}");
}

#[test]
fn piped_logs_carry_no_colour_codes() {
    // A failing job logs an error line; stderr is a pipe here, so no ANSI escapes.
    let p = Project::new("jobs.example.org", &[]);
    let out = jobs_in(&p)
        .args(["-v", "run", "certs-expiry", "prune-history"])
        .env_remove("NO_COLOR")
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("job failed"), "{stderr}");
    assert!(stderr.contains("job finished"), "{stderr}");
    assert!(!stderr.contains("\x1b["), "{stderr:?}");
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(!stdout.contains("\x1b["), "{stdout:?}");
}
