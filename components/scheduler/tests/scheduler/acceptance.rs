//! S1–S11: the reference scheduler tests, adapted to this design.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use scheduler::CancellationToken;
use scheduler::{
    Outcome, RetryPolicy, RunContext, Scheduler, SchedulerConfig, SchedulerError, TaskError,
    TaskId, TaskSpec, Trigger,
};

use super::{Probe, config, epoch, history, ms, scheduler};

fn noop(name: &str) -> TaskSpec {
    TaskSpec::new(name, |_ctx| async { Ok(()) })
}

#[tokio::test(start_paused = true)]
async fn s1_new_scheduler() {
    let s = Scheduler::new(config(2, ms(100))).expect("new");
    assert_eq!(s.max_running(), 2);
    assert_eq!(s.running(), 0);
    let e = Scheduler::new(SchedulerConfig::new(0)).expect_err("0 slots");
    assert!(matches!(e, SchedulerError::InvalidConfig(_)), "{e:?}");
    assert!(e.is_config_error());
}

#[tokio::test(start_paused = true)]
async fn s2_add_and_get_task() {
    let s = scheduler(config(2, ms(100)));
    let id = s
        .add_task(noop("report").trigger(Trigger::once(ms(5))))
        .await
        .expect("add");
    let info = s.get_task(id).expect("found");
    assert_eq!(info.name, "report");
    assert_eq!(info.id, id);
}

#[tokio::test(start_paused = true)]
async fn s3_remove_task() {
    let s = scheduler(config(2, ms(100)));
    let id = s
        .add_task(noop("t").trigger(Trigger::once(ms(5))))
        .await
        .expect("add");
    assert!(s.remove_task(id));
    assert!(s.get_task(id).is_none());
    assert!(!s.remove_task(id), "second removal finds nothing");
}

#[tokio::test(start_paused = true)]
async fn s4_scheduler_executes_task() {
    let s = scheduler(config(2, ms(10)));
    let probe = Arc::new(Probe::default());
    let p = Arc::clone(&probe);
    s.add_task(
        TaskSpec::new("t", move |_| {
            let p = Arc::clone(&p);
            async move {
                p.enter("t");
                p.leave();
                Ok(())
            }
        })
        .trigger(Trigger::once(ms(5))),
    )
    .await
    .expect("add");
    s.start().expect("start");
    tokio::time::sleep(ms(200)).await;
    assert_eq!(probe.calls(), 1);
    s.stop(ms(100)).await;
}

/// Priority without timing: one slot held busy while three tasks fall due, then released.
#[tokio::test(start_paused = true)]
async fn s5_priority_order() {
    let s = scheduler(config(1, ms(2)));
    let gate = CancellationToken::new();
    let g = gate.clone();
    s.add_task(
        TaskSpec::new("blocker", move |_| {
            let g = g.clone();
            async move {
                g.cancelled().await;
                Ok(())
            }
        })
        .priority(0)
        .trigger(Trigger::once(ms(0))),
    )
    .await
    .expect("blocker");
    s.start().expect("start");
    tokio::time::sleep(ms(5)).await;
    assert_eq!(s.running(), 1);

    let probe = Arc::new(Probe::default());
    // Added in an order that differs from their priorities; "med-b" ties with "med".
    for (name, prio) in [("low", 30), ("high", 10), ("med", 20), ("med-b", 20)] {
        let p = Arc::clone(&probe);
        s.add_task(
            TaskSpec::new(name, move |ctx| {
                let p = Arc::clone(&p);
                async move {
                    p.enter(ctx.task_name());
                    p.leave();
                    Ok(())
                }
            })
            .priority(prio)
            .trigger(Trigger::once(ms(10))),
        )
        .await
        .expect("add");
    }
    tokio::time::sleep(ms(50)).await;
    assert_eq!(probe.calls(), 0, "the only slot is busy");
    gate.cancel();
    tokio::time::sleep(ms(50)).await;
    assert_eq!(probe.log(), ["high", "med", "med-b", "low"]);
    s.stop(ms(100)).await;
}

#[tokio::test(start_paused = true)]
async fn s6_max_concurrent_tasks() {
    let s = scheduler(config(2, ms(5)));
    let probe = Arc::new(Probe::default());
    let gate = CancellationToken::new();
    for i in 0..5 {
        let (p, g) = (Arc::clone(&probe), gate.clone());
        s.add_task(
            TaskSpec::new(format!("t{i}"), move |_| {
                let (p, g) = (Arc::clone(&p), g.clone());
                async move {
                    p.enter("t");
                    g.cancelled().await;
                    p.leave();
                    Ok(())
                }
            })
            .trigger(Trigger::once(ms(1))),
        )
        .await
        .expect("add");
    }
    s.start().expect("start");
    tokio::time::sleep(ms(50)).await;
    assert_eq!(probe.calls(), 2);
    assert_eq!(s.running(), 2);
    gate.cancel();
    tokio::time::sleep(ms(50)).await;
    assert!(probe.max() <= 2, "max observed {}", probe.max());
    assert_eq!(probe.calls(), 5, "all five ran (no saturation deadlock)");
    assert_eq!(s.running(), 0);
    s.stop(ms(100)).await;
}

#[tokio::test(start_paused = true)]
async fn s7_retry_logic() {
    let s = scheduler(config(2, ms(10)));
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    s.add_task(
        TaskSpec::new("flaky", move |_| {
            let n = c.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                if n <= 2 {
                    Err(TaskError::msg(format!("failure {n}")))
                } else {
                    Ok(())
                }
            }
        })
        .retry(RetryPolicy::fixed(2, ms(5)))
        .trigger(Trigger::once(ms(1))),
    )
    .await
    .expect("add");
    s.start().expect("start");
    tokio::time::sleep(ms(200)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let h = history(&s, "flaky").await;
    assert_eq!(h.len(), 3);
    let summary: Vec<_> = h
        .iter()
        .map(|r| (r.attempt, r.outcome, r.error.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (1, Some(Outcome::Failed), Some("failure 1".to_owned())),
            (2, Some(Outcome::Failed), Some("failure 2".to_owned())),
            (3, Some(Outcome::Success), None),
        ]
    );
    // The fixed delay separates the attempts; all belong to the same occurrence.
    assert_eq!(
        h[1].started_at
            .duration_since(h[0].ended_at.expect("ended"))
            .expect("order"),
        ms(5)
    );
    assert!(h.iter().all(|r| r.scheduled_for == h[0].scheduled_for));
    s.stop(ms(100)).await;
}

#[tokio::test(start_paused = true)]
async fn s8_scheduler_stop() {
    let s = scheduler(config(2, ms(10)));
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    s.add_task(
        TaskSpec::new("late", move |_| {
            c.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        })
        .trigger(Trigger::once(ms(100))),
    )
    .await
    .expect("add");
    s.start().expect("start");
    tokio::time::sleep(ms(20)).await;
    let report = s.stop(ms(100)).await;
    assert!(!report.forced);
    tokio::time::sleep(ms(100)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn s9_add_and_remove_task() {
    let s = scheduler(config(2, ms(1000)));
    let id = s
        .add_task(noop("first").trigger(Trigger::once(ms(1))))
        .await
        .expect("add");
    assert_eq!(id, TaskId(0));
    let second = s
        .add_task(noop("second").trigger(Trigger::once(ms(1))))
        .await
        .expect("add");
    assert_eq!(second, TaskId(1));
    assert!(s.remove_task(id));
    assert!(s.remove_task(second));
    assert_eq!(s.tasks().len(), 0);
    let third = s
        .add_task(noop("third").trigger(Trigger::once(ms(1))))
        .await
        .expect("add");
    assert_eq!(third, TaskId(2), "ids are never reused");
}

#[tokio::test(start_paused = true)]
async fn s10_task_execution() {
    let s = scheduler(SchedulerConfig::new(1));
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    s.add_task(
        TaskSpec::new("t", move |_| {
            c.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        })
        .trigger(Trigger::once(ms(1))),
    )
    .await
    .expect("add");
    s.start().expect("start");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    s.stop(ms(100)).await;
}

#[tokio::test(start_paused = true)]
async fn s11_task_can_be_invoked_directly() {
    let spec = TaskSpec::new("direct", |ctx: RunContext| async move {
        assert_eq!(ctx.task_name(), "direct");
        assert_eq!(ctx.attempt(), 1);
        assert!(ctx.task_id().is_none());
        Ok(())
    })
    .retry(RetryPolicy::fixed(1, Duration::from_secs(1)));
    let ctx = RunContext::manual("direct", epoch(), CancellationToken::new());
    spec.call(ctx).await.expect("direct call succeeds");
    assert_eq!(spec.name(), "direct");
}
