//! R1–R10: regression cases, each a way a scheduler can fail that this one must not
//! (wedging when saturated, lost events, cron firing every poll, a one-time trigger firing
//! twice, overlapping runs, a panic stopping the loop, stop twice, duplicate ready triggers,
//! tasks added or removed while running); docs/adr/0006-scheduler.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use scheduler::{
    CancellationToken, EventHandle, Outcome, SchedulerError, TaskSpec, TaskState, Trigger,
};

use super::{Probe, config, epoch, history, ms, scheduler, scheduler_at};

fn counting(name: &str, calls: &Arc<AtomicUsize>) -> TaskSpec {
    let c = Arc::clone(calls);
    TaskSpec::new(name, move |_| {
        c.fetch_add(1, Ordering::SeqCst);
        async { Ok(()) }
    })
}

fn gated(name: &str, gate: &CancellationToken, probe: &Arc<Probe>) -> TaskSpec {
    let (g, p) = (gate.clone(), Arc::clone(probe));
    TaskSpec::new(name, move |ctx| {
        let (g, p) = (g.clone(), Arc::clone(&p));
        async move {
            p.enter(ctx.task_name());
            g.cancelled().await;
            p.leave();
            Ok(())
        }
    })
}

#[tokio::test(start_paused = true)]
async fn r1_saturation_never_wedges() {
    let s = scheduler(config(1, ms(10)));
    let probe = Arc::new(Probe::default());
    let gate = CancellationToken::new();
    s.add_task(gated("a", &gate, &probe).trigger(Trigger::once(ms(1))))
        .await
        .expect("a");
    s.add_task(gated("b", &gate, &probe).trigger(Trigger::once(ms(1))))
        .await
        .expect("b");
    s.start().expect("start");
    tokio::time::sleep(ms(100)).await;
    assert_eq!(probe.log(), ["a"], "one slot: b waits, unconsumed");
    // The scheduler still answers while saturated (no lock held while waiting).
    assert_eq!(s.tasks().len(), 2);
    gate.cancel();
    tokio::time::sleep(ms(100)).await;
    assert_eq!(probe.log(), ["a", "b"]);
    s.stop(ms(100)).await;
}

#[tokio::test(start_paused = true)]
async fn r2_event_never_lost_when_full() {
    let s = scheduler(config(1, ms(10)));
    let probe = Arc::new(Probe::default());
    let gate = CancellationToken::new();
    s.add_task(gated("blocker", &gate, &probe).trigger(Trigger::once(ms(0))))
        .await
        .expect("blocker");
    let events = EventHandle::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let id = s
        .add_task(counting("on-event", &calls).trigger(Trigger::event(&events)))
        .await
        .expect("event task");
    s.start().expect("start");
    tokio::time::sleep(ms(5)).await;
    // Fired from elsewhere while the only slot is busy.
    let e = events.clone();
    tokio::spawn(async move {
        for _ in 0..3 {
            e.fire();
            tokio::time::sleep(ms(1)).await;
        }
    });
    tokio::time::sleep(ms(50)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(s.get_task(id).expect("task").triggers[0].pending, 3);
    gate.cancel();
    tokio::time::sleep(ms(50)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 3, "every fire ran once");
    assert_eq!(s.get_task(id).expect("task").triggers[0].pending, 0);
    s.stop(ms(100)).await;
}

#[tokio::test(start_paused = true)]
async fn r3_cron_only_trigger_does_not_fire_every_poll() {
    // Starts at 14:40:00 UTC; hourly at minute 0.
    let start = epoch() - Duration::from_secs(26 * 60 + 40);
    let (s, _store, _clock) = scheduler_at(config(2, Duration::from_secs(1)), start);
    let calls = Arc::new(AtomicUsize::new(0));
    s.add_task(
        counting("hourly", &calls).trigger(Trigger::cron("0 * * * *", "UTC").expect("cron")),
    )
    .await
    .expect("add");
    s.start().expect("start");
    tokio::time::sleep(Duration::from_secs(19 * 60)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 0, "14:59: not yet");
    tokio::time::sleep(Duration::from_secs(2 * 60)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "15:00");
    tokio::time::sleep(Duration::from_secs(60 * 60)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 2, "16:00");
    s.stop(ms(100)).await;
}

#[tokio::test(start_paused = true)]
async fn r4_one_time_trigger_fires_exactly_once() {
    let s = scheduler(config(2, ms(10)));
    let calls = Arc::new(AtomicUsize::new(0));
    let kept = s
        .add_task(counting("kept", &calls).trigger(Trigger::once(ms(20))))
        .await
        .expect("add");
    let removed = s
        .add_task(
            counting("removed", &calls)
                .trigger(Trigger::once(ms(20)))
                .remove_when_done(true),
        )
        .await
        .expect("add");
    s.start().expect("start");
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 2, "once each, never again");
    let info = s.get_task(kept).expect("kept");
    assert_eq!(info.state, TaskState::Completed);
    assert!(info.next_run.is_none());
    assert!(s.get_task(removed).is_none(), "auto-removed");
    s.stop(ms(100)).await;
}

#[tokio::test(start_paused = true)]
async fn r5_no_overlapping_runs_by_default() {
    let s = scheduler(config(4, ms(10)));
    let probe = Arc::new(Probe::default());
    let p = Arc::clone(&probe);
    s.add_task(
        TaskSpec::new("slow", move |_| {
            let p = Arc::clone(&p);
            async move {
                p.enter("slow");
                tokio::time::sleep(ms(35)).await;
                p.leave();
                Ok(())
            }
        })
        .trigger(Trigger::interval(ms(10))),
    )
    .await
    .expect("add");
    s.start().expect("start");
    tokio::time::sleep(ms(1000)).await;
    s.stop(ms(100)).await;
    assert_eq!(probe.max(), 1, "never two runs of one task at once");
    // 35 ms runs on a 10 ms interval: occurrences during a run are skipped.
    let h = history(&s, "slow").await;
    assert!(h.len() >= 20 && h.len() <= 30, "{} runs", h.len());
    for pair in h.windows(2) {
        assert!(pair[1].started_at >= pair[0].ended_at.expect("ended"));
    }
}

#[tokio::test(start_paused = true)]
async fn r6_panicking_task_is_recorded_and_scheduler_goes_on() {
    let s = scheduler(config(2, ms(10)));
    s.add_task(
        TaskSpec::new("boom", |_| async { panic!("kaboom") }).trigger(Trigger::interval(ms(100))),
    )
    .await
    .expect("add");
    let calls = Arc::new(AtomicUsize::new(0));
    s.add_task(counting("fine", &calls).trigger(Trigger::interval(ms(100))))
        .await
        .expect("add");
    s.start().expect("start");
    tokio::time::sleep(ms(350)).await;
    let h = history(&s, "boom").await;
    assert_eq!(
        h.len(),
        3,
        "it panicked three times and was run again each time"
    );
    assert!(h.iter().all(|r| r.outcome == Some(Outcome::Panicked)));
    assert_eq!(h[0].error.as_deref(), Some("panicked: kaboom"));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(s.running(), 0, "slots were released");
    s.stop(ms(100)).await;
}

#[tokio::test(start_paused = true)]
async fn r7_stop_twice_is_safe() {
    let s = scheduler(config(2, ms(10)));
    assert!(
        matches!(s.stop(ms(10)).await, r if !r.forced),
        "stop before start"
    );
    assert!(matches!(s.start(), Err(SchedulerError::AlreadyStarted)));

    let s = scheduler(config(2, ms(10)));
    s.start().expect("start");
    assert!(matches!(s.start(), Err(SchedulerError::AlreadyStarted)));
    let (a, b) = tokio::join!(s.stop(ms(10)), s.stop(ms(10)));
    assert_eq!(a, b);
    assert_eq!(s.stop(ms(10)).await, a);
}

#[tokio::test(start_paused = true)]
async fn r8_two_ready_triggers_run_once() {
    let s = scheduler(config(2, ms(10)));
    let calls = Arc::new(AtomicUsize::new(0));
    s.add_task(
        counting("double", &calls)
            .trigger(Trigger::interval(Duration::from_secs(1)))
            .trigger(Trigger::once(Duration::from_secs(1))),
    )
    .await
    .expect("add");
    s.start().expect("start");
    tokio::time::sleep(ms(1500)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let h = history(&s, "double").await;
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].trigger, "interval:1s");
    assert_eq!(h[0].scheduled_for, epoch() + Duration::from_secs(1));
    tokio::time::sleep(ms(1000)).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the once trigger was consumed too"
    );
    s.stop(ms(100)).await;
}

#[tokio::test(start_paused = true)]
async fn r9_add_task_while_running_is_picked_up() {
    // A long poll: the new task must wake the dispatcher, not wait for the next poll.
    let s = scheduler(config(2, Duration::from_secs(3600)));
    s.start().expect("start");
    tokio::time::sleep(ms(50)).await;
    let calls = Arc::new(AtomicUsize::new(0));
    s.add_task(counting("late", &calls).trigger(Trigger::once(ms(10))))
        .await
        .expect("add");
    tokio::time::sleep(ms(20)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    s.stop(ms(100)).await;
}

#[tokio::test(start_paused = true)]
async fn r10_removing_a_running_task_does_not_crash() {
    let (s, _store, _clock) = scheduler_at(config(1, ms(10)), epoch());
    let probe = Arc::new(Probe::default());
    let gate = CancellationToken::new();
    let id = s
        .add_task(gated("doomed", &gate, &probe).trigger(Trigger::once(ms(1))))
        .await
        .expect("add");
    s.start().expect("start");
    tokio::time::sleep(ms(20)).await;
    assert_eq!(s.running(), 1);
    assert!(s.remove_task(id));
    gate.cancel();
    tokio::time::sleep(ms(20)).await;
    assert_eq!(s.running(), 0, "the slot came back");
    let calls = Arc::new(AtomicUsize::new(0));
    s.add_task(counting("next", &calls).trigger(Trigger::once(ms(1))))
        .await
        .expect("add");
    tokio::time::sleep(ms(20)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the scheduler goes on");
    let h = history(&s, "doomed").await;
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].outcome, Some(Outcome::Success));
    s.stop(ms(100)).await;
}

/// R1/S6 on a multi-threaded runtime and real time (no assertion on speed: it only waits,
/// up to a generous bound, for every run to happen).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r1_saturation_never_wedges_multi_thread() {
    let s = scheduler::Scheduler::new(config(3, ms(50))).expect("new");
    let probe = Arc::new(Probe::default());
    for i in 0..20 {
        let p = Arc::clone(&probe);
        s.add_task(
            TaskSpec::new(format!("t{i}"), move |_| {
                let p = Arc::clone(&p);
                async move {
                    p.enter("t");
                    tokio::time::sleep(ms(2)).await;
                    p.leave();
                    Ok(())
                }
            })
            .priority(i % 4)
            .trigger(Trigger::once(ms(1))),
        )
        .await
        .expect("add");
    }
    s.start().expect("start");
    for _ in 0..2000 {
        if probe.calls() == 20 && s.running() == 0 {
            break;
        }
        tokio::time::sleep(ms(5)).await;
    }
    assert_eq!(probe.calls(), 20);
    assert!(probe.max() <= 3, "max observed {}", probe.max());
    assert!(!s.stop(Duration::from_secs(5)).await.forced);
}
