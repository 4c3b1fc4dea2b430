//! The reaction ladder: one pure function from a failure to the step that
//! answers it.
//!
//! The supervisor, [`Policy::retry`], the `tower` policy and the `backon`
//! adjustment all ask [`Policy::step`] what to do, and only carry the step
//! out (sleep, rebuild, stop), so they cannot drift apart. The ladder reads
//! no clock and needs no runtime: `now` and the proposed delay are given, and
//! what it changes is the restart window it is handed, and the policy's
//! retry budget when a retry draws on it.
//!
//! The rungs, in order:
//!
//! 1. the rule's reaction is [`Stop`](Reaction::Stop): stop
//!    ([`StopReason::Reaction`]);
//! 2. the call is [not idempotent](super::Call::idempotent) and the error
//!    does not say the request was [never sent](signal_core::vocab::NeverSent):
//!    stop ([`StopReason::MaybeProcessed`]);
//! 3. the rule's [maximum number of attempts](super::Rule::max_attempts) or
//!    its [budget](super::Rule::budget) of failures of its own kind is
//!    reached, or the caller's own backoff has ended (no proposed delay):
//!    stop ([`StopReason::Exhausted`]);
//! 4. the call has a [deadline](super::Call::deadline) and the wait before
//!    the next attempt (zero for a rebuild) is at least the time left:
//!    stop ([`StopReason::DeadlineExceeded`]);
//! 5. the policy's [circuit breaker](super::CircuitBreaker) will still be
//!    open when the wait is over: stop ([`StopReason::CircuitOpen`]; a
//!    worker's wait is first lengthened to the breaker's, so it waits
//!    instead);
//! 6. one more restart would exceed the [`Intensity`] within its window:
//!    stop ([`StopReason::IntensityExceeded`]);
//! 7. the policy has a [retry budget](super::RetryBudget), shared with
//!    other calls and workers, and it refuses the retry: stop
//!    ([`StopReason::BudgetExhausted`]; the restart is taken out of the
//!    window again);
//! 8. otherwise the restart is recorded in the window, and the rule's
//!    reaction is carried out: [rebuild](Step::Rebuild) its resource from the
//!    generation the failed attempt used, or [retry](Step::Retry) after the
//!    proposed delay.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::breaker::CircuitBreaker;
use super::budget::RetryBudget;
use super::intensity::Intensity;
use super::names::{ReactionName, StopReason};
#[cfg(test)]
use super::policy::RuleKey;
use super::policy::{Policy, Reaction, ResourceRef, RuleMatch};
use super::time;

/// One failure, as the reaction ladder sees it.
#[derive(Clone, Copy, Debug)]
pub struct Failed<'p> {
    /// The rule the policy picked for the error (or the panic).
    pub matched: RuleMatch<'p>,
    /// The failure's number (counted from 1) since the worker was last
    /// healthy or recovered, or since the call began.
    pub attempt: u32,
    /// The failure's number (counted from 1) among the failures of the
    /// matched rule's kind, over the same span: what the rule's
    /// [`budget`](super::Rule::budget) counts.
    pub spent: u32,
    /// The generation of the rule's resource that the failed attempt used;
    /// ignored unless the rule rebuilds.
    pub seen: u64,
    /// The wait before the next attempt, as the caller's backoff proposes
    /// it (jitter and Retry-After included); `None` when the caller's own
    /// backoff says to stop.
    pub proposed: Option<Duration>,
    /// The time left before the call's [deadline](super::Call::deadline);
    /// `None` when it has none (a worker, a plain [`Policy::retry`]).
    pub remaining: Option<Duration>,
    /// The call is [not idempotent](super::Call::idempotent) and its error
    /// does not carry [`NeverSent`](signal_core::vocab::NeverSent): the
    /// request may have been processed. `false` for a worker and an
    /// idempotent call.
    pub may_be_processed: bool,
}

/// What to do about one failure: the answer of [`Policy::step`].
#[derive(Clone, Debug)]
pub enum Step {
    /// Give up: a worker stops, a call returns its error.
    Stop(StopReason),
    /// Rebuild `resource` from generation `from` (once for everyone that
    /// saw that generation fail), then try again at once; if the rebuild
    /// fails, wait `after_failure` first.
    Rebuild {
        /// The resource to rebuild.
        resource: ResourceRef,
        /// The generation the failed attempt used.
        from: u64,
        /// The wait before the next attempt if the rebuild fails.
        after_failure: Duration,
    },
    /// Wait `delay`, then try again.
    Retry {
        /// The wait.
        delay: Duration,
    },
}

impl Step {
    /// The reaction this step carries out, for events, metrics and history.
    pub fn reaction(&self) -> ReactionName {
        match self {
            Step::Stop(_) => ReactionName::Stop,
            Step::Rebuild { .. } => ReactionName::Rebuild,
            Step::Retry { .. } => ReactionName::Retry,
        }
    }

    /// The wait before the next attempt: the retry's delay, zero for a
    /// rebuild (unless it fails) and for a stop.
    pub fn delay(&self) -> Duration {
        match self {
            Step::Retry { delay } => *delay,
            Step::Stop(_) | Step::Rebuild { .. } => Duration::ZERO,
        }
    }
}

impl Policy {
    /// The step that answers `failed`, by the reaction ladder: stop if the
    /// rule's reaction is to stop; stop if the call is not idempotent and
    /// the request may have been processed; stop if its attempt caps are reached or
    /// the caller's own backoff has ended; stop if the wait before the next
    /// attempt is at least the time left before the deadline; stop if one more restart would
    /// exceed the [`Intensity`]; stop if the policy's retry budget refuses
    /// the retry; otherwise rebuild or retry, as the rule says. A
    /// step that restarts is recorded in `restarts`, the restart window of
    /// the worker or call; the policy's [`Intensity`] bounds it.
    ///
    /// It reads no clock (`now` is given) and needs no runtime, so a
    /// custom retry loop can carry out the same steps as the supervisor;
    /// its one effect beyond `restarts` is the retry it withdraws from the
    /// policy's [`RetryBudget`](super::RetryBudget), if it has one (a loop
    /// of your own deposits its requests with
    /// [`RetryBudget::deposit`](super::RetryBudget::deposit)).
    ///
    /// ```
    /// use std::collections::VecDeque;
    /// use std::time::Duration;
    /// use signal_runtime::{Failed, Intensity, Policy, Reaction, Step, StopReason};
    /// use signal_core::Signal;
    ///
    /// #[derive(Debug, Signal)]
    /// enum MyError { Flaky }
    ///
    /// let policy = Policy::new().intensity(Intensity::new(1, Duration::from_secs(60)));
    /// let mut restarts = VecDeque::new();
    /// let now = tokio::time::Instant::now();
    /// let failed = |attempt| Failed {
    ///     matched: policy.rule_for(&MyError::Flaky),
    ///     attempt,
    ///     spent: attempt,
    ///     seen: 0,
    ///     proposed: Some(Duration::from_millis(100)),
    ///     remaining: None,
    ///     may_be_processed: false,
    /// };
    /// assert!(matches!(policy.step(failed(1), &mut restarts, now), Step::Retry { .. }));
    /// assert!(matches!(
    ///     policy.step(failed(2), &mut restarts, now),
    ///     Step::Stop(StopReason::IntensityExceeded)
    /// ));
    /// ```
    pub fn step(&self, failed: Failed<'_>, restarts: &mut VecDeque<Instant>, now: Instant) -> Step {
        let across = Across {
            budget: self.budget.as_ref(),
            breaker: self.breaker.as_ref(),
        };
        ladder(failed, &self.intensity, across, restarts, now)
    }
}

/// What the ladder shares with other calls: the policy's retry budget and
/// circuit breaker.
#[derive(Clone, Copy, Default)]
pub(crate) struct Across<'p> {
    pub(crate) budget: Option<&'p RetryBudget>,
    pub(crate) breaker: Option<&'p CircuitBreaker>,
}

impl Policy {
    /// [`step`](Self::step) for a worker: its wait is lengthened to cover
    /// the time the breaker stays open, so a worker waits for the breaker
    /// instead of stopping.
    pub(crate) fn step_worker(
        &self,
        mut failed: Failed<'_>,
        restarts: &mut VecDeque<Instant>,
        now: Instant,
    ) -> Step {
        if let (Some(breaker), Some(proposed)) = (&self.breaker, failed.proposed) {
            let open = breaker.open_at(now).unwrap_or(Duration::ZERO);
            failed.proposed = Some(proposed.max(open));
        }
        let across = Across {
            budget: self.budget.as_ref(),
            breaker: None,
        };
        ladder(failed, &self.intensity, across, restarts, now)
    }
}

/// The ladder itself, for any intensity.
pub(crate) fn ladder(
    failed: Failed<'_>,
    intensity: &Intensity,
    across: Across<'_>,
    restarts: &mut VecDeque<Instant>,
    now: Instant,
) -> Step {
    let rule = failed.matched.rule;
    let resource = match &rule.reaction {
        Reaction::Stop => return Step::Stop(StopReason::Reaction),
        Reaction::Retry => None,
        Reaction::Rebuild(resource) => Some(resource),
    };
    if failed.may_be_processed {
        return Step::Stop(StopReason::MaybeProcessed);
    }
    if rule.exhausted(failed.attempt, failed.spent) {
        return Step::Stop(StopReason::Exhausted);
    }
    let Some(delay) = failed.proposed else {
        return Step::Stop(StopReason::Exhausted);
    };
    // A rebuild tries again at once (unless it fails): its wait is zero.
    let wait = if resource.is_some() {
        Duration::ZERO
    } else {
        delay
    };
    if failed.remaining.is_some_and(|left| wait >= left) {
        return Step::Stop(StopReason::DeadlineExceeded);
    }
    if let Some(breaker) = across.breaker
        && breaker.open_at(time::after(now, wait)).is_some()
    {
        return Step::Stop(StopReason::CircuitOpen);
    }
    if intensity.record(restarts, now) {
        return Step::Stop(StopReason::IntensityExceeded);
    }
    if across
        .budget
        .is_some_and(|budget| !budget.try_withdraw(now))
    {
        restarts.pop_back();
        return Step::Stop(StopReason::BudgetExhausted);
    }
    match resource {
        Some(resource) => Step::Rebuild {
            resource: resource.clone(),
            from: failed.seen,
            after_failure: delay,
        },
        None => Step::Retry { delay },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Resource, Rule};

    fn rules(resource: &Resource<u8>) -> Vec<Rule> {
        let mut rules = Vec::new();
        for reaction in [Reaction::Retry, Reaction::rebuild(resource), Reaction::Stop] {
            rules.push(Rule::from(reaction.clone()));
            for max in [0, 1, 2, 3] {
                rules.push(reaction.clone().max_attempts(max));
                rules.push(reaction.clone().budget(max));
            }
        }
        rules
    }

    /// Every rule, attempt, proposal, window fill and window age: the step
    /// is the one the rungs name, and the window changes only on a restart.
    #[test]
    fn every_input_gets_the_step_of_its_rung() {
        let resource = Resource::new("db", 0u8, async || Ok::<_, std::io::Error>(1));
        let within = Duration::from_secs(10);
        let now = Instant::now() + Duration::from_secs(100);
        let mut checked = 0;
        for max_restarts in [0u32, 1, 3] {
            let intensity = Intensity::new(max_restarts, within);
            for rule in rules(&resource) {
                for (attempt, spent) in [(1, 1), (2, 1), (3, 2), (4, 4)] {
                    for proposed in [None, Some(Duration::ZERO), Some(Duration::MAX)] {
                        for remaining in [
                            None,
                            Some(Duration::ZERO),
                            Some(Duration::from_secs(1)),
                            Some(Duration::MAX),
                        ] {
                            for filled in 0..=4usize {
                                for age in
                                    [Duration::ZERO, within - Duration::from_millis(1), within]
                                {
                                    let window: VecDeque<_> =
                                        std::iter::repeat_n(now - age, filled).collect();
                                    let mut after = window.clone();
                                    let matched = RuleMatch {
                                        kind: None,
                                        key: RuleKey::Otherwise,
                                        rule: &rule,
                                    };
                                    let failed = Failed {
                                        matched,
                                        attempt,
                                        spent,
                                        seen: 7,
                                        proposed,
                                        remaining,
                                        may_be_processed: false,
                                    };
                                    let step = ladder(
                                        failed,
                                        &intensity,
                                        Across::default(),
                                        &mut after,
                                        now,
                                    );
                                    let live = if age >= within { 0 } else { filled };
                                    let exhausted = rule.max_attempts.is_some_and(|m| attempt >= m)
                                        || rule.budget.is_some_and(|b| spent >= b)
                                        || proposed.is_none();
                                    let expected = match &rule.reaction {
                                        Reaction::Stop => "stop:reaction",
                                        _ if exhausted => "stop:exhausted",
                                        Reaction::Retry
                                            if remaining
                                                .is_some_and(|left| proposed >= Some(left)) =>
                                        {
                                            "stop:deadline"
                                        }
                                        Reaction::Rebuild(_)
                                            if remaining == Some(Duration::ZERO) =>
                                        {
                                            "stop:deadline"
                                        }
                                        _ if live + 1 > max_restarts as usize => "stop:intensity",
                                        Reaction::Retry => "retry",
                                        Reaction::Rebuild(_) => "rebuild",
                                    };
                                    let got = match &step {
                                        Step::Stop(StopReason::Reaction) => "stop:reaction",
                                        Step::Stop(StopReason::Exhausted) => "stop:exhausted",
                                        Step::Stop(StopReason::IntensityExceeded) => {
                                            "stop:intensity"
                                        }
                                        Step::Stop(StopReason::DeadlineExceeded) => "stop:deadline",
                                        Step::Stop(StopReason::BudgetExhausted) => "stop:budget",
                                        Step::Stop(StopReason::MaybeProcessed) => "stop:maybe",
                                        Step::Stop(StopReason::CircuitOpen) => "stop:breaker",
                                        Step::Retry { delay } => {
                                            assert_eq!(Some(*delay), proposed);
                                            "retry"
                                        }
                                        Step::Rebuild {
                                            resource: rebuilt,
                                            from,
                                            after_failure,
                                        } => {
                                            assert_eq!(*from, 7);
                                            assert_eq!(Some(*after_failure), proposed);
                                            assert_eq!(rebuilt.name(), "db");
                                            "rebuild"
                                        }
                                    };
                                    assert_eq!(
                                        got, expected,
                                        "{rule:?} attempt {attempt} proposed {proposed:?} remaining {remaining:?} \
                                     window {filled} aged {age:?} intensity {max_restarts}"
                                    );
                                    // The window: untouched by the first rungs; on
                                    // the intensity rung and after, the expired
                                    // restarts leave and this one is recorded.
                                    match expected {
                                        "stop:reaction" | "stop:exhausted" | "stop:deadline" => {
                                            assert_eq!(after, window);
                                        }
                                        _ => assert_eq!(after.len(), live + 1),
                                    }
                                    if matches!(step, Step::Retry { .. } | Step::Rebuild { .. }) {
                                        assert!(after.len() <= max_restarts as usize);
                                    }
                                    checked += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 3 * 27 * 4 * 3 * 4 * 5 * 3);
    }

    /// The budget rung: a refused retry stops and leaves the window as it
    /// was; an allowed one retries and withdraws. Before it, the other
    /// rungs stop without withdrawing.
    #[tokio::test(start_paused = true)]
    async fn a_refused_retry_stops_and_leaves_the_window_as_it_was() {
        let budget = RetryBudget::new("b", 0.0, 1, Duration::from_secs(1)).unwrap();
        let retry = Rule::from(Reaction::Retry);
        let stop = Rule::from(Reaction::Stop);
        let failed = |rule| Failed {
            matched: RuleMatch {
                kind: None,
                key: RuleKey::Otherwise,
                rule,
            },
            attempt: 1,
            spent: 1,
            seen: 0,
            proposed: Some(Duration::from_millis(5)),
            remaining: None,
            may_be_processed: false,
        };
        let intensity = Intensity::new(10, Duration::from_secs(10));
        let now = Instant::now();
        let mut window = VecDeque::new();
        let with = |budget| Across {
            budget: Some(budget),
            breaker: None,
        };
        let step = ladder(failed(&stop), &intensity, with(&budget), &mut window, now);
        assert!(matches!(step, Step::Stop(StopReason::Reaction)));
        assert_eq!(budget.stats().retries, 0);
        let step = ladder(failed(&retry), &intensity, with(&budget), &mut window, now);
        assert!(matches!(step, Step::Retry { .. }));
        assert_eq!((window.len(), budget.stats().retries), (1, 1));
        let step = ladder(failed(&retry), &intensity, with(&budget), &mut window, now);
        assert!(matches!(step, Step::Stop(StopReason::BudgetExhausted)));
        assert_eq!((window.len(), budget.stats().refused), (1, 1));
        // Without the budget, the same failure retries.
        let step = ladder(
            failed(&retry),
            &intensity,
            Across::default(),
            &mut window,
            now,
        );
        assert!(matches!(step, Step::Retry { .. }));
    }

    /// The idempotency rung stops a retry or a rebuild, after a stop
    /// reaction and before every limit.
    #[test]
    fn a_request_that_may_have_been_processed_is_not_repeated() {
        let resource = Resource::new("db", 0u8, async || Ok::<_, std::io::Error>(1));
        let intensity = Intensity::new(10, Duration::from_secs(10));
        let now = Instant::now();
        for rule in rules(&resource) {
            for may_be_processed in [false, true] {
                let failed = Failed {
                    matched: RuleMatch {
                        kind: None,
                        key: RuleKey::Otherwise,
                        rule: &rule,
                    },
                    attempt: 1,
                    spent: 1,
                    seen: 0,
                    proposed: None,
                    remaining: Some(Duration::ZERO),
                    may_be_processed,
                };
                let step = ladder(
                    failed,
                    &intensity,
                    Across::default(),
                    &mut VecDeque::new(),
                    now,
                );
                let expected = match (&rule.reaction, may_be_processed) {
                    (Reaction::Stop, _) => StopReason::Reaction,
                    (_, true) => StopReason::MaybeProcessed,
                    (_, false) => StopReason::Exhausted,
                };
                assert!(
                    matches!(step, Step::Stop(reason) if reason == expected),
                    "{rule:?} {may_be_processed}: {step:?}"
                );
            }
        }
    }

    #[test]
    fn the_step_names_its_reaction_and_delay() {
        let retry = Step::Retry {
            delay: Duration::from_secs(2),
        };
        assert_eq!(retry.reaction(), ReactionName::Retry);
        assert_eq!(retry.delay(), Duration::from_secs(2));
        let stop = Step::Stop(StopReason::Reaction);
        assert_eq!(stop.reaction(), ReactionName::Stop);
        assert_eq!(stop.delay(), Duration::ZERO);
    }
}
