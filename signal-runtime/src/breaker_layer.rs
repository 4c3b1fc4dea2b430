//! A [`CircuitBreaker`] in front of a `tower` service (feature `tower`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::time::Instant;

use super::breaker::{BreakerOpen, CircuitBreaker, Outcome, Permit};
use signal_core::Signal;

/// The error of a service behind a [`BreakerLayer`]: the breaker refused
/// the request, or the service failed. It carries the signals of both: a
/// refusal raises [`Unavailable`](signal_core::vocab::Unavailable), the
/// service's error its own kinds.
#[derive(Debug, Signal)]
pub enum BreakerError<E> {
    /// The breaker is open: the request was not sent.
    Open(#[signal(forward)] BreakerOpen),
    /// The service's own error.
    Inner(#[signal(forward)] E),
}

impl<E: fmt::Display> fmt::Display for BreakerError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakerError::Open(open) => open.fmt(f),
            BreakerError::Inner(error) => error.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for BreakerError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BreakerError::Open(open) => Some(open),
            BreakerError::Inner(error) => Some(error),
        }
    }
}

/// A `tower` layer that asks a [`CircuitBreaker`] before each request and
/// counts its outcome, from [`CircuitBreaker::layer`]. Put it under a
/// retry layer (`ServiceBuilder::new().retry(policy.tower(..)).layer(breaker.layer())`)
/// so that each attempt is asked and counted; a policy with the same breaker
/// ([`Policy::breaker`](super::Policy::breaker)) then makes no retry while
/// it is open.
///
/// The service's readiness is part of its health: an error from its
/// `poll_ready` that carries a counted kind (a connection that cannot be
/// made) counts as a failure, and while the breaker is open `poll_ready`
/// is ready at once without asking the service, so that a request to a
/// service that is not ready fails fast instead of waiting for it.
///
/// ```
/// use std::time::Duration;
/// use signal_core::{Signal, vocab::{TransientNetwork, Unavailable}};
/// use signal_runtime::{BreakerError, CircuitBreaker};
/// use tower::{ServiceBuilder, ServiceExt};
///
/// #[derive(Debug, Signal)]
/// enum FetchError {
///     #[signal(leaf = "signal_core::vocab::ConnectionReset")]
///     Reset,
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let breaker = CircuitBreaker::builder("api").counts::<TransientNetwork>().min_calls(1).build().unwrap();
/// let service = ServiceBuilder::new()
///     .layer(breaker.layer())
///     .service_fn(|_: u32| async { Err::<(), _>(FetchError::Reset) });
/// // The first request fails and opens the breaker; the second is not sent.
/// assert!(matches!(service.clone().oneshot(1).await, Err(BreakerError::Inner(_))));
/// let refused = service.oneshot(2).await.unwrap_err();
/// assert!(matches!(refused, BreakerError::Open(_)));
/// assert!(refused.has::<Unavailable>());
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct BreakerLayer {
    breaker: CircuitBreaker,
}

impl CircuitBreaker {
    /// This breaker as a `tower` layer: see [`BreakerLayer`].
    pub fn layer(&self) -> BreakerLayer {
        BreakerLayer {
            breaker: self.clone(),
        }
    }
}

impl<S> tower::Layer<S> for BreakerLayer {
    type Service = BreakerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BreakerService {
            inner,
            breaker: self.breaker.clone(),
            refusing: false,
        }
    }
}

/// A service behind a [`BreakerLayer`].
#[derive(Debug)]
pub struct BreakerService<S> {
    inner: S,
    breaker: CircuitBreaker,
    /// `poll_ready` answered for an open breaker, without the service:
    /// the next `call` is refused, and never reaches the service.
    refusing: bool,
}

impl<S: Clone> Clone for BreakerService<S> {
    /// A clone is not ready (as every `tower` service's clone).
    fn clone(&self) -> Self {
        BreakerService {
            inner: self.inner.clone(),
            breaker: self.breaker.clone(),
            refusing: false,
        }
    }
}

impl<S, Req> tower::Service<Req> for BreakerService<S>
where
    S: tower::Service<Req>,
    S::Error: Signal,
{
    type Response = S::Response;
    type Error = BreakerError<S::Error>;
    type Future = BreakerFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Open: ready at once, for `call` to refuse; the service is not
        // asked (nor woken) while the dependency is sick.
        self.refusing = self.breaker.open_at(Instant::now()).is_some();
        if self.refusing {
            return Poll::Ready(Ok(()));
        }
        self.inner.poll_ready(cx).map_err(|error| {
            // A refusal on the way (an error that carries
            // `BreakerRefused`) is no outcome.
            if self.breaker.outcome_of::<(), _>(Err(&error)) == Some(Outcome::Failed) {
                self.breaker.record(Outcome::Failed);
            }
            BreakerError::Inner(error)
        })
    }

    fn call(&mut self, req: Req) -> Self::Future {
        if std::mem::take(&mut self.refusing) {
            // The service was not made ready: refused, even if the breaker
            // has half-opened since (no probe's place was taken).
            let retry_in = self
                .breaker
                .open_at(Instant::now())
                .unwrap_or(std::time::Duration::ZERO);
            return BreakerFuture {
                state: State::Refused {
                    open: Some(self.breaker.refusal(retry_in)),
                },
            };
        }
        match self.breaker.admit() {
            Ok(permit) => BreakerFuture {
                state: State::Called {
                    inner: self.inner.call(req),
                    permit: Some(permit),
                    breaker: self.breaker.clone(),
                },
            },
            Err(open) => BreakerFuture {
                state: State::Refused { open: Some(open) },
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of a [`BreakerService`].
    pub struct BreakerFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F> {
        Called {
            #[pin]
            inner: F,
            permit: Option<Permit>,
            breaker: CircuitBreaker,
        },
        Refused {
            open: Option<BreakerOpen>,
        },
    }
}

impl<F, T, E> Future for BreakerFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Signal,
{
    type Output = Result<T, BreakerError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Called {
                inner,
                permit,
                breaker,
            } => {
                let result = std::task::ready!(inner.poll(cx));
                if let Some(permit) = permit.take() {
                    permit.end(breaker.outcome_of(result.as_ref()));
                }
                Poll::Ready(result.map_err(BreakerError::Inner))
            }
            StateProj::Refused { open } => Poll::Ready(Err(BreakerError::Open(
                open.take()
                    .expect("a refused request's future is polled after it is done"),
            ))),
        }
    }
}

impl<F> fmt::Debug for BreakerFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerFuture").finish_non_exhaustive()
    }
}
