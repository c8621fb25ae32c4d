//! Overlap, drift, jitter, missed runs, retries, timeouts, stop and history bounds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use scheduler::{
    BoxError, BoxFuture, CancellationToken, ExecutionRecord, Jitter, MissedRunPolicy, NewExecution,
    Outcome, OverlapPolicy, RetryPolicy, Scheduler, SchedulerConfig, SchedulerStore, TaskError,
    TaskSpec, TokioClock, Trigger,
};

use super::{Probe, config, epoch, history, ms, scheduler, scheduler_at};

fn sleeper(name: &str, run: Duration, probe: &Arc<Probe>) -> TaskSpec {
    let p = Arc::clone(probe);
    TaskSpec::new(name, move |_| {
        let p = Arc::clone(&p);
        async move {
            p.enter("run");
            tokio::time::sleep(run).await;
            p.leave();
            Ok(())
        }
    })
}

#[tokio::test(start_paused = true)]
async fn overlap_queue_runs_one_pending_occurrence_after_the_current_run() {
    let s = scheduler(config(4, ms(10)));
    let probe = Arc::new(Probe::default());
    s.add_task(
        sleeper("q", ms(250), &probe)
            .overlap(OverlapPolicy::Queue)
            .trigger(Trigger::interval(ms(100))),
    )
    .await
    .expect("add");
    s.start().expect("start");
    tokio::time::sleep(ms(1000)).await;
    s.stop(ms(1000)).await;
    assert_eq!(probe.max(), 1);
    let h = history(&s, "q").await;
    // Back to back: each run starts when the previous one ends.
    for pair in h.windows(2) {
        assert_eq!(pair[1].started_at, pair[0].ended_at.expect("ended"));
    }
    assert_eq!(h.len(), 4, "100 ms, then every 250 ms: {h:?}");
}

#[tokio::test(start_paused = true)]
async fn overlap_allow_runs_concurrently_within_the_bound() {
    let s = scheduler(config(2, ms(10)));
    let probe = Arc::new(Probe::default());
    s.add_task(
        sleeper("a", ms(250), &probe)
            .overlap(OverlapPolicy::Allow)
            .trigger(Trigger::interval(ms(100))),
    )
    .await
    .expect("add");
    s.start().expect("start");
    tokio::time::sleep(ms(1000)).await;
    s.stop(ms(1000)).await;
    assert_eq!(probe.max(), 2, "concurrent runs, capped by max_running");
}

#[tokio::test(start_paused = true)]
async fn intervals_do_not_drift() {
    let s = scheduler(config(2, ms(7)));
    let probe = Arc::new(Probe::default());
    s.add_task(sleeper("steady", ms(30), &probe).trigger(Trigger::interval(ms(100))))
        .await
        .expect("add");
    s.start().expect("start");
    tokio::time::sleep(ms(1050)).await;
    s.stop(ms(100)).await;
    let h = history(&s, "steady").await;
    assert_eq!(h.len(), 10);
    for (i, r) in h.iter().enumerate() {
        let nominal = epoch() + ms(100 * (i as u64 + 1));
        assert_eq!(r.scheduled_for, nominal);
        assert_eq!(
            r.started_at, nominal,
            "dispatched exactly on time, not a poll later"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn jitter_delays_the_start_but_not_the_schedule() {
    let s = scheduler(config(2, ms(10)));
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    s.add_task(
        TaskSpec::new("j", move |_| {
            c.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        })
        .trigger(Trigger::interval(ms(100)).with_jitter(Jitter::Fixed(ms(30)))),
    )
    .await
    .expect("add");
    s.start().expect("start");
    tokio::time::sleep(ms(320)).await;
    s.stop(ms(100)).await;
    let h = history(&s, "j").await;
    let got: Vec<_> = h.iter().map(|r| (r.scheduled_for, r.started_at)).collect();
    let want: Vec<_> = (1..=2u64)
        .map(|i| (epoch() + ms(100 * i), epoch() + ms(100 * i + 30)))
        .collect();
    assert_eq!(got[..2], want[..]);
    assert_eq!(h.len(), 2, "the third occurrence starts at 330 ms");
}

async fn restart_with(policy: MissedRunPolicy) -> Vec<SystemTime> {
    // The previous process ran the 10-minute job at T and then was down for an hour.
    let last = epoch();
    let now = epoch() + Duration::from_secs(3600) + Duration::from_secs(20);
    let (s, store, _clock) = scheduler_at(config(2, ms(100)), now);
    store
        .set_last_scheduled("sync", "interval:10m", last)
        .await
        .expect("seed");
    s.add_task(
        TaskSpec::new("sync", |_| async { Ok(()) })
            .trigger(Trigger::interval(Duration::from_secs(600)).on_missed(policy)),
    )
    .await
    .expect("add");
    s.start().expect("start");
    tokio::time::sleep(Duration::from_secs(30)).await;
    s.stop(ms(100)).await;
    let persisted = store
        .last_scheduled("sync", "interval:10m")
        .await
        .expect("read");
    assert_eq!(persisted, Some(epoch() + Duration::from_secs(3600)));
    history(&s, "sync")
        .await
        .iter()
        .map(|r| r.scheduled_for)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn missed_runs_after_restart_follow_the_policy() {
    let at = |min: u64| epoch() + Duration::from_secs(min * 60);
    assert_eq!(restart_with(MissedRunPolicy::RunOnce).await, [at(60)]);
    assert_eq!(
        restart_with(MissedRunPolicy::Skip).await,
        Vec::<SystemTime>::new()
    );
    assert_eq!(
        restart_with(MissedRunPolicy::CatchUp { max: 3 }).await,
        [at(40), at(50), at(60)]
    );
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_exponentially_up_to_the_cap() {
    let s = scheduler(config(2, ms(10)));
    s.add_task(
        TaskSpec::new("down", |_| async { Err(TaskError::msg("unreachable")) })
            .retry(RetryPolicy {
                jitter: false,
                ..RetryPolicy::exponential(4, ms(10), ms(30))
            })
            .trigger(Trigger::once(ms(1))),
    )
    .await
    .expect("add");
    s.start().expect("start");
    tokio::time::sleep(ms(500)).await;
    s.stop(ms(100)).await;
    let h = history(&s, "down").await;
    assert_eq!(h.len(), 5);
    let gaps: Vec<_> = h
        .windows(2)
        .map(|w| {
            w[1].started_at
                .duration_since(w[0].ended_at.expect("ended"))
                .expect("order")
        })
        .collect();
    assert_eq!(gaps, [ms(10), ms(20), ms(30), ms(30)]);
    assert!(h.iter().all(|r| r.outcome == Some(Outcome::Failed)));
}

#[tokio::test(start_paused = true)]
async fn a_permanent_error_is_not_retried() {
    let s = scheduler(config(2, ms(10)));
    s.add_task(
        TaskSpec::new("bad-config", |_| async {
            Err(TaskError::permanent("no such user"))
        })
        .retry(RetryPolicy::fixed(5, ms(1)))
        .trigger(Trigger::once(ms(1))),
    )
    .await
    .expect("add");
    s.start().expect("start");
    tokio::time::sleep(ms(100)).await;
    s.stop(ms(100)).await;
    let h = history(&s, "bad-config").await;
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].error.as_deref(), Some("no such user"));
}

#[tokio::test(start_paused = true)]
async fn a_timeout_cancels_the_token_and_is_recorded() {
    let s = scheduler(config(2, ms(10)));
    let seen = CancellationToken::new();
    let seen2 = seen.clone();
    s.add_task(
        TaskSpec::new("hang", move |ctx| {
            let seen = seen2.clone();
            let token = ctx.cancellation().clone();
            tokio::spawn(async move {
                token.cancelled().await;
                seen.cancel();
            });
            async { std::future::pending::<Result<(), TaskError>>().await }
        })
        .timeout(ms(50))
        .retry(RetryPolicy::fixed(1, ms(5)))
        .trigger(Trigger::once(ms(1))),
    )
    .await
    .expect("add");
    s.start().expect("start");
    tokio::time::sleep(ms(500)).await;
    assert!(seen.is_cancelled(), "the run's token was cancelled");
    let h = history(&s, "hang").await;
    assert_eq!(h.len(), 2, "a timeout is retried");
    assert!(h.iter().all(|r| r.outcome == Some(Outcome::TimedOut)));
    assert_eq!(h[0].error.as_deref(), Some("timed out after 50ms"));
    assert_eq!(s.running(), 0);
    s.stop(ms(100)).await;
}

#[tokio::test(start_paused = true)]
async fn stop_waits_for_runs_within_the_grace_period() {
    let s = scheduler(config(2, ms(10)));
    let probe = Arc::new(Probe::default());
    s.add_task(sleeper("short", ms(300), &probe).trigger(Trigger::once(ms(1))))
        .await
        .expect("add");
    s.start().expect("start");
    tokio::time::sleep(ms(50)).await;
    let report = s.stop(Duration::from_secs(1)).await;
    assert!(!report.forced);
    let h = history(&s, "short").await;
    assert_eq!(h[0].outcome, Some(Outcome::Success));
}

#[tokio::test(start_paused = true)]
async fn stop_cancels_then_aborts_after_the_grace_period() {
    let config = SchedulerConfig {
        cancel_grace: ms(200),
        ..config(4, ms(10))
    };
    let s = scheduler(config);
    // Cooperative: returns as soon as its token is cancelled.
    s.add_task(
        TaskSpec::new("polite", |ctx| async move {
            ctx.cancellation().cancelled().await;
            Err(TaskError::msg("interrupted"))
        })
        .trigger(Trigger::once(ms(1))),
    )
    .await
    .expect("add");
    // Ignores its token: dropped after cancel_grace.
    s.add_task(
        TaskSpec::new("stubborn", |_| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        })
        .retry(RetryPolicy::fixed(3, ms(1)))
        .trigger(Trigger::once(ms(1))),
    )
    .await
    .expect("add");
    s.start().expect("start");
    tokio::time::sleep(ms(20)).await;
    assert_eq!(s.running(), 2);
    let report = s.stop(ms(100)).await;
    assert!(report.forced);
    assert_eq!(report.cancelled, 2);
    assert_eq!(
        report.aborted, 0,
        "both ended once cancelled (one by being dropped)"
    );
    assert_eq!(s.running(), 0);
    for task in ["polite", "stubborn"] {
        let h = history(&s, task).await;
        assert_eq!(h.len(), 1, "{task}: no retry after stop");
        assert_eq!(h[0].outcome, Some(Outcome::Cancelled), "{task}");
    }
}

/// A store whose `finish_execution` never returns: a run stuck there ignores cancellation.
#[derive(Debug, Default)]
struct StuckFinishStore(scheduler::MemoryStore);

impl SchedulerStore for StuckFinishStore {
    fn last_scheduled<'a>(
        &'a self,
        task: &'a str,
        trigger: &'a str,
    ) -> BoxFuture<'a, Result<Option<SystemTime>, BoxError>> {
        self.0.last_scheduled(task, trigger)
    }

    fn set_last_scheduled<'a>(
        &'a self,
        task: &'a str,
        trigger: &'a str,
        at: SystemTime,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        self.0.set_last_scheduled(task, trigger, at)
    }

    fn start_execution<'a>(&'a self, e: &'a NewExecution) -> BoxFuture<'a, Result<i64, BoxError>> {
        self.0.start_execution(e)
    }

    fn finish_execution<'a>(
        &'a self,
        _id: i64,
        _ended_at: SystemTime,
        _outcome: Outcome,
        _error: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(std::future::pending())
    }

    fn executions<'a>(
        &'a self,
        task: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<ExecutionRecord>, BoxError>> {
        self.0.executions(task, limit)
    }

    fn prune_executions<'a>(
        &'a self,
        task: &'a str,
        keep: u32,
    ) -> BoxFuture<'a, Result<u64, BoxError>> {
        self.0.prune_executions(task, keep)
    }
}

#[tokio::test(start_paused = true)]
async fn stop_aborts_a_run_that_does_not_end_after_cancellation() {
    let config = SchedulerConfig {
        cancel_grace: ms(200),
        ..config(4, ms(10))
    };
    let s = Scheduler::builder(config)
        .store(Arc::new(StuckFinishStore::default()))
        .clock(Arc::new(TokioClock::starting_at(epoch())))
        .build()
        .expect("valid config");
    s.add_task(TaskSpec::new("stuck", |_| async { Ok(()) }).trigger(Trigger::once(ms(1))))
        .await
        .expect("add");
    s.start().expect("start");
    tokio::time::sleep(ms(20)).await;
    assert_eq!(s.running(), 1, "the run hangs recording its end");
    let report = s.stop(ms(100)).await;
    assert!(report.forced);
    assert_eq!(report.cancelled, 1);
    assert_eq!(report.aborted, 1, "dropped after cancel_grace");
    assert_eq!(s.running(), 0, "its slot was released");
    let h = history(&s, "stuck").await;
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].ended_at, None, "the record stays without an end");
}

#[tokio::test(start_paused = true)]
async fn history_is_bounded_per_task() {
    let config = SchedulerConfig {
        history_limit: 3,
        ..config(2, ms(10))
    };
    let s = scheduler(config);
    s.add_task(TaskSpec::new("often", |_| async { Ok(()) }).trigger(Trigger::interval(ms(10))))
        .await
        .expect("add");
    s.start().expect("start");
    tokio::time::sleep(ms(105)).await;
    s.stop(ms(100)).await;
    let h = history(&s, "often").await;
    let when: Vec<_> = h.iter().map(|r| r.scheduled_for).collect();
    assert_eq!(
        when,
        [epoch() + ms(80), epoch() + ms(90), epoch() + ms(100)]
    );
}

#[tokio::test(start_paused = true)]
async fn definition_errors_are_reported_at_add_time() {
    let s = scheduler(config(2, ms(10)));
    let e = s
        .add_task(TaskSpec::new("none", |_| async { Ok(()) }))
        .await
        .expect_err("no trigger");
    assert_eq!(e.to_string(), "task \"none\" has no trigger");
    let e = s
        .add_task(
            TaskSpec::new("zero", |_| async { Ok(()) }).trigger(Trigger::interval(Duration::ZERO)),
        )
        .await
        .expect_err("zero");
    assert!(e.is_config_error(), "{e}");
    let e = s
        .add_task(
            TaskSpec::new("dup", |_| async { Ok(()) })
                .trigger(Trigger::interval(ms(5)))
                .trigger(Trigger::interval(ms(5))),
        )
        .await
        .expect_err("duplicate trigger");
    assert_eq!(
        e.to_string(),
        "task \"dup\" has two triggers named \"interval:5ms\""
    );
    s.add_task(TaskSpec::new("once", |_| async { Ok(()) }).trigger(Trigger::once(ms(5))))
        .await
        .expect("first");
    let e = s
        .add_task(TaskSpec::new("once", |_| async { Ok(()) }).trigger(Trigger::once(ms(5))))
        .await
        .expect_err("duplicate name");
    assert_eq!(e.to_string(), "a task named \"once\" is already registered");
}

/// The dispatcher sleeps until the next due time, not `poll_interval` (an hour here): a
/// timer, a freed slot and an event each start their run on time.
#[tokio::test(start_paused = true)]
async fn dispatch_is_woken_on_time_without_polling() {
    let s = scheduler(config(1, Duration::from_secs(3600)));
    let probe = Arc::new(Probe::default());
    s.add_task(sleeper("first", ms(300), &probe).trigger(Trigger::once(ms(100))))
        .await
        .expect("add");
    // Due at 200 ms while "first" holds the only slot: it waits for the slot.
    s.add_task(sleeper("second", ms(10), &probe).trigger(Trigger::once(ms(200))))
        .await
        .expect("add");
    let event = scheduler::EventHandle::new();
    s.add_task(sleeper("on-event", ms(10), &probe).trigger(Trigger::event(&event)))
        .await
        .expect("add");
    s.start().expect("start");
    tokio::time::sleep(ms(1050)).await;
    event.fire();
    tokio::time::sleep(ms(100)).await;
    s.stop(ms(100)).await;
    assert_eq!(started(&s, "first").await, epoch() + ms(100));
    assert_eq!(
        started(&s, "second").await,
        epoch() + ms(400),
        "when the slot freed"
    );
    assert_eq!(started(&s, "on-event").await, epoch() + ms(1050));
}

async fn started(s: &scheduler::Scheduler, task: &str) -> SystemTime {
    let h = history(s, task).await;
    assert_eq!(h.len(), 1, "{task}: {h:?}");
    h[0].started_at
}

/// A removed task's name is free again, and its old timer does not fire the new task.
#[tokio::test(start_paused = true)]
async fn a_removed_task_name_can_be_reused() {
    let s = scheduler(config(4, ms(10)));
    let probe = Arc::new(Probe::default());
    let old = s
        .add_task(sleeper("job", ms(1), &probe).trigger(Trigger::once(ms(100))))
        .await
        .expect("add");
    s.start().expect("start");
    tokio::time::sleep(ms(50)).await;
    assert!(s.remove_task(old));
    assert!(s.task_by_name("job").is_none());
    let new = s
        .add_task(sleeper("job", ms(1), &probe).trigger(Trigger::once(ms(200))))
        .await
        .expect("the name is free again");
    assert_ne!(old, new);
    assert_eq!(s.task_by_name("job").map(|t| t.id), Some(new));
    tokio::time::sleep(ms(100)).await;
    assert_eq!(
        probe.calls(),
        0,
        "the removed task's timer at 100 ms is ignored"
    );
    tokio::time::sleep(ms(200)).await;
    assert_eq!(probe.calls(), 1);
    s.stop(ms(100)).await;
}
