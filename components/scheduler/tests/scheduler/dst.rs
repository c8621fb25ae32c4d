//! Cron in an IANA zone across daylight-saving changes, driven by the scheduler on a
//! simulated clock (Europe/Zurich, a job at 02:30 every day).

use std::time::{Duration, SystemTime};

use chrono::DateTime;
use scheduler::{TaskSpec, Trigger};

use super::{config, history, ms, scheduler_at};

fn utc(s: &str) -> SystemTime {
    SystemTime::from(DateTime::parse_from_rfc3339(s).expect("rfc3339"))
}

async fn runs_from(start: &str, days: u64) -> Vec<String> {
    let (s, _store, _clock) = scheduler_at(config(1, Duration::from_secs(3600)), utc(start));
    s.add_task(
        TaskSpec::new("nightly", |_| async { Ok(()) })
            .trigger(Trigger::cron("30 2 * * *", "Europe/Zurich").expect("cron")),
    )
    .await
    .expect("add");
    s.start().expect("start");
    tokio::time::sleep(Duration::from_secs(days * 86_400)).await;
    s.stop(ms(100)).await;
    history(&s, "nightly")
        .await
        .iter()
        .map(|r| {
            assert_eq!(r.started_at, r.scheduled_for, "ran on time");
            DateTime::<chrono::Utc>::from(r.scheduled_for).to_rfc3339()
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn dst_spring_forward_runs_once_at_the_end_of_the_gap() {
    // 2025-03-30: 02:00 CET jumps to 03:00 CEST, so 02:30 does not exist that day.
    assert_eq!(
        runs_from("2025-03-29T12:00:00Z", 3).await,
        [
            "2025-03-30T01:00:00+00:00", // 03:00 CEST
            "2025-03-31T00:30:00+00:00", // 02:30 CEST
            "2025-04-01T00:30:00+00:00",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn dst_fall_back_runs_the_repeated_time_once() {
    // 2025-10-26: 03:00 CEST falls back to 02:00 CET, so 02:30 happens twice.
    assert_eq!(
        runs_from("2025-10-25T12:00:00Z", 3).await,
        [
            "2025-10-26T00:30:00+00:00", // 02:30 CEST, the first pass only
            "2025-10-27T01:30:00+00:00", // 02:30 CET
            "2025-10-28T01:30:00+00:00",
        ]
    );
}
