//! Running one job: under its lease, with the time limit, journalled, and (for one-shot
//! runs) recorded as an execution.

use std::panic::AssertUnwindSafe;
use std::time::SystemTime;

use compose::ProjectFiles;
use futures_util::FutureExt as _;
use store::{ExecutionOutcome, Holder, JournalEntry, NewExecution, Outcome, ProjectLock, TryLock};

use crate::env::Env;
use crate::job::{JobName, JobOutput, JobReport, Status};
use crate::jobs::{admin_credentials, certs_expiry, prune_history, service_health, users_sync};
use crate::lease::{LEASE_TTL, Leased, with_lease};

/// The project's compose files.
pub(crate) fn project_files(settings: &config::Settings) -> anyhow::Result<ProjectFiles> {
    let dir = settings.project_dir().to_owned();
    let files = compose::default_compose_files(&dir);
    if files.is_empty() {
        anyhow::bail!(
            "no compose file in {} (compose.services.yml, ...)",
            dir.display()
        );
    }
    Ok(ProjectFiles {
        name: settings.project_name(),
        working_dir: dir,
        files,
    })
}

/// The job itself, without lease, limit or records.
async fn run_job(env: &Env, job: JobName) -> anyhow::Result<JobOutput> {
    let now = SystemTime::now();
    match job {
        JobName::ServiceHealth => {
            let files = project_files(&env.settings)?;
            let engine = docker::BollardEngine::connect(env.docker_host.as_deref()).await?;
            service_health::run(
                &engine,
                &files,
                &env.settings.interpolation_vars(),
                &env.store,
                &service_health::HealthOptions {
                    services: env.options.services.clone(),
                    budget: env.options.restart_budget,
                    window: env.options.restart_window,
                    now,
                },
            )
            .await
        }
        JobName::UsersSync => users_sync::run(env).await,
        JobName::CertsExpiry => Ok(certs_expiry::run(
            &env.settings,
            &certs_expiry::ExpiryOptions {
                warn_days: env.options.certs_warn_days,
                fail_days: env.options.certs_fail_days,
                refresh: env.options.certs_refresh,
                now,
            },
        )),
        JobName::AdminCredentials => admin_credentials::run(env).await,
        JobName::PruneHistory => prune_history::run(&env.store, env.options.history_keep).await,
    }
}

/// How the work of a job ended.
struct Ended {
    output: JobOutput,
    /// The work panicked (`output` then holds the panic as its failure).
    panicked: bool,
}

/// The message of a panic payload (`panic!("...")` carries a `&str` or a `String`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

/// `work` under the time limit; an error or a panic becomes a failure. A panic is caught
/// here, inside the lease, so the lease is still released, the execution recorded and the
/// other jobs of the run still run (with `panic = "unwind"`; a build with `panic = "abort"`
/// cannot catch it).
async fn run_limited<F>(env: &Env, work: F) -> Ended
where
    F: Future<Output = anyhow::Result<JobOutput>>,
{
    let limited = tokio::time::timeout(env.options.timeout, work);
    let output = match AssertUnwindSafe(limited).catch_unwind().await {
        Ok(Ok(Ok(out))) => out,
        Ok(Ok(Err(e))) => JobOutput::failed(format!("{e:#}")),
        Ok(Err(_)) => JobOutput::failed(format!(
            "timed out after {} (JOBS_TIMEOUT)",
            humantime::format_duration(env.options.timeout)
        )),
        Err(payload) => {
            return Ended {
                output: JobOutput::failed(format!(
                    "the job panicked: {}",
                    panic_message(&*payload)
                )),
                panicked: true,
            };
        }
    };
    Ended {
        output,
        panicked: false,
    }
}

/// The text kept as the error of a failed execution.
pub(crate) fn failure_text(out: &JobOutput) -> Option<String> {
    (!out.failures.is_empty()).then(|| out.failures.join("; "))
}

async fn journal(env: &Env, job: JobName, status: Status, detail: String) {
    let outcome = match status {
        Status::Ok | Status::Warning => Outcome::Ok,
        Status::Failed => Outcome::Failed,
        Status::Skipped => Outcome::Skipped,
    };
    let entry = JournalEntry::new(job.journal_command(), outcome).detail(detail);
    if let Err(e) = env.store.record(&entry).await {
        tracing::warn!(job = %job, error = %e, "cannot journal the job");
    }
}

/// The project lock was held by another command (its holder, as text).
pub(crate) struct ProjectBusy(String);

/// Take the project lock without waiting; `Err` names the holder (a lock that cannot be
/// taken for another reason is reported as held by that reason, so the job does not run).
async fn project_lock(env: &Env, job: JobName) -> Result<ProjectLock, ProjectBusy> {
    let holder = Holder::this_process(job.journal_command());
    match ProjectLock::try_acquire(env.settings.project_dir(), Some(&env.store), &holder).await {
        Ok(TryLock::Acquired(lock)) => Ok(lock),
        Ok(TryLock::Busy(other)) => Err(ProjectBusy(
            other.map_or_else(|| "another command".to_owned(), |h| h.to_string()),
        )),
        Err(e) => Err(ProjectBusy(format!(
            "nobody: the project lock cannot be taken: {e}"
        ))),
    }
}

/// Run `job` once under its lease. With `record`, the run is also stored as an execution
/// (trigger `run`); the daemon's scheduler records its runs itself.
pub(crate) async fn execute(env: &Env, job: JobName, record: bool) -> JobReport {
    execute_work(env, job, record, run_job(env, job)).await
}

/// Record the start of a `run` execution; `None` (with a warning) when the store refuses.
async fn start_record(env: &Env, job: JobName) -> Option<i64> {
    let started = SystemTime::now();
    let row = NewExecution {
        job: job.as_str().to_owned(),
        trigger: "run".to_owned(),
        scheduled_for: started,
        started_at: started,
        attempt: 1,
    };
    match env.store.start_execution(&row).await {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::warn!(job = %job, error = %e, "cannot record the execution");
            None
        }
    }
}

/// Record how execution `id` ended: panicked, success, or failed with its failures.
async fn finish_record(env: &Env, job: JobName, id: i64, out: &JobOutput, panicked: bool) {
    let outcome = if panicked {
        ExecutionOutcome::Panicked
    } else if out.failures.is_empty() {
        ExecutionOutcome::Success
    } else {
        ExecutionOutcome::Failed
    };
    let err = failure_text(out);
    if let Err(e) = env
        .store
        .finish_execution(id, SystemTime::now(), outcome, err.as_deref())
        .await
    {
        tracing::warn!(job = %job, error = %e, "cannot record the execution's end");
    }
}

/// Under the lease: the project lock (for jobs that change the project, never waiting),
/// the execution record, the limited run of `body`.
async fn run_recorded<F>(
    env: &Env,
    job: JobName,
    record: bool,
    body: F,
) -> Result<JobOutput, ProjectBusy>
where
    F: Future<Output = anyhow::Result<JobOutput>>,
{
    // Jobs that change the project take its lock, never waiting (issue 16).
    let lock = if job.takes_project_lock() {
        match project_lock(env, job).await {
            Ok(lock) => Some(lock),
            Err(busy) => return Err(busy),
        }
    } else {
        None
    };
    let id = if record {
        start_record(env, job).await
    } else {
        None
    };
    tracing::info!(job = %job, holder = %env.holder, "job started");
    let Ended {
        output: out,
        panicked,
    } = run_limited(env, body).await;
    if let Some(id) = id {
        finish_record(env, job, id, &out, panicked).await;
    }
    if let Some(lock) = lock {
        lock.release().await;
    }
    Ok(out)
}

/// [`execute`] with the job's work given: under the lease of `job`, limited, recorded and
/// journalled; a failure, a timeout or a panic of `body` is a failed report, never a panic.
pub(crate) async fn execute_work<F>(env: &Env, job: JobName, record: bool, body: F) -> JobReport
where
    F: Future<Output = anyhow::Result<JobOutput>>,
{
    let work = run_recorded(env, job, record, body);
    let report = match with_lease(&env.store, &job.lease_name(), &env.holder, LEASE_TTL, work).await
    {
        Ok(Leased::Ran(Ok(output))) => JobReport {
            job: job.as_str(),
            status: output.status(),
            held_by: None,
            output,
        },
        Ok(Leased::Ran(Err(ProjectBusy(holder)))) => JobReport {
            job: job.as_str(),
            status: Status::Skipped,
            output: JobOutput {
                summary: format!(
                    "not run: the project is held by {holder}; its services are left to that command"
                ),
                ..JobOutput::default()
            },
            held_by: Some(holder),
        },
        Ok(Leased::Held(lease)) => JobReport {
            job: job.as_str(),
            status: Status::Skipped,
            held_by: Some(lease.holder.clone()),
            output: JobOutput {
                summary: format!(
                    "not run: another runner holds the lease ({}, until {})",
                    lease.holder,
                    humantime::format_rfc3339_seconds(lease.expires_at)
                ),
                ..JobOutput::default()
            },
        },
        Err(e) => JobReport {
            job: job.as_str(),
            status: Status::Failed,
            held_by: None,
            output: JobOutput::failed(format!("cannot take the job's lease: {e}")),
        },
    };
    let mut detail = report.output.summary.clone();
    if let Some(f) = failure_text(&report.output)
        && f != detail
    {
        detail = format!("{detail}: {f}");
    }
    journal(env, job, report.status, detail).await;
    match report.status {
        Status::Failed => {
            tracing::error!(job = %job, summary = %report.output.summary, failures = ?report.output.failures, "job failed")
        }
        Status::Skipped => {
            tracing::info!(job = %job, held_by = ?report.held_by, "job skipped: lease or project lock held")
        }
        _ => {
            tracing::info!(job = %job, status = report.status.as_str(), summary = %report.output.summary, "job finished")
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An environment on a fresh project with its SQLite state database.
    async fn project_env() -> (tempfile::TempDir, Env) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        std::fs::write(
            dir.path().join("config/services.env"),
            "HOSTNAME=jobs.example.org\n",
        )
        .unwrap();
        let env = Env::open(dir.path()).await.unwrap();
        (dir, env)
    }

    async fn panicking_job(what: &str) -> anyhow::Result<JobOutput> {
        if !what.is_empty() {
            panic!("{what} went wrong");
        }
        Ok(JobOutput::default())
    }

    #[tokio::test]
    async fn a_panicking_job_fails_alone_and_gives_its_lease_back() {
        let (_dir, env) = project_env().await;
        let panicked =
            execute_work(&env, JobName::UsersSync, true, panicking_job("the sync")).await;
        assert_eq!(panicked.status, Status::Failed);
        assert_eq!(
            panicked.output.failures,
            ["the job panicked: the sync went wrong"]
        );
        // The lease is released at once, not left to expire.
        assert_eq!(env.store.lease("job:users-sync").await.unwrap(), None);
        // Recorded as panicked, and journalled as a failure.
        let exec = env.store.executions("users-sync", 1).await.unwrap();
        assert_eq!(exec[0].outcome, Some(ExecutionOutcome::Panicked));
        assert_eq!(
            exec[0].error.as_deref(),
            Some("the job panicked: the sync went wrong")
        );
        let journal = env.store.history(10).await.unwrap();
        assert!(
            journal.iter().any(|r| r.entry.command == "job users-sync"
                && r.entry.outcome == Outcome::Failed
                && r.entry.detail.contains("the sync went wrong")),
            "{journal:?}"
        );

        // The next job of the same run still runs, and the run exits 1 with both reports.
        let next = execute(&env, JobName::PruneHistory, true).await;
        assert_eq!(next.status, Status::Ok, "{next:?}");
        let (out, lines) = crate::printer::Printer::capture(false);
        let code = crate::commands::print_run(&env, &[panicked, next], &out).unwrap();
        assert_eq!(code, exit_status::ExitStatus::Failed);
        let lines = lines.lock().unwrap().clone();
        assert!(
            lines[0].starts_with("users-sync         failed "),
            "{lines:?}"
        );
        assert!(lines[1].starts_with("prune-history      ok "), "{lines:?}");
        assert_eq!(
            lines[2], "\n1 of 2 job(s) failed (1 error(s)):",
            "{lines:?}"
        );
        assert!(
            lines[3].starts_with("=== Error 1/1 === users-sync: the job panicked: "),
            "{lines:?}"
        );
        let (out, lines) = crate::printer::Printer::capture(true);
        crate::commands::print_run(&env, &[], &out).unwrap();
        let json: serde_json::Value = serde_json::from_str(&lines.lock().unwrap()[0]).unwrap();
        assert_eq!(json["ok"], true);
    }

    #[tokio::test]
    async fn a_job_skips_a_project_held_by_a_command_naming_it_and_never_waits() {
        let (dir, env) = project_env().await;
        // A long `service restore` holds the project.
        let restore = Holder::this_process("service restore -s grafana");
        let TryLock::Acquired(lock) = ProjectLock::try_acquire(dir.path(), None, &restore)
            .await
            .unwrap()
        else {
            panic!("free");
        };
        let mut ran = false;
        let started = std::time::Instant::now();
        let r = execute_work(&env, JobName::ServiceHealth, true, async {
            ran = true;
            Ok(JobOutput::default())
        })
        .await;
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "never waits"
        );
        assert!(!ran, "the job did not run");
        assert_eq!(r.status, Status::Skipped);
        assert!(
            r.output
                .summary
                .starts_with("not run: the project is held by `service restore -s grafana` (pid "),
            "{r:?}"
        );
        assert!(r.held_by.as_deref().unwrap().contains("service restore"));
        // A skip is not a failure: the run exits 0, and it is journalled.
        let (out, _lines) = crate::printer::Printer::capture(true);
        let code = crate::commands::print_run(&env, std::slice::from_ref(&r), &out).unwrap();
        assert_eq!(code, exit_status::ExitStatus::Success);
        let journal = env.store.history(5).await.unwrap();
        assert!(
            journal
                .iter()
                .any(|j| j.entry.command == "job service-health"
                    && j.entry.outcome == Outcome::Skipped
                    && j.entry.detail.contains("service restore -s grafana")),
            "{journal:?}"
        );
        // prune-history does not change the project: it runs meanwhile.
        let other = execute(&env, JobName::PruneHistory, true).await;
        assert_eq!(other.status, Status::Ok);
        lock.release().await;
        // Free again: the job runs, and gives the lock back.
        let r = execute_work(&env, JobName::ServiceHealth, true, async {
            Ok(JobOutput::default())
        })
        .await;
        assert_eq!(r.status, Status::Ok, "{r:?}");
        assert!(
            store::project_lock_holder(dir.path(), None)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_job_error_and_a_timeout_are_failures_not_panics() {
        let (_dir, mut env) = project_env().await;
        let r = execute_work(&env, JobName::CertsExpiry, true, async {
            anyhow::bail!("no certificate")
        })
        .await;
        assert_eq!(r.output.failures, ["no certificate"]);
        let exec = env.store.executions("certs-expiry", 1).await.unwrap();
        assert_eq!(exec[0].outcome, Some(ExecutionOutcome::Failed));

        env.options.timeout = std::time::Duration::from_millis(50);
        let r = execute_work(&env, JobName::CertsExpiry, false, async {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            Ok(JobOutput::default())
        })
        .await;
        assert_eq!(r.status, Status::Failed);
        assert!(r.output.summary.starts_with("timed out after"), "{r:?}");
    }
}
