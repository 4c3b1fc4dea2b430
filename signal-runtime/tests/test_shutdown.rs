//! Shutdown: prompt, cancellation-safe, and leaves no task behind.

mod support;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use signal_runtime::{Backoff, Phase, Policy, Reaction, Resource, Supervisor, SupervisorError};
use support::{
    Gauge, HOUR_LIMIT, NeedsDbReconnect, Pool, Retryable, StorageError, WorkerError, settle, within,
};
use tokio::runtime::Handle;
use tokio::time::Instant;

fn alive_tasks() -> usize {
    Handle::current().metrics().num_alive_tasks()
}

/// Sets its flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A pool whose first rebuild never finishes (until dropped) and whose later
/// rebuilds succeed at once.
fn stuck_pool(rebuild_dropped: &Arc<AtomicBool>) -> Resource<Pool> {
    let calls = Arc::new(AtomicU32::new(0));
    let flag = Arc::clone(rebuild_dropped);
    Resource::new("db", Pool::default(), move || {
        let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
        let guard = DropFlag(Arc::clone(&flag));
        async move {
            if first {
                std::future::pending::<()>().await;
            }
            drop(guard);
            Ok::<_, io::Error>(Pool::default())
        }
    })
}

/// Workers in every state: sleeping to deadlines, busy, backing off,
/// stopped, and waiting on a rebuild that is in flight.
#[tokio::test(start_paused = true)]
async fn test_shutdown_cancels_every_worker_and_leaves_no_task() {
    within(2 * HOUR_LIMIT, async {
        let rebuild_dropped = Arc::new(AtomicBool::new(false));
        let db = stuck_pool(&rebuild_dropped);
        let policy = Arc::new(
            Policy::new()
                .on::<NeedsDbReconnect>(Reaction::rebuild(&db))
                .on::<Retryable>(Reaction::Retry)
                .otherwise(Reaction::Stop)
                .backoff(Backoff::new(
                    Duration::from_secs(3600),
                    Duration::from_secs(3600),
                )),
        );
        let supervisor = Supervisor::new();
        let mut handles = Vec::new();
        let serving = Gauge::default();
        for i in 0..100 {
            let (pool, serving) = (db.clone(), serving.clone());
            handles.push(
                supervisor.spawn(format!("serve-{i}"), Arc::clone(&policy), move |ctx| {
                    let (pool, serving) = (pool.clone(), serving.clone());
                    async move {
                        let lease = ctx.lease(&pool);
                        serving.add(1);
                        lease.serve().await?;
                        Ok("served")
                    }
                }),
            );
        }
        handles.push(
            supervisor.spawn("sleeper", Arc::clone(&policy), |ctx| async move {
                ctx.sleep_until(Instant::now() + Duration::from_secs(30 * 24 * 3600))
                    .await;
                Ok("slept")
            }),
        );
        handles.push(supervisor.spawn("busy", Arc::clone(&policy), |_ctx| async {
            // Busy for far longer than the test (bounded, so that a broken
            // shutdown fails the test instead of spinning forever).
            for _ in 0..1_000_000 {
                tokio::task::yield_now().await;
            }
            Ok("busy")
        }));
        handles.push(
            supervisor.spawn("backing-off", Arc::clone(&policy), |_ctx| async {
                Err(WorkerError::Storage(StorageError::Busy))
            }),
        );
        let stopped = supervisor.spawn("stopped", Arc::clone(&policy), |_ctx| async {
            Err::<&str, _>(WorkerError::Corrupt("row".into()))
        });
        serving.reach(100).await;
        stopped.wait_for(|s| s.phase == Phase::Stopped).await;
        handles[102]
            .wait_for(|s| s.phase == Phase::BackingOff)
            .await;

        db.get().drop_connection(); // 100 workers now wait on a rebuild that hangs
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(db.stats().rebuilding);
        assert_eq!(alive_tasks(), 104);

        let start = Instant::now();
        supervisor.shutdown().await;

        assert_eq!(Instant::now(), start, "prompt: no time passed");
        assert_eq!(alive_tasks(), 0);
        let stats = db.stats();
        assert!(!stats.rebuilding, "{stats:?}");
        assert_eq!((stats.generation, stats.rebuilds), (0, 0));
        assert!(
            rebuild_dropped.load(Ordering::SeqCst),
            "the rebuild was dropped"
        );
        for handle in handles {
            assert!(handle.is_finished());
            assert!(handle.join().await.unwrap_err().is_shutdown());
        }
        match stopped.join().await {
            Err(SupervisorError::Stopped { error, .. }) => {
                assert!(matches!(*error, WorkerError::Corrupt(_)));
            }
            other => panic!("the stop error is kept, got {other:?}"),
        }

        // Nothing is left half-done: the next rebuild runs from scratch.
        let lease = db.rebuild_from(0).await.unwrap();
        assert_eq!(lease.generation(), 1);
        assert!(lease.is_alive());
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_without_shutdown_idle_workers_stay_alive() {
    within(2 * HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let handles: Vec<_> = (0..10)
            .map(|i| {
                supervisor.spawn(format!("idle-{i}"), Policy::new(), |ctx| async move {
                    ctx.nudged().await;
                    Ok::<_, WorkerError>(())
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(alive_tasks(), 10);
        assert!(handles.iter().all(|h| h.phase() == Phase::Running));
        supervisor.shutdown().await;
        assert_eq!(alive_tasks(), 0);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_workers_spawned_after_shutdown_do_not_start() {
    within(2 * HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        supervisor.shutdown().await;
        assert!(supervisor.is_shut_down());
        let started = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&started);
        let late = supervisor.spawn("late", Policy::new(), move |_ctx| {
            flag.store(true, Ordering::SeqCst);
            async { Ok::<_, WorkerError>(()) }
        });
        settle().await;
        assert_eq!(alive_tasks(), 0);
        assert!(!started.load(Ordering::SeqCst));
        assert!(late.join().await.unwrap_err().is_shutdown());
        // A second shutdown returns at once.
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_dropping_the_supervisor_aborts_its_workers() {
    within(2 * HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let worker = supervisor.spawn("orphan", Policy::new(), |ctx| async move {
            ctx.nudged().await;
            Ok::<_, WorkerError>(())
        });
        settle().await;
        assert_eq!(alive_tasks(), 1);
        drop(supervisor);
        assert!(worker.join().await.unwrap_err().is_shutdown());
        settle().await;
        assert_eq!(alive_tasks(), 0);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_abort_stops_one_worker_only() {
    within(2 * HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let idle = |ctx: signal_runtime::RunContext| async move {
            ctx.nudged().await;
            Ok::<_, WorkerError>(())
        };
        let first = supervisor.spawn("first", Policy::new(), idle);
        let second = supervisor.spawn("second", Policy::new(), idle);
        settle().await;
        first.abort();
        assert!(first.join().await.unwrap_err().is_shutdown());
        settle().await;
        assert_eq!(alive_tasks(), 1);
        second.nudge();
        assert!(second.join().await.is_ok());
        supervisor.shutdown().await;
    })
    .await;
}

/// An error whose `Signal` impl panics.
#[derive(Debug)]
struct Odd;

impl signal_core::Signal for Odd {
    fn walk(&self, _walker: &mut signal_core::Walker<'_>) -> std::ops::ControlFlow<()> {
        panic!("the error's Signal impl panicked");
    }
}

/// A run that fails during a graceful shutdown with an error whose `Signal`
/// impl panics: the failure is counted and the worker ends with the panic as
/// its error, not as a plain Shutdown that nothing but stderr explains.
#[tokio::test(start_paused = true)]
async fn test_a_panic_while_failing_in_shutdown_is_the_workers_error() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let policy = Policy::new().on::<Retryable>(Reaction::Retry);
        let worker = supervisor.spawn("odd", policy, async |ctx| {
            ctx.cancelled().await;
            Err::<u32, _>(Odd)
        });
        worker.wait_for(|s| s.phase == Phase::Running).await;
        supervisor.shutdown_within(Duration::from_secs(5)).await;
        let status = worker.status();
        assert_eq!(status.failures, 1);
        assert!(
            matches!(&status.error, Some(SupervisorError::Panicked { message, .. })
                if message.contains("Signal impl panicked")),
            "{:?}",
            status.error
        );
    })
    .await;
}

/// The twin: an ordinary error during shutdown is the Shutdown's last
/// failure.
#[tokio::test(start_paused = true)]
async fn test_an_error_in_shutdown_is_the_shutdowns_last_failure() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let policy = Policy::new().on::<Retryable>(Reaction::Retry);
        let worker = supervisor.spawn("plain", policy, async |ctx| {
            ctx.cancelled().await;
            Err::<u32, _>(WorkerError::Corrupt("late".into()))
        });
        worker.wait_for(|s| s.phase == Phase::Running).await;
        supervisor.shutdown_within(Duration::from_secs(5)).await;
        let status = worker.status();
        assert_eq!(status.failures, 1);
        assert!(
            matches!(
                status.error,
                Some(SupervisorError::Shutdown { last: Some(_), .. })
            ),
            "{:?}",
            status.error
        );
    })
    .await;
}

/// The first shutdown's future is dropped (a timeout around it) while a
/// worker ignores cancellation: a second `shutdown()` still waits until the
/// worker is gone, and counts it as aborted.
#[tokio::test(start_paused = true)]
async fn test_a_second_shutdown_waits_for_the_workers_a_dropped_one_left() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let worker = supervisor.spawn("stubborn", Policy::new(), async |_ctx| {
            tokio::time::sleep(Duration::from_secs(100)).await;
            Ok::<u32, WorkerError>(1)
        });
        worker.wait_for(|s| s.phase == Phase::Running).await;
        let first = tokio::time::timeout(
            Duration::from_secs(1),
            supervisor.shutdown_within(Duration::from_secs(10)),
        )
        .await;
        assert!(first.is_err(), "the first shutdown is cut short");
        let report = supervisor.shutdown().await;
        assert!(
            worker.is_finished(),
            "shutdown returned ({report:?}) while the worker is {:?}",
            worker.phase()
        );
        assert_eq!((report.finished, report.aborted), (0, 1));
        assert_eq!(alive_tasks(), 0);
    })
    .await;
}

/// The twin: a second shutdown after one that finished returns its report
/// at once.
#[tokio::test(start_paused = true)]
async fn test_a_second_shutdown_after_a_finished_one_returns_its_report() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let worker = supervisor.spawn("polite", Policy::new(), async |ctx| {
            ctx.cancelled().await;
            Ok::<u32, WorkerError>(1)
        });
        worker.wait_for(|s| s.phase == Phase::Running).await;
        let first = supervisor.shutdown_within(Duration::from_secs(10)).await;
        assert_eq!((first.finished, first.aborted), (1, 0));
        let at = Instant::now();
        assert_eq!(supervisor.shutdown().await, first);
        assert_eq!(Instant::now(), at);
    })
    .await;
}
