//! `Policy::call`: a retried call with a deadline, the time left handed to
//! each attempt, and a typed error that says why it gave up.

mod support;

use std::sync::Mutex;
use std::time::Duration;

use signal_core::vocab::TimedOut;
use signal_core::{Signal, kind};
use signal_runtime::{Backoff, Intensity, Policy, Reaction, RetryError, StopReason};
use support::{Events, HOUR_LIMIT, within};
use tokio::time::Instant;

kind! {
    /// A network blip.
    pub Blip;
}

#[derive(Debug, thiserror::Error, Signal)]
enum CallError {
    #[error("blip")]
    #[signal(leaf = "Blip")]
    Blip,
    #[error("bad request")]
    BadRequest,
}

const MS: Duration = Duration::from_millis(1);

/// Retries blips after exactly 100, 200, 400, 800 ... ms, up to `max`
/// attempts; stops on anything else.
fn policy(max: u32) -> Policy {
    Policy::new()
        .on::<Blip>(Reaction::Retry.max_attempts(max))
        .otherwise(Reaction::Stop)
        .backoff(Backoff::new(100 * MS, Duration::from_secs(3600)).with_jitter(0.0))
        .intensity(Intensity::new(u32::MAX, Duration::from_secs(1)))
}

/// Runs a call that always fails with a blip, recording what each attempt
/// was told: its number and the time left.
async fn always_blip(
    policy: &Policy,
    deadline: Option<Duration>,
) -> (
    RetryError<CallError>,
    Vec<(u32, Option<Duration>)>,
    Duration,
) {
    let seen = Mutex::new(Vec::new());
    let start = Instant::now();
    let mut call = policy.call("fetch");
    if let Some(deadline) = deadline {
        call = call.deadline(deadline);
    }
    let error = call
        .run(async |attempt| {
            seen.lock()
                .unwrap()
                .push((attempt.number(), attempt.remaining()));
            Err::<(), _>(CallError::Blip)
        })
        .await
        .unwrap_err();
    (error, seen.into_inner().unwrap(), start.elapsed())
}

#[tokio::test(start_paused = true)]
async fn test_deadline_stops_when_the_next_wait_would_overrun_it() {
    within(HOUR_LIMIT, async {
        let (error, seen, took) = always_blip(&policy(100), Some(1000 * MS)).await;
        // Failures at 0, 100, 300, 700 ms; the wait after the fourth (800 ms)
        // is longer than the 300 ms left: no sleep past the deadline.
        assert!(
            matches!(error, RetryError::DeadlineExceeded { .. }),
            "{error:?}"
        );
        assert_eq!(error.reason(), StopReason::DeadlineExceeded);
        assert_eq!(error.attempts(), 4);
        assert_eq!(took, 700 * MS);
        let remaining: Vec<_> = seen.iter().map(|&(_, left)| left).collect();
        assert_eq!(
            remaining,
            [
                Some(1000 * MS),
                Some(900 * MS),
                Some(700 * MS),
                Some(300 * MS)
            ]
        );
        assert_eq!(
            seen.iter().map(|&(n, _)| n).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_without_a_deadline_the_call_runs_to_its_rules_maximum() {
    within(HOUR_LIMIT, async {
        let (error, seen, took) = always_blip(&policy(6), None).await;
        assert!(matches!(error, RetryError::Failed { .. }), "{error:?}");
        assert_eq!(error.reason(), StopReason::Exhausted);
        assert_eq!(error.attempts(), 6);
        // 100 + 200 + 400 + 800 + 1600: past any one-second deadline.
        assert_eq!(took, 3100 * MS);
        assert!(seen.iter().all(|&(_, left)| left.is_none()));
    })
    .await;
}

/// A wait equal to the time left stops; one millisecond more to spare
/// retries.
#[tokio::test(start_paused = true)]
async fn test_a_wait_equal_to_the_time_left_stops() {
    within(HOUR_LIMIT, async {
        // Failures at 0 (300 left, waits 100) and 100 (200 left, wait 200).
        let (error, _, took) = always_blip(&policy(100), Some(300 * MS)).await;
        assert_eq!(error.reason(), StopReason::DeadlineExceeded);
        assert_eq!((error.attempts(), took), (2, 100 * MS));

        let (error, seen, took) = always_blip(&policy(100), Some(301 * MS)).await;
        assert_eq!(error.reason(), StopReason::DeadlineExceeded);
        assert_eq!((error.attempts(), took), (3, 300 * MS));
        assert_eq!(seen[2].1, Some(MS));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_deadline_exceeded_raises_timed_out_and_forwards_the_last_error() {
    within(HOUR_LIMIT, async {
        let (error, _, _) = always_blip(&policy(100), Some(150 * MS)).await;
        assert!(error.has::<TimedOut>());
        assert!(error.has::<Blip>(), "the last error's kinds are forwarded");
        assert!(matches!(error.last(), CallError::Blip));
        assert_eq!(
            error.to_string(),
            "call `fetch` failed after 2 attempts: its deadline of 150ms would pass before the next attempt"
        );
        let source = std::error::Error::source(&error).unwrap();
        assert_eq!(source.to_string(), "blip");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_giving_up_otherwise_does_not_raise_timed_out() {
    within(HOUR_LIMIT, async {
        let (error, _, _) = always_blip(&policy(2), Some(Duration::from_secs(60))).await;
        assert_eq!(error.reason(), StopReason::Exhausted);
        assert!(!error.has::<TimedOut>());
        assert!(error.has::<Blip>());

        let stopped = policy(5)
            .call("fetch")
            .deadline(Duration::from_secs(60))
            .run(async |_| Err::<(), _>(CallError::BadRequest))
            .await
            .unwrap_err();
        assert_eq!(stopped.reason(), StopReason::Reaction);
        assert_eq!(stopped.attempts(), 1);
        assert!(!stopped.has::<TimedOut>() && !stopped.has::<Blip>());
        assert_eq!(
            stopped.to_string(),
            "call `fetch` failed after 1 attempt: its error's reaction is `stop`"
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_a_call_that_succeeds_within_its_deadline_returns_its_value() {
    within(HOUR_LIMIT, async {
        let policy = policy(100);
        let value = policy
            .call("fetch")
            .deadline(Duration::from_secs(1))
            .run(async |attempt| match attempt.number() {
                1 | 2 => Err(CallError::Blip),
                n => Ok(n),
            })
            .await
            .unwrap();
        assert_eq!(value, 3);
    })
    .await;
}

/// `Duration::MAX` is no deadline: nothing overflows, nothing panics, and
/// the call runs to its rule's maximum, even with a backoff of
/// `Duration::MAX`.
#[tokio::test(start_paused = true)]
async fn test_duration_max_deadline_is_no_deadline() {
    within(HOUR_LIMIT, async {
        let (error, seen, _) = always_blip(&policy(5), Some(Duration::MAX)).await;
        assert_eq!(error.reason(), StopReason::Exhausted);
        assert_eq!(error.attempts(), 5);
        assert!(seen.iter().all(|&(_, left)| left.is_none()));

        // A backoff of `Duration::MAX` as well: the first wait is one, and
        // the `within` limit would catch a sleep that long; the rule allows
        // a single attempt, so none is made.
        let huge = Policy::new()
            .on::<Blip>(Reaction::Retry.max_attempts(1))
            .backoff(Backoff::new(Duration::MAX, Duration::MAX));
        let error = huge
            .call("fetch")
            .deadline(Duration::MAX)
            .run(async |_| Err::<(), _>(CallError::Blip))
            .await
            .unwrap_err();
        assert_eq!(error.reason(), StopReason::Exhausted);
    })
    .await;
}

/// A far but representable deadline with a `Duration::MAX` backoff: the
/// wait is longer than the time left, so the call stops at once instead of
/// sleeping for ever.
#[tokio::test(start_paused = true)]
async fn test_a_huge_backoff_under_a_deadline_stops_instead_of_sleeping() {
    within(HOUR_LIMIT, async {
        let huge = Policy::new()
            .on::<Blip>(Reaction::Retry)
            .backoff(Backoff::new(Duration::MAX, Duration::MAX));
        let start = Instant::now();
        let error = huge
            .call("fetch")
            .deadline(Duration::from_secs(365 * 24 * 3600))
            .run(async |_| Err::<(), _>(CallError::Blip))
            .await
            .unwrap_err();
        assert_eq!(error.reason(), StopReason::DeadlineExceeded);
        assert_eq!((error.attempts(), start.elapsed()), (1, Duration::ZERO));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_a_zero_deadline_makes_one_attempt() {
    within(HOUR_LIMIT, async {
        let (error, seen, took) = always_blip(&policy(100), Some(Duration::ZERO)).await;
        assert_eq!(error.reason(), StopReason::DeadlineExceeded);
        assert_eq!(seen, [(1, Some(Duration::ZERO))]);
        assert_eq!(took, Duration::ZERO);
    })
    .await;
}

/// A panic in the attempt unwinds through the caller, as without retries;
/// the policy stays usable.
#[tokio::test(start_paused = true)]
async fn test_a_panicking_attempt_unwinds_and_the_policy_stays_usable() {
    let policy = std::sync::Arc::new(policy(3));
    let panicking = std::sync::Arc::clone(&policy);
    let joined = tokio::spawn(async move {
        panicking
            .call("fetch")
            .deadline(Duration::from_secs(1))
            .run(async |attempt| -> Result<(), CallError> {
                if attempt.number() == 2 {
                    panic!("attempt two panics");
                }
                Err(CallError::Blip)
            })
            .await
    })
    .await;
    assert!(joined.unwrap_err().is_panic());

    let fine = policy
        .call("fetch")
        .deadline(Duration::from_secs(1))
        .run(async |attempt| Ok::<_, CallError>(attempt.number()))
        .await;
    assert_eq!(fine.unwrap(), 1);
}

#[tokio::test(start_paused = true)]
async fn test_the_deadline_stop_is_one_event_naming_it() {
    within(HOUR_LIMIT, async {
        let (events, _guard) = Events::capture();
        let _ = always_blip(&policy(100), Some(150 * MS)).await;
        let stops = events.reactions("stop");
        assert_eq!(stops.len(), 1);
        assert!(
            stops[0].message.contains("deadline"),
            "{:?}",
            stops[0].message
        );
        assert_eq!(events.reactions("retry").len(), 1);
    })
    .await;
}
