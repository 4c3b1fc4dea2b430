//! A retry budget shared across calls: during a full outage of a backend,
//! 1,000 concurrent callers send at most 1.2 requests per call through
//! every path (`Policy::call`, `Policy::retry`, `tower`, `backon`,
//! supervised workers); without the budget, each path amplifies the outage
//! by the rule's attempts.

#![cfg(all(feature = "backon", feature = "tower"))]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backon::Retryable;
use signal_core::{Signal, kind};
use signal_runtime::{
    Backoff, ConfigError, Intensity, Phase, Policy, Reaction, RetryBudget, RetryError, StopReason,
    Supervisor, SupervisorError,
};
use support::{Events, HOUR_LIMIT, floor_budget, within};
use tower::{ServiceBuilder, ServiceExt};

kind! {
    /// The backend is down.
    pub Down;
}

#[derive(Debug, Clone, thiserror::Error, Signal)]
enum BackendError {
    #[error("backend down")]
    #[signal(leaf = "Down")]
    Down,
}

const CALLERS: u64 = 1000;
const ATTEMPTS: u32 = 5;

/// Retries an outage up to five attempts, after 100 ms, 200 ms, ...
fn policy(budget: Option<&RetryBudget>) -> Arc<Policy> {
    let policy = Policy::new()
        .on::<Down>(Reaction::Retry.max_attempts(ATTEMPTS))
        .backoff(Backoff::new(
            Duration::from_millis(100),
            Duration::from_secs(2),
        ))
        .intensity(Intensity::new(u32::MAX, Duration::from_secs(1)));
    Arc::new(match budget {
        Some(budget) => policy.retry_budget(budget),
        None => policy,
    })
}

/// 10% of the requests, plus one retry a second, over 10 seconds.
fn budget(name: &str) -> RetryBudget {
    RetryBudget::new(name, 0.1, 1, Duration::from_secs(10)).unwrap()
}

/// A backend in a full outage: every request fails, and is counted.
#[derive(Clone, Default)]
struct Backend {
    sent: Arc<AtomicU64>,
}

impl Backend {
    fn send(&self) -> Result<(), BackendError> {
        self.sent.fetch_add(1, Ordering::SeqCst);
        Err(BackendError::Down)
    }

    fn per_call(&self) -> f64 {
        self.sent.load(Ordering::SeqCst) as f64 / CALLERS as f64
    }
}

#[derive(Clone, Copy, Debug)]
enum Path {
    Call,
    Retry,
    Tower,
    Backon,
    Workers,
}

const PATHS: [Path; 5] = [
    Path::Call,
    Path::Retry,
    Path::Tower,
    Path::Backon,
    Path::Workers,
];

/// 1,000 concurrent callers of the backend through `path`; returns the
/// requests sent per call, and the reasons the calls gave up.
async fn outage(path: Path, policy: Arc<Policy>) -> (f64, Vec<StopReason>) {
    let backend = Backend::default();
    let mut tasks = tokio::task::JoinSet::new();
    let supervisor = Supervisor::new();
    let mut workers = Vec::new();
    for _ in 0..CALLERS {
        let (policy, backend) = (Arc::clone(&policy), backend.clone());
        match path {
            Path::Call => {
                tasks.spawn(async move {
                    let error = policy
                        .call("fetch")
                        .run(move |_| std::future::ready(backend.send()))
                        .await
                        .unwrap_err();
                    error.reason()
                });
            }
            Path::Retry => {
                tasks.spawn(async move {
                    let _ = policy
                        .retry("fetch", move || std::future::ready(backend.send()))
                        .await;
                    // `retry` returns the error alone: the reason is read
                    // from the budget's stats below.
                    StopReason::Exhausted
                });
            }
            Path::Tower => {
                tasks.spawn(async move {
                    let service = ServiceBuilder::new()
                        .retry(policy.tower("fetch"))
                        .service_fn(move |_: u32| {
                            let backend = backend.clone();
                            async move { backend.send() }
                        });
                    assert!(service.oneshot(1).await.is_err());
                    StopReason::Exhausted
                });
            }
            Path::Backon => {
                tasks.spawn(async move {
                    let result = (|| std::future::ready(backend.send()))
                        .retry(policy.backon_backoff())
                        .when(policy.backon_when())
                        .adjust(policy.backon_adjust())
                        .await;
                    assert!(result.is_err());
                    StopReason::Exhausted
                });
            }
            Path::Workers => {
                workers.push(supervisor.spawn("fetch", policy, async move |_ctx| backend.send()));
            }
        }
    }
    let mut reasons = Vec::new();
    while let Some(reason) = tasks.join_next().await {
        reasons.push(reason.unwrap());
    }
    for worker in workers {
        let status = worker
            .wait_for(|status| status.phase == Phase::Stopped)
            .await;
        reasons.push(status.retry.stopped.unwrap());
        let error = worker.join().await.unwrap_err();
        match (status.retry.stopped, &error) {
            (
                Some(StopReason::BudgetExhausted),
                SupervisorError::BudgetExhausted { budget, .. },
            ) => {
                assert_eq!(&**budget, "backend");
                assert!(error.has::<Down>(), "the last error's kinds are kept");
            }
            (Some(StopReason::Exhausted), SupervisorError::Exhausted { .. }) => {}
            other => panic!("{other:?}"),
        }
    }
    supervisor.shutdown().await;
    (backend.per_call(), reasons)
}

#[tokio::test(start_paused = true)]
async fn test_a_budget_caps_the_requests_of_an_outage_on_every_path() {
    within(HOUR_LIMIT, async {
        for path in PATHS {
            let budget = budget("backend");
            let (per_call, reasons) = outage(path, policy(Some(&budget))).await;
            assert!(per_call <= 1.2, "{path:?}: {per_call} requests per call");
            // The floor and the ratio are spent: 100 + 10 retries.
            let stats = budget.stats();
            assert_eq!(stats.requests, CALLERS, "{path:?}");
            assert_eq!(stats.retries, 110, "{path:?}");
            assert_eq!(per_call, 1.11, "{path:?}");
            assert!(stats.refused >= CALLERS - 110, "{path:?}: {stats:?}");
            if matches!(path, Path::Call | Path::Workers) {
                let refused = reasons
                    .iter()
                    .filter(|&&reason| reason == StopReason::BudgetExhausted)
                    .count() as u64;
                assert_eq!(refused, stats.refused, "{path:?}");
            }
        }
    })
    .await;
}

/// The negative twin: without a budget every caller retries to its rule's
/// maximum, five requests per call.
#[tokio::test(start_paused = true)]
async fn test_without_a_budget_an_outage_is_amplified_on_every_path() {
    within(HOUR_LIMIT, async {
        for path in PATHS {
            let (per_call, reasons) = outage(path, policy(None)).await;
            assert_eq!(per_call, f64::from(ATTEMPTS), "{path:?}");
            assert!(!reasons.contains(&StopReason::BudgetExhausted), "{path:?}");
        }
    })
    .await;
}

/// One budget shared by every path at once: 200 callers on each, 1,000 in
/// all, still 1.11 requests per call.
#[tokio::test(start_paused = true)]
async fn test_one_budget_is_one_ledger_across_paths() {
    within(HOUR_LIMIT, async {
        let budget = budget("backend");
        let policy = policy(Some(&budget));
        let backend = Backend::default();
        let supervisor = Supervisor::new();
        let mut tasks = tokio::task::JoinSet::new();
        let mut workers = Vec::new();
        for i in 0..CALLERS {
            let (policy, backend) = (Arc::clone(&policy), backend.clone());
            match i % 5 {
                0 => drop(tasks.spawn(async move {
                    let _ = policy
                        .call("fetch")
                        .run(move |_| std::future::ready(backend.send()))
                        .await;
                })),
                1 => drop(tasks.spawn(async move {
                    let _ = policy
                        .retry("fetch", move || std::future::ready(backend.send()))
                        .await;
                })),
                2 => drop(tasks.spawn(async move {
                    let service = ServiceBuilder::new()
                        .retry(policy.tower("fetch"))
                        .service_fn(move |_: u32| std::future::ready(backend.send()));
                    let _ = service.oneshot(1).await;
                })),
                3 => drop(tasks.spawn(async move {
                    let _ = (|| std::future::ready(backend.send()))
                        .retry(policy.backon_backoff())
                        .adjust(policy.backon_adjust())
                        .await;
                })),
                _ => workers
                    .push(supervisor.spawn("fetch", policy, async move |_ctx| backend.send())),
            }
        }
        while tasks.join_next().await.is_some() {}
        for worker in workers {
            worker
                .wait_for(|status| status.phase == Phase::Stopped)
                .await;
        }
        supervisor.shutdown().await;
        assert_eq!(budget.stats().requests, CALLERS);
        assert_eq!(budget.stats().retries, 110);
        assert_eq!(backend.per_call(), 1.11);
    })
    .await;
}

/// The budget refills: once the outage's requests and retries have left the
/// window, a new call may retry again.
#[tokio::test(start_paused = true)]
async fn test_the_budget_refills_as_the_window_slides() {
    within(HOUR_LIMIT, async {
        let budget = RetryBudget::new("backend", 0.0, 1, Duration::from_secs(2)).unwrap();
        let policy = policy(Some(&budget));
        let backend = Backend::default();
        let first = policy
            .call("fetch")
            .run(|_| std::future::ready(backend.send()))
            .await;
        // Two retries (the floor over two seconds), then refused.
        assert_eq!(first.unwrap_err().reason(), StopReason::BudgetExhausted);
        assert_eq!(backend.sent.load(Ordering::SeqCst), 3);
        let refused = policy
            .call("fetch")
            .run(|_| std::future::ready(backend.send()))
            .await;
        assert_eq!(refused.unwrap_err().attempts(), 1);

        tokio::time::sleep(Duration::from_secs(2)).await;
        let again = policy
            .call("fetch")
            .run(|_| std::future::ready(backend.send()))
            .await;
        assert_eq!(again.unwrap_err().attempts(), 3);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_budget_exhaustion_is_a_typed_stop_with_its_event() {
    within(HOUR_LIMIT, async {
        let (events, _guard) = Events::capture();
        let budget = RetryBudget::new("backend", 0.0, 0, Duration::from_secs(10)).unwrap();
        let error = policy(Some(&budget))
            .call("fetch")
            .run(async |_| Err::<(), _>(BackendError::Down))
            .await
            .unwrap_err();
        assert!(
            matches!(&error, RetryError::BudgetExhausted { budget, .. } if &**budget == "backend")
        );
        assert!(error.has::<Down>());
        assert_eq!(
            error.to_string(),
            "call `fetch` failed after 1 attempt: the retry budget `backend` allows no more retries for now"
        );
        let stops = events.reactions("stop");
        assert_eq!(stops.len(), 1);
        assert_eq!(stops[0].field("reason"), Some("budget_exhausted"));
        assert_eq!(stops[0].field("budget"), Some("backend"));

        // The twin: a call without a budget is not refused.
        let error = policy(None)
            .call("fetch")
            .run(async |_| Err::<(), _>(BackendError::Down))
            .await
            .unwrap_err();
        assert_eq!(error.reason(), StopReason::Exhausted);
        assert_eq!(error.attempts(), ATTEMPTS);
    })
    .await;
}

/// One worker alone: a budget without floor or ratio stops it at its first
/// failure, in its status and its error; with a floor it restarts.
#[tokio::test(start_paused = true)]
async fn test_one_worker_stops_on_an_empty_budget_and_restarts_on_a_floor() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let empty = RetryBudget::new("backend", 0.0, 0, Duration::from_secs(10)).unwrap();
        let backend = Backend::default();
        let sender = backend.clone();
        let worker = supervisor.spawn("one", policy(Some(&empty)), async move |_ctx| sender.send());
        let status = worker
            .wait_for(|status| status.phase == Phase::Stopped)
            .await;
        assert_eq!(status.retry.stopped, Some(StopReason::BudgetExhausted));
        assert!(matches!(
            status.error,
            Some(SupervisorError::BudgetExhausted { attempt: 1, .. })
        ));
        assert_eq!(backend.sent.load(Ordering::SeqCst), 1);
        // Recovered, it runs again and is refused again: the budget is
        // shared state, not the worker's.
        assert!(worker.recover());
        worker
            .wait_for(|status| status.runs == 2 && status.phase == Phase::Stopped)
            .await;
        assert_eq!(backend.sent.load(Ordering::SeqCst), 2);

        let floor = RetryBudget::new("backend", 0.0, 1, Duration::from_secs(10)).unwrap();
        let backend = Backend::default();
        let sender = backend.clone();
        let worker = supervisor.spawn("one", policy(Some(&floor)), async move |_ctx| sender.send());
        let status = worker
            .wait_for(|status| status.phase == Phase::Stopped)
            .await;
        // Five runs, the rule's maximum: the floor allowed the four restarts.
        assert_eq!(status.retry.stopped, Some(StopReason::Exhausted));
        assert_eq!(backend.sent.load(Ordering::SeqCst), u64::from(ATTEMPTS));
        supervisor.shutdown().await;
    })
    .await;
}

#[test]
fn test_bad_settings_are_config_errors_not_panics() {
    let window = Duration::from_secs(10);
    for ratio in [f64::NAN, -1.0, 1000.001, f64::INFINITY] {
        assert!(matches!(
            RetryBudget::new("b", ratio, 1, window),
            Err(ConfigError::Ratio { .. })
        ));
    }
    assert!(matches!(
        RetryBudget::new("b", 0.1, 1, Duration::ZERO),
        Err(ConfigError::ZeroWindow { .. })
    ));
    // The edges that are fine.
    assert!(RetryBudget::new("b", 0.0, 0, Duration::from_nanos(1)).is_ok());
    assert!(RetryBudget::new("b", 1000.0, u32::MAX, Duration::MAX).is_ok());
}

/// `Duration::MAX` windows, huge ratios and floors: nothing overflows, the
/// budget is as good as none.
#[tokio::test(start_paused = true)]
async fn test_a_duration_max_window_never_panics() {
    within(HOUR_LIMIT, async {
        let budget = RetryBudget::new("backend", 1000.0, u32::MAX, Duration::MAX).unwrap();
        let error = policy(Some(&budget))
            .call("fetch")
            .run(async |_| Err::<(), _>(BackendError::Down))
            .await
            .unwrap_err();
        assert_eq!(error.reason(), StopReason::Exhausted);
        assert_eq!(error.attempts(), ATTEMPTS);
    })
    .await;
}

/// The allowance is the whole part of ratio × requests plus the floor over
/// the window: 9 requests at a tenth earn no retry, 10 earn one; a floor
/// of 1 a second over half a second allows none, over 2 seconds two.
#[tokio::test(start_paused = true)]
async fn test_the_allowance_is_a_whole_number_of_retries() {
    let tenth = RetryBudget::new("b", 0.1, 0, Duration::from_secs(10)).unwrap();
    for _ in 0..9 {
        tenth.deposit();
    }
    let refused = |budget: &RetryBudget| budget.stats().refused;
    let retry_once = async |budget: &RetryBudget| {
        let policy = Policy::new()
            .on::<signal_core::vocab::TransientNetwork>(Reaction::Retry.max_attempts(2))
            .backoff(Backoff::new(
                Duration::from_millis(1),
                Duration::from_millis(1),
            ))
            .retry_budget(budget);
        let _ = policy
            .retry("b", async || {
                Err::<(), _>(Reset(std::io::ErrorKind::ConnectionReset.into()))
            })
            .await;
    };
    // Each call deposits one request of its own.
    retry_once(&tenth).await;
    assert_eq!(tenth.stats().retries, 1, "10 requests earn a retry");
    retry_once(&tenth).await;
    assert_eq!(refused(&tenth), 1, "11 requests earn one retry, not two");

    let half = RetryBudget::new("b", 0.0, 1, Duration::from_millis(500)).unwrap();
    retry_once(&half).await;
    assert_eq!((half.stats().retries, refused(&half)), (0, 1));
    let two = RetryBudget::new("b", 0.0, 1, Duration::from_secs(2)).unwrap();
    for _ in 0..3 {
        retry_once(&two).await;
    }
    assert_eq!((two.stats().retries, refused(&two)), (2, 1));
}

#[derive(Debug, Signal)]
struct Reset(#[signal(forward)] std::io::Error);

/// Retries an outage up to 3 attempts, a second apart, within `budget`.
fn each_second(budget: &RetryBudget) -> Policy {
    Policy::new()
        .on::<Down>(Reaction::Retry.max_attempts(3))
        .backoff(Backoff::new(Duration::from_secs(1), Duration::from_secs(1)).with_jitter(0.0))
        .retry_budget(budget)
}

/// Makes `calls` calls through `policy` whose attempts fail with `Down`,
/// each dropped (its `tokio::time::timeout` expires) after `timeout`: the
/// attempts sent.
async fn dropped_calls(policy: &Policy, calls: usize, timeout: Duration) -> u64 {
    let sent = AtomicU64::new(0);
    for _ in 0..calls {
        let call = policy.call("api").run(async |_| {
            sent.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(BackendError::Down)
        });
        assert!(tokio::time::timeout(timeout, call).await.is_err());
    }
    sent.load(Ordering::SeqCst)
}

/// A call dropped during its backoff (a `tokio::time::timeout` around it)
/// never sent the retry it withdrew from the budget: the retry is given
/// back, so abandoned calls do not refuse other callers retries the backend
/// never saw.
#[tokio::test(start_paused = true)]
async fn test_a_call_dropped_in_its_backoff_gives_its_retry_back() {
    within(HOUR_LIMIT, async {
        let budget = floor_budget(1);
        let policy = each_second(&budget);
        assert_eq!(
            dropped_calls(&policy, 10, Duration::from_millis(500)).await,
            10,
            "one attempt each, no retry sent"
        );
        assert_eq!(
            budget.stats().retries,
            0,
            "no retry was sent, yet the budget counts {:?}",
            budget.stats()
        );
    })
    .await;
}

/// The twin: a retry that was made keeps its withdrawal. A call dropped in
/// its second backoff sent one retry, and the budget counts one.
#[tokio::test(start_paused = true)]
async fn test_a_retry_made_before_the_call_is_dropped_stays_withdrawn() {
    within(HOUR_LIMIT, async {
        let budget = floor_budget(1);
        let policy = each_second(&budget);
        assert_eq!(
            dropped_calls(&policy, 1, Duration::from_millis(1500)).await,
            2
        );
        assert_eq!(budget.stats().retries, 1, "{:?}", budget.stats());
    })
    .await;
}

/// The same on the `tower` path: a request dropped during its backoff
/// gives back the retry its policy withdrew.
#[tokio::test(start_paused = true)]
async fn test_a_tower_request_dropped_in_its_backoff_gives_its_retry_back() {
    within(HOUR_LIMIT, async {
        let budget = floor_budget(1);
        let policy = each_second(&budget);
        let sent = Arc::new(AtomicU64::new(0));
        let service = {
            let sent = Arc::clone(&sent);
            ServiceBuilder::new()
                .retry(policy.tower("api"))
                .service_fn(move |_: u32| {
                    sent.fetch_add(1, Ordering::SeqCst);
                    std::future::ready(Err::<(), _>(BackendError::Down))
                })
        };
        for _ in 0..3 {
            let request = service.clone().oneshot(1);
            let timeout = Duration::from_millis(500);
            assert!(tokio::time::timeout(timeout, request).await.is_err());
        }
        assert_eq!(sent.load(Ordering::SeqCst), 3);
        assert_eq!(budget.stats().retries, 0, "{:?}", budget.stats());
    })
    .await;
}

/// The same for a worker: shut down during its backoff, it gives back the
/// retry its restart withdrew.
#[tokio::test(start_paused = true)]
async fn test_a_worker_shut_down_in_its_backoff_gives_its_retry_back() {
    within(HOUR_LIMIT, async {
        let budget = floor_budget(1);
        let policy = Arc::new(
            Policy::new()
                .on::<Down>(Reaction::Retry)
                .backoff(
                    Backoff::new(Duration::from_secs(1), Duration::from_secs(1)).with_jitter(0.0),
                )
                .intensity(Intensity::new(u32::MAX, Duration::from_secs(1)))
                .retry_budget(&budget),
        );
        let supervisor = Supervisor::new();
        let handle = supervisor.spawn("w", policy, async |_ctx| Err::<(), _>(BackendError::Down));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(handle.status().phase, Phase::BackingOff);
        assert_eq!(budget.stats().retries, 1, "the restart withdrew");
        supervisor.shutdown().await;
        assert_eq!(budget.stats().retries, 0, "{:?}", budget.stats());
    })
    .await;
}

/// An error a `backon` guard can return for a refusal.
#[derive(Debug, thiserror::Error, Signal)]
enum GuardedError {
    #[error("backend down")]
    #[signal(leaf = "Down")]
    Down,
    #[error(transparent)]
    Refused(
        #[from]
        #[signal(forward)]
        signal_runtime::BreakerOpen,
    ),
}

/// The same on the `backon` path, through a guard: a call dropped during
/// `backon`'s sleep gives back the retry its adjust withdrew.
#[tokio::test(start_paused = true)]
async fn test_a_backon_call_dropped_in_its_backoff_gives_its_retry_back() {
    within(HOUR_LIMIT, async {
        let budget = floor_budget(1);
        let policy = each_second(&budget);
        let sent = AtomicU64::new(0);
        for _ in 0..3 {
            let guard = policy.backon_guard("api");
            let call = guard
                .wrap(|| {
                    sent.fetch_add(1, Ordering::SeqCst);
                    std::future::ready(Err::<(), _>(GuardedError::Down))
                })
                .retry(policy.backon_backoff())
                .when(policy.backon_when())
                .adjust(guard.adjust());
            let timeout = Duration::from_millis(500);
            assert!(tokio::time::timeout(timeout, call).await.is_err());
        }
        assert_eq!(sent.load(Ordering::SeqCst), 3);
        assert_eq!(budget.stats().retries, 0, "{:?}", budget.stats());
    })
    .await;
}
