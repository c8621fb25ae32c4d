//! Running one job: under its lease, with the time limit, journalled, and (for one-shot
//! runs) recorded as an execution.

use std::time::SystemTime;

use compose::ProjectFiles;
use store::{ExecutionOutcome, JournalEntry, NewExecution, Outcome};

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

/// The job under its time limit; an error becomes a failure.
async fn run_limited(env: &Env, job: JobName) -> JobOutput {
    match tokio::time::timeout(env.options.timeout, run_job(env, job)).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => JobOutput::failed(format!("{e:#}")),
        Err(_) => JobOutput::failed(format!(
            "timed out after {} (JOBS_TIMEOUT)",
            humantime::format_duration(env.options.timeout)
        )),
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

/// Run `job` once under its lease. With `record`, the run is also stored as an execution
/// (trigger `run`); the daemon's scheduler records its runs itself.
pub(crate) async fn execute(env: &Env, job: JobName, record: bool) -> JobReport {
    let work = async {
        let started = SystemTime::now();
        let id = if record {
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
        } else {
            None
        };
        tracing::info!(job = %job, holder = %env.holder, "job started");
        let out = run_limited(env, job).await;
        if let Some(id) = id {
            let outcome = if out.failures.is_empty() {
                ExecutionOutcome::Success
            } else {
                ExecutionOutcome::Failed
            };
            let err = failure_text(&out);
            if let Err(e) = env
                .store
                .finish_execution(id, SystemTime::now(), outcome, err.as_deref())
                .await
            {
                tracing::warn!(job = %job, error = %e, "cannot record the execution's end");
            }
        }
        out
    };
    let report = match with_lease(&env.store, &job.lease_name(), &env.holder, LEASE_TTL, work).await
    {
        Ok(Leased::Ran(output)) => JobReport {
            job: job.as_str(),
            status: output.status(),
            held_by: None,
            output,
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
            tracing::info!(job = %job, held_by = ?report.held_by, "job skipped: lease held")
        }
        _ => {
            tracing::info!(job = %job, status = report.status.as_str(), summary = %report.output.summary, "job finished")
        }
    }
    report
}
