//! Reactions by kind: what a supervisor does with a failure.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tracing::Level;

use super::backoff::{Backoff, Jitter};
use super::breaker::CircuitBreaker;
use super::budget::RetryBudget;
use super::intensity::Intensity;
use super::names::ReactionName;
use super::resource::{Rebuildable, Resource};
use super::retry_after::{RetryAfter, RetryAfterHooks};
use signal_core::{Kind, KindId, Signal};

/// What a supervisor does when its worker fails.
#[derive(Clone, Debug)]
pub enum Reaction {
    /// Wait for the next [`Backoff`] delay, then restart the worker.
    Retry,
    /// Rebuild the shared resource (once, however many workers ask at the
    /// same time), then restart the worker at once. If the rebuild fails, the
    /// worker backs off before restarting.
    Rebuild(ResourceRef),
    /// Stop the worker and surface a [`SupervisorError`](super::SupervisorError).
    /// A stopped worker waits for [`recover`](super::WorkerHandle::recover).
    Stop,
}

impl Reaction {
    /// Rebuild `resource`, then restart.
    pub fn rebuild<T: Send + Sync + 'static>(resource: &Resource<T>) -> Reaction {
        Reaction::Rebuild(ResourceRef(resource.erased()))
    }

    /// This reaction's name (for events, metrics and history).
    pub fn name(&self) -> ReactionName {
        match self {
            Reaction::Retry => ReactionName::Retry,
            Reaction::Rebuild(_) => ReactionName::Rebuild,
            Reaction::Stop => ReactionName::Stop,
        }
    }

    /// The level a [`Rule`] made from this reaction logs at: WARN for
    /// [`Retry`](Reaction::Retry) (the error was classified as worth retrying,
    /// typically a transient network blip), ERROR otherwise.
    pub fn default_level(&self) -> Level {
        match self {
            Reaction::Retry => Level::WARN,
            Reaction::Rebuild(_) | Reaction::Stop => Level::ERROR,
        }
    }

    /// This reaction, logged at `level`.
    pub fn at(self, level: Level) -> Rule {
        Rule {
            reaction: self,
            level,
            backoff: None,
            max_attempts: None,
            budget: None,
        }
    }

    /// This reaction at its default level, with its own backoff: see
    /// [`Rule::backoff`].
    pub fn backoff(self, backoff: Backoff) -> Rule {
        Rule::from(self).backoff(backoff)
    }

    /// This reaction at its default level, giving up after `attempts`: see
    /// [`Rule::max_attempts`].
    pub fn max_attempts(self, attempts: u32) -> Rule {
        Rule::from(self).max_attempts(attempts)
    }

    /// This reaction at its default level, giving up after `failures` of
    /// its own kind: see [`Rule::budget`].
    pub fn budget(self, failures: u32) -> Rule {
        Rule::from(self).budget(failures)
    }
}

/// A shared resource a [`Reaction::Rebuild`] rebuilds, whatever its type.
#[derive(Clone)]
pub struct ResourceRef(pub(crate) Arc<dyn Rebuildable>);

impl ResourceRef {
    /// The resource's name.
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// The resource's current generation.
    pub fn generation(&self) -> u64 {
        self.0.generation()
    }

    /// [`Resource::rebuild_from`], whatever the resource's type: carries out
    /// a [`Step::Rebuild`](super::Step::Rebuild) in a retry loop of your
    /// own. Returns the new generation.
    pub async fn rebuild_from(&self, seen: u64) -> Result<u64, super::RebuildError> {
        self.0.rebuild_from(seen).await
    }
}

impl fmt::Debug for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resource")
            .field("name", &self.name())
            .field("generation", &self.generation())
            .finish()
    }
}

/// One rule of a [`Policy`]: a [`Reaction`], the level its events are
/// logged at, and its limits (its own backoff, its maximum number of
/// attempts). A bare `Reaction` converts into a rule with the defaults.
///
/// ```
/// use std::time::Duration;
/// use signal_core::kind;
/// use signal_runtime::{Backoff, Policy, Reaction};
///
/// kind! {
///     pub DatabaseBusy;
///     pub TransientNetwork;
/// }
///
/// let policy = Policy::new()
///     // Busy databases clear fast: short delays, five attempts at most.
///     .on::<DatabaseBusy>(
///         Reaction::Retry
///             .backoff(Backoff::new(Duration::from_millis(5), Duration::from_millis(100)))
///             .max_attempts(5),
///     )
///     // The network gets the policy's backoff, and as many attempts as the
///     // restart intensity allows.
///     .on::<TransientNetwork>(Reaction::Retry);
/// # let _ = policy;
/// ```
#[derive(Clone, Debug)]
pub struct Rule {
    /// What to do.
    pub reaction: Reaction,
    /// The level of the event that reports it.
    pub level: Level,
    /// The backoff of this rule; `None` takes the policy's.
    pub backoff: Option<Backoff>,
    /// How many attempts (runs of a worker since it was last healthy, or
    /// calls of a [per-call retry](Policy::retry)) may be made in all before
    /// an error this rule picks gives up instead of retrying; `None` leaves
    /// the limit to the restart intensity.
    pub max_attempts: Option<u32>,
    /// How many failures of this rule's own (the ones it picked, counted by
    /// [`RuleKey`]) may happen before it gives up, however many others
    /// happen between them; `None` for no such budget. See [`budget`](Self::budget).
    pub budget: Option<u32>,
}

impl Rule {
    /// Sets this rule's backoff, used instead of the policy's for the
    /// failures it picks (and for failed rebuilds it asks for).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = Some(backoff);
        self
    }

    /// Gives up after `attempts` attempts in all: the failure of attempt
    /// number `attempts` that this rule picks stops a worker (with
    /// [`SupervisorError::Exhausted`](super::SupervisorError::Exhausted)) or
    /// ends a per-call retry with the error. `0` and `1` both mean a single
    /// attempt.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// Gives up on the failure number `failures` that this rule picked,
    /// counted apart from the failures other rules pick (since the worker
    /// was last healthy or recovered, or since the call began): a database
    /// that stays busy five times stops the worker even if network blips
    /// come between, and network blips do not use up the database's
    /// attempts. The default rule ([`Policy::otherwise`]) and the panic
    /// rule ([`Policy::on_panic`]) count apart too. `max_attempts` counts
    /// every failure; a rule may have both, and the first reached gives up. `0` and `1` both mean a single
    /// failure.
    ///
    /// ```
    /// use signal_core::kind;
    /// use signal_runtime::{Policy, Reaction};
    ///
    /// kind! {
    ///     pub DatabaseBusy;
    ///     pub TransientNetwork;
    /// }
    ///
    /// let policy = Policy::new()
    ///     .on::<DatabaseBusy>(Reaction::Retry.budget(5))
    ///     .on::<TransientNetwork>(Reaction::Retry.budget(20));
    /// # let _ = policy;
    /// ```
    pub fn budget(mut self, failures: u32) -> Self {
        self.budget = Some(failures);
        self
    }

    /// Sets the level of this rule's events.
    pub fn at(mut self, level: Level) -> Self {
        self.level = level;
        self
    }

    /// Whether the failure of attempt number `attempt` (counted from 1),
    /// the failure number `spent` of this rule's kind, exhausts this rule.
    pub(crate) fn exhausted(&self, attempt: u32, spent: u32) -> bool {
        self.max_attempts.is_some_and(|max| attempt >= max)
            || self.budget.is_some_and(|budget| spent >= budget)
    }
}

impl From<Reaction> for Rule {
    /// The reaction at its [default level](Reaction::default_level).
    fn from(reaction: Reaction) -> Self {
        let level = reaction.default_level();
        reaction.at(level)
    }
}

/// How a supervisor reacts to its worker's failures, and how fast it may
/// restart it.
///
/// Rules are tried in the order they were added, and the first kind the error
/// carries (checked with [`Signal::has_kind`], so through every wrapper the
/// error type forwards) picks the rule; an error that carries none of them
/// gets the [`otherwise`](Self::otherwise) rule. Panics get their own
/// rule.
///
/// A policy holds no per-worker state: share one `Arc<Policy>` between many
/// workers.
///
/// ```
/// use std::time::Duration;
/// use signal_core::kind;
/// use signal_runtime::{Backoff, Intensity, Policy, Reaction};
///
/// kind! {
///     pub TransientNetwork;
///     pub BadCredentials;
/// }
///
/// let policy = Policy::new()
///     .on::<TransientNetwork>(Reaction::Retry) // WARN
///     .on::<BadCredentials>(Reaction::Stop) // ERROR
///     .backoff(Backoff::new(Duration::from_millis(200), Duration::from_secs(60)))
///     .intensity(Intensity::new(5, Duration::from_secs(30)))
///     .healthy_after(Duration::from_secs(120));
/// # let _ = policy;
/// ```
#[derive(Clone, Debug)]
pub struct Policy {
    rules: Vec<(KindId, Rule)>,
    otherwise: Rule,
    on_panic: Rule,
    pub(crate) backoff: Backoff,
    pub(crate) intensity: Intensity,
    pub(crate) healthy_after: Duration,
    retry_after: RetryAfterHooks,
    pub(crate) budget: Option<RetryBudget>,
    pub(crate) breaker: Option<CircuitBreaker>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::new()
    }
}

/// Which of a [`Policy`]'s rules picked a failure: what
/// [budgets](Rule::budget) are counted by. The default rule and the panic
/// rule are two rules, with a budget each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleKey {
    /// The rule of this kind ([`Policy::on`]).
    Kind(KindId),
    /// The default rule ([`Policy::otherwise`]).
    Otherwise,
    /// The panic rule ([`Policy::on_panic`]).
    Panic,
}

/// The rule a [`Policy`] picked for one failure.
#[derive(Clone, Copy, Debug)]
pub struct RuleMatch<'p> {
    /// The kind whose rule matched; `None` for the default and for panics.
    pub kind: Option<KindId>,
    /// Which rule matched: the kind's, the default or the panic rule.
    pub key: RuleKey,
    /// The rule to apply.
    pub rule: &'p Rule,
}

impl<'p> RuleMatch<'p> {
    /// The resource the rule rebuilds, if its reaction is a rebuild.
    pub fn resource(&self) -> Option<&'p ResourceRef> {
        match &self.rule.reaction {
            Reaction::Rebuild(resource) => Some(resource),
            Reaction::Retry | Reaction::Stop => None,
        }
    }
}

impl Policy {
    /// No rules; everything is retried with backoff and logged at ERROR
    /// (panics too); default [`Backoff`] and [`Intensity`]; a worker counts as
    /// healthy after 60 seconds without failing.
    pub fn new() -> Self {
        Policy {
            rules: Vec::new(),
            otherwise: Reaction::Retry.at(Level::ERROR),
            on_panic: Reaction::Retry.at(Level::ERROR),
            backoff: Backoff::default(),
            intensity: Intensity::default(),
            healthy_after: Duration::from_secs(60),
            retry_after: RetryAfterHooks::default(),
            budget: None,
            breaker: None,
        }
    }

    /// Reacts with `rule` to errors that carry `K`.
    pub fn on<K: Kind>(self, rule: impl Into<Rule>) -> Self {
        self.on_kind(K::ID, rule)
    }

    /// Reacts with `rule` to errors that carry `kind`.
    pub fn on_kind(mut self, kind: KindId, rule: impl Into<Rule>) -> Self {
        self.rules.push((kind, rule.into()));
        self
    }

    /// Reacts with `rule` to errors that match no rule.
    pub fn otherwise(mut self, rule: impl Into<Rule>) -> Self {
        self.otherwise = rule.into();
        self
    }

    /// Reacts with `rule` to a panic of the worker.
    pub fn on_panic(mut self, rule: impl Into<Rule>) -> Self {
        self.on_panic = rule.into();
        self
    }

    /// Honours the [Retry-After](RetryAfter) that errors of type `E` carry:
    /// the wait before the next attempt is then the longer of the backoff's
    /// delay and the error's, but no longer than the backoff's
    /// [`max`](Backoff::max), so an error cannot hold a worker back further
    /// than its policy allows. Only the error type itself is asked: a
    /// wrapper forwards it by implementing [`RetryAfter`] too.
    ///
    /// ```
    /// use std::time::Duration;
    /// use signal_runtime::{Policy, RetryAfter};
    ///
    /// #[derive(Debug, signal_core::Signal)]
    /// enum ApiError {
    ///     TooManyRequests { retry_after: Option<Duration> },
    /// }
    ///
    /// impl RetryAfter for ApiError {
    ///     fn retry_after(&self) -> Option<Duration> {
    ///         match self {
    ///             ApiError::TooManyRequests { retry_after } => *retry_after,
    ///         }
    ///     }
    /// }
    ///
    /// let policy = Policy::new().honour_retry_after::<ApiError>();
    /// # let _ = policy;
    /// ```
    pub fn honour_retry_after<E: RetryAfter + 'static>(self) -> Self {
        self.retry_after_with(E::retry_after)
    }

    /// Like [`honour_retry_after`](Self::honour_retry_after), with `read`
    /// telling what an error of type `E` says: for types that cannot
    /// implement [`RetryAfter`] (a foreign crate's).
    pub fn retry_after_with<E: 'static>(
        mut self,
        read: impl Fn(&E) -> Option<Duration> + Send + Sync + 'static,
    ) -> Self {
        self.retry_after.add(read);
        self
    }

    /// Sets the backoff of [`Reaction::Retry`] and of failed rebuilds, for
    /// the rules that have none of their own.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Draws every retry on `budget`, a ledger shared with every other
    /// policy, call, `tower` request, `backon` call and worker that has it:
    /// a retry the budget refuses ends the call
    /// ([`StopReason::BudgetExhausted`](super::StopReason::BudgetExhausted))
    /// or stops the worker
    /// ([`SupervisorError::BudgetExhausted`](super::SupervisorError::BudgetExhausted)).
    /// Each call, request and worker run that is not a restart deposits a
    /// request in it. See [`RetryBudget`].
    pub fn retry_budget(mut self, budget: &RetryBudget) -> Self {
        self.budget = Some(budget.clone());
        self
    }

    /// The retry budget, if the policy has one.
    pub fn budget(&self) -> Option<&RetryBudget> {
        self.budget.as_ref()
    }

    /// Guards the dependency with `breaker`, shared with every other
    /// policy, call, request and worker that has it: its counted kinds'
    /// failures open it, and while it is open a [`Call`](super::Call)
    /// fails fast ([`RetryError::CircuitOpen`](super::RetryError::CircuitOpen),
    /// which raises `Unavailable`), so does
    /// [`retry_guarded`](Self::retry_guarded) (with the error's own
    /// refusal), a retry is not made
    /// ([`StopReason::CircuitOpen`](super::StopReason::CircuitOpen)) and a
    /// worker's first run or restart waits until it half-opens. See
    /// [`CircuitBreaker`].
    pub fn breaker(mut self, breaker: &CircuitBreaker) -> Self {
        self.breaker = Some(breaker.clone());
        self
    }

    /// The circuit breaker, if the policy has one.
    pub fn circuit_breaker(&self) -> Option<&CircuitBreaker> {
        self.breaker.as_ref()
    }

    /// Counts a request in the retry budget, if any.
    pub(crate) fn deposit(&self) {
        if let Some(budget) = &self.budget {
            budget.deposit();
        }
    }

    /// Sets the restart intensity.
    pub fn intensity(mut self, intensity: Intensity) -> Self {
        self.intensity = intensity;
        self
    }

    /// A worker whose run lasted at least `after` before failing starts its
    /// backoff over from the first delay (so does a run that called
    /// [`RunContext::mark_healthy`](super::RunContext::mark_healthy)).
    pub fn healthy_after(mut self, after: Duration) -> Self {
        self.healthy_after = after;
        self
    }

    /// The rule for `error`: the first rule whose kind it carries, or the
    /// default.
    pub fn rule_for<E: Signal + ?Sized>(&self, error: &E) -> RuleMatch<'_> {
        self.rules
            .iter()
            .find(|(kind, _)| error.has_kind(*kind))
            .map_or(
                RuleMatch {
                    kind: None,
                    key: RuleKey::Otherwise,
                    rule: &self.otherwise,
                },
                |(kind, rule)| RuleMatch {
                    kind: Some(*kind),
                    key: RuleKey::Kind(*kind),
                    rule,
                },
            )
    }

    /// The rule for a panic.
    pub fn rule_for_panic(&self) -> RuleMatch<'_> {
        RuleMatch {
            kind: None,
            key: RuleKey::Panic,
            rule: &self.on_panic,
        }
    }

    /// The wait before the attempt after failure number `attempt` that
    /// `rule` picked: its backoff's (or the policy's) jittered delay, drawn
    /// from `jitter` with that backoff's seed, lengthened to what the
    /// error's Retry-After says, up to the backoff's maximum. `Err` with
    /// the message if the Retry-After reader panicked (the delay is then
    /// the backoff's alone).
    pub(crate) fn delay_after<E: 'static>(
        &self,
        rule: &Rule,
        attempt: u32,
        error: Option<&E>,
        jitter: &mut Jitter,
    ) -> (Duration, Option<Arc<str>>) {
        let backoff = rule.backoff.as_ref().unwrap_or(&self.backoff);
        let delay = backoff.jittered(attempt, jitter);
        match error.map(|error| self.retry_after.read(error)) {
            Some(Ok(Some(asked))) => (delay.max(asked.min(backoff.max)), None),
            Some(Err(panic)) => (delay, Some(panic)),
            Some(Ok(None)) | None => (delay, None),
        }
    }

    /// The kinds the rules name, in order.
    pub(crate) fn rule_kinds(&self) -> impl Iterator<Item = KindId> + '_ {
        self.rules.iter().map(|(kind, _)| *kind)
    }

    /// The resources the rules may rebuild.
    pub(crate) fn resources(&self) -> impl Iterator<Item = &ResourceRef> {
        self.rules
            .iter()
            .map(|(_, rule)| rule)
            .chain([&self.otherwise, &self.on_panic])
            .filter_map(|rule| match &rule.reaction {
                Reaction::Rebuild(resource) => Some(resource),
                _ => None,
            })
    }
}
