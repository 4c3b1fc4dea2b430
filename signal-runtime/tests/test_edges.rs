//! The runtime at its edges: panics in what it calls on a worker's behalf
//! (rebuilds, Retry-After readers), durations at `Duration::MAX`, updates
//! that overlap, and jitter streams that must not line up.

mod support;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use signal_runtime::{
    Backoff, Intensity, Phase, Policy, Reaction, Resource, State, Supervisor, SupervisorError,
    WorkerHandle,
};
use support::{HOUR_LIMIT, NeedsDbReconnect, Retryable, StorageError, WorkerError, within};
use tokio::time::Instant;

fn busy() -> WorkerError {
    WorkerError::Storage(StorageError::Busy)
}

fn pool_gone() -> WorkerError {
    WorkerError::Storage(StorageError::PoolNeedsConnection)
}

/// Fails its first run with `error()`, then returns the run count.
fn fail_once(
    supervisor: &Supervisor,
    name: &str,
    policy: impl Into<Arc<Policy>>,
    error: fn() -> WorkerError,
) -> WorkerHandle<u32, WorkerError> {
    let runs = Arc::new(AtomicU32::new(0));
    supervisor.spawn(name.to_owned(), policy, move |_ctx| {
        let runs = Arc::clone(&runs);
        async move {
            let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::task::yield_now().await;
            if run == 1 { Err(error()) } else { Ok(run) }
        }
    })
}

/// A rebuild that panics on its first attempt and then succeeds.
fn panicking_pool(panic_in_closure: bool) -> Resource<u32> {
    let attempts = Arc::new(AtomicU32::new(0));
    Resource::builder("db")
        .backoff(Backoff::new(
            Duration::from_millis(50),
            Duration::from_millis(50),
        ))
        .build(0u32, move || {
            let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
            if attempt == 1 && panic_in_closure {
                panic!("the rebuild closure panicked");
            }
            async move {
                tokio::task::yield_now().await;
                if attempt == 1 {
                    panic!("the rebuild future panicked");
                }
                Ok::<_, io::Error>(attempt)
            }
        })
}

async fn rebuild_panic_is_a_failed_rebuild(panic_in_closure: bool) {
    within(HOUR_LIMIT, async {
        let db = panicking_pool(panic_in_closure);
        let policy = Arc::new(
            Policy::new()
                .on::<NeedsDbReconnect>(Reaction::rebuild(&db))
                .backoff(Backoff::new(
                    Duration::from_millis(10),
                    Duration::from_millis(10),
                )),
        );
        let supervisor = Supervisor::new();
        let workers: Vec<_> = (0..3)
            .map(|i| {
                let db = db.clone();
                supervisor.spawn(format!("w{i}"), Arc::clone(&policy), move |ctx| {
                    let db = db.clone();
                    async move {
                        tokio::task::yield_now().await;
                        // Fails while the pool is the first one.
                        match ctx.lease(&db).generation() {
                            0 => Err(pool_gone()),
                            generation => Ok(generation),
                        }
                    }
                })
            })
            .collect();
        let mut saw_the_panic = 0;
        for worker in workers {
            let status = worker.wait_for(|s| s.phase == Phase::Done).await;
            assert!(
                status.error.is_none(),
                "{:?}",
                status.error.map(|e| e.to_string())
            );
            // The failed rebuild is in the status of the workers that asked
            // for it (the others found the pool rebuilt already).
            if let Some(error) = &status.last_rebuild_error {
                let source = std::error::Error::source(error).unwrap().to_string();
                assert!(source.contains("panicked"), "{source}");
                saw_the_panic += 1;
            }
            assert_eq!(worker.join().await.ok(), Some(1));
        }
        assert!(
            saw_the_panic >= 1,
            "no worker's status shows the failed rebuild"
        );
        let stats = db.stats();
        assert_eq!(stats.failures, 1, "the panic is one failed rebuild");
        assert_eq!(stats.rebuilds, 1, "then one rebuild for every worker");
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_a_panic_in_a_rebuild_future_is_a_failed_rebuild_not_a_silent_death() {
    rebuild_panic_is_a_failed_rebuild(false).await;
}

#[tokio::test(start_paused = true)]
async fn test_a_panic_in_a_rebuild_closure_is_a_failed_rebuild_not_a_silent_death() {
    rebuild_panic_is_a_failed_rebuild(true).await;
}

#[tokio::test(start_paused = true)]
async fn test_a_panicking_rebuild_fails_the_request_with_its_message() {
    within(HOUR_LIMIT, async {
        let db = panicking_pool(false);
        let error = db.rebuild_from(0).await.unwrap_err();
        assert!(error.to_string().contains("db"), "{error}");
        let source = std::error::Error::source(&error).unwrap().to_string();
        assert!(source.contains("the rebuild future panicked"), "{source}");
        // The twin: the next attempt succeeds.
        assert_eq!(*db.rebuild_from(0).await.unwrap(), 2);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_a_panicking_retry_after_reader_is_a_panic_of_the_run() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let policy = Policy::new()
            .retry_after_with::<WorkerError>(|_| panic!("the reader panicked"))
            .on_panic(Reaction::Stop);
        let worker = fail_once(&supervisor, "reader", policy, busy);
        let status = worker.wait_for(|s| s.phase == Phase::Stopped).await;
        let failure = status.last_failure.expect("a failure is recorded");
        assert!(
            failure
                .panic_message()
                .unwrap()
                .contains("the reader panicked")
        );
        match worker.join().await {
            Err(SupervisorError::Panicked { message, .. }) => {
                assert!(message.contains("the reader panicked"), "{message}");
            }
            other => panic!(
                "expected Panicked, got {:?}",
                other.map_err(|e| e.to_string())
            ),
        }
        supervisor.shutdown().await;
    })
    .await;
}

/// The twin: a reader that answers is honoured.
#[tokio::test(start_paused = true)]
async fn test_a_retry_after_reader_that_answers_is_honoured() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let policy = Policy::new()
            .retry_after_with::<WorkerError>(|_| Some(Duration::from_secs(7)))
            .backoff(Backoff::new(
                Duration::from_millis(1),
                Duration::from_secs(60),
            ));
        let start = Instant::now();
        let worker = fail_once(&supervisor, "reader", policy, busy);
        assert_eq!(worker.join().await.ok(), Some(2));
        assert!(Instant::now() - start >= Duration::from_secs(7));
        supervisor.shutdown().await;
    })
    .await;
}

/// Finishes its unit of work (one second) once told to stop.
fn graceful(supervisor: &Supervisor) -> WorkerHandle<&'static str, WorkerError> {
    supervisor.spawn("graceful", Policy::new(), async |ctx| {
        ctx.cancelled().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok::<_, WorkerError>("committed")
    })
}

#[tokio::test(start_paused = true)]
async fn test_shutdown_within_duration_max_keeps_its_grace() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let worker = graceful(&supervisor);
        tokio::task::yield_now().await;
        let report = supervisor.shutdown_within(Duration::MAX).await;
        assert_eq!((report.finished, report.aborted), (1, 0));
        assert_eq!(worker.join().await.ok(), Some("committed"));
    })
    .await;
}

/// The twin: no grace cuts the same worker off.
#[tokio::test(start_paused = true)]
async fn test_shutdown_without_grace_aborts_the_same_worker() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let worker = graceful(&supervisor);
        tokio::task::yield_now().await;
        let report = supervisor.shutdown().await;
        assert_eq!((report.finished, report.aborted), (0, 1));
        assert!(worker.join().await.unwrap_err().is_shutdown());
    })
    .await;
}

async fn backs_off_at_the_edge(policy: Policy) {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let worker = fail_once(&supervisor, "edge", policy, busy);
        let status = worker.wait_for(|s| s.phase == Phase::BackingOff).await;
        assert!(status.retry.last_delay.unwrap() >= Duration::from_secs(3600));
        assert!(status.retry.backoff_until.unwrap() > Instant::now());
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(worker.phase(), Phase::BackingOff, "still waiting");
        assert!(worker.recover());
        assert_eq!(worker.join().await.ok(), Some(2));
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_an_uncapped_backoff_saturates_instead_of_panicking() {
    backs_off_at_the_edge(
        Policy::new().backoff(Backoff::new(Duration::MAX, Duration::MAX).with_jitter(0.0)),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_a_huge_retry_after_with_an_uncapped_maximum_saturates() {
    backs_off_at_the_edge(
        Policy::new()
            .backoff(Backoff::new(Duration::from_millis(1), Duration::MAX))
            .retry_after_with::<WorkerError>(|_| Some(Duration::MAX)),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_a_failed_rebuild_with_an_uncapped_backoff_saturates() {
    within(HOUR_LIMIT, async {
        let db = Resource::builder("db")
            .backoff(Backoff::new(Duration::MAX, Duration::MAX).with_jitter(0.0))
            .build(0u32, async || Err::<u32, _>(io::Error::other("down")));
        assert!(db.rebuild_from(0).await.is_err());
        // The next attempt waits (as good as forever) instead of panicking
        // with the rebuild lock held.
        let next = tokio::time::timeout(Duration::from_secs(60), db.rebuild_from(0)).await;
        assert!(next.is_err(), "still backing off");
        assert_eq!(db.stats().attempts, 1);
        assert_eq!(db.get().generation(), 0);
    })
    .await;
}

#[test]
fn test_overlapping_state_updates_lose_nothing() {
    let state = State::new(0u32);
    let inside = Arc::new(Barrier::new(2));
    let other_ran = Arc::new(AtomicBool::new(false));
    let first = {
        let (state, inside, other_ran) =
            (state.clone(), Arc::clone(&inside), Arc::clone(&other_ran));
        std::thread::spawn(move || {
            state.update(|value| {
                inside.wait();
                // Give the other update every chance to run inside this one.
                for _ in 0..200 {
                    if other_ran.load(Ordering::SeqCst) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                *value += 1;
            });
        })
    };
    inside.wait();
    state.update(|value| {
        other_ran.store(true, Ordering::SeqCst);
        *value += 1;
    });
    first.join().unwrap();
    assert_eq!(state.get(), 2, "one of two overlapping updates was lost");
}

#[test]
fn test_a_panicking_update_leaves_the_value_as_it_was() {
    let state = State::new(vec![1]);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        state.update(|value| {
            value.push(2);
            panic!("half done");
        })
    }));
    assert!(caught.is_err());
    assert_eq!(state.get(), [1]);
    state.update(|value| value.push(3));
    assert_eq!(state.get(), [1, 3]);
}

/// A seeded policy with wide jitter: two independent streams differ.
fn jittery() -> Backoff {
    Backoff::new(Duration::from_secs(1000), Duration::from_secs(1000))
        .with_jitter(1.0)
        .with_seed(11)
}

async fn first_delays(policy: Policy, names: &[&str]) -> Vec<Duration> {
    let supervisor = Supervisor::new();
    let policy = Arc::new(policy.intensity(Intensity::new(100, Duration::from_secs(1))));
    let workers: Vec<_> = names
        .iter()
        .map(|name| fail_once(&supervisor, name, Arc::clone(&policy), busy))
        .collect();
    let mut delays = Vec::new();
    for worker in &workers {
        let status = worker.wait_for(|s| s.phase == Phase::BackingOff).await;
        delays.push(status.retry.last_delay.unwrap());
    }
    supervisor.shutdown().await;
    delays
}

#[tokio::test(start_paused = true)]
async fn test_workers_with_the_same_name_draw_their_own_jitter() {
    within(HOUR_LIMIT, async {
        let delays = first_delays(Policy::new().backoff(jittery()), &["sync", "sync"]).await;
        assert_ne!(delays[0], delays[1], "a synchronized retry wave");
        // Reproducible: the same spawns get the same delays.
        let again = first_delays(Policy::new().backoff(jittery()), &["sync", "sync"]).await;
        assert_eq!(delays, again);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_a_rules_own_seed_is_honoured() {
    within(HOUR_LIMIT, async {
        let rule = |seed| {
            Policy::new().on::<Retryable>(Reaction::Retry.backoff(jittery().with_seed(seed)))
        };
        let one = first_delays(rule(1), &["a"]).await;
        assert_eq!(
            one,
            first_delays(rule(1), &["a"]).await,
            "seeded, reproducible"
        );
        assert_ne!(
            one,
            first_delays(rule(2), &["a"]).await,
            "another seed, other delays"
        );
    })
    .await;
}

/// How long the second rebuild of a resource whose rebuilds fail waits.
async fn rebuild_wait(db: &Resource<u32>) -> Duration {
    assert!(db.rebuild_from(0).await.is_err());
    let start = Instant::now();
    assert!(db.rebuild_from(0).await.is_err());
    Instant::now() - start
}

#[tokio::test(start_paused = true)]
async fn test_each_seeded_resource_draws_its_own_jitter() {
    within(HOUR_LIMIT, async {
        let resource = || {
            Resource::builder("db")
                .backoff(jittery())
                .build(0u32, async || Err::<u32, _>(io::Error::other("down")))
        };
        let (a, b) = (resource(), resource());
        let (wait_a, wait_b) = (rebuild_wait(&a).await, rebuild_wait(&b).await);
        assert!(wait_a > Duration::ZERO && wait_b > Duration::ZERO);
        assert_ne!(
            wait_a, wait_b,
            "two resources retry their rebuilds in lockstep"
        );
    })
    .await;
}

/// An error whose hand-written `Signal` impl panics when asked for a kind,
/// or answers.
#[derive(Debug)]
struct Odd {
    panics: bool,
}

impl signal_core::Signal for Odd {
    fn walk(&self, _walker: &mut signal_core::Walker<'_>) -> std::ops::ControlFlow<()> {
        if self.panics {
            panic!("the error's Signal impl panicked");
        }
        std::ops::ControlFlow::Continue(())
    }
}

fn spawn_odd(supervisor: &Supervisor, panics: bool) -> WorkerHandle<u32, Odd> {
    let policy = Policy::new()
        .on::<Retryable>(Reaction::Stop)
        .backoff(Backoff::new(
            Duration::from_millis(10),
            Duration::from_millis(10),
        ));
    let runs = Arc::new(AtomicU32::new(0));
    supervisor.spawn("odd", policy, move |_ctx| {
        let runs = Arc::clone(&runs);
        async move {
            let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::task::yield_now().await;
            if run == 1 {
                Err(Odd { panics })
            } else {
                Ok(run)
            }
        }
    })
}

/// A panic inside the supervisor's reaction (here, in the error's own
/// `Signal` impl, asked which rule it matches) ends the worker with the
/// panic as its reason, in its status and `join`, never as `Shutdown`.
#[tokio::test(start_paused = true)]
async fn test_a_panic_in_the_reaction_ends_the_worker_with_its_reason() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let worker = spawn_odd(&supervisor, true);
        let status = worker.wait_for(|s| s.phase == Phase::Done).await;
        assert!(matches!(
            status.error,
            Some(SupervisorError::Panicked { .. })
        ));
        match worker.join().await {
            Err(SupervisorError::Panicked { message, .. }) => {
                assert!(message.contains("Signal impl panicked"), "{message}");
            }
            other => panic!(
                "expected Panicked, got {:?}",
                other.map_err(|e| e.to_string())
            ),
        }
        assert!(!supervisor.is_shut_down());
        supervisor.shutdown().await;
    })
    .await;
}

/// The twin: the same error, answering, is retried.
#[tokio::test(start_paused = true)]
async fn test_an_error_that_answers_is_retried() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let worker = spawn_odd(&supervisor, false);
        assert_eq!(worker.join().await.ok(), Some(2));
        supervisor.shutdown().await;
    })
    .await;
}
