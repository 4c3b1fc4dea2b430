//! Recovery on external events: one reset of every retry field, and a
//! retry at once.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use signal_core::Kind;
use signal_runtime::{
    Backoff, Intensity, Phase, Policy, ReactionName, RetryState, RuleKey, StopReason, Supervisor,
    WorkerHandle,
};
use support::{Events, HOUR_LIMIT, Retryable, StorageError, WorkerError, within};
use tokio::time::Instant;

const MINUTE: Duration = Duration::from_secs(60);

/// Fails with `Busy` while the peers are down; once they are up, serves
/// until nudged, and then fails if they went down meanwhile.
fn spawn_sync(
    supervisor: &Supervisor,
    peers_up: &Arc<AtomicBool>,
    intensity: Intensity,
) -> WorkerHandle<(), WorkerError> {
    let policy = Policy::new()
        .backoff(Backoff::new(10 * MINUTE, 60 * MINUTE).with_jitter(0.0))
        .intensity(intensity);
    let peers_up = Arc::clone(peers_up);
    supervisor.spawn("masternode-sync", policy, move |ctx| {
        let peers_up = Arc::clone(&peers_up);
        let busy = || Err(WorkerError::Storage(StorageError::Busy));
        async move {
            if !peers_up.load(Ordering::SeqCst) {
                return busy();
            }
            ctx.nudged().await;
            if peers_up.load(Ordering::SeqCst) {
                Ok(())
            } else {
                busy()
            }
        }
    })
}

fn roomy() -> Intensity {
    Intensity::new(10, 24 * 60 * MINUTE)
}

#[tokio::test(start_paused = true)]
async fn test_recover_from_backoff_resets_every_retry_field_and_retries_at_once() {
    within(48 * HOUR_LIMIT, async {
        let (events, _guard) = Events::capture();
        let supervisor = Supervisor::new();
        let peers_up = Arc::new(AtomicBool::new(false));
        let worker = spawn_sync(&supervisor, &peers_up, roomy());
        worker
            .wait_for(|s| s.failures == 3 && s.phase == Phase::BackingOff)
            .await;

        // Every field is destructured (no `..`): a new field fails to compile
        // here until this test says what it holds.
        let RetryState {
            attempt,
            restarts,
            backoff_until,
            last_delay,
            last_reaction,
            stopped,
            by_rule,
        } = worker.retry_state();
        assert_eq!(attempt, 3);
        assert_eq!(restarts.len(), 3);
        assert_eq!(backoff_until, Some(Instant::now() + 40 * MINUTE));
        assert_eq!(last_delay, Some(40 * MINUTE));
        assert_eq!(last_reaction, Some(ReactionName::Retry));
        assert_eq!(stopped, None, "not stopped: covered by the next test");
        assert_eq!(
            by_rule,
            [(RuleKey::Otherwise, 3)],
            "three failures of no kind"
        );

        peers_up.store(true, Ordering::SeqCst); // peers reconnected
        let recovered_at = Instant::now();
        worker.recover();
        let status = worker.wait_for(|s| s.runs == 4).await;

        assert_eq!(Instant::now(), recovered_at, "retried at once");
        assert_eq!(status.retry, RetryState::default());
        assert!(status.retry.is_initial());
        assert_eq!(status.phase, Phase::Running);
        assert_eq!(status.failures, 3, "statistics are not retry state");
        assert!(status.last_failure.is_some(), "the last error is kept");
        assert!(
            events
                .all()
                .iter()
                .any(|e| e.message.contains("worker recovered"))
        );
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_recover_from_stopped_resets_every_retry_field_and_retries_at_once() {
    within(48 * HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let peers_up = Arc::new(AtomicBool::new(false));
        let worker = spawn_sync(&supervisor, &peers_up, Intensity::new(2, 24 * 60 * MINUTE));
        let status = worker.wait_for(|s| s.phase == Phase::Stopped).await;

        let RetryState {
            attempt,
            restarts,
            backoff_until,
            last_delay,
            last_reaction,
            stopped,
            by_rule,
        } = status.retry;
        assert_eq!(attempt, 3);
        assert_eq!(restarts.len(), 3);
        assert_eq!(
            backoff_until, None,
            "not backing off: covered by the test above"
        );
        assert_eq!(last_delay, Some(20 * MINUTE));
        assert_eq!(last_reaction, Some(ReactionName::Retry));
        assert_eq!(stopped, Some(StopReason::IntensityExceeded));
        assert_eq!(by_rule, [(RuleKey::Otherwise, 3)]);
        assert!(status.error.is_some());

        peers_up.store(true, Ordering::SeqCst);
        let recovered_at = Instant::now();
        worker.recover();
        let status = worker.wait_for(|s| s.runs == 4).await;

        assert_eq!(Instant::now(), recovered_at);
        assert_eq!(status.retry, RetryState::default());
        assert!(status.error.is_none());
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_without_recover_the_worker_waits_out_its_backoff() {
    within(48 * HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let peers_up = Arc::new(AtomicBool::new(false));
        let worker = spawn_sync(&supervisor, &peers_up, roomy());
        worker
            .wait_for(|s| s.failures == 3 && s.phase == Phase::BackingOff)
            .await;
        let backing_off = worker.retry_state();
        peers_up.store(true, Ordering::SeqCst);

        tokio::time::sleep(39 * MINUTE).await;
        assert_eq!(worker.status().runs, 3);
        assert_eq!(worker.retry_state(), backing_off);

        let status = worker.wait_for(|s| s.runs == 4).await;
        assert_eq!(
            status.retry.attempt, 3,
            "a successful run does not reset it"
        );
        assert!(!status.retry.is_initial());
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_without_recover_a_stopped_worker_stays_stopped() {
    within(48 * HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let peers_up = Arc::new(AtomicBool::new(false));
        let worker = spawn_sync(&supervisor, &peers_up, Intensity::new(2, 24 * 60 * MINUTE));
        worker.wait_for(|s| s.phase == Phase::Stopped).await;
        peers_up.store(true, Ordering::SeqCst);

        tokio::time::sleep(24 * 60 * MINUTE).await;
        let status = worker.status();
        assert_eq!((status.phase, status.runs), (Phase::Stopped, 3));
        assert_eq!(status.retry.stopped, Some(StopReason::IntensityExceeded));
        supervisor.shutdown().await;
    })
    .await;
}

/// A request sent to a running, healthy worker is refused and not kept: the
/// failure that comes later backs off as if it had never been sent.
#[tokio::test(start_paused = true)]
async fn test_recover_while_running_is_refused_and_does_not_linger() {
    within(48 * HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let peers_up = Arc::new(AtomicBool::new(true));
        let worker = spawn_sync(&supervisor, &peers_up, roomy());
        worker.wait_for(|s| s.runs == 1).await;

        assert!(!worker.recover(), "nothing to recover from");
        assert!(!worker.nudger().recover());
        peers_up.store(false, Ordering::SeqCst);
        let failed_at = Instant::now();
        worker.nudge();

        let status = worker
            .wait_for(|s| s.runs == 2 && s.phase == Phase::BackingOff)
            .await;
        assert_eq!(
            Instant::now(),
            failed_at + 10 * MINUTE,
            "the backoff was kept"
        );
        assert_eq!(status.retry.attempt, 2);
        assert_eq!(status.retry.backoff_until, Some(failed_at + 30 * MINUTE));
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_without_recover_a_failing_run_backs_off() {
    within(48 * HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let peers_up = Arc::new(AtomicBool::new(true));
        let worker = spawn_sync(&supervisor, &peers_up, roomy());
        worker.wait_for(|s| s.runs == 1).await;

        peers_up.store(false, Ordering::SeqCst);
        let failed_at = Instant::now();
        worker.nudge();

        let status = worker
            .wait_for(|s| s.runs == 2 && s.phase == Phase::BackingOff)
            .await;
        assert_eq!(Instant::now(), failed_at + 10 * MINUTE);
        assert_eq!(status.retry.attempt, 2);
        assert_eq!(status.retry.backoff_until, Some(failed_at + 30 * MINUTE));
        supervisor.shutdown().await;
    })
    .await;
}

/// Fails with `error()` on every run until `healed`, then finishes.
fn spawn_failing(
    supervisor: &Supervisor,
    policy: Policy,
    error: fn() -> WorkerError,
    healed: &Arc<AtomicBool>,
) -> WorkerHandle<(), WorkerError> {
    let healed = Arc::clone(healed);
    supervisor.spawn("failing", policy, move |_ctx| {
        let healed = Arc::clone(&healed);
        async move {
            tokio::task::yield_now().await;
            if healed.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err(error())
            }
        }
    })
}

fn corrupt() -> WorkerError {
    WorkerError::Corrupt("record 7".into())
}

fn busy() -> WorkerError {
    WorkerError::Storage(StorageError::Busy)
}

fn stopping() -> Policy {
    Policy::new().otherwise(signal_runtime::Reaction::Stop)
}

#[tokio::test(start_paused = true)]
async fn test_recover_on_revives_a_worker_stopped_on_one_of_the_kinds() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let healed = Arc::new(AtomicBool::new(false));
        let worker = spawn_failing(&supervisor, stopping(), busy, &healed);
        worker.wait_for(|s| s.phase == Phase::Stopped).await;
        healed.store(true, Ordering::SeqCst);
        assert!(worker.recover_on(&[Retryable::ID]));
        assert_eq!(worker.join().await.ok(), Some(()));
        supervisor.shutdown().await;
    })
    .await;
}

/// The twin: a worker stopped on corrupt storage is not revived by "the
/// network is back".
#[tokio::test(start_paused = true)]
async fn test_recover_on_leaves_a_worker_stopped_for_another_reason() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let healed = Arc::new(AtomicBool::new(false));
        let worker = spawn_failing(&supervisor, stopping(), corrupt, &healed);
        worker.wait_for(|s| s.phase == Phase::Stopped).await;
        healed.store(true, Ordering::SeqCst);
        assert!(!worker.recover_on(&[Retryable::ID]));
        assert!(!worker.nudger().recover_on(&[Retryable::ID]));
        assert!(!worker.recover_if(|status| status.failures > 5));
        tokio::time::sleep(HOUR_LIMIT / 2).await;
        assert_eq!(worker.phase(), Phase::Stopped);
        assert_eq!(worker.status().runs, 1);
        // An unconditional recover does revive it.
        assert!(worker.recover_if(|status| status.failures == 1));
        assert_eq!(worker.join().await.ok(), Some(()));
        supervisor.shutdown().await;
    })
    .await;
}

/// A recover sent while the worker rebuilds is refused and not kept: when
/// the worker later fails with a `Stop`, it stays stopped.
#[tokio::test(start_paused = true)]
async fn test_recover_during_a_rebuild_is_refused_and_does_not_linger() {
    within(HOUR_LIMIT, async {
        let db = signal_runtime::Resource::new("db", 0u32, async || {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok::<_, std::io::Error>(1)
        });
        let policy = Policy::new()
            .on::<support::NeedsDbReconnect>(signal_runtime::Reaction::rebuild(&db))
            .otherwise(signal_runtime::Reaction::Stop);
        let supervisor = Supervisor::new();
        let pool = db.clone();
        let worker = supervisor.spawn("rebuilding", policy, move |ctx| {
            let pool = pool.clone();
            async move {
                tokio::task::yield_now().await;
                match ctx.lease(&pool).generation() {
                    0 => Err::<(), _>(WorkerError::Storage(StorageError::PoolNeedsConnection)),
                    _ => Err(corrupt()),
                }
            }
        });
        worker.wait_for(|s| s.phase == Phase::Rebuilding).await;
        assert!(!worker.recover());
        let status = worker.wait_for(|s| s.phase == Phase::Stopped).await;
        assert_eq!(status.runs, 2);
        tokio::time::sleep(HOUR_LIMIT / 2).await;
        let status = worker.status();
        assert_eq!(
            (status.phase, status.runs),
            (Phase::Stopped, 2),
            "still stopped"
        );
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_a_watcher_is_cloned_reads_status_and_recovers() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let healed = Arc::new(AtomicBool::new(false));
        let worker = spawn_failing(&supervisor, stopping(), busy, &healed);
        let watcher = worker.watcher();
        worker.wait_for(|s| s.phase == Phase::Stopped).await;
        healed.store(true, Ordering::SeqCst);
        let elsewhere = watcher.clone();
        let recovered = tokio::spawn(async move {
            let status = elsewhere.wait_for(|s| s.phase == Phase::Stopped).await;
            assert_eq!(status.failures, 1);
            elsewhere.recover()
        });
        assert!(recovered.await.unwrap());
        assert_eq!(worker.join().await.ok(), Some(()));
        assert_eq!(watcher.phase(), Phase::Done);
        assert!(!watcher.recover(), "nothing to recover once done");
        supervisor.shutdown().await;
    })
    .await;
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Sync {
    cursor: u32,
    retry_after: Option<u32>,
}

fn spawn_with_sync_state(
    supervisor: &Supervisor,
    state: &signal_runtime::State<Sync>,
) -> WorkerHandle<(), WorkerError> {
    supervisor.spawn_with_state("sync", stopping(), state.clone(), async |_ctx, state| {
        tokio::task::yield_now().await;
        let retry_after = state.update(|sync| {
            sync.cursor += 1;
            *sync.retry_after.get_or_insert(30)
        });
        if state.get().cursor >= 2 {
            return Ok(());
        }
        let _ = retry_after;
        Err(busy())
    })
}

#[tokio::test(start_paused = true)]
async fn test_recovery_resets_the_state_with_its_reset_and_keeps_the_rest() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let state = signal_runtime::State::with_reset(Sync::default(), |sync| {
            sync.retry_after = None;
        });
        let worker = spawn_with_sync_state(&supervisor, &state);
        worker.wait_for(|s| s.phase == Phase::Stopped).await;
        assert_eq!(state.get().retry_after, Some(30));
        assert!(worker.recover());
        let sync = state.wait_for(|sync| sync.cursor == 2).await;
        assert_eq!(sync.cursor, 2, "the progress is kept");
        assert_eq!(worker.join().await.ok(), Some(()));
        // Set again by the second run, after the reset cleared it.
        assert_eq!(state.get().retry_after, Some(30));
        supervisor.shutdown().await;
    })
    .await;
}

/// The twin: a state without a reset keeps its retry part through recovery.
#[tokio::test(start_paused = true)]
async fn test_a_state_without_a_reset_is_untouched_by_recovery() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let state = signal_runtime::State::new(Sync {
            cursor: 0,
            retry_after: Some(5),
        });
        let worker = spawn_with_sync_state(&supervisor, &state);
        worker.wait_for(|s| s.phase == Phase::Stopped).await;
        assert!(worker.recover());
        assert_eq!(worker.join().await.ok(), Some(()));
        assert_eq!(
            state.get(),
            Sync {
                cursor: 2,
                retry_after: Some(5)
            }
        );
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_state_can_be_awaited() {
    within(HOUR_LIMIT, async {
        let state = signal_runtime::State::new(0u32);
        let waiting = tokio::spawn({
            let state = state.clone();
            async move { state.wait_for(|n| *n >= 3).await }
        });
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            state.update(|n| *n += 1);
        }
        assert_eq!(waiting.await.unwrap(), 3);
        // The twin: a value that never gets there is still awaited.
        let never = tokio::time::timeout(Duration::from_secs(60), state.wait_for(|n| *n > 3)).await;
        assert!(never.is_err());
    })
    .await;
}

/// Once shutdown has begun, a stopped worker never runs again: `recover`
/// refuses (it said yes before, for a run that would never come), and the
/// worker ends as the shutdown ends it. The twin: before shutdown, the same
/// worker takes the request.
#[tokio::test(start_paused = true)]
async fn test_recover_is_refused_once_shutdown_has_begun() {
    within(48 * HOUR_LIMIT, async {
        for shut_down in [true, false] {
            let supervisor = Supervisor::new();
            let peers_up = Arc::new(AtomicBool::new(false));
            let worker = spawn_sync(&supervisor, &peers_up, Intensity::new(0, MINUTE));
            worker.wait_for(|s| s.phase == Phase::Stopped).await;
            let shutdown = supervisor.shutdown_within(MINUTE);
            tokio::pin!(shutdown);
            if shut_down {
                // One poll: shutdown has begun, the worker has not ended yet.
                let _ = tokio::time::timeout(Duration::ZERO, &mut shutdown).await;
                assert!(supervisor.is_shut_down());
                assert_eq!(worker.phase(), Phase::Stopped);
            }
            assert_eq!(worker.recover(), !shut_down, "shut down: {shut_down}");
            shutdown.await;
            assert_eq!(worker.phase(), Phase::Done);
        }
    })
    .await;
}

/// A `recover_if` condition is the caller's code: it may read the worker
/// through a watcher (it ran under the worker's lock and deadlocked). The
/// twin: a condition that says no leaves the worker stopped.
#[tokio::test(start_paused = true)]
async fn test_a_recover_if_condition_may_read_the_worker() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let healed = Arc::new(AtomicBool::new(false));
        let worker = spawn_failing(&supervisor, stopping(), busy, &healed);
        worker.wait_for(|s| s.phase == Phase::Stopped).await;
        healed.store(true, Ordering::SeqCst);
        let watcher = worker.watcher();
        assert!(!worker.recover_if(|_| watcher.status().failures > 1));
        assert_eq!(worker.phase(), Phase::Stopped);
        assert!(worker.recover_if(|status| {
            watcher.status().failures == status.failures && watcher.phase() == Phase::Stopped
        }));
        assert_eq!(worker.join().await.ok(), Some(()));
        supervisor.shutdown().await;
    })
    .await;
}
