//! The policy as [`backon`] pieces (feature `backon`): a backoff, a `when`
//! and an `adjust`, for code that already retries with `backon`.

use std::time::Duration;

use super::backoff::{Delays, Jitter};
use super::policy::{Policy, Reaction};
use crate::Signal;

impl Policy {
    /// The policy's backoff as a `backon` backoff: its jittered delays, at
    /// most as many as its [`Intensity`](super::Intensity) allows restarts.
    ///
    /// Use it with [`backon_when`](Self::backon_when) and
    /// [`backon_adjust`](Self::backon_adjust), which apply the rules:
    ///
    /// ```
    /// use std::time::Duration;
    /// use backon::Retryable;
    /// use signal_core::runtime::{Backoff, Policy, Reaction};
    /// use signal_core::{Signal, kind};
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
    ///     .otherwise(Reaction::Stop)
    ///     .backoff(Backoff::new(Duration::from_millis(10), Duration::from_secs(1)));
    /// let mut calls = 0;
    /// let result = (|| {
    ///     calls += 1;
    ///     std::future::ready(Err::<(), _>(FetchError::Timeout))
    /// })
    /// .retry(policy.backon_backoff())
    /// .when(policy.backon_when())
    /// .adjust(policy.backon_adjust())
    /// .await;
    /// assert!(result.is_err());
    /// assert_eq!(calls, 3); // the rule's maximum
    /// # }
    /// ```
    pub fn backon_backoff(&self) -> impl backon::BackoffBuilder + use<> {
        let restarts = usize::try_from(self.intensity.max_restarts).unwrap_or(usize::MAX);
        BackonDelays(self.backoff.delays().take(restarts))
    }

    /// `backon`'s `when`: retry unless the error's rule stops.
    pub fn backon_when<E: Signal + ?Sized>(&self) -> impl FnMut(&E) -> bool + '_ {
        |error| !matches!(self.rule_for(error).rule.reaction, Reaction::Stop)
    }

    /// `backon`'s `adjust`: gives up when the error's rule has used its
    /// [maximum number of attempts](super::Rule::max_attempts), and waits
    /// for the rule's own backoff (or the policy's) lengthened to the
    /// error's [Retry-After](Self::honour_retry_after), instead of the
    /// delay `backon` proposes. Keep one per call: it counts the attempts.
    pub fn backon_adjust<E: Signal + 'static>(
        &self,
    ) -> impl FnMut(&E, Option<Duration>) -> Option<Duration> + '_ {
        let mut attempt = 0u32;
        let mut jitter = Jitter::new(self.seed(), u64::from(attempt));
        move |error, _proposed| {
            attempt = attempt.saturating_add(1);
            let rule = self.rule_for(error).rule;
            if rule.exhausted(attempt) {
                return None;
            }
            Some(self.delay_after(rule, attempt, Some(error), &mut jitter))
        }
    }
}

/// [`Delays`], bounded, as `backon` takes them.
#[derive(Debug)]
struct BackonDelays(std::iter::Take<Delays>);

impl Iterator for BackonDelays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.0.next()
    }
}
