//! Single-flight rebuilds of a shared resource.

mod support;

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use signal_runtime::{
    Backoff, Intensity, Phase, Policy, Reaction, Resource, Supervisor, SupervisorError,
    WorkerHandle,
};
use support::{
    Events, Gauge, HOUR_LIMIT, NeedsDbReconnect, Pool, Retryable, StorageError, WorkerError,
    settle, within,
};
use tokio::time::Instant;

const WORKERS: usize = 1_000;

/// A pool resource whose rebuild takes 50 ms, so the whole storm arrives
/// while it runs.
fn pool() -> Resource<Pool> {
    Resource::new("db", Pool::default(), || async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok::<_, io::Error>(Pool::default())
    })
}

fn policy(db: &Resource<Pool>) -> Arc<Policy> {
    Arc::new(
        Policy::new()
            .on::<NeedsDbReconnect>(Reaction::rebuild(db))
            .on::<Retryable>(Reaction::Retry)
            .backoff(Backoff::new(
                Duration::from_millis(100),
                Duration::from_secs(1),
            ))
            .intensity(Intensity::new(1_000, Duration::from_secs(60))),
    )
}

/// Spawns `n` workers serving `db`; `first` counts runs on generation 0,
/// `resumed` the runs after it.
fn serve_all(
    supervisor: &Supervisor,
    db: &Resource<Pool>,
    policy: &Arc<Policy>,
    n: usize,
    first: &Gauge,
    resumed: &Gauge,
) -> Vec<WorkerHandle<(), WorkerError>> {
    (0..n)
        .map(|i| {
            let (db, first, resumed) = (db.clone(), first.clone(), resumed.clone());
            supervisor.spawn(format!("sync-{i}"), Arc::clone(policy), move |ctx| {
                let (db, first, resumed) = (db.clone(), first.clone(), resumed.clone());
                async move {
                    let pool = ctx.lease(&db);
                    if ctx.attempt() == 0 {
                        first.add(1);
                    } else {
                        resumed.add(1);
                    }
                    pool.serve().await
                }
            })
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn test_reconnect_storm_rebuilds_once_and_every_worker_resumes() {
    within(2 * HOUR_LIMIT, async {
        let db = pool();
        let supervisor = Supervisor::new();
        let (first, resumed) = (Gauge::default(), Gauge::default());
        let handles = serve_all(&supervisor, &db, &policy(&db), WORKERS, &first, &resumed);
        first.reach(WORKERS).await;

        db.get().drop_connection();
        resumed.reach(WORKERS).await;

        let stats = db.stats();
        assert_eq!(stats.rebuilds, 1, "{stats:?}");
        assert_eq!(stats.attempts, 1, "{stats:?}");
        assert_eq!(stats.requests, WORKERS as u64, "{stats:?}");
        assert_eq!(stats.generation, 1);
        assert!(!stats.rebuilding);
        for handle in &handles {
            let status = handle.status();
            assert_eq!((status.runs, status.failures), (2, 1));
            assert_eq!(status.phase, Phase::Running);
        }
        assert!(db.get().is_alive());
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_non_reconnect_error_causes_no_rebuild() {
    within(2 * HOUR_LIMIT, async {
        let db = pool();
        let supervisor = Supervisor::new();
        let (first, resumed) = (Gauge::default(), Gauge::default());
        let handles = serve_all(&supervisor, &db, &policy(&db), WORKERS, &first, &resumed);
        first.reach(WORKERS).await;

        db.get().blip(); // every worker fails with `Busy`, which is only Retryable
        resumed.reach(WORKERS).await;

        let stats = db.stats();
        assert_eq!(stats.rebuilds, 0, "{stats:?}");
        assert_eq!(stats.requests, 0, "{stats:?}");
        assert_eq!(stats.generation, 0);
        for handle in &handles {
            let status = handle.status();
            assert_eq!((status.runs, status.failures), (2, 1));
            assert!(status.retry.last_delay.is_some(), "backed off: {status:?}");
        }
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_failing_rebuild_backs_off_instead_of_spinning() {
    within(2 * HOUR_LIMIT, async {
        let tried_at = Arc::new(Mutex::new(Vec::new()));
        let calls = Arc::new(AtomicU32::new(0));
        let db = {
            let (tried_at, calls) = (Arc::clone(&tried_at), Arc::clone(&calls));
            Resource::builder("db")
                .backoff(
                    Backoff::new(Duration::from_secs(1), Duration::from_secs(8)).with_jitter(0.0),
                )
                .build(Pool::default(), move || {
                    tried_at.lock().unwrap().push(Instant::now());
                    let call = calls.fetch_add(1, Ordering::SeqCst);
                    async move {
                        if call < 4 {
                            Err(io::Error::other("database unreachable"))
                        } else {
                            Ok(Pool::default())
                        }
                    }
                })
        };
        let supervisor = Supervisor::new();
        let (first, resumed) = (Gauge::default(), Gauge::default());
        serve_all(&supervisor, &db, &policy(&db), 100, &first, &resumed);
        first.reach(100).await;

        let dropped_at = Instant::now();
        db.get().drop_connection();
        // Every worker comes back on the rebuilt pool: `resumed` counts all runs
        // after the first, so wait until no worker is failing any more.
        while db.generation() == 0 {
            settle().await;
        }
        settle().await;

        let offsets: Vec<u64> = tried_at
            .lock()
            .unwrap()
            .iter()
            .map(|at| at.duration_since(dropped_at).as_secs())
            .collect();
        // Failures at 0, 1, 3 and 7 s; each next attempt waits 1, 2, 4, 8 s.
        assert_eq!(offsets, [0, 1, 3, 7, 15]);
        let stats = db.stats();
        assert_eq!((stats.attempts, stats.failures, stats.rebuilds), (5, 4, 1));
        assert!(
            stats.requests > 5 * stats.attempts,
            "the waiting workers shared each attempt: {stats:?}"
        );
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_successful_rebuild_does_not_wait() {
    within(2 * HOUR_LIMIT, async {
        let tried_at = Arc::new(Mutex::new(Vec::new()));
        let db = {
            let tried_at = Arc::clone(&tried_at);
            Resource::builder("db")
                .backoff(
                    Backoff::new(Duration::from_secs(1), Duration::from_secs(8)).with_jitter(0.0),
                )
                .build(Pool::default(), move || {
                    tried_at.lock().unwrap().push(Instant::now());
                    async { Ok::<_, io::Error>(Pool::default()) }
                })
        };
        let supervisor = Supervisor::new();
        let (first, resumed) = (Gauge::default(), Gauge::default());
        serve_all(&supervisor, &db, &policy(&db), 100, &first, &resumed);
        first.reach(100).await;

        let dropped_at = Instant::now();
        db.get().drop_connection();
        resumed.reach(100).await;

        assert_eq!(*tried_at.lock().unwrap(), [dropped_at]);
        assert_eq!(db.stats().failures, 0);
        supervisor.shutdown().await;
    })
    .await;
}

/// Seed 000's hot loop: an error that says "reconnect" although a new pool
/// does not help. The intensity limit stops it after a bounded number of
/// rebuilds.
#[tokio::test(start_paused = true)]
async fn test_rebuild_that_does_not_help_stops_at_intensity_limit() {
    within(2 * HOUR_LIMIT, async {
        let (events, _guard) = Events::capture();
        let db = Resource::new("db", Pool::default(), || async {
            Ok::<_, io::Error>(Pool::default())
        });
        let policy = Policy::new()
            .on::<NeedsDbReconnect>(Reaction::rebuild(&db))
            .intensity(Intensity::new(5, Duration::from_secs(60)));
        let supervisor = Supervisor::new();
        let worker = supervisor.spawn("misclassified", policy, |_ctx| async {
            Err::<(), _>(WorkerError::Storage(StorageError::PoolNeedsConnection))
        });

        let status = worker.wait_for(|s| s.phase == Phase::Stopped).await;
        assert_eq!(status.runs, 6);
        assert_eq!(db.stats().rebuilds, 5);
        let intensity: Vec<_> = events
            .all()
            .into_iter()
            .filter(|e| e.message.contains("intensity"))
            .collect();
        assert_eq!(intensity.len(), 1);
        assert_eq!(intensity[0].level, tracing::Level::ERROR);

        // Nothing happens while it is stopped.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(worker.status().runs, 6);
        assert_eq!(db.stats().rebuilds, 5);

        supervisor.shutdown().await;
        match worker.join().await {
            Err(SupervisorError::IntensityExceeded { restarts, last, .. }) => {
                assert_eq!(restarts, 6);
                assert!(matches!(
                    last.error(),
                    Some(WorkerError::Storage(StorageError::PoolNeedsConnection))
                ));
            }
            other => panic!("expected IntensityExceeded, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_rebuild_that_helps_restarts_once() {
    within(2 * HOUR_LIMIT, async {
        let (events, _guard) = Events::capture();
        let db = Resource::new("db", Pool::default(), || async {
            Ok::<_, io::Error>(Pool::default())
        });
        let policy = Policy::new()
            .on::<NeedsDbReconnect>(Reaction::rebuild(&db))
            .intensity(Intensity::new(5, Duration::from_secs(60)));
        let supervisor = Supervisor::new();
        let pool = db.clone();
        let worker = supervisor.spawn("classified", policy, move |ctx| {
            let lease = ctx.lease(&pool);
            async move {
                if lease.generation() == 0 {
                    Err(WorkerError::Storage(StorageError::PoolNeedsConnection))
                } else {
                    Ok(lease.generation())
                }
            }
        });

        assert_eq!(worker.join().await.ok(), Some(1));
        assert_eq!(db.stats().rebuilds, 1);
        assert!(
            events
                .all()
                .iter()
                .all(|e| !e.message.contains("intensity"))
        );
        supervisor.shutdown().await;
    })
    .await;
}

/// A worker that runs long, and picks up a pool another worker rebuilt,
/// asks for the rebuild of the generation it actually used.
#[tokio::test(start_paused = true)]
async fn test_lease_names_the_generation_a_long_run_used() {
    within(2 * HOUR_LIMIT, async {
        let db = pool();
        let supervisor = Supervisor::new();
        let policy = policy(&db);
        let long_runner = |use_lease: bool| {
            let db = db.clone();
            move |ctx: signal_runtime::RunContext| {
                let db = db.clone();
                async move {
                    loop {
                        let pool = if use_lease { ctx.lease(&db) } else { db.get() };
                        if pool.is_alive() {
                            // Wait for a nudge to look at the pool again.
                            ctx.nudged().await;
                            if pool.is_alive() {
                                continue;
                            }
                        }
                        return Err::<(), _>(WorkerError::Storage(
                            StorageError::PoolNeedsConnection,
                        ));
                    }
                }
            }
        };
        let leased = supervisor.spawn("leased", Arc::clone(&policy), long_runner(true));
        let unleased = supervisor.spawn("unleased", Arc::clone(&policy), long_runner(false));
        settle().await;

        // Someone else rebuilds generation 0; both runs pick up generation 1.
        db.rebuild_from(0).await.unwrap();
        leased.nudge();
        unleased.nudge();
        settle().await;
        assert_eq!((leased.status().runs, unleased.status().runs), (1, 1));

        db.get().drop_connection();
        leased.nudge();
        unleased.nudge();
        tokio::time::sleep(Duration::from_secs(5)).await;

        assert_eq!(db.stats().rebuilds, 2);
        // The leased worker asked for generation 1 at once; the other one asked
        // for generation 0 (already replaced), restarted on the dead pool, and
        // failed a second time.
        assert_eq!(leased.status().failures, 1);
        assert_eq!(unleased.status().failures, 2);
        supervisor.shutdown().await;
    })
    .await;
}

/// A value whose drop waits (up to 5 s of real time) until another thread
/// has read the resource, like a pool whose drop closes connections.
struct SlowDrop {
    /// `None` for the values the rebuild makes: only the first one waits.
    wait: Option<Arc<DropGate>>,
}

#[derive(Default)]
struct DropGate {
    state: std::sync::Mutex<(bool, bool)>, // (dropping, read by the other thread)
    changed: std::sync::Condvar,
    read_generation: AtomicU32,
}

impl Drop for SlowDrop {
    fn drop(&mut self) {
        let Some(gate) = &self.wait else { return };
        let mut state = gate.state.lock().unwrap();
        state.0 = true;
        gate.changed.notify_all();
        let _ = gate
            .changed
            .wait_timeout_while(state, Duration::from_secs(5), |(_, read)| !*read)
            .unwrap();
    }
}

/// The value a rebuild replaces is dropped outside the resource's lock: a
/// slow drop holds up neither `get` nor `generation` on other threads. (Real
/// threads and real time: the drop waits at most 5 s, as a hang guard.)
#[test]
fn test_replaced_value_is_dropped_without_blocking_readers() {
    let gate = Arc::new(DropGate::default());
    let db = Resource::new(
        "db",
        SlowDrop {
            wait: Some(Arc::clone(&gate)),
        },
        || async { Ok::<_, io::Error>(SlowDrop { wait: None }) },
    );
    let reader = {
        let (db, gate) = (db.clone(), Arc::clone(&gate));
        std::thread::spawn(move || {
            let state = gate.state.lock().unwrap();
            let mut state = gate
                .changed
                .wait_timeout_while(state, Duration::from_secs(5), |(dropping, _)| !*dropping)
                .unwrap()
                .0;
            drop(state);
            // The old value is being dropped now: reading must not wait for it.
            let generation = db.get().generation();
            gate.read_generation
                .store(generation as u32 + 1, Ordering::SeqCst);
            state = gate.state.lock().unwrap();
            state.1 = true;
            gate.changed.notify_all();
        })
    };
    let started = std::time::Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let lease = runtime.block_on(db.rebuild_from(0)).unwrap();
    let took = started.elapsed();
    reader.join().unwrap();
    assert_eq!(lease.generation(), 1);
    assert_eq!(
        gate.read_generation.load(Ordering::SeqCst),
        2,
        "the reader saw generation 1 while generation 0 was being dropped"
    );
    assert!(
        took < Duration::from_secs(5),
        "the rebuild waited {took:?}: the reader was blocked until the drop gave up"
    );
}
