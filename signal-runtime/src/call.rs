//! One retried call with limits of its own: a deadline for the whole call,
//! the time left handed to each attempt.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::breaker::CircuitBreaker;
use super::budget::RetryBudget;
use super::ladder::Step;
use super::log::Subject;
use super::policy::Policy;
use super::retry::{Attempts, Limits, Seen, report_refused};
use super::retry_error::{Ended, RetryError};
use signal_core::Signal;

/// A retried call being set up: [`Policy::call`], then its limits, then
/// [`run`](Self::run).
///
/// ```
/// use std::time::Duration;
/// use signal_runtime::{Backoff, Policy, Reaction, RetryError};
/// use signal_core::{Signal, kind, vocab::TimedOut};
///
/// kind! { pub TransientNetwork; }
///
/// #[derive(Debug, Signal)]
/// enum FetchError {
///     #[signal(leaf = "TransientNetwork")]
///     Timeout,
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let policy = Policy::new()
///     .on::<TransientNetwork>(Reaction::Retry)
///     .backoff(Backoff::new(Duration::from_millis(400), Duration::from_secs(5)).with_jitter(0.0));
///
/// let result = policy
///     .call("fetch")
///     .deadline(Duration::from_secs(1))
///     .run(async |attempt| {
///         // The time left, e.g. for a gRPC timeout: 1 s, then 0.6 s.
///         let _left: Option<Duration> = attempt.remaining();
///         Err::<(), _>(FetchError::Timeout)
///     })
///     .await;
/// let error = result.unwrap_err();
/// // 400 ms, then 800 ms would overrun the second that was given.
/// assert!(matches!(error, RetryError::DeadlineExceeded { .. }));
/// assert_eq!(error.attempts(), 2);
/// // The error says so to the callers upstream.
/// assert!(error.has::<TimedOut>());
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
#[must_use = "a call does nothing until it is run"]
pub struct Call<'a> {
    policy: &'a Policy,
    name: &'a str,
    deadline: Option<Duration>,
    idempotent: bool,
}

/// What one attempt of a [`Call`] is told: its number and the time left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    number: u32,
    deadline: Option<Instant>,
}

impl Attempt {
    /// The attempt's number, counted from 1.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The time left before the call's deadline (zero once it has passed),
    /// read on tokio's clock; `None` when the call has no deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    /// When the call's deadline passes, if it has one.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
}

impl Policy {
    /// A retried call named `name` (in events and metrics), with limits of
    /// its own: set them, then [`run`](Call::run) it. Without limits it
    /// retries as [`retry`](Self::retry) does, and returns a
    /// [`RetryError`] that says why it gave up.
    pub fn call<'a>(&'a self, name: &'a str) -> Call<'a> {
        Call {
            policy: self,
            name,
            deadline: None,
            idempotent: true,
        }
    }
}

impl<'a> Call<'a> {
    /// Gives the whole call `within`, counted from when it is run: the call
    /// gives up ([`RetryError::DeadlineExceeded`], which raises
    /// [`TimedOut`](signal_core::vocab::TimedOut)) as soon as the wait
    /// before its next attempt would be at least the time left, instead of
    /// sleeping past it. Each attempt reads the time left with
    /// [`Attempt::remaining`] (to pass it on as a timeout of its own: an
    /// attempt in progress is not cut short).
    ///
    /// The first attempt is always made, even with `Duration::ZERO`. A
    /// deadline too far for the clock to hold (`Duration::MAX`) is no
    /// deadline.
    pub fn deadline(mut self, within: Duration) -> Self {
        self.deadline = Some(within);
        self
    }

    /// Whether the call may be repeated once it may have reached the peer
    /// (the default: yes). A call that is not (`idempotent(false)`: a
    /// `POST` that charges a card) is retried only when its error carries
    /// [`NeverSent`](signal_core::vocab::NeverSent), which the built-in
    /// classifiers raise for a refused connection, a failed name
    /// resolution, a pool checkout that timed out and a client's connect
    /// failure; any other error ends it with
    /// [`RetryError::MaybeProcessed`], even one its rule would retry (a
    /// reset after the request was written, a timeout waiting for the
    /// answer).
    ///
    /// ```
    /// use std::io;
    /// use signal_runtime::{Policy, Reaction, RetryError};
    /// use signal_core::{Signal, vocab::TransientNetwork};
    ///
    /// #[derive(Debug, Signal)]
    /// enum PayError {
    ///     Io(#[signal(forward)] io::Error),
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let policy = Policy::new().on::<TransientNetwork>(Reaction::Retry.max_attempts(3));
    /// let policy = &policy;
    /// let pay = |kind: io::ErrorKind| async move {
    ///     policy
    ///         .call("pay")
    ///         .idempotent(false)
    ///         .run(async |_| Err::<(), _>(PayError::Io(io::Error::from(kind))))
    ///         .await
    ///         .unwrap_err()
    /// };
    /// // Refused: never sent, retried up to the rule's maximum.
    /// assert_eq!(pay(io::ErrorKind::ConnectionRefused).await.attempts(), 3);
    /// // Reset: maybe processed, not repeated.
    /// let reset = pay(io::ErrorKind::ConnectionReset).await;
    /// assert!(matches!(reset, RetryError::MaybeProcessed { .. }));
    /// assert_eq!(reset.attempts(), 1);
    /// # }
    /// ```
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// Calls `op` until it succeeds, as [`Policy::retry`] does, within the
    /// call's limits; `op` gets each [`Attempt`]. On failure, the
    /// [`RetryError`] says why the call gave up and keeps the last error.
    pub async fn run<F, T, E>(self, mut op: F) -> Result<T, RetryError<E>>
    where
        F: AsyncFnMut(Attempt) -> Result<T, E>,
        E: Signal + 'static,
    {
        let policy = self.policy;
        let deadline = self
            .deadline
            .and_then(|within| Instant::now().checked_add(within));
        let mut attempts = Attempts::new();
        let breaker = policy.circuit_breaker();
        let ended = Ended {
            name: self.name,
            deadline: self.deadline,
            budget: policy.budget().map(RetryBudget::name),
            breaker,
        };
        let mut previous: Option<E> = None;
        loop {
            let seen = Seen::now(policy);
            let attempt = Attempt {
                number: attempts.attempt.saturating_add(1),
                deadline,
            };
            let permit = match breaker.map(CircuitBreaker::admit).transpose() {
                Ok(permit) => permit,
                Err(open) => {
                    // The retry the budget allowed is not made.
                    attempts.not_sent(policy);
                    report_refused(self.name, &open, attempts.attempt);
                    return Err(RetryError::CircuitOpen {
                        name: Arc::from(self.name),
                        open,
                        log: attempts.log,
                        last: previous,
                    });
                }
            };
            if attempts.attempt == 0 {
                // A request, once let through: a call the breaker refused
                // sent nothing, and earns its callers no retries.
                attempts.deposit(policy);
            }
            let result = op(attempt).await;
            if let (Some(breaker), Some(permit)) = (breaker, permit) {
                permit.end(breaker.outcome_of(result.as_ref()));
            }
            let error = match result {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let step = attempts.step(
                policy,
                Subject::Call,
                self.name,
                &error,
                &seen,
                Limits {
                    backoff_over: false,
                    deadline,
                    non_idempotent: !self.idempotent,
                },
            );
            if let Step::Stop(reason) = step {
                return Err(RetryError::new(ended, reason, attempts.log, error));
            }
            attempts
                .carry_out(policy, Subject::Call, self.name, &step)
                .await;
            previous = Some(error);
        }
    }
}
