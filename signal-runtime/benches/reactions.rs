//! Reactions across calls: a full outage of one backend, 1,000 concurrent
//! callers, and the requests the backend receives per call made, with plain
//! per-call retry and with a shared retry budget (goal: at most 1.2
//! requests per call), on every path that retries.
//!
//! Run with `cargo bench -p signal-runtime --bench reactions --features tower,backon`
//! (without the features, the `tower` and `backon` rows are left out).
//! Prints a Markdown table. The clock is tokio's paused clock, so the counts
//! and the simulated times are exact and the same on every machine; the wall
//! time is the machine's.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use signal_core::{Signal, kind};
use signal_runtime::{
    Backoff, BreakerState, CircuitBreaker, Intensity, Phase, Policy, Reaction, RetryBudget,
    Supervisor,
};
use tokio::time::Instant;

kind! {
    /// The backend is down.
    pub Down;
}

#[derive(Debug, Signal)]
enum BackendError {
    #[signal(leaf = "Down")]
    Down,
}

const CALLERS: u64 = 1000;
const ATTEMPTS: u32 = 5;
const GOAL: f64 = 1.2;

/// Every request fails, and is counted.
#[derive(Clone, Default)]
struct Backend {
    sent: Arc<AtomicU64>,
}

impl Backend {
    fn send(&self) -> Result<(), BackendError> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        Err(BackendError::Down)
    }
}

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

#[derive(Clone, Copy, Debug)]
enum Path {
    Call,
    Retry,
    #[cfg(feature = "tower")]
    Tower,
    #[cfg(feature = "backon")]
    Backon,
    Workers,
}

impl Path {
    fn name(self) -> &'static str {
        match self {
            Path::Call => "`Policy::call`",
            Path::Retry => "`Policy::retry`",
            #[cfg(feature = "tower")]
            Path::Tower => "`tower` retry",
            #[cfg(feature = "backon")]
            Path::Backon => "`backon` adjust",
            Path::Workers => "supervised workers",
        }
    }
}

/// What one outage cost.
struct Outcome {
    per_call: f64,
    /// Simulated time until the last caller gave up.
    gave_up_after: Duration,
    wall: Duration,
}

fn outage(path: Path, policy: Arc<Policy>) -> Outcome {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let wall = std::time::Instant::now();
    let backend = Backend::default();
    let gave_up_after = runtime.block_on(async {
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        let supervisor = Supervisor::new();
        let mut workers = Vec::new();
        for _ in 0..CALLERS {
            let (policy, backend) = (Arc::clone(&policy), backend.clone());
            match path {
                Path::Call => drop(tasks.spawn(async move {
                    let _ = policy
                        .call("fetch")
                        .run(move |_| std::future::ready(backend.send()))
                        .await;
                })),
                Path::Retry => drop(tasks.spawn(async move {
                    let _ = policy
                        .retry("fetch", move || std::future::ready(backend.send()))
                        .await;
                })),
                #[cfg(feature = "tower")]
                Path::Tower => drop(tasks.spawn(async move {
                    use tower::{ServiceBuilder, ServiceExt};
                    let service = ServiceBuilder::new()
                        .retry(policy.tower("fetch"))
                        .service_fn(move |_: u32| std::future::ready(backend.send()));
                    let _ = service.oneshot(1).await;
                })),
                #[cfg(feature = "backon")]
                Path::Backon => drop(tasks.spawn(async move {
                    use backon::Retryable;
                    let _ = (|| std::future::ready(backend.send()))
                        .retry(policy.backon_backoff())
                        .when(policy.backon_when())
                        .adjust(policy.backon_adjust())
                        .await;
                })),
                Path::Workers => {
                    workers
                        .push(supervisor.spawn("fetch", policy, async move |_ctx| backend.send()))
                }
            }
        }
        while tasks.join_next().await.is_some() {}
        for worker in &workers {
            worker
                .wait_for(|status| status.phase == Phase::Stopped)
                .await;
        }
        let gave_up_after = start.elapsed();
        supervisor.shutdown().await;
        gave_up_after
    });
    Outcome {
        per_call: backend.sent.load(Ordering::Relaxed) as f64 / CALLERS as f64,
        gave_up_after,
        wall: wall.elapsed(),
    }
}

/// The breaker's two numbers: the wall time of a call refused while it is
/// open (1,000 concurrent callers, none reaching the backend), and the
/// simulated time from the backend's return to the first call that succeeds
/// (callers every 100 ms; the breaker opens for 5 s, and the backend
/// returns 1 s after it opened).
fn breaker_figures() -> (Duration, u64, Duration, Duration) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let breaker = CircuitBreaker::builder("backend")
            .counts::<Down>()
            .min_calls(10)
            .open_for(Duration::from_secs(5))
            .build()
            .unwrap();
        let policy = Arc::new(
            Policy::new()
                .on::<Down>(Reaction::Retry.max_attempts(ATTEMPTS))
                .backoff(Backoff::new(
                    Duration::from_millis(100),
                    Duration::from_secs(2),
                ))
                .breaker(&breaker),
        );
        let backend = Backend::default();
        while breaker.state() != BreakerState::Open {
            let _ = policy
                .call("fetch")
                .run(|_| std::future::ready(backend.send()))
                .await;
        }
        let opened = Instant::now();
        let before = backend.sent.load(Ordering::Relaxed);
        let wall = std::time::Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..CALLERS {
            let (policy, backend) = (Arc::clone(&policy), backend.clone());
            tasks.spawn(async move {
                let result = policy
                    .call("fetch")
                    .run(move |_| std::future::ready(backend.send()))
                    .await;
                assert!(result.is_err());
            });
        }
        while tasks.join_next().await.is_some() {}
        let fail_fast = wall.elapsed() / CALLERS as u32;
        let sent_while_open = backend.sent.load(Ordering::Relaxed) - before;

        tokio::time::sleep(Duration::from_secs(1)).await;
        let back = Instant::now();
        let healthy = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let recovered = loop {
            let ok = policy
                .call("fetch")
                .run(|_| {
                    let healthy = Arc::clone(&healthy);
                    std::future::ready(if healthy.load(Ordering::Relaxed) {
                        Ok(())
                    } else {
                        Err(BackendError::Down)
                    })
                })
                .await
                .is_ok();
            if ok {
                break back.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        (fail_fast, sent_while_open, recovered, back - opened)
    })
}

fn main() {
    let paths = [
        Path::Call,
        Path::Retry,
        #[cfg(feature = "tower")]
        Path::Tower,
        #[cfg(feature = "backon")]
        Path::Backon,
        Path::Workers,
    ];
    println!(
        "### Reactions across calls: a full outage, {CALLERS} concurrent callers \
         (`cargo bench -p signal-runtime --bench reactions --features tower,backon`)\n"
    );
    println!(
        "Each caller makes one call; the rule retries up to {ATTEMPTS} attempts \
         (backoff 100 ms doubling, jitter on). Budget: 10% of the requests plus \
         1 retry/s, over 10 s, shared by all callers. Goal: ≤ {GOAL} requests per call.\n"
    );
    println!(
        "| path | retry | requests ÷ calls | goal | last caller gave up after (simulated) | wall time |"
    );
    println!("|---|---|---:|---|---:|---:|");
    let mut missed = false;
    for path in paths {
        let plain = outage(path, policy(None));
        let budget = RetryBudget::new("backend", 0.1, 1, Duration::from_secs(10)).unwrap();
        let budgeted = outage(path, policy(Some(&budget)));
        let met = budgeted.per_call <= GOAL;
        missed |= !met;
        for (label, outcome, goal) in [
            ("per call", &plain, "—".to_owned()),
            (
                "shared budget",
                &budgeted,
                if met {
                    format!("≤ {GOAL} met")
                } else {
                    format!("≤ {GOAL} **missed**")
                },
            ),
        ] {
            println!(
                "| {} | {label} | {:.2}× | {goal} | {:?} | {:.1} ms |",
                path.name(),
                outcome.per_call,
                outcome.gave_up_after,
                outcome.wall.as_secs_f64() * 1000.0,
            );
        }
    }
    let (fail_fast, sent_while_open, recovered, returned_after) = breaker_figures();
    println!(
        "\nCircuit breaker (counts `Down`; opens at half of at least 10 outcomes in 10 s, \
         for 5 s, one probe):\n"
    );
    println!("| measure | value |");
    println!("|---|---:|");
    println!(
        "| a call refused while open, {CALLERS} concurrent callers (wall time per call) | {:.2} µs |",
        fail_fast.as_secs_f64() * 1e6
    );
    println!("| requests sent by those {CALLERS} calls | {sent_while_open} |");
    println!(
        "| recovery: backend back {returned_after:?} after the breaker opened, first success after (simulated) | {recovered:?} |"
    );
    if missed {
        std::process::exit(1);
    }
}
