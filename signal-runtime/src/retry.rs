//! Per-call retry: one fallible call, retried by the same [`Policy`] that
//! supervises workers.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::attempt_log::{AttemptLog, AttemptRecord};
use super::backoff::Jitter;
use super::breaker::{BreakerOpen, BreakerRefused};
use super::ladder::{Failed, Step};
use super::log::{Report, Subject};
use super::metrics;
use super::names::{ReactionName, StopReason};
use super::policy::{Policy, RuleKey, RuleMatch};
use super::retry_state::spend;
use signal_core::Signal;
use signal_core::vocab::NeverSent;

/// The generation of each resource the policy may rebuild, as an attempt
/// found it when it started.
#[derive(Clone, Debug, Default)]
pub(crate) struct Seen(Vec<(usize, u64)>);

impl Seen {
    pub(crate) fn now(policy: &Policy) -> Seen {
        Seen(
            policy
                .resources()
                .map(|resource| (resource.0.id(), resource.generation()))
                .collect(),
        )
    }

    /// Raises the generation recorded for the resource `id` to `generation`
    /// (generations only grow).
    #[cfg(feature = "backon")]
    pub(crate) fn raise(&mut self, id: usize, generation: u64) {
        match self.0.iter_mut().find(|(known, _)| *known == id) {
            Some((_, known)) => *known = (*known).max(generation),
            None => self.0.push((id, generation)),
        }
    }

    /// The generation of the matched rule's resource the attempt used (0
    /// when the rule does not rebuild).
    pub(crate) fn of(&self, matched: &RuleMatch<'_>) -> u64 {
        matched.resource().map_or(0, |resource| {
            let id = resource.0.id();
            self.0
                .iter()
                .find(|(known, _)| *known == id)
                .map_or_else(|| resource.generation(), |&(_, generation)| generation)
        })
    }
}

/// What bounds one call beyond its policy.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Limits {
    /// The caller's own backoff has ended (`backon`'s end).
    pub(crate) backoff_over: bool,
    /// The call's deadline ([`Call::deadline`](super::Call::deadline)).
    pub(crate) deadline: Option<Instant>,
    /// The call is not idempotent ([`Call::idempotent`](super::Call::idempotent)).
    pub(crate) non_idempotent: bool,
}

/// One call's (or request's) side of the ladder: its attempt count, its
/// restart window and its jitter stream.
#[derive(Clone, Debug)]
pub(crate) struct Attempts {
    pub(crate) attempt: u32,
    by_rule: Vec<(RuleKey, u32)>,
    pub(crate) restarts: VecDeque<Instant>,
    pub(crate) jitter: Option<Jitter>,
    /// Every failed attempt, bounded.
    pub(crate) log: AttemptLog,
    /// When the call was counted as a request in the policy's budget.
    deposited: Option<Instant>,
    /// When the ladder took the retry about to be made from the budget.
    retry_taken: Option<Instant>,
    /// The same, until the retry starts: a call dropped in its backoff
    /// gives it back (`backon`'s, through a [`BackonGuard`](super::BackonGuard)).
    #[cfg(feature = "backon")]
    pub(crate) unstarted: Option<Instant>,
}

impl Attempts {
    pub(crate) fn new() -> Self {
        Attempts {
            attempt: 0,
            by_rule: Vec::new(),
            restarts: VecDeque::new(),
            jitter: None,
            log: AttemptLog::default(),
            deposited: None,
            retry_taken: None,
            #[cfg(feature = "backon")]
            unstarted: None,
        }
    }

    /// Counts the call as one request in the policy's retry budget, if it
    /// has one.
    pub(crate) fn deposit(&mut self, policy: &Policy) {
        if let Some(budget) = policy.budget() {
            let now = Instant::now();
            budget.deposit_at(now);
            self.deposited = Some(now);
        }
    }

    /// The attempt about to be made, or just made, was refused by a circuit
    /// breaker: nothing was sent. The first attempt's request is taken back
    /// from the budget, a later attempt's retry is given back.
    pub(crate) fn not_sent(&mut self, policy: &Policy) {
        let Some(budget) = policy.budget() else {
            return;
        };
        if self.attempt == 0 {
            if let Some(made) = self.deposited.take() {
                budget.take_back(made);
            }
        } else if let Some(taken) = self.retry_taken.take() {
            budget.give_back(taken);
        }
        #[cfg(feature = "backon")]
        {
            self.unstarted = None;
        }
    }

    /// The step that answers `error`, from the ladder, with its one event and
    /// its one metric, within the call's `limits`.
    pub(crate) fn step<E: Signal + 'static>(
        &mut self,
        policy: &Policy,
        subject: Subject,
        name: &str,
        error: &E,
        seen: &Seen,
        limits: Limits,
    ) -> Step {
        let now = Instant::now();
        if error.has::<BreakerRefused>() {
            // Refused by a breaker on its way (a `tower` layer's, or one the
            // attempt asked itself): no traffic.
            self.not_sent(policy);
        }
        self.attempt = self.attempt.saturating_add(1);
        let attempt = self.attempt;
        let matched = policy.rule_for(error);
        let rule = matched.rule;
        let trace = matched.kind.and_then(|kind| error.trace_kind(kind));
        let report = Report {
            subject,
            worker: name,
            attempt,
            kind: matched.kind,
            trace: trace.as_ref(),
            error_type: std::any::type_name::<E>(),
        };
        // Its own stream, drawn at the first failure: no two calls retry in
        // lockstep.
        let jitter = self.jitter.get_or_insert_with(Jitter::fresh);
        let (delay, reader_panic) = policy.delay_after(rule, attempt, Some(error), jitter);
        if reader_panic.is_some() {
            report.reader_panicked();
        }
        let failed = Failed {
            matched,
            attempt,
            spent: spend(&mut self.by_rule, matched.key),
            seen: seen.of(&matched),
            proposed: (!limits.backoff_over).then_some(delay),
            remaining: limits.deadline.map(|at| at.saturating_duration_since(now)),
            may_be_processed: limits.non_idempotent && !error.has::<NeverSent>(),
        };
        let step = policy.step(failed, &mut self.restarts, now);
        // A step that tries again withdrew from the budget, now.
        self.retry_taken = match step {
            Step::Stop(_) => None,
            Step::Retry { .. } | Step::Rebuild { .. } => policy.budget().map(|_| now),
        };
        #[cfg(feature = "backon")]
        {
            self.unstarted = self.retry_taken;
        }
        let mut record = AttemptRecord::of(policy, attempt, matched.kind, trace.clone(), error);
        record.delay = match &step {
            Step::Stop(_) => None,
            Step::Retry { delay } => Some(*delay),
            Step::Rebuild { .. } => Some(Duration::ZERO),
        };
        self.log.push(record);
        report.step(rule.level, &step, policy, self.restarts.len());
        let stopped = match step {
            Step::Stop(reason) => Some(reason),
            _ => None,
        };
        metrics::step(subject, name, step.reaction(), stopped, matched.kind, false);
        step
    }

    /// Carries out a step that tries again: the retry's wait, or the
    /// rebuild (and the wait if it failed). Dropped before it is done (the
    /// call was dropped), it gives back to the policy's budget the retry
    /// the step withdrew: the retry is never made.
    pub(crate) async fn carry_out(
        &self,
        policy: &Policy,
        subject: Subject,
        name: &str,
        step: &Step,
    ) {
        let withdrawn = policy.budget().map(|budget| budget.hold(self.retry_taken));
        self.wait_out(subject, name, step).await;
        if let Some(withdrawn) = withdrawn {
            withdrawn.made();
        }
    }

    async fn wait_out(&self, subject: Subject, name: &str, step: &Step) {
        match step {
            Step::Rebuild {
                resource,
                from,
                after_failure,
            } => {
                if resource.0.rebuild_from(*from).await.is_err() {
                    let report = Report {
                        subject,
                        worker: name,
                        attempt: self.attempt,
                        kind: None,
                        trace: None,
                        error_type: "",
                    };
                    report.rebuild_failed(resource.name(), *after_failure);
                    tokio::time::sleep(*after_failure).await;
                }
            }
            Step::Retry { delay } => tokio::time::sleep(*delay).await,
            Step::Stop(_) => {}
        }
    }
}

impl Policy {
    /// Calls `op` until it succeeds, reacting to each failure as a
    /// supervisor would react to a worker's: by the kinds the error carries,
    /// through the same reaction ladder ([`Policy::step`]).
    ///
    /// * [`Retry`](super::Reaction::Retry): waits for the rule's backoff (or the
    ///   policy's), lengthened to the error's
    ///   [Retry-After](Self::honour_retry_after) if it has one, then calls
    ///   again.
    /// * [`Rebuild`](super::Reaction::Rebuild): rebuilds the resource (once for all
    ///   the callers and workers that saw the same generation fail), then
    ///   calls again at once; if the rebuild fails, backs off first.
    /// * [`Stop`](super::Reaction::Stop): returns the error.
    ///
    /// It also returns the error when the rule's
    /// [maximum number of attempts](super::Rule::max_attempts) is
    /// reached, or when the retries within the policy's
    /// [`Intensity`](super::Intensity) window exceed its limit. Each failure
    /// is reported by one `tracing` event (as a supervisor's, with `worker`
    /// set to `name`) and one metric. Each call draws its jitter from a
    /// stream of its own. A panic in `op` is not caught: it unwinds through
    /// the caller, as without retries; a panic in a Retry-After reader is
    /// logged and the reader's answer ignored.
    ///
    /// `op` is an async closure, or a closure returning a future; it may
    /// borrow from its surroundings, since the call runs in the caller's
    /// task. For a deadline, and an error that says why the call gave up,
    /// use [`Policy::call`].
    ///
    /// With a [circuit breaker](Self::breaker), every attempt's outcome is
    /// counted and no retry is made while it is open, but the first attempt
    /// is made whatever its state, since an error of type `E` cannot say
    /// "refused": to fail fast, use [`retry_guarded`](Self::retry_guarded)
    /// (for an `E: From<BreakerOpen>`) or [`Policy::call`].
    ///
    /// The error returned is the last attempt's, as it is. If it carries
    /// [`NeverSent`] while an earlier attempt may have reached the peer, a
    /// caller that is not idempotent would take the whole call for one that
    /// never left: nest [`Policy::call`] instead, whose
    /// [`RetryError`](super::RetryError) says "never sent" only when no
    /// attempt may have been sent.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::time::Duration;
    /// use signal_runtime::{Backoff, Policy, Reaction};
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
    pub async fn retry<F, T, E>(&self, name: &str, op: F) -> Result<T, E>
    where
        F: AsyncFnMut() -> Result<T, E>,
        E: Signal + 'static,
    {
        self.retry_loop(name, op, None).await
    }

    /// [`retry`](Self::retry), failing fast while the policy's
    /// [circuit breaker](Self::breaker) is open: each attempt asks the
    /// breaker first, so a call against an open breaker sends nothing.
    ///
    /// Refused before its first attempt, the call returns
    /// `E::from(BreakerOpen)`: give your error a variant that forwards
    /// [`BreakerOpen`], and it raises
    /// [`BreakerRefused`](super::BreakerRefused), that is
    /// [`Unavailable`](signal_core::vocab::Unavailable) (callers upstream
    /// react to a dependency that cannot serve) and
    /// [`NeverSent`](signal_core::vocab::NeverSent) (nothing left, so even a
    /// call that is not idempotent may try it again). The refused call is no
    /// request for the [retry budget](super::RetryBudget). Refused before a
    /// retry (the breaker opened during the wait), it returns the last
    /// attempt's error, as when the ladder stops a retry for an open breaker
    /// ([`StopReason::CircuitOpen`](super::StopReason::CircuitOpen)), and
    /// the retry is given back to the budget; a `NeverSent` there would
    /// not hold for the attempts before. While the breaker is half-open,
    /// the attempt takes a probe's place (given back if `op` panics or the
    /// call is dropped).
    ///
    /// Without a breaker it is [`retry`](Self::retry). For the reason a
    /// call gave up and every attempt's error, use [`Policy::call`], which
    /// fails fast with [`RetryError::CircuitOpen`](super::RetryError::CircuitOpen)
    /// for any error type.
    ///
    /// ```
    /// use signal_core::Signal;
    /// use signal_core::vocab::{NeverSent, TransientNetwork, Unavailable};
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
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let breaker = CircuitBreaker::builder("api").counts::<TransientNetwork>().min_calls(1).build().unwrap();
    /// let policy = Policy::new().otherwise(Reaction::Stop).breaker(&breaker);
    /// let mut sent = 0;
    /// // A reset opens the breaker...
    /// let _ = policy.retry_guarded("api", async || { sent += 1; Err::<(), _>(ApiError::Reset) }).await;
    /// assert_eq!(breaker.state(), BreakerState::Open);
    /// // ... and the next call fails fast, sending nothing.
    /// let error = policy.retry_guarded("api", async || { sent += 1; Ok(()) }).await.unwrap_err();
    /// assert!(matches!(error, ApiError::Refused(_)));
    /// assert!(error.has::<Unavailable>() && error.has::<NeverSent>());
    /// assert_eq!(sent, 1);
    /// # }
    /// ```
    pub async fn retry_guarded<F, T, E>(&self, name: &str, op: F) -> Result<T, E>
    where
        F: AsyncFnMut() -> Result<T, E>,
        E: Signal + From<BreakerOpen> + 'static,
    {
        self.retry_loop(name, op, Some(E::from)).await
    }

    /// The loop of [`retry`](Self::retry) and
    /// [`retry_guarded`](Self::retry_guarded) (`refused`: how to say that
    /// the breaker refused the first attempt). The loop of `Call::run`
    /// without limits, written out: wrapping `op` in an async closure of its
    /// own would make the future lose `Send` for closures that capture by
    /// move.
    async fn retry_loop<F, T, E>(
        &self,
        name: &str,
        mut op: F,
        refused: Option<fn(BreakerOpen) -> E>,
    ) -> Result<T, E>
    where
        F: AsyncFnMut() -> Result<T, E>,
        E: Signal + 'static,
    {
        let mut attempts = Attempts::new();
        let guard = self.breaker.as_ref().zip(refused);
        let mut previous: Option<E> = None;
        loop {
            let permit = match guard.map(|(breaker, refused)| (breaker.admit(), refused)) {
                None => None,
                Some((Ok(permit), _)) => Some(permit),
                Some((Err(open), refused)) => {
                    // The retry the budget allowed is not made.
                    attempts.not_sent(self);
                    report_refused(name, &open, attempts.attempt);
                    return Err(match previous {
                        Some(last) => last,
                        None => refused(open),
                    });
                }
            };
            if attempts.attempt == 0 {
                // A request, once let through.
                attempts.deposit(self);
            }
            let seen = Seen::now(self);
            let result = op().await;
            if let Some(breaker) = &self.breaker {
                let outcome = breaker.outcome_of(result.as_ref());
                match (permit, outcome) {
                    (Some(permit), outcome) => permit.end(outcome),
                    // Unguarded: not asked before the attempt (there is no
                    // error of type `E` to return), counted after it.
                    // Retries are not made while it is open (the ladder's
                    // rung).
                    (None, Some(outcome)) => breaker.record(outcome),
                    (None, None) => {}
                }
            }
            let error = match result {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let step = attempts.step(self, Subject::Call, name, &error, &seen, Limits::default());
            if let Step::Stop(_) = step {
                return Err(error);
            }
            attempts.carry_out(self, Subject::Call, name, &step).await;
            previous = Some(error);
        }
    }
}

/// A call the breaker refused: failing fast is the breaker working, so a
/// metric and an event at DEBUG only (its opening was the WARN).
pub(crate) fn report_refused(name: &str, open: &BreakerOpen, attempt: u32) {
    tracing::debug!(
        worker = name,
        reason = StopReason::CircuitOpen.as_str(),
        breaker = &*open.breaker,
        attempt,
        "call refused; the circuit breaker is open"
    );
    metrics::step(
        Subject::Call,
        name,
        ReactionName::Stop,
        Some(StopReason::CircuitOpen),
        None,
        false,
    );
}
