//! Metrics through the `metrics` facade (feature `metrics`; the names are
//! listed in the module documentation). Without the feature, every function
//! here is empty and compiles away. `kind` is the name of the kind whose rule
//! matched, `none` for the default rule, `panic` for a panic.

use std::time::Duration;

use super::breaker::BreakerState;
use super::names::{ReactionName, StopReason, Subject};
use signal_core::KindId;

fn kind_label(kind: Option<KindId>, panic: bool) -> &'static str {
    match kind {
        Some(kind) => kind.name(),
        None if panic => "panic",
        None => "none",
    }
}

fn reason_label(reason: StopReason) -> &'static str {
    reason.as_str()
}

/// The one metric of a step: a worker's restart or stop, a call's retry
/// or giving up.
/// `stopped` is the reason of a stop, `None` for a restart by `reaction`.
pub(crate) fn step(
    subject: Subject,
    name: &str,
    reaction: ReactionName,
    stopped: Option<StopReason>,
    kind: Option<KindId>,
    panic: bool,
) {
    match (subject, stopped) {
        (Subject::Worker, Some(reason)) => stop(name, reason),
        (Subject::Worker, None) => restart(name, reaction, kind, panic),
        (_, Some(reason)) => call_stop(name, reason),
        (_, None) => call_retry(name, reaction, kind),
    }
}

/// A worker is restarted (after a backoff or a rebuild).
fn restart(worker: &str, reaction: ReactionName, kind: Option<KindId>, panic: bool) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(
        "signal_runtime_restarts_total",
        "worker" => worker.to_owned(),
        "reaction" => reaction.as_str(),
        "kind" => kind_label(kind, panic),
    )
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = (worker, reaction, kind_label(kind, panic));
}

/// A worker stops.
fn stop(worker: &str, reason: StopReason) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(
        "signal_runtime_stops_total",
        "worker" => worker.to_owned(),
        "reason" => reason_label(reason),
    )
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = (worker, reason_label(reason));
}

/// A call (or request) gives up.
fn call_stop(call: &str, reason: StopReason) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(
        "signal_runtime_call_stops_total",
        "call" => call.to_owned(),
        "reason" => reason_label(reason),
    )
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = (call, reason_label(reason));
}

/// A worker spent `waited` backing off.
pub(crate) fn backoff(worker: &str, waited: Duration) {
    #[cfg(feature = "metrics")]
    ::metrics::histogram!("signal_runtime_backoff_seconds", "worker" => worker.to_owned())
        .record(waited.as_secs_f64());
    #[cfg(not(feature = "metrics"))]
    let _ = (worker, waited);
}

/// A call (or request) is retried.
fn call_retry(call: &str, reaction: ReactionName, kind: Option<KindId>) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(
        "signal_runtime_call_retries_total",
        "call" => call.to_owned(),
        "reaction" => reaction.as_str(),
        "kind" => kind_label(kind, false),
    )
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = (call, reaction, kind_label(kind, false));
}

/// A rebuild of `resource` finished.
pub(crate) fn rebuild(resource: &str, ok: bool) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(
        "signal_runtime_rebuilds_total",
        "resource" => resource.to_owned(),
        "outcome" => if ok { "ok" } else { "error" },
    )
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = (resource, ok);
}

/// A circuit breaker changed state.
pub(crate) fn breaker(breaker: &str, state: BreakerState) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(
        "signal_runtime_breaker_transitions_total",
        "breaker" => breaker.to_owned(),
        "state" => state.as_str(),
    )
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = (breaker, state.as_str());
}
