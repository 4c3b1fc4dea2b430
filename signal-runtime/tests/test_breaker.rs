//! The circuit breaker by kind: a network storm opens it and calls fail
//! fast with an error that raises `Unavailable`; a storm of bad credentials
//! never opens it; half-open probes close or reopen it; workers wait for it;
//! the `tower` layer refuses requests while it is open.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use signal_core::vocab::{BadCredentials, TimedOut, TransientNetwork, Unavailable};
use signal_core::{Signal, kind};
#[cfg(feature = "tower")]
use signal_runtime::BreakerError;
use signal_runtime::{
    Backoff, BreakerState, CircuitBreaker, ConfigError, Intensity, Phase, Policy, Reaction,
    RetryError, StopReason, Supervisor,
};
use support::{Events, HOUR_LIMIT, MS, OPEN_FOR, network_breaker, network_policy, within};
use tokio::time::Instant;
#[cfg(feature = "tower")]
use tower::{ServiceBuilder, ServiceExt};

kind! {
    /// Never counted by any breaker here.
    pub Unrelated;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Signal)]
enum ApiError {
    #[error("refused")]
    #[signal(leaf = "signal_core::vocab::ConnectionRefused")]
    Refused,
    #[error("rejected")]
    #[signal(leaf = "signal_core::vocab::BadCredentials")]
    Rejected,
}

/// Counts network failures, unavailability and timeouts; opens at half of
/// at least 10 outcomes in 10 s, for 30 s, one probe.
fn breaker() -> CircuitBreaker {
    network_breaker("api", 10)
        .counts::<Unavailable>()
        .counts::<TimedOut>()
        .open_for(OPEN_FOR)
        .build()
        .unwrap()
}

/// Retries the network up to 3 attempts; stops on anything else.
fn policy(breaker: Option<&CircuitBreaker>) -> Arc<Policy> {
    let policy = network_policy();
    Arc::new(match breaker {
        Some(breaker) => policy.breaker(breaker),
        None => policy,
    })
}

/// A backend that answers every request with its answer, and counts them.
type Backend = support::Backend<ApiError>;

async fn call(policy: &Policy, backend: &Backend) -> Result<(), RetryError<ApiError>> {
    policy.call("api").run(async |_| backend.send()).await
}

#[tokio::test(start_paused = true)]
async fn test_a_network_storm_opens_the_breaker_and_calls_fail_fast() {
    within(HOUR_LIMIT, async {
        let (events, _guard) = Events::capture();
        let breaker = breaker();
        let policy = policy(Some(&breaker));
        let backend = Backend::new(Err(ApiError::Refused));
        // Three calls of three attempts: nine failures, below the minimum.
        for _ in 0..3 {
            let error = call(&policy, &backend).await.unwrap_err();
            assert_eq!(error.reason(), StopReason::Exhausted);
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
        // The tenth failure opens it: the call gives up instead of retrying.
        let error = call(&policy, &backend).await.unwrap_err();
        assert!(matches!(error, RetryError::CircuitOpen { .. }), "{error:?}");
        assert_eq!(error.attempts(), 1);
        assert_eq!(error.last(), Some(&ApiError::Refused));
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(backend.sent(), 10);
        // Then every call fails fast: nothing reaches the backend.
        for _ in 0..100 {
            let error = call(&policy, &backend).await.unwrap_err();
            assert!(matches!(
                &error,
                RetryError::CircuitOpen { last: None, open, .. } if open.retry_in == OPEN_FOR
            ));
            assert_eq!(error.attempts(), 0);
            assert!(error.has::<Unavailable>());
            assert!(
                !error.has::<TransientNetwork>(),
                "no attempt, no network error"
            );
            assert_eq!(
                error.to_string(),
                "call `api` failed after 0 attempts: the circuit breaker `api` is open"
            );
        }
        assert_eq!(backend.sent(), 10);
        let opened: Vec<_> = events
            .all()
            .into_iter()
            .filter(|event| event.field("state") == Some("open"))
            .collect();
        assert_eq!(opened.len(), 1);
        assert_eq!(opened[0].field("breaker"), Some("api"));
    })
    .await;
}

/// The negative twin: a storm of bad credentials is the backend answering.
/// It never opens the breaker, and every request is sent; a breaker that
/// counted every error would have opened at the tenth.
#[tokio::test(start_paused = true)]
async fn test_a_bad_credentials_storm_never_opens_the_breaker() {
    within(HOUR_LIMIT, async {
        let breaker = breaker();
        let policy = policy(Some(&breaker));
        let backend = Backend::new(Err(ApiError::Rejected));
        for _ in 0..1000 {
            let error = call(&policy, &backend).await.unwrap_err();
            assert_eq!(error.reason(), StopReason::Reaction);
            assert!(error.has::<BadCredentials>() && !error.has::<Unavailable>());
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(backend.sent(), 1000);
        // Network failures among the answers stay below half: still closed.
        backend.answer(Err(ApiError::Refused));
        for _ in 0..3 {
            let _ = call(&policy, &backend).await;
        }
        assert_eq!(breaker.state(), BreakerState::Closed);

        let counts_everything = CircuitBreaker::builder("all")
            .counts::<TransientNetwork>()
            .counts::<BadCredentials>()
            .min_calls(10)
            .build()
            .unwrap();
        let policy = self::policy(Some(&counts_everything));
        let backend = Backend::new(Err(ApiError::Rejected));
        for _ in 0..20 {
            let _ = call(&policy, &backend).await;
        }
        assert_eq!(counts_everything.state(), BreakerState::Open);
        assert_eq!(backend.sent(), 10);
    })
    .await;
}

/// Open → half-open after `open_for` → one probe; a probe that succeeds
/// closes it, one that fails reopens it.
#[tokio::test(start_paused = true)]
async fn test_half_open_probes_close_or_reopen_the_breaker() {
    within(HOUR_LIMIT, async {
        let breaker = breaker();
        let policy = policy(Some(&breaker));
        let backend = Backend::new(Err(ApiError::Refused));
        while breaker.state() != BreakerState::Open {
            let _ = call(&policy, &backend).await;
        }
        tokio::time::sleep(OPEN_FOR - MS).await;
        assert_eq!(breaker.state(), BreakerState::Open);
        tokio::time::sleep(MS).await;
        assert_eq!(breaker.state(), BreakerState::HalfOpen);

        // The probe fails: open again, for another 30 s; no retry.
        let sent = backend.sent();
        let error = call(&policy, &backend).await.unwrap_err();
        assert!(matches!(error, RetryError::CircuitOpen { .. }));
        assert_eq!(backend.sent(), sent + 1);
        assert_eq!(breaker.state(), BreakerState::Open);

        // The backend is back; the next probe closes it, and calls flow.
        backend.answer(Ok(()));
        tokio::time::sleep(OPEN_FOR).await;
        assert!(call(&policy, &backend).await.is_ok());
        assert_eq!(breaker.state(), BreakerState::Closed);
        for _ in 0..10 {
            assert!(call(&policy, &backend).await.is_ok());
        }
        assert_eq!(backend.sent(), sent + 12);
    })
    .await;
}

/// Half-open lets one probe through at a time: while it is in flight,
/// other callers fail fast.
#[tokio::test(start_paused = true)]
async fn test_half_open_lets_one_probe_through_at_a_time() {
    within(HOUR_LIMIT, async {
        let breaker = breaker();
        let policy = policy(Some(&breaker));
        let backend = Backend::new(Err(ApiError::Refused));
        while breaker.state() != BreakerState::Open {
            let _ = call(&policy, &backend).await;
        }
        tokio::time::sleep(OPEN_FOR).await;
        let release = Arc::new(tokio::sync::Notify::new());
        let probe = {
            let (policy, release) = (Arc::clone(&policy), Arc::clone(&release));
            tokio::spawn(async move {
                policy
                    .call("api")
                    .run(move |_| {
                        let release = Arc::clone(&release);
                        async move {
                            release.notified().await;
                            Ok::<_, ApiError>(())
                        }
                    })
                    .await
            })
        };
        tokio::task::yield_now().await;
        let error = call(&policy, &backend).await.unwrap_err();
        assert!(matches!(
            &error,
            RetryError::CircuitOpen { open, .. } if open.retry_in == Duration::ZERO
        ));
        release.notify_one();
        assert!(probe.await.unwrap().is_ok());
        assert_eq!(breaker.state(), BreakerState::Closed);
    })
    .await;
}

/// A probe whose attempt panics gives its place back: the breaker does not
/// stay half-open with a probe that will never end.
#[tokio::test(start_paused = true)]
async fn test_a_panicking_probe_does_not_wedge_the_breaker() {
    within(HOUR_LIMIT, async {
        let breaker = breaker();
        let policy = policy(Some(&breaker));
        let backend = Backend::new(Err(ApiError::Refused));
        while breaker.state() != BreakerState::Open {
            let _ = call(&policy, &backend).await;
        }
        tokio::time::sleep(OPEN_FOR).await;
        let panicking = Arc::clone(&policy);
        let joined = tokio::spawn(async move {
            panicking
                .call("api")
                .run(|_| async { panic!("the probe panics") })
                .await
                .map(|(): ()| 0)
                .map_err(|error: RetryError<ApiError>| error.reason())
        })
        .await;
        assert!(joined.unwrap_err().is_panic());
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        // The next call is the probe.
        backend.answer(Ok(()));
        assert!(call(&policy, &backend).await.is_ok());
        assert_eq!(breaker.state(), BreakerState::Closed);
    })
    .await;
}

/// `Policy::retry` counts its outcomes and makes no retry while the breaker
/// is open.
#[tokio::test(start_paused = true)]
async fn test_policy_retry_counts_outcomes_and_stops_retrying_when_open() {
    within(HOUR_LIMIT, async {
        let breaker = breaker();
        let policy = policy(Some(&breaker));
        let backend = Backend::new(Err(ApiError::Refused));
        for _ in 0..4 {
            let error = policy
                .retry("api", async || backend.send())
                .await
                .unwrap_err();
            assert_eq!(error, ApiError::Refused);
        }
        // 3 + 3 + 3 + 1: the tenth opened it, and no retry followed.
        assert_eq!(backend.sent(), 10);
        assert_eq!(breaker.state(), BreakerState::Open);
        // The twin: without the breaker, each call makes its three attempts.
        let plain = self::policy(None);
        let backend = Backend::new(Err(ApiError::Refused));
        for _ in 0..4 {
            let _ = plain.retry("api", async || backend.send()).await;
        }
        assert_eq!(backend.sent(), 12);
    })
    .await;
}

/// Workers: once the breaker opens, a restart waits until it half-opens,
/// instead of hammering the backend on the backoff; one worker or many.
#[tokio::test(start_paused = true)]
async fn test_workers_wait_for_an_open_breaker() {
    within(HOUR_LIMIT, async {
        for workers in [1usize, 10] {
            let breaker = network_breaker("api", 3)
                .open_for(OPEN_FOR)
                .build()
                .unwrap();
            let policy = Arc::new(
                Policy::new()
                    .on::<TransientNetwork>(Reaction::Retry)
                    .backoff(Backoff::new(100 * MS, Duration::from_secs(1)).with_jitter(0.0))
                    .intensity(Intensity::new(u32::MAX, Duration::from_secs(1)))
                    .breaker(&breaker),
            );
            let backend = Backend::new(Err(ApiError::Refused));
            let supervisor = Supervisor::new();
            let start = Instant::now();
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    let backend = backend.clone();
                    supervisor.spawn("sync", Arc::clone(&policy), async move |_ctx| {
                        backend.send()
                    })
                })
                .collect();
            tokio::time::sleep(Duration::from_secs(10)).await;
            assert_eq!(breaker.state(), BreakerState::Open, "{workers} workers");
            let sent = backend.sent();
            // One worker: failures at 0, 100 ms and 300 ms open it. Ten
            // workers: the third first failure opens it; the two before it
            // chose their backoff while it was closed, and when that ends
            // they find it open and wait for it too; the seven after it
            // find it open before their first run, and wait. No one runs
            // (again) until it half-opens.
            assert_eq!(sent, 3, "{workers} workers");
            for handle in &handles {
                let status = handle.status();
                assert_eq!(status.phase, Phase::BackingOff);
                assert!(status.retry.backoff_until.unwrap() >= start + OPEN_FOR);
            }
            // The backend is back: after the open period, the workers run
            // again, the first success closes the breaker, and they finish.
            backend.answer(Ok(()));
            for handle in handles {
                assert!(handle.join().await.is_ok());
            }
            assert_eq!(breaker.state(), BreakerState::Closed);
            assert!(start.elapsed() >= OPEN_FOR);
            supervisor.shutdown().await;
        }
    })
    .await;
}

/// The twin: without a breaker, a failing worker restarts on its backoff.
#[tokio::test(start_paused = true)]
async fn test_without_a_breaker_a_worker_restarts_on_its_backoff() {
    within(HOUR_LIMIT, async {
        let policy = Policy::new()
            .on::<TransientNetwork>(Reaction::Retry)
            .backoff(Backoff::new(100 * MS, Duration::from_secs(1)).with_jitter(0.0))
            .intensity(Intensity::new(u32::MAX, Duration::from_secs(1)));
        let backend = Backend::new(Err(ApiError::Refused));
        let supervisor = Supervisor::new();
        let sender = backend.clone();
        let _worker = supervisor.spawn("sync", policy, async move |_ctx| sender.send());
        tokio::time::sleep(Duration::from_secs(10)).await;
        // 0, 0.1, 0.3, 0.7, 1.5, then every second: far more than 3.
        assert!(backend.sent() > 10, "{}", backend.sent());
        supervisor.shutdown().await;
    })
    .await;
}

#[cfg(feature = "tower")]
#[tokio::test(start_paused = true)]
async fn test_the_tower_layer_fails_fast_while_open() {
    within(HOUR_LIMIT, async {
        let breaker = breaker();
        let backend = Backend::new(Err(ApiError::Refused));
        let policy = policy(Some(&breaker));
        let service = {
            let backend = backend.clone();
            ServiceBuilder::new()
                .retry(policy.tower("api"))
                .layer(breaker.layer())
                .service_fn(move |_: u32| std::future::ready(backend.send()))
        };
        for _ in 0..4 {
            assert!(service.clone().oneshot(1).await.is_err());
        }
        assert_eq!(backend.sent(), 10);
        assert_eq!(breaker.state(), BreakerState::Open);
        let refused = service.clone().oneshot(1).await.unwrap_err();
        assert!(matches!(refused, BreakerError::Open(_)), "{refused:?}");
        assert!(refused.has::<Unavailable>());
        assert_eq!(backend.sent(), 10);

        // The twin: bad credentials through the same layer never open it.
        let breaker = self::breaker();
        let backend = Backend::new(Err(ApiError::Rejected));
        let service = {
            let backend = backend.clone();
            ServiceBuilder::new()
                .layer(breaker.layer())
                .service_fn(move |_: u32| std::future::ready(backend.send()))
        };
        for _ in 0..100 {
            let error = service.clone().oneshot(1).await.unwrap_err();
            assert!(matches!(error, BreakerError::Inner(ApiError::Rejected)));
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(backend.sent(), 100);
    })
    .await;
}

#[test]
fn test_bad_breaker_settings_are_config_errors() {
    let base = || CircuitBreaker::builder("b").counts::<TransientNetwork>();
    assert!(matches!(
        CircuitBreaker::builder("b").build(),
        Err(ConfigError::NoCountedKinds { .. })
    ));
    for rate in [f64::NAN, 0.0, -0.5, 1.01, f64::INFINITY] {
        assert!(
            matches!(
                base().failure_rate(rate).build(),
                Err(ConfigError::FailureRate { .. })
            ),
            "{rate}"
        );
    }
    assert!(matches!(
        base().window(Duration::ZERO).build(),
        Err(ConfigError::ZeroWindow { .. })
    ));
    assert!(matches!(
        base().probes(0).build(),
        Err(ConfigError::NoProbes { .. })
    ));
    // The edges that are fine.
    assert!(base().failure_rate(1.0).min_calls(0).build().is_ok());
    assert!(
        base()
            .window(Duration::MAX)
            .open_for(Duration::MAX)
            .build()
            .is_ok()
    );
    assert!(base().open_for(Duration::ZERO).build().is_ok());
    let error = base().failure_rate(2.0).build().unwrap_err();
    assert!(error.to_string().contains("failure rate"), "{error}");
}

/// `Duration::MAX` open and window: it opens, stays open a year later, and
/// nothing overflows; a zero `open_for` half-opens at the next call.
#[tokio::test(start_paused = true)]
async fn test_extreme_open_periods_never_panic() {
    within(HOUR_LIMIT * 24 * 400, async {
        let forever = network_breaker("b", 1)
            .window(Duration::MAX)
            .open_for(Duration::MAX)
            .build()
            .unwrap();
        let policy = policy(Some(&forever));
        let backend = Backend::new(Err(ApiError::Refused));
        let _ = call(&policy, &backend).await;
        tokio::time::sleep(Duration::from_secs(365 * 24 * 3600)).await;
        assert_eq!(forever.state(), BreakerState::Open);
        assert_eq!(backend.sent(), 1);

        let at_once = network_breaker("b", 1)
            .open_for(Duration::ZERO)
            .build()
            .unwrap();
        let policy = self::policy(Some(&at_once));
        let backend = Backend::new(Err(ApiError::Refused));
        // Each failure opens it; each next attempt is a probe that reopens it.
        let error = call(&policy, &backend).await.unwrap_err();
        assert_eq!(error.reason(), StopReason::Exhausted);
        assert_eq!(backend.sent(), 3);
        let _ = Unrelated;
    })
    .await;
}

/// A call the breaker refuses sends nothing, so it deposits nothing in the
/// policy's retry budget either; a call let through does.
#[tokio::test(start_paused = true)]
async fn test_a_refused_call_is_no_request_for_the_budget() {
    within(HOUR_LIMIT, async {
        let breaker = breaker();
        let budget =
            signal_runtime::RetryBudget::new("api", 0.1, 0, Duration::from_secs(10)).unwrap();
        let policy = Policy::new()
            .on::<TransientNetwork>(Reaction::Retry.max_attempts(1))
            .breaker(&breaker)
            .retry_budget(&budget);
        let backend = Backend::new(Err(ApiError::Refused));
        for _ in 0..10 {
            let _ = call(&policy, &backend).await;
        }
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(budget.stats().requests, 10);
        for _ in 0..100 {
            let _ = call(&policy, &backend).await;
        }
        assert_eq!(budget.stats().requests, 10);
        assert_eq!(backend.sent(), 10);
    })
    .await;
}

/// A worker waiting for an open breaker is recovered at once by
/// `recover()`; its twin, left alone, waits for the breaker.
#[tokio::test(start_paused = true)]
async fn test_recover_ends_a_wait_for_the_breaker() {
    within(HOUR_LIMIT, async {
        // Both first runs fail before it opens: both restarts wait.
        let breaker = network_breaker("api", 2)
            .open_for(OPEN_FOR)
            .build()
            .unwrap();
        let policy = Arc::new(
            Policy::new()
                .on::<TransientNetwork>(Reaction::Retry)
                .backoff(Backoff::new(100 * MS, Duration::from_secs(1)).with_jitter(0.0))
                .breaker(&breaker),
        );
        let supervisor = Supervisor::new();
        let backend = Backend::new(Err(ApiError::Refused));
        let (left, recovered) = (backend.clone(), Backend::new(Err(ApiError::Refused)));
        let waiting = supervisor.spawn("left", Arc::clone(&policy), async move |_ctx| left.send());
        let sender = recovered.clone();
        let nudged = supervisor.spawn("recovered", policy, async move |_ctx| sender.send());
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!((backend.sent(), recovered.sent()), (1, 1));
        assert_eq!(waiting.status().phase, Phase::BackingOff);
        assert!(nudged.recover());
        nudged.wait_for(|status| status.runs == 2).await;
        assert_eq!(recovered.sent(), 2);
        assert_eq!(backend.sent(), 1, "the twin still waits for the breaker");
        supervisor.shutdown().await;
    })
    .await;
}

/// A probe call that waits for `gate` and then answers with its result.
fn gated_probe(
    policy: &Arc<Policy>,
    gate: tokio::sync::oneshot::Receiver<Result<(), ApiError>>,
) -> tokio::task::JoinHandle<Result<(), RetryError<ApiError>>> {
    let policy = Arc::clone(policy);
    let gate = Arc::new(std::sync::Mutex::new(Some(gate)));
    tokio::spawn(async move {
        policy
            .call("api")
            .run(move |_| {
                let gate = gate.lock().unwrap().take();
                async move {
                    match gate {
                        Some(gate) => gate.await.unwrap_or(Ok(())),
                        None => Ok(()),
                    }
                }
            })
            .await
    })
}

fn two_probe_breaker() -> CircuitBreaker {
    network_breaker("api", 1)
        .open_for(OPEN_FOR)
        .probes(2)
        .build()
        .unwrap()
}

/// A probe let through before the breaker reopened, cancelled once it has
/// half-opened again, does not give back a place among the new probes:
/// half-open never has more probes in flight than it allows.
#[tokio::test(start_paused = true)]
async fn test_a_stale_probe_cancelled_does_not_free_a_new_probes_place() {
    within(HOUR_LIMIT, async {
        let breaker = two_probe_breaker();
        let policy = policy(Some(&breaker));
        let backend = Backend::new(Err(ApiError::Refused));
        let _ = call(&policy, &backend).await;
        assert_eq!(breaker.state(), BreakerState::Open);
        tokio::time::sleep(OPEN_FOR).await;
        // Two probes: the first fails and reopens it, the second stays out.
        let (fail, first) = tokio::sync::oneshot::channel();
        let (_stale_gate, stale) = tokio::sync::oneshot::channel();
        let first = gated_probe(&policy, first);
        let stale = gated_probe(&policy, stale);
        tokio::task::yield_now().await;
        fail.send(Err(ApiError::Refused)).unwrap();
        assert!(first.await.unwrap().is_err());
        assert_eq!(breaker.state(), BreakerState::Open);
        // Half-open again: two new probes take both places.
        tokio::time::sleep(OPEN_FOR).await;
        let (_gate_a, a) = tokio::sync::oneshot::channel();
        let (_gate_b, b) = tokio::sync::oneshot::channel();
        let _a = gated_probe(&policy, a);
        let _b = gated_probe(&policy, b);
        tokio::task::yield_now().await;
        assert!(matches!(
            call(&policy, &backend).await,
            Err(RetryError::CircuitOpen { .. })
        ));
        // The stale probe is cancelled: its place was in the old half-open.
        stale.abort();
        assert!(stale.await.unwrap_err().is_cancelled());
        let sent = backend.sent();
        let error = call(&policy, &backend).await.unwrap_err();
        assert!(
            matches!(&error, RetryError::CircuitOpen { open, .. } if open.retry_in == Duration::ZERO),
            "{error:?}"
        );
        assert_eq!(backend.sent(), sent, "a third probe was let through");
    })
    .await;
}

/// The twin: a probe of the current half-open that is cancelled does give
/// its place back.
#[tokio::test(start_paused = true)]
async fn test_a_current_probe_cancelled_frees_its_place() {
    within(HOUR_LIMIT, async {
        let breaker = two_probe_breaker();
        let policy = policy(Some(&breaker));
        let backend = Backend::new(Err(ApiError::Refused));
        let _ = call(&policy, &backend).await;
        tokio::time::sleep(OPEN_FOR).await;
        let (_gate_a, a) = tokio::sync::oneshot::channel();
        let (_gate_b, b) = tokio::sync::oneshot::channel();
        let _a = gated_probe(&policy, a);
        let b = gated_probe(&policy, b);
        tokio::task::yield_now().await;
        assert!(matches!(
            call(&policy, &backend).await,
            Err(RetryError::CircuitOpen { .. })
        ));
        b.abort();
        assert!(b.await.unwrap_err().is_cancelled());
        let sent = backend.sent();
        let _ = call(&policy, &backend).await;
        assert_eq!(backend.sent(), sent + 1, "the freed place takes a probe");
    })
    .await;
}

/// A probe of an earlier half-open that answers late does not count among
/// the successes that close the current one.
#[tokio::test(start_paused = true)]
async fn test_a_stale_probe_answering_late_does_not_close_the_breaker() {
    within(HOUR_LIMIT, async {
        let breaker = two_probe_breaker();
        let policy = policy(Some(&breaker));
        let backend = Backend::new(Err(ApiError::Refused));
        let _ = call(&policy, &backend).await;
        tokio::time::sleep(OPEN_FOR).await;
        let (fail, first) = tokio::sync::oneshot::channel();
        let (late_gate, late) = tokio::sync::oneshot::channel();
        let first = gated_probe(&policy, first);
        let late = gated_probe(&policy, late);
        tokio::task::yield_now().await;
        fail.send(Err(ApiError::Refused)).unwrap();
        assert!(first.await.unwrap().is_err());
        tokio::time::sleep(OPEN_FOR).await;
        let (gate_a, a) = tokio::sync::oneshot::channel();
        let a = gated_probe(&policy, a);
        tokio::task::yield_now().await;
        late_gate.send(Ok(())).unwrap();
        assert!(late.await.unwrap().is_ok());
        gate_a.send(Ok(())).unwrap();
        assert!(a.await.unwrap().is_ok());
        // One of the two successes it needs was the current half-open's.
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        backend.answer(Ok(()));
        assert!(call(&policy, &backend).await.is_ok());
        assert_eq!(breaker.state(), BreakerState::Closed);
    })
    .await;
}

/// How a [`Readiness`] service answers `poll_ready`.
#[cfg(feature = "tower")]
#[derive(Clone, Copy, Debug)]
enum Ready {
    Yes,
    Never,
    Fails(ApiError),
}

/// A service whose readiness is set from outside, that answers each
/// request it is sent with `Ok` and counts them.
#[cfg(feature = "tower")]
#[derive(Clone)]
struct Readiness {
    ready: Arc<std::sync::Mutex<Ready>>,
    sent: Arc<AtomicU64>,
}

#[cfg(feature = "tower")]
impl Readiness {
    fn new(ready: Ready) -> Readiness {
        Readiness {
            ready: Arc::new(std::sync::Mutex::new(ready)),
            sent: Arc::default(),
        }
    }

    fn set(&self, ready: Ready) {
        *self.ready.lock().unwrap() = ready;
    }
}

#[cfg(feature = "tower")]
impl tower::Service<u32> for Readiness {
    type Response = ();
    type Error = ApiError;
    type Future = std::future::Ready<Result<(), ApiError>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), ApiError>> {
        match *self.ready.lock().unwrap() {
            Ready::Yes => std::task::Poll::Ready(Ok(())),
            Ready::Never => std::task::Poll::Pending,
            Ready::Fails(error) => std::task::Poll::Ready(Err(error)),
        }
    }

    fn call(&mut self, _: u32) -> Self::Future {
        assert!(
            matches!(*self.ready.lock().unwrap(), Ready::Yes),
            "called while not ready"
        );
        self.sent.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Ok(()))
    }
}

/// A service that fails in `poll_ready` with a counted kind (a connection
/// that cannot be made) opens the breaker, and the breaker then refuses
/// requests without asking the service.
#[cfg(feature = "tower")]
#[tokio::test(start_paused = true)]
async fn test_the_tower_layer_counts_failures_in_poll_ready() {
    within(HOUR_LIMIT, async {
        let breaker = breaker();
        let inner = Readiness::new(Ready::Fails(ApiError::Refused));
        let service = ServiceBuilder::new()
            .layer(breaker.layer())
            .service(inner.clone());
        for _ in 0..10 {
            let error = service.clone().oneshot(1).await.unwrap_err();
            assert!(matches!(error, BreakerError::Inner(ApiError::Refused)));
        }
        assert_eq!(breaker.state(), BreakerState::Open);
        let refused = service.clone().oneshot(1).await.unwrap_err();
        assert!(matches!(refused, BreakerError::Open(_)), "{refused:?}");
        // Back after the open period: the probe is sent and closes it.
        inner.set(Ready::Yes);
        tokio::time::sleep(OPEN_FOR).await;
        assert!(service.clone().oneshot(1).await.is_ok());
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(inner.sent.load(Ordering::SeqCst), 1);
    })
    .await;
}

/// The twin: bad credentials in `poll_ready` are the dependency answering.
#[cfg(feature = "tower")]
#[tokio::test(start_paused = true)]
async fn test_the_tower_layer_ignores_uncounted_failures_in_poll_ready() {
    within(HOUR_LIMIT, async {
        let breaker = breaker();
        let inner = Readiness::new(Ready::Fails(ApiError::Rejected));
        let service = ServiceBuilder::new()
            .layer(breaker.layer())
            .service(inner.clone());
        for _ in 0..100 {
            let error = service.clone().oneshot(1).await.unwrap_err();
            assert!(matches!(error, BreakerError::Inner(ApiError::Rejected)));
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
    })
    .await;
}

/// While the breaker is open, a request to a service that is not ready
/// fails fast instead of waiting for the service.
#[cfg(feature = "tower")]
#[tokio::test(start_paused = true)]
async fn test_the_tower_layer_fails_fast_while_open_with_a_service_not_ready() {
    within(HOUR_LIMIT, async {
        let breaker = breaker();
        let inner = Readiness::new(Ready::Never);
        let service = ServiceBuilder::new()
            .layer(breaker.layer())
            .service(inner.clone());
        // Other callers of the dependency open it.
        let (policy, backend) = (policy(Some(&breaker)), Backend::new(Err(ApiError::Refused)));
        while breaker.state() != BreakerState::Open {
            let _ = call(&policy, &backend).await;
        }
        let refused = tokio::time::timeout(OPEN_FOR / 2, service.clone().oneshot(1)).await;
        let refused = refused
            .expect("the request waited for the service")
            .unwrap_err();
        assert!(matches!(&refused, BreakerError::Open(open) if !open.retry_in.is_zero()));
        // Half-open and still not ready: the probe waits for the service,
        // and is never sent to a service that is not ready.
        tokio::time::sleep(OPEN_FOR).await;
        let waiting = tokio::time::timeout(OPEN_FOR, service.clone().oneshot(1)).await;
        assert!(waiting.is_err(), "a probe waits for readiness");
        assert_eq!(inner.sent.load(Ordering::SeqCst), 0);
    })
    .await;
}

/// The twin: closed, a request waits for a service that is not ready.
#[cfg(feature = "tower")]
#[tokio::test(start_paused = true)]
async fn test_the_tower_layer_waits_for_a_service_not_ready_while_closed() {
    within(HOUR_LIMIT, async {
        let breaker = breaker();
        let inner = Readiness::new(Ready::Never);
        let service = ServiceBuilder::new()
            .layer(breaker.layer())
            .service(inner.clone());
        let waiting = tokio::time::timeout(OPEN_FOR, service.clone().oneshot(1)).await;
        assert!(
            waiting.is_err(),
            "a closed breaker does not hurry the service"
        );
        assert_eq!(breaker.state(), BreakerState::Closed);
        inner.set(Ready::Yes);
        assert!(service.oneshot(1).await.is_ok());
    })
    .await;
}

#[cfg(feature = "tower")]
#[derive(Debug, thiserror::Error, Signal)]
enum PayError {
    #[error("through the breaker")]
    Service(#[signal(forward)] BreakerError<ResetError>),
}

#[cfg(feature = "tower")]
#[derive(Debug, Clone, Copy, thiserror::Error, Signal)]
#[error("reset after the request was written")]
#[signal(leaf = "signal_core::vocab::ConnectionReset")]
struct ResetError;

/// A payment (not idempotent) retried on `Unavailable`, sent through a
/// breaker layer in front of a service that resets.
#[cfg(feature = "tower")]
async fn pay_through_the_layer(
    breaker: &CircuitBreaker,
    sent: &Arc<AtomicU64>,
) -> RetryError<PayError> {
    let service = {
        let sent = Arc::clone(sent);
        ServiceBuilder::new()
            .layer(breaker.layer())
            .service_fn(move |_: u32| {
                sent.fetch_add(1, Ordering::SeqCst);
                std::future::ready(Err::<(), _>(ResetError))
            })
    };
    let policy = Policy::new()
        .on::<Unavailable>(Reaction::Retry.max_attempts(3))
        .on::<TransientNetwork>(Reaction::Retry.max_attempts(3))
        .otherwise(Reaction::Stop)
        .backoff(Backoff::new(100 * MS, Duration::from_secs(1)).with_jitter(0.0));
    policy
        .call("pay")
        .idempotent(false)
        .run(async |_| service.clone().oneshot(1).await.map_err(PayError::Service))
        .await
        .unwrap_err()
}

/// A request the breaker layer refused was never sent: a call that is not
/// idempotent may try it again.
#[cfg(feature = "tower")]
#[tokio::test(start_paused = true)]
async fn test_a_request_the_layer_refused_was_never_sent() {
    within(HOUR_LIMIT, async {
        let breaker = breaker();
        let (policy, backend) = (policy(Some(&breaker)), Backend::new(Err(ApiError::Refused)));
        while breaker.state() != BreakerState::Open {
            let _ = call(&policy, &backend).await;
        }
        let sent = Arc::new(AtomicU64::new(0));
        let error = pay_through_the_layer(&breaker, &sent).await;
        assert!(error.has::<signal_core::vocab::NeverSent>(), "{error:?}");
        assert_eq!(error.reason(), StopReason::Exhausted, "{error:?}");
        assert_eq!(error.attempts(), 3);
        assert_eq!(sent.load(Ordering::SeqCst), 0);
    })
    .await;
}

/// The twin: a request the layer let through and that was reset may have
/// been processed, and is not repeated.
#[cfg(feature = "tower")]
#[tokio::test(start_paused = true)]
async fn test_a_request_the_layer_let_through_may_have_been_processed() {
    within(HOUR_LIMIT, async {
        let breaker = breaker();
        let sent = Arc::new(AtomicU64::new(0));
        let error = pay_through_the_layer(&breaker, &sent).await;
        assert!(!error.has::<signal_core::vocab::NeverSent>(), "{error:?}");
        assert_eq!(error.reason(), StopReason::MaybeProcessed, "{error:?}");
        assert_eq!(error.attempts(), 1);
        assert_eq!(sent.load(Ordering::SeqCst), 1);
    })
    .await;
}

/// A call the breaker stopped after an attempt that may have been
/// processed does not say "never sent" (its refusal alone would).
#[tokio::test(start_paused = true)]
async fn test_a_call_refused_after_a_reset_is_not_never_sent() {
    within(HOUR_LIMIT, async {
        let breaker = network_breaker("api", 1).build().unwrap();
        let policy = policy(Some(&breaker));
        let reset = || std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let error = policy
            .call("api")
            .run(async |_| Err::<(), _>(IoError(reset())))
            .await
            .unwrap_err();
        assert!(matches!(
            error,
            RetryError::CircuitOpen { last: Some(_), .. }
        ));
        assert!(error.has::<Unavailable>());
        assert!(!error.has::<signal_core::vocab::NeverSent>(), "{error:?}");
        // The twin: the breaker's refusal on its own was never sent.
        let RetryError::CircuitOpen { open, .. } = error else {
            unreachable!()
        };
        assert!(open.has::<signal_core::vocab::NeverSent>());
        assert!(open.has::<signal_runtime::BreakerRefused>());
    })
    .await;
}

#[derive(Debug, Signal)]
struct IoError(#[signal(forward)] std::io::Error);

/// The stats count each change of state and each refusal; a storm of bad
/// credentials counts none.
#[tokio::test(start_paused = true)]
async fn test_stats_count_transitions_and_refusals() {
    within(HOUR_LIMIT, async {
        let breaker = breaker();
        let policy = policy(Some(&breaker));
        let backend = Backend::new(Err(ApiError::Rejected));
        for _ in 0..100 {
            let _ = call(&policy, &backend).await;
        }
        assert_eq!(breaker.stats(), signal_runtime::BreakerStats::default());

        backend.answer(Err(ApiError::Refused));
        tokio::time::sleep(Duration::from_secs(10)).await;
        while breaker.state() != BreakerState::Open {
            let _ = call(&policy, &backend).await;
        }
        // The call that opened it was refused its retry.
        assert_eq!((breaker.stats().opened, breaker.stats().refused), (1, 1));
        for _ in 0..5 {
            let _ = call(&policy, &backend).await;
        }
        tokio::time::sleep(OPEN_FOR).await;
        backend.answer(Ok(()));
        assert!(call(&policy, &backend).await.is_ok());
        let stats = breaker.stats();
        assert_eq!(
            (stats.opened, stats.half_opened, stats.closed, stats.refused),
            (1, 1, 1, 6)
        );
    })
    .await;
}

#[derive(Debug, thiserror::Error, Signal)]
#[error("the call gave up")]
struct GaveUp(#[signal(forward)] RetryError<ApiError>);

/// One call through the policy's breaker, from a function of its own (an
/// opaque future, which the compiler checks for `Send` for every lifetime).
async fn call_owned(calls: Arc<Policy>, backend: Backend) -> Result<(), RetryError<ApiError>> {
    calls
        .call("api")
        .run(move |_| std::future::ready(backend.send()))
        .await
}

/// A supervised worker's run makes calls through the breaker: the call's
/// future is `Send` for the supervisor's spawn (this test fails to compile
/// otherwise).
#[tokio::test(start_paused = true)]
async fn test_a_supervised_worker_calls_through_the_breaker() {
    within(HOUR_LIMIT, async {
        let breaker = breaker();
        let budget =
            signal_runtime::RetryBudget::new("api", 0.1, 1, Duration::from_secs(1)).unwrap();
        let calls = Arc::new(
            Policy::new()
                .on::<TransientNetwork>(Reaction::Retry.max_attempts(3))
                .breaker(&breaker)
                .retry_budget(&budget),
        );
        let backend = Backend::new(Ok(()));
        let supervisor = Supervisor::new();
        let worker = {
            let (calls, backend) = (Arc::clone(&calls), backend.clone());
            supervisor.spawn("caller", Policy::new(), move |_ctx| async move {
                for _ in 0..10 {
                    call_owned(Arc::clone(&calls), backend.clone())
                        .await
                        .map_err(GaveUp)?;
                }
                Ok::<_, GaveUp>(())
            })
        };
        worker.wait_for(|status| status.phase == Phase::Done).await;
        assert_eq!(backend.sent(), 10);
        assert_eq!(breaker.state(), BreakerState::Closed);
        supervisor.shutdown().await;
    })
    .await;
}

/// Workers waiting for an open breaker take probe places when it
/// half-opens: with one probe, one worker runs while the backend is still
/// down, and the others keep waiting (no herd of probes).
#[tokio::test(start_paused = true)]
async fn test_workers_take_probe_places_when_the_breaker_half_opens() {
    within(HOUR_LIMIT, async {
        for (probes, workers) in [(1u32, 10usize), (3, 10), (1, 1)] {
            let breaker = network_breaker("api", 3)
                .open_for(OPEN_FOR)
                .probes(probes)
                .build()
                .unwrap();
            let policy = Arc::new(
                Policy::new()
                    .on::<TransientNetwork>(Reaction::Retry)
                    .backoff(Backoff::new(100 * MS, Duration::from_secs(1)).with_jitter(0.0))
                    .intensity(Intensity::new(u32::MAX, Duration::from_secs(1)))
                    .breaker(&breaker),
            );
            let backend = Backend::new(Err(ApiError::Refused));
            let supervisor = Supervisor::new();
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    let backend = backend.clone();
                    supervisor.spawn("sync", Arc::clone(&policy), async move |_ctx| {
                        // A request takes a while: probes are in flight
                        // together.
                        tokio::time::sleep(10 * MS).await;
                        backend.send()
                    })
                })
                .collect();
            tokio::time::sleep(Duration::from_secs(10)).await;
            assert_eq!(breaker.state(), BreakerState::Open);
            let sent = backend.sent();
            // Once it half-opens, and less than a backoff later: the probes
            // ran together, failed and reopened it; no one else ran.
            while breaker.stats().half_opened == 0 {
                tokio::time::sleep(MS).await;
            }
            tokio::time::sleep(50 * MS).await;
            assert_eq!(
                backend.sent(),
                sent + u64::from(probes).min(workers as u64),
                "{probes} probes, {workers} workers"
            );
            assert_eq!(breaker.state(), BreakerState::Open);
            // The twin: once the backend is back, every worker finishes.
            backend.answer(Ok(()));
            for handle in handles {
                assert!(handle.join().await.is_ok());
            }
            assert_eq!(breaker.state(), BreakerState::Closed);
            supervisor.shutdown().await;
        }
    })
    .await;
}

/// A worker shut down while its run holds the breaker's probe place gives
/// the place back: a call may probe after it, even while the worker's
/// handle is kept.
#[tokio::test(start_paused = true)]
async fn test_a_worker_shut_down_mid_probe_gives_its_place_back() {
    within(HOUR_LIMIT, async {
        let breaker = network_breaker("api", 1)
            .open_for(OPEN_FOR)
            .build()
            .unwrap();
        let workers = Arc::new(
            Policy::new()
                .on::<TransientNetwork>(Reaction::Retry)
                .backoff(Backoff::new(100 * MS, Duration::from_secs(1)).with_jitter(0.0))
                .intensity(Intensity::new(u32::MAX, Duration::from_secs(1)))
                .breaker(&breaker),
        );
        let backend = Backend::new(Err(ApiError::Refused));
        let supervisor = Supervisor::new();
        let handle = {
            let backend = backend.clone();
            supervisor.spawn("sync", Arc::clone(&workers), async move |_ctx| {
                if backend.sent() > 0 {
                    // The probe: it hangs.
                    std::future::pending::<()>().await;
                }
                backend.send()
            })
        };
        tokio::time::sleep(OPEN_FOR + Duration::from_secs(1)).await;
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert_eq!(handle.status().runs, 2, "the worker runs the probe");
        supervisor.shutdown().await;
        backend.answer(Ok(()));
        let calls = policy(Some(&breaker));
        assert!(call(&calls, &backend).await.is_ok(), "{breaker:?}");
        assert_eq!(breaker.state(), BreakerState::Closed);
        drop(handle);
    })
    .await;
}

/// A policy that retries the network twice, behind `breaker` and within a
/// budget of 10 retries over 10 s.
fn breaker_and_budget(breaker: &CircuitBreaker) -> (Arc<Policy>, signal_runtime::RetryBudget) {
    let budget = signal_runtime::RetryBudget::new("api", 0.0, 1, Duration::from_secs(10)).unwrap();
    let policy = Policy::new()
        .on::<TransientNetwork>(Reaction::Retry.max_attempts(3))
        .backoff(Backoff::new(100 * MS, Duration::from_secs(1)).with_jitter(0.0))
        .intensity(Intensity::new(u32::MAX, Duration::from_secs(1)))
        .breaker(breaker)
        .retry_budget(&budget);
    (Arc::new(policy), budget)
}

/// A retry the budget allowed but the breaker then refused (it opened
/// during the wait) sent nothing: it is given back to the budget.
#[tokio::test(start_paused = true)]
async fn test_a_retry_the_breaker_refused_is_given_back_to_the_budget() {
    within(HOUR_LIMIT, async {
        let breaker = network_breaker("api", 2).build().unwrap();
        let (policy, budget) = breaker_and_budget(&breaker);
        let backend = Backend::new(Err(ApiError::Refused));
        let waiting = {
            let (policy, backend) = (Arc::clone(&policy), backend.clone());
            tokio::spawn(async move {
                policy
                    .call("api")
                    .run(move |_| std::future::ready(backend.send()))
                    .await
            })
        };
        tokio::task::yield_now().await;
        // While the first call waits to retry, a second failure opens it.
        let error = call(&policy, &backend).await.unwrap_err();
        assert!(matches!(error, RetryError::CircuitOpen { .. }));
        let error = waiting.await.unwrap().unwrap_err();
        assert!(matches!(error, RetryError::CircuitOpen { .. }), "{error:?}");
        assert_eq!(backend.sent(), 2);
        assert_eq!(budget.stats().retries, 0, "{:?}", budget.stats());
    })
    .await;
}

/// The twin: with the breaker closed, the retries are sent and counted.
#[tokio::test(start_paused = true)]
async fn test_a_retry_sent_through_a_closed_breaker_is_counted_by_the_budget() {
    within(HOUR_LIMIT, async {
        let breaker = network_breaker("api", 10).build().unwrap();
        let (policy, budget) = breaker_and_budget(&breaker);
        let backend = Backend::new(Err(ApiError::Refused));
        let error = call(&policy, &backend).await.unwrap_err();
        assert_eq!(error.reason(), StopReason::Exhausted);
        assert_eq!(backend.sent(), 3);
        assert_eq!(budget.stats().retries, 2);
    })
    .await;
}
