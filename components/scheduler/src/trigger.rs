//! Triggers (what makes a task run) and their per-task state.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use rand::RngExt;
use tokio::sync::Notify;

use crate::clock::duration_nanos;
use crate::cron::CronSchedule;
use crate::error::SchedulerError;

/// What to do when a periodic trigger finds that occurrences fell due while nothing could run
/// them (the process was down, the scheduler was stopped or saturated). An occurrence counts
/// as missed when a later one is also due, or when it is later than the scheduler's
/// `late_tolerance`. The last scheduled time is persisted through the
/// [`crate::SchedulerStore`], so this also applies across restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedRunPolicy {
    /// Run none of the missed occurrences (only the latest, if it is still within the
    /// tolerance); wait for the next one.
    Skip,
    /// Run once for all missed occurrences (scheduled for the latest); the default, like
    /// cron daemons and Kubernetes CronJobs.
    #[default]
    RunOnce,
    /// Run each of the `max` most recent missed occurrences, one after the other, oldest
    /// first; older ones are dropped.
    CatchUp { max: u32 },
}

/// A random delay added to each occurrence of a periodic trigger, drawn once per occurrence
/// (never re-drawn while waiting, never negative). The nominal schedule is not moved by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    #[default]
    None,
    /// Uniform in `[0, max]`.
    UpTo(Duration),
    /// Always this delay (deterministic; for tests and staggering).
    Fixed(Duration),
}

impl Jitter {
    fn sample(self) -> Duration {
        match self {
            Self::None => Duration::ZERO,
            Self::Fixed(d) => d,
            Self::UpTo(max) if max.is_zero() => Duration::ZERO,
            Self::UpTo(max) => {
                Duration::from_nanos(rand::rng().random_range(0..=duration_nanos(max)))
            }
        }
    }
}

/// A handle that fires event triggers from anywhere (other tasks, signal handlers, HTTP
/// handlers). Each [`Trigger::event`] made from it gets every fire after its creation; fires
/// are counted, so none is lost while the scheduler is full or the task is running: each
/// one leads to one run.
#[derive(Clone, Default)]
pub struct EventHandle {
    hub: Arc<Mutex<Vec<Weak<Subscription>>>>,
}

impl fmt::Debug for EventHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventHandle")
            .field("subscribers", &self.subscribers())
            .finish()
    }
}

impl EventHandle {
    /// A handle with no trigger yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fire the event: every live trigger made from this handle gets one pending run.
    /// Returns how many triggers were reached (0: no task listens, the fire is dropped).
    pub fn fire(&self) -> usize {
        let mut subs = self.hub.lock().unwrap_or_else(|e| e.into_inner());
        subs.retain(|w| w.strong_count() > 0);
        let mut reached = 0;
        for sub in subs.iter().filter_map(Weak::upgrade) {
            sub.pending.fetch_add(1, Ordering::AcqRel);
            sub.wake();
            reached += 1;
        }
        reached
    }

    /// How many live triggers listen to this handle.
    pub fn subscribers(&self) -> usize {
        let subs = self.hub.lock().unwrap_or_else(|e| e.into_inner());
        subs.iter().filter(|w| w.strong_count() > 0).count()
    }

    fn subscribe(&self) -> Arc<Subscription> {
        let sub = Arc::new(Subscription::default());
        let mut subs = self.hub.lock().unwrap_or_else(|e| e.into_inner());
        subs.retain(|w| w.strong_count() > 0);
        subs.push(Arc::downgrade(&sub));
        sub
    }
}

#[derive(Default)]
pub(crate) struct Subscription {
    pending: AtomicU64,
    waker: Mutex<Option<Weak<Notify>>>,
}

impl Subscription {
    fn wake(&self) {
        let waker = self.waker.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = waker.as_ref().and_then(Weak::upgrade) {
            n.notify_one();
        }
    }

    fn pending(&self) -> u64 {
        self.pending.load(Ordering::Acquire)
    }

    fn take_one(&self) -> bool {
        self.pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| p.checked_sub(1))
            .is_ok()
    }
}

#[derive(Clone)]
enum Periodic {
    Interval(Duration),
    Cron(Box<CronSchedule>),
}

impl Periodic {
    fn next_after(&self, t: SystemTime) -> Option<SystemTime> {
        match self {
            Self::Interval(every) => t.checked_add(*every),
            Self::Cron(c) => c.next_after(t),
        }
    }

    /// The latest occurrence in `[first, now]`, given that `first` is one and `first <= now`.
    fn latest(&self, first: SystemTime, now: SystemTime) -> SystemTime {
        match self {
            Self::Interval(every) => {
                let behind = now.duration_since(first).unwrap_or_default().as_nanos();
                let step = every.as_nanos().max(1);
                let k = behind / step;
                let offset = u64::try_from(step.saturating_mul(k)).unwrap_or(u64::MAX);
                first + Duration::from_nanos(offset)
            }
            Self::Cron(c) => c.latest_at_or_before(now).map_or(first, |l| l.max(first)),
        }
    }

    /// Up to `max` occurrences in `[first, latest]`, ending at `latest`, oldest first.
    fn recent(&self, first: SystemTime, latest: SystemTime, max: u32) -> VecDeque<SystemTime> {
        let mut out = VecDeque::new();
        let mut cur = Some(latest);
        while let Some(t) = cur {
            if t < first || out.len() >= max.max(1) as usize {
                break;
            }
            out.push_front(t);
            cur = match self {
                Self::Interval(every) => t.checked_sub(*every),
                Self::Cron(c) => c.previous_before(t),
            };
        }
        out
    }
}

enum TriggerKind {
    Periodic {
        schedule: Periodic,
        jitter: Jitter,
        missed: MissedRunPolicy,
    },
    Event(Arc<Subscription>),
    Once(Duration),
}

/// One way a task gets run. A task's triggers are OR-ed: any due one fires it; a run
/// consumes every trigger due at that moment, so a task runs at most once per dispatch pass.
pub struct Trigger {
    name: Option<String>,
    kind: TriggerKind,
}

impl fmt::Debug for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trigger")
            .field("name", &self.name())
            .finish()
    }
}

impl Trigger {
    /// Every `every`, counted from the nominal time of the previous occurrence (no drift);
    /// the first occurrence is `every` after the task is added (or after the persisted last
    /// occurrence). A zero interval is rejected by `add_task`.
    pub fn interval(every: Duration) -> Self {
        Self {
            name: None,
            kind: TriggerKind::Periodic {
                schedule: Periodic::Interval(every),
                jitter: Jitter::None,
                missed: MissedRunPolicy::default(),
            },
        }
    }

    /// A cron expression (see [`CronSchedule`]) evaluated in the IANA zone `tz`.
    /// `@every <duration>` (humantime, e.g. `@every 90s`) is accepted as an interval.
    pub fn cron(expr: &str, tz: &str) -> Result<Self, SchedulerError> {
        if let Some(rest) = expr.trim().strip_prefix("@every") {
            let rest = rest.trim();
            let every =
                humantime::parse_duration(rest).map_err(|e| SchedulerError::InvalidInterval {
                    value: rest.to_owned(),
                    detail: e.to_string(),
                })?;
            if every.is_zero() {
                return Err(SchedulerError::InvalidInterval {
                    value: rest.to_owned(),
                    detail: "must be greater than zero".to_owned(),
                });
            }
            return Ok(Self::interval(every));
        }
        Ok(Self::from_schedule(CronSchedule::parse(expr, tz)?))
    }

    /// A parsed cron schedule.
    pub fn from_schedule(schedule: CronSchedule) -> Self {
        Self {
            name: None,
            kind: TriggerKind::Periodic {
                schedule: Periodic::Cron(Box::new(schedule)),
                jitter: Jitter::None,
                missed: MissedRunPolicy::default(),
            },
        }
    }

    /// Fired by `handle` ([`EventHandle::fire`]). Fires from the moment this trigger is made.
    pub fn event(handle: &EventHandle) -> Self {
        Self {
            name: None,
            kind: TriggerKind::Event(handle.subscribe()),
        }
    }

    /// Once, `after` the task is added. A task whose triggers are all one-time triggers is
    /// [`crate::TaskState::Completed`] after they fired (or removed, see
    /// [`crate::TaskSpec::remove_when_done`]).
    pub fn once(after: Duration) -> Self {
        Self {
            name: None,
            kind: TriggerKind::Once(after),
        }
    }

    /// Set the jitter of a periodic trigger (ignored for event and one-time triggers).
    #[must_use]
    pub fn with_jitter(mut self, value: Jitter) -> Self {
        if let TriggerKind::Periodic { jitter, .. } = &mut self.kind {
            *jitter = value;
        }
        self
    }

    /// Set the missed-run policy of a periodic trigger (ignored for the others).
    #[must_use]
    pub fn on_missed(mut self, policy: MissedRunPolicy) -> Self {
        if let TriggerKind::Periodic { missed, .. } = &mut self.kind {
            *missed = policy;
        }
        self
    }

    /// Name the trigger (it keys the persisted last scheduled time, so a stable name keeps
    /// the state when the schedule is edited). Defaults: `interval:<every>`,
    /// `cron:<expr>@<zone>`, `event`, `once:<after>`.
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The trigger's name.
    pub fn name(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        match &self.kind {
            TriggerKind::Periodic {
                schedule: Periodic::Interval(d),
                ..
            } => {
                format!("interval:{}", humantime::format_duration(*d))
            }
            TriggerKind::Periodic {
                schedule: Periodic::Cron(c),
                ..
            } => {
                format!("cron:{}@{}", c.expr(), c.time_zone())
            }
            TriggerKind::Event(_) => "event".to_owned(),
            TriggerKind::Once(d) => format!("once:{}", humantime::format_duration(*d)),
        }
    }

    pub(crate) fn is_periodic(&self) -> bool {
        matches!(self.kind, TriggerKind::Periodic { .. })
    }

    pub(crate) fn validate(&self) -> Result<(), SchedulerError> {
        if let TriggerKind::Periodic {
            schedule: Periodic::Interval(d),
            ..
        } = &self.kind
            && d.is_zero()
        {
            return Err(SchedulerError::InvalidInterval {
                value: "0s".to_owned(),
                detail: "must be greater than zero".to_owned(),
            });
        }
        Ok(())
    }
}

/// What kind of trigger, for listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerKindInfo {
    Interval,
    Cron,
    Event,
    Once,
}

/// A snapshot of one trigger of a task.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TriggerInfo {
    pub name: String,
    pub kind: TriggerKindInfo,
    /// When it fires next (with jitter), if timed and not exhausted.
    pub next_fire: Option<SystemTime>,
    /// Fires waiting to be run (event triggers), or missed occurrences waiting to be caught up.
    pub pending: u64,
    /// A one-time trigger that fired.
    pub exhausted: bool,
}

/// What consuming a due trigger produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Taken {
    /// The nominal time of the occurrence to run, if one should run.
    pub(crate) run: Option<SystemTime>,
    /// The new last scheduled time to persist, if any.
    pub(crate) persist: Option<SystemTime>,
}

enum StateKind {
    Periodic {
        schedule: Periodic,
        jitter: Jitter,
        missed: MissedRunPolicy,
        /// Nominal time of the next occurrence; `None` when the schedule has ended.
        next: Option<SystemTime>,
        /// `next` plus its jitter, drawn once.
        fire_at: Option<SystemTime>,
        backlog: VecDeque<SystemTime>,
    },
    Event(Arc<Subscription>),
    Once {
        fire_at: SystemTime,
        fired: bool,
    },
}

/// A trigger inside a registered task.
pub(crate) struct TriggerState {
    pub(crate) name: Arc<str>,
    kind: StateKind,
}

impl TriggerState {
    /// Arm `trigger` at `now`; `last` is the persisted last scheduled time of a periodic one.
    pub(crate) fn new(trigger: Trigger, now: SystemTime, last: Option<SystemTime>) -> Self {
        let name: Arc<str> = trigger.name().into();
        let kind = match trigger.kind {
            TriggerKind::Periodic {
                schedule,
                jitter,
                missed,
            } => {
                let next = schedule.next_after(last.unwrap_or(now));
                StateKind::Periodic {
                    fire_at: next.map(|n| n + jitter.sample()),
                    schedule,
                    jitter,
                    missed,
                    next,
                    backlog: VecDeque::new(),
                }
            }
            TriggerKind::Event(sub) => StateKind::Event(sub),
            TriggerKind::Once(after) => StateKind::Once {
                fire_at: now + after,
                fired: false,
            },
        };
        Self { name, kind }
    }

    /// Wake `notify` when an event arrives.
    pub(crate) fn attach(&self, notify: &Arc<Notify>) {
        if let StateKind::Event(sub) = &self.kind {
            *sub.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::downgrade(notify));
        }
    }

    pub(crate) fn is_periodic(&self) -> bool {
        matches!(self.kind, StateKind::Periodic { .. })
    }

    pub(crate) fn is_event(&self) -> bool {
        matches!(self.kind, StateKind::Event(_))
    }

    pub(crate) fn is_due(&self, now: SystemTime) -> bool {
        match &self.kind {
            StateKind::Periodic {
                fire_at, backlog, ..
            } => !backlog.is_empty() || fire_at.is_some_and(|f| f <= now),
            StateKind::Event(sub) => sub.pending() > 0,
            StateKind::Once { fire_at, fired } => !fired && *fire_at <= now,
        }
    }

    pub(crate) fn is_exhausted(&self) -> bool {
        match &self.kind {
            StateKind::Once { fired, .. } => *fired,
            StateKind::Periodic { next, backlog, .. } => next.is_none() && backlog.is_empty(),
            StateKind::Event(_) => false,
        }
    }

    /// When this trigger fires next, if it is timed and not exhausted.
    pub(crate) fn next_fire(&self) -> Option<SystemTime> {
        match &self.kind {
            StateKind::Periodic { fire_at, .. } => *fire_at,
            StateKind::Event(_) => None,
            StateKind::Once { fire_at, fired } => (!fired).then_some(*fire_at),
        }
    }

    /// Consume the due occurrence (or event), applying the missed-run policy.
    pub(crate) fn take(&mut self, now: SystemTime, tolerance: Duration) -> Taken {
        match &mut self.kind {
            StateKind::Periodic {
                schedule,
                jitter,
                missed,
                next,
                fire_at,
                backlog,
            } => {
                if let Some(s) = backlog.pop_front() {
                    return Taken {
                        run: Some(s),
                        persist: None,
                    };
                }
                let (Some(first), Some(fire)) = (*next, *fire_at) else {
                    return Taken {
                        run: None,
                        persist: None,
                    };
                };
                if fire > now {
                    return Taken {
                        run: None,
                        persist: None,
                    };
                };
                let latest = schedule.latest(first, now);
                let late = now.duration_since(fire).unwrap_or_default() > tolerance;
                let run = if latest == first && !late {
                    Some(first)
                } else {
                    match *missed {
                        MissedRunPolicy::RunOnce => Some(latest),
                        MissedRunPolicy::Skip => {
                            let age = now.duration_since(latest).unwrap_or_default();
                            (age <= tolerance && latest > first).then_some(latest)
                        }
                        MissedRunPolicy::CatchUp { max } => {
                            *backlog = schedule.recent(first, latest, max);
                            backlog.pop_front()
                        }
                    }
                };
                *next = schedule.next_after(latest);
                *fire_at = next.map(|n| n + jitter.sample());
                Taken {
                    run,
                    persist: Some(latest),
                }
            }
            StateKind::Event(sub) => Taken {
                run: sub.take_one().then_some(now),
                persist: None,
            },
            StateKind::Once { fire_at, fired } => {
                if *fired || *fire_at > now {
                    return Taken {
                        run: None,
                        persist: None,
                    };
                }
                *fired = true;
                Taken {
                    run: Some(*fire_at),
                    persist: None,
                }
            }
        }
    }

    /// Drop the due occurrence of a periodic trigger because the task is still running
    /// ([`crate::OverlapPolicy::Skip`]); returns the time to persist. Catch-up backlogs,
    /// events and one-time triggers are kept.
    pub(crate) fn skip(&mut self, now: SystemTime) -> Option<SystemTime> {
        let StateKind::Periodic {
            schedule,
            jitter,
            next,
            fire_at,
            backlog,
            ..
        } = &mut self.kind
        else {
            return None;
        };
        if !backlog.is_empty() || !fire_at.is_some_and(|f| f <= now) {
            return None;
        }
        let latest = schedule.latest((*next)?, now);
        *next = schedule.next_after(latest);
        *fire_at = next.map(|n| n + jitter.sample());
        Some(latest)
    }

    pub(crate) fn info(&self) -> TriggerInfo {
        let (kind, pending) = match &self.kind {
            StateKind::Periodic {
                schedule: Periodic::Interval(_),
                backlog,
                ..
            } => (TriggerKindInfo::Interval, backlog.len() as u64),
            StateKind::Periodic { backlog, .. } => (TriggerKindInfo::Cron, backlog.len() as u64),
            StateKind::Event(sub) => (TriggerKindInfo::Event, sub.pending()),
            StateKind::Once { .. } => (TriggerKindInfo::Once, 0),
        };
        TriggerInfo {
            name: self.name.to_string(),
            kind,
            next_fire: self.next_fire(),
            pending,
            exhausted: self.is_exhausted(),
        }
    }
}

#[cfg(test)]
mod tests;
