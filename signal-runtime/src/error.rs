//! The errors a supervised worker ends with.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use signal_core::Signal;

/// One failure of a worker: the error it returned, or its panic.
///
/// Cheap to clone: the error is shared, so `E` need not be `Clone`.
///
/// It carries the signals of its error (none for a panic).
#[derive(Signal)]
pub enum Failure<E> {
    /// The worker returned this error.
    Error(#[signal(forward)] Arc<E>),
    /// The worker panicked with this message (`"Box<dyn Any>"` when the
    /// payload was not a string).
    Panic(Arc<str>),
}

impl<E> Failure<E> {
    /// The error, unless this is a panic.
    pub fn error(&self) -> Option<&E> {
        match self {
            Failure::Error(error) => Some(error),
            Failure::Panic(_) => None,
        }
    }

    /// The panic message, if this is a panic.
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            Failure::Error(_) => None,
            Failure::Panic(message) => Some(message),
        }
    }

    /// Whether this is a panic.
    pub fn is_panic(&self) -> bool {
        matches!(self, Failure::Panic(_))
    }
}

impl<E> Clone for Failure<E> {
    fn clone(&self) -> Self {
        match self {
            Failure::Error(error) => Failure::Error(Arc::clone(error)),
            Failure::Panic(message) => Failure::Panic(Arc::clone(message)),
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for Failure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Error(error) => f.debug_tuple("Error").field(error).finish(),
            Failure::Panic(message) => f.debug_tuple("Panic").field(message).finish(),
        }
    }
}

/// Why a supervised worker stopped, or ended without a value.
///
/// Every variant keeps the last failure, so stopping never loses the error
/// that caused it. `Display` describes the stop; the worker's error is the
/// [`source`](std::error::Error::source) (when `E: Error`).
///
/// It implements [`Signal`] by forwarding the last failure's error, so a
/// worker that supervises workers of its own (or returns their errors)
/// passes their signals on:
///
/// ```
/// # use signal_runtime::{Policy, Reaction, Supervisor};
/// use signal_core::{Signal, kind};
///
/// kind! { pub BadCredentials; }
///
/// #[derive(Debug, Signal)]
/// enum LoginError {
///     #[signal(leaf = "BadCredentials")]
///     Rejected,
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let supervisor = Supervisor::new();
/// let policy = Policy::new().otherwise(Reaction::Stop);
/// let worker = supervisor.spawn("login", policy, async |_ctx| Err::<(), _>(LoginError::Rejected));
/// let error = worker.join().await.unwrap_err();
/// assert!(error.has::<BadCredentials>());
/// # supervisor.shutdown().await;
/// # }
/// ```
#[derive(Signal)]
pub enum SupervisorError<E> {
    /// The worker's error has the reaction [`Stop`](super::Reaction::Stop).
    Stopped {
        /// The worker's name.
        worker: Arc<str>,
        /// The failure's number since the worker was last healthy.
        attempt: u32,
        /// The error.
        #[signal(forward)]
        error: Arc<E>,
    },
    /// The worker panicked, and panics have the reaction
    /// [`Stop`](super::Reaction::Stop).
    Panicked {
        /// The worker's name.
        worker: Arc<str>,
        /// The failure's number since the worker was last healthy.
        attempt: u32,
        /// The panic message.
        message: Arc<str>,
    },
    /// The worker restarted more often than its
    /// [`Intensity`](super::Intensity) allows.
    IntensityExceeded {
        /// The worker's name.
        worker: Arc<str>,
        /// Restarts in the window, this one included.
        restarts: usize,
        /// The window.
        within: Duration,
        /// The failure that went over the limit.
        #[signal(forward)]
        last: Failure<E>,
    },
    /// The worker failed on its last allowed attempt: the rule that picked
    /// its error has a [maximum number of
    /// attempts](super::Rule::max_attempts).
    Exhausted {
        /// The worker's name.
        worker: Arc<str>,
        /// Attempts made since the worker was last healthy.
        attempts: u32,
        /// The failure of the last attempt.
        #[signal(forward)]
        last: Failure<E>,
    },
    /// The policy's [retry budget](super::RetryBudget), shared with other
    /// workers and calls, allowed no more restarts.
    BudgetExhausted {
        /// The worker's name.
        worker: Arc<str>,
        /// The budget's name.
        budget: Arc<str>,
        /// The failure's number since the worker was last healthy.
        attempt: u32,
        /// The failure the budget refused to retry.
        #[signal(forward)]
        last: Failure<E>,
    },
    /// The supervisor shut down (or the worker was aborted) before the worker
    /// finished.
    Shutdown {
        /// The worker's name.
        worker: Arc<str>,
        /// The worker's last failure, if it was failing.
        #[signal(forward)]
        last: Option<Failure<E>>,
    },
}

impl<E> SupervisorError<E> {
    /// The worker's name.
    pub fn worker(&self) -> &str {
        match self {
            SupervisorError::Stopped { worker, .. }
            | SupervisorError::Panicked { worker, .. }
            | SupervisorError::IntensityExceeded { worker, .. }
            | SupervisorError::Exhausted { worker, .. }
            | SupervisorError::BudgetExhausted { worker, .. }
            | SupervisorError::Shutdown { worker, .. } => worker,
        }
    }

    /// The worker's last failure, if any.
    pub fn last_failure(&self) -> Option<Failure<E>> {
        match self {
            SupervisorError::Stopped { error, .. } => Some(Failure::Error(Arc::clone(error))),
            SupervisorError::Panicked { message, .. } => Some(Failure::Panic(Arc::clone(message))),
            SupervisorError::IntensityExceeded { last, .. }
            | SupervisorError::Exhausted { last, .. }
            | SupervisorError::BudgetExhausted { last, .. } => Some(last.clone()),
            SupervisorError::Shutdown { last, .. } => last.clone(),
        }
    }

    /// The worker's last error, unless it was a panic (or there was none).
    pub fn last_error(&self) -> Option<&E> {
        match self {
            SupervisorError::Stopped { error, .. } => Some(error),
            SupervisorError::IntensityExceeded { last, .. }
            | SupervisorError::Exhausted { last, .. }
            | SupervisorError::BudgetExhausted { last, .. } => last.error(),
            SupervisorError::Shutdown { last, .. } => last.as_ref().and_then(Failure::error),
            SupervisorError::Panicked { .. } => None,
        }
    }

    /// Whether this is [`SupervisorError::Shutdown`].
    pub fn is_shutdown(&self) -> bool {
        matches!(self, SupervisorError::Shutdown { .. })
    }
}

impl<E> Clone for SupervisorError<E> {
    fn clone(&self) -> Self {
        match self {
            SupervisorError::Stopped {
                worker,
                attempt,
                error,
            } => SupervisorError::Stopped {
                worker: Arc::clone(worker),
                attempt: *attempt,
                error: Arc::clone(error),
            },
            SupervisorError::Panicked {
                worker,
                attempt,
                message,
            } => SupervisorError::Panicked {
                worker: Arc::clone(worker),
                attempt: *attempt,
                message: Arc::clone(message),
            },
            SupervisorError::IntensityExceeded {
                worker,
                restarts,
                within,
                last,
            } => SupervisorError::IntensityExceeded {
                worker: Arc::clone(worker),
                restarts: *restarts,
                within: *within,
                last: last.clone(),
            },
            SupervisorError::Exhausted {
                worker,
                attempts,
                last,
            } => SupervisorError::Exhausted {
                worker: Arc::clone(worker),
                attempts: *attempts,
                last: last.clone(),
            },
            SupervisorError::BudgetExhausted {
                worker,
                budget,
                attempt,
                last,
            } => SupervisorError::BudgetExhausted {
                worker: Arc::clone(worker),
                budget: Arc::clone(budget),
                attempt: *attempt,
                last: last.clone(),
            },
            SupervisorError::Shutdown { worker, last } => SupervisorError::Shutdown {
                worker: Arc::clone(worker),
                last: last.clone(),
            },
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for SupervisorError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SupervisorError::Stopped {
                worker,
                attempt,
                error,
            } => f
                .debug_struct("Stopped")
                .field("worker", worker)
                .field("attempt", attempt)
                .field("error", error)
                .finish(),
            SupervisorError::Panicked {
                worker,
                attempt,
                message,
            } => f
                .debug_struct("Panicked")
                .field("worker", worker)
                .field("attempt", attempt)
                .field("message", message)
                .finish(),
            SupervisorError::IntensityExceeded {
                worker,
                restarts,
                within,
                last,
            } => f
                .debug_struct("IntensityExceeded")
                .field("worker", worker)
                .field("restarts", restarts)
                .field("within", within)
                .field("last", last)
                .finish(),
            SupervisorError::Exhausted {
                worker,
                attempts,
                last,
            } => f
                .debug_struct("Exhausted")
                .field("worker", worker)
                .field("attempts", attempts)
                .field("last", last)
                .finish(),
            SupervisorError::BudgetExhausted {
                worker,
                budget,
                attempt,
                last,
            } => f
                .debug_struct("BudgetExhausted")
                .field("worker", worker)
                .field("budget", budget)
                .field("attempt", attempt)
                .field("last", last)
                .finish(),
            SupervisorError::Shutdown { worker, last } => f
                .debug_struct("Shutdown")
                .field("worker", worker)
                .field("last", last)
                .finish(),
        }
    }
}

impl<E> fmt::Display for SupervisorError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SupervisorError::Stopped {
                worker, attempt, ..
            } => write!(
                f,
                "worker `{worker}` stopped on failure {attempt}: its error's reaction is `stop`"
            ),
            SupervisorError::Panicked {
                worker,
                attempt,
                message,
            } => write!(
                f,
                "worker `{worker}` panicked on failure {attempt}: {message}"
            ),
            SupervisorError::IntensityExceeded {
                worker,
                restarts,
                within,
                ..
            } => write!(
                f,
                "worker `{worker}` restarted {restarts} times within {within:?}, \
                 more than its restart intensity allows"
            ),
            SupervisorError::Exhausted {
                worker, attempts, ..
            } => write!(
                f,
                "worker `{worker}` failed {attempts} times, all the attempts its error's rule allows"
            ),
            SupervisorError::BudgetExhausted {
                worker,
                budget,
                attempt,
                ..
            } => write!(
                f,
                "worker `{worker}` stopped on failure {attempt}: the retry budget `{budget}` \
                 allows no more restarts for now"
            ),
            SupervisorError::Shutdown { worker, .. } => {
                write!(f, "worker `{worker}` was shut down")
            }
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for SupervisorError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.last_error()
            .map(|error| error as &(dyn std::error::Error + 'static))
    }
}
