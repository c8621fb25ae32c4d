//! `service-health`: restart the services whose container exited (or died) or reports
//! unhealthy, at most `budget` times per service within `window` (tracked in the state
//! database), so a crash loop is reported instead of hammered.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use catalog::Service;
use compose::ProjectFiles;
use docker::{Engine, Health};
use lifecycle::{Lifecycle, Selection, ServiceStatus, StartOptions};
use store::{JournalEntry, Outcome, Store};

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

/// What a service needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Nothing,
    /// Exited or dead: start it again.
    Start,
    /// Running but unhealthy: restart it.
    Restart,
    /// Docker's restart policy is restarting it in a loop: report, do not touch.
    Looping,
    /// Never started, removed, paused...: leave alone.
    Ignore,
}

fn need(s: &ServiceStatus) -> Need {
    match (s.state.as_str(), s.health) {
        ("running", Some(Health::Unhealthy)) => Need::Restart,
        ("running", _) => Need::Nothing,
        ("exited" | "dead", _) => Need::Start,
        ("restarting", _) => Need::Looping,
        _ => Need::Ignore,
    }
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
    let mut out = JobOutput::default();
    let mut healthy = 0usize;
    for s in &report.services {
        let why = describe(s);
        match need(s) {
            Need::Nothing => {
                healthy += 1;
                continue;
            }
            Need::Ignore => continue,
            Need::Looping => {
                out.failures.push(format!(
                    "{}: {} is restarting in a loop (Docker's restart policy); not touched, see `docker logs {}`",
                    s.service.compose_name(),
                    s.container,
                    s.container
                ));
                continue;
            }
            Need::Start | Need::Restart => {}
        }
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
            continue;
        }
        let sel = Selection::Only(vec![s.service]);
        let acted = match need(s) {
            Need::Restart => l.restart(&sel, None).await.map(|_| "restarted"),
            _ => l
                .start(&sel, &StartOptions::default())
                .await
                .map(|_| "started again"),
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
    }
    out.summary = format!(
        "{healthy} running, {} restarted, {} failing",
        out.actions.len(),
        out.failures.len()
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use docker::{ContainerState, FakeEngine};
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
        let l = Lifecycle::new(&engine, &files, &BTreeMap::new()).unwrap();
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
        assert_eq!(out.summary, "2 running, 0 restarted, 0 failing");
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
