//! Per-call retry driven by a `Policy`: reactions by kind, per-rule backoff
//! and maximum attempts, Retry-After, rebuilds, and the supervisor's events.

mod support;

use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use signal_core::{Signal, kind};
use signal_runtime::{
    Backoff, Intensity, Policy, Reaction, Resource, RetryAfter, Supervisor, SupervisorError,
};
use support::{
    Events, HOUR_LIMIT, NeedsDbReconnect, NetError, Pool, Retryable, StorageError,
    TransientNetwork, WorkerError, gaps, within,
};
use tokio::time::Instant;
use tracing::Level;

const MS: Duration = Duration::from_millis(1);

fn exact(initial_ms: u64, max_ms: u64) -> Backoff {
    Backoff::new(
        Duration::from_millis(initial_ms),
        Duration::from_millis(max_ms),
    )
    .with_jitter(0.0)
}

fn dns() -> WorkerError {
    WorkerError::Network(NetError::DnsTimeout {
        host: "api.internal".into(),
    })
}

fn busy() -> WorkerError {
    WorkerError::Storage(StorageError::Busy)
}

fn corrupt() -> WorkerError {
    WorkerError::Corrupt("row 3".into())
}

/// Calls that fail with `errors[i]` on call `i`, then succeed with the
/// number of calls; records when each call started.
struct Script {
    errors: Vec<fn() -> WorkerError>,
    calls: AtomicU32,
    starts: Mutex<Vec<Instant>>,
}

impl Script {
    fn new(errors: Vec<fn() -> WorkerError>) -> Script {
        Script {
            errors,
            calls: AtomicU32::new(0),
            starts: Mutex::new(Vec::new()),
        }
    }

    async fn call(&self) -> Result<u32, WorkerError> {
        self.starts.lock().unwrap().push(Instant::now());
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        match self.errors.get(call as usize) {
            Some(error) => Err(error()),
            None => Ok(call + 1),
        }
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    fn gaps_ms(&self) -> Vec<u128> {
        gaps(&self.starts.lock().unwrap())
            .iter()
            .map(Duration::as_millis)
            .collect()
    }
}

#[tokio::test(start_paused = true)]
async fn test_call_retries_a_retryable_error_with_the_supervisors_events() {
    within(HOUR_LIMIT, async {
        let (events, _guard) = Events::capture();
        let policy = Policy::new()
            .on::<TransientNetwork>(Reaction::Retry)
            .backoff(exact(100, 1000));
        let script = Script::new(vec![dns, dns, dns]);
        let result = policy.retry("fetch", async || script.call().await).await;
        assert_eq!(result.ok(), Some(4));
        assert_eq!(script.gaps_ms(), [100, 200, 400]);
        let retries = events.reactions("retry");
        assert_eq!(retries.len(), 3);
        for (i, event) in retries.iter().enumerate() {
            assert_eq!(event.level, Level::WARN);
            assert_eq!(event.field("worker"), Some("fetch"));
            assert_eq!(event.field("attempt"), Some((i + 1).to_string().as_str()));
            assert_eq!(event.field("kind"), Some("TransientNetwork"));
            assert!(
                event
                    .field("trace")
                    .unwrap()
                    .contains("NetError::DnsTimeout")
            );
            // The error's values never reach the events.
            assert!(!event.text().contains("api.internal"), "{}", event.text());
        }
    })
    .await;
}

/// The negative twin: an error whose reaction is `Stop` returns at once.
#[tokio::test(start_paused = true)]
async fn test_call_returns_an_error_whose_reaction_is_stop_at_once() {
    within(HOUR_LIMIT, async {
        let (events, _guard) = Events::capture();
        let policy = Policy::new()
            .on::<TransientNetwork>(Reaction::Retry)
            .otherwise(Reaction::Stop)
            .backoff(exact(100, 1000));
        let script = Script::new(vec![corrupt, corrupt]);
        let start = Instant::now();
        let result = policy.retry("fetch", async || script.call().await).await;
        assert!(matches!(result, Err(WorkerError::Corrupt(_))));
        assert_eq!((script.calls(), Instant::now()), (1, start));
        assert_eq!(events.reactions("stop").len(), 1);
        assert!(events.reactions("retry").is_empty());
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_each_rule_has_its_own_backoff() {
    within(HOUR_LIMIT, async {
        let policy = Policy::new()
            .on::<TransientNetwork>(Reaction::Retry.backoff(exact(1000, 60_000)))
            .on::<Retryable>(Reaction::Retry)
            .backoff(exact(10, 1000));
        let script = Script::new(vec![busy, busy, dns, dns, busy]);
        assert_eq!(
            policy
                .retry("mixed", async || script.call().await)
                .await
                .ok(),
            Some(6)
        );
        // Delays grow with the attempt number; each kind takes its rule's
        // backoff.
        assert_eq!(script.gaps_ms(), [10, 20, 4000, 8000, 160]);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_max_attempts_gives_up_with_the_last_error() {
    within(HOUR_LIMIT, async {
        let (events, _guard) = Events::capture();
        let policy = Policy::new()
            .on::<Retryable>(Reaction::Retry.max_attempts(3))
            .backoff(exact(10, 1000));
        let script = Script::new(vec![busy; 10]);
        let result = policy.retry("busy", async || script.call().await).await;
        assert!(matches!(
            result,
            Err(WorkerError::Storage(StorageError::Busy))
        ));
        assert_eq!(script.calls(), 3);
        let stops = events.reactions("stop");
        assert_eq!(stops.len(), 1);
        assert_eq!(stops[0].field("attempt"), Some("3"));
    })
    .await;
}

/// The negative twin: without a maximum, the intensity limit ends the retries.
#[tokio::test(start_paused = true)]
async fn test_without_max_attempts_the_intensity_limit_applies() {
    within(HOUR_LIMIT, async {
        let policy = Policy::new()
            .on::<Retryable>(Reaction::Retry)
            .backoff(exact(10, 10))
            .intensity(Intensity::new(5, Duration::from_secs(60)));
        let script = Script::new(vec![busy; 100]);
        assert!(
            policy
                .retry("busy", async || script.call().await)
                .await
                .is_err()
        );
        assert_eq!(script.calls(), 6);
    })
    .await;
}

kind! {
    /// The server asked to slow down.
    pub Throttled;
}

#[derive(Debug, Signal)]
enum ApiError {
    #[signal(leaf = "Throttled")]
    TooManyRequests { retry_after: Option<Duration> },
}

impl RetryAfter for ApiError {
    fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::TooManyRequests { retry_after } => *retry_after,
        }
    }
}

async fn throttled_gaps(policy: Policy, asks: Vec<Option<Duration>>) -> Vec<u128> {
    let starts = Mutex::new(Vec::new());
    let calls = AtomicU32::new(0);
    let result = policy
        .retry("api", async || {
            starts.lock().unwrap().push(Instant::now());
            match asks.get(calls.fetch_add(1, Ordering::SeqCst) as usize) {
                Some(&retry_after) => Err(ApiError::TooManyRequests { retry_after }),
                None => Ok(()),
            }
        })
        .await;
    assert!(result.is_ok());
    gaps(&starts.into_inner().unwrap())
        .iter()
        .map(Duration::as_millis)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn test_retry_after_is_honoured_up_to_the_backoffs_maximum() {
    within(HOUR_LIMIT, async {
        let policy = || {
            Policy::new()
                .on::<Throttled>(Reaction::Retry)
                .backoff(exact(100, 10_000))
                .honour_retry_after::<ApiError>()
        };
        let secs = |s| Some(Duration::from_secs(s));
        // Longer than the backoff: waited for; shorter: the backoff wins;
        // none: the backoff; beyond the maximum: capped at it.
        assert_eq!(
            throttled_gaps(policy(), vec![secs(7), Some(MS), None, secs(3600)]).await,
            [7000, 200, 400, 10_000]
        );
    })
    .await;
}

/// The negative twin: a policy not told about the type ignores it.
#[tokio::test(start_paused = true)]
async fn test_retry_after_is_ignored_unless_the_policy_honours_it() {
    within(HOUR_LIMIT, async {
        let policy = Policy::new()
            .on::<Throttled>(Reaction::Retry)
            .backoff(exact(100, 10_000));
        let asks = vec![Some(Duration::from_secs(7))];
        assert_eq!(throttled_gaps(policy, asks).await, [100]);
        // A function reads it for a type that does not implement the trait.
        let policy = Policy::new()
            .on::<Throttled>(Reaction::Retry)
            .backoff(exact(100, 10_000))
            .retry_after_with(|_: &ApiError| Some(Duration::from_secs(2)));
        assert_eq!(throttled_gaps(policy, vec![None]).await, [2000]);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_call_rebuilds_the_resource_once_then_retries_at_once() {
    within(HOUR_LIMIT, async {
        let db = Resource::new("db", Pool::default(), async || {
            Ok::<_, io::Error>(Pool::default())
        });
        let policy = Policy::new()
            .on::<NeedsDbReconnect>(Reaction::rebuild(&db))
            .backoff(exact(100, 1000));
        db.get().drop_connection();
        let start = Instant::now();
        let generation = policy
            .retry("query", async || {
                let pool = db.get();
                if !pool.is_alive() {
                    pool.serve().await?;
                }
                Ok::<_, WorkerError>(pool.generation())
            })
            .await;
        assert_eq!(generation.ok(), Some(1));
        assert_eq!(Instant::now(), start, "a rebuild retries without backoff");
        assert_eq!(db.stats().rebuilds, 1);
    })
    .await;
}

/// The supervisor applies the same limits: a rule's maximum number of
/// attempts stops the worker with `Exhausted`.
#[tokio::test(start_paused = true)]
async fn test_a_worker_stops_when_its_rule_allows_no_more_attempts() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let policy = Policy::new()
            .on::<Retryable>(Reaction::Retry.max_attempts(4).backoff(exact(5, 5)))
            .backoff(exact(1000, 1000));
        let runs = std::sync::Arc::new(AtomicU32::new(0));
        let counted = std::sync::Arc::clone(&runs);
        let worker = supervisor.spawn("busy", policy, async move |_ctx| {
            counted.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(busy())
        });
        let start = Instant::now();
        match worker.join().await {
            Err(SupervisorError::Exhausted { attempts, last, .. }) => {
                assert_eq!(attempts, 4);
                assert!(matches!(
                    last.error(),
                    Some(WorkerError::Storage(StorageError::Busy))
                ));
            }
            other => panic!("expected Exhausted, got {other:?}"),
        }
        assert_eq!(runs.load(Ordering::SeqCst), 4);
        // Three waits of the rule's 5 ms, not the policy's second.
        assert_eq!(Instant::now() - start, 15 * MS);
        supervisor.shutdown().await;
    })
    .await;
}

#[test]
fn test_backoff_works_on_its_own() {
    let backoff = Backoff::new(100 * MS, 1000 * MS)
        .with_jitter(0.5)
        .with_seed(9);
    let first: Vec<_> = backoff.delays().take(20).collect();
    assert_eq!(
        first,
        backoff.delays().take(20).collect::<Vec<_>>(),
        "seeded, reproducible"
    );
    for (i, delay) in first.iter().enumerate() {
        let (low, high) = backoff.bounds(i as u32 + 1);
        assert!(
            low <= *delay && *delay <= high,
            "{delay:?} not in {low:?}..={high:?}"
        );
    }
    let unseeded = Backoff::new(100 * MS, 1000 * MS).with_jitter(1.0);
    let draws: Vec<_> = (0..50).map(|_| unseeded.delay(3)).collect();
    assert!(draws.iter().all(|d| *d <= 400 * MS));
    assert!(
        draws.iter().any(|d| *d != draws[0]),
        "jitter never varied: {draws:?}"
    );
}

/// A retry loop of one's own carries out the same steps: `Policy::step`
/// decides, `ResourceRef::rebuild_from` rebuilds.
async fn own_loop(policy: &Policy, db: &Resource<u32>) -> Result<u32, WorkerError> {
    use signal_runtime::{Failed, Step};
    let mut restarts = std::collections::VecDeque::new();
    let mut attempt = 0;
    loop {
        let lease = db.get();
        let error = match *lease {
            0 => WorkerError::Storage(StorageError::PoolNeedsConnection),
            value => return Ok(value),
        };
        attempt += 1;
        let failed = Failed {
            matched: policy.rule_for(&error),
            attempt,
            spent: attempt,
            seen: lease.generation(),
            proposed: Some(Duration::from_millis(10)),
            remaining: None,
            may_be_processed: false,
        };
        match policy.step(failed, &mut restarts, Instant::now()) {
            Step::Stop(_) => return Err(error),
            Step::Rebuild { resource, from, .. } => {
                resource.rebuild_from(from).await.unwrap();
            }
            Step::Retry { delay } => tokio::time::sleep(delay).await,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn test_a_loop_of_ones_own_carries_out_the_ladders_steps() {
    within(HOUR_LIMIT, async {
        let db = Resource::new("db", 0u32, async || Ok::<_, io::Error>(1u32));
        let policy = Policy::new().on::<NeedsDbReconnect>(Reaction::rebuild(&db));
        assert_eq!(own_loop(&policy, &db).await.ok(), Some(1));
        assert_eq!(db.stats().rebuilds, 1);
        // The twin: a policy that stops on the same error returns it, and
        // rebuilds nothing.
        let other = Resource::new("db", 0u32, async || Ok::<_, io::Error>(1u32));
        let stops = Policy::new().otherwise(Reaction::Stop);
        assert!(own_loop(&stops, &other).await.is_err());
        assert_eq!(other.stats().rebuilds, 0);
    })
    .await;
}
