//! The events a supervisor emits. Fields hold names, counts and durations,
//! never the values inside an error: a [`Trace`] names types, variants and
//! fields only, and an error's `Display` is never logged.

use std::time::Duration;

use tracing::Level;

use super::budget::RetryBudget;
use super::ladder::Step;
pub(crate) use super::names::Subject;
use super::names::{ReactionName, StopReason};
use super::policy::Policy;
use signal_core::{KindId, Trace};

/// Emits a `tracing` event at a level chosen at run time (the macros want a
/// constant).
macro_rules! event_at {
    ($level:expr, $($arg:tt)+) => {{
        let level: ::tracing::Level = $level;
        if level == ::tracing::Level::ERROR {
            ::tracing::event!(::tracing::Level::ERROR, $($arg)+)
        } else if level == ::tracing::Level::WARN {
            ::tracing::event!(::tracing::Level::WARN, $($arg)+)
        } else if level == ::tracing::Level::INFO {
            ::tracing::event!(::tracing::Level::INFO, $($arg)+)
        } else if level == ::tracing::Level::DEBUG {
            ::tracing::event!(::tracing::Level::DEBUG, $($arg)+)
        } else {
            ::tracing::event!(::tracing::Level::TRACE, $($arg)+)
        }
    }};
}

pub(crate) fn millis(delay: Duration) -> u64 {
    u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)
}

/// What is known about one failure, for the event that reports its step.
pub(crate) struct Report<'a> {
    pub(crate) subject: Subject,
    pub(crate) worker: &'a str,
    pub(crate) attempt: u32,
    /// The kind whose rule matched.
    pub(crate) kind: Option<KindId>,
    /// The path through which the error carries that kind.
    pub(crate) trace: Option<&'a Trace>,
    /// The error's type name, or `"panic"`.
    pub(crate) error_type: &'a str,
}

impl Report<'_> {
    /// The one event of a step: at the rule's level, except a stop by the
    /// restart intensity, which is always ERROR. `restarts` is the window
    /// after the step.
    pub(crate) fn step(&self, level: Level, step: &Step, policy: &Policy, restarts: usize) {
        let intensity = &policy.intensity;
        let noun = self.subject.noun();
        let message = match (step, self.subject) {
            (Step::Stop(StopReason::Reaction), _) => {
                format!("{noun} failed; its reaction is to stop")
            }
            (Step::Stop(StopReason::Exhausted), Subject::Worker) => {
                "worker failed; its rule allows no more attempts, worker stopped".to_owned()
            }
            (Step::Stop(StopReason::Exhausted), _) => {
                format!("{noun} failed; its rule allows no more attempts, giving up")
            }
            (Step::Stop(StopReason::DeadlineExceeded), _) => {
                format!("{noun} failed; its deadline would pass before the next attempt, giving up")
            }
            (Step::Stop(StopReason::CircuitOpen), _) => {
                format!("{noun} failed; the circuit breaker is open, giving up")
            }
            (Step::Stop(StopReason::MaybeProcessed), _) => format!(
                "{noun} failed; the request may have been processed and is not idempotent, giving up"
            ),
            (Step::Stop(StopReason::BudgetExhausted), Subject::Worker) => {
                "worker failed; the retry budget allows no more restarts, worker stopped".to_owned()
            }
            (Step::Stop(StopReason::BudgetExhausted), _) => {
                format!("{noun} failed; the retry budget allows no more retries, giving up")
            }
            (Step::Stop(StopReason::IntensityExceeded), Subject::Worker) => {
                "restart intensity exceeded; worker stopped".to_owned()
            }
            (Step::Stop(StopReason::IntensityExceeded), _) => {
                format!("restart intensity exceeded; {noun} given up")
            }
            (Step::Rebuild { .. }, Subject::Worker) => {
                "worker failed; rebuilding a shared resource, then restarting".to_owned()
            }
            (Step::Rebuild { .. }, _) => {
                format!("{noun} failed; rebuilding a shared resource, then retrying")
            }
            (Step::Retry { .. }, _) => format!("{noun} failed; retrying after backoff"),
        };
        if let Step::Stop(StopReason::IntensityExceeded) = step {
            tracing::error!(
                worker = self.worker,
                reaction = ReactionName::Stop.as_str(),
                attempt = self.attempt,
                restarts,
                within_ms = millis(intensity.within),
                kind = self.kind.map(KindId::name),
                trace = self.trace.map(tracing::field::display),
                error_type = self.error_type,
                "{message}"
            );
            return;
        }
        if let Step::Stop(StopReason::BudgetExhausted) = step {
            event_at!(
                level,
                worker = self.worker,
                reaction = ReactionName::Stop.as_str(),
                reason = StopReason::BudgetExhausted.as_str(),
                budget = policy.budget().map(RetryBudget::name),
                attempt = self.attempt,
                kind = self.kind.map(KindId::name),
                trace = self.trace.map(tracing::field::display),
                error_type = self.error_type,
                "{message}"
            );
            return;
        }
        event_at!(
            level,
            worker = self.worker,
            reaction = step.reaction().as_str(),
            attempt = self.attempt,
            delay_ms = millis(step.delay()),
            kind = self.kind.map(KindId::name),
            trace = self.trace.map(tracing::field::display),
            error_type = self.error_type,
            "{message}"
        );
    }

    /// The rebuild a failure asked for failed: always ERROR.
    pub(crate) fn rebuild_failed(&self, resource: &str, delay: Duration) {
        let message = match self.subject {
            Subject::Worker => "resource rebuild failed; backing off before restarting",
            Subject::Call | Subject::Request => {
                "resource rebuild failed; backing off before retrying"
            }
        };
        tracing::error!(
            worker = self.worker,
            reaction = ReactionName::Rebuild.as_str(),
            attempt = self.attempt,
            delay_ms = millis(delay),
            resource,
            "{message}"
        );
    }

    /// A Retry-After reader panicked: always ERROR. The panic's message is
    /// not logged (it may hold values).
    pub(crate) fn reader_panicked(&self) {
        tracing::error!(
            worker = self.worker,
            attempt = self.attempt,
            error_type = self.error_type,
            "a Retry-After reader panicked; its answer is ignored"
        );
    }
}

/// A worker left backoff or its stopped state on request.
pub(crate) fn recovered(worker: &str) {
    tracing::info!(worker, "worker recovered; retrying at once");
}
