//! The error a retried [`Call`](super::Call) ends with: why it gave up, and
//! the last error.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::names::StopReason;
use signal_core::Signal;

/// Why a retried [`Call`](super::Call) gave up, with its last error.
///
/// It carries the signals of the last error, so a caller upstream reacts to
/// it as to the error itself; [`DeadlineExceeded`](Self::DeadlineExceeded)
/// also raises [`TimedOut`](signal_core::vocab::TimedOut) of its own.
/// `Display` describes the stop; the last error is the
/// [`source`](std::error::Error::source) (when `E: Error`).
#[derive(Signal)]
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
        /// Attempts made.
        attempts: u32,
        /// The last attempt's error.
        #[signal(forward)]
        last: E,
    },
    /// The wait before the next attempt was at least the time left before
    /// the call's [deadline](super::Call::deadline).
    #[signal(leaf = "signal_core::vocab::TimedOut")]
    DeadlineExceeded {
        /// The call's name.
        name: Arc<str>,
        /// The time the call was given.
        deadline: Duration,
        /// Attempts made.
        attempts: u32,
        /// The last attempt's error.
        #[signal(forward)]
        last: E,
    },
}

impl<E> RetryError<E> {
    pub(crate) fn new(
        name: &str,
        reason: StopReason,
        deadline: Option<Duration>,
        attempts: u32,
        last: E,
    ) -> Self {
        let name = Arc::from(name);
        match reason {
            StopReason::DeadlineExceeded => RetryError::DeadlineExceeded {
                name,
                deadline: deadline.unwrap_or(Duration::MAX),
                attempts,
                last,
            },
            StopReason::Reaction | StopReason::Exhausted | StopReason::IntensityExceeded => {
                RetryError::Failed {
                    name,
                    reason,
                    attempts,
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
        }
    }

    /// The call's name.
    pub fn name(&self) -> &str {
        match self {
            RetryError::Failed { name, .. } | RetryError::DeadlineExceeded { name, .. } => name,
        }
    }

    /// How many attempts were made.
    pub fn attempts(&self) -> u32 {
        match self {
            RetryError::Failed { attempts, .. } | RetryError::DeadlineExceeded { attempts, .. } => {
                *attempts
            }
        }
    }

    /// The last attempt's error.
    pub fn last(&self) -> &E {
        match self {
            RetryError::Failed { last, .. } | RetryError::DeadlineExceeded { last, .. } => last,
        }
    }

    /// The last attempt's error, by value.
    pub fn into_last(self) -> E {
        match self {
            RetryError::Failed { last, .. } | RetryError::DeadlineExceeded { last, .. } => last,
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for RetryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let variant = match self {
            RetryError::Failed { .. } => "Failed",
            RetryError::DeadlineExceeded { .. } => "DeadlineExceeded",
        };
        f.debug_struct(variant)
            .field("name", &self.name())
            .field("reason", &self.reason())
            .field("attempts", &self.attempts())
            .field("last", self.last())
            .finish()
    }
}

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
            },
            RetryError::DeadlineExceeded { deadline, .. } => write!(
                f,
                "its deadline of {deadline:?} would pass before the next attempt"
            ),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for RetryError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.last())
    }
}
