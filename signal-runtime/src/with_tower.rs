//! The policy as a [`tower::retry::Policy`] (feature `tower`): a tower
//! service retried by kind, with the rules' backoffs and limits.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::ladder::Step;
use super::log::Subject;
use super::policy::Policy;
use super::retry::{Attempts, Limits, Seen};
use signal_core::Signal;

/// A [`Policy`] as a `tower` retry policy, from [`Policy::tower`].
///
/// Each request gets its own copy (tower clones the policy per request), so
/// attempts, the intensity window and the jitter stream are the request's
/// own. A failure is answered by the same reaction ladder as a per-call
/// [`retry`](Policy::retry): after its rule's backoff (lengthened to the
/// error's Retry-After), after a rebuild of the resource from the generation
/// the failed attempt started on, or not at all; each failure gets one event
/// (with `worker` set to the policy's name) and one metric.
///
/// ```
/// use std::time::Duration;
/// use signal_runtime::{Backoff, Policy, Reaction};
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
    attempts: Attempts,
    /// The generations the request's current attempt started on.
    seen: Seen,
}

impl Policy {
    /// This policy as a `tower` retry policy, for a service called `name`
    /// in events.
    pub fn tower(&self, name: impl Into<Arc<str>>) -> TowerPolicy {
        TowerPolicy {
            policy: Arc::new(self.clone()),
            name: name.into(),
            attempts: Attempts::new(),
            seen: Seen::default(),
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
        let policy = &*self.policy;
        let step = self.attempts.step(
            policy,
            Subject::Request,
            &self.name,
            error,
            &self.seen,
            Limits::default(),
        );
        if let Step::Stop(_) = step {
            return None;
        }
        let (attempts, name) = (self.attempts.clone(), Arc::clone(&self.name));
        let policy = Arc::clone(&self.policy);
        Some(Box::pin(async move {
            // Dropped during the wait (the request was), the retry the step
            // withdrew is given back.
            attempts
                .carry_out(&policy, Subject::Request, &name, &step)
                .await;
        }))
    }

    /// Called by `tower` just before each attempt is sent: notes the
    /// generations the attempt starts on, so that its failure asks for a
    /// rebuild from the generation it used; before the first, counts the
    /// request in the policy's [retry budget](super::RetryBudget).
    fn clone_request(&mut self, req: &Req) -> Option<Req> {
        if self.attempts.attempt == 0 {
            // `tower` asks the policy itself once per request, before the
            // first attempt, and the request's copy before each retry. A
            // first attempt a breaker layer then refuses is taken back.
            self.attempts.deposit(&self.policy);
        }
        self.seen = Seen::now(&self.policy);
        Some(req.clone())
    }
}
