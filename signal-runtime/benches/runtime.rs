//! Costs of the runtime: memory per idle supervised worker, polls while
//! idle, nudge-to-run latency, and the cost of a reconnect storm.
//!
//! Run with `cargo bench -p signal-runtime --bench runtime`.
//! Prints a Markdown table.

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use signal_core::{Signal, kind};
use signal_runtime::{Policy, Reaction, Resource, Supervisor, Wake};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::Notify;
use tokio::time::Instant;

// ---------------------------------------------------------------------------
// Counting allocator.

struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; the counters
// are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Clone, Copy)]
struct Heap {
    bytes: usize,
    allocations: usize,
}

impl Heap {
    fn now() -> Heap {
        Heap {
            bytes: LIVE_BYTES.load(Ordering::Relaxed),
            allocations: ALLOCATIONS.load(Ordering::Relaxed),
        }
    }

    fn since(self, before: Heap) -> Heap {
        Heap {
            bytes: self.bytes.saturating_sub(before.bytes),
            allocations: self.allocations - before.allocations,
        }
    }

    fn less(self, other: Heap) -> Heap {
        Heap {
            bytes: self.bytes.saturating_sub(other.bytes),
            allocations: self.allocations.saturating_sub(other.allocations),
        }
    }

    fn per(self, n: usize) -> Heap {
        Heap {
            bytes: self.bytes / n,
            allocations: self.allocations / n,
        }
    }
}

// ---------------------------------------------------------------------------
// A worker's error and pool.

kind! {
    /// The pool was dropped.
    NeedsDbReconnect;
}

#[derive(Debug, Signal)]
enum BenchError {
    #[signal(leaf = "NeedsDbReconnect")]
    PoolDropped,
}

#[derive(Default)]
struct Pool {
    dead: AtomicBool,
    dropped: Notify,
}

impl Pool {
    async fn serve(&self) -> Result<(), BenchError> {
        let dropped = self.dropped.notified();
        if !self.dead.load(Ordering::SeqCst) {
            dropped.await;
        }
        Err(BenchError::PoolDropped)
    }
}

/// Counts polls of a future.
struct Counted<F> {
    inner: F,
    polls: Arc<AtomicU64>,
}

impl<F: Future + Unpin> Future for Counted<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.fetch_add(1, Ordering::Relaxed);
        Pin::new(&mut self.inner).poll(cx)
    }
}

/// A counter that can be waited on without busy-polling (which would keep a
/// paused clock from advancing).
#[derive(Clone, Default)]
struct Gauge {
    count: Arc<AtomicUsize>,
    changed: Arc<Notify>,
}

impl Gauge {
    fn add(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    async fn reach(&self, target: usize) {
        loop {
            let changed = self.changed.notified();
            if self.count.load(Ordering::SeqCst) >= target {
                return;
            }
            changed.await;
        }
    }
}

fn paused_runtime() -> Runtime {
    Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a tokio runtime")
}

const WORKERS: usize = 10_000;
const HOUR: Duration = Duration::from_secs(3600);

// ---------------------------------------------------------------------------
// Measurements.

struct Idle {
    per_worker: Heap,
    bare_per_task: Heap,
    polls_per_hour: u64,
    wall_per_hour: Duration,
}

/// 10,000 supervised workers parked on a 30-day deadline: heap growth,
/// measured side by side with bare tokio tasks doing the same sleep; then
/// polls during one simulated hour (of workers whose futures count their
/// polls, measured apart so that the counting wrapper is not in the heap
/// figure).
fn idle_workers() -> Idle {
    let runtime = paused_runtime();
    runtime.block_on(async {
        let policy = Arc::new(Policy::new());

        // Warm-up: the runtime's queues grow to hold 10,000 tasks once, so
        // that neither measurement below pays for it.
        let warm: Vec<_> = (0..WORKERS).map(|_| tokio::spawn(async {})).collect();
        for task in warm {
            task.await.expect("a no-op task");
        }

        // Supervised workers, as a user would write them: a name and an
        // async closure that sleeps to its deadline.
        let parked = Gauge::default();
        let supervisor = Supervisor::new();
        let before = Heap::now();
        let mut handles = Vec::with_capacity(WORKERS);
        let handles_vec = Heap::now().since(before);
        for i in 0..WORKERS {
            let parked = parked.clone();
            handles.push(supervisor.spawn(
                format!("rotate-{i:05}"),
                Arc::clone(&policy),
                async move |ctx| {
                    let mut deadline = Instant::now() + 30 * 24 * HOUR;
                    parked.add();
                    while ctx.sleep_until(deadline).await == Wake::Deadline {
                        deadline += 30 * 24 * HOUR;
                    }
                    Ok::<(), BenchError>(())
                },
            ));
        }
        parked.reach(WORKERS).await;
        let per_worker = Heap::now().since(before).less(handles_vec).per(WORKERS);
        supervisor.shutdown().await;
        drop(handles);

        // Baseline: a bare tokio task doing the same sleep, woken by a Notify.
        let parked = Gauge::default();
        let before = Heap::now();
        let mut bare = Vec::with_capacity(WORKERS);
        let bare_vec = Heap::now().since(before);
        for _ in 0..WORKERS {
            let parked = parked.clone();
            let nudge = Arc::new(Notify::new());
            let task_nudge = Arc::clone(&nudge);
            bare.push((
                tokio::spawn(async move {
                    parked.add();
                    tokio::select! {
                        () = task_nudge.notified() => {}
                        () = tokio::time::sleep_until(Instant::now() + 30 * 24 * HOUR) => {}
                    }
                }),
                nudge,
            ));
        }
        parked.reach(WORKERS).await;
        let bare_per_task = Heap::now().since(before).less(bare_vec).per(WORKERS);
        for (task, _) in &bare {
            task.abort();
        }
        drop(bare);

        // Polls while idle.
        let parked = Gauge::default();
        let polls = Arc::new(AtomicU64::new(0));
        let supervisor = Supervisor::new();
        let handles: Vec<_> = (0..WORKERS)
            .map(|i| {
                let (parked, polls) = (parked.clone(), Arc::clone(&polls));
                supervisor.spawn(format!("rotate-{i:05}"), Arc::clone(&policy), move |ctx| {
                    let parked = parked.clone();
                    let work = Box::pin(async move {
                        let mut deadline = Instant::now() + 30 * 24 * HOUR;
                        parked.add();
                        while ctx.sleep_until(deadline).await == Wake::Deadline {
                            deadline += 30 * 24 * HOUR;
                        }
                        Ok::<(), BenchError>(())
                    });
                    Counted {
                        inner: work,
                        polls: Arc::clone(&polls),
                    }
                })
            })
            .collect();
        parked.reach(WORKERS).await;
        let polls_parked = polls.load(Ordering::SeqCst);
        let wall = std::time::Instant::now();
        tokio::time::sleep(HOUR).await;
        let wall_per_hour = wall.elapsed();
        let polls_per_hour = polls.load(Ordering::SeqCst) - polls_parked;
        supervisor.shutdown().await;
        drop(handles);

        Idle {
            per_worker,
            bare_per_task,
            polls_per_hour,
            wall_per_hour,
        }
    })
}

/// Wall-clock time from `nudge()` to the worker running, on a real clock.
fn nudge_latency(runtime: &Runtime, rounds: usize) -> (Duration, Duration) {
    runtime.block_on(async {
        let supervisor = Supervisor::new();
        let woke = Arc::new(Notify::new());
        let woke_at = Arc::new(std::sync::Mutex::new(None));
        let (worker_woke, worker_woke_at) = (Arc::clone(&woke), Arc::clone(&woke_at));
        let worker = supervisor.spawn("nudged", Policy::new(), move |ctx| {
            let (woke, woke_at) = (Arc::clone(&worker_woke), Arc::clone(&worker_woke_at));
            async move {
                // Every nudge is timed; the 30-day deadline never comes.
                while ctx.sleep_until(Instant::now() + 30 * 24 * HOUR).await == Wake::Nudged {
                    *woke_at.lock().unwrap() = Some(std::time::Instant::now());
                    woke.notify_one();
                }
                Ok::<(), BenchError>(())
            }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let mut samples = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let sent = std::time::Instant::now();
            worker.nudge();
            woke.notified().await;
            let at = woke_at.lock().unwrap().take().expect("woke");
            samples.push(at - sent);
        }
        supervisor.shutdown().await;
        samples.sort();
        (samples[rounds / 2], samples[rounds * 99 / 100])
    })
}

struct Storm {
    rebuilds: u64,
    requests: u64,
    wall: Duration,
    simulated: Duration,
    per_worker: Heap,
}

/// 10,000 workers lose the same pool at once.
fn reconnect_storm() -> Storm {
    let runtime = paused_runtime();
    runtime.block_on(async {
        let db = Resource::new("db", Pool::default(), || async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok::<_, std::io::Error>(Pool::default())
        });
        let policy = Arc::new(Policy::new().on::<NeedsDbReconnect>(Reaction::rebuild(&db)));
        let supervisor = Supervisor::new();
        let (started, resumed) = (Gauge::default(), Gauge::default());
        let handles: Vec<_> = (0..WORKERS)
            .map(|i| {
                let (db, started, resumed) = (db.clone(), started.clone(), resumed.clone());
                supervisor.spawn(format!("sync-{i:05}"), Arc::clone(&policy), move |ctx| {
                    let (db, started, resumed) = (db.clone(), started.clone(), resumed.clone());
                    async move {
                        let pool = ctx.lease(&db);
                        if ctx.attempt() == 0 {
                            started.add();
                        } else {
                            resumed.add();
                        }
                        pool.serve().await
                    }
                })
            })
            .collect();
        started.reach(WORKERS).await;

        let heap = Heap::now();
        let wall = std::time::Instant::now();
        let simulated = Instant::now();
        let pool = db.get();
        pool.dead.store(true, Ordering::SeqCst);
        pool.dropped.notify_waiters();
        drop(pool);
        resumed.reach(WORKERS).await;
        let storm = Storm {
            rebuilds: db.stats().rebuilds,
            requests: db.stats().requests,
            wall: wall.elapsed(),
            simulated: Instant::now() - simulated,
            per_worker: {
                let used = Heap::now().since(heap);
                Heap {
                    bytes: used.bytes / WORKERS,
                    allocations: used.allocations / WORKERS,
                }
            },
        };
        supervisor.shutdown().await;
        drop(handles);
        storm
    })
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    let idle = idle_workers();
    let current = Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let (current_median, current_p99) = nudge_latency(&current, 10_000);
    let multi = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let (multi_median, multi_p99) = nudge_latency(&multi, 10_000);
    let storm = reconnect_storm();

    println!("| measurement | value |");
    println!("| --- | --- |");
    println!(
        "| heap per idle supervised deadline worker ({WORKERS} workers) | {} B in {} allocations |",
        idle.per_worker.bytes, idle.per_worker.allocations
    );
    println!(
        "| heap per bare tokio task with the same sleep and a Notify (baseline) | {} B in {} allocations |",
        idle.bare_per_task.bytes, idle.bare_per_task.allocations
    );
    println!(
        "| idle supervised worker / bare task (heap bytes) | {:.2}× |",
        idle.per_worker.bytes as f64 / idle.bare_per_task.bytes as f64
    );
    println!(
        "| polls per simulated idle hour ({WORKERS} parked workers) | {} |",
        idle.polls_per_hour
    );
    println!(
        "| wall time to advance one idle hour | {} |",
        micros(idle.wall_per_hour)
    );
    println!(
        "| nudge-to-run latency, current-thread runtime (median / p99) | {} / {} |",
        micros(current_median),
        micros(current_p99)
    );
    println!(
        "| nudge-to-run latency, 2-thread runtime (median / p99) | {} / {} |",
        micros(multi_median),
        micros(multi_p99)
    );
    println!(
        "| reconnect storm ({WORKERS} workers): rebuilds / rebuild requests | {} / {} |",
        storm.rebuilds, storm.requests
    );
    println!(
        "| reconnect storm: wall time until every worker resumed | {:.1} ms ({} ms simulated, the rebuild's own 50 ms) |",
        storm.wall.as_secs_f64() * 1e3,
        storm.simulated.as_millis()
    );
    println!(
        "| reconnect storm: heap growth per worker | {} B in {} allocations |",
        storm.per_worker.bytes, storm.per_worker.allocations
    );
}
