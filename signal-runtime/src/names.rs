//! Plain labels (reaction names, stop reasons, who failed) that the
//! modules above them share: a leaf, so events and metrics need not import
//! the policy.

use std::fmt;

/// The name of a [`Reaction`](super::Reaction), for logs and [`RetryState`](super::RetryState).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReactionName {
    /// [`Reaction::Retry`](super::Reaction::Retry).
    Retry,
    /// [`Reaction::Rebuild`](super::Reaction::Rebuild).
    Rebuild,
    /// [`Reaction::Stop`](super::Reaction::Stop).
    Stop,
}

impl ReactionName {
    /// `"retry"`, `"rebuild"` or `"stop"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReactionName::Retry => "retry",
            ReactionName::Rebuild => "rebuild",
            ReactionName::Stop => "stop",
        }
    }
}

impl fmt::Display for ReactionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a worker stopped by itself, or a retried call gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StopReason {
    /// Its error (or panic) has the reaction [`Stop`](super::Reaction::Stop).
    Reaction,
    /// It restarted more often than its [`Intensity`](super::Intensity)
    /// allows.
    IntensityExceeded,
    /// Its error's rule allows no more attempts
    /// ([`Rule::max_attempts`](super::Rule::max_attempts)).
    Exhausted,
    /// A call's [deadline](super::Call::deadline) would pass before (or
    /// while) it waits for its next attempt: the wait is at least the time
    /// left.
    DeadlineExceeded,
    /// The policy's [retry budget](super::RetryBudget), shared with other
    /// calls and workers, allows no more retries for now.
    BudgetExhausted,
    /// A call marked [not idempotent](super::Call::idempotent) failed with
    /// an error that does not say the request was
    /// [never sent](signal_core::vocab::NeverSent): the peer may have
    /// processed it, so it is not repeated.
    MaybeProcessed,
    /// The policy's [circuit breaker](super::CircuitBreaker) is open: the
    /// call fails fast instead of trying again.
    CircuitOpen,
}

impl StopReason {
    /// The reason's name in events and metrics (the `reason` label):
    /// `"reaction"`, `"intensity_exceeded"`, `"exhausted"`,
    /// `"deadline_exceeded"`, `"budget_exhausted"`, `"maybe_processed"`,
    /// `"circuit_open"`.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Reaction => "reaction",
            StopReason::IntensityExceeded => "intensity_exceeded",
            StopReason::Exhausted => "exhausted",
            StopReason::DeadlineExceeded => "deadline_exceeded",
            StopReason::BudgetExhausted => "budget_exhausted",
            StopReason::MaybeProcessed => "maybe_processed",
            StopReason::CircuitOpen => "circuit_open",
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who failed: a supervised worker, a per-call retry, a `tower` request or
/// a `backon` call. It names the events' messages and the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Subject {
    Worker,
    Call,
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    Request,
}

impl Subject {
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Subject::Worker => "worker",
            Subject::Call => "call",
            Subject::Request => "request",
        }
    }
}
