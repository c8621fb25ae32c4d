//! The dispatcher: one pass picks the due tasks in priority order under the table lock,
//! then their runs are spawned and the last scheduled times persisted.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::gate::Gate;
use crate::inner::Inner;
use crate::run::{Dispatch, execute};
use crate::table::TaskEntry;
use crate::task::{OverlapPolicy, TaskId};

/// One dispatcher pass, computed under the table lock without awaiting anything.
#[derive(Default)]
struct Pass {
    dispatches: Vec<Dispatch>,
    persist: Vec<(Arc<str>, Arc<str>, SystemTime)>,
    next_wake: Option<SystemTime>,
}

/// The shortest head start the dispatcher takes on a timer (see [`dispatch_loop`]).
const MIN_LEAD: Duration = Duration::from_millis(2);
/// The longest head start, whatever the last batch cost.
const MAX_LEAD: Duration = Duration::from_millis(250);

pub(crate) async fn dispatch_loop(inner: Arc<Inner>) {
    // The head start on the next timer: twice what preparing the last batch cost.
    let mut lead = MIN_LEAD;
    loop {
        if inner.shutdown.is_cancelled() {
            break;
        }
        let now = inner.clock.now();
        let pass = plan(&inner, now);
        spawn_runs(&inner, pass.dispatches, None);
        persist(&inner, pass.persist).await;
        let mut next_wake = pass.next_wake;
        let mut head_start = lead;
        if let Some(next) = next_wake
            && next.duration_since(now).unwrap_or_default() <= lead.min(inner.config.poll_interval)
        {
            match dispatch_ahead(&inner, next).await {
                Ahead::Stopped => break,
                Ahead::Done { spent, next } => {
                    lead = (2 * spent + MIN_LEAD).min(MAX_LEAD);
                    next_wake = next;
                }
                // Those tasks go at `next` through the normal pass: no head start.
                Ahead::Nothing => head_start = Duration::ZERO,
            }
            if next_wake.is_some_and(|n| n <= inner.clock.now()) {
                continue;
            }
        }
        // Sleep until a head start before the next timer, but at most `poll_interval` (a
        // wall-clock step is noticed within that bound); events, added tasks and freed
        // slots wake us early.
        let mut wait = inner.config.poll_interval;
        if let Some(next) = next_wake {
            let until = next.duration_since(inner.clock.now()).unwrap_or_default();
            wait = wait.min(until.saturating_sub(head_start));
        }
        tokio::select! {
            () = inner.shutdown.cancelled() => break,
            () = inner.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
    tracing::debug!("dispatcher stopped");
}

async fn persist(inner: &Inner, persist: Vec<(Arc<str>, Arc<str>, SystemTime)>) {
    if persist.is_empty() {
        return;
    }
    let batch: Vec<(&str, &str, SystemTime)> = persist
        .iter()
        .map(|(task, trigger, at)| (&**task, &**trigger, *at))
        .collect();
    if let Err(e) = inner.store.set_last_scheduled_many(&batch).await {
        tracing::warn!(error = %e, runs = batch.len(), "cannot persist the last scheduled times");
    }
}

enum Ahead {
    /// Nothing could be prepared ahead: the normal pass at the due time handles it.
    Nothing,
    /// The prepared runs were released at the due time; preparing them took `spent`.
    Done {
        spent: Duration,
        next: Option<SystemTime>,
    },
    Stopped,
}

/// Prepare the runs of the tasks whose timer falls due at `at` (a little ahead: picking
/// them, taking their slots and spawning them costs time for a large batch), then open
/// their gate at `at`, so that their bodies start at the due instant rather than after the
/// whole batch was planned and spawned.
async fn dispatch_ahead(inner: &Arc<Inner>, at: SystemTime) -> Ahead {
    let began = std::time::Instant::now();
    let pass = plan_ahead(inner, at);
    if pass.dispatches.is_empty() {
        return Ahead::Nothing;
    }
    let gate = Arc::new(Gate::new(pass.dispatches.len()));
    spawn_runs(inner, pass.dispatches, Some(&gate));
    let spent = began.elapsed();
    let wait = at.duration_since(inner.clock.now()).unwrap_or_default();
    let sleep = tokio::time::sleep(wait);
    tokio::pin!(sleep);
    let stopped = loop {
        tokio::select! {
            biased;
            () = inner.shutdown.cancelled() => break true,
            () = &mut sleep => break false,
            // An event, an added task or a freed slot: serve it meanwhile.
            () = inner.wake.notified() => {
                let now = inner.clock.now();
                let p = plan(inner, now);
                spawn_runs(inner, p.dispatches, None);
                persist(inner, p.persist).await;
            }
        }
    };
    gate.open(!stopped);
    if stopped {
        return Ahead::Stopped;
    }
    // The last scheduled times are persisted once every body of the batch started: this
    // worker polls runs meanwhile instead of writing thousands of entries first.
    tokio::select! {
        biased;
        () = gate.all_started() => {}
        () = inner.shutdown.cancelled() => {}
    }
    persist(inner, pass.persist).await;
    Ahead::Done {
        spent,
        next: pass.next_wake,
    }
}

/// Each run is its own tokio task; a forced stop that runs out of `cancel_grace` drops it
/// (its guard then releases the slot and the task's running mark).
fn spawn_runs(inner: &Arc<Inner>, dispatches: Vec<Dispatch>, gate: Option<&Arc<Gate>>) {
    if dispatches.is_empty() {
        return;
    }
    let handles: Vec<_> = dispatches
        .into_iter()
        .map(|d| {
            // Boxed: the run's future is large, and a task holding it inline is copied
            // several times on the way into the runtime.
            let run = Box::pin(execute(Arc::clone(inner), d, gate.cloned()));
            inner.tracker.spawn(run).abort_handle()
        })
        .collect();
    inner.live.add(handles);
}

/// The pass for the tasks whose timer falls due at `at` (the earliest timer): only those
/// that can start then for sure (no run going, a free slot, no event trigger) are
/// dispatched; the others keep their timer for the normal pass at `at`. Nothing is done
/// ahead while a due task waits for a slot (the priority order among them stays that of
/// the normal pass).
fn plan_ahead(inner: &Inner, at: SystemTime) -> Pass {
    let tolerance = inner.config.late_tolerance;
    let mut pass = Pass::default();
    let mut guard = inner.table();
    let table = &mut *guard;
    if !table.waiting.is_empty() {
        return pass;
    }
    let now = inner.clock.now();
    let mut candidates = Vec::new();
    table.pop_due_timers(at, &mut candidates);
    let mut order: Vec<(i32, TaskId)> = candidates
        .into_iter()
        .filter_map(|id| table.tasks.get(&id).map(|e| (e.priority, id)))
        .collect();
    order.sort_unstable();
    let mut full = false;
    for &(_, id) in &order {
        if let Some(entry) = table.tasks.get_mut(&id)
            && entry.running == 0
            && !table.with_events.contains(&id)
        {
            consider(inner, entry, at, tolerance, &mut full, &mut pass);
        }
        table.settle(id, now);
    }
    pass.next_wake = table.next_timer();
    pass
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
