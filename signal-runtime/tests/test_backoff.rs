//! Backoff with caps and jitter, the events that report it, and the reset
//! after a healthy run (one that lasted, or one that made progress).

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use signal_core::Signal;
use signal_runtime::{Backoff, Intensity, Phase, Policy, Reaction, Supervisor};
use support::{
    Events, HOUR_LIMIT, NetError, TransientNetwork, WorkerError, gaps, scripted, within,
};
use tracing::Level;

const SECRET: &str = "db.internal.example";

fn dns_timeout() -> WorkerError {
    WorkerError::Network(NetError::DnsTimeout {
        host: SECRET.to_owned(),
    })
}

fn corrupt() -> WorkerError {
    WorkerError::Corrupt(SECRET.to_owned())
}

fn backoff() -> Backoff {
    Backoff::new(Duration::from_millis(100), Duration::from_secs(1))
        .with_jitter(0.5)
        .with_seed(7)
}

fn policy() -> Policy {
    Policy::new()
        .on::<TransientNetwork>(Reaction::Retry)
        .backoff(backoff())
        .intensity(Intensity::new(100, Duration::from_secs(60)))
}

#[tokio::test(start_paused = true)]
async fn test_transient_error_backs_off_within_caps_and_logs_warn_with_trace() {
    within(2 * HOUR_LIMIT, async {
        let (events, _guard) = Events::capture();
        let starts = Arc::new(Mutex::new(Vec::new()));
        let supervisor = Supervisor::new();
        let failures = 8;
        let worker = supervisor.spawn(
            "token-refresh",
            policy(),
            scripted(
                vec![Duration::ZERO; failures],
                dns_timeout,
                Arc::clone(&starts),
            ),
        );
        assert_eq!(worker.join().await.ok(), Some(failures + 1));

        let delays = gaps(&starts.lock().unwrap());
        assert_eq!(delays.len(), failures);
        let backoff = backoff();
        for (i, delay) in delays.iter().enumerate() {
            let attempt = i as u32 + 1;
            let (low, high) = backoff.bounds(attempt);
            assert!(
                low <= *delay && *delay <= high,
                "attempt {attempt}: {delay:?} not in {low:?}..={high:?}"
            );
            assert!(*delay <= backoff.max);
        }
        // The cap is reached (bases 100, 200, 400, 800 ms, then 1 s), and jitter
        // moved at least one delay off its base.
        assert_eq!(backoff.bounds(5).1, Duration::from_secs(1));
        assert!(delays[4..].iter().all(|d| *d > Duration::from_millis(500)));
        assert!(
            delays
                .iter()
                .enumerate()
                .any(|(i, d)| *d != backoff.base_delay(i as u32 + 1))
        );

        let expected_trace = dns_timeout()
            .trace::<TransientNetwork>()
            .unwrap()
            .to_string();
        assert_eq!(
            expected_trace,
            "WorkerError::Network → NetError::DnsTimeout (TransientNetwork)"
        );
        let retries = events.reactions("retry");
        assert_eq!(retries.len(), failures);
        for (i, event) in retries.iter().enumerate() {
            assert_eq!(event.level, Level::WARN, "{event:?}");
            assert_eq!(event.field("worker"), Some("token-refresh"));
            assert_eq!(event.field("attempt"), Some((i + 1).to_string().as_str()));
            assert_eq!(
                event.field("delay_ms"),
                Some(delays[i].as_millis().to_string().as_str())
            );
            assert_eq!(event.field("kind"), Some("TransientNetwork"));
            assert_eq!(event.field("trace"), Some(expected_trace.as_str()));
            assert!(event.field("error_type").unwrap().ends_with("WorkerError"));
        }
        assert!(events.all().iter().all(|e| !e.text().contains(SECRET)));
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_unclassified_error_logs_error_without_trace() {
    within(2 * HOUR_LIMIT, async {
        let (events, _guard) = Events::capture();
        let starts = Arc::new(Mutex::new(Vec::new()));
        let supervisor = Supervisor::new();
        let worker = supervisor.spawn(
            "token-refresh",
            policy(),
            scripted(vec![Duration::ZERO; 3], corrupt, Arc::clone(&starts)),
        );
        assert_eq!(worker.join().await.ok(), Some(4));

        let retries = events.reactions("retry");
        assert_eq!(retries.len(), 3);
        for event in &retries {
            assert_eq!(event.level, Level::ERROR, "{event:?}");
            assert_eq!(event.field("kind"), None);
            assert_eq!(event.field("trace"), None);
        }
        assert!(events.all().iter().all(|e| !e.text().contains(SECRET)));
        supervisor.shutdown().await;
    })
    .await;
}

/// Runs three quick failures, then a run of `healthy_for`, then one more
/// failure; returns the delay chosen after that last failure.
async fn delay_after_run_of(healthy_for: Duration) -> Duration {
    let starts = Arc::new(Mutex::new(Vec::new()));
    let supervisor = Supervisor::new();
    let policy = Policy::new()
        .backoff(Backoff::new(Duration::from_secs(1), Duration::from_secs(60)).with_jitter(0.0))
        .healthy_after(Duration::from_secs(60));
    let script = vec![Duration::ZERO, Duration::ZERO, Duration::ZERO, healthy_for];
    let worker = supervisor.spawn(
        "sync",
        policy,
        scripted(script, corrupt, Arc::clone(&starts)),
    );
    assert_eq!(worker.join().await.ok(), Some(5));
    let delays = gaps(&starts.lock().unwrap());
    assert_eq!(
        delays[..3],
        [1, 2, 4].map(Duration::from_secs),
        "the first three failures back off exponentially"
    );
    delays[3] - healthy_for
}

#[tokio::test(start_paused = true)]
async fn test_backoff_resets_after_a_healthy_run() {
    within(2 * HOUR_LIMIT, async {
        assert_eq!(
            delay_after_run_of(Duration::from_secs(61)).await,
            Duration::from_secs(1)
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_backoff_keeps_growing_after_a_short_run() {
    within(2 * HOUR_LIMIT, async {
        assert_eq!(
            delay_after_run_of(Duration::from_secs(59)).await,
            Duration::from_secs(8)
        );
    })
    .await;
}

/// Six runs of 10 ms that fail, each marking itself healthy (it made
/// progress) or not, then one that succeeds; returns the delays chosen after
/// the failures.
async fn delays_after_short_runs(mark_healthy: bool, intensity: Intensity) -> Vec<Duration> {
    let starts = Arc::new(Mutex::new(Vec::new()));
    let supervisor = Supervisor::new();
    let policy = Policy::new()
        .backoff(Backoff::new(Duration::from_secs(1), Duration::from_secs(60)).with_jitter(0.0))
        .healthy_after(Duration::from_secs(60))
        .intensity(intensity);
    let run_for = Duration::from_millis(10);
    let runs = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let recorded = Arc::clone(&starts);
    let worker = supervisor.spawn("sync", policy, move |ctx| {
        recorded.lock().unwrap().push(tokio::time::Instant::now());
        let this = runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        async move {
            tokio::time::sleep(run_for).await;
            if this > 6 {
                return Ok(this);
            }
            if mark_healthy {
                ctx.mark_healthy();
            }
            Err(corrupt())
        }
    });
    // Finished, or stopped by its intensity limit.
    worker
        .wait_for(|status| matches!(status.phase, Phase::Done | Phase::Stopped))
        .await;
    supervisor.shutdown().await;
    gaps(&starts.lock().unwrap())
        .into_iter()
        .map(|gap| gap - run_for)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn test_backoff_resets_after_a_run_that_made_progress() {
    within(2 * HOUR_LIMIT, async {
        let loose = Intensity::new(100, Duration::from_secs(60));
        assert_eq!(
            delays_after_short_runs(true, loose).await,
            [Duration::from_secs(1); 6],
            "every short run made progress: each failure starts the backoff over"
        );
        assert_eq!(
            delays_after_short_runs(false, loose).await,
            [1, 2, 4, 8, 16, 32].map(Duration::from_secs),
            "no progress: the backoff grows"
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_progress_does_not_lift_the_intensity_limit() {
    within(2 * HOUR_LIMIT, async {
        // Three restarts a minute: the fourth failure stops the worker, even
        // though each of its runs made progress.
        let delays =
            delays_after_short_runs(true, Intensity::new(3, Duration::from_secs(60))).await;
        assert_eq!(
            delays,
            [Duration::from_secs(1); 3],
            "four runs, then stopped"
        );
    })
    .await;
}

type DynError = Box<dyn Signal + Send + Sync>;

/// A worker whose error type is a boxed trait object fails once with
/// `error()`; returns the events of its retry.
async fn boxed_failure(error: fn() -> WorkerError) -> Vec<support::Event> {
    let (events, _guard) = Events::capture();
    let supervisor = Supervisor::new();
    let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let worker = supervisor.spawn("boxed", policy(), move |_ctx| {
        let fail = !failed.swap(true, std::sync::atomic::Ordering::SeqCst);
        async move {
            if fail {
                Err(Box::new(error()) as DynError)
            } else {
                Ok(())
            }
        }
    });
    assert!(worker.join().await.is_ok());
    supervisor.shutdown().await;
    events.reactions("retry")
}

#[tokio::test(start_paused = true)]
async fn test_boxed_dyn_error_is_classified_through_the_box() {
    within(2 * HOUR_LIMIT, async {
        let retries = boxed_failure(dns_timeout).await;
        assert_eq!(retries.len(), 1);
        assert_eq!(retries[0].level, Level::WARN);
        assert_eq!(
            retries[0].field("trace"),
            Some("WorkerError::Network → NetError::DnsTimeout (TransientNetwork)")
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_boxed_dyn_error_without_the_kind_gets_the_default() {
    within(2 * HOUR_LIMIT, async {
        let retries = boxed_failure(corrupt).await;
        assert_eq!(retries.len(), 1);
        assert_eq!(retries[0].level, Level::ERROR);
        assert_eq!(retries[0].field("trace"), None);
    })
    .await;
}
