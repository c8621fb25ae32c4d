//! `service-health`: act on the difference between what the operator wants of each service
//! (the desired state recorded by the lifecycle commands) and what runs. The rules are
//! `lifecycle::reconcile`'s: a service wanted running whose container exited, died or is
//! unhealthy is repaired within its restart budget (`lifecycle::RestartBudget`: at most
//! `budget` times per service within `window`, tracked in the state database), so a crash loop is reported instead of hammered; a service wanted
//! stopped or absent is left alone (and reported when it runs anyway); a service in
//! maintenance (backup, restore, upgrade) is skipped, naming the command. Every decision
//! that is not "running as wanted" is journalled. The job runs under the project lock
//! (taken without waiting, in exec.rs).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use catalog::Service;
use compose::ProjectFiles;
use docker::Engine;
use lifecycle::reconcile::{Decision, decide};
use lifecycle::{Desired, Lifecycle, RestartBudget, Selection, ServiceStatus, StartOptions};
use store::{JournalEntry, Outcome, ServiceIntent, Store};

use crate::job::{JobName, JobOutput};

/// What service-health works on.
#[derive(Debug, Clone)]
pub(crate) struct HealthOptions {
    pub(crate) services: Selection,
    pub(crate) budget: u32,
    pub(crate) window: Duration,
    /// The clock (injectable for tests).
    pub(crate) now: SystemTime,
}

fn describe(s: &ServiceStatus) -> String {
    match (s.state.as_str(), s.exit_code) {
        ("running", _) => "container is unhealthy".to_owned(),
        ("removed", _) => "no container".to_owned(),
        (state, Some(code)) => format!("container {state} with code {code}"),
        (state, None) => format!("container {state}"),
    }
}

fn journal(service: Service, outcome: Outcome, detail: String) -> JournalEntry {
    JournalEntry::new(JobName::ServiceHealth.journal_command(), outcome)
        .service(service.compose_name())
        .detail(detail)
}

async fn record(store: &Store, entry: &JournalEntry) {
    if let Err(e) = store.record(entry).await {
        tracing::warn!(error = %e, "cannot journal a service-health action");
    }
}

/// `(by `service stop`)`: which command recorded the intent.
fn by(intent: Option<&ServiceIntent>) -> String {
    intent
        .map(|i| i.command.as_str())
        .filter(|c| !c.is_empty())
        .map(|c| format!(" (by `{c}`)"))
        .unwrap_or_default()
}

/// Where a decision that needs no repair goes, and its journal outcome.
enum Said {
    Note(String),
    Warning(String),
    Failure(String),
}

/// The line for a decision that repairs nothing; `None` for running as wanted.
fn say(s: &ServiceStatus, intent: Option<&ServiceIntent>, d: &Decision) -> Option<Said> {
    let name = s.service.compose_name();
    let why = describe(s);
    Some(match d {
        Decision::Healthy | Decision::Start | Decision::Restart => return None,
        Decision::Adopt => Said::Note(format!(
            "{name}: running with no recorded desired state (an install from before it was recorded): counts as wanted running, recorded"
        )),
        Decision::Unknown => Said::Note(format!(
            "{name}: {why} and no desired state is recorded: left alone (`dtaas-services service start -s {name}` records it)"
        )),
        Decision::LeaveStopped(desired) => Said::Note(format!(
            "{name}: wanted {desired}{}: left {}",
            by(intent),
            if s.state == "removed" {
                "absent"
            } else {
                "stopped"
            }
        )),
        Decision::RunsUnwanted(desired) => Said::Warning(format!(
            "{name}: runs although wanted {desired}{}: not touched; say what you want with `dtaas-services service stop -s {name}` or `service start -s {name}`",
            by(intent)
        )),
        Decision::Maintenance(holder) => Said::Warning(format!(
            "{name}: skipped: in maintenance by {holder}; if that command no longer runs, check the service's data, then `dtaas-services service start -s {name}` clears the marker"
        )),
        Decision::NotRepairable => Said::Note(format!(
            "{name}: wanted running{}, {why}: not repaired (start it with `dtaas-services service start -s {name}`)",
            by(intent)
        )),
        Decision::Looping => Said::Failure(format!(
            "{name}: {} is restarting in a loop (Docker's restart policy); not touched, see `docker logs {}`",
            s.container, s.container
        )),
    })
}

/// One pass of service-health over the project's compose files on `engine`.
///
/// # Errors
/// The compose files cannot be loaded, the engine cannot be listed, or the state database
/// fails.
pub(crate) async fn run<E: Engine>(
    engine: &E,
    files: &ProjectFiles,
    vars: &BTreeMap<String, String>,
    store: &Store,
    opts: &HealthOptions,
) -> anyhow::Result<JobOutput> {
    let l = Lifecycle::new(engine, files, vars)?;
    let report = l.status(&opts.services).await?;
    let intents = store.intents().await?;
    let mut out = JobOutput::default();
    let mut healthy = 0usize;
    let mut left = 0usize;
    for s in &report.services {
        let name = s.service.compose_name();
        let intent = intents.get(name);
        let decision = decide(s, intent);
        if decision == Decision::Adopt {
            store
                .set_desired(
                    &[name],
                    Desired::Running,
                    "service-health (legacy rule: running, nothing recorded)",
                    opts.now,
                )
                .await?;
        }
        if matches!(decision, Decision::Healthy | Decision::Adopt) {
            healthy += 1;
        }
        match say(s, intent, &decision) {
            None => {}
            Some(Said::Note(m)) => {
                left += usize::from(decision != Decision::Adopt);
                record(store, &journal(s.service, Outcome::Skipped, m.clone())).await;
                out.notes.push(m);
            }
            Some(Said::Warning(m)) => {
                left += 1;
                record(store, &journal(s.service, Outcome::Skipped, m.clone())).await;
                out.warnings.push(m);
            }
            Some(Said::Failure(m)) => {
                record(store, &journal(s.service, Outcome::Failed, m.clone())).await;
                out.failures.push(m);
            }
        }
        if matches!(decision, Decision::Start | Decision::Restart) {
            repair(&l, store, s, decision == Decision::Restart, opts, &mut out).await?;
        }
    }
    out.summary = format!(
        "{healthy} running, {} restarted, {left} left as they are, {} failing",
        out.actions.len(),
        out.failures.len()
    );
    Ok(out)
}

/// Start (or restart) `s` again within its restart budget.
async fn repair<E: Engine>(
    l: &Lifecycle<'_, E>,
    store: &Store,
    s: &ServiceStatus,
    restart: bool,
    opts: &HealthOptions,
    out: &mut JobOutput,
) -> anyhow::Result<()> {
    let why = describe(s);
    let budget = RestartBudget {
        budget: opts.budget,
        window: opts.window,
    };
    let restarts = budget.restarts(store, s.service, opts.now).await?;
    if restarts.spent() {
        let again = restarts
            .next_allowed()
            .map(|t| humantime::format_rfc3339_seconds(t).to_string())
            .unwrap_or_default();
        let msg = format!(
            "{}: {why}; restart budget spent ({} restarts within {}): looks like a crash loop, not restarted{}",
            s.service.compose_name(),
            restarts.count(),
            humantime::format_duration(opts.window),
            if again.is_empty() {
                String::new()
            } else {
                format!(" (next restart allowed after {again})")
            }
        );
        record(store, &journal(s.service, Outcome::Failed, msg.clone())).await;
        out.failures.push(msg);
        return Ok(());
    }
    let sel = Selection::Only(vec![s.service]);
    let acted = if restart {
        l.restart(&sel, None).await.map(|_| "restarted")
    } else {
        l.start(&sel, &StartOptions::default())
            .await
            .map(|_| "started again")
    };
    match acted {
        Ok(verb) => {
            let n = restarts.record(store, opts.now).await?;
            let msg = format!(
                "{}: {why}; {verb} ({n} of {} restarts within {})",
                s.service.compose_name(),
                opts.budget,
                humantime::format_duration(opts.window)
            );
            record(store, &journal(s.service, Outcome::Ok, msg.clone())).await;
            out.actions.push(msg);
        }
        Err(e) => {
            let msg = format!("{}: {why}; restart failed: {e}", s.service.compose_name());
            record(store, &journal(s.service, Outcome::Failed, msg.clone())).await;
            out.failures.push(msg);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
