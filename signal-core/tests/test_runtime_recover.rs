//! Recovery on external events: one reset of every retry field, and a
//! retry at once.

#![cfg(feature = "runtime")]

mod test_runtime_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use signal_core::runtime::{
    Backoff, Intensity, Phase, Policy, ReactionName, RetryState, StopReason, Supervisor,
    WorkerHandle,
};
use test_runtime_support::{Events, HOUR_LIMIT, StorageError, WorkerError, within};
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
        } = worker.retry_state();
        assert_eq!(attempt, 3);
        assert_eq!(restarts.len(), 3);
        assert_eq!(backoff_until, Some(Instant::now() + 40 * MINUTE));
        assert_eq!(last_delay, Some(40 * MINUTE));
        assert_eq!(last_reaction, Some(ReactionName::Retry));
        assert_eq!(stopped, None, "not stopped: covered by the next test");

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
