//! `service-health`: act on the difference between what the operator wants of each service
//! (the desired state recorded by the lifecycle commands) and what runs. The rules are
//! `lifecycle::reconcile`'s: a service wanted running whose container exited, died or is
//! unhealthy is repaired, at most `budget` times per service within `window` (tracked in
//! the state database), so a crash loop is reported instead of hammered; a service wanted
//! stopped or absent is left alone (and reported when it runs anyway); a service in
//! maintenance (backup, restore, upgrade) is skipped, naming the command. Every decision
//! that is not "running as wanted" is journalled. The job runs under the project lock
//! (taken without waiting, in exec.rs).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use catalog::Service;
use compose::ProjectFiles;
use docker::Engine;
use lifecycle::reconcile::{Decision, decide};
use lifecycle::{Desired, Lifecycle, Selection, ServiceStatus, StartOptions};
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

fn budget_key(service: Service) -> String {
    format!("jobs.service-health.restarts.{}", service.compose_name())
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The restarts of `service` recorded within the window ending at `now`, oldest first.
async fn recent_restarts(
    store: &Store,
    service: Service,
    now: SystemTime,
    window: Duration,
) -> Result<Vec<u64>, store::StoreError> {
    let since = millis(now).saturating_sub(u64::try_from(window.as_millis()).unwrap_or(u64::MAX));
    let raw = store
        .get_meta(&budget_key(service))
        .await?
        .unwrap_or_default();
    let mut v: Vec<u64> = raw
        .split(',')
        .filter_map(|t| t.trim().parse().ok())
        .filter(|t| *t > since)
        .collect();
    v.sort_unstable();
    Ok(v)
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
    let recent = recent_restarts(store, s.service, opts.now, opts.window).await?;
    let n = u32::try_from(recent.len()).unwrap_or(u32::MAX);
    if n >= opts.budget {
        let again = recent
            .first()
            .map(|t| UNIX_EPOCH + Duration::from_millis(*t) + opts.window)
            .map(|t| humantime::format_rfc3339_seconds(t).to_string())
            .unwrap_or_default();
        let msg = format!(
            "{}: {why}; restart budget spent ({n} restarts within {}): looks like a crash loop, not restarted{}",
            s.service.compose_name(),
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
            let mut list = recent;
            list.push(millis(opts.now));
            let value = list
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            store
                .set_meta(&budget_key(s.service), &value, opts.now)
                .await?;
            let msg = format!(
                "{}: {why}; {verb} ({} of {} restarts within {})",
                s.service.compose_name(),
                list.len(),
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
mod tests {
    use super::*;
    use docker::{ContainerState, FakeEngine, Health};
    use store::test_support::TestDb;

    const FILE: &str = r#"
networks:
  platform-services:
    name: dtaas-services
services:
  rabbitmq:
    image: img:1
    container_name: rabbitmq
    networks: [platform-services]
  grafana:
    image: img:1
    container_name: grafana
    networks: [platform-services]
"#;

    struct Fx {
        _dir: tempfile::TempDir,
        engine: FakeEngine,
        files: ProjectFiles,
        store: Store,
        _db: TestDb,
    }

    async fn fixture() -> Fx {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("compose.services.yml"), FILE).unwrap();
        let engine = FakeEngine::new();
        engine.add_image("img:1");
        let files = ProjectFiles {
            name: "proj".into(),
            working_dir: dir.path().to_owned(),
            files: compose::default_compose_files(dir.path()),
        };
        let db = TestDb::sqlite();
        let store = Store::open(&db.location()).await.unwrap();
        let l = Lifecycle::new(&engine, &files, &BTreeMap::new())
            .unwrap()
            .recording(&store, "service start");
        l.start(&Selection::All, &StartOptions::default())
            .await
            .unwrap();
        Fx {
            _dir: dir,
            engine,
            files,
            store,
            _db: db,
        }
    }

    fn opts(now: SystemTime) -> HealthOptions {
        HealthOptions {
            services: Selection::All,
            budget: 2,
            window: Duration::from_secs(3600),
            now,
        }
    }

    async fn state(f: &Fx, name: &str) -> ContainerState {
        f.engine.inspect_container(name).await.unwrap().state
    }

    /// `dtaas-services service <cmd> -s <service>` as the cli runs it: a recording lifecycle.
    async fn operator(f: &Fx, cmd: &str, service: &str) {
        let l = Lifecycle::new(&f.engine, &f.files, &BTreeMap::new())
            .unwrap()
            .recording(&f.store, &format!("service {cmd}"));
        let sel = Selection::parse(Some(service)).unwrap();
        match cmd {
            "stop" => drop(l.stop(&sel, None).await.unwrap()),
            "start" => drop(l.start(&sel, &StartOptions::default()).await.unwrap()),
            "remove" => drop(l.remove(&sel, false, None).await.unwrap()),
            other => panic!("{other}"),
        }
    }

    async fn pass(f: &Fx, minute: u64) -> JobOutput {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        run(
            &f.engine,
            &f.files,
            &BTreeMap::new(),
            &f.store,
            &opts(t0 + Duration::from_secs(minute * 60)),
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_service_stopped_on_purpose_stays_stopped_and_a_crash_after_start_is_repaired() {
        let f = fixture().await;
        operator(&f, "stop", "grafana").await;
        let out = pass(&f, 0).await;
        assert_eq!(state(&f, "grafana").await, ContainerState::Exited);
        assert!(out.actions.is_empty(), "{out:?}");
        assert_eq!(
            out.notes,
            ["grafana: wanted stopped (by `service stop`): left stopped"]
        );
        assert_eq!(out.status(), crate::job::Status::Ok);
        assert_eq!(
            out.summary,
            "1 running, 0 restarted, 1 left as they are, 0 failing"
        );
        // A killed container of a service wanted running is repaired meanwhile.
        f.engine.set_state("rabbitmq", ContainerState::Exited);
        let out = pass(&f, 1).await;
        assert_eq!(
            out.actions,
            ["rabbitmq: container exited; started again (1 of 2 restarts within 1h)"]
        );
        assert_eq!(state(&f, "grafana").await, ContainerState::Exited);
        // Once started again by the operator, a crash of grafana is repaired again.
        operator(&f, "start", "grafana").await;
        f.engine.set_state("grafana", ContainerState::Dead);
        let out = pass(&f, 2).await;
        assert_eq!(out.actions.len(), 1, "{out:?}");
        assert!(
            out.actions[0].starts_with("grafana: container dead")
                && out.actions[0].ends_with("started again (1 of 2 restarts within 1h)"),
            "{out:?}"
        );
        assert_eq!(state(&f, "grafana").await, ContainerState::Running);
        // Every decision is journalled, the leave-alone one included.
        let journal = f.store.history(10).await.unwrap();
        assert!(
            journal
                .iter()
                .any(|r| r.entry.service.as_deref() == Some("grafana")
                    && r.entry.outcome == Outcome::Skipped
                    && r.entry.detail.contains("wanted stopped")),
            "{journal:?}"
        );
    }

    #[tokio::test]
    async fn a_service_in_maintenance_is_skipped_naming_the_command() {
        let f = fixture().await;
        // A long restore of grafana: it stopped grafana and holds the marker meanwhile.
        let restore = store::Holder {
            command: "service restore -s grafana".into(),
            pid: 4242,
            host: "ops-host".into(),
            since: UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        };
        f.store
            .begin_maintenance(&["grafana"], &restore)
            .await
            .unwrap();
        f.engine.stop_container("grafana", None).await.unwrap();
        let out = pass(&f, 0).await;
        assert_eq!(state(&f, "grafana").await, ContainerState::Exited);
        insta::assert_snapshot!(out.warnings.join("\n"), @"grafana: skipped: in maintenance by `service restore -s grafana` (pid 4242 on ops-host, since 2027-01-15T08:00:00Z); if that command no longer runs, check the service's data, then `dtaas-services service start -s grafana` clears the marker");
        // A skip is not a failure.
        assert_ne!(out.status(), crate::job::Status::Failed);
        f.store
            .end_maintenance(&["grafana"], Some(&restore))
            .await
            .unwrap();
        let out = pass(&f, 1).await;
        assert_eq!(out.actions.len(), 1, "{out:?}");
        assert_eq!(state(&f, "grafana").await, ContainerState::Running);
    }

    #[tokio::test]
    async fn a_service_running_though_wanted_stopped_is_reported_not_touched() {
        let f = fixture().await;
        operator(&f, "stop", "grafana").await;
        f.engine.start_container("grafana").await.unwrap();
        let out = pass(&f, 0).await;
        assert_eq!(state(&f, "grafana").await, ContainerState::Running);
        assert!(
            out.warnings[0]
                .starts_with("grafana: runs although wanted stopped (by `service stop`)"),
            "{out:?}"
        );
    }

    #[tokio::test]
    async fn a_legacy_install_counts_running_containers_as_wanted_running() {
        let f = fixture().await;
        // Nothing recorded (an install from before the desired state was recorded).
        f._db.raw("DELETE FROM service_intent").await;
        f.engine.set_state("grafana", ContainerState::Exited);
        let out = pass(&f, 0).await;
        assert_eq!(state(&f, "grafana").await, ContainerState::Exited);
        assert!(
            out.notes.iter().any(|n| n.starts_with(
                "grafana: container exited and no desired state is recorded: left alone"
            )),
            "{out:?}"
        );
        assert!(
            out.notes
                .iter()
                .any(|n| n.starts_with("rabbitmq: running with no recorded desired state")),
            "{out:?}"
        );
        // rabbitmq was adopted as wanted running: its crash is now repaired.
        f.engine.set_state("rabbitmq", ContainerState::Exited);
        let out = pass(&f, 1).await;
        assert_eq!(out.actions.len(), 1, "{out:?}");
        assert_eq!(state(&f, "rabbitmq").await, ContainerState::Running);
    }

    #[tokio::test]
    async fn healthy_services_are_left_alone() {
        let f = fixture().await;
        f.engine.clear_events();
        let out = run(
            &f.engine,
            &f.files,
            &BTreeMap::new(),
            &f.store,
            &opts(SystemTime::now()),
        )
        .await
        .unwrap();
        assert_eq!(
            out.summary,
            "2 running, 0 restarted, 0 left as they are, 0 failing"
        );
        assert!(out.actions.is_empty() && out.failures.is_empty());
    }

    #[tokio::test]
    async fn an_exited_service_is_started_and_a_crash_loop_spends_the_budget() {
        let f = fixture().await;
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        for (i, minute) in [0u64, 10].into_iter().enumerate() {
            f.engine.set_state("rabbitmq", ContainerState::Exited);
            let out = run(
                &f.engine,
                &f.files,
                &BTreeMap::new(),
                &f.store,
                &opts(t0 + Duration::from_secs(minute * 60)),
            )
            .await
            .unwrap();
            assert_eq!(
                out.actions,
                [format!(
                    "rabbitmq: container exited; started again ({} of 2 restarts within 1h)",
                    i + 1
                )]
            );
            assert!(out.failures.is_empty(), "{:?}", out.failures);
            assert_eq!(state(&f, "rabbitmq").await, ContainerState::Running);
        }
        // Third crash within the hour: reported, not restarted.
        f.engine.set_state("rabbitmq", ContainerState::Exited);
        let out = run(
            &f.engine,
            &f.files,
            &BTreeMap::new(),
            &f.store,
            &opts(t0 + Duration::from_secs(20 * 60)),
        )
        .await
        .unwrap();
        assert!(out.actions.is_empty());
        insta::assert_snapshot!(out.failures.join("\n"), @"rabbitmq: container exited; restart budget spent (2 restarts within 1h): looks like a crash loop, not restarted (next restart allowed after 2027-01-15T09:00:00Z)");
        assert_eq!(state(&f, "rabbitmq").await, ContainerState::Exited);
        // The budget is per service: grafana may still be restarted.
        f.engine.set_state("grafana", ContainerState::Dead);
        let out = run(
            &f.engine,
            &f.files,
            &BTreeMap::new(),
            &f.store,
            &opts(t0 + Duration::from_secs(21 * 60)),
        )
        .await
        .unwrap();
        assert_eq!(out.actions.len(), 1, "{out:?}");
        assert!(out.actions[0].starts_with("grafana: container dead; started again"));
        // Once the first restart leaves the window, rabbitmq gets one more.
        let out = run(
            &f.engine,
            &f.files,
            &BTreeMap::new(),
            &f.store,
            &opts(t0 + Duration::from_secs(61 * 60)),
        )
        .await
        .unwrap();
        assert_eq!(
            out.actions,
            ["rabbitmq: container exited; started again (2 of 2 restarts within 1h)"]
        );
        // Every action is journalled per service.
        let journal = f.store.history(20).await.unwrap();
        let lines: Vec<(String, String)> = journal
            .iter()
            .map(|r| {
                (
                    r.entry.service.clone().unwrap_or_default(),
                    r.entry.outcome.to_string(),
                )
            })
            .collect();
        assert_eq!(
            lines,
            [
                ("rabbitmq".to_owned(), "ok".to_owned()),
                ("grafana".to_owned(), "ok".to_owned()),
                // Still in its crash loop on the grafana pass: reported again.
                ("rabbitmq".to_owned(), "failed".to_owned()),
                ("rabbitmq".to_owned(), "failed".to_owned()),
                ("rabbitmq".to_owned(), "ok".to_owned()),
                ("rabbitmq".to_owned(), "ok".to_owned()),
            ]
        );
    }

    #[tokio::test]
    async fn an_unhealthy_service_is_restarted_and_an_unreachable_engine_is_an_error() {
        let f = fixture().await;
        f.engine
            .set_health_after_start("grafana", Health::Unhealthy);
        f.engine.stop_container("grafana", None).await.unwrap();
        f.engine.start_container("grafana").await.unwrap();
        f.engine.set_health_after_start("grafana", Health::Healthy);
        let out = run(
            &f.engine,
            &f.files,
            &BTreeMap::new(),
            &f.store,
            &opts(SystemTime::now()),
        )
        .await
        .unwrap();
        assert_eq!(out.actions.len(), 1, "{out:?}");
        assert!(
            out.actions[0].starts_with("grafana: container is unhealthy; restarted"),
            "{out:?}"
        );
        f.engine.set_unreachable();
        let err = run(
            &f.engine,
            &f.files,
            &BTreeMap::new(),
            &f.store,
            &opts(SystemTime::now()),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("unreachable"), "{err}");
    }
}
