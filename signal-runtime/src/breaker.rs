//! A circuit breaker that counts only the kinds that say the dependency is
//! sick: closed, open on a failure rate over a window, half-open probes,
//! closed again.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::breaker_machine::{Machine, Phase, Probe, SLOTS, Settings, Ticket};
use super::config_error::ConfigError;
use super::lock;
use signal_core::vocab::{NeverSent, Unavailable};
use signal_core::{Kind, KindId, Signal};

signal_core::kind! {
    /// A request a [`CircuitBreaker`] refused: the dependency cannot serve
    /// for now ([`Unavailable`]), and the request was not sent
    /// ([`NeverSent`]), so even a call that is not
    /// [idempotent](super::Call::idempotent) may try it again.
    pub BreakerRefused: Unavailable + NeverSent;
}

/// Where a [`CircuitBreaker`] stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Calls go through; outcomes are counted.
    Closed,
    /// Calls fail fast until the breaker half-opens.
    Open,
    /// A few probe calls go through; their outcomes close or reopen it.
    HalfOpen,
}

impl BreakerState {
    /// `"closed"`, `"open"` or `"half_open"`.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// What a [`CircuitBreaker`] has done since it was made
/// ([`CircuitBreaker::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BreakerStats {
    /// Times it opened (from closed, or from half-open on a failed probe).
    pub opened: u64,
    /// Times it half-opened.
    pub half_opened: u64,
    /// Times it closed again.
    pub closed: u64,
    /// Requests it refused (failed fast) while open or while its probes
    /// were all taken, and retries not made because it was open.
    pub refused: u64,
}

/// What one call's outcome is to a breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The dependency answered: a success, or an error of a kind that does
    /// not count (a bad request, bad credentials).
    Answered,
    /// An error of a kind the breaker counts.
    Failed,
}

/// The error of a request refused because its [`CircuitBreaker`] is open.
/// It raises [`BreakerRefused`], which implies
/// [`Unavailable`](signal_core::vocab::Unavailable) (callers upstream react
/// to it as to a dependency that cannot serve for now) and
/// [`NeverSent`](signal_core::vocab::NeverSent) (nothing left).
#[derive(Clone, Debug, PartialEq, Eq, Signal)]
#[signal(leaf = "BreakerRefused")]
pub struct BreakerOpen {
    /// The breaker's name.
    pub breaker: Arc<str>,
    /// How long until the breaker lets a probe through (zero when it is
    /// half-open and its probes are all taken).
    pub retry_in: Duration,
}

impl fmt::Display for BreakerOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "circuit breaker `{}` is open; it lets a probe through in {:?}",
            self.breaker, self.retry_in
        )
    }
}

impl std::error::Error for BreakerOpen {}

/// The settings of a [`CircuitBreaker`], from [`CircuitBreaker::builder`].
#[derive(Clone, Debug)]
#[must_use = "a breaker is made by `build`"]
pub struct BreakerBuilder {
    name: Arc<str>,
    counts: Vec<KindId>,
    failure_rate: f64,
    min_calls: u32,
    window: Duration,
    open_for: Duration,
    probes: u32,
}

impl BreakerBuilder {
    /// Counts errors that carry `K` against the dependency. Errors that
    /// carry none of the counted kinds never count: to the breaker they
    /// are the dependency answering.
    pub fn counts<K: Kind>(self) -> Self {
        self.counts_kind(K::ID)
    }

    /// [`counts`](Self::counts), with the kind given at run time.
    pub fn counts_kind(mut self, kind: KindId) -> Self {
        if !self.counts.contains(&kind) {
            self.counts.push(kind);
        }
        self
    }

    /// Opens when at least this fraction of the calls in the window failed
    /// with a counted kind (more than 0, at most 1; default 0.5).
    pub fn failure_rate(mut self, rate: f64) -> Self {
        self.failure_rate = rate;
        self
    }

    /// Opens only once the window holds at least this many outcomes
    /// (default 10; 0 is taken as 1).
    pub fn min_calls(mut self, calls: u32) -> Self {
        self.min_calls = calls.max(1);
        self
    }

    /// The window outcomes are counted over (default 10 s; longer than
    /// zero).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// How long it stays open before it half-opens (default 5 s; zero
    /// half-opens at the next call; `Duration::MAX` is as good as never).
    pub fn open_for(mut self, open_for: Duration) -> Self {
        self.open_for = open_for;
        self
    }

    /// How many probe calls it lets through while half-open, and how many
    /// must succeed in a row to close it (default 1; at least 1).
    pub fn probes(mut self, probes: u32) -> Self {
        self.probes = probes;
        self
    }

    /// The breaker, or a [`ConfigError`] for settings that make no sense:
    /// no counted kind, a failure rate not in (0, 1], a zero window, no
    /// probes.
    pub fn build(self) -> Result<CircuitBreaker, ConfigError> {
        let name = self.name;
        if self.counts.is_empty() {
            return Err(ConfigError::NoCountedKinds { name });
        }
        let rate = self.failure_rate;
        if rate.is_nan() || rate <= 0.0 || rate > 1.0 {
            return Err(ConfigError::FailureRate { name, rate });
        }
        if self.window.is_zero() {
            return Err(ConfigError::ZeroWindow { name });
        }
        if self.probes == 0 {
            return Err(ConfigError::NoProbes { name });
        }
        Ok(CircuitBreaker {
            inner: Arc::new(Inner {
                slot: (self.window.as_nanos() / SLOTS as u128).max(1),
                start: Instant::now(),
                machine: Mutex::new(Machine::default()),
                stats: Stats::default(),
                settings: Settings {
                    counts: self.counts,
                    failure_rate: rate,
                    min_calls: self.min_calls,
                    window: self.window,
                    open_for: self.open_for,
                    probes: self.probes,
                },
                name,
            }),
        })
    }
}

/// A circuit breaker by kind: it counts only the failures whose error
/// carries one of the kinds its rule names (e.g. `TransientNetwork`,
/// `Unavailable`, `TimedOut`); any other outcome, a success or an error of
/// another kind (bad credentials, a bad request), is the dependency
/// answering. So a storm of per-request errors never opens it, and a sick
/// dependency does.
///
/// Closed, it opens when the counted failures reach the
/// [failure rate](BreakerBuilder::failure_rate) of at least
/// [`min_calls`](BreakerBuilder::min_calls) outcomes within the
/// [window](BreakerBuilder::window). Open, it refuses calls (they fail fast
/// with [`BreakerOpen`], which raises `Unavailable` and, since nothing was
/// sent, `NeverSent`: see [`BreakerRefused`]) for
/// [`open_for`](BreakerBuilder::open_for); then it half-opens and lets
/// [`probes`](BreakerBuilder::probes) calls through: a counted failure
/// reopens it, that many successes close it.
///
/// A policy with it ([`Policy::breaker`](super::Policy::breaker)) uses it
/// in [`Policy::call`](super::Policy::call) and
/// [`Policy::retry_guarded`](super::Policy::retry_guarded) (each attempt
/// asks it first, and its outcome is counted),
/// [`Policy::retry`](super::Policy::retry) (outcomes counted, retries
/// asked), `Policy::backon_guard` (feature `backon`: each attempt asks it
/// first, and its outcome is counted), supervised workers (outcomes
/// counted; the first run and each restart wait until it half-opens) and
/// the `tower` policy (a retry while it is open is not made); `layer`
/// (feature `tower`) puts it in front of a `tower` service. A request it
/// refused is no traffic for the policy's
/// [retry budget](super::RetryBudget) on any path, and no outcome: an
/// error that carries [`BreakerRefused`] (this breaker's layer refusing a
/// request inside a call the policy guards with it, or another breaker's)
/// is not counted on any path, and a probe's place it held is given back.
/// Guard a call once: a half-open breaker whose only probe place is held by
/// a worker's run or a call refuses the requests its own layer sees inside
/// them. Clones share one state.
///
/// ```
/// use std::time::Duration;
/// use signal_core::{Signal, vocab::{BadCredentials, TransientNetwork, Unavailable}};
/// use signal_runtime::{CircuitBreaker, Policy, Reaction, RetryError, BreakerState};
///
/// #[derive(Debug, Signal)]
/// enum ApiError {
///     #[signal(leaf = "signal_core::vocab::ConnectionRefused")]
///     Refused,
///     #[signal(leaf = "signal_core::vocab::BadCredentials")]
///     Rejected,
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let breaker = CircuitBreaker::builder("api")
///     .counts::<TransientNetwork>()
///     .counts::<Unavailable>()
///     .min_calls(5)
///     .build()
///     .unwrap();
/// let policy = Policy::new().otherwise(Reaction::Stop).breaker(&breaker);
/// let call = async |error: fn() -> ApiError| {
///     policy.call("api").run(async |_| Err::<(), _>(error())).await.unwrap_err()
/// };
///
/// // A storm of bad credentials: the api answers, the breaker stays closed.
/// for _ in 0..100 {
///     call(|| ApiError::Rejected).await;
/// }
/// assert_eq!(breaker.state(), BreakerState::Closed);
///
/// // Once those answers have left the 10 s window, five refused
/// // connections (all of the window's outcomes) open it...
/// tokio::time::sleep(Duration::from_secs(10)).await;
/// for _ in 0..5 {
///     call(|| ApiError::Refused).await;
/// }
/// assert_eq!(breaker.state(), BreakerState::Open);
/// // ... and the next call fails fast, with an error that says Unavailable.
/// let error = call(|| ApiError::Refused).await;
/// assert!(matches!(error, RetryError::CircuitOpen { .. }));
/// assert!(error.has::<Unavailable>());
/// assert_eq!(error.attempts(), 0);
/// # }
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

struct Inner {
    name: Arc<str>,
    settings: Settings,
    /// A slot's length in nanoseconds (at least 1).
    slot: u128,
    start: Instant,
    machine: Mutex<Machine>,
    stats: Stats,
}

/// The counters behind [`BreakerStats`].
#[derive(Default)]
struct Stats {
    opened: AtomicU64,
    half_opened: AtomicU64,
    closed: AtomicU64,
    refused: AtomicU64,
}

/// A call a breaker let through. Dropped without an outcome (the call
/// panicked, or its future was dropped), it gives its probe back, if the
/// half-open that let it through has not ended.
#[must_use = "a permit counts the call's outcome"]
pub(crate) struct Permit {
    breaker: CircuitBreaker,
    /// The phase it was let through in, and whether it took a probe's
    /// place.
    ticket: Ticket,
    done: bool,
}

impl Permit {
    /// Counts the call's outcome.
    pub(crate) fn record(mut self, outcome: Outcome) {
        self.done = true;
        self.breaker.record_probe(outcome, Some(self.ticket));
    }

    /// Counts the call's outcome, if it has one
    /// ([`CircuitBreaker::outcome_of`]); without one (the request was
    /// refused on its way), gives its probe place back.
    pub(crate) fn end(self, outcome: Option<Outcome>) {
        if let Some(outcome) = outcome {
            self.record(outcome);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.done && self.ticket.is_probe() {
            lock(&self.breaker.inner.machine).release_probe(self.ticket);
        }
    }
}

impl CircuitBreaker {
    /// A breaker named `name` (in events, metrics and its error), with the
    /// default settings and no counted kind yet: name them with
    /// [`counts`](BreakerBuilder::counts).
    pub fn builder(name: impl Into<Arc<str>>) -> BreakerBuilder {
        BreakerBuilder {
            name: name.into(),
            counts: Vec::new(),
            failure_rate: 0.5,
            min_calls: 10,
            window: Duration::from_secs(10),
            open_for: Duration::from_secs(5),
            probes: 1,
        }
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The window it counts outcomes over.
    pub fn window(&self) -> Duration {
        self.inner.settings.window
    }

    /// How long it stays open before it half-opens.
    pub fn open_for(&self) -> Duration {
        self.inner.settings.open_for
    }

    /// The kinds it counts.
    pub fn counted_kinds(&self) -> &[KindId] {
        &self.inner.settings.counts
    }

    /// What it has done since it was made: how often it opened, half-opened
    /// and closed, and how many requests it refused.
    pub fn stats(&self) -> BreakerStats {
        let stats = &self.inner.stats;
        BreakerStats {
            opened: stats.opened.load(Ordering::Relaxed),
            half_opened: stats.half_opened.load(Ordering::Relaxed),
            closed: stats.closed.load(Ordering::Relaxed),
            refused: stats.refused.load(Ordering::Relaxed),
        }
    }

    /// Where it stands now (an open breaker whose time is up reads
    /// half-open).
    pub fn state(&self) -> BreakerState {
        let now = Instant::now();
        match lock(&self.inner.machine).phase {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { until } if now < until => BreakerState::Open,
            Phase::Open { .. } | Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// How long it stays open after `at`: `Some` while it is open then
    /// (zero, half-open with every probe taken), `None` once it lets calls
    /// through.
    pub(crate) fn open_at(&self, at: Instant) -> Option<Duration> {
        let probes = self.inner.settings.probes;
        match lock(&self.inner.machine).phase {
            Phase::Open { until } if at < until => Some(until - at),
            Phase::HalfOpen { in_flight, .. } if in_flight >= probes => Some(Duration::ZERO),
            Phase::Closed | Phase::Open { .. } | Phase::HalfOpen { .. } => None,
        }
    }

    /// Whether `error` carries a kind it counts against the dependency. (A
    /// call's outcome is not counted at all when its error also carries
    /// [`BreakerRefused`]: nothing reached the dependency.)
    pub fn counts_error<E: Signal + ?Sized>(&self, error: &E) -> bool {
        self.inner
            .settings
            .counts
            .iter()
            .any(|&kind| error.has_kind(kind))
    }

    /// The outcome of a call that ended with `result`; `None` for an error
    /// that carries [`BreakerRefused`]: a breaker on the request's way (this
    /// one, behind its `tower` layer inside the call, or another) refused
    /// it, so nothing reached the dependency, and its refusal says nothing
    /// of its health. Counted, this breaker's own refusal would reopen it
    /// each time a probe met it.
    pub(crate) fn outcome_of<T, E: Signal + ?Sized>(
        &self,
        result: Result<&T, &E>,
    ) -> Option<Outcome> {
        match result {
            Err(error) if error.has_kind(BreakerRefused::ID) => None,
            Err(error) if self.counts_error(error) => Some(Outcome::Failed),
            _ => Some(Outcome::Answered),
        }
    }

    /// Lets a call through, or refuses it.
    pub(crate) fn admit(&self) -> Result<Permit, BreakerOpen> {
        let now = Instant::now();
        let settings = &self.inner.settings;
        let (admission, moved) = lock(&self.inner.machine).admit(now, settings.probes);
        // The permit exists before the move is told: the event and the
        // metric call code that is not the runtime's (a subscriber, a
        // recorder), and a panic there drops the permit, which gives the
        // probe place back, instead of leaking it.
        let admission = admission.map(|ticket| Permit {
            breaker: self.clone(),
            ticket,
            done: false,
        });
        if let Some(to) = moved {
            self.transition(to);
        }
        admission.map_err(|retry_in| self.refusal(retry_in))
    }

    /// Counts an outcome not admitted through [`admit`](Self::admit) (a
    /// worker's run, a `Policy::retry` first attempt).
    pub(crate) fn record(&self, outcome: Outcome) {
        self.record_probe(outcome, None);
    }

    /// Counts a worker run's outcome, through the probe place the run took
    /// if it took one; `None` (a panic, which says nothing of the
    /// dependency, or a request a breaker refused on the run's way, which
    /// sent nothing) counts nothing, and the place is given back.
    pub(crate) fn record_run(&self, permit: Option<Permit>, outcome: Option<Outcome>) {
        match (permit, outcome) {
            (Some(permit), Some(outcome)) => permit.record(outcome),
            (None, Some(outcome)) => self.record(outcome),
            (_, None) => {}
        }
    }

    fn record_probe(&self, outcome: Outcome, probe: Probe) {
        let now = Instant::now();
        let slot = self.slot_at(now);
        let (half_opened, moved) = {
            let mut machine = lock(&self.inner.machine);
            let before = machine.half_opened;
            let moved = machine.record(outcome, probe, now, slot, &self.inner.settings);
            (machine.half_opened != before, moved)
        };
        // An outcome after the open period half-opens it, and may reopen
        // or close it at once: both moves are told.
        if half_opened && moved != Some(BreakerState::HalfOpen) {
            self.transition(BreakerState::HalfOpen);
        }
        if let Some(to) = moved {
            self.transition(to);
        }
    }

    /// The error of a request refused now, counted in its stats.
    pub(crate) fn refusal(&self, retry_in: Duration) -> BreakerOpen {
        self.inner.stats.refused.fetch_add(1, Ordering::Relaxed);
        BreakerOpen {
            breaker: Arc::clone(&self.inner.name),
            retry_in,
        }
    }

    fn slot_at(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.inner.start).as_nanos();
        u64::try_from(since / self.inner.slot).unwrap_or(u64::MAX)
    }

    /// One event, one metric and one count per change of state.
    fn transition(&self, to: BreakerState) {
        let stats = &self.inner.stats;
        match to {
            BreakerState::Open => &stats.opened,
            BreakerState::HalfOpen => &stats.half_opened,
            BreakerState::Closed => &stats.closed,
        }
        .fetch_add(1, Ordering::Relaxed);
        let breaker = self.name();
        match to {
            BreakerState::Open => tracing::warn!(
                breaker,
                state = to.as_str(),
                open_ms = super::log::millis(self.inner.settings.open_for),
                "circuit breaker opened; calls fail fast"
            ),
            BreakerState::HalfOpen => tracing::info!(
                breaker,
                state = to.as_str(),
                "circuit breaker half-open; letting probes through"
            ),
            BreakerState::Closed => {
                tracing::info!(breaker, state = to.as_str(), "circuit breaker closed")
            }
        }
        super::metrics::breaker(breaker, to);
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.name())
            .field("settings", &self.inner.settings)
            .field("state", &self.state())
            .finish()
    }
}
