//! Per-call retry: one fallible call, retried by the same [`Policy`] that
//! supervises workers.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::time::Instant;

use super::backoff::Jitter;
use super::log::Report;
use super::metrics;
use super::policy::{Policy, Reaction, ReactionName};
use crate::Signal;

/// Gives each retried call its own jitter stream.
static CALLS: AtomicU64 = AtomicU64::new(0);

impl Policy {
    /// Calls `op` until it succeeds, reacting to each failure as a
    /// supervisor would react to a worker's: by the kinds the error carries.
    ///
    /// * [`Retry`](Reaction::Retry): waits for the rule's backoff (or the
    ///   policy's), lengthened to the error's
    ///   [Retry-After](Self::honour_retry_after) if it has one, then calls
    ///   again.
    /// * [`Rebuild`](Reaction::Rebuild): rebuilds the resource (once for all
    ///   the callers and workers that saw the same generation fail), then
    ///   calls again at once; if the rebuild fails, backs off first.
    /// * [`Stop`](Reaction::Stop): returns the error.
    ///
    /// It also returns the error when the rule's
    /// [maximum number of attempts](super::Rule::max_attempts) is
    /// reached, or when the retries within the policy's
    /// [`Intensity`](super::Intensity) window exceed its limit. Each failure
    /// is reported by the same `tracing` event a supervisor emits, with
    /// `worker` set to `name`. A panic in `op` is not caught: it unwinds
    /// through the caller, as without retries.
    ///
    /// `op` is an async closure, or a closure returning a future; it may
    /// borrow from its surroundings, since the call runs in the caller's
    /// task.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::time::Duration;
    /// use signal_core::runtime::{Backoff, Policy, Reaction};
    /// use signal_core::{Signal, kind};
    ///
    /// kind! { pub TransientNetwork; }
    ///
    /// #[derive(Debug, Signal)]
    /// enum FetchError {
    ///     #[signal(leaf = "TransientNetwork")]
    ///     Timeout,
    ///     NotFound,
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let policy = Policy::new()
    ///     .on::<TransientNetwork>(Reaction::Retry.max_attempts(3))
    ///     .otherwise(Reaction::Stop)
    ///     .backoff(Backoff::new(Duration::from_millis(100), Duration::from_secs(5)));
    ///
    /// let calls = AtomicU32::new(0);
    /// let fetch = async || match calls.fetch_add(1, Ordering::SeqCst) {
    ///     0 => Err(FetchError::Timeout), // retried after a backoff
    ///     _ => Ok("page"),
    /// };
    /// assert_eq!(policy.retry("fetch", fetch).await.unwrap(), "page");
    ///
    /// // Not retried: its reaction is `Stop`.
    /// let missing = async || Err::<(), _>(FetchError::NotFound);
    /// assert!(matches!(policy.retry("fetch", missing).await, Err(FetchError::NotFound)));
    /// # }
    /// ```
    pub async fn retry<F, T, E>(&self, name: &str, mut op: F) -> Result<T, E>
    where
        F: AsyncFnMut() -> Result<T, E>,
        E: Signal + 'static,
    {
        let stream = CALLS.fetch_add(1, Ordering::Relaxed);
        let mut jitter = Jitter::new(self.seed(), stream);
        let mut restarts = VecDeque::new();
        let mut attempt = 0u32;
        loop {
            // The generation of each resource the policy may rebuild, as
            // this attempt found it.
            let seen: Vec<(usize, u64)> = self
                .resources()
                .map(|resource| (resource.0.id(), resource.generation()))
                .collect();
            let error = match op().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            attempt = attempt.saturating_add(1);
            let decision = self.rule_for(&error);
            let rule = decision.rule;
            let trace = decision.kind.and_then(|kind| error.trace_kind(kind));
            let report = Report {
                worker: name,
                attempt,
                kind: decision.kind,
                trace: trace.as_ref(),
                error_type: std::any::type_name::<E>(),
                exhausted_message: "call failed; its rule allows no more attempts, giving up",
            };
            let rebuild = match &rule.reaction {
                Reaction::Retry => None,
                Reaction::Rebuild(resource) => Some(resource),
                Reaction::Stop => {
                    report.reaction(
                        rule.level,
                        ReactionName::Stop,
                        std::time::Duration::ZERO,
                        "call failed; its reaction is to stop",
                    );
                    return Err(error);
                }
            };
            if rule.exhausted(attempt) {
                report.exhausted(rule.level);
                return Err(error);
            }
            if self.intensity.record(&mut restarts, Instant::now()) {
                report.intensity_exceeded(restarts.len(), self.intensity.within);
                return Err(error);
            }
            match rebuild {
                Some(resource) => {
                    metrics::call_retry(name, ReactionName::Rebuild, decision.kind);
                    report.reaction(
                        rule.level,
                        ReactionName::Rebuild,
                        std::time::Duration::ZERO,
                        "call failed; rebuilding a shared resource, then retrying",
                    );
                    let id = resource.0.id();
                    let from = seen
                        .iter()
                        .find(|(known, _)| *known == id)
                        .map_or_else(|| resource.generation(), |&(_, generation)| generation);
                    if resource.0.rebuild_from(from).await.is_err() {
                        let delay = self.delay_after(rule, attempt, Some(&error), &mut jitter);
                        report.rebuild_failed(resource.name(), delay);
                        tokio::time::sleep(delay).await;
                    }
                }
                None => {
                    metrics::call_retry(name, ReactionName::Retry, decision.kind);
                    let delay = self.delay_after(rule, attempt, Some(&error), &mut jitter);
                    report.reaction(
                        rule.level,
                        ReactionName::Retry,
                        delay,
                        "call failed; retrying after backoff",
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}
