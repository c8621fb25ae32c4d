//! Triggers (what makes a task run) and their per-task state.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use rand::RngExt;
use tokio::sync::Notify;

use crate::cron::CronSchedule;
use crate::error::SchedulerError;
use crate::task::duration_nanos;

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
mod tests {
    use super::*;

    const TOL: Duration = Duration::from_secs(5);

    fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn t1_interval() {
        let mut s = TriggerState::new(Trigger::interval(ms(100)), t0(), None);
        assert!(!s.is_due(t0()));
        assert!(s.is_due(t0() + ms(101)));
        assert!(s.is_due(t0() + ms(151)), "still due until consumed");
        // Consumed late: the occurrence keeps its nominal time and the next one follows
        // it (no drift), unlike DMS which re-armed from the dispatch time.
        let taken = s.take(t0() + ms(151), TOL);
        assert_eq!(taken.run, Some(t0() + ms(100)));
        assert_eq!(taken.persist, Some(t0() + ms(100)));
        assert!(!s.is_due(t0() + ms(199)));
        assert!(s.is_due(t0() + ms(200)));
        assert_eq!(s.next_fire(), Some(t0() + ms(200)));
    }

    #[test]
    fn t2_every_expression_is_an_interval() {
        let trig = Trigger::cron("@every 1s", "UTC").expect("@every");
        assert_eq!(trig.name(), "interval:1s");
        let s = TriggerState::new(trig, t0(), None);
        assert!(!s.is_due(t0()));
        assert!(s.is_due(t0() + ms(1100)));
        let e = Trigger::cron("@every soon", "UTC").expect_err("bad");
        assert!(matches!(e, SchedulerError::InvalidInterval { .. }), "{e:?}");
    }

    #[test]
    fn t2_cron_every_second() {
        let start = t0() + ms(500);
        let mut s = TriggerState::new(
            Trigger::cron("* * * * * *", "UTC").expect("cron"),
            start,
            None,
        );
        assert!(!s.is_due(start));
        assert!(s.is_due(start + ms(600)));
        let taken = s.take(start + ms(600), TOL);
        assert_eq!(taken.run, Some(t0() + ms(1000)));
        assert!(!s.is_due(start + ms(1000)));
        assert!(s.is_due(t0() + ms(2000)));
    }

    #[test]
    fn t3_jitter_drawn_once_and_never_moves_the_nominal_time() {
        let trig = Trigger::interval(ms(100)).with_jitter(Jitter::Fixed(ms(50)));
        let mut s = TriggerState::new(trig, t0(), None);
        assert!(!s.is_due(t0() + ms(149)));
        assert!(s.is_due(t0() + ms(151)));
        assert_eq!(s.take(t0() + ms(151), TOL).run, Some(t0() + ms(100)));
        assert_eq!(s.next_fire(), Some(t0() + ms(250)));

        let trig = Trigger::interval(ms(100)).with_jitter(Jitter::UpTo(ms(40)));
        let s = TriggerState::new(trig, t0(), None);
        let f = s.next_fire().expect("fire");
        assert!(f >= t0() + ms(100) && f <= t0() + ms(140));
        assert_eq!(s.next_fire(), Some(f), "the draw is kept, not re-sampled");
    }

    #[test]
    fn t4_event() {
        let h = EventHandle::new();
        let mut s = TriggerState::new(Trigger::event(&h), t0(), None);
        assert!(!s.is_due(t0()));
        assert_eq!(h.fire(), 1);
        assert!(s.is_due(t0()));
        assert_eq!(s.take(t0(), TOL).run, Some(t0()));
        assert!(!s.is_due(t0()));
        // Two fires are two runs.
        h.fire();
        h.fire();
        assert_eq!(s.info().pending, 2);
        assert!(s.take(t0(), TOL).run.is_some());
        assert!(s.take(t0(), TOL).run.is_some());
        assert!(s.take(t0(), TOL).run.is_none());
        assert!(s.skip(t0()).is_none(), "skipping never drops an event");
        drop(s);
        assert_eq!(h.fire(), 0);
    }

    #[test]
    fn t5_once() {
        let mut s = TriggerState::new(Trigger::once(ms(50)), t0(), None);
        assert!(!s.is_due(t0()));
        assert!(s.is_due(t0() + ms(51)));
        assert_eq!(s.take(t0() + ms(51), TOL).run, Some(t0() + ms(50)));
        assert!(!s.is_due(t0() + ms(5000)));
        assert!(s.is_exhausted());
        // Re-arming is adding it again.
        let t1 = t0() + ms(1000);
        let s = TriggerState::new(Trigger::once(ms(50)), t1, None);
        assert!(!s.is_due(t1));
        assert!(s.is_due(t1 + ms(50)));
    }

    #[test]
    fn t6_periodic_and_invalid_cron_is_an_error() {
        let s = TriggerState::new(Trigger::interval(Duration::from_secs(1)), t0(), None);
        assert!(s.is_due(t0() + Duration::from_secs(2)));
        let s = TriggerState::new(
            Trigger::cron("@every 1s", "UTC").expect("every"),
            t0(),
            None,
        );
        assert!(s.is_due(t0() + Duration::from_secs(2)));
        // DMS treated an invalid cron as "never ready", silently; we reject it up front.
        let e = Trigger::cron("not a cron", "UTC").expect_err("invalid");
        assert!(matches!(e, SchedulerError::InvalidCron { .. }), "{e:?}");
        assert!(e.is_config_error());
    }

    #[test]
    fn t7_once_after_delay() {
        let s = TriggerState::new(Trigger::once(Duration::from_secs(1)), t0(), None);
        assert!(s.is_due(t0() + Duration::from_secs(2)));
    }

    #[test]
    fn missed_run_once_coalesces() {
        let last = t0() - Duration::from_secs(3600);
        let mut s = TriggerState::new(
            Trigger::interval(Duration::from_secs(600)),
            t0(),
            Some(last),
        );
        assert!(s.is_due(t0()));
        let taken = s.take(t0(), TOL);
        assert_eq!(
            taken.run,
            Some(t0()),
            "the latest of the 6 missed occurrences"
        );
        assert_eq!(taken.persist, Some(t0()));
        assert!(!s.is_due(t0() + ms(1)));
        assert_eq!(s.next_fire(), Some(t0() + Duration::from_secs(600)));
    }

    #[test]
    fn missed_skip_drops_stale_occurrences() {
        let last = t0() - Duration::from_secs(3600);
        let now = t0() + Duration::from_secs(60);
        let trig = Trigger::interval(Duration::from_secs(600)).on_missed(MissedRunPolicy::Skip);
        let mut s = TriggerState::new(trig, now, Some(last));
        let taken = s.take(now, TOL);
        assert_eq!(taken.run, None);
        assert_eq!(taken.persist, Some(t0()));
        assert_eq!(s.next_fire(), Some(t0() + Duration::from_secs(600)));
        // Within the tolerance the latest still runs.
        let trig = Trigger::interval(Duration::from_secs(600)).on_missed(MissedRunPolicy::Skip);
        let mut s = TriggerState::new(trig, t0(), Some(last));
        assert_eq!(s.take(t0() + Duration::from_secs(1), TOL).run, Some(t0()));
    }

    #[test]
    fn missed_catch_up_is_bounded_and_oldest_first() {
        let last = t0() - Duration::from_secs(3600);
        let trig = Trigger::interval(Duration::from_secs(600))
            .on_missed(MissedRunPolicy::CatchUp { max: 3 });
        let mut s = TriggerState::new(trig, t0(), Some(last));
        let runs: Vec<_> = (0..4).map(|_| s.take(t0(), TOL).run).collect();
        let m = |n: u64| Some(t0() - Duration::from_secs(n));
        assert_eq!(runs, [m(1200), m(600), m(0), None]);
        assert!(!s.is_due(t0()));
    }

    #[test]
    fn skip_for_overlap_advances_past_now() {
        let mut s = TriggerState::new(Trigger::interval(ms(100)), t0(), None);
        assert_eq!(s.skip(t0() + ms(50)), None, "not due yet");
        assert_eq!(s.skip(t0() + ms(350)), Some(t0() + ms(300)));
        assert_eq!(s.next_fire(), Some(t0() + ms(400)));
    }
}
