//! Deadline scheduling: exact sleeps, zero idle wakeups, nudges that are
//! never lost.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use signal_runtime::{Policy, RunContext, Supervisor, Wake, WorkerHandle};
use support::{Counted, Gauge, HOUR_LIMIT, WorkerError, settle, within};
use tokio::sync::Notify;
use tokio::time::Instant;

const IDLE: usize = 10_000;
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// Parks `IDLE` workers that wake every `period`, then lets one simulated
/// hour pass. Returns the polls of all their futures when parked, and after
/// the hour.
async fn idle_hour(period: Duration) -> (u64, u64) {
    let supervisor = Supervisor::new();
    let policy = Arc::new(Policy::new());
    let polls = Arc::new(AtomicU64::new(0));
    let parked = Gauge::default();
    for i in 0..IDLE {
        let (polls, parked) = (Arc::clone(&polls), parked.clone());
        supervisor.spawn(format!("rotate-{i}"), Arc::clone(&policy), move |ctx| {
            let parked = parked.clone();
            let work = async move {
                let mut deadline = Instant::now() + period;
                parked.add(1);
                // Ends on a nudge; every deadline schedules the next one.
                while ctx.sleep_until(deadline).await == Wake::Deadline {
                    deadline += period;
                }
                Ok::<(), WorkerError>(())
            };
            Counted::new(work, Arc::clone(&polls))
        });
    }
    parked.reach(IDLE).await;
    settle().await;
    let at_park = polls.load(Ordering::SeqCst);
    tokio::time::sleep(HOUR).await;
    let after_hour = polls.load(Ordering::SeqCst);
    supervisor.shutdown().await;
    (at_park, after_hour)
}

#[tokio::test(start_paused = true)]
async fn test_idle_deadline_workers_are_not_polled_for_an_hour() {
    within(4 * 366 * 24 * HOUR_LIMIT, async {
        let (at_park, after_hour) = idle_hour(2 * HOUR).await;
        assert_eq!(at_park, IDLE as u64, "one poll each to reach the sleep");
        assert_eq!(after_hour, at_park, "zero polls while idle");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_deadline_workers_are_polled_once_per_deadline() {
    within(4 * 366 * 24 * HOUR_LIMIT, async {
        // Deadlines at 25 and 50 minutes fall inside the hour.
        let (at_park, after_hour) = idle_hour(Duration::from_secs(25 * 60)).await;
        assert_eq!(after_hour - at_park, 2 * IDLE as u64);
    })
    .await;
}

/// A worker that wakes for `deadline` or nudges, does a piece of work after
/// its first wake (held until `release`), and ends on its first deadline.
fn spawn_sleeper(
    supervisor: &Supervisor,
    deadline: Instant,
    working: &Gauge,
    release: &Arc<Notify>,
) -> WorkerHandle<Vec<(Wake, Instant)>, WorkerError> {
    let (working, release) = (working.clone(), Arc::clone(release));
    supervisor.spawn("sleeper", Policy::new(), move |ctx: RunContext| {
        let (working, release) = (working.clone(), Arc::clone(&release));
        async move {
            let mut wakes = Vec::new();
            loop {
                let wake = ctx.sleep_until(deadline).await;
                wakes.push((wake, Instant::now()));
                if wake == Wake::Deadline {
                    return Ok(wakes);
                }
                if wakes.len() == 1 {
                    working.add(1);
                    release.notified().await;
                }
            }
        }
    })
}

#[tokio::test(start_paused = true)]
async fn test_nudges_during_work_are_kept_and_collapse_into_one() {
    within(4 * 366 * 24 * HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let (working, release) = (Gauge::default(), Arc::new(Notify::new()));
        let t0 = Instant::now();
        let worker = spawn_sleeper(&supervisor, t0 + HOUR, &working, &release);
        settle().await;
        let t1 = Instant::now();

        worker.nudge();
        working.reach(1).await;
        // Three nudges while the worker is busy.
        worker.nudge();
        worker.nudge();
        worker.nudge();
        release.notify_one();

        let wakes = worker.join().await.unwrap();
        assert_eq!(
            wakes,
            [
                (Wake::Nudged, t1),
                (Wake::Nudged, t1),
                (Wake::Deadline, t0 + HOUR)
            ]
        );
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_without_a_nudge_during_work_the_worker_sleeps_to_its_deadline() {
    within(4 * 366 * 24 * HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let (working, release) = (Gauge::default(), Arc::new(Notify::new()));
        let t0 = Instant::now();
        let worker = spawn_sleeper(&supervisor, t0 + HOUR, &working, &release);
        settle().await;
        let t1 = Instant::now();

        worker.nudge();
        working.reach(1).await;
        release.notify_one();

        let wakes = worker.join().await.unwrap();
        assert_eq!(wakes, [(Wake::Nudged, t1), (Wake::Deadline, t0 + HOUR)]);
        supervisor.shutdown().await;
    })
    .await;
}

/// Sleeps once to `start + after`; returns why it woke and when, and the
/// polls its future got.
fn spawn_long_sleep(
    supervisor: &Supervisor,
    start: Instant,
    after: Duration,
    polls: &Arc<AtomicU64>,
) -> WorkerHandle<(Wake, Instant), WorkerError> {
    let polls = Arc::clone(polls);
    supervisor.spawn("long-sleep", Policy::new(), move |ctx: RunContext| {
        let work = async move {
            let wake = ctx.sleep_until(start + after).await;
            Ok((wake, Instant::now()))
        };
        Counted::new(work, Arc::clone(&polls))
    })
}

#[tokio::test(start_paused = true)]
async fn test_thirty_day_deadline_fires_exactly_once_and_on_time() {
    within(4 * 366 * 24 * HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let polls = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let worker = spawn_long_sleep(&supervisor, start, 30 * DAY, &polls);

        tokio::time::sleep_until(start + 30 * DAY - Duration::from_secs(1)).await;
        assert!(!worker.is_finished());
        assert_eq!(polls.load(Ordering::SeqCst), 1);

        assert_eq!(
            worker.join().await.unwrap(),
            (Wake::Deadline, start + 30 * DAY)
        );
        assert_eq!(polls.load(Ordering::SeqCst), 2);
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_thirty_day_sleep_is_cut_short_by_a_nudge() {
    within(4 * 366 * 24 * HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let polls = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let worker = spawn_long_sleep(&supervisor, start, 30 * DAY, &polls);

        tokio::time::sleep(10 * DAY).await;
        worker.nudge();
        assert_eq!(
            worker.join().await.unwrap(),
            (Wake::Nudged, start + 10 * DAY)
        );
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_deadline_beyond_the_timer_wheel_still_fires_on_time() {
    within(4 * 366 * 24 * HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let polls = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let three_years = 3 * 365 * DAY;
        let worker = spawn_long_sleep(&supervisor, start, three_years, &polls);
        assert_eq!(
            worker.join().await.unwrap(),
            (Wake::Deadline, start + three_years)
        );
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_park_without_deadline_waits_for_a_nudge_only() {
    within(4 * 366 * 24 * HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let polls = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&polls);
        let worker = supervisor.spawn("parked", Policy::new(), move |ctx: RunContext| {
            Counted::new(
                async move { Ok::<_, WorkerError>(ctx.park(None).await) },
                Arc::clone(&counter),
            )
        });
        tokio::time::sleep(365 * DAY).await;
        assert_eq!(polls.load(Ordering::SeqCst), 1);
        worker.nudge();
        assert_eq!(worker.join().await.unwrap(), Wake::Nudged);
        supervisor.shutdown().await;
    })
    .await;
}
