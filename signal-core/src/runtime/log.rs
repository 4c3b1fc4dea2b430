//! The events a supervisor emits. Fields hold names, counts and durations,
//! never the values inside an error: a [`Trace`] names types, variants and
//! fields only, and an error's `Display` is never logged.

use std::time::Duration;

use tracing::Level;

use super::policy::ReactionName;
use crate::{KindId, Trace};

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

/// What is known about one failure, for the events that report it.
pub(crate) struct Report<'a> {
    pub(crate) worker: &'a str,
    pub(crate) attempt: u32,
    /// The kind whose rule matched.
    pub(crate) kind: Option<KindId>,
    /// The path through which the error carries that kind.
    pub(crate) trace: Option<&'a Trace>,
    /// The error's type name, or `"panic"`.
    pub(crate) error_type: &'a str,
    /// The message of the event that reports the maximum number of attempts
    /// reached.
    pub(crate) exhausted_message: &'static str,
}

impl Report<'_> {
    /// The reaction chosen for the failure, at the rule's level.
    pub(crate) fn reaction(
        &self,
        level: Level,
        reaction: ReactionName,
        delay: Duration,
        message: &str,
    ) {
        event_at!(
            level,
            worker = self.worker,
            reaction = reaction.as_str(),
            attempt = self.attempt,
            delay_ms = millis(delay),
            kind = self.kind.map(KindId::name),
            trace = self.trace.map(tracing::field::display),
            error_type = self.error_type,
            "{message}"
        );
    }

    /// The rule's maximum number of attempts is reached: at the rule's level.
    pub(crate) fn exhausted(&self, level: Level) {
        event_at!(
            level,
            worker = self.worker,
            reaction = ReactionName::Stop.as_str(),
            attempt = self.attempt,
            kind = self.kind.map(KindId::name),
            trace = self.trace.map(tracing::field::display),
            error_type = self.error_type,
            "{}",
            self.exhausted_message
        );
    }

    /// Too many restarts: always ERROR.
    pub(crate) fn intensity_exceeded(&self, restarts: usize, within: Duration) {
        tracing::error!(
            worker = self.worker,
            reaction = ReactionName::Stop.as_str(),
            attempt = self.attempt,
            restarts,
            within_ms = millis(within),
            kind = self.kind.map(KindId::name),
            trace = self.trace.map(tracing::field::display),
            error_type = self.error_type,
            "restart intensity exceeded; worker stopped"
        );
    }

    /// The rebuild a failure asked for failed: always ERROR.
    pub(crate) fn rebuild_failed(&self, resource: &str, delay: Duration) {
        tracing::error!(
            worker = self.worker,
            reaction = ReactionName::Rebuild.as_str(),
            attempt = self.attempt,
            delay_ms = millis(delay),
            resource,
            "resource rebuild failed; backing off before restarting"
        );
    }
}

/// A worker left backoff or its stopped state on request.
pub(crate) fn recovered(worker: &str) {
    tracing::info!(worker, "worker recovered; retrying at once");
}
