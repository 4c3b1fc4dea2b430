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
use support::{HOUR_LIMIT, within};
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

const MS: Duration = Duration::from_millis(1);
const OPEN_FOR: Duration = Duration::from_secs(30);

fn breaker() -> CircuitBreaker {
    CircuitBreaker::builder("api")
        .counts::<TransientNetwork>()
        .counts::<Unavailable>()
        .counts::<NeedsReconnect>()
        .min_calls(1)
        .open_for(OPEN_FOR)
        .build()
        .unwrap()
}

fn policy(breaker: &CircuitBreaker) -> Arc<Policy> {
    Arc::new(
        Policy::new()
            .on::<TransientNetwork>(Reaction::Retry.max_attempts(3))
            .otherwise(Reaction::Stop)
            .backoff(Backoff::new(100 * MS, Duration::from_secs(1)).with_jitter(0.0))
            .intensity(Intensity::new(u32::MAX, Duration::from_secs(1)))
            .breaker(breaker),
    )
}

async fn open(policy: &Policy, breaker: &CircuitBreaker) {
    while breaker.state() != BreakerState::Open {
        let _ = policy
            .call("api")
            .run(async |_| Err::<(), _>(ApiError::Refused))
            .await;
    }
}

/// Panics on the event a breaker half-opening sends.
struct PanicOnHalfOpen;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for PanicOnHalfOpen {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(bool);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 |= format!("{value:?}").contains("half-open");
                }
            }
        }
        let mut message = Message(false);
        event.record(&mut message);
        if message.0 {
            panic!("the subscriber panicked");
        }
    }
}

/// A panic in a tracing subscriber on the event a breaker half-opening
/// sends, while `admit` has just taken the probe place: the place is given
/// back, and once the subscriber is gone a call goes through.
#[tokio::test(start_paused = true)]
async fn test_a_subscriber_panic_while_half_opening_gives_the_probe_place_back() {
    use tracing_subscriber::layer::SubscriberExt;
    within(HOUR_LIMIT, async {
        let breaker = breaker();
        let policy = policy(&breaker);
        open(&policy, &breaker).await;
        tokio::time::sleep(OPEN_FOR).await;
        {
            let _guard = tracing::subscriber::set_default(
                tracing_subscriber::registry().with(PanicOnHalfOpen),
            );
            let policy = Arc::clone(&policy);
            let panicked = tokio::spawn(async move {
                policy
                    .call("api")
                    .run(async |_| Ok::<(), ApiError>(()))
                    .await
            })
            .await;
            assert!(panicked.unwrap_err().is_panic());
        }
        // The subscriber is gone, the backend is healthy, an hour passes.
        tokio::time::sleep(Duration::from_secs(1800)).await;
        let result = policy
            .call("api")
            .run(async |_| Ok::<(), ApiError>(()))
            .await;
        assert!(result.is_ok(), "still refused: {result:?}");
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
