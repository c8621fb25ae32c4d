//! The dispatcher: one pass picks the due tasks in priority order under the table lock,
//! then their runs are spawned and the last scheduled times persisted.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::run::{Dispatch, execute};
use crate::scheduler::Inner;
use crate::table::TaskEntry;
use crate::task::{OverlapPolicy, TaskId};

/// One dispatcher pass, computed under the table lock without awaiting anything.
#[derive(Default)]
struct Pass {
    dispatches: Vec<Dispatch>,
    persist: Vec<(Arc<str>, Arc<str>, SystemTime)>,
    next_wake: Option<SystemTime>,
}

pub(crate) async fn dispatch_loop(inner: Arc<Inner>) {
    loop {
        if inner.shutdown.is_cancelled() {
            break;
        }
        let now = inner.clock.now();
        let pass = plan(&inner, now);
        spawn_runs(&inner, pass.dispatches);
        for (task, trigger, at) in pass.persist {
            if let Err(e) = inner.store.set_last_scheduled(&task, &trigger, at).await {
                tracing::warn!(task = %task, trigger = %trigger, error = %e,
                    "cannot persist the last scheduled time");
            }
        }
        // Sleep until the next timer, but at most `poll_interval` (a wall-clock step is
        // noticed within that bound); events, added tasks and freed slots wake us early.
        let mut wait = inner.config.poll_interval;
        if let Some(next) = pass.next_wake {
            let until = next.duration_since(inner.clock.now()).unwrap_or_default();
            wait = wait.min(until);
        }
        tokio::select! {
            () = inner.shutdown.cancelled() => break,
            () = inner.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
    tracing::debug!("dispatcher stopped");
}

/// Each run is its own tokio task; a forced stop that runs out of `cancel_grace` drops it
/// (its guard then releases the slot and the task's running mark).
fn spawn_runs(inner: &Arc<Inner>, dispatches: Vec<Dispatch>) {
    for d in dispatches {
        let abort = inner.abort.clone();
        let run = execute(Arc::clone(inner), d);
        inner.tracker.spawn(async move {
            tokio::select! {
                biased;
                () = run => {}
                () = abort.cancelled() => {}
            }
        });
    }
}

fn plan(inner: &Inner, now: SystemTime) -> Pass {
    let tolerance = inner.config.late_tolerance;
    let mut pass = Pass::default();
    let mut guard = inner.table();
    let table = &mut *guard;
    // Only the tasks that can be due are looked at and ordered: those whose timer came,
    // those left due by an earlier pass and those with an event trigger.
    let mut candidates = Vec::new();
    table.pop_due_timers(now, &mut candidates);
    candidates.extend(table.waiting.iter().copied());
    candidates.extend(table.with_events.iter().copied());
    let mut order: Vec<(i32, TaskId)> = candidates
        .into_iter()
        .filter_map(|id| table.tasks.get(&id).map(|e| (e.priority, id)))
        .collect();
    order.sort_unstable();
    order.dedup();
    let mut full = false;
    for &(_, id) in &order {
        if let Some(entry) = table.tasks.get_mut(&id) {
            consider(inner, entry, now, tolerance, &mut full, &mut pass);
        }
        table.settle(id, now);
    }
    pass.next_wake = table.next_timer();
    pass
}

/// Dispatch one candidate task if it is due and can run; otherwise apply its overlap policy
/// or leave it due.
fn consider(
    inner: &Inner,
    entry: &mut TaskEntry,
    now: SystemTime,
    tolerance: Duration,
    full: &mut bool,
    pass: &mut Pass,
) {
    let due: Vec<usize> = (0..entry.triggers.len())
        .filter(|&i| entry.triggers[i].is_due(now))
        .collect();
    if due.is_empty() {
        return;
    }
    if entry.running > 0 && entry.overlap != OverlapPolicy::Allow {
        if entry.overlap == OverlapPolicy::Skip {
            for &i in &due {
                let trig = &mut entry.triggers[i];
                if let Some(at) = trig.skip(now) {
                    tracing::info!(task = %entry.name, trigger = %trig.name,
                        "occurrence skipped: the task is still running");
                    pass.persist
                        .push((Arc::clone(&entry.name), Arc::clone(&trig.name), at));
                }
            }
        }
        return;
    }
    if *full {
        return;
    }
    let Ok(permit) = Arc::clone(&inner.permits).try_acquire_owned() else {
        tracing::debug!(task = %entry.name, "no free slot: the task stays due");
        *full = true;
        return;
    };
    let mut primary = None;
    for &i in &due {
        let trig = &mut entry.triggers[i];
        let taken = trig.take(now, tolerance);
        if let Some(at) = taken.persist {
            pass.persist
                .push((Arc::clone(&entry.name), Arc::clone(&trig.name), at));
        }
        match taken.run {
            Some(s) if primary.is_none() => primary = Some((Arc::clone(&trig.name), s)),
            Some(_) => {}
            None if trig.is_periodic() => {
                tracing::info!(task = %entry.name, trigger = %trig.name,
                    "missed occurrences skipped (missed-run policy)");
            }
            None => {}
        }
    }
    let Some((trigger, scheduled_for)) = primary else {
        return;
    };
    entry.running += 1;
    pass.dispatches.push(Dispatch {
        task_id: entry.id,
        task_name: Arc::clone(&entry.name),
        trigger,
        scheduled_for,
        func: Arc::clone(&entry.func),
        retry: entry.retry.clone(),
        timeout: entry.timeout,
        permit,
    });
}
