//! `run`, `list` and `history`: their output goes to stdout (JSON with `--json`).

use std::io::Write as _;
use std::process::ExitCode;
use std::time::SystemTime;

use serde::Serialize;

use crate::args::{HistoryArgs, RunArgs};
use crate::daemon::{Schedule, schedule_of};
use crate::env::Env;
use crate::exec::execute;
use crate::job::{JobName, JobReport, Status};

/// A line on stdout (a closed pipe is ignored).
pub(crate) fn out_line(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// An error line on stderr.
pub(crate) fn error_line(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "error: {text}");
}

fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    out_line(&serde_json::to_string_pretty(value)?);
    Ok(())
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// The `run` report.
#[derive(Debug, Serialize)]
struct RunReport {
    holder: String,
    ok: bool,
    jobs: Vec<JobReport>,
}

/// `run JOB... | --all`: every job runs (in order), failures are collected into one report.
pub(crate) async fn run(env: &Env, args: &RunArgs, json: bool) -> anyhow::Result<ExitCode> {
    let mut jobs: Vec<JobName> = if args.all {
        JobName::ALL.to_vec()
    } else {
        args.jobs.clone()
    };
    let mut seen = std::collections::BTreeSet::new();
    jobs.retain(|j| seen.insert(*j));
    let mut reports = Vec::new();
    for job in jobs {
        // `execute` turns a failure, a timeout or a panic of the job into its report.
        reports.push(execute(env, job, true).await);
    }
    print_run(env, &reports, json)
}

/// Print the `run` report; exit 1 when a job failed.
pub(crate) fn print_run(env: &Env, reports: &[JobReport], json: bool) -> anyhow::Result<ExitCode> {
    let failed: Vec<&JobReport> = reports
        .iter()
        .filter(|r| r.status == Status::Failed)
        .collect();
    let ok = failed.is_empty();
    if json {
        print_json(&RunReport {
            holder: env.holder.clone(),
            ok,
            jobs: reports.to_vec(),
        })?;
    } else {
        for r in reports {
            out_line(&format!(
                "{:<18} {:<8} {}",
                r.job,
                r.status.as_str(),
                r.output.summary
            ));
            for a in &r.output.actions {
                out_line(&format!("    done: {a}"));
            }
            for w in &r.output.warnings {
                out_line(&format!("    warning: {w}"));
            }
        }
        if !ok {
            let total: usize = failed.iter().map(|r| r.output.failures.len()).sum();
            out_line(&format!(
                "\n{} of {} job(s) failed ({total} error(s)):",
                failed.len(),
                reports.len()
            ));
            let mut i = 0;
            for r in &failed {
                for f in &r.output.failures {
                    i += 1;
                    out_line(&format!("=== Error {i}/{total} === {}: {f}", r.job));
                }
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::EXIT_FAILED)
    })
}

#[derive(Debug, Serialize)]
struct ListRow {
    job: &'static str,
    description: &'static str,
    /// The schedule (`disabled` when empty).
    schedule: String,
    time_zone: String,
    next_run: Option<String>,
    last_run: Option<String>,
    last_outcome: Option<String>,
}

/// `list`.
pub(crate) async fn list(env: &Env, json: bool) -> anyhow::Result<ExitCode> {
    let now = SystemTime::now();
    let mut rows = Vec::new();
    for job in JobName::ALL {
        let sched = schedule_of(&env.settings, job)?;
        let (schedule, tz, next) = match &sched {
            Schedule::Disabled => ("disabled".to_owned(), String::new(), None),
            Schedule::Cron(c) => (
                c.expr().to_owned(),
                c.time_zone().to_owned(),
                c.next_after(now),
            ),
            Schedule::Every { expr, every, tz } => (expr.clone(), tz.clone(), Some(now + *every)),
        };
        let last = env
            .store
            .executions(job.as_str(), 1)
            .await?
            .into_iter()
            .next();
        rows.push(ListRow {
            job: job.as_str(),
            description: job.description(),
            schedule,
            time_zone: tz,
            next_run: next.map(rfc3339),
            last_run: last.as_ref().map(|e| rfc3339(e.started_at)),
            last_outcome: last.map(|e| {
                e.outcome
                    .map_or_else(|| "running".to_owned(), |o| o.to_string())
            }),
        });
    }
    if json {
        print_json(&rows)?;
    } else {
        out_line(&format!(
            "{:<18} {:<16} {:<22} {:<22} {}",
            "JOB", "SCHEDULE", "NEXT RUN (UTC)", "LAST RUN (UTC)", "LAST OUTCOME"
        ));
        for r in &rows {
            out_line(&format!(
                "{:<18} {:<16} {:<22} {:<22} {}",
                r.job,
                r.schedule,
                r.next_run.as_deref().unwrap_or("-"),
                r.last_run.as_deref().unwrap_or("-"),
                r.last_outcome.as_deref().unwrap_or("-")
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Serialize)]
struct ExecRow {
    id: i64,
    job: String,
    trigger: String,
    scheduled_for: String,
    started_at: String,
    ended_at: Option<String>,
    attempt: u32,
    outcome: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct ActionRow {
    at: String,
    job: String,
    service: Option<String>,
    outcome: String,
    detail: String,
}

#[derive(Debug, Serialize)]
struct History {
    executions: Vec<ExecRow>,
    /// Journal lines of the jobs: per-service actions and skipped runs.
    actions: Vec<ActionRow>,
}

/// `history [--job JOB] [--limit N]`.
pub(crate) async fn history(env: &Env, args: &HistoryArgs, json: bool) -> anyhow::Result<ExitCode> {
    let jobs: Vec<JobName> = args.job.map_or_else(|| JobName::ALL.to_vec(), |j| vec![j]);
    let mut execs = Vec::new();
    for job in &jobs {
        execs.extend(env.store.executions(job.as_str(), args.limit).await?);
    }
    execs.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(b.id.cmp(&a.id)));
    execs.truncate(usize::try_from(args.limit).unwrap_or(usize::MAX));
    let commands: Vec<String> = jobs.iter().map(|j| j.journal_command()).collect();
    let actions: Vec<ActionRow> = env
        .store
        .history(args.limit.saturating_mul(10).max(100))
        .await?
        .into_iter()
        .filter(|r| commands.contains(&r.entry.command))
        .filter(|r| r.entry.service.is_some() || r.entry.outcome == store::Outcome::Skipped)
        .take(usize::try_from(args.limit).unwrap_or(usize::MAX))
        .map(|r| ActionRow {
            at: rfc3339(r.entry.at),
            job: r
                .entry
                .command
                .strip_prefix("job ")
                .unwrap_or(&r.entry.command)
                .to_owned(),
            service: r.entry.service,
            outcome: r.entry.outcome.to_string(),
            detail: r.entry.detail,
        })
        .collect();
    let h = History {
        executions: execs
            .into_iter()
            .map(|e| ExecRow {
                id: e.id,
                job: e.job,
                trigger: e.trigger,
                scheduled_for: rfc3339(e.scheduled_for),
                started_at: rfc3339(e.started_at),
                ended_at: e.ended_at.map(rfc3339),
                attempt: e.attempt,
                outcome: e.outcome.map(|o| o.to_string()),
                error: e.error,
            })
            .collect(),
        actions,
    };
    if json {
        print_json(&h)?;
        return Ok(ExitCode::SUCCESS);
    }
    if h.executions.is_empty() {
        out_line("No job has run yet.");
    } else {
        out_line(&format!(
            "{:<22} {:<18} {:<8} {:<10} {}",
            "STARTED (UTC)", "JOB", "TRIGGER", "OUTCOME", "ERROR"
        ));
        for e in &h.executions {
            out_line(&format!(
                "{:<22} {:<18} {:<8} {:<10} {}",
                e.started_at,
                e.job,
                e.trigger,
                e.outcome.as_deref().unwrap_or("running"),
                e.error.as_deref().unwrap_or("")
            ));
        }
    }
    if !h.actions.is_empty() {
        out_line("\nActions:");
        for a in &h.actions {
            out_line(&format!(
                "{:<22} {:<18} {:<16} {:<8} {}",
                a.at,
                a.job,
                a.service.as_deref().unwrap_or("-"),
                a.outcome,
                a.detail
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}
