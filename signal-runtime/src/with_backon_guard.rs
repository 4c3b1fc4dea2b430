//! A call retried with [`backon`], guarded by the policy's circuit breaker
//! (feature `backon`): each attempt asks the breaker first and its outcome
//! is counted by kind.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use super::breaker::{BreakerOpen, CircuitBreaker, Permit};
use super::lock;
use super::policy::Policy;
use super::retry::{Attempts, report_refused};
use signal_core::Signal;

/// One call retried with `backon` behind the policy's
/// [circuit breaker](Policy::breaker), from [`Policy::backon_guard`]: wrap
/// the operation with [`wrap`](Self::wrap) and give `backon` the guard's
/// [`adjust`](Self::adjust). Keep one per call, as an `adjust`.
///
/// `backon` shows `adjust` only the failures, so the breaker cannot learn
/// of successes from it: the guard sits around each attempt instead. Each
/// attempt asks the breaker first (taking a probe's place while it is
/// half-open, given back if the attempt panics or is dropped); refused, the
/// attempt sends nothing and fails at once with `E::from(BreakerOpen)`,
/// which raises [`BreakerRefused`](super::BreakerRefused)
/// ([`Unavailable`](signal_core::vocab::Unavailable) and
/// [`NeverSent`](signal_core::vocab::NeverSent)). Let through, its outcome
/// is counted by kind, a success too, as on every other path. A refused
/// first attempt is no request for the [retry budget](super::RetryBudget),
/// and a refused retry is given back to it, as is a retry whose attempt
/// never started (the call was dropped during `backon`'s sleep: given back
/// once the guard and the wrapped operation are dropped).
///
/// The reaction ladder of the guard's `adjust` makes no retry that would
/// land while the breaker is open, so a refusal after an attempt happens
/// only when the breaker opened during the wait; `backon` then returns the
/// refusal, which says "never sent" of that attempt only: for a fact about
/// the whole call, use [`Policy::call`].
///
/// ```
/// use backon::Retryable;
/// use signal_core::Signal;
/// use signal_core::vocab::{NeverSent, TransientNetwork};
/// use signal_runtime::{BreakerOpen, BreakerState, CircuitBreaker, Policy, Reaction};
///
/// #[derive(Debug, Signal)]
/// enum ApiError {
///     #[signal(leaf = "signal_core::vocab::ConnectionReset")]
///     Reset,
///     Refused(#[signal(forward)] BreakerOpen),
/// }
///
/// impl From<BreakerOpen> for ApiError {
///     fn from(open: BreakerOpen) -> Self {
///         ApiError::Refused(open)
///     }
/// }
///
/// async fn fetch(policy: &Policy, sent: &mut u32, answer: fn() -> Result<(), ApiError>) -> Result<(), ApiError> {
///     let guard = policy.backon_guard("fetch");
///     guard
///         .wrap(|| {
///             *sent += 1;
///             std::future::ready(answer())
///         })
///         .retry(policy.backon_backoff())
///         .when(policy.backon_when())
///         .adjust(guard.adjust())
///         .await
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let breaker = CircuitBreaker::builder("api").counts::<TransientNetwork>().min_calls(1).build().unwrap();
/// let policy = Policy::new().on::<TransientNetwork>(Reaction::Retry).breaker(&breaker);
/// let mut sent = 0;
/// // A reset opens the breaker (and no retry is made while it is open)...
/// assert!(fetch(&policy, &mut sent, || Err(ApiError::Reset)).await.is_err());
/// assert_eq!(breaker.state(), BreakerState::Open);
/// // ... and the next call fails fast, sending nothing.
/// let error = fetch(&policy, &mut sent, || Ok(())).await.unwrap_err();
/// assert!(matches!(error, ApiError::Refused(_)) && error.has::<NeverSent>());
/// assert_eq!(sent, 1);
/// # }
/// ```
pub struct BackonGuard<'p> {
    policy: &'p Policy,
    name: &'p str,
    attempts: Arc<Mutex<Attempts>>,
    /// Shared with the wrapped operation: the last one dropped gives back a
    /// retry withdrawn for an attempt that never started.
    unstarted: Arc<Unstarted<'p>>,
}

/// Gives back, once the guard and its wrapped operation are dropped, the
/// retry the ladder withdrew for an attempt that never started (the call
/// was dropped during `backon`'s sleep).
struct Unstarted<'p> {
    policy: &'p Policy,
    attempts: Arc<Mutex<Attempts>>,
}

impl Drop for Unstarted<'_> {
    fn drop(&mut self) {
        let taken = lock(&self.attempts).unstarted.take();
        if let (Some(budget), Some(taken)) = (self.policy.budget(), taken) {
            budget.give_back(taken);
        }
    }
}

impl Policy {
    /// A [`BackonGuard`] for one call named `name` (in events and metrics)
    /// retried with `backon`: its attempts ask the policy's breaker first
    /// and are counted by it.
    pub fn backon_guard<'p>(&'p self, name: &'p str) -> BackonGuard<'p> {
        let attempts = Arc::new(Mutex::new(Attempts::new()));
        BackonGuard {
            policy: self,
            name,
            unstarted: Arc::new(Unstarted {
                policy: self,
                attempts: Arc::clone(&attempts),
            }),
            attempts,
        }
    }
}

impl<'p> BackonGuard<'p> {
    /// `op`, each attempt asking the breaker first and counted by it; give
    /// the result to `backon`'s `retry`. Without a breaker in the policy,
    /// `op` as it is.
    pub fn wrap<F, Fut, T, E>(
        &self,
        mut op: F,
    ) -> impl FnMut() -> BackonGuarded<Fut, E> + use<'p, F, Fut, T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Signal + From<BreakerOpen>,
    {
        let (policy, name) = (self.policy, self.name);
        let attempts = Arc::clone(&self.attempts);
        let unstarted = Arc::clone(&self.unstarted);
        move || {
            // Held by the wrapped operation: dropped with it.
            let _held: &Arc<Unstarted<'_>> = &unstarted;
            let Some(breaker) = policy.circuit_breaker() else {
                // The retry, if one was withdrawn, starts.
                lock(&attempts).unstarted = None;
                return BackonGuarded::run(op(), None);
            };
            match breaker.admit() {
                Ok(permit) => {
                    lock(&attempts).unstarted = None;
                    BackonGuarded::run(op(), Some((breaker.clone(), permit)))
                }
                Err(open) => {
                    let attempt = {
                        let mut attempts = lock(&attempts);
                        // Nothing sent: the request or the retry is given back.
                        attempts.not_sent(policy);
                        attempts.attempt
                    };
                    report_refused(name, &open, attempt);
                    BackonGuarded {
                        state: State::Refused {
                            error: Some(E::from(open)),
                        },
                    }
                }
            }
        }
    }

    /// `backon`'s `adjust` for the guarded call: the policy's
    /// [`backon_adjust_named`](Policy::backon_adjust_named), sharing the
    /// call's attempts with the guard (so a refused attempt gives back what
    /// it took from the budget). Made, it counts the call as one request in
    /// the policy's [retry budget](super::RetryBudget): ask for it once per
    /// guard.
    pub fn adjust<E: Signal + 'static>(
        &self,
    ) -> impl FnMut(&E, Option<Duration>) -> Option<Duration> + 'p {
        lock(&self.attempts).deposit(self.policy);
        self.policy
            .adjust_with(self.name, Arc::clone(&self.attempts))
    }
}

impl fmt::Debug for BackonGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackonGuard")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

pin_project_lite::pin_project! {
    /// One attempt of a call guarded by a [`BackonGuard`]: the operation's
    /// future, counted by the breaker when it ends, or the breaker's
    /// refusal.
    pub struct BackonGuarded<Fut, E> {
        #[pin]
        state: State<Fut, E>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<Fut, E> {
        Run {
            #[pin]
            inner: Fut,
            // Dropped without an outcome (a panic, a dropped call), the
            // permit gives its probe place back.
            permit: Option<(CircuitBreaker, Permit)>,
        },
        Refused {
            error: Option<E>,
        },
    }
}

impl<Fut, E> BackonGuarded<Fut, E> {
    fn run(inner: Fut, permit: Option<(CircuitBreaker, Permit)>) -> Self {
        BackonGuarded {
            state: State::Run { inner, permit },
        }
    }
}

impl<Fut, T, E> Future for BackonGuarded<Fut, E>
where
    Fut: Future<Output = Result<T, E>>,
    E: Signal,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Run { inner, permit } => {
                let result = std::task::ready!(inner.poll(cx));
                if let Some((breaker, permit)) = permit.take() {
                    permit.end(breaker.outcome_of(result.as_ref()));
                }
                Poll::Ready(result)
            }
            StateProj::Refused { error } => Poll::Ready(Err(error
                .take()
                .expect("a refused attempt's future is polled after it is done"))),
        }
    }
}

impl<Fut, E> fmt::Debug for BackonGuarded<Fut, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackonGuarded").finish_non_exhaustive()
    }
}
