//! The policy through `backon` and `tower`, each driven by the real crate.

#![cfg(all(feature = "backon", feature = "tower"))]

mod support;

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use signal_core::{Signal, kind};
use signal_runtime::{Backoff, Intensity, Policy, Reaction, Resource, RetryAfter};
use support::{Events, HOUR_LIMIT, gaps, within};
use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt};

kind! {
    /// Worth another try.
    pub Transient;
    /// The pool is gone.
    pub PoolGone;
}

#[derive(Clone, Debug, Signal)]
enum CallError {
    #[signal(leaf = "Transient")]
    Timeout,
    #[signal(leaf = "Transient")]
    Throttled {
        retry_after: Duration,
    },
    #[signal(leaf = "PoolGone")]
    PoolGone,
    BadRequest,
}

impl RetryAfter for CallError {
    fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Throttled { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn policy() -> Policy {
    Policy::new()
        .on::<Transient>(Reaction::Retry.max_attempts(4))
        .otherwise(Reaction::Stop)
        .backoff(Backoff::new(ms(100), ms(10_000)).with_jitter(0.0))
        .honour_retry_after::<CallError>()
}

/// Answers from a script of errors, then `Ok(calls)`; records call times.
#[derive(Clone, Default)]
struct Script {
    errors: Arc<Vec<CallError>>,
    calls: Arc<AtomicU32>,
    starts: Arc<Mutex<Vec<Instant>>>,
}

impl Script {
    fn new(errors: Vec<CallError>) -> Script {
        Script {
            errors: Arc::new(errors),
            ..Script::default()
        }
    }

    fn call(&self) -> Result<u32, CallError> {
        self.starts.lock().unwrap().push(Instant::now());
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        match self.errors.get(call as usize) {
            Some(error) => Err(error.clone()),
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

async fn with_backon(policy: &Policy, script: &Script) -> Result<u32, CallError> {
    (|| std::future::ready(script.call()))
        .retry(policy.backon_backoff())
        .when(policy.backon_when())
        .adjust(policy.backon_adjust())
        .await
}

#[tokio::test(start_paused = true)]
async fn test_backon_retries_by_kind_with_the_rules_backoff_and_retry_after() {
    within(HOUR_LIMIT, async {
        let policy = policy();
        let script = Script::new(vec![
            CallError::Timeout,
            CallError::Throttled {
                retry_after: ms(3000),
            },
            CallError::Timeout,
        ]);
        assert_eq!(with_backon(&policy, &script).await.ok(), Some(4));
        assert_eq!(script.gaps_ms(), [100, 3000, 400]);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_backon_stops_on_a_stop_rule_and_at_the_rules_maximum() {
    within(HOUR_LIMIT, async {
        let policy = policy();
        let bad = Script::new(vec![CallError::BadRequest; 10]);
        assert!(matches!(
            with_backon(&policy, &bad).await,
            Err(CallError::BadRequest)
        ));
        assert_eq!(bad.calls(), 1);
        let timeouts = Script::new(vec![CallError::Timeout; 10]);
        assert!(with_backon(&policy, &timeouts).await.is_err());
        assert_eq!(timeouts.calls(), 4);
    })
    .await;
}

/// The negative twin: backon's own builder, without the policy's `when`,
/// retries an error the policy would stop on.
#[tokio::test(start_paused = true)]
async fn test_backon_without_the_policy_retries_a_bad_request() {
    within(HOUR_LIMIT, async {
        let bad = Script::new(vec![CallError::BadRequest; 10]);
        let result = (|| std::future::ready(bad.call()))
            .retry(ExponentialBuilder::default().with_max_times(3))
            .await;
        assert!(result.is_err());
        assert_eq!(bad.calls(), 4);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_backon_backoff_is_bounded_by_the_intensity() {
    within(HOUR_LIMIT, async {
        let policy = Policy::new()
            .backoff(Backoff::new(ms(10), ms(10)))
            .intensity(Intensity::new(2, Duration::from_secs(60)));
        let timeouts = Script::new(vec![CallError::Timeout; 10]);
        let result = (|| std::future::ready(timeouts.call()))
            .retry(policy.backon_backoff())
            .await;
        assert!(result.is_err());
        assert_eq!(timeouts.calls(), 3);
    })
    .await;
}

async fn with_tower(policy: &Policy, script: &Script) -> Result<u32, CallError> {
    let script = script.clone();
    ServiceBuilder::new()
        .retry(policy.tower("api"))
        .service_fn(move |_request: u8| std::future::ready(script.call()))
        .oneshot(1)
        .await
}

#[tokio::test(start_paused = true)]
async fn test_tower_retries_by_kind_with_the_rules_backoff_and_retry_after() {
    within(HOUR_LIMIT, async {
        let policy = policy();
        let script = Script::new(vec![
            CallError::Timeout,
            CallError::Throttled {
                retry_after: ms(3000),
            },
            CallError::Timeout,
        ]);
        assert_eq!(with_tower(&policy, &script).await.ok(), Some(4));
        assert_eq!(script.gaps_ms(), [100, 3000, 400]);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_tower_stops_on_a_stop_rule_and_at_the_rules_maximum() {
    within(HOUR_LIMIT, async {
        let policy = policy();
        let bad = Script::new(vec![CallError::BadRequest; 10]);
        assert!(matches!(
            with_tower(&policy, &bad).await,
            Err(CallError::BadRequest)
        ));
        assert_eq!(bad.calls(), 1);
        let timeouts = Script::new(vec![CallError::Timeout; 10]);
        assert!(with_tower(&policy, &timeouts).await.is_err());
        assert_eq!(timeouts.calls(), 4);
        // Each request counts its own attempts.
        let again = Script::new(vec![CallError::Timeout, CallError::Timeout]);
        assert_eq!(with_tower(&policy, &again).await.ok(), Some(3));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_tower_rebuilds_the_resource_then_retries_at_once() {
    within(HOUR_LIMIT, async {
        let db = Resource::new("db", 0u32, async || Ok::<_, io::Error>(1u32));
        let policy = Policy::new()
            .on::<PoolGone>(Reaction::rebuild(&db))
            .backoff(Backoff::new(ms(100), ms(100)));
        let pool = db.clone();
        let start = Instant::now();
        let result = ServiceBuilder::new()
            .retry(policy.tower("query"))
            .service_fn(move |_request: u8| {
                let value = *pool.get();
                std::future::ready(if value == 0 {
                    Err(CallError::PoolGone)
                } else {
                    Ok(value)
                })
            })
            .oneshot(1)
            .await;
        assert_eq!(result.ok(), Some(1));
        assert_eq!(db.stats().rebuilds, 1);
        assert_eq!(Instant::now(), start, "a rebuild retries without backoff");
    })
    .await;
}

/// Timeouts with no attempt cap: only the backoff's end or the intensity
/// stops them.
fn uncapped() -> Policy {
    Policy::new()
        .on::<Transient>(Reaction::Retry)
        .otherwise(Reaction::Stop)
        .backoff(Backoff::new(ms(100), ms(100)).with_jitter(0.0))
        .intensity(Intensity::new(1000, Duration::from_secs(3600)))
}

#[tokio::test(start_paused = true)]
async fn test_backon_adjust_honours_the_end_of_backons_backoff() {
    within(HOUR_LIMIT, async {
        let policy = uncapped();
        let timeouts = Script::new(vec![CallError::Timeout; 100]);
        let result = (|| std::future::ready(timeouts.call()))
            .retry(ExponentialBuilder::default().with_max_times(2))
            .when(policy.backon_when())
            .adjust(policy.backon_adjust())
            .await;
        assert!(result.is_err());
        assert_eq!(
            timeouts.calls(),
            3,
            "backon's backoff said stop after 2 retries"
        );
    })
    .await;
}

/// The twin: while backon's backoff goes on, the rule's delays apply.
#[tokio::test(start_paused = true)]
async fn test_backon_adjust_retries_while_backons_backoff_goes_on() {
    within(HOUR_LIMIT, async {
        let policy = uncapped();
        let script = Script::new(vec![CallError::Timeout; 5]);
        let result = (|| std::future::ready(script.call()))
            .retry(ExponentialBuilder::default().with_max_times(10))
            .when(policy.backon_when())
            .adjust(policy.backon_adjust())
            .await;
        assert_eq!(result.ok(), Some(6));
        assert_eq!(script.gaps_ms(), [100; 5]);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_backon_adjust_enforces_the_restart_intensity() {
    within(HOUR_LIMIT, async {
        let policy = uncapped().intensity(Intensity::new(2, Duration::from_secs(60)));
        let timeouts = Script::new(vec![CallError::Timeout; 100]);
        let result = (|| std::future::ready(timeouts.call()))
            .retry(ExponentialBuilder::default().with_max_times(50))
            .when(policy.backon_when())
            .adjust(policy.backon_adjust())
            .await;
        assert!(result.is_err());
        assert_eq!(timeouts.calls(), 3, "two restarts allowed in the window");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_backon_intensity_is_a_window_not_a_total() {
    within(HOUR_LIMIT, async {
        // Two restarts per second, one every 600 ms: never more than two in
        // any second, so the window never overflows.
        let policy = Policy::new()
            .on::<Transient>(Reaction::Retry)
            .backoff(Backoff::new(ms(600), ms(600)).with_jitter(0.0))
            .intensity(Intensity::new(2, Duration::from_secs(1)));
        let script = Script::new(vec![CallError::Timeout; 6]);
        let result = (|| std::future::ready(script.call()))
            .retry(policy.backon_backoff())
            .when(policy.backon_when())
            .adjust(policy.backon_adjust())
            .await;
        assert_eq!(result.ok(), Some(7));
        // The twin: faster than the window allows, it stops.
        let fast = Policy::new()
            .on::<Transient>(Reaction::Retry)
            .backoff(Backoff::new(ms(100), ms(100)).with_jitter(0.0))
            .intensity(Intensity::new(2, Duration::from_secs(1)));
        let script = Script::new(vec![CallError::Timeout; 6]);
        let result = (|| std::future::ready(script.call()))
            .retry(fast.backon_backoff())
            .when(fast.backon_when())
            .adjust(fast.backon_adjust())
            .await;
        assert!(result.is_err());
        assert_eq!(script.calls(), 3);
    })
    .await;
}

/// A call whose every attempt takes 2 s: restarts come 2 s apart, never
/// more than one in the 1 s window, so backon goes on as `Policy::retry`
/// does (the window is on the clock, not on a timeline of instant
/// failures). The twin: the same call failing at once exceeds the window
/// under both.
#[tokio::test(start_paused = true)]
async fn test_backon_and_retry_agree_on_a_slow_failing_call() {
    within(HOUR_LIMIT, async {
        let policy = Policy::new()
            .on::<Transient>(Reaction::Retry)
            .backoff(Backoff::new(ms(10), ms(10)).with_jitter(0.0))
            .intensity(Intensity::new(2, Duration::from_secs(1)));
        for attempt_takes in [Duration::from_secs(2), Duration::ZERO] {
            let call = |calls: Arc<AtomicU32>| async move {
                tokio::time::sleep(attempt_takes).await;
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                if n <= 5 {
                    Err(CallError::Timeout)
                } else {
                    Ok(n)
                }
            };
            let expected = if attempt_takes.is_zero() {
                None
            } else {
                Some(6)
            };
            let calls = Arc::new(AtomicU32::new(0));
            let by_retry = policy
                .retry("slow", async || call(calls.clone()).await)
                .await;
            assert_eq!(by_retry.ok(), expected, "Policy::retry, {attempt_takes:?}");
            let calls = Arc::new(AtomicU32::new(0));
            let by_backon = (|| call(calls.clone()))
                .retry(policy.backon_backoff())
                .when(policy.backon_when())
                .adjust(policy.backon_adjust())
                .await;
            assert_eq!(
                by_backon.ok(),
                expected,
                "backon, {attempt_takes:?}: {} calls",
                calls.load(Ordering::SeqCst)
            );
        }
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_backon_rebuilds_the_resource_of_a_rebuild_rule() {
    within(HOUR_LIMIT, async {
        let db = Resource::new("db", 0u32, async || Ok::<_, io::Error>(1u32));
        let policy = Policy::new()
            .on::<PoolGone>(Reaction::rebuild(&db))
            .backoff(Backoff::new(ms(10), ms(10)));
        let pool = db.clone();
        let result = (|| {
            let value = *pool.get();
            std::future::ready(if value == 0 {
                Err(CallError::PoolGone)
            } else {
                Ok(value)
            })
        })
        .retry(policy.backon_backoff())
        .when(policy.backon_when())
        .adjust(policy.backon_adjust())
        .await;
        assert_eq!(result.ok(), Some(1));
        assert_eq!(db.stats().rebuilds, 1);
    })
    .await;
}

/// A pool broken in generations 0 and 1: each failure asks for a rebuild
/// from the generation its attempt used, so backon, as `Policy::retry`,
/// makes one call per broken generation and then the good one (asking
/// from the generation of the failure before, its own rebuild not yet
/// counted, cost a no-op rebuild and an extra call).
#[tokio::test(start_paused = true)]
async fn test_backon_rebuilds_from_the_generation_the_failed_attempt_used() {
    within(HOUR_LIMIT, async {
        for use_backon in [false, true] {
            let db = Resource::new("db", (), async || Ok::<_, io::Error>(()));
            let policy = Policy::new()
                .on::<PoolGone>(Reaction::rebuild(&db))
                .backoff(Backoff::new(ms(10), ms(10)).with_jitter(0.0));
            let calls = AtomicU32::new(0);
            let op = || {
                calls.fetch_add(1, Ordering::SeqCst);
                std::future::ready(if db.generation() < 2 {
                    Err(CallError::PoolGone)
                } else {
                    Ok(db.generation())
                })
            };
            let result = if use_backon {
                op.retry(policy.backon_backoff())
                    .when(policy.backon_when())
                    .adjust(policy.backon_adjust())
                    .await
            } else {
                policy.retry("db", async || op().await).await
            };
            assert_eq!(result.ok(), Some(2), "backon={use_backon}");
            assert_eq!(calls.load(Ordering::SeqCst), 3, "backon={use_backon}");
            assert_eq!(db.stats().rebuilds, 2, "backon={use_backon}");
        }
    })
    .await;
}

/// The twin: a failure that comes back after another caller has already
/// replaced the pool it used does not rebuild the healthy new one.
#[tokio::test(start_paused = true)]
async fn test_backon_does_not_rebuild_a_pool_replaced_during_the_attempt() {
    within(HOUR_LIMIT, async {
        let db = Resource::new("db", 0u32, async || Ok::<_, io::Error>(1u32));
        let policy = Policy::new()
            .on::<PoolGone>(Reaction::rebuild(&db))
            .backoff(Backoff::new(ms(100), ms(100)));
        let calls = AtomicU32::new(0);
        let result = (|| async {
            let lease = db.get();
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                // Meanwhile, another caller finds the pool gone and rebuilds it.
                db.rebuild_from(lease.generation()).await.unwrap();
                return Err(CallError::PoolGone); // late, on the old pool
            }
            Ok(*lease)
        })
        .retry(policy.backon_backoff())
        .when(policy.backon_when())
        .adjust(policy.backon_adjust())
        .await;
        assert_eq!(result.ok(), Some(1));
        assert_eq!(db.stats().rebuilds, 1, "the healthy new pool was rebuilt");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    })
    .await;
}

/// Delays of one call that fails `n` times, under a seeded policy with wide
/// jitter.
fn seeded() -> Policy {
    Policy::new().on::<Transient>(Reaction::Retry).backoff(
        Backoff::new(ms(10_000), ms(10_000))
            .with_jitter(1.0)
            .with_seed(3),
    )
}

#[tokio::test(start_paused = true)]
async fn test_backon_calls_draw_their_own_jitter() {
    within(HOUR_LIMIT, async {
        let policy = seeded();
        let (a, b) = (
            Script::new(vec![CallError::Timeout; 3]),
            Script::new(vec![CallError::Timeout; 3]),
        );
        with_backon(&policy, &a).await.unwrap();
        with_backon(&policy, &b).await.unwrap();
        assert_ne!(a.gaps_ms(), b.gaps_ms(), "two calls retry in lockstep");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_tower_requests_draw_their_own_jitter() {
    within(HOUR_LIMIT, async {
        let policy = seeded();
        let (a, b) = (
            Script::new(vec![CallError::Timeout; 3]),
            Script::new(vec![CallError::Timeout; 3]),
        );
        with_tower(&policy, &a).await.unwrap();
        with_tower(&policy, &b).await.unwrap();
        assert_ne!(a.gaps_ms(), b.gaps_ms(), "two requests retry in lockstep");
    })
    .await;
}

/// A request that ran on generation 0 fails after another caller already
/// replaced it: the healthy new pool must not be rebuilt again.
#[tokio::test(start_paused = true)]
async fn test_tower_rebuilds_from_the_generation_the_failed_request_used() {
    within(HOUR_LIMIT, async {
        let db = Resource::new("db", 0u32, async || Ok::<_, io::Error>(1u32));
        let policy = Policy::new()
            .on::<PoolGone>(Reaction::rebuild(&db))
            .backoff(Backoff::new(ms(100), ms(100)));
        let pool = db.clone();
        let calls = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&calls);
        let result = ServiceBuilder::new()
            .retry(policy.tower("query"))
            .service_fn(move |_request: u8| {
                let pool = pool.clone();
                let call = counted.fetch_add(1, Ordering::SeqCst);
                async move {
                    let lease = pool.get();
                    if call == 0 {
                        // Meanwhile, another caller finds the pool gone and
                        // rebuilds it.
                        pool.rebuild_from(lease.generation()).await.unwrap();
                        return Err(CallError::PoolGone); // late, on the old pool
                    }
                    Ok(*lease)
                }
            })
            .oneshot(1)
            .await;
        assert_eq!(result.ok(), Some(1));
        assert_eq!(db.stats().rebuilds, 1, "the healthy new pool was rebuilt");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    })
    .await;
}

/// One event per step through backon too: two retries, then the stop.
#[tokio::test(start_paused = true)]
async fn test_backon_reports_each_step() {
    within(HOUR_LIMIT, async {
        let (events, _guard) = Events::capture();
        let policy = policy();
        let timeouts = Script::new(vec![CallError::Timeout; 10]);
        assert!(with_backon(&policy, &timeouts).await.is_err());
        assert_eq!(timeouts.calls(), 4);
        let retries = events.reactions("retry");
        assert_eq!(retries.len(), 3);
        assert_eq!(retries[0].field("kind"), Some("Transient"));
        assert_eq!(retries[0].field("delay_ms"), Some("100"));
        let stops = events.reactions("stop");
        assert_eq!(stops.len(), 1);
        assert!(
            stops[0].message.contains("no more attempts"),
            "{}",
            stops[0].message
        );
        assert!(retries.iter().all(|e| e.field("worker") == Some("backon")));
        // Named, its events carry the name.
        let named = Script::new(vec![CallError::Timeout]);
        let result = (|| std::future::ready(named.call()))
            .retry(policy.backon_backoff())
            .adjust(policy.backon_adjust_named("fetch"))
            .await;
        assert_eq!(result.ok(), Some(2));
        assert_eq!(
            events.reactions("retry").last().unwrap().field("worker"),
            Some("fetch")
        );
        // The twin: a call that succeeds at once reports nothing.
        let ok = Script::new(vec![]);
        let before = events.all().len();
        assert_eq!(with_backon(&policy, &ok).await.ok(), Some(1));
        assert_eq!(events.all().len(), before);
    })
    .await;
}

/// Every path to a reaction at the edges: `Policy::retry`, tower and backon
/// with a backoff of `Duration::MAX` and a server asking for `Duration::MAX`
/// wait (as good as forever) instead of panicking on the time arithmetic;
/// the twin with a short backoff finishes.
#[tokio::test(start_paused = true)]
async fn test_every_call_path_saturates_at_duration_max() {
    let edge = |max: Duration| {
        Policy::new()
            .on::<Transient>(Reaction::Retry.max_attempts(3))
            .backoff(Backoff::new(max, max).with_jitter(0.0))
            .honour_retry_after::<CallError>()
    };
    let script = || {
        Script::new(vec![CallError::Throttled {
            retry_after: Duration::MAX,
        }])
    };
    let day = Duration::from_secs(86_400);
    for (max, finishes) in [(Duration::MAX, false), (ms(1), true)] {
        let policy = edge(max);
        let by_retry = script();
        let retried = tokio::time::timeout(day, async {
            let by_retry = by_retry.clone();
            policy.retry("edge", async || by_retry.call()).await
        })
        .await;
        let by_tower = script();
        let towered = tokio::time::timeout(day, with_tower(&policy, &by_tower)).await;
        let by_backon = script();
        let backed = tokio::time::timeout(day, with_backon(&policy, &by_backon)).await;
        if finishes {
            // Retry-After is honoured, but capped by the backoff's maximum.
            assert!(retried.is_ok() && towered.is_ok() && backed.is_ok());
        } else {
            assert!(retried.is_err(), "Policy::retry still waiting");
            assert!(towered.is_err(), "tower still waiting");
            assert!(backed.is_err(), "backon still waiting");
        }
        for script in [&by_retry, &by_tower, &by_backon] {
            assert_eq!(script.calls(), if finishes { 2 } else { 1 });
        }
    }
}

/// A rebuild that panics fails the call with an error on every path, never
/// a panic or a hang; the twin's rebuild succeeds and the call too.
#[tokio::test(start_paused = true)]
async fn test_every_call_path_survives_a_panicking_rebuild() {
    within(HOUR_LIMIT, async {
        for panics in [true, false] {
            let db = Resource::new("db", 0u32, async move || {
                if panics {
                    panic!("the rebuild panicked");
                }
                Ok::<_, io::Error>(1u32)
            });
            let policy = Policy::new()
                .on::<PoolGone>(Reaction::rebuild(&db).max_attempts(3))
                .backoff(Backoff::new(ms(10), ms(10)).with_jitter(0.0));
            let call = |pool: Resource<u32>| {
                let value = *pool.get();
                std::future::ready(if value == 0 {
                    Err(CallError::PoolGone)
                } else {
                    Ok(value)
                })
            };
            let pool = db.clone();
            let retried = policy.retry("db", async || call(pool.clone()).await).await;
            let pool = db.clone();
            let towered = ServiceBuilder::new()
                .retry(policy.tower("db"))
                .service_fn(move |_request: u8| call(pool.clone()))
                .oneshot(1)
                .await;
            let pool = db.clone();
            let backed = (|| call(pool.clone()))
                .retry(policy.backon_backoff())
                .when(policy.backon_when())
                .adjust(policy.backon_adjust())
                .await;
            if panics {
                assert!(retried.is_err(), "Policy::retry: {retried:?}");
                assert!(towered.is_err(), "tower: {towered:?}");
                assert!(backed.is_err(), "backon: {backed:?}");
            } else {
                assert_eq!(retried.ok(), Some(1));
                assert_eq!(towered.ok(), Some(1));
                assert_eq!(backed.ok(), Some(1));
            }
        }
    })
    .await;
}
