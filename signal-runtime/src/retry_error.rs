//! The error a retried [`Call`](super::Call) ends with: why it gave up, and
//! the last error.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::attempt_log::AttemptLog;
use super::breaker::{BreakerOpen, CircuitBreaker};
use super::names::StopReason;

/// Why a retried [`Call`](super::Call) gave up, with its last error.
///
/// It carries the signals of the last error, so a caller upstream reacts to
/// it as to the error itself; [`DeadlineExceeded`](Self::DeadlineExceeded)
/// also raises [`TimedOut`](signal_core::vocab::TimedOut) of its own, and
/// [`CircuitOpen`](Self::CircuitOpen)
/// [`Unavailable`](signal_core::vocab::Unavailable).
///
/// **Never sent is a fact of the whole call.** It raises
/// [`NeverSent`](signal_core::vocab::NeverSent) only when no attempt may
/// have reached the peer ([`AttemptLog::any_sent`] is `false`): once an
/// attempt's error did not say "never sent" (a reset after the request was
/// written), the last error's `NeverSent`, the kinds that imply it (a
/// refused connection, [`BreakerRefused`](super::BreakerRefused)) and what
/// it raises only through `NeverSent` (a kind of yours that includes it)
/// are not passed on, while its other kinds are (`TransientNetwork`). So an outer
/// call that is not [idempotent](super::Call::idempotent) does not repeat
/// an inner retried call that may have been processed, even if its last
/// attempt was refused. (The last error itself, [`last`](Self::last),
/// still says what its attempt met.)
/// Every attempt's kinds, trace and delay are in its [`log`](Self::log).
/// `Display` says how many attempts failed and why the call gave up (`call
/// `fetch` failed after 3 attempts: ...`); the last error is the
/// [`source`](std::error::Error::source) (when `E: Error`), and the
/// alternate form (`{:#}`) adds the log, one attempt a line.
pub enum RetryError<E> {
    /// The last error's rule gave up: its reaction is to stop, its attempts
    /// ran out, or the retries exceeded the policy's
    /// [`Intensity`](super::Intensity).
    Failed {
        /// The call's name.
        name: Arc<str>,
        /// Why: [`Reaction`](StopReason::Reaction),
        /// [`Exhausted`](StopReason::Exhausted) or
        /// [`IntensityExceeded`](StopReason::IntensityExceeded).
        reason: StopReason,
        /// Every attempt's kinds, trace and delay, bounded.
        log: AttemptLog,
        /// The last attempt's error.
        last: E,
    },
    /// The wait before the next attempt was at least the time left before
    /// the call's [deadline](super::Call::deadline).
    DeadlineExceeded {
        /// The call's name.
        name: Arc<str>,
        /// The time the call was given.
        deadline: Duration,
        /// Every attempt's kinds, trace and delay, bounded.
        log: AttemptLog,
        /// The last attempt's error.
        last: E,
    },
    /// The policy's [retry budget](super::RetryBudget), shared with other
    /// calls, allowed no more retries.
    BudgetExhausted {
        /// The call's name.
        name: Arc<str>,
        /// The budget's name.
        budget: Arc<str>,
        /// Every attempt's kinds, trace and delay, bounded.
        log: AttemptLog,
        /// The last attempt's error.
        last: E,
    },
    /// The call is [not idempotent](super::Call::idempotent), and its error
    /// does not say the request was [never sent](signal_core::vocab::NeverSent):
    /// the peer may have processed it, so it was not repeated.
    MaybeProcessed {
        /// The call's name.
        name: Arc<str>,
        /// Every attempt's kinds, trace and delay, bounded.
        log: AttemptLog,
        /// The last attempt's error.
        last: E,
    },
    /// The policy's [circuit breaker](super::CircuitBreaker) is open: the
    /// call failed fast, before an attempt (`last` is `None`) or instead of
    /// retrying. Raises [`Unavailable`](signal_core::vocab::Unavailable),
    /// so callers upstream react to a dependency that cannot serve. When
    /// nothing was sent (no attempt was made, or every attempt's error said
    /// so) it also carries the [`BreakerOpen`]'s
    /// [`BreakerRefused`](super::BreakerRefused), and so
    /// [`NeverSent`](signal_core::vocab::NeverSent); not otherwise, since
    /// the attempts before the refusal may have been processed.
    CircuitOpen {
        /// The call's name.
        name: Arc<str>,
        /// The breaker's refusal.
        open: BreakerOpen,
        /// Every attempt's kinds, trace and delay, bounded (empty when no
        /// attempt was made).
        log: AttemptLog,
        /// The last attempt's error, if an attempt was made.
        last: Option<E>,
    },
}

/// What a call was run with, for the error it ends with.
pub(crate) struct Ended<'a> {
    pub(crate) name: &'a str,
    pub(crate) deadline: Option<Duration>,
    pub(crate) budget: Option<&'a str>,
    pub(crate) breaker: Option<&'a CircuitBreaker>,
}

impl<E> RetryError<E> {
    pub(crate) fn new(ended: Ended<'_>, reason: StopReason, log: AttemptLog, last: E) -> Self {
        let name = Arc::from(ended.name);
        let deadline = ended.deadline;
        match reason {
            StopReason::CircuitOpen => RetryError::CircuitOpen {
                name,
                open: match ended.breaker {
                    Some(breaker) => {
                        let left = breaker.open_at(Instant::now()).unwrap_or_default();
                        breaker.refusal(left)
                    }
                    None => BreakerOpen {
                        breaker: Arc::from(""),
                        retry_in: Duration::ZERO,
                    },
                },
                log,
                last: Some(last),
            },
            StopReason::MaybeProcessed => RetryError::MaybeProcessed { name, log, last },
            StopReason::BudgetExhausted => RetryError::BudgetExhausted {
                name,
                budget: Arc::from(ended.budget.unwrap_or_default()),
                log,
                last,
            },
            StopReason::DeadlineExceeded => RetryError::DeadlineExceeded {
                name,
                deadline: deadline.unwrap_or(Duration::MAX),
                log,
                last,
            },
            StopReason::Reaction | StopReason::Exhausted | StopReason::IntensityExceeded => {
                RetryError::Failed {
                    name,
                    reason,
                    log,
                    last,
                }
            }
        }
    }

    /// Why the call gave up.
    pub fn reason(&self) -> StopReason {
        match self {
            RetryError::Failed { reason, .. } => *reason,
            RetryError::DeadlineExceeded { .. } => StopReason::DeadlineExceeded,
            RetryError::BudgetExhausted { .. } => StopReason::BudgetExhausted,
            RetryError::MaybeProcessed { .. } => StopReason::MaybeProcessed,
            RetryError::CircuitOpen { .. } => StopReason::CircuitOpen,
        }
    }

    /// The call's name.
    pub fn name(&self) -> &str {
        match self {
            RetryError::Failed { name, .. }
            | RetryError::DeadlineExceeded { name, .. }
            | RetryError::BudgetExhausted { name, .. }
            | RetryError::MaybeProcessed { name, .. }
            | RetryError::CircuitOpen { name, .. } => name,
        }
    }

    /// How many attempts were made.
    pub fn attempts(&self) -> u32 {
        self.log().len()
    }

    /// Every attempt's kinds, trace and the wait chosen after it: the first
    /// and the latest, the others counted.
    pub fn log(&self) -> &AttemptLog {
        match self {
            RetryError::Failed { log, .. }
            | RetryError::DeadlineExceeded { log, .. }
            | RetryError::BudgetExhausted { log, .. }
            | RetryError::MaybeProcessed { log, .. }
            | RetryError::CircuitOpen { log, .. } => log,
        }
    }

    /// The last attempt's error; `None` only when a
    /// [circuit breaker](Self::CircuitOpen) refused the first attempt.
    pub fn last(&self) -> Option<&E> {
        match self {
            RetryError::Failed { last, .. }
            | RetryError::DeadlineExceeded { last, .. }
            | RetryError::BudgetExhausted { last, .. }
            | RetryError::MaybeProcessed { last, .. } => Some(last),
            RetryError::CircuitOpen { last, .. } => last.as_ref(),
        }
    }

    /// The last attempt's error, by value (see [`last`](Self::last)).
    pub fn into_last(self) -> Option<E> {
        match self {
            RetryError::Failed { last, .. }
            | RetryError::DeadlineExceeded { last, .. }
            | RetryError::BudgetExhausted { last, .. }
            | RetryError::MaybeProcessed { last, .. } => Some(last),
            RetryError::CircuitOpen { last, .. } => last,
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for RetryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let variant = match self {
            RetryError::Failed { .. } => "Failed",
            RetryError::DeadlineExceeded { .. } => "DeadlineExceeded",
            RetryError::BudgetExhausted { .. } => "BudgetExhausted",
            RetryError::MaybeProcessed { .. } => "MaybeProcessed",
            RetryError::CircuitOpen { .. } => "CircuitOpen",
        };
        f.debug_struct(variant)
            .field("name", &self.name())
            .field("reason", &self.reason())
            .field("log", self.log())
            .field("last", &self.last())
            .finish()
    }
}

const MAYBE_PROCESSED: &str = "the request may have been processed, and the call is not idempotent";

impl<E> fmt::Display for RetryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, attempts) = (self.name(), self.attempts());
        let plural = if attempts == 1 { "" } else { "s" };
        write!(f, "call `{name}` failed after {attempts} attempt{plural}: ")?;
        match self {
            RetryError::Failed { reason, .. } => match reason {
                StopReason::Reaction => f.write_str("its error's reaction is `stop`"),
                StopReason::Exhausted => f.write_str("its error's rule allows no more attempts"),
                StopReason::IntensityExceeded => {
                    f.write_str("more retries than the policy's restart intensity allows")
                }
                StopReason::DeadlineExceeded => f.write_str("its deadline passed"),
                StopReason::BudgetExhausted => {
                    f.write_str("the retry budget allows no more retries")
                }
                StopReason::MaybeProcessed => f.write_str(MAYBE_PROCESSED),
                StopReason::CircuitOpen => f.write_str("the circuit breaker is open"),
            },
            RetryError::CircuitOpen { open, .. } => {
                write!(f, "the circuit breaker `{}` is open", open.breaker)
            }
            RetryError::MaybeProcessed { .. } => f.write_str(MAYBE_PROCESSED),
            RetryError::BudgetExhausted { budget, .. } => write!(
                f,
                "the retry budget `{budget}` allows no more retries for now"
            ),
            RetryError::DeadlineExceeded { deadline, .. } => write!(
                f,
                "its deadline of {deadline:?} would pass before the next attempt"
            ),
        }?;
        if f.alternate() {
            write!(f, "\n{}", self.log())?;
        }
        Ok(())
    }
}

impl<E: std::error::Error + 'static> std::error::Error for RetryError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RetryError::CircuitOpen {
                last: None, open, ..
            } => Some(open),
            _ => self
                .last()
                .map(|last| last as &(dyn std::error::Error + 'static)),
        }
    }
}
