//! `join` on a stopped worker returns its typed error at once; waiting
//! through stops and recoveries is `join_through_recovery`.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use signal_runtime::{Backoff, Intensity, Phase, Policy, Reaction, Supervisor, SupervisorError};
use support::{HOUR_LIMIT, StorageError, WorkerError, within};

fn corrupt() -> WorkerError {
    WorkerError::Corrupt("row 7".into())
}

/// Fails with `error` on its first `failures` runs, then returns the run
/// number.
fn flaky(
    failures: u32,
    error: fn() -> WorkerError,
) -> impl FnOnce(signal_runtime::RunContext) -> std::future::Ready<Result<u32, WorkerError>> + Clone
{
    let runs = Arc::new(AtomicU32::new(0));
    move |_ctx| {
        let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
        std::future::ready(if run <= failures {
            Err(error())
        } else {
            Ok(run)
        })
    }
}

#[tokio::test(start_paused = true)]
async fn test_join_on_a_worker_stopped_by_its_reaction_returns_the_stop_error() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let policy = Policy::new().otherwise(Reaction::Stop);
        let worker = supervisor.spawn("stops", policy, flaky(1, corrupt));
        match worker.join().await {
            Err(SupervisorError::Stopped {
                worker,
                attempt,
                error,
            }) => {
                assert_eq!(&*worker, "stops");
                assert_eq!(attempt, 1);
                assert!(matches!(*error, WorkerError::Corrupt(_)));
            }
            other => panic!("expected Stopped, got {other:?}"),
        }
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_join_on_a_worker_stopped_by_its_intensity_returns_the_intensity_error() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let policy = Policy::new()
            .backoff(Backoff::new(
                Duration::from_millis(1),
                Duration::from_millis(1),
            ))
            .intensity(Intensity::new(2, Duration::from_secs(60)));
        let worker = supervisor.spawn("spins", policy, flaky(u32::MAX, corrupt));
        let error = worker.join().await.unwrap_err();
        assert!(
            matches!(
                error,
                SupervisorError::IntensityExceeded { restarts: 3, .. }
            ),
            "{error:?}"
        );
        supervisor.shutdown().await;
    })
    .await;
}

/// The negative twin: a retried worker is not stopped, so `join` waits for
/// its value instead of returning an error early.
#[tokio::test(start_paused = true)]
async fn test_join_on_a_retried_worker_waits_for_its_value() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let busy = || WorkerError::Storage(StorageError::Busy);
        let policy =
            Policy::new().backoff(Backoff::new(Duration::from_secs(1), Duration::from_secs(1)));
        let worker = supervisor.spawn("retries", policy, flaky(3, busy));
        assert_eq!(worker.join().await.ok(), Some(4));
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_join_through_recovery_waits_for_the_recovered_run() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let policy = Policy::new().otherwise(Reaction::Stop);
        let worker = supervisor.spawn("recovers", policy, flaky(1, corrupt));
        let nudger = worker.nudger();
        worker
            .wait_for(|status| status.phase == Phase::Stopped)
            .await;
        let joined = tokio::spawn(worker.join_through_recovery());
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(
            !joined.is_finished(),
            "returned while the worker was stopped"
        );
        nudger.recover();
        assert_eq!(joined.await.unwrap().ok(), Some(2));
        supervisor.shutdown().await;
    })
    .await;
}
