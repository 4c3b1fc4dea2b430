//! The circuit breaker at its edges: a panic while it half-opens, its own
//! refusal met inside a guarded attempt, a call let through before it
//! opened answering once it has half-opened, workers restarting after a
//! rebuild or while the probes are out, a long-lived worker's run holding
//! a probe's place.

#![cfg(all(feature = "backon", feature = "tower"))]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use signal_core::vocab::{TransientNetwork, Unavailable};
use signal_core::{Signal, vocab::NeedsReconnect};
use signal_runtime::{
    Backoff, BreakerError, BreakerOpen, BreakerState, CircuitBreaker, Intensity, Policy, Reaction,
    Resource, RetryError, Supervisor,
};
use support::{
    HOUR_LIMIT, MS, OPEN_FOR, PanicOnHalfOpen, network_breaker, network_policy, open_breaker,
    succeed, within,
};
use tower::{ServiceBuilder, ServiceExt};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Signal)]
enum ApiError {
    #[error("refused")]
    #[signal(leaf = "signal_core::vocab::ConnectionRefused")]
    Refused,
    #[error("reset")]
    #[signal(leaf = "signal_core::vocab::ConnectionReset")]
    Reset,
    #[error("down")]
    #[signal(leaf = "signal_core::vocab::Unavailable")]
    Down,
    #[error("pool gone")]
    #[signal(leaf = "signal_core::vocab::NeedsReconnect")]
    PoolGone,
    #[error(transparent)]
    Open(
        #[from]
        #[signal(forward)]
        BreakerOpen,
    ),
}

/// A worker's error: the service behind the breaker's layer failed.
#[derive(Debug, thiserror::Error, Signal)]
enum WorkerError {
    #[error(transparent)]
    Layer(#[signal(forward)] BreakerError<ApiError>),
}

fn breaker() -> CircuitBreaker {
    network_breaker("api", 1)
        .counts::<Unavailable>()
        .counts::<NeedsReconnect>()
        .open_for(OPEN_FOR)
        .build()
        .unwrap()
}

fn policy(breaker: &CircuitBreaker) -> Arc<Policy> {
    Arc::new(network_policy().breaker(breaker))
}

async fn open(policy: &Policy, breaker: &CircuitBreaker) {
    open_breaker(policy, breaker, || ApiError::Refused).await;
}

/// The breaker and the policy with it, the breaker opened.
async fn opened() -> (CircuitBreaker, Arc<Policy>) {
    let breaker = breaker();
    let policy = policy(&breaker);
    open(&policy, &breaker).await;
    (breaker, policy)
}

/// The same, the breaker half-opened.
async fn half_opened() -> (CircuitBreaker, Arc<Policy>) {
    let (breaker, policy) = opened().await;
    tokio::time::sleep(OPEN_FOR).await;
    (breaker, policy)
}

/// Retries the network at once, without a limit; stops on anything else.
fn zero_backoff_policy(breaker: &CircuitBreaker) -> Arc<Policy> {
    Arc::new(
        Policy::new()
            .on::<TransientNetwork>(Reaction::Retry)
            .otherwise(Reaction::Stop)
            .backoff(Backoff::new(Duration::ZERO, Duration::ZERO))
            .intensity(Intensity::new(u32::MAX, Duration::from_secs(1)))
            .breaker(breaker),
    )
}

/// A panic in a tracing subscriber on the event a breaker half-opening
/// sends, while `admit` has just taken the probe place: the place is given
/// back, and once the subscriber is gone a call goes through.
#[tokio::test(start_paused = true)]
async fn test_a_subscriber_panic_while_half_opening_gives_the_probe_place_back() {
    use tracing_subscriber::layer::SubscriberExt;
    within(HOUR_LIMIT, async {
        let (_breaker, policy) = half_opened().await;
        {
            let _guard = tracing::subscriber::set_default(
                tracing_subscriber::registry().with(PanicOnHalfOpen),
            );
            let policy = Arc::clone(&policy);
            let panicked =
                tokio::spawn(async move { succeed::<ApiError>(&policy, "api").await }).await;
            assert!(panicked.unwrap_err().is_panic());
        }
        // The subscriber is gone, the backend is healthy, an hour passes.
        tokio::time::sleep(Duration::from_secs(1800)).await;
        let result = succeed::<ApiError>(&policy, "api").await;
        assert!(result.is_ok(), "still refused: {result:?}");
    })
    .await;
}

/// A worker whose policy has the breaker, calling a service behind the same
/// breaker's layer that answers `answer`, is started while the breaker is
/// half-open: its run takes the only probe place. The breaker's stats once
/// the worker has stopped, and the outcome of a call made then.
async fn a_worker_behind_its_own_breaker(
    answer: fn() -> Result<(), ApiError>,
) -> (
    signal_runtime::BreakerStats,
    Result<(), RetryError<ApiError>>,
    u64,
) {
    let (breaker, policy) = opened().await;
    let sent = Arc::new(AtomicU64::new(0));
    let service = {
        let sent = Arc::clone(&sent);
        ServiceBuilder::new()
            .layer(breaker.layer())
            .service_fn(move |_: u32| {
                sent.fetch_add(1, Ordering::SeqCst);
                std::future::ready(answer())
            })
    };
    let supervisor = Supervisor::new();
    let handle = supervisor.spawn("api", Arc::clone(&policy), async move |_ctx| {
        service.oneshot(1).await.map_err(WorkerError::Layer)
    });
    tokio::time::sleep(OPEN_FOR * 2).await;
    // `otherwise(Stop)`: the run's error stops it.
    assert_eq!(handle.status().phase, signal_runtime::Phase::Stopped);
    let stats = breaker.stats();
    let call = succeed::<ApiError>(&policy, "api").await;
    supervisor.shutdown().await;
    (stats, call, sent.load(Ordering::SeqCst))
}

/// The layer inside the worker's run is refused (the run holds the only
/// probe place): a refusal by the breaker itself sent nothing and is no
/// outcome. The breaker does not reopen on it, the place is given back, and
/// the next call goes through.
#[tokio::test(start_paused = true)]
async fn test_a_refusal_by_the_same_breaker_is_no_outcome() {
    within(HOUR_LIMIT, async {
        let (stats, call, sent) = a_worker_behind_its_own_breaker(|| Ok(())).await;
        assert_eq!(sent, 0, "the layer refused the run's request");
        assert_eq!(stats.opened, 1, "reopened by its own refusal: {stats:?}");
        assert!(call.is_ok(), "the probe place was not given back: {call:?}");
    })
    .await;
}

/// The twin: a counted failure of the service a refusal would hide still
/// counts. A worker run let through while closed, whose service fails.
#[tokio::test(start_paused = true)]
async fn test_a_failure_behind_the_same_breaker_still_counts() {
    within(HOUR_LIMIT, async {
        let breaker = breaker();
        let policy = policy(&breaker);
        let service = ServiceBuilder::new()
            .layer(breaker.layer())
            .service_fn(|_: u32| std::future::ready(Err::<(), _>(ApiError::Down)));
        let supervisor = Supervisor::new();
        let _handle = supervisor.spawn("api", Arc::clone(&policy), async move |_ctx| {
            service.oneshot(1).await.map_err(WorkerError::Layer)
        });
        tokio::time::sleep(MS).await;
        supervisor.shutdown().await;
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(breaker.stats().opened, 1, "{:?}", breaker.stats());
    })
    .await;
}

/// `Policy::call` with the breaker, in its half-open, calling a service
/// behind the same breaker's layer: the layer refuses (the call holds the
/// probe place), which is no outcome, and the place is given back.
#[tokio::test(start_paused = true)]
async fn test_a_call_refused_by_its_own_breakers_layer_gives_the_place_back() {
    within(HOUR_LIMIT, async {
        let (breaker, policy) = half_opened().await;
        let service = ServiceBuilder::new()
            .layer(breaker.layer())
            .service_fn(|_: u32| std::future::ready(Ok::<(), ApiError>(())));
        let inner = policy
            .call("outer")
            .run(async |_| service.clone().oneshot(1).await.map_err(WorkerError::Layer))
            .await;
        assert!(
            inner.is_err(),
            "the layer refused: the call held the probe place"
        );
        assert_eq!(breaker.stats().opened, 1, "{:?}", breaker.stats());
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        let call = succeed::<ApiError>(&policy, "api").await;
        assert!(call.is_ok(), "{call:?}");
        assert_eq!(breaker.state(), BreakerState::Closed);
    })
    .await;
}

/// A call let through while the breaker was closed answers after it opened
/// and half-opened, then the probe answers with `probe`: the state after.
async fn a_closed_call_answers_then_the_probe(probe: Result<(), ApiError>) -> BreakerState {
    let breaker = breaker();
    let policy = policy(&breaker);
    let (slow_tx, slow_rx) = tokio::sync::oneshot::channel::<()>();
    let slow = {
        let policy = Arc::clone(&policy);
        let gate = std::sync::Mutex::new(Some(slow_rx));
        tokio::spawn(async move {
            policy
                .call("slow")
                .run(move |_| {
                    let gate = gate.lock().unwrap().take().unwrap();
                    async move {
                        gate.await.unwrap();
                        Ok::<(), ApiError>(())
                    }
                })
                .await
        })
    };
    tokio::task::yield_now().await;
    open(&policy, &breaker).await;
    tokio::time::sleep(OPEN_FOR).await;
    let (probe_tx, probe_rx) = tokio::sync::oneshot::channel::<()>();
    let probe = {
        let policy = Arc::clone(&policy);
        let gate = std::sync::Mutex::new(Some(probe_rx));
        tokio::spawn(async move {
            policy
                .call("probe")
                .run(move |_| {
                    let gate = gate.lock().unwrap().take().unwrap();
                    let probe = probe.clone();
                    async move {
                        gate.await.unwrap();
                        // A failure is counted, and not retried
                        // (`otherwise` stops).
                        probe
                    }
                })
                .await
        })
    };
    tokio::task::yield_now().await;
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    // The call from before the opening answers: no probe's outcome.
    slow_tx.send(()).unwrap();
    assert!(slow.await.unwrap().is_ok());
    assert_eq!(
        breaker.state(),
        BreakerState::HalfOpen,
        "{:?}",
        breaker.stats()
    );
    // The real probe answers.
    probe_tx.send(()).unwrap();
    let _ = probe.await.unwrap();
    breaker.state()
}

/// A call let through while the breaker was closed, answering once it has
/// half-opened, is no probe: its success does not close the breaker while
/// the real probe is out, and the probe's failure reopens it.
#[tokio::test(start_paused = true)]
async fn test_a_call_let_through_while_closed_is_no_probe() {
    within(HOUR_LIMIT, async {
        let state = a_closed_call_answers_then_the_probe(Err(ApiError::Down)).await;
        assert_eq!(state, BreakerState::Open, "the probe failed");
    })
    .await;
}

/// The twin: the probe's success, after the stale call's, closes it.
#[tokio::test(start_paused = true)]
async fn test_a_probe_answering_after_a_call_let_through_while_closed_closes_the_breaker() {
    within(HOUR_LIMIT, async {
        let state = a_closed_call_answers_then_the_probe(Ok(())).await;
        assert_eq!(state, BreakerState::Closed, "the probe answered");
    })
    .await;
}

/// A worker whose failure's reaction is Rebuild, and whose failure opened
/// the breaker, waits for the breaker after the rebuild, as a Retry restart
/// does (and as `Policy::call` with the same policy fails fast): it sends
/// nothing through an open breaker.
#[tokio::test(start_paused = true)]
async fn test_a_rebuild_restart_waits_for_an_open_breaker() {
    within(HOUR_LIMIT, async {
        let breaker = breaker();
        let db = Resource::new("db", 0u32, async || Ok::<_, std::io::Error>(1u32));
        let policy = Arc::new(
            Policy::new()
                .on::<NeedsReconnect>(Reaction::rebuild(&db))
                .otherwise(Reaction::Stop)
                .backoff(Backoff::new(100 * MS, Duration::from_secs(1)).with_jitter(0.0))
                .intensity(Intensity::new(u32::MAX, Duration::from_secs(1)))
                .breaker(&breaker),
        );
        let sent = Arc::new(AtomicU64::new(0));
        let supervisor = Supervisor::new();
        let _handle = {
            let sent = Arc::clone(&sent);
            supervisor.spawn("db", Arc::clone(&policy), async move |_ctx| {
                sent.fetch_add(1, Ordering::SeqCst);
                // Yield so the test's clock can move.
                tokio::time::sleep(MS).await;
                Err::<(), _>(ApiError::PoolGone)
            })
        };
        tokio::time::sleep(OPEN_FOR / 2).await;
        let sent = sent.load(Ordering::SeqCst);
        assert_eq!(breaker.state(), BreakerState::Open);
        // The twin, Policy::call with the same policy, fails fast.
        let call = succeed::<ApiError>(&policy, "db").await;
        assert!(matches!(call, Err(RetryError::CircuitOpen { .. })));
        supervisor.shutdown().await;
        assert_eq!(
            sent, 1,
            "a worker sent {sent} requests through an open breaker"
        );
    })
    .await;
}

/// The twin: a Rebuild restart with the breaker closed (its failure is not
/// counted) runs again at once after the rebuild.
#[tokio::test(start_paused = true)]
async fn test_a_rebuild_restart_runs_at_once_with_the_breaker_closed() {
    within(HOUR_LIMIT, async {
        // Counts network failures only: a lost pool does not count.
        let breaker = network_breaker("db", 1).build().unwrap();
        let db = Resource::new("db", 0u32, async || Ok::<_, std::io::Error>(1u32));
        let policy = Arc::new(
            Policy::new()
                .on::<NeedsReconnect>(Reaction::rebuild(&db))
                .otherwise(Reaction::Stop)
                .intensity(Intensity::new(u32::MAX, Duration::from_secs(1)))
                .breaker(&breaker),
        );
        let sent = Arc::new(AtomicU64::new(0));
        let supervisor = Supervisor::new();
        let handle = {
            let sent = Arc::clone(&sent);
            supervisor.spawn("db", policy, async move |_ctx| {
                match sent.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(ApiError::PoolGone),
                    _ => Ok(()),
                }
            })
        };
        let outcome = tokio::time::timeout(MS, handle.join()).await;
        assert!(matches!(outcome, Ok(Ok(()))), "{outcome:?}");
        assert_eq!(sent.load(Ordering::SeqCst), 2);
        assert_eq!(breaker.state(), BreakerState::Closed);
        supervisor.shutdown().await;
    })
    .await;
}

/// A worker restart while the half-open breaker's probes are all out, with
/// a zero backoff, waits at least a millisecond between its asks (as the
/// first run's wait does) instead of asking the breaker in a loop, which
/// with the paused clock kept time from advancing.
#[tokio::test(start_paused = true)]
async fn test_a_restart_with_zero_backoff_waits_while_the_probes_are_out() {
    within(HOUR_LIMIT, async {
        let breaker = breaker();
        let policy = zero_backoff_policy(&breaker);
        // A worker whose first run waits, then fails.
        let (fail_tx, fail_rx) = tokio::sync::oneshot::channel::<()>();
        let gate = Arc::new(std::sync::Mutex::new(Some(fail_rx)));
        let supervisor = Supervisor::new();
        let _handle = supervisor.spawn("w", Arc::clone(&policy), async move |_ctx| {
            let gate = gate.lock().unwrap().take();
            if let Some(gate) = gate {
                let _ = gate.await;
            }
            // A panic: no outcome for the breaker, retried by default.
            panic!("worker bug");
            #[allow(unreachable_code)]
            Err::<(), _>(ApiError::Reset)
        });
        tokio::task::yield_now().await;
        open(&policy, &breaker).await;
        tokio::time::sleep(OPEN_FOR).await;
        // A probe goes out and stays out.
        let (_probe_tx, probe_rx) = tokio::sync::oneshot::channel::<()>();
        let probe_gate = std::sync::Mutex::new(Some(probe_rx));
        let probe_policy = Arc::clone(&policy);
        let _probe = tokio::spawn(async move {
            probe_policy
                .call("probe")
                .run(move |_| {
                    let gate = probe_gate.lock().unwrap().take().unwrap();
                    async move {
                        let _ = gate.await;
                        Ok::<(), ApiError>(())
                    }
                })
                .await
        });
        tokio::task::yield_now().await;
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        let before = breaker.stats().refused;
        fail_tx.send(()).unwrap();
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        let refused = breaker.stats().refused - before;
        supervisor.shutdown().await;
        assert!(
            refused < 10,
            "the worker asked the breaker {refused} times without waiting"
        );
    })
    .await;
}

/// The twin: with the breaker closed, a restart with a zero backoff runs
/// again at once, with no wait.
#[tokio::test(start_paused = true)]
async fn test_a_restart_with_zero_backoff_runs_at_once_with_the_breaker_closed() {
    within(HOUR_LIMIT, async {
        let breaker = breaker();
        let policy = zero_backoff_policy(&breaker);
        let runs = Arc::new(AtomicU64::new(0));
        let supervisor = Supervisor::new();
        let handle = {
            let runs = Arc::clone(&runs);
            supervisor.spawn("w", policy, async move |_ctx| {
                if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                    // A panic: no outcome for the breaker, retried.
                    panic!("worker bug");
                }
                Ok::<(), ApiError>(())
            })
        };
        let started = tokio::time::Instant::now();
        assert!(matches!(handle.join().await, Ok(())));
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        supervisor.shutdown().await;
    })
    .await;
}

/// A long-lived worker (a consumer loop: its run ends only on error or
/// shutdown) whose run took the half-open probe place and marked itself
/// healthy: that is the probe's success, and the breaker closes, instead
/// of refusing every other call for as long as the run runs.
#[tokio::test(start_paused = true)]
async fn test_a_long_lived_worker_marked_healthy_gives_its_probe_place_back() {
    within(HOUR_LIMIT, async {
        let (breaker, policy) = half_opened().await;
        let supervisor = Supervisor::new();
        let _handle = supervisor.spawn("consumer", Arc::clone(&policy), async move |ctx| {
            ctx.mark_healthy();
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            #[allow(unreachable_code)]
            Ok::<(), ApiError>(())
        });
        tokio::time::sleep(Duration::from_secs(1800)).await;
        let result = succeed::<ApiError>(&policy, "api").await;
        let state = breaker.state();
        supervisor.shutdown().await;
        assert!(
            result.is_ok(),
            "half an hour later, still {state:?} and refused: {result:?}"
        );
    })
    .await;
}

/// The twin: a run that answered the probe with `mark_healthy` and fails
/// later with a counted kind is counted as any outcome: the breaker it
/// closed opens again.
#[tokio::test(start_paused = true)]
async fn test_a_worker_marked_healthy_that_fails_later_is_counted() {
    within(HOUR_LIMIT, async {
        let (breaker, policy) = half_opened().await;
        let supervisor = Supervisor::new();
        let runs = Arc::new(AtomicU64::new(0));
        let _handle = {
            let runs = Arc::clone(&runs);
            supervisor.spawn("consumer", Arc::clone(&policy), async move |ctx| {
                if runs.fetch_add(1, Ordering::SeqCst) > 0 {
                    // Later runs wait for the shutdown.
                    std::future::pending::<()>().await;
                }
                ctx.mark_healthy();
                tokio::time::sleep(Duration::from_secs(60)).await;
                Err::<(), _>(ApiError::Down)
            })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(breaker.state(), BreakerState::Closed);
        tokio::time::sleep(Duration::from_secs(60)).await;
        let state = breaker.state();
        let stats = breaker.stats();
        supervisor.shutdown().await;
        assert_eq!(state, BreakerState::Open, "{stats:?}");
        assert_eq!(stats.closed, 1, "{stats:?}");
    })
    .await;
}
