//! The scheduler's own work per dispatched run (issue 19), as a count of instructions that
//! machine load does not change: `BENCH_SCHED_TASKS` (2,000) interval tasks due at the same
//! instant every second for `BENCH_SCHED_ROUNDS` (5) seconds, on tokio's paused clock (a
//! current-thread runtime: the same work in the same order on every run). Run it under
//! `valgrind --tool=callgrind` with two round counts; the difference of the instruction
//! totals over the difference of the runs is the cost of one run (dispatch, start, record,
//! end). It prints the runs done.

#![allow(clippy::print_stdout, reason = "a benchmark program prints its result")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use scheduler::{
    Clock, MemoryStore, Scheduler, SchedulerConfig, SchedulerStore, TaskSpec, TokioClock, Trigger,
};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {v:?}"))
    })
}

async fn rounds(tasks: u64, rounds: u64) -> u64 {
    let epoch = SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000);
    let store = Arc::new(MemoryStore::new());
    let slots = usize::try_from(tasks).expect("task count").max(1);
    let s = Scheduler::builder(SchedulerConfig::new(slots))
        .store(Arc::clone(&store) as Arc<dyn SchedulerStore>)
        .clock(Arc::new(TokioClock::starting_at(epoch)) as Arc<dyn Clock>)
        .build()
        .expect("config");
    let runs = Arc::new(AtomicU64::new(0));
    for i in 0..tasks {
        let name = format!("bench-{i}");
        let trigger = Trigger::interval(Duration::from_secs(1));
        store
            .set_last_scheduled(&name, &trigger.name(), epoch)
            .await
            .expect("seed the store");
        let r = Arc::clone(&runs);
        let spec = TaskSpec::new(name, move |_| {
            r.fetch_add(1, Ordering::Relaxed);
            async { Ok(()) }
        })
        .trigger(trigger);
        s.add_task(spec).await.expect("add task");
    }
    s.start().expect("start");
    tokio::time::sleep(Duration::from_secs(rounds) + Duration::from_millis(500)).await;
    s.stop(Duration::from_secs(5)).await;
    runs.load(Ordering::Relaxed)
}

fn main() {
    let tasks = env_u64("BENCH_SCHED_TASKS", 2_000);
    let n = env_u64("BENCH_SCHED_ROUNDS", 5);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    let runs = rt.block_on(rounds(tasks, n));
    println!("runs {runs} (expected {})", tasks * n);
}
