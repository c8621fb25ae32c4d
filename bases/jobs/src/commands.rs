//! `run`, `list` and `history`: their output goes through the printer (JSON with `--json`).

use std::time::SystemTime;

use exit_status::ExitStatus;
use serde::Serialize;

use crate::args::{HistoryArgs, RunArgs};
use crate::daemon::{SCHEDULE_TRIGGER, Schedule, schedule_of};
use crate::env::Env;
use crate::exec::execute;
use crate::job::{JobName, JobReport, Status};
use crate::printer::Printer;

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
pub(crate) async fn run(env: &Env, args: &RunArgs, out: &Printer) -> anyhow::Result<ExitStatus> {
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
    print_run(env, &reports, out)
}

/// Print the `run` report; exit 1 when a job failed.
pub(crate) fn print_run(
    env: &Env,
    reports: &[JobReport],
    out: &Printer,
) -> anyhow::Result<ExitStatus> {
    let failed: Vec<&JobReport> = reports
        .iter()
        .filter(|r| r.status == Status::Failed)
        .collect();
    let ok = failed.is_empty();
    if out.is_json() {
        out.json(&RunReport {
            holder: env.holder.clone(),
            ok,
            jobs: reports.to_vec(),
        })?;
    } else {
        for r in reports {
            out.line(format!(
                "{:<18} {:<8} {}",
                r.job,
                r.status.as_str(),
                r.output.summary
            ));
            for a in &r.output.actions {
                out.line(format!("    done: {a}"));
            }
            for n in &r.output.notes {
                out.line(format!("    note: {n}"));
            }
            for w in &r.output.warnings {
                out.line(format!("    warning: {w}"));
            }
        }
        if !ok {
            let total: usize = failed.iter().map(|r| r.output.failures.len()).sum();
            out.line(format!(
                "\n{} of {} job(s) failed ({total} error(s)):",
                failed.len(),
                reports.len()
            ));
            let mut i = 0;
            for r in &failed {
                for f in &r.output.failures {
                    i += 1;
                    out.line(format!("=== Error {i}/{total} === {}: {f}", r.job));
                }
            }
        }
    }
    Ok(if ok {
        ExitStatus::Success
    } else {
        ExitStatus::Failed
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

/// The `list` rows at `now`.
async fn list_rows(env: &Env, now: SystemTime) -> anyhow::Result<Vec<ListRow>> {
    let mut rows = Vec::new();
    for job in JobName::ALL {
        let sched = schedule_of(&env.settings, job)?;
        // The daemon's persisted last scheduled time: an `@every` schedule counts from it.
        let last_scheduled = match sched {
            Schedule::Every { .. } => {
                env.store
                    .last_scheduled(job.as_str(), SCHEDULE_TRIGGER)
                    .await?
            }
            _ => None,
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
            schedule: sched.expr().to_owned(),
            time_zone: sched.time_zone().to_owned(),
            next_run: sched.next_run(last_scheduled, now).map(rfc3339),
            last_run: last.as_ref().map(|e| rfc3339(e.started_at)),
            last_outcome: last.map(|e| {
                e.outcome
                    .map_or_else(|| "running".to_owned(), |o| o.to_string())
            }),
        });
    }
    Ok(rows)
}

/// The human `list` table: the schedule and zone columns as wide as their longest value.
fn list_table(rows: &[ListRow]) -> Vec<String> {
    let width = |head: &str, cell: &dyn Fn(&ListRow) -> usize| {
        rows.iter().map(cell).chain([head.len()]).max().unwrap_or(0)
    };
    let sw = width("SCHEDULE", &|r| r.schedule.len());
    let zw = width("ZONE", &|r| r.time_zone.len().max(1));
    let line = |job: &str, sched: &str, zone: &str, next: &str, last: &str, outcome: &str| {
        format!("{job:<18} {sched:<sw$} {zone:<zw$} {next:<22} {last:<22} {outcome}")
            .trim_end()
            .to_owned()
    };
    let mut out = vec![line(
        "JOB",
        "SCHEDULE",
        "ZONE",
        "NEXT RUN (UTC)",
        "LAST RUN (UTC)",
        "LAST OUTCOME",
    )];
    for r in rows {
        out.push(line(
            r.job,
            &r.schedule,
            if r.time_zone.is_empty() {
                "-"
            } else {
                &r.time_zone
            },
            r.next_run.as_deref().unwrap_or("-"),
            r.last_run.as_deref().unwrap_or("-"),
            r.last_outcome.as_deref().unwrap_or("-"),
        ));
    }
    out
}

/// `list`.
pub(crate) async fn list(env: &Env, out: &Printer) -> anyhow::Result<ExitStatus> {
    let rows = list_rows(env, SystemTime::now()).await?;
    if out.is_json() {
        out.json(&rows)?;
    } else {
        for l in list_table(&rows) {
            out.line(l);
        }
    }
    Ok(ExitStatus::Success)
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
pub(crate) async fn history(
    env: &Env,
    args: &HistoryArgs,
    out: &Printer,
) -> anyhow::Result<ExitStatus> {
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
    if out.is_json() {
        out.json(&h)?;
    } else {
        print_history(&h, out);
    }
    Ok(ExitStatus::Success)
}

/// `history` as text: the executions table, then the journalled actions.
fn print_history(h: &History, out: &Printer) {
    if h.executions.is_empty() {
        out.line("No job has run yet.");
    } else {
        out.line(format!(
            "{:<22} {:<18} {:<8} {:<10} {}",
            "STARTED (UTC)", "JOB", "TRIGGER", "OUTCOME", "ERROR"
        ));
        for e in &h.executions {
            out.line(format!(
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
        out.line("\nActions:");
        for a in &h.actions {
            out.line(format!(
                "{:<22} {:<18} {:<16} {:<8} {}",
                a.at,
                a.job,
                a.service.as_deref().unwrap_or("-"),
                a.outcome,
                a.detail
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn list_counts_every_schedules_from_the_stored_last_run_and_shows_the_zone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        std::fs::write(
            dir.path().join("config/services.env"),
            "HOSTNAME=jobs.example.org\nJOBS_TIMEZONE=America/Argentina/Buenos_Aires\n\
             JOBS_PRUNE_HISTORY_SCHEDULE=\"@every 1h\"\nJOBS_CERTS_EXPIRY_SCHEDULE=\"@every 1h\"\n\
             JOBS_USERS_SYNC_SCHEDULE=\n",
        )
        .unwrap();
        let env = Env::open(dir.path()).await.unwrap();
        let now = SystemTime::now();
        let min = Duration::from_secs(60);
        // prune-history last ran 10 min ago: next in 50 min. certs-expiry never ran.
        env.store
            .set_last_scheduled("prune-history", SCHEDULE_TRIGGER, now - 10 * min)
            .await
            .unwrap();
        let rows = list_rows(&env, now).await.unwrap();
        let row = |job: &str| rows.iter().find(|r| r.job == job).unwrap();
        assert_eq!(
            row("prune-history").next_run.as_deref(),
            Some(rfc3339(now + 50 * min).as_str())
        );
        assert_eq!(
            row("certs-expiry").next_run.as_deref(),
            Some(rfc3339(now + 60 * min).as_str())
        );
        // A missed slot is due now.
        env.store
            .set_last_scheduled("certs-expiry", SCHEDULE_TRIGGER, now - 120 * min)
            .await
            .unwrap();
        let rows = list_rows(&env, now).await.unwrap();
        let row = |job: &str| rows.iter().find(|r| r.job == job).unwrap();
        assert_eq!(
            row("certs-expiry").next_run.as_deref(),
            Some(rfc3339(now).as_str())
        );

        let table = list_table(&rows);
        assert!(
            table[0].starts_with(
                "JOB                SCHEDULE    ZONE                           NEXT RUN (UTC) "
            ),
            "{table:#?}"
        );
        let line = |job: &str| table.iter().find(|l| l.starts_with(job)).unwrap();
        assert!(
            line("prune-history").contains("@every 1h   America/Argentina/Buenos_Aires "),
            "{table:#?}"
        );
        assert!(
            line("users-sync").contains("disabled    -                              - "),
            "{table:#?}"
        );
    }
}
