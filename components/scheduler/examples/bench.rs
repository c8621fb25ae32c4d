//! Scheduler benchmark (issue 8): 10,000 interval tasks due every second.
//!
//! `cargo run --release -p scheduler --example bench` prints a markdown table:
//! - busy: `BENCH_SCHED_TASKS` (10,000) tasks on a 1 s interval (no jitter, `max_running` =
//!   the task count), trivial bodies that record `now - scheduled_for` (dispatch lag) in a
//!   lock-free histogram. The store is seeded with the same last scheduled time for every
//!   task, so all of them fall due at the same instant every second (the worst case: one
//!   burst of 10,000 runs, not runs spread over the time it took to add the tasks).
//!   Measured over `BENCH_SCHED_SECS` (30) whole seconds, from the middle of a second after
//!   a warm-up: process CPU time (getrusage) over wall time (the share of one core), lag
//!   p50/p99/max, runs done vs expected;
//! - idle: the same number of tasks on a 1 h interval (nothing due), CPU over
//!   `BENCH_SCHED_IDLE_SECS` (10) seconds.
//!
//! The store is the in-memory one (the scheduler's own cost, not a database's).

#![allow(clippy::print_stdout, reason = "a benchmark program prints its table")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::resource::{UsageWho, getrusage};
use scheduler::{MemoryStore, Scheduler, SchedulerConfig, SchedulerStore, TaskSpec, Trigger};

/// Log-linear histogram of microseconds: exact below 1024 µs, then 512 buckets per power of
/// two (under 0.2 % error). Recording is one relaxed atomic add.
struct Histogram {
    buckets: Vec<AtomicU64>,
    max: AtomicU64,
    count: AtomicU64,
}

const SUB: u32 = 512;

impl Histogram {
    fn new() -> Self {
        Self {
            buckets: (0..(2 * SUB as usize) + 64 * SUB as usize)
                .map(|_| AtomicU64::new(0))
                .collect(),
            max: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    fn index(v: u64) -> usize {
        if v < 2 * u64::from(SUB) {
            return v as usize;
        }
        let shift = 63 - v.leading_zeros() - SUB.trailing_zeros();
        (shift * SUB) as usize + (v >> shift) as usize
    }

    fn lower_bound(idx: usize) -> u64 {
        let sub = SUB as usize;
        if idx < 2 * sub {
            return idx as u64;
        }
        let shift = idx / sub - 1;
        ((idx - shift * sub) as u64) << shift
    }

    fn record(&self, micros: u64) {
        self.buckets[Self::index(micros)].fetch_add(1, Ordering::Relaxed);
        self.max.fetch_max(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn reset(&self) {
        for b in &self.buckets {
            b.store(0, Ordering::Relaxed);
        }
        self.max.store(0, Ordering::Relaxed);
        self.count.store(0, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// The value at quantile `q` (0..=1), as the lower bound of its bucket.
    fn quantile(&self, q: f64) -> u64 {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::lower_bound(i);
            }
        }
        self.max()
    }
}

fn cpu_time() -> Duration {
    let u = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage");
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    tv(u.user_time()) + tv(u.system_time())
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {v:?}")),
        Err(_) => default,
    }
}

/// CPU time and wall time over `secs` seconds from now.
async fn measure(secs: u64, hist: Option<&Histogram>) -> (Duration, Duration) {
    if let Some(h) = hist {
        h.reset();
    }
    let (c0, w0) = (cpu_time(), Instant::now());
    tokio::time::sleep(Duration::from_secs(secs)).await;
    (cpu_time() - c0, w0.elapsed())
}

/// A scheduler whose `n` tasks run every `every`, all in phase: the store says each one
/// last ran at `base`.
async fn scheduler_with_tasks(
    n: u64,
    every: Duration,
    base: SystemTime,
    hist: &Arc<Histogram>,
) -> Scheduler {
    let slots = usize::try_from(n).expect("task count").max(1);
    let store = Arc::new(MemoryStore::new());
    let s = Scheduler::builder(SchedulerConfig::new(slots))
        .store(Arc::clone(&store) as Arc<dyn SchedulerStore>)
        .build()
        .expect("config");
    for i in 0..n {
        let name = format!("bench-{i}");
        let trigger = Trigger::interval(every);
        store
            .set_last_scheduled(&name, &trigger.name(), base)
            .await
            .expect("seed the store");
        let h = Arc::clone(hist);
        let spec = TaskSpec::new(name, move |ctx| {
            let lag = SystemTime::now()
                .duration_since(ctx.scheduled_for())
                .unwrap_or_default();
            h.record(u64::try_from(lag.as_micros()).unwrap_or(u64::MAX));
            async { Ok(()) }
        })
        .trigger(trigger);
        s.add_task(spec).await.expect("add task");
    }
    s
}

/// Sleep until the wall clock reads `t`.
async fn sleep_until(t: SystemTime) {
    let d = t.duration_since(SystemTime::now()).unwrap_or_default();
    tokio::time::sleep(d).await;
}

fn ms(micros: u64) -> String {
    format!("{:.2} ms", micros as f64 / 1000.0)
}

fn share(cpu: Duration, wall: Duration) -> String {
    format!("{:.2} %", 100.0 * cpu.as_secs_f64() / wall.as_secs_f64())
}

#[tokio::main]
async fn main() {
    let tasks = env_u64("BENCH_SCHED_TASKS", 10_000);
    let secs = env_u64("BENCH_SCHED_SECS", 30);
    let idle_secs = env_u64("BENCH_SCHED_IDLE_SECS", 10);
    let hist = Arc::new(Histogram::new());

    // Busy: every task due every second, all at the same instant.
    let base = SystemTime::now() + Duration::from_secs(1);
    let t_add = Instant::now();
    let s = scheduler_with_tasks(tasks, Duration::from_secs(1), base, &hist).await;
    let add_time = t_add.elapsed();
    s.start().expect("start");
    // Warm up, then measure whole seconds from the middle of one.
    let warm = ((add_time.as_secs() + 3) as u32) * Duration::from_secs(1);
    sleep_until(base + warm + Duration::from_millis(500)).await;
    let (cpu, wall) = measure(secs, Some(&hist)).await;
    let runs = hist.count();
    let (p50, p99, max) = (hist.quantile(0.50), hist.quantile(0.99), hist.max());
    let stop = s.stop(Duration::from_secs(5)).await;
    assert!(!stop.forced, "trivial runs end within the grace period");
    drop(s);

    // Idle: nothing due for an hour.
    let idle =
        scheduler_with_tasks(tasks, Duration::from_secs(3600), SystemTime::now(), &hist).await;
    idle.start().expect("start");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (idle_cpu, idle_wall) = measure(idle_secs, None).await;
    idle.stop(Duration::from_secs(5)).await;

    let expected = tasks * secs;
    println!("## Scheduler: {tasks} interval tasks");
    println!();
    println!(
        "`cargo run --release -p scheduler --example bench`: {tasks} tasks on a 1 s interval \
         (no jitter, all in phase so that they fall due at the same instant every second, \
         `max_running` {tasks}, in-memory store, trivial bodies), measured over {secs} s \
         after a warm-up; then the same number of tasks on a 1 h interval (nothing due) \
         for {idle_secs} s. CPU is the process's \
         user + system time over wall time (100 % = one core busy); dispatch lag is \
         `start of the body - scheduled time`. Adding the {tasks} tasks took {:.0} ms.",
        add_time.as_secs_f64() * 1000.0
    );
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| CPU, {tasks} tasks due every second | {} |",
        share(cpu, wall)
    );
    println!("| dispatch lag p50 | {} |", ms(p50));
    println!("| dispatch lag p99 | {} |", ms(p99));
    println!("| dispatch lag max | {} |", ms(max));
    println!("| runs done / expected | {runs} / {expected} |");
    println!(
        "| CPU idle, {tasks} tasks, nothing due | {} |",
        share(idle_cpu, idle_wall)
    );
}
