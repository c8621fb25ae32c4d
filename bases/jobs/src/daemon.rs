//! `daemon`: the jobs on the scheduler component, on their schedules from the settings,
//! until SIGTERM or SIGINT (then a graceful stop).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use exit_status::ExitStatus;
use scheduler::{
    CronSchedule, RunContext, Scheduler, SchedulerConfig, TaskError, TaskSpec, Trigger,
};

use crate::env::{ConfigProblem, Env};
use crate::exec::{execute, failure_text};
use crate::job::{JobName, Status};

/// How long a stop waits for running jobs before cancelling them.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// A job's schedule from the settings.
#[derive(Debug, Clone)]
pub(crate) enum Schedule {
    /// Empty `JOBS_<JOB>_SCHEDULE`.
    Disabled,
    Cron(Box<CronSchedule>),
    /// `@every <duration>`.
    Every {
        expr: String,
        every: Duration,
        tz: String,
    },
}

/// The name of the trigger of every job in the scheduler: it keys the last scheduled time
/// persisted in the state database (table `trigger_state`).
pub(crate) const SCHEDULE_TRIGGER: &str = "schedule";

impl Schedule {
    /// When the daemon runs the job next, given the persisted last scheduled time `last`
    /// of its trigger. A cron schedule: its next slot after `now`. `@every`: `last` plus the
    /// interval, or `now` when that is already past (the daemon runs the missed slot at
    /// once); without a stored `last`, `now` plus the interval (the first run comes one
    /// interval after the daemon starts).
    pub(crate) fn next_run(&self, last: Option<SystemTime>, now: SystemTime) -> Option<SystemTime> {
        match self {
            Schedule::Disabled => None,
            Schedule::Cron(c) => c.next_after(now),
            Schedule::Every { every, .. } => Some(match last {
                Some(last) => (last + *every).max(now),
                None => now + *every,
            }),
        }
    }

    /// The IANA zone the schedule is evaluated in (empty when disabled).
    pub(crate) fn time_zone(&self) -> &str {
        match self {
            Schedule::Disabled => "",
            Schedule::Cron(c) => c.time_zone(),
            Schedule::Every { tz, .. } => tz,
        }
    }

    /// The expression as configured (`disabled` when empty).
    pub(crate) fn expr(&self) -> &str {
        match self {
            Schedule::Disabled => "disabled",
            Schedule::Cron(c) => c.expr(),
            Schedule::Every { expr, .. } => expr,
        }
    }
}

/// The schedule of `job`: `JOBS_<JOB>_SCHEDULE` in `JOBS_TIMEZONE`.
///
/// # Errors
/// An invalid expression or time zone ([`ConfigProblem`]).
pub(crate) fn schedule_of(settings: &config::Settings, job: JobName) -> anyhow::Result<Schedule> {
    let key = job.schedule_key();
    let tz = settings.text("JOBS_TIMEZONE").trim();
    let tz = if tz.is_empty() { "UTC" } else { tz };
    let bad = |e: scheduler::SchedulerError, what: &str| {
        anyhow::Error::from(ConfigProblem(format!("{what}: {e}")))
    };
    // The zone is checked even for `@every` schedules.
    CronSchedule::parse("* * * * *", tz).map_err(|e| bad(e, "JOBS_TIMEZONE"))?;
    let expr = settings.get(key).unwrap_or("").trim();
    if expr.is_empty() {
        return Ok(Schedule::Disabled);
    }
    if let Some(rest) = expr.strip_prefix("@every") {
        let every = humantime::parse_duration(rest.trim())
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                ConfigProblem(format!(
                    "{key}={expr:?}: `@every` needs a duration above zero, e.g. `@every 5m`"
                ))
            })?;
        return Ok(Schedule::Every {
            expr: expr.to_owned(),
            every,
            tz: tz.to_owned(),
        });
    }
    CronSchedule::parse(expr, tz)
        .map(|c| Schedule::Cron(Box::new(c)))
        .map_err(|e| bad(e, key))
}

/// The scheduler task of `job`.
fn task(env: &Arc<Env>, job: JobName, schedule: Schedule) -> Option<TaskSpec> {
    let trigger = match schedule {
        Schedule::Disabled => return None,
        Schedule::Cron(c) => Trigger::from_schedule(*c),
        Schedule::Every { every, .. } => Trigger::interval(every),
    }
    // Keep the persisted state when the schedule is edited.
    .named(SCHEDULE_TRIGGER);
    let env = Arc::clone(env);
    let spec = TaskSpec::new(job.as_str(), move |_ctx: RunContext| {
        let env = Arc::clone(&env);
        async move {
            // The job runs on a blocking thread of its own: the compose and lifecycle
            // futures are not provably `Send` (borrows in higher-ranked closures), which a
            // scheduler task must be. A forced stop drops the wait, not the job.
            let handle = tokio::runtime::Handle::current();
            let report = tokio::task::spawn_blocking(move || {
                handle.block_on(async move { execute(&env, job, false).await })
            })
            .await
            .map_err(|e| TaskError::permanent(format!("the job thread failed: {e}")))?;
            match report.status {
                Status::Failed => Err(TaskError::permanent(
                    failure_text(&report.output).unwrap_or(report.output.summary),
                )),
                _ => Ok(()),
            }
        }
    })
    .description(job.description())
    .priority(job.priority())
    .trigger(trigger);
    Some(spec)
}

/// Build the scheduler with every enabled job.
///
/// # Errors
/// An invalid schedule or time zone.
pub(crate) async fn build(env: &Arc<Env>) -> anyhow::Result<Scheduler> {
    let config = SchedulerConfig {
        history_limit: env.options.history_keep,
        ..SchedulerConfig::new(2)
    };
    let sched = Scheduler::builder(config)
        .store(Arc::new(env.store.clone()))
        .build()?;
    for job in JobName::ALL {
        let schedule = schedule_of(&env.settings, job)?;
        match task(env, job, schedule) {
            Some(spec) => {
                sched
                    .add_task(spec)
                    .await
                    .map_err(|e| ConfigProblem(format!("{}: {e}", job.schedule_key())))?;
            }
            None => tracing::info!(job = %job, "disabled (empty {})", job.schedule_key()),
        }
    }
    Ok(sched)
}

async fn shutdown_signal() -> &'static str {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the daemon");
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}

/// `daemon`.
pub(crate) async fn run(env: Env) -> anyhow::Result<ExitStatus> {
    let env = Arc::new(env);
    let sched = build(&env).await?;
    sched.start()?;
    for t in sched.tasks() {
        tracing::info!(
            job = %t.name,
            next_run = %t.next_run.map(|n| humantime::format_rfc3339_seconds(n).to_string()).unwrap_or_default(),
            "scheduled"
        );
    }
    tracing::info!(holder = %env.holder, project = %env.settings.project_dir().display(), "dtaas-jobs daemon started");
    let signal = shutdown_signal().await;
    tracing::info!(signal, grace_secs = STOP_GRACE.as_secs(), "stopping");
    let report = sched.stop(STOP_GRACE).await;
    tracing::info!(report = ?report, "stopped");
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(extra: &[(&str, &str)]) -> (tempfile::TempDir, config::Settings) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        let mut text = "HOSTNAME=jobs.example.org\n".to_owned();
        for (k, v) in extra {
            text.push_str(&format!("{k}={v}\n"));
        }
        std::fs::write(dir.path().join("config/services.env"), text).unwrap();
        let s = crate::env::load_settings(dir.path()).unwrap();
        (dir, s)
    }

    #[test]
    fn the_next_every_run_follows_the_persisted_last_run() {
        let (_d, s) = settings(&[("JOBS_CERTS_EXPIRY_SCHEDULE", "\"@every 1h\"")]);
        let every = schedule_of(&s, JobName::CertsExpiry).unwrap();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let min = Duration::from_secs(60);
        // Last run 10 min ago: 50 min from now, not an hour.
        assert_eq!(
            every.next_run(Some(now - 10 * min), now),
            Some(now + 50 * min)
        );
        // A slot missed (last run 2 h ago): due now.
        assert_eq!(every.next_run(Some(now - 120 * min), now), Some(now));
        // Never run: one interval from now.
        assert_eq!(every.next_run(None, now), Some(now + 60 * min));
        assert_eq!(every.time_zone(), "UTC");

        let cron = schedule_of(&s, JobName::PruneHistory).unwrap();
        assert_eq!(cron.expr(), "0 4 * * *");
        let next = cron.next_run(Some(now - 120 * min), now).unwrap();
        assert!(next > now && next <= now + 24 * 60 * min, "{next:?}");
        let off = schedule_of(
            &settings(&[("JOBS_USERS_SYNC_SCHEDULE", "")]).1,
            JobName::UsersSync,
        )
        .unwrap();
        assert_eq!(
            (off.expr(), off.time_zone(), off.next_run(None, now)),
            ("disabled", "", None)
        );
    }

    #[test]
    fn schedules_come_from_the_settings_and_bad_ones_are_config_errors() {
        let (_d, s) = settings(&[
            ("JOBS_TIMEZONE", "Europe/Zurich"),
            ("JOBS_USERS_SYNC_SCHEDULE", ""),
            ("JOBS_CERTS_EXPIRY_SCHEDULE", "@every 90s"),
        ]);
        match schedule_of(&s, JobName::ServiceHealth).unwrap() {
            Schedule::Cron(c) => {
                assert_eq!(c.expr(), "*/5 * * * *");
                assert_eq!(c.time_zone(), "Europe/Zurich");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            schedule_of(&s, JobName::UsersSync).unwrap(),
            Schedule::Disabled
        ));
        assert!(matches!(
            schedule_of(&s, JobName::CertsExpiry).unwrap(),
            Schedule::Every { every, .. } if every == Duration::from_secs(90)
        ));

        let (_d, s) = settings(&[("JOBS_PRUNE_HISTORY_SCHEDULE", "61 * * * *")]);
        let e = schedule_of(&s, JobName::PruneHistory).unwrap_err();
        assert!(e.downcast_ref::<ConfigProblem>().is_some());
        assert!(
            e.to_string().starts_with("JOBS_PRUNE_HISTORY_SCHEDULE:"),
            "{e}"
        );

        let (_d, s) = settings(&[("JOBS_TIMEZONE", "Mars/Olympus")]);
        let e = schedule_of(&s, JobName::ServiceHealth).unwrap_err();
        assert!(e.to_string().contains("JOBS_TIMEZONE"), "{e}");
    }
}
