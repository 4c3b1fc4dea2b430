//! The same edges on every path that sends requests: `Policy::call`,
//! `Policy::retry`, `Policy::retry_guarded`, the `tower` policy behind the
//! breaker's layer, `backon` behind the policy's guard, and a supervised
//! worker. Empty and unbounded retry budgets, breakers open for
//! `Duration::MAX` or for nothing, and attempts that panic while the
//! breaker is half-open: each path does what the others do, never panics
//! and never hangs.

#![cfg(all(feature = "backon", feature = "tower"))]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backon::Retryable;
use signal_core::Signal;
use signal_core::vocab::TransientNetwork;
use signal_runtime::{
    Backoff, BreakerOpen, BreakerState, CircuitBreaker, Intensity, Phase, Policy, Reaction,
    RetryBudget, Supervisor,
};
use support::{HOUR_LIMIT, MS, floor_budget, network_breaker, within};
use tower::{ServiceBuilder, ServiceExt};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Signal)]
enum ApiError {
    #[error("refused")]
    #[signal(leaf = "signal_core::vocab::ConnectionRefused")]
    Refused,
    #[error(transparent)]
    Open(
        #[from]
        #[signal(forward)]
        BreakerOpen,
    ),
}

const ATTEMPTS: u32 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    Call,
    Retry,
    Guarded,
    Tower,
    Backon,
    Worker,
}

const PATHS: [Path; 6] = [
    Path::Call,
    Path::Retry,
    Path::Guarded,
    Path::Tower,
    Path::Backon,
    Path::Worker,
];

/// A backend: counts the requests that reach it; refuses them, or panics.
#[derive(Clone, Default)]
struct Backend {
    sent: Arc<AtomicU64>,
    panics: bool,
}

impl Backend {
    fn panicking() -> Backend {
        Backend {
            panics: true,
            ..Backend::default()
        }
    }

    fn send(&self) -> Result<(), ApiError> {
        self.sent.fetch_add(1, Ordering::SeqCst);
        if self.panics {
            panic!("the attempt panicked");
        }
        Err(ApiError::Refused)
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

/// Retries refused connections up to three attempts, 100 ms apart.
fn policy(budget: Option<&RetryBudget>, breaker: Option<&CircuitBreaker>) -> Arc<Policy> {
    let mut policy = Policy::new()
        .on::<TransientNetwork>(Reaction::Retry.max_attempts(ATTEMPTS))
        .on_panic(Reaction::Stop)
        .backoff(Backoff::new(100 * MS, 100 * MS).with_jitter(0.0))
        .intensity(Intensity::new(u32::MAX, Duration::from_secs(1)));
    if let Some(budget) = budget {
        policy = policy.retry_budget(budget);
    }
    if let Some(breaker) = breaker {
        policy = policy.breaker(breaker);
    }
    Arc::new(policy)
}

/// One call through `path`, in a task of its own (so a panic is the
/// task's); `Err` holds a panic's message. A worker runs until it stops,
/// or for at most five minutes of the paused clock.
async fn run(path: Path, policy: &Arc<Policy>, backend: &Backend) -> Result<(), String> {
    let (policy, backend) = (Arc::clone(policy), backend.clone());
    let task = tokio::spawn(async move {
        let sender = backend.clone();
        let send = move || std::future::ready(sender.send());
        match path {
            Path::Call => {
                let _ = policy.call("api").run(move |_| send()).await;
            }
            Path::Retry => {
                let _ = policy.retry("api", send).await;
            }
            Path::Guarded => {
                let _ = policy.retry_guarded("api", send).await;
            }
            Path::Tower => {
                let send = move |_: u32| send();
                let retry = ServiceBuilder::new().retry(policy.tower("api"));
                match policy.circuit_breaker() {
                    Some(breaker) => {
                        let service = retry.layer(breaker.layer()).service_fn(send);
                        let _ = service.oneshot(1).await;
                    }
                    None => {
                        let _ = retry.service_fn(send).oneshot(1).await;
                    }
                }
            }
            Path::Backon => {
                let guard = policy.backon_guard("api");
                let _ = guard
                    .wrap(send)
                    .retry(policy.backon_backoff())
                    .when(policy.backon_when())
                    .adjust(guard.adjust())
                    .await;
            }
            Path::Worker => {
                let supervisor = Supervisor::new();
                let worker = supervisor.spawn("api", policy, async move |_ctx| backend.send());
                let _ = tokio::time::timeout(
                    Duration::from_secs(300),
                    worker.wait_for(|status| status.phase == Phase::Stopped),
                )
                .await;
                supervisor.shutdown().await;
            }
        }
    });
    task.await.map_err(|error| {
        assert!(error.is_panic(), "{path:?}: {error}");
        "panicked".to_owned()
    })
}

/// A budget without ratio or floor allows no retry: every path makes its
/// first attempt only. The twins: an unbounded budget (the largest ratio
/// and floor, a `Duration::MAX` window) and no budget let every path make
/// the rule's attempts.
#[tokio::test(start_paused = true)]
async fn test_an_empty_budget_stops_every_path_at_its_first_attempt() {
    within(HOUR_LIMIT, async {
        let empty = || floor_budget(0);
        let unbounded =
            || RetryBudget::new("api", RetryBudget::MAX_RATIO, u32::MAX, Duration::MAX).unwrap();
        for path in PATHS {
            for (budget, sent) in [
                (Some(empty()), 1),
                (Some(unbounded()), u64::from(ATTEMPTS)),
                (None, u64::from(ATTEMPTS)),
            ] {
                let backend = Backend::default();
                run(path, &policy(budget.as_ref(), None), &backend)
                    .await
                    .unwrap();
                assert_eq!(backend.sent(), sent, "{path:?} with {budget:?}");
                if let Some(budget) = budget {
                    let stats = budget.stats();
                    assert_eq!(stats.requests, 1, "{path:?}: {stats:?}");
                    assert_eq!(stats.retries, sent - 1, "{path:?}: {stats:?}");
                }
            }
        }
    })
    .await;
}

/// A breaker open for `Duration::MAX` stays open without overflowing: every
/// path that asks it fails fast from then on (a worker waits, sending
/// nothing; `Policy::retry` does not ask before its first attempt). The
/// twin: open for no time at all, it half-opens at the next call, which is
/// sent as a probe.
#[tokio::test(start_paused = true)]
async fn test_a_breaker_open_for_duration_max_refuses_every_path() {
    within(HOUR_LIMIT, async {
        for path in PATHS {
            for open_for in [Duration::MAX, Duration::ZERO] {
                // A window of `Duration::MAX` with it: nothing overflows.
                let breaker = network_breaker("api", 1)
                    .open_for(open_for)
                    .window(open_for.max(Duration::from_secs(10)))
                    .build()
                    .unwrap();
                let budget = floor_budget(10);
                let policy = policy(Some(&budget), Some(&breaker));
                let backend = Backend::default();
                let forever = open_for == Duration::MAX;
                // The first failure opens it: no retry follows while it is
                // open (for no time at all, the retries go on).
                run(path, &policy, &backend).await.unwrap();
                let first = if forever { 1 } else { u64::from(ATTEMPTS) };
                assert_eq!(backend.sent(), first, "{path:?} {open_for:?}");
                let requests = budget.stats().requests;
                for _ in 0..3 {
                    run(path, &policy, &backend).await.unwrap();
                }
                let sent = backend.sent() - first;
                let new_requests = budget.stats().requests - requests;
                match (forever, path) {
                    // Asked only after its first attempt.
                    (true, Path::Retry) => assert_eq!((sent, new_requests), (3, 3), "{path:?}"),
                    // Refused: nothing sent, no requests.
                    (true, _) => assert_eq!((sent, new_requests), (0, 0), "{path:?}"),
                    (false, _) => assert_eq!(
                        (sent, new_requests),
                        (3 * u64::from(ATTEMPTS), 3),
                        "{path:?}"
                    ),
                }
                if forever {
                    assert_eq!(breaker.state(), BreakerState::Open, "{path:?}");
                }
            }
        }
    })
    .await;
}

/// An attempt that panics while the breaker is half-open gives its probe's
/// place back on every path that takes one (and says nothing of the
/// dependency): the next call is let through as a probe, and its failure
/// reopens the breaker. The twin: a probe that fails reopens it at once.
#[tokio::test(start_paused = true)]
async fn test_a_panicking_probe_gives_its_place_back_on_every_path() {
    within(HOUR_LIMIT, async {
        const OPEN_FOR: Duration = Duration::from_secs(30);
        for path in PATHS {
            for panics in [true, false] {
                let breaker = network_breaker("api", 1)
                    .open_for(OPEN_FOR)
                    .build()
                    .unwrap();
                let policy = policy(None, Some(&breaker));
                run(Path::Call, &policy, &Backend::default()).await.unwrap();
                assert_eq!(breaker.state(), BreakerState::Open);
                tokio::time::sleep(OPEN_FOR).await;
                assert_eq!(breaker.state(), BreakerState::HalfOpen, "{path:?}");
                let probe = if panics {
                    Backend::panicking()
                } else {
                    Backend::default()
                };
                let ran = run(path, &policy, &probe).await;
                // A worker waits for the breaker after its failed probe, and
                // probes again, up to its rule's attempts.
                let attempts = if path == Path::Worker && !panics {
                    u64::from(ATTEMPTS)
                } else {
                    1
                };
                assert_eq!(probe.sent(), attempts, "{path:?}");
                if panics {
                    // A worker catches its run's panic and stops; the other
                    // paths unwind.
                    assert_eq!(ran.is_err(), path != Path::Worker, "{path:?}");
                    assert_eq!(breaker.state(), BreakerState::HalfOpen, "{path:?}");
                    let next = Backend::default();
                    run(path, &policy, &next).await.unwrap();
                    let attempts = if path == Path::Worker { ATTEMPTS } else { 1 };
                    assert_eq!(
                        next.sent(),
                        u64::from(attempts),
                        "{path:?}: the place was given back"
                    );
                }
                assert_eq!(breaker.state(), BreakerState::Open, "{path:?}");
            }
        }
    })
    .await;
}

/// A call's deadline of `Duration::MAX` is no deadline, next to the
/// breaker and the budget too: an open breaker still fails it fast, an
/// empty budget still stops it after one attempt, and otherwise it makes
/// the rule's attempts, each told no time limit. The twin: a zero deadline
/// makes one attempt and stops on the deadline.
#[tokio::test(start_paused = true)]
async fn test_a_duration_max_deadline_is_no_deadline_next_to_breaker_and_budget() {
    use signal_runtime::{RetryError, StopReason};
    within(HOUR_LIMIT, async {
        let call = async |policy: &Policy, deadline: Duration, backend: &Backend| {
            policy
                .call("api")
                .deadline(deadline)
                .run(async |attempt| {
                    if deadline == Duration::MAX {
                        assert_eq!(attempt.remaining(), None);
                    }
                    backend.send()
                })
                .await
                .unwrap_err()
        };
        let backend = Backend::default();
        let error = call(&policy(None, None), Duration::MAX, &backend).await;
        assert_eq!(error.reason(), StopReason::Exhausted);
        assert_eq!(backend.sent(), u64::from(ATTEMPTS));
        let error = call(&policy(None, None), Duration::ZERO, &backend).await;
        assert_eq!(error.reason(), StopReason::DeadlineExceeded);
        assert_eq!(backend.sent(), u64::from(ATTEMPTS) + 1);

        let empty = RetryBudget::new("api", 0.0, 0, Duration::MAX).unwrap();
        let backend = Backend::default();
        let error = call(&policy(Some(&empty), None), Duration::MAX, &backend).await;
        assert_eq!(error.reason(), StopReason::BudgetExhausted);
        assert_eq!(backend.sent(), 1);

        let breaker = network_breaker("api", 1)
            .open_for(Duration::MAX)
            .build()
            .unwrap();
        let policy = policy(None, Some(&breaker));
        let backend = Backend::default();
        let error = call(&policy, Duration::MAX, &backend).await;
        assert_eq!(error.reason(), StopReason::CircuitOpen);
        let error = call(&policy, Duration::MAX, &backend).await;
        assert!(matches!(error, RetryError::CircuitOpen { last: None, .. }));
        assert_eq!(backend.sent(), 1);
    })
    .await;
}
