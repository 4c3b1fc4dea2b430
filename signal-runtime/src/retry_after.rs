//! Retry-After: an error that says how long to wait before the next attempt.

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// An error that may say when to try again, as an HTTP `Retry-After` header
/// or a gRPC `RetryInfo` does.
///
/// A [`Policy`](super::Policy) honours it for the error types it was told
/// about with [`honour_retry_after`](super::Policy::honour_retry_after): the
/// wait before the next attempt is then the longer of the backoff's delay
/// and the error's, capped at the backoff's [`max`](super::Backoff::max).
/// For a type you do not own, give the policy a function instead
/// ([`retry_after_with`](super::Policy::retry_after_with)).
///
/// ```
/// use std::time::Duration;
/// use signal_runtime::RetryAfter;
///
/// struct TooManyRequests {
///     retry_after: Option<Duration>,
/// }
///
/// impl RetryAfter for TooManyRequests {
///     fn retry_after(&self) -> Option<Duration> {
///         self.retry_after
///     }
/// }
/// ```
pub trait RetryAfter {
    /// How long to wait before the next attempt, if the error says.
    fn retry_after(&self) -> Option<Duration>;
}

type Hook = Arc<dyn Fn(&dyn Any) -> Option<Duration> + Send + Sync>;

/// The Retry-After readers a policy knows, by error type.
#[derive(Clone, Default)]
pub(crate) struct RetryAfterHooks(Vec<(TypeId, Hook)>);

impl RetryAfterHooks {
    pub(crate) fn add<E: 'static>(
        &mut self,
        read: impl Fn(&E) -> Option<Duration> + Send + Sync + 'static,
    ) {
        let hook: Hook = Arc::new(move |error: &dyn Any| error.downcast_ref::<E>().and_then(&read));
        self.0.retain(|(id, _)| *id != TypeId::of::<E>());
        self.0.push((TypeId::of::<E>(), hook));
    }

    /// What `error` says, if its type has a reader; `Err` with the panic's
    /// message if the reader panicked.
    pub(crate) fn read<E: 'static>(&self, error: &E) -> Result<Option<Duration>, Arc<str>> {
        let id = TypeId::of::<E>();
        match self.0.iter().find(|(known, _)| *known == id) {
            Some((_, read)) => super::unwind::call(|| read(error)),
            None => Ok(None),
        }
    }
}

impl fmt::Debug for RetryAfterHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(id, _)| id))
            .finish()
    }
}
