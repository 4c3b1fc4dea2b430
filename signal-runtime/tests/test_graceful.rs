//! Graceful shutdown: workers observe cancellation, finish the unit of work
//! they are in within the grace period, and are cut off after it.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use signal_runtime::{
    Backoff, Phase, Policy, RunContext, ShutdownReport, Supervisor, SupervisorError, Wake,
};
use support::{HOUR_LIMIT, StorageError, WorkerError, within};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

/// Commits transactions of three one-second steps, checking for
/// cancellation between transactions only. `log` records each commit.
async fn transactions(ctx: RunContext, log: Arc<Mutex<Vec<u32>>>) -> Result<u32, WorkerError> {
    let mut committed = 0;
    loop {
        if ctx.is_cancelled() {
            return Ok(committed);
        }
        for _step in 0..3 {
            tokio::time::sleep(SECOND).await;
        }
        committed += 1;
        log.lock().unwrap().push(committed);
    }
}

fn spawn_transactions(
    supervisor: &Supervisor,
) -> (
    signal_runtime::WorkerHandle<u32, WorkerError>,
    Arc<Mutex<Vec<u32>>>,
) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let worker_log = Arc::clone(&log);
    let worker = supervisor.spawn("tx", Policy::new(), async move |ctx| {
        transactions(ctx, Arc::clone(&worker_log)).await
    });
    (worker, log)
}

#[tokio::test(start_paused = true)]
async fn test_graceful_shutdown_lets_the_transaction_in_flight_commit() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let (worker, log) = spawn_transactions(&supervisor);
        // Two transactions committed, the third one step in.
        tokio::time::sleep(Duration::from_millis(7500)).await;
        let start = Instant::now();
        let report = supervisor.shutdown_within(10 * SECOND).await;
        assert_eq!(
            report,
            ShutdownReport {
                finished: 1,
                aborted: 0
            }
        );
        // It took the rest of the transaction, not the whole grace period.
        assert_eq!(Instant::now() - start, Duration::from_millis(1500));
        assert_eq!(*log.lock().unwrap(), [1, 2, 3]);
        assert_eq!(worker.join().await.ok(), Some(3));
    })
    .await;
}

/// The negative twin: without a grace period, the transaction in flight is
/// dropped whole (its commit never happens), and the handle says so.
#[tokio::test(start_paused = true)]
async fn test_shutdown_without_grace_drops_the_transaction_in_flight() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let (worker, log) = spawn_transactions(&supervisor);
        tokio::time::sleep(Duration::from_millis(7500)).await;
        let report = supervisor.shutdown().await;
        assert_eq!(
            report,
            ShutdownReport {
                finished: 0,
                aborted: 1
            }
        );
        tokio::time::sleep(10 * SECOND).await;
        assert_eq!(*log.lock().unwrap(), [1, 2]);
        assert!(worker.join().await.unwrap_err().is_shutdown());
    })
    .await;
}

/// A worker that ignores cancellation holds shutdown up for the grace
/// period, no longer.
#[tokio::test(start_paused = true)]
async fn test_a_worker_that_ignores_cancellation_is_aborted_after_the_grace_period() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let worker = supervisor.spawn("deaf", Policy::new(), async |_ctx| {
            std::future::pending::<Result<(), WorkerError>>().await
        });
        tokio::task::yield_now().await;
        let start = Instant::now();
        let report = supervisor.shutdown_within(5 * SECOND).await;
        assert_eq!(
            report,
            ShutdownReport {
                finished: 0,
                aborted: 1
            }
        );
        assert_eq!(Instant::now() - start, 5 * SECOND);
        assert!(worker.join().await.unwrap_err().is_shutdown());
        // A second call waits for the same shutdown and gets its report.
        assert_eq!(supervisor.shutdown().await, report);
    })
    .await;
}

/// Workers asleep to a deadline, backing off or stopped end at once.
#[tokio::test(start_paused = true)]
async fn test_idle_backing_off_and_stopped_workers_end_at_once() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let sleeper = supervisor.spawn("sleeper", Policy::new(), async |ctx| {
            Ok::<_, WorkerError>(ctx.sleep_until(Instant::now() + 30 * 24 * HOUR_LIMIT).await)
        });
        let backoff = Policy::new().backoff(Backoff::new(HOUR_LIMIT, HOUR_LIMIT));
        let backing_off = supervisor.spawn("backing-off", backoff, async |_ctx| {
            Err::<(), _>(WorkerError::Storage(StorageError::Busy))
        });
        let stop = Policy::new().otherwise(signal_runtime::Reaction::Stop);
        let stopped = supervisor.spawn("stopped", stop, async |_ctx| {
            Err::<(), _>(WorkerError::Corrupt("row 1".into()))
        });
        backing_off.wait_for(|s| s.phase == Phase::BackingOff).await;
        stopped.wait_for(|s| s.phase == Phase::Stopped).await;

        let start = Instant::now();
        let report = supervisor.shutdown_within(HOUR_LIMIT).await;
        assert_eq!(Instant::now(), start, "shutdown waited");
        assert_eq!(
            report,
            ShutdownReport {
                finished: 3,
                aborted: 0
            }
        );
        assert_eq!(sleeper.join().await.ok(), Some(Wake::Cancelled));
        match backing_off.join().await {
            Err(SupervisorError::Shutdown {
                last: Some(last), ..
            }) => {
                assert!(matches!(
                    last.error(),
                    Some(WorkerError::Storage(StorageError::Busy))
                ));
            }
            other => panic!("expected Shutdown with the last failure, got {other:?}"),
        }
        assert!(matches!(
            stopped.join().await,
            Err(SupervisorError::Stopped { .. })
        ));
    })
    .await;
}

/// A run that fails once shutdown has begun is not restarted.
#[tokio::test(start_paused = true)]
async fn test_a_run_failing_during_shutdown_is_not_restarted() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let worker = supervisor.spawn("fails-on-cancel", Policy::new(), async |ctx| {
            ctx.cancelled().await;
            Err::<(), _>(WorkerError::Storage(StorageError::Busy))
        });
        tokio::task::yield_now().await;
        let report = supervisor.shutdown_within(HOUR_LIMIT).await;
        assert_eq!(
            report,
            ShutdownReport {
                finished: 1,
                aborted: 0
            }
        );
        let status = worker.status();
        assert_eq!((status.runs, status.failures), (1, 1));
        assert!(worker.join().await.unwrap_err().is_shutdown());
    })
    .await;
}
