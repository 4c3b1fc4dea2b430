//! `Policy::call`: a retried call with a deadline, the time left handed to
//! each attempt, and a typed error that says why it gave up.

mod support;

use std::sync::Mutex;
use std::time::Duration;

use signal_core::vocab::TimedOut;
use signal_core::{Kind, Signal, kind};
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
        assert!(matches!(error.last(), Some(CallError::Blip)));
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

#[derive(Debug, thiserror::Error, Signal)]
enum Layered {
    #[error("upstream timed out for {secret}")]
    #[signal(leaf = "Blip")]
    Upstream {
        secret: String,
        #[signal(forward)]
        cause: std::io::Error,
    },
}

fn timed_out(secret: &str) -> Layered {
    Layered::Upstream {
        secret: secret.to_owned(),
        cause: std::io::Error::from(std::io::ErrorKind::TimedOut),
    }
}

/// Each attempt's kinds (the rules' and the vocabulary's), trace and the
/// wait chosen after it; names only, never the error's values.
#[tokio::test(start_paused = true)]
async fn test_the_log_keeps_each_attempts_kinds_trace_and_delay() {
    within(HOUR_LIMIT, async {
        let error = policy(4)
            .call("fetch")
            .run(async |_| Err::<(), _>(timed_out("hunter2")))
            .await
            .unwrap_err();
        let log = error.log();
        assert_eq!((log.len(), log.omitted()), (4, 0));
        let delays: Vec<_> = log.iter().map(|attempt| attempt.delay).collect();
        assert_eq!(delays, [Some(100 * MS), Some(200 * MS), Some(400 * MS), None]);
        let first = log.first().unwrap();
        assert_eq!(first.number, 1);
        // An `io::Error` of kind `TimedOut` is a timeout, not a network
        // failure: the field does not say the I/O was a socket's.
        assert_eq!(first.kinds, [Blip::ID, TimedOut::ID]);
        assert_eq!(
            first.trace.as_ref().unwrap().to_string(),
            "Layered::Upstream (Blip)"
        );
        assert!(first.error_type.ends_with("Layered"));
        let text = format!("{error:#}");
        assert!(
            text.starts_with("call `fetch` failed after 4 attempts: its error's rule allows no more attempts\nattempt 1: [Blip, TimedOut] via Layered::Upstream (Blip), then waited 100ms"),
            "{text}"
        );
        assert!(text.ends_with("attempt 4: [Blip, TimedOut] via Layered::Upstream (Blip), gave up"), "{text}");
        assert!(!text.contains("hunter2") && !format!("{log:?}").contains("hunter2"));
        // The plain form is one line.
        assert!(!error.to_string().contains('\n'));
    })
    .await;
}

/// An error no rule names, carrying no vocabulary kind: no kinds, no
/// trace; the default rule's stop ends the call at once.
#[tokio::test(start_paused = true)]
async fn test_the_log_of_an_error_that_carries_nothing_is_empty_of_kinds() {
    within(HOUR_LIMIT, async {
        let error = policy(4)
            .call("fetch")
            .run(async |_| Err::<(), _>(CallError::BadRequest))
            .await
            .unwrap_err();
        let attempt = error.log().last().unwrap();
        assert!(attempt.kinds.is_empty());
        assert_eq!(attempt.trace, None);
        assert_eq!(attempt.delay, None);
    })
    .await;
}

/// Bounded: the first attempt and the seven latest are kept, the others
/// counted; at eight attempts nothing is omitted yet.
#[tokio::test(start_paused = true)]
async fn test_the_log_is_bounded_to_the_first_and_the_seven_latest() {
    within(HOUR_LIMIT, async {
        let fast = Policy::new()
            .on::<Blip>(Reaction::Retry.max_attempts(1000))
            .otherwise(Reaction::Stop)
            .backoff(Backoff::new(MS, MS))
            .intensity(Intensity::new(u32::MAX, Duration::from_secs(1)));
        let run = async |max: u32| {
            fast.call("fetch")
                .run(async |attempt| {
                    if attempt.number() == max {
                        Err(CallError::BadRequest)
                    } else {
                        Err::<(), _>(CallError::Blip)
                    }
                })
                .await
                .unwrap_err()
        };
        let numbers = |error: &RetryError<CallError>| -> Vec<u32> {
            error.log().iter().map(|attempt| attempt.number).collect()
        };

        let error = run(1000).await;
        assert_eq!(error.attempts(), 1000);
        assert_eq!(error.log().omitted(), 992);
        assert_eq!(numbers(&error), [1, 994, 995, 996, 997, 998, 999, 1000]);
        assert!(error.to_string().contains("failed after 1000 attempts"));
        assert!(format!("{error:#}").contains("(992 attempts omitted)"));
        // The last one is the error the call stopped on.
        assert!(error.log().last().unwrap().kinds.is_empty());

        let error = run(8).await;
        assert_eq!((error.attempts(), error.log().omitted()), (8, 0));
        assert_eq!(numbers(&error), [1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(!format!("{error:#}").contains("omitted"));
    })
    .await;
}
