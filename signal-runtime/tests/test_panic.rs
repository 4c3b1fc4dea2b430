//! Panics in a worker are caught and handled as failures.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use signal_runtime::{Backoff, Phase, Policy, Reaction, Supervisor, SupervisorError};
use support::{Events, HOUR_LIMIT, StorageError, WorkerError, within};
use tracing::Level;

fn policy() -> Policy {
    Policy::new().backoff(Backoff::new(
        Duration::from_millis(10),
        Duration::from_secs(1),
    ))
}

/// Fails its first run the way `fail` says, then returns the run count.
fn spawn_failing_once(
    supervisor: &Supervisor,
    policy: Policy,
    fail: fn() -> Result<u32, WorkerError>,
) -> signal_runtime::WorkerHandle<u32, WorkerError> {
    let runs = Arc::new(AtomicU32::new(0));
    supervisor.spawn("panicky", policy, move |_ctx| {
        let runs = Arc::clone(&runs);
        async move {
            let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::task::yield_now().await;
            if run == 1 { fail() } else { Ok(run) }
        }
    })
}

fn panics() -> Result<u32, WorkerError> {
    panic!("index out of bounds in run 1")
}

fn errs() -> Result<u32, WorkerError> {
    Err(WorkerError::Storage(StorageError::Busy))
}

#[tokio::test(start_paused = true)]
async fn test_panic_is_caught_and_retried() {
    within(2 * HOUR_LIMIT, async {
        let (events, _guard) = Events::capture();
        let supervisor = Supervisor::new();
        let bystander = supervisor.spawn("bystander", policy(), |ctx| async move {
            ctx.nudged().await;
            Ok::<_, WorkerError>("still here")
        });
        let worker = spawn_failing_once(&supervisor, policy(), panics);

        let status = worker.wait_for(|s| s.phase == Phase::Done).await;
        let last = status.last_failure.expect("the panic is kept");
        assert!(last.is_panic());
        assert_eq!(last.panic_message(), Some("index out of bounds in run 1"));
        assert_eq!(worker.join().await.ok(), Some(2));

        let retries = events.reactions("retry");
        assert_eq!(retries.len(), 1);
        assert_eq!(retries[0].level, Level::ERROR);
        assert_eq!(retries[0].field("error_type"), Some("panic"));
        assert!(
            events
                .all()
                .iter()
                .all(|e| !e.text().contains("out of bounds")),
            "panic messages are not logged"
        );

        bystander.nudge();
        assert_eq!(bystander.join().await.ok(), Some("still here"));
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_error_is_not_reported_as_a_panic() {
    within(2 * HOUR_LIMIT, async {
        let (events, _guard) = Events::capture();
        let supervisor = Supervisor::new();
        let worker = spawn_failing_once(&supervisor, policy(), errs);

        let status = worker.wait_for(|s| s.phase == Phase::Done).await;
        let last = status.last_failure.unwrap();
        assert!(!last.is_panic());
        assert!(last.error().is_some());
        assert_eq!(worker.join().await.ok(), Some(2));
        let retries = events.reactions("retry");
        assert_eq!(retries.len(), 1);
        assert_ne!(retries[0].field("error_type"), Some("panic"));
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_panic_with_stop_reaction_surfaces_panicked() {
    within(2 * HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let worker = spawn_failing_once(&supervisor, policy().on_panic(Reaction::Stop), panics);

        let status = worker.wait_for(|s| s.phase == Phase::Stopped).await;
        assert_eq!(status.runs, 1);
        supervisor.shutdown().await;
        match worker.join().await {
            Err(SupervisorError::Panicked {
                worker, message, ..
            }) => {
                assert_eq!(&*worker, "panicky");
                assert_eq!(&*message, "index out of bounds in run 1");
            }
            other => panic!("expected Panicked, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_error_with_panic_stop_reaction_is_still_retried() {
    within(2 * HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let worker = spawn_failing_once(&supervisor, policy().on_panic(Reaction::Stop), errs);
        assert_eq!(worker.join().await.ok(), Some(2));
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_panic_in_the_factory_itself_is_caught() {
    within(2 * HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let counter = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let worker = supervisor.spawn("factory", policy(), move |_ctx| {
            let calls = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            assert!(calls > 1, "cannot build the first run");
            async move { Ok::<_, WorkerError>(calls) }
        });
        assert_eq!(worker.join().await.ok(), Some(2));
        supervisor.shutdown().await;
    })
    .await;
}

/// Captured by a factory: its clone number `panic_at` panics.
struct CloneBomb {
    clones: Arc<AtomicU32>,
    panic_at: u32,
}

impl CloneBomb {
    fn clones(&self) -> u32 {
        self.clones.load(Ordering::SeqCst)
    }
}

impl Clone for CloneBomb {
    fn clone(&self) -> Self {
        let n = self.clones.fetch_add(1, Ordering::SeqCst) + 1;
        assert!(n != self.panic_at, "the factory's clone {n} panicked");
        CloneBomb {
            clones: Arc::clone(&self.clones),
            panic_at: self.panic_at,
        }
    }
}

fn spawn_with_bomb(
    supervisor: &Supervisor,
    panic_at: u32,
) -> signal_runtime::WorkerHandle<u32, WorkerError> {
    let bomb = CloneBomb {
        clones: Arc::new(AtomicU32::new(0)),
        panic_at,
    };
    supervisor.spawn("bomb", policy(), move |_ctx| {
        let clones = bomb.clones();
        async move {
            if clones == 1 {
                Err(WorkerError::Storage(StorageError::Busy))
            } else {
                Ok(clones)
            }
        }
    })
}

/// The factory's `Clone` (user code the supervisor calls to start each run)
/// panics when the second run starts: the worker ends with the panic as its
/// error, not as a Shutdown while the supervisor is running. The twin: the
/// same factory whose clones do not panic is retried and succeeds.
#[tokio::test(start_paused = true)]
async fn test_a_panic_in_the_factorys_clone_ends_the_worker_as_panicked() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let worker = spawn_with_bomb(&supervisor, 2);
        let status = worker.wait_for(|s| s.phase == Phase::Done).await;
        assert!(!supervisor.is_shut_down());
        assert!(
            matches!(&status.error, Some(SupervisorError::Panicked { .. })),
            "{:?}",
            status.error
        );
        assert!(matches!(
            worker.join().await,
            Err(SupervisorError::Panicked { .. })
        ));

        let worker = spawn_with_bomb(&supervisor, 0);
        assert_eq!(worker.join().await.ok(), Some(2));
        supervisor.shutdown().await;
    })
    .await;
}
