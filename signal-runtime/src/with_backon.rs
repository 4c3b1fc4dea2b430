//! The policy as [`backon`] pieces (feature `backon`): a backoff, a `when`
//! and an `adjust`, for code that already retries with `backon`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::backoff::Delays;
use super::intensity::Intensity;
use super::ladder::Step;
use super::log::Subject;
use super::policy::{Policy, Reaction};
use super::retry::{Attempts, Limits, Seen};
use super::{lock, time};
use signal_core::Signal;

impl Policy {
    /// The policy's backoff as a `backon` backoff: its jittered delays, for
    /// as long as its [`Intensity`] allows: the restarts they space out are
    /// counted in the intensity's window (a sliding one, as a supervisor's),
    /// so a slow retry goes on and a fast one stops.
    ///
    /// Use it with [`backon_adjust`](Self::backon_adjust), which applies the
    /// rules (and [`backon_when`](Self::backon_when), which filters out the
    /// errors whose rule stops):
    ///
    /// ```
    /// use std::time::Duration;
    /// use backon::Retryable;
    /// use signal_runtime::{Backoff, Policy, Reaction};
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
        BackonDelays {
            delays: self.backoff.delays(),
            intensity: self.intensity,
            restarts: VecDeque::new(),
        }
    }

    /// `backon`'s `when`: retry unless the error's rule stops. (The errors
    /// it filters out are not reported; without it, `backon_adjust` stops
    /// on them and reports each.)
    pub fn backon_when<E: Signal + ?Sized>(&self) -> impl FnMut(&E) -> bool + '_ {
        |error| !matches!(self.rule_for(error).rule.reaction, Reaction::Stop)
    }

    /// `backon`'s `adjust`: answers each failure by the same reaction ladder
    /// as a supervisor ([`Policy::step`]), with one event and one metric per
    /// step. Keep one per call: it counts the call's attempts, keeps its
    /// restart window and draws its jitter from a stream of its own; made,
    /// it counts the call as one request in the policy's
    /// [retry budget](super::RetryBudget).
    ///
    /// * It gives up (`None`) when `backon`'s own backoff has ended (it
    ///   proposes `None`), when the rule stops or has used its
    ///   [maximum number of attempts](super::Rule::max_attempts), and when
    ///   the restarts within the policy's [`Intensity`] window exceed its
    ///   limit.
    /// * Otherwise it waits for the rule's own backoff (or the policy's),
    ///   lengthened to the error's [Retry-After](Self::honour_retry_after),
    ///   instead of the delay `backon` proposes.
    /// * A [`Rebuild`](Reaction::Rebuild) rule starts the rebuild of its
    ///   resource (single-flight, from the generation the failed attempt
    ///   used), in a task of its own, since `adjust` cannot wait for it, and
    ///   the next attempt comes after the rule's backoff; needs a tokio
    ///   runtime. `backon` does not say when an attempt starts, so the
    ///   generation an attempt used is taken as the one read at the failure
    ///   before it, or the one the rebuild that failure started produced if
    ///   it was done when the attempt began. A rebuild by another caller in
    ///   between goes uncounted: the rebuild then asked for is a no-op (one
    ///   more attempt), never the rebuild of a healthy new generation.
    pub fn backon_adjust<E: Signal + 'static>(
        &self,
    ) -> impl FnMut(&E, Option<Duration>) -> Option<Duration> + '_ {
        self.backon_adjust_named("backon")
    }

    /// [`backon_adjust`](Self::backon_adjust), for a call named `name` in
    /// its events and metrics (`backon_adjust` names it `backon`).
    pub fn backon_adjust_named<'p, E: Signal + 'static>(
        &'p self,
        name: &'p str,
    ) -> impl FnMut(&E, Option<Duration>) -> Option<Duration> + 'p {
        let mut attempts = Attempts::new();
        // One `adjust` per call: the call is one request for the budget
        // (taken back if a breaker refuses its first attempt).
        attempts.deposit(self);
        self.adjust_with(name, Arc::new(Mutex::new(attempts)))
    }

    /// The `adjust` of [`backon_adjust_named`](Self::backon_adjust_named),
    /// on `attempts`, which a [`BackonGuard`](super::BackonGuard) shares
    /// with the attempts it guards.
    pub(crate) fn adjust_with<'p, E: Signal + 'static>(
        &'p self,
        name: &'p str,
        attempts: Arc<Mutex<Attempts>>,
    ) -> impl FnMut(&E, Option<Duration>) -> Option<Duration> + 'p {
        // `backon` calls `adjust` only once an attempt has failed, never when
        // one starts, so the generations an attempt used are bounded from
        // below: those read at the failure before it (or when the closure was
        // built), raised by the rebuild that failure spawned if that rebuild
        // was done by the time the next attempt began. A rebuild another
        // caller finished in the meantime is not counted: the rebuild asked
        // for is then a no-op, never one of a healthy new generation.
        let mut seen = Seen::now(self);
        let mut pending: Option<OwnRebuild> = None;
        move |error, proposed| {
            if let Some(own) = pending.take() {
                let done = *own.done.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((at, generation)) = done
                    && at <= own.next_attempt
                {
                    seen.raise(own.resource, generation);
                }
            }
            let step = lock(&attempts).step(
                self,
                Subject::Call,
                name,
                error,
                &seen,
                Limits {
                    backoff_over: proposed.is_none(),
                    ..Limits::default()
                },
            );
            seen = Seen::now(self);
            match step {
                Step::Stop(_) => None,
                Step::Retry { delay } => Some(delay),
                Step::Rebuild {
                    resource,
                    from,
                    after_failure,
                } => {
                    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                        let done = Arc::new(Mutex::new(None));
                        pending = Some(OwnRebuild {
                            resource: resource.0.id(),
                            next_attempt: time::after(Instant::now(), after_failure),
                            done: Arc::clone(&done),
                        });
                        runtime.spawn(async move {
                            // A failure is the resource's to report.
                            if let Ok(generation) = resource.0.rebuild_from(from).await {
                                *done.lock().unwrap_or_else(|e| e.into_inner()) =
                                    Some((Instant::now(), generation));
                            }
                        });
                    }
                    Some(after_failure)
                }
            }
        }
    }
}

/// The rebuild a `backon_adjust` step spawned: which resource, when the next
/// attempt starts, and when the rebuild ended with which generation.
struct OwnRebuild {
    resource: usize,
    next_attempt: Instant,
    done: Arc<Mutex<Option<(Instant, u64)>>>,
}

/// [`Delays`], ended by the intensity, as `backon` takes them. `backon`
/// asks for the next delay when an attempt has failed, so each restart is
/// recorded at that moment on tokio's clock: the window slides as a
/// supervisor's (and `Policy::retry`'s) does, however long the attempts
/// take.
#[derive(Debug)]
struct BackonDelays {
    delays: Delays,
    intensity: Intensity,
    restarts: VecDeque<Instant>,
}

impl Iterator for BackonDelays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.intensity.record(&mut self.restarts, Instant::now()) {
            return None;
        }
        self.delays.next()
    }
}
