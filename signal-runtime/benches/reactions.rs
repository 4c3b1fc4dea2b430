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
use signal_runtime::{Backoff, Intensity, Phase, Policy, Reaction, RetryBudget, Supervisor};
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
    if missed {
        std::process::exit(1);
    }
}
