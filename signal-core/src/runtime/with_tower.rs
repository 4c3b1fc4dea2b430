//! The policy as a [`tower::retry::Policy`] (feature `tower`): a tower
//! service retried by kind, with the rules' backoffs and limits.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::backoff::Jitter;
use super::log::Report;
use super::policy::{Policy, Reaction, ReactionName};
use crate::Signal;

/// A [`Policy`] as a `tower` retry policy, from [`Policy::tower`].
///
/// Each request gets its own copy (tower clones the policy per request), so
/// attempts, the intensity window and jitter are counted per request. A
/// failure is retried as a per-call [`retry`](Policy::retry) would: after
/// its rule's backoff (lengthened to the error's Retry-After), after a
/// rebuild of the resource, or not at all; the same events are emitted,
/// with `worker` set to the policy's name.
///
/// ```
/// use std::time::Duration;
/// use signal_core::runtime::{Backoff, Policy, Reaction};
/// use signal_core::{Signal, kind};
/// use tower::{ServiceBuilder, ServiceExt};
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
///     .on::<TransientNetwork>(Reaction::Retry.max_attempts(3))
///     .backoff(Backoff::new(Duration::from_millis(10), Duration::from_secs(1)));
/// let service = ServiceBuilder::new()
///     .retry(policy.tower("fetch"))
///     .service_fn(|_page: u32| async { Err::<(), _>(FetchError::Timeout) });
/// assert!(service.oneshot(7).await.is_err());
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct TowerPolicy {
    policy: Arc<Policy>,
    name: Arc<str>,
    attempt: u32,
    restarts: VecDeque<Instant>,
    jitter: Option<Jitter>,
}

impl Policy {
    /// This policy as a `tower` retry policy, for a service called `name`
    /// in events.
    pub fn tower(&self, name: impl Into<Arc<str>>) -> TowerPolicy {
        TowerPolicy {
            policy: Arc::new(self.clone()),
            name: name.into(),
            attempt: 0,
            restarts: VecDeque::new(),
            jitter: None,
        }
    }
}

impl<Req, Res, E> tower::retry::Policy<Req, Res, E> for TowerPolicy
where
    Req: Clone,
    E: Signal + 'static,
{
    type Future = Pin<Box<dyn Future<Output = ()> + Send>>;

    fn retry(&mut self, _req: &mut Req, result: &mut Result<Res, E>) -> Option<Self::Future> {
        let error = result.as_ref().err()?;
        self.attempt = self.attempt.saturating_add(1);
        let policy = &*self.policy;
        let matched = policy.rule_for(error);
        let rule = matched.rule;
        let trace = matched.kind.and_then(|kind| error.trace_kind(kind));
        let report = Report {
            worker: &self.name,
            attempt: self.attempt,
            kind: matched.kind,
            trace: trace.as_ref(),
            error_type: std::any::type_name::<E>(),
            exhausted_message: "request failed; its rule allows no more attempts, giving up",
        };
        if let Reaction::Stop = rule.reaction {
            report.reaction(
                rule.level,
                ReactionName::Stop,
                Duration::ZERO,
                "request failed; its reaction is to stop",
            );
            return None;
        }
        if rule.exhausted(self.attempt) {
            report.exhausted(rule.level);
            return None;
        }
        if policy.intensity.record(&mut self.restarts, Instant::now()) {
            report.intensity_exceeded(self.restarts.len(), policy.intensity.within);
            return None;
        }
        let jitter = self
            .jitter
            .get_or_insert_with(|| Jitter::new(policy.seed(), u64::from(self.attempt)));
        let delay = policy.delay_after(rule, self.attempt, Some(error), jitter);
        match &rule.reaction {
            Reaction::Rebuild(resource) => {
                report.reaction(
                    rule.level,
                    ReactionName::Rebuild,
                    Duration::ZERO,
                    "request failed; rebuilding a shared resource, then retrying",
                );
                let resource = resource.clone();
                // The request does not say which generation it used: the
                // current one is rebuilt (once, for every request asking).
                let seen = resource.generation();
                Some(Box::pin(async move {
                    if resource.0.rebuild_from(seen).await.is_err() {
                        tokio::time::sleep(delay).await;
                    }
                }))
            }
            _ => {
                report.reaction(
                    rule.level,
                    ReactionName::Retry,
                    delay,
                    "request failed; retrying after backoff",
                );
                Some(Box::pin(tokio::time::sleep(delay)))
            }
        }
    }

    fn clone_request(&mut self, req: &Req) -> Option<Req> {
        Some(req.clone())
    }
}
