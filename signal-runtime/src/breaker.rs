//! A circuit breaker that counts only the kinds that say the dependency is
//! sick: closed, open on a failure rate over a window, half-open probes,
//! closed again.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::budget::ConfigError;
use super::lock;
use super::time;
use signal_core::{Kind, KindId, Signal};

/// How many slots a breaker's window is cut into.
const SLOTS: usize = 10;

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

/// What one call's outcome is to a breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The dependency answered: a success, or an error of a kind that does
    /// not count (a bad request, bad credentials).
    Answered,
    /// An error of a kind the breaker counts.
    Failed,
}

/// The error of a call refused because its [`CircuitBreaker`] is open. It
/// raises [`Unavailable`](signal_core::vocab::Unavailable), so callers
/// upstream react to it as to a dependency that cannot serve for now.
#[derive(Clone, Debug, PartialEq, Eq, Signal)]
#[signal(leaf = "signal_core::vocab::Unavailable")]
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
/// with [`BreakerOpen`], which raises `Unavailable`) for
/// [`open_for`](BreakerBuilder::open_for); then it half-opens and lets
/// [`probes`](BreakerBuilder::probes) calls through: a counted failure
/// reopens it, that many successes close it.
///
/// A policy with it ([`Policy::breaker`](super::Policy::breaker)) uses it
/// in [`Policy::call`](super::Policy::call) (each attempt asks it first,
/// and its outcome is counted), [`Policy::retry`](super::Policy::retry)
/// (outcomes counted, retries asked), supervised workers (outcomes counted;
/// a restart waits until it half-opens) and the `tower` policy (a retry
/// while it is open is not made); `layer` (feature `tower`) puts it in front
/// of a `tower` service. Clones share one state.
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
}

#[derive(Clone, Debug)]
struct Settings {
    counts: Vec<KindId>,
    failure_rate: f64,
    min_calls: u32,
    window: Duration,
    open_for: Duration,
    probes: u32,
}

/// A call a breaker let through. Dropped without an outcome (the call
/// panicked, or its future was dropped), it gives its probe back.
#[must_use = "a permit counts the call's outcome"]
pub(crate) struct Permit {
    breaker: CircuitBreaker,
    probe: bool,
    done: bool,
}

impl Permit {
    /// Counts the call's outcome.
    pub(crate) fn record(mut self, outcome: Outcome) {
        self.done = true;
        self.breaker.record(outcome, self.probe);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.done && self.probe {
            lock(&self.breaker.inner.machine).release_probe();
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

    /// Whether `error` counts against the dependency.
    pub fn counts_error<E: Signal + ?Sized>(&self, error: &E) -> bool {
        self.inner
            .settings
            .counts
            .iter()
            .any(|&kind| error.has_kind(kind))
    }

    /// The outcome of a call that ended with `result`.
    pub(crate) fn outcome_of<T, E: Signal + ?Sized>(&self, result: Result<&T, &E>) -> Outcome {
        match result {
            Err(error) if self.counts_error(error) => Outcome::Failed,
            _ => Outcome::Answered,
        }
    }

    /// Lets a call through, or refuses it.
    pub(crate) fn admit(&self) -> Result<Permit, BreakerOpen> {
        let now = Instant::now();
        let settings = &self.inner.settings;
        let (admission, moved) = lock(&self.inner.machine).admit(now, settings.probes);
        if let Some(to) = moved {
            self.transition(to);
        }
        match admission {
            Ok(probe) => Ok(Permit {
                breaker: self.clone(),
                probe,
                done: false,
            }),
            Err(retry_in) => Err(BreakerOpen {
                breaker: Arc::clone(&self.inner.name),
                retry_in,
            }),
        }
    }

    /// Counts an outcome not admitted through [`admit`](Self::admit) (a
    /// worker's run, a `Policy::retry` first attempt).
    pub(crate) fn record(&self, outcome: Outcome, probe: bool) {
        let now = Instant::now();
        let slot = self.slot_at(now);
        let moved =
            lock(&self.inner.machine).record(outcome, probe, now, slot, &self.inner.settings);
        if let Some(to) = moved {
            self.transition(to);
        }
    }

    /// The error of a call refused now.
    pub(crate) fn refusal(&self, retry_in: Duration) -> BreakerOpen {
        BreakerOpen {
            breaker: Arc::clone(&self.inner.name),
            retry_in,
        }
    }

    fn slot_at(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.inner.start).as_nanos();
        u64::try_from(since / self.inner.slot).unwrap_or(u64::MAX)
    }

    /// One event and one metric per change of state.
    fn transition(&self, to: BreakerState) {
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { in_flight: u32, succeeded: u32 },
}

/// The outcomes of one slot of the window.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    number: u64,
    answered: u64,
    failed: u64,
}

/// The state machine: pure, the time and slot are given.
#[derive(Debug)]
struct Machine {
    phase: Phase,
    slots: [Slot; SLOTS],
}

impl Default for Machine {
    fn default() -> Self {
        Machine {
            phase: Phase::Closed,
            slots: [Slot::default(); SLOTS],
        }
    }
}

impl Machine {
    /// `Ok(probe)` to let a call through (a probe while half-open), or
    /// `Err(retry_in)`; and the state it moved to, if it moved.
    fn admit(
        &mut self,
        now: Instant,
        probes: u32,
    ) -> (Result<bool, Duration>, Option<BreakerState>) {
        let mut moved = None;
        if let Phase::Open { until } = self.phase {
            if now < until {
                return (Err(until - now), None);
            }
            self.phase = Phase::HalfOpen {
                in_flight: 0,
                succeeded: 0,
            };
            moved = Some(BreakerState::HalfOpen);
        }
        match &mut self.phase {
            Phase::Closed => (Ok(false), moved),
            Phase::HalfOpen {
                in_flight,
                succeeded,
            } => {
                if in_flight.saturating_add(*succeeded) < probes {
                    *in_flight += 1;
                    (Ok(true), moved)
                } else {
                    (Err(Duration::ZERO), moved)
                }
            }
            Phase::Open { .. } => unreachable!("an open breaker whose time is up half-opened"),
        }
    }

    fn release_probe(&mut self) {
        if let Phase::HalfOpen { in_flight, .. } = &mut self.phase {
            *in_flight = in_flight.saturating_sub(1);
        }
    }

    fn record(
        &mut self,
        outcome: Outcome,
        probe: bool,
        now: Instant,
        number: u64,
        settings: &Settings,
    ) -> Option<BreakerState> {
        let mut moved = None;
        if let Phase::Open { until } = self.phase
            && now >= until
        {
            // An outcome not asked for (a worker's run) after the open
            // period: it is the probe.
            self.phase = Phase::HalfOpen {
                in_flight: 0,
                succeeded: 0,
            };
            moved = Some(BreakerState::HalfOpen);
        }
        self.record_in_phase(outcome, probe, now, number, settings)
            .or(moved)
    }

    fn record_in_phase(
        &mut self,
        outcome: Outcome,
        probe: bool,
        now: Instant,
        number: u64,
        settings: &Settings,
    ) -> Option<BreakerState> {
        match &mut self.phase {
            // A call let through before it opened: too late to count.
            Phase::Open { .. } => None,
            Phase::HalfOpen {
                in_flight,
                succeeded,
            } => {
                if probe {
                    *in_flight = in_flight.saturating_sub(1);
                }
                match outcome {
                    Outcome::Failed => {
                        self.open(now, settings);
                        Some(BreakerState::Open)
                    }
                    Outcome::Answered => {
                        *succeeded = succeeded.saturating_add(1);
                        if *succeeded >= settings.probes {
                            self.phase = Phase::Closed;
                            self.slots = [Slot::default(); SLOTS];
                            Some(BreakerState::Closed)
                        } else {
                            None
                        }
                    }
                }
            }
            Phase::Closed => {
                let slot = &mut self.slots[(number % SLOTS as u64) as usize];
                if slot.number != number {
                    *slot = Slot {
                        number,
                        ..Slot::default()
                    };
                }
                match outcome {
                    Outcome::Answered => slot.answered = slot.answered.saturating_add(1),
                    Outcome::Failed => slot.failed = slot.failed.saturating_add(1),
                }
                let oldest = number.saturating_sub(SLOTS as u64 - 1);
                let (answered, failed) = self
                    .slots
                    .iter()
                    .filter(|slot| (oldest..=number).contains(&slot.number))
                    .fold((0u64, 0u64), |(a, f), slot| {
                        (
                            a.saturating_add(slot.answered),
                            f.saturating_add(slot.failed),
                        )
                    });
                let total = answered.saturating_add(failed);
                let over = failed as f64 >= settings.failure_rate * total as f64;
                if outcome == Outcome::Failed && total >= u64::from(settings.min_calls) && over {
                    self.open(now, settings);
                    Some(BreakerState::Open)
                } else {
                    None
                }
            }
        }
    }

    fn open(&mut self, now: Instant, settings: &Settings) {
        self.phase = Phase::Open {
            until: time::after(now, settings.open_for),
        };
        self.slots = [Slot::default(); SLOTS];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(min_calls: u32, probes: u32) -> Settings {
        Settings {
            counts: Vec::new(),
            failure_rate: 0.5,
            min_calls,
            window: Duration::from_secs(10),
            open_for: Duration::from_secs(5),
            probes,
        }
    }

    #[test]
    fn opens_on_the_rate_of_enough_outcomes_then_probes_then_closes() {
        let settings = settings(4, 2);
        let now = Instant::now();
        let mut machine = Machine::default();
        // Three failures: below the minimum number of outcomes.
        for _ in 0..3 {
            assert_eq!(
                machine.record(Outcome::Failed, false, now, 0, &settings),
                None
            );
        }
        assert_eq!(
            machine.record(Outcome::Failed, false, now, 0, &settings),
            Some(BreakerState::Open)
        );
        assert_eq!(machine.admit(now, 2).0, Err(Duration::from_secs(5)));
        let later = now + Duration::from_secs(5);
        assert_eq!(
            machine.admit(later, 2),
            (Ok(true), Some(BreakerState::HalfOpen))
        );
        assert_eq!(machine.admit(later, 2), (Ok(true), None));
        // Both probes are out: a third call is refused.
        assert_eq!(machine.admit(later, 2).0, Err(Duration::ZERO));
        assert_eq!(
            machine.record(Outcome::Answered, true, later, 0, &settings),
            None
        );
        assert_eq!(
            machine.record(Outcome::Answered, true, later, 0, &settings),
            Some(BreakerState::Closed)
        );
        assert_eq!(machine.admit(later, 2), (Ok(false), None));
    }

    #[test]
    fn a_failed_probe_reopens_and_a_released_one_is_given_back() {
        let settings = settings(1, 1);
        let now = Instant::now();
        let mut machine = Machine::default();
        machine.record(Outcome::Failed, false, now, 0, &settings);
        let later = now + Duration::from_secs(5);
        assert_eq!(machine.admit(later, 1).0, Ok(true));
        machine.release_probe();
        assert_eq!(
            machine.admit(later, 1).0,
            Ok(true),
            "the probe was given back"
        );
        assert_eq!(
            machine.record(Outcome::Failed, true, later, 0, &settings),
            Some(BreakerState::Open)
        );
        assert!(machine.admit(later, 1).0.is_err());
    }

    #[test]
    fn an_outcome_after_the_open_period_is_the_probe() {
        let settings = settings(1, 1);
        let now = Instant::now();
        let mut machine = Machine::default();
        machine.record(Outcome::Failed, false, now, 0, &settings);
        // Within the open period: ignored.
        assert_eq!(
            machine.record(Outcome::Answered, false, now, 0, &settings),
            None
        );
        assert!(machine.admit(now, 1).0.is_err());
        let later = now + Duration::from_secs(5);
        assert_eq!(
            machine.record(Outcome::Answered, false, later, 0, &settings),
            Some(BreakerState::Closed)
        );
    }

    #[test]
    fn answers_keep_the_rate_below_the_threshold_and_old_slots_leave() {
        let settings = settings(4, 1);
        let now = Instant::now();
        let mut machine = Machine::default();
        for _ in 0..10 {
            machine.record(Outcome::Answered, false, now, 0, &settings);
        }
        for _ in 0..9 {
            assert_eq!(
                machine.record(Outcome::Failed, false, now, 0, &settings),
                None
            );
        }
        // The tenth failure makes half.
        assert_eq!(
            machine.record(Outcome::Failed, false, now, 0, &settings),
            Some(BreakerState::Open)
        );
        // Failures spread over slots that leave the window never add up.
        let mut machine = Machine::default();
        for slot in 0..100 {
            machine.record(Outcome::Answered, false, now, slot * 10, &settings);
            assert_eq!(
                machine.record(Outcome::Failed, false, now, slot * 10, &settings),
                None
            );
        }
    }
}
