//! The circuit breaker and the retry budget on every path that sends
//! requests (`Policy::call`, `Policy::retry_guarded`, the `tower` layer and
//! policy, the `backon` guard): outcomes are counted by kind, calls fail
//! fast while the breaker is open, and a request the breaker refused is no
//! traffic: it neither deposits in the budget nor spends a retry.

#![cfg(all(feature = "backon", feature = "tower"))]

mod support;

use std::sync::Arc;

use backon::Retryable;
use signal_core::vocab::{BadCredentials, NeverSent, Unavailable};
use signal_core::{Signal, kind};
use signal_runtime::{
    BreakerError, BreakerOpen, BreakerRefused, BreakerState, CircuitBreaker, Phase, Policy,
    RetryBudget, Supervisor,
};
use support::{
    HOUR_LIMIT, MS, OPEN_FOR, PanicOnHalfOpen, floor_budget, network_breaker, network_policy,
    open_breaker, within,
};
use tower::util::BoxCloneService;
use tower::{ServiceBuilder, ServiceExt};

kind! {
    /// Never counted by any breaker here.
    pub Unrelated;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Signal)]
enum ApiError {
    #[error("refused")]
    #[signal(leaf = "signal_core::vocab::ConnectionRefused")]
    Refused,
    #[error("rejected")]
    #[signal(leaf = "signal_core::vocab::BadCredentials")]
    Rejected,
    #[error("reset")]
    #[signal(leaf = "signal_core::vocab::ConnectionReset")]
    Reset,
    #[error(transparent)]
    Open(
        #[from]
        #[signal(forward)]
        BreakerOpen,
    ),
}

/// Counts network failures and unavailability; opens at half of at least
/// `min_calls` outcomes in 10 s, for 30 s, one probe.
fn breaker(min_calls: u32) -> CircuitBreaker {
    network_breaker("api", min_calls)
        .counts::<Unavailable>()
        .open_for(OPEN_FOR)
        .build()
        .unwrap()
}

/// Retries the network up to 3 attempts, after 100 ms then 200 ms; stops on
/// anything else.
fn policy(breaker: &CircuitBreaker, budget: &RetryBudget) -> Arc<Policy> {
    Arc::new(network_policy().breaker(breaker).retry_budget(budget))
}

/// The breaker (opening at `min_calls`), the budget (retries on the floor
/// only: 10 retries over 10 s), and the policy with both.
fn setup(min_calls: u32) -> (CircuitBreaker, RetryBudget, Arc<Policy>) {
    let (breaker, budget) = (breaker(min_calls), floor_budget(1));
    let policy = policy(&breaker, &budget);
    (breaker, budget, policy)
}

/// The same with `min_calls` 1, the breaker opened with refused
/// connections sent through `policy.call`.
async fn opened() -> (CircuitBreaker, RetryBudget, Arc<Policy>) {
    let (breaker, budget, policy) = setup(1);
    open_breaker(&policy, &breaker, || ApiError::Refused).await;
    (breaker, budget, policy)
}

/// A backend that answers every request with its answer, and counts them.
type Backend = support::Backend<ApiError>;

/// The backend behind the breaker's layer, retried by the policy.
fn tower_service(
    policy: &Policy,
    breaker: &CircuitBreaker,
    backend: &Backend,
) -> BoxCloneService<u32, (), BreakerError<ApiError>> {
    let backend = backend.clone();
    BoxCloneService::new(
        ServiceBuilder::new()
            .retry(policy.tower("api"))
            .layer(breaker.layer())
            .service_fn(move |_: u32| std::future::ready(backend.send())),
    )
}

/// Requests the breaker layer refused sent nothing: the `tower` policy
/// neither deposits them in the budget nor counts them as requests.
#[tokio::test(start_paused = true)]
async fn test_requests_the_tower_layer_refused_are_no_requests_for_the_budget() {
    within(HOUR_LIMIT, async {
        let (breaker, budget, policy) = opened().await;
        let before = budget.stats();
        let backend = Backend::new(Ok(()));
        let service = tower_service(&policy, &breaker, &backend);
        for _ in 0..5 {
            let refused = service.clone().oneshot(1).await.unwrap_err();
            assert!(matches!(refused, BreakerError::Open(_)), "{refused:?}");
            assert!(refused.has::<BreakerRefused>());
        }
        assert_eq!(backend.sent(), 0);
        assert_eq!(budget.stats(), before, "{:?}", budget.stats());
    })
    .await;
}

/// The twin: requests the layer let through are requests.
#[tokio::test(start_paused = true)]
async fn test_requests_the_tower_layer_let_through_are_requests_for_the_budget() {
    within(HOUR_LIMIT, async {
        let (breaker, budget, policy) = setup(1);
        let backend = Backend::new(Err(ApiError::Rejected));
        let service = tower_service(&policy, &breaker, &backend);
        for _ in 0..5 {
            let error = service.clone().oneshot(1).await.unwrap_err();
            assert!(matches!(error, BreakerError::Inner(ApiError::Rejected)));
            assert!(error.has::<BadCredentials>());
        }
        assert_eq!(backend.sent(), 5);
        assert_eq!(budget.stats().requests, 5);
        assert_eq!(breaker.state(), BreakerState::Closed);
    })
    .await;
}

/// A `tower` retry the budget allowed, refused by the layer because the
/// breaker opened during its wait, sent nothing: it is given back.
#[tokio::test(start_paused = true)]
async fn test_a_tower_retry_the_layer_refused_is_given_back_to_the_budget() {
    within(HOUR_LIMIT, async {
        let (breaker, budget, policy) = setup(2);
        let backend = Backend::new(Err(ApiError::Refused));
        let waiting = tokio::spawn(tower_service(&policy, &breaker, &backend).oneshot(1));
        tokio::task::yield_now().await;
        // While the first request waits to retry, a second failure opens it.
        let second = tower_service(&policy, &breaker, &backend).oneshot(2).await;
        assert!(matches!(
            second,
            Err(BreakerError::Inner(ApiError::Refused))
        ));
        assert_eq!(breaker.state(), BreakerState::Open);
        let first = waiting.await.unwrap().unwrap_err();
        assert!(matches!(first, BreakerError::Open(_)), "{first:?}");
        assert_eq!(backend.sent(), 2);
        assert_eq!(budget.stats().requests, 2, "{:?}", budget.stats());
        assert_eq!(budget.stats().retries, 0, "{:?}", budget.stats());
    })
    .await;
}

/// The twin: with the breaker closed, the retries are sent and counted.
#[tokio::test(start_paused = true)]
async fn test_a_tower_retry_through_a_closed_breaker_is_counted_by_the_budget() {
    within(HOUR_LIMIT, async {
        let (breaker, budget, policy) = setup(10);
        let backend = Backend::new(Err(ApiError::Refused));
        let error = tower_service(&policy, &breaker, &backend)
            .oneshot(1)
            .await
            .unwrap_err();
        assert!(matches!(error, BreakerError::Inner(ApiError::Refused)));
        assert_eq!(backend.sent(), 3);
        assert_eq!(budget.stats().requests, 1);
        assert_eq!(budget.stats().retries, 2);
        assert!(error.has::<NeverSent>());
    })
    .await;
}

/// `Policy::retry_guarded` against an open breaker sends nothing, and
/// returns the error's refusal: `BreakerRefused`, so `Unavailable` and
/// `NeverSent`. No request for the budget.
#[tokio::test(start_paused = true)]
async fn test_a_guarded_retry_fails_fast_while_the_breaker_is_open() {
    within(HOUR_LIMIT, async {
        let (breaker, budget, policy) = opened().await;
        let (before, refused) = (budget.stats(), breaker.stats().refused);
        let backend = Backend::new(Ok(()));
        let error = policy
            .retry_guarded("api", async || backend.send())
            .await
            .unwrap_err();
        assert!(matches!(error, ApiError::Open(_)), "{error:?}");
        assert!(error.has::<BreakerRefused>());
        assert!(error.has::<Unavailable>() && error.has::<NeverSent>());
        assert_eq!(backend.sent(), 0);
        assert_eq!(budget.stats(), before);
        assert_eq!(breaker.stats().refused, refused + 1);
        // The twin: `retry` makes its first attempt whatever the breaker's
        // state (it only counts it), and the same breaker, closed, lets a
        // guarded retry through.
        assert_eq!(policy.retry("api", async || backend.send()).await, Ok(()));
        assert_eq!(backend.sent(), 1);
        let (_breaker, budget, policy) = setup(1);
        let backend = Backend::new(Ok(()));
        assert_eq!(
            policy.retry_guarded("api", async || backend.send()).await,
            Ok(())
        );
        assert_eq!(backend.sent(), 1);
        assert_eq!(budget.stats().requests, 1);
    })
    .await;
}

/// A guarded retry refused after an attempt (the breaker opened during its
/// wait) returns that attempt's error, which may have been processed (not
/// `NeverSent`), and gives the retry back to the budget.
#[tokio::test(start_paused = true)]
async fn test_a_guarded_retry_refused_after_an_attempt_returns_that_attempts_error() {
    within(HOUR_LIMIT, async {
        let (breaker, budget, policy) = setup(2);
        let backend = Backend::new(Err(ApiError::Reset));
        let waiting = {
            let (policy, backend) = (Arc::clone(&policy), backend.clone());
            tokio::spawn(async move {
                policy
                    .retry_guarded("api", move || std::future::ready(backend.send()))
                    .await
            })
        };
        tokio::task::yield_now().await;
        let _ = policy.retry_guarded("api", async || backend.send()).await;
        assert_eq!(breaker.state(), BreakerState::Open);
        let error = waiting.await.unwrap().unwrap_err();
        assert_eq!(error, ApiError::Reset);
        assert!(!error.has::<NeverSent>());
        assert_eq!(backend.sent(), 2);
        assert_eq!(budget.stats().retries, 0, "{:?}", budget.stats());
        assert_eq!(budget.stats().requests, 2);
    })
    .await;
}

/// While the breaker is half-open, a guarded retry takes the probe's
/// place: a second one is refused meanwhile, and a probe that panics
/// gives the place back, so the next one closes the breaker.
#[tokio::test(start_paused = true)]
async fn test_a_guarded_retry_takes_a_probe_place_and_a_panic_gives_it_back() {
    within(HOUR_LIMIT, async {
        let (breaker, _budget, policy) = opened().await;
        tokio::time::sleep(OPEN_FOR).await;
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        let gate = Arc::new(tokio::sync::Notify::new());
        let probe = {
            let (policy, gate) = (Arc::clone(&policy), Arc::clone(&gate));
            tokio::spawn(async move {
                policy
                    .retry_guarded("api", move || {
                        let gate = Arc::clone(&gate);
                        async move {
                            gate.notified().await;
                            panic!("the probe panicked");
                            #[allow(unreachable_code)]
                            Ok::<(), ApiError>(())
                        }
                    })
                    .await
            })
        };
        tokio::task::yield_now().await;
        let backend = Backend::new(Ok(()));
        let refused = policy.retry_guarded("api", async || backend.send()).await;
        assert!(matches!(refused, Err(ApiError::Open(_))), "{refused:?}");
        assert_eq!(backend.sent(), 0);
        gate.notify_one();
        assert!(probe.await.unwrap_err().is_panic());
        assert_eq!(
            policy.retry_guarded("api", async || backend.send()).await,
            Ok(())
        );
        assert_eq!(backend.sent(), 1);
        assert_eq!(breaker.state(), BreakerState::Closed);
    })
    .await;
}

/// One call retried with `backon`, guarded by the policy's breaker.
async fn backon_call(policy: &Policy, backend: &Backend) -> Result<(), ApiError> {
    let guard = policy.backon_guard("api");
    guard
        .wrap(|| std::future::ready(backend.send()))
        .retry(policy.backon_backoff())
        .when(policy.backon_when())
        .adjust(guard.adjust())
        .await
}

/// The `backon` path counts its outcomes by kind: refused connections open
/// the breaker, and calls then fail fast, sending nothing, no requests for
/// the budget.
#[tokio::test(start_paused = true)]
async fn test_backon_failures_open_the_breaker_and_calls_then_fail_fast() {
    within(HOUR_LIMIT, async {
        let (breaker, budget, policy) = setup(10);
        let backend = Backend::new(Err(ApiError::Refused));
        for _ in 0..4 {
            assert_eq!(backon_call(&policy, &backend).await, Err(ApiError::Refused));
        }
        // 3 + 3 + 3 + 1: the tenth opened it, and no retry followed.
        assert_eq!(backend.sent(), 10);
        assert_eq!(breaker.state(), BreakerState::Open);
        let before = budget.stats();
        let error = backon_call(&policy, &backend).await.unwrap_err();
        assert!(matches!(error, ApiError::Open(_)), "{error:?}");
        assert!(error.has::<BreakerRefused>());
        assert_eq!(backend.sent(), 10);
        assert_eq!(budget.stats(), before, "{:?}", budget.stats());
    })
    .await;
}

/// The twin: a storm of bad credentials through the same path never opens
/// it, and each call is sent once.
#[tokio::test(start_paused = true)]
async fn test_backon_bad_credentials_never_open_the_breaker() {
    within(HOUR_LIMIT, async {
        let (breaker, budget, policy) = setup(10);
        let backend = Backend::new(Err(ApiError::Rejected));
        for _ in 0..100 {
            assert_eq!(
                backon_call(&policy, &backend).await,
                Err(ApiError::Rejected)
            );
        }
        assert_eq!(backend.sent(), 100);
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(budget.stats().requests, 100);
    })
    .await;
}

/// Successes count too: a guarded `backon` probe that succeeds closes a
/// half-open breaker, one that fails reopens it; without the guard the
/// breaker learns nothing of the success.
#[tokio::test(start_paused = true)]
async fn test_backon_probes_close_or_reopen_the_breaker() {
    within(HOUR_LIMIT, async {
        let (breaker, _budget, policy) = opened().await;
        tokio::time::sleep(OPEN_FOR).await;
        // Unguarded: the success goes unseen.
        let backend = Backend::new(Ok(()));
        let plain = (|| std::future::ready(backend.send()))
            .retry(policy.backon_backoff())
            .when(policy.backon_when())
            .adjust(policy.backon_adjust())
            .await;
        assert_eq!(plain, Ok(()));
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        // A failed probe reopens it.
        let refused = Backend::new(Err(ApiError::Refused));
        assert_eq!(backon_call(&policy, &refused).await, Err(ApiError::Refused));
        assert_eq!(refused.sent(), 1);
        assert_eq!(breaker.state(), BreakerState::Open);
        tokio::time::sleep(OPEN_FOR).await;
        assert_eq!(backon_call(&policy, &backend).await, Ok(()));
        assert_eq!(breaker.state(), BreakerState::Closed);
    })
    .await;
}

/// A `backon` retry the budget allowed, refused because the breaker opened
/// during its wait, sent nothing: it is given back.
#[tokio::test(start_paused = true)]
async fn test_a_backon_retry_the_breaker_refused_is_given_back_to_the_budget() {
    within(HOUR_LIMIT, async {
        let (breaker, budget, policy) = setup(2);
        let backend = Backend::new(Err(ApiError::Reset));
        let waiting = {
            let (policy, backend) = (Arc::clone(&policy), backend.clone());
            tokio::spawn(async move { backon_call(&policy, &backend).await })
        };
        tokio::task::yield_now().await;
        assert_eq!(backon_call(&policy, &backend).await, Err(ApiError::Reset));
        assert_eq!(breaker.state(), BreakerState::Open);
        let error = waiting.await.unwrap().unwrap_err();
        assert!(matches!(error, ApiError::Open(_)), "{error:?}");
        assert_eq!(backend.sent(), 2);
        assert_eq!(budget.stats().requests, 2, "{:?}", budget.stats());
        assert_eq!(budget.stats().retries, 0, "{:?}", budget.stats());
    })
    .await;
}

/// A supervised worker whose run sends `backend`'s answer.
fn worker(
    supervisor: &Supervisor,
    policy: &Arc<Policy>,
    backend: &Backend,
) -> signal_runtime::WorkerHandle<(), ApiError> {
    let backend = backend.clone();
    supervisor.spawn("api", Arc::clone(policy), async move |_ctx| backend.send())
}

/// A worker's first run is a request for the budget, whether it fails or
/// succeeds: one that succeeds at once counts one request.
#[tokio::test(start_paused = true)]
async fn test_a_worker_that_succeeds_at_once_is_one_request_for_the_budget() {
    within(HOUR_LIMIT, async {
        let (_breaker, budget, policy) = setup(10);
        let supervisor = Supervisor::new();
        let backend = Backend::new(Ok(()));
        worker(&supervisor, &policy, &backend).join().await.unwrap();
        assert_eq!(backend.sent(), 1);
        assert_eq!(budget.stats().requests, 1, "{:?}", budget.stats());
        assert_eq!(budget.stats().retries, 0);
        // The twin: one that fails first is one request and a retry.
        let backend = Backend::new(Err(ApiError::Reset));
        let handle = worker(&supervisor, &policy, &backend);
        handle
            .wait_for(|status| status.phase == Phase::Stopped)
            .await;
        assert_eq!(backend.sent(), 3);
        assert_eq!(budget.stats().requests, 2, "{:?}", budget.stats());
        assert_eq!(budget.stats().retries, 2);
        supervisor.shutdown().await;
    })
    .await;
}

/// A worker started while the breaker is open waits for it to half-open
/// before its first run (as a restart does), sending nothing meanwhile;
/// then its run is the probe that closes it.
#[tokio::test(start_paused = true)]
async fn test_a_worker_started_while_the_breaker_is_open_waits_for_it() {
    within(HOUR_LIMIT, async {
        let (breaker, budget, policy) = opened().await;
        let requests = budget.stats().requests;
        let supervisor = Supervisor::new();
        let backend = Backend::new(Ok(()));
        let handle = worker(&supervisor, &policy, &backend);
        tokio::time::sleep(OPEN_FOR / 2).await;
        assert_eq!(backend.sent(), 0);
        assert_eq!(handle.status().phase, Phase::BackingOff);
        assert_eq!(budget.stats().requests, requests);
        handle.join().await.unwrap();
        assert_eq!(backend.sent(), 1);
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(budget.stats().requests, requests + 1);

        // The twin: closed, the worker runs at once.
        let backend = Backend::new(Ok(()));
        let handle = worker(&supervisor, &policy, &backend);
        tokio::task::yield_now().await;
        handle.join().await.unwrap();
        assert_eq!(backend.sent(), 1);
        supervisor.shutdown().await;
    })
    .await;
}

/// A worker started while the breaker is open, waiting for it before its
/// first run: the breaker, the policy, the supervisor, the worker's backend
/// (answering `Ok`) and its handle.
async fn a_worker_waiting_for_the_breaker() -> (
    CircuitBreaker,
    Arc<Policy>,
    Supervisor,
    Backend,
    signal_runtime::WorkerHandle<(), ApiError>,
) {
    let (breaker, _budget, policy) = opened().await;
    let supervisor = Supervisor::new();
    let backend = Backend::new(Ok(()));
    let handle = worker(&supervisor, &policy, &backend);
    handle
        .wait_for(|status| status.phase == Phase::BackingOff)
        .await;
    (breaker, policy, supervisor, backend, handle)
}

/// `recover` ends a first run's wait for the breaker, as it ends a
/// restart's: the run goes at once.
#[tokio::test(start_paused = true)]
async fn test_recover_ends_a_first_runs_wait_for_the_breaker() {
    within(HOUR_LIMIT, async {
        let (_breaker, _policy, supervisor, backend, handle) =
            a_worker_waiting_for_the_breaker().await;
        assert_eq!(backend.sent(), 0);
        assert!(handle.recover());
        handle.join().await.unwrap();
        assert_eq!(backend.sent(), 1);
        supervisor.shutdown().await;
    })
    .await;
}

/// A worker shut down while it waits for the breaker before its first run
/// ends with `Shutdown`, having sent nothing.
#[tokio::test(start_paused = true)]
async fn test_a_worker_shut_down_while_waiting_for_its_first_run_ends_with_shutdown() {
    within(HOUR_LIMIT, async {
        let (_breaker, policy, supervisor, backend, handle) =
            a_worker_waiting_for_the_breaker().await;
        supervisor.shutdown().await;
        let error = handle.join().await.unwrap_err();
        assert!(error.is_shutdown(), "{error:?}");
        assert_eq!(backend.sent(), 0);
        // The twin: left alone, it runs once the breaker half-opens.
        let supervisor = Supervisor::new();
        let handle = worker(&supervisor, &policy, &backend);
        assert_eq!(handle.join().await.ok(), Some(()));
        assert_eq!(backend.sent(), 1);
        supervisor.shutdown().await;
    })
    .await;
}

/// Code that is not the runtime's and panics while a worker waits for the
/// breaker before its first run (here a tracing layer, told the breaker
/// half-opened) ends the worker with the panic as its reason, never
/// silently. The twin without the layer is the test above.
#[tokio::test(start_paused = true)]
async fn test_a_panic_while_waiting_for_the_first_run_ends_the_worker_with_its_reason() {
    use tracing_subscriber::layer::SubscriberExt;
    within(HOUR_LIMIT, async {
        let (_breaker, _budget, policy) = opened().await;
        let _guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(PanicOnHalfOpen));
        let supervisor = Supervisor::new();
        let backend = Backend::new(Ok(()));
        let handle = worker(&supervisor, &policy, &backend);
        match handle.join().await {
            Err(signal_runtime::SupervisorError::Panicked { message, .. }) => {
                assert!(message.contains("subscriber panicked"), "{message}");
            }
            other => panic!("expected Panicked, got {other:?}"),
        }
        assert_eq!(backend.sent(), 0);
        supervisor.shutdown().await;
    })
    .await;
}

/// A worker started while the breaker is half-open with its probe out
/// waits for the probe's answer instead of running beside it: half-open
/// never has more probes in flight than it allows. Once the probe closes
/// the breaker, the worker runs.
#[tokio::test(start_paused = true)]
async fn test_a_worker_started_while_the_probe_is_out_waits_for_it() {
    within(HOUR_LIMIT, async {
        let (breaker, _budget, policy) = opened().await;
        tokio::time::sleep(OPEN_FOR).await;
        let (answer, gate) = tokio::sync::oneshot::channel::<Result<(), ApiError>>();
        let probe = {
            let policy = Arc::clone(&policy);
            let gate = Arc::new(std::sync::Mutex::new(Some(gate)));
            tokio::spawn(async move {
                policy
                    .call("api")
                    .run(move |_| {
                        let gate = gate.lock().unwrap().take();
                        async move { gate.unwrap().await.unwrap() }
                    })
                    .await
            })
        };
        tokio::task::yield_now().await;
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        let supervisor = Supervisor::new();
        let backend = Backend::new(Ok(()));
        let handle = worker(&supervisor, &policy, &backend);
        tokio::time::sleep(10 * MS).await;
        assert_eq!(backend.sent(), 0, "ran beside the probe");
        answer.send(Ok(())).unwrap();
        assert!(probe.await.unwrap().is_ok());
        assert_eq!(breaker.state(), BreakerState::Closed);
        handle.join().await.unwrap();
        assert_eq!(backend.sent(), 1);
        supervisor.shutdown().await;
    })
    .await;
}

/// A worker's first run while the breaker is half-open is a probe: it takes
/// the probe's place, so a call meanwhile is refused, and its success
/// closes the breaker.
#[tokio::test(start_paused = true)]
async fn test_a_workers_first_run_in_half_open_takes_the_probes_place() {
    within(HOUR_LIMIT, async {
        let (breaker, _budget, policy) = opened().await;
        tokio::time::sleep(OPEN_FOR).await;
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        let supervisor = Supervisor::new();
        let gate = Arc::new(tokio::sync::Notify::new());
        let handle = {
            let gate = Arc::clone(&gate);
            supervisor.spawn("api", Arc::clone(&policy), async move |_ctx| {
                gate.notified().await;
                Ok::<(), ApiError>(())
            })
        };
        handle.wait_for(|status| status.runs == 1).await;
        let backend = Backend::new(Ok(()));
        let refused = policy.call("api").run(async |_| backend.send()).await;
        assert!(
            matches!(refused, Err(signal_runtime::RetryError::CircuitOpen { .. })),
            "{refused:?}"
        );
        assert_eq!(backend.sent(), 0);
        gate.notify_one();
        handle.join().await.unwrap();
        assert_eq!(breaker.state(), BreakerState::Closed);
        supervisor.shutdown().await;
    })
    .await;
}
