//! Restart intensity: a misclassified error cannot hot-loop.

mod support;

use std::error::Error as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use signal_core::Signal;
use signal_runtime::{
    Backoff, Intensity, Phase, Policy, Reaction, StopReason, Supervisor, SupervisorError,
};
use support::{Events, HOUR_LIMIT, Retryable, StorageError, WorkerError, scripted, within};
use tokio::time::Instant;
use tracing::Level;

fn busy() -> WorkerError {
    WorkerError::Storage(StorageError::Busy)
}

fn policy(backoff: Backoff) -> Policy {
    Policy::new()
        .on::<Retryable>(Reaction::Retry)
        .backoff(backoff.with_jitter(0.0))
        .intensity(Intensity::new(5, Duration::from_secs(1)))
}

fn fast() -> Backoff {
    Backoff::new(Duration::from_millis(10), Duration::from_millis(50))
}

#[tokio::test(start_paused = true)]
async fn test_always_retryable_error_stops_at_intensity_limit() {
    within(2 * HOUR_LIMIT, async {
        let (events, _guard) = Events::capture();
        let supervisor = Supervisor::new();
        let start = Instant::now();
        // "Busy" forever: classified retryable, but retrying never helps.
        let worker = supervisor.spawn("misclassified", policy(fast()), |_ctx| async {
            Err::<(), _>(busy())
        });

        let status = worker.wait_for(|s| s.phase == Phase::Stopped).await;
        assert_eq!(status.runs, 6, "5 restarts allowed, the 6th failure stops");
        assert_eq!(status.retry.stopped, Some(StopReason::IntensityExceeded));
        assert_eq!(
            Instant::now() - start,
            Duration::from_millis(10 + 20 + 40 + 50 + 50)
        );
        let stops: Vec<_> = events
            .all()
            .into_iter()
            .filter(|e| e.message.contains("restart intensity exceeded"))
            .collect();
        assert_eq!(stops.len(), 1);
        assert_eq!(stops[0].level, Level::ERROR);
        assert_eq!(stops[0].field("worker"), Some("misclassified"));
        assert_eq!(stops[0].field("restarts"), Some("6"));
        assert_eq!(
            stops[0].field("trace"),
            Some(busy().trace::<Retryable>().unwrap().to_string().as_str())
        );

        // Stopped means stopped: no run and no event for an hour.
        let before = events.all().len();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(worker.status().runs, 6);
        assert_eq!(events.all().len(), before);

        supervisor.shutdown().await;
        let error = worker.join().await.unwrap_err();
        match &error {
            SupervisorError::IntensityExceeded {
                worker,
                restarts,
                within,
                last,
            } => {
                assert_eq!(&**worker, "misclassified");
                assert_eq!((*restarts, *within), (6, Duration::from_secs(1)));
                assert!(matches!(
                    last.error(),
                    Some(WorkerError::Storage(StorageError::Busy))
                ));
            }
            other => panic!("expected IntensityExceeded, got {other:?}"),
        }
        // The last error is kept as the source.
        let source = error.source().expect("the worker's error");
        assert!(source.downcast_ref::<WorkerError>().is_some());
        assert!(error.to_string().contains("restart intensity"));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_retryable_error_that_clears_does_not_stop() {
    within(2 * HOUR_LIMIT, async {
        let (events, _guard) = Events::capture();
        let supervisor = Supervisor::new();
        let starts = Arc::new(Mutex::new(Vec::new()));
        let worker = supervisor.spawn(
            "flaky",
            policy(fast()),
            scripted(vec![Duration::ZERO; 4], busy, starts),
        );
        assert_eq!(worker.join().await.ok(), Some(5));
        assert!(
            events
                .all()
                .iter()
                .all(|e| !e.message.contains("intensity"))
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_failures_spaced_wider_than_the_window_never_stop() {
    within(2 * HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let starts = Arc::new(Mutex::new(Vec::new()));
        // Every backoff is a full second: each restart falls out of the window
        // before the next one.
        let spaced = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
        let worker = supervisor.spawn(
            "slow-flaky",
            policy(spaced),
            scripted(vec![Duration::ZERO; 20], busy, starts),
        );
        assert_eq!(worker.join().await.ok(), Some(21));
    })
    .await;
}

/// A budget counts the failures of its own kind only: a database that is
/// busy three times stops the worker although network blips came between,
/// while `max_attempts` would have counted the blips too.
#[tokio::test(start_paused = true)]
async fn test_a_budget_counts_only_its_own_kinds_failures() {
    use support::{NetError, TransientNetwork};
    within(HOUR_LIMIT, async {
        let run = |rule: signal_runtime::Rule| {
            let policy = Policy::new()
                .on::<TransientNetwork>(Reaction::Retry)
                .on::<Retryable>(rule)
                .backoff(Backoff::new(
                    Duration::from_millis(10),
                    Duration::from_millis(10),
                ))
                .intensity(Intensity::new(100, Duration::from_secs(60)));
            let supervisor = Supervisor::new();
            let runs = Arc::new(std::sync::atomic::AtomicU32::new(0));
            // busy, blip, blip, busy, blip, busy, then fine.
            let worker = supervisor.spawn("budgeted", policy, move |_ctx| {
                let runs = Arc::clone(&runs);
                async move {
                    let run = runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    let blip = || WorkerError::Network(NetError::DnsTimeout { host: "h".into() });
                    match run {
                        0 | 3 | 5 => Err(WorkerError::Storage(StorageError::Busy)),
                        1 | 2 | 4 => Err(blip()),
                        _ => Ok(run),
                    }
                }
            });
            (supervisor, worker)
        };
        let (supervisor, worker) = run(Reaction::Retry.budget(3));
        let status = worker.wait_for(|s| s.phase == Phase::Stopped).await;
        assert_eq!(status.retry.stopped, Some(StopReason::Exhausted));
        assert_eq!(
            status.runs, 6,
            "stopped on the third busy, the sixth failure"
        );
        assert!(matches!(
            worker.join().await,
            Err(SupervisorError::Exhausted { attempts: 6, .. })
        ));
        supervisor.shutdown().await;
        // The twin: a budget of four lets the worker through.
        let (supervisor, worker) = run(Reaction::Retry.budget(4));
        assert_eq!(worker.join().await.ok(), Some(6));
        supervisor.shutdown().await;
        // And `max_attempts(4)` counts the blips: it stops at the fourth failure.
        let (supervisor, worker) = run(Reaction::Retry.max_attempts(4));
        let status = worker.wait_for(|s| s.phase == Phase::Stopped).await;
        assert_eq!(status.runs, 4);
        supervisor.shutdown().await;
    })
    .await;
}

/// The panic rule's budget is its own: three failures under the default
/// rule do not count against it, so the first panic is retried. The twin:
/// a second panic reaches its budget of two and stops the worker.
#[tokio::test(start_paused = true)]
async fn test_the_panic_rules_budget_is_not_the_default_rules() {
    within(HOUR_LIMIT, async {
        let run = |panics: u32| {
            let supervisor = Supervisor::new();
            let policy = Policy::new()
                .otherwise(Reaction::Retry.budget(100))
                .on_panic(Reaction::Retry.budget(2))
                .backoff(fast())
                .intensity(Intensity::new(100, Duration::from_secs(60)));
            let runs = Arc::new(std::sync::atomic::AtomicU32::new(0));
            let worker = supervisor.spawn("budget", policy, move |_ctx| {
                let runs = Arc::clone(&runs);
                async move {
                    let run = runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    match run {
                        1..=3 => Err(WorkerError::Corrupt("x".into())),
                        n if n <= 3 + panics => panic!("panic {n}"),
                        _ => Ok(run),
                    }
                }
            });
            (supervisor, worker)
        };
        let (supervisor, worker) = run(1);
        let result = worker.join().await;
        assert_eq!(
            result.as_ref().ok(),
            Some(&5),
            "{:?}",
            result.as_ref().map_err(ToString::to_string)
        );
        supervisor.shutdown().await;

        let (supervisor, worker) = run(2);
        let status = worker.wait_for(|s| s.phase == Phase::Stopped).await;
        assert_eq!(status.retry.stopped, Some(StopReason::Exhausted));
        assert_eq!(status.runs, 5);
        supervisor.shutdown().await;
    })
    .await;
}
