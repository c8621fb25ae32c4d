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
    // it (no drift), not the dispatch time.
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
    // An invalid cron is refused up front, never kept as a trigger that is never ready.
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
    let trig =
        Trigger::interval(Duration::from_secs(600)).on_missed(MissedRunPolicy::CatchUp { max: 3 });
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
