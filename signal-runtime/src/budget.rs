//! A retry budget shared by many calls: retries at most a fraction of the
//! requests, plus a floor per second, so an outage is not amplified.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::config_error::ConfigError;
use super::lock;

/// How many slots a budget's window is cut into: requests and retries
/// leave the window one slot (a tenth of it) at a time.
const SLOTS: usize = 10;

/// A retry budget: the retries of every call, request and worker whose
/// [`Policy`](super::Policy) has it ([`Policy::retry_budget`](super::Policy::retry_budget))
/// draw on one ledger, so that during an outage N callers do not send N
/// times the retries (as Finagle's and Linkerd's retry budgets).
///
/// Each request (a [`Call`](super::Call) or [`Policy::retry`](super::Policy::retry)
/// when it starts, a `tower` request, a `backon` call when its `adjust` is
/// made, a worker's run that is not a restart) deposits one; each retry
/// withdraws one, and is allowed while the retries within the last
/// `window` are fewer than the whole part of `ratio` × the requests within
/// it plus `floor_per_sec` × the window's seconds (with a ratio of 0.1,
/// 9 requests earn no retry and 10 earn one; a floor of 1 a second over a
/// window of half a second allows none). A refused retry ends the call
/// with [`StopReason::BudgetExhausted`](super::StopReason::BudgetExhausted)
/// (a worker stops with
/// [`SupervisorError::BudgetExhausted`](super::SupervisorError::BudgetExhausted)).
///
/// Cheap to clone: clones share the ledger. The ledger is a lock held for a
/// few additions, never while user code runs.
///
/// ```
/// use std::time::Duration;
/// use signal_runtime::{Backoff, Policy, Reaction, RetryBudget, RetryError, StopReason};
/// use signal_core::{Signal, kind};
///
/// kind! { pub Blip; }
///
/// #[derive(Debug, Signal)]
/// enum FetchError {
///     #[signal(leaf = "Blip")]
///     Blip,
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// // Retries: at most 10% of the requests, plus 1 a second, over 10 seconds.
/// let budget = RetryBudget::new("backend", 0.1, 1, Duration::from_secs(10)).unwrap();
/// let policy = Policy::new()
///     .on::<Blip>(Reaction::Retry.max_attempts(5))
///     .backoff(Backoff::new(Duration::from_millis(10), Duration::from_secs(1)))
///     .retry_budget(&budget);
///
/// let mut sent = 0;
/// for _ in 0..100 {
///     let result = policy.call("fetch").run(async |_| {
///         sent += 1;
///         Err::<(), _>(FetchError::Blip)
///     }).await;
///     assert!(result.is_err());
/// }
/// // 100 calls and 20 retries (10% of 100, plus 10 for the floor), where
/// // retrying each call up to 5 times would have sent 500 requests.
/// assert_eq!(sent, 120);
/// assert_eq!((budget.stats().requests, budget.stats().retries), (100, 20));
///
/// assert!(RetryBudget::new("backend", f64::NAN, 1, Duration::from_secs(10)).is_err());
/// # }
/// ```
#[derive(Clone)]
pub struct RetryBudget {
    inner: Arc<Inner>,
}

struct Inner {
    name: Arc<str>,
    ratio: f64,
    floor_per_sec: u32,
    window: Duration,
    /// A slot's length in nanoseconds (at least 1).
    slot: u128,
    start: Instant,
    ledger: Mutex<Ledger>,
}

/// What a budget has counted since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BudgetStats {
    /// Requests deposited.
    pub requests: u64,
    /// Retries allowed.
    pub retries: u64,
    /// Retries refused.
    pub refused: u64,
}

impl RetryBudget {
    /// The largest ratio of retries to requests a budget takes.
    pub const MAX_RATIO: f64 = 1000.0;

    /// A budget named `name` (in events and metrics) that allows, within
    /// any `window`, `ratio` retries per request plus `floor_per_sec`
    /// retries a second (so that a caller with little traffic can still
    /// retry).
    ///
    /// `ratio` must be a number from 0 to [`MAX_RATIO`](Self::MAX_RATIO)
    /// and `window` longer than zero, or this returns a [`ConfigError`].
    /// `Duration::MAX` is a window that never forgets.
    pub fn new(
        name: impl Into<Arc<str>>,
        ratio: f64,
        floor_per_sec: u32,
        window: Duration,
    ) -> Result<RetryBudget, ConfigError> {
        let name = name.into();
        if ratio.is_nan() || !(0.0..=Self::MAX_RATIO).contains(&ratio) {
            return Err(ConfigError::Ratio { name, ratio });
        }
        if window.is_zero() {
            return Err(ConfigError::ZeroWindow { name });
        }
        Ok(RetryBudget {
            inner: Arc::new(Inner {
                name,
                ratio,
                floor_per_sec,
                window,
                slot: (window.as_nanos() / SLOTS as u128).max(1),
                start: Instant::now(),
                ledger: Mutex::new(Ledger::default()),
            }),
        })
    }

    /// The budget's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The ratio of retries to requests it allows.
    pub fn ratio(&self) -> f64 {
        self.inner.ratio
    }

    /// The retries a second it allows whatever the requests.
    pub fn floor_per_sec(&self) -> u32 {
        self.inner.floor_per_sec
    }

    /// The window it counts requests and retries over.
    pub fn window(&self) -> Duration {
        self.inner.window
    }

    /// What it has counted since it was made.
    pub fn stats(&self) -> BudgetStats {
        lock(&self.inner.ledger).stats
    }

    /// Counts one request. The runtime deposits for every call, request and
    /// worker run of a policy with this budget; call it from a retry loop
    /// of your own that asks [`Policy::step`](super::Policy::step).
    pub fn deposit(&self) {
        self.deposit_at(Instant::now());
    }

    /// [`deposit`](Self::deposit), at `now`.
    pub(crate) fn deposit_at(&self, now: Instant) {
        let slot = self.slot_at(now);
        lock(&self.inner.ledger).deposit(slot);
    }

    /// Takes one retry from the budget at `now`, if it allows one.
    pub(crate) fn try_withdraw(&self, now: Instant) -> bool {
        let slot = self.slot_at(now);
        let allowed = |requests: u64| self.allowed(requests);
        lock(&self.inner.ledger).withdraw(slot, allowed)
    }

    /// Gives back a retry taken at `taken` that was not made (the breaker
    /// refused it): it no longer counts in the window, nor in the stats.
    pub(crate) fn give_back(&self, taken: Instant) {
        let slot = self.slot_at(taken);
        lock(&self.inner.ledger).give_back(slot);
    }

    /// A guard for the retry withdrawn at `taken` (if any) while the wait
    /// before it runs: see [`Withdrawn`].
    pub(crate) fn hold(&self, taken: Option<Instant>) -> Withdrawn<'_> {
        Withdrawn {
            budget: self,
            taken,
        }
    }

    /// Takes back a request deposited at `made` that was not sent after all
    /// (a circuit breaker refused it): it earns no retries, and is not
    /// counted in the stats.
    pub(crate) fn take_back(&self, made: Instant) {
        let slot = self.slot_at(made);
        lock(&self.inner.ledger).take_back(slot);
    }

    /// The retries allowed within the window for `requests` requests in it.
    fn allowed(&self, requests: u64) -> u64 {
        let reserve = f64::from(self.inner.floor_per_sec) * self.inner.window.as_secs_f64();
        // `as` saturates: a huge window or ratio is as good as no limit.
        (self.inner.ratio * requests as f64 + reserve).floor() as u64
    }

    /// The number of the slot `now` falls in.
    fn slot_at(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.inner.start).as_nanos();
        u64::try_from(since / self.inner.slot).unwrap_or(u64::MAX)
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("name", &self.name())
            .field("ratio", &self.ratio())
            .field("floor_per_sec", &self.floor_per_sec())
            .field("window", &self.window())
            .field("stats", &self.stats())
            .finish()
    }
}

/// A retry withdrawn from a budget, while the wait before it runs (a
/// backoff, a rebuild): dropped before the retry is made (the call was
/// dropped, the worker shut down), it gives the retry back, since nothing
/// was sent. [`made`](Self::made) keeps it.
#[must_use = "dropped, it gives the retry back"]
pub(crate) struct Withdrawn<'a> {
    budget: &'a RetryBudget,
    taken: Option<Instant>,
}

impl Withdrawn<'_> {
    /// The wait is over: the retry is made, and stays withdrawn.
    pub(crate) fn made(mut self) {
        self.taken = None;
    }
}

impl Drop for Withdrawn<'_> {
    fn drop(&mut self) {
        if let Some(taken) = self.taken.take() {
            self.budget.give_back(taken);
        }
    }
}

/// The requests and retries of one slot of the window.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    /// Which slot it counts (slots are reused in a ring).
    number: u64,
    requests: u64,
    retries: u64,
}

/// The ledger: a ring of slots over the window, and totals. Pure: the slot
/// number is given.
#[derive(Debug, Default)]
struct Ledger {
    slots: [Slot; SLOTS],
    stats: BudgetStats,
}

impl Ledger {
    /// The slot `number`, emptied first if it last counted an older one.
    fn slot(&mut self, number: u64) -> &mut Slot {
        let slot = &mut self.slots[(number % SLOTS as u64) as usize];
        if slot.number != number {
            *slot = Slot {
                number,
                requests: 0,
                retries: 0,
            };
        }
        slot
    }

    /// The requests and retries counted in the window that ends with slot
    /// `number`.
    fn in_window(&self, number: u64) -> (u64, u64) {
        let oldest = number.saturating_sub(SLOTS as u64 - 1);
        self.slots
            .iter()
            .filter(|slot| (oldest..=number).contains(&slot.number))
            .fold((0, 0), |(requests, retries), slot| {
                (
                    requests.saturating_add(slot.requests),
                    retries.saturating_add(slot.retries),
                )
            })
    }

    fn deposit(&mut self, number: u64) {
        let slot = self.slot(number);
        slot.requests = slot.requests.saturating_add(1);
        self.stats.requests = self.stats.requests.saturating_add(1);
    }

    /// Takes back a retry withdrawn in slot `number` (if that slot is still
    /// in the ring: an older one has left the window already).
    fn give_back(&mut self, number: u64) {
        let slot = &mut self.slots[(number % SLOTS as u64) as usize];
        if slot.number == number && slot.retries > 0 {
            slot.retries -= 1;
        }
        self.stats.retries = self.stats.retries.saturating_sub(1);
    }

    fn take_back(&mut self, number: u64) {
        let slot = &mut self.slots[(number % SLOTS as u64) as usize];
        if slot.number == number && slot.requests > 0 {
            slot.requests -= 1;
        }
        self.stats.requests = self.stats.requests.saturating_sub(1);
    }

    fn withdraw(&mut self, number: u64, allowed: impl Fn(u64) -> u64) -> bool {
        self.slot(number);
        let (requests, retries) = self.in_window(number);
        if retries >= allowed(requests) {
            self.stats.refused = self.stats.refused.saturating_add(1);
            return false;
        }
        let slot = self.slot(number);
        slot.retries = slot.retries.saturating_add(1);
        self.stats.retries = self.stats.retries.saturating_add(1);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenth(requests: u64) -> u64 {
        requests / 10
    }

    #[test]
    fn retries_are_a_fraction_of_the_requests_in_the_window() {
        let mut ledger = Ledger::default();
        for _ in 0..100 {
            ledger.deposit(0);
        }
        let allowed = (0..50).filter(|_| ledger.withdraw(0, tenth)).count();
        assert_eq!(allowed, 10);
        assert_eq!(
            ledger.stats,
            BudgetStats {
                requests: 100,
                retries: 10,
                refused: 40
            }
        );
        // Nine slots later the requests and retries are still in the window.
        assert!(!ledger.withdraw(9, tenth));
        // Ten slots later both have left it: no requests, no retries.
        assert!(!ledger.withdraw(10, tenth));
        ledger.deposit(10);
        assert!(
            !ledger.withdraw(10, tenth),
            "one request is not a tenth of a retry"
        );
        for _ in 0..9 {
            ledger.deposit(10);
        }
        assert!(ledger.withdraw(10, tenth));
    }

    #[test]
    fn a_retry_given_back_frees_its_place() {
        let mut ledger = Ledger::default();
        for _ in 0..10 {
            ledger.deposit(0);
        }
        assert!(ledger.withdraw(0, tenth));
        assert!(!ledger.withdraw(1, tenth));
        ledger.give_back(0);
        assert_eq!(ledger.stats.retries, 0);
        assert!(ledger.withdraw(1, tenth), "the place is free again");
        // A slot the ring has reused since: nothing in the window to take.
        ledger.give_back(0);
        assert_eq!(ledger.in_window(1), (10, 1));
    }

    #[test]
    fn a_slot_reused_by_the_ring_starts_empty() {
        let mut ledger = Ledger::default();
        for _ in 0..20 {
            ledger.deposit(3);
        }
        assert_eq!(ledger.in_window(3), (20, 0));
        assert_eq!(ledger.in_window(12), (20, 0));
        // Slot 13 is slot 3's place in the ring.
        ledger.deposit(13);
        assert_eq!(ledger.in_window(13), (1, 0));
    }

    #[test]
    fn bad_settings_are_typed_errors() {
        let window = Duration::from_secs(10);
        for ratio in [f64::NAN, -0.1, 1000.5, f64::INFINITY, f64::NEG_INFINITY] {
            let error = RetryBudget::new("b", ratio, 1, window).unwrap_err();
            assert!(matches!(error, ConfigError::Ratio { .. }), "{ratio}");
            assert!(error.to_string().contains("ratio"), "{error}");
        }
        for ratio in [0.0, 0.2, 1000.0] {
            assert!(RetryBudget::new("b", ratio, 1, window).is_ok(), "{ratio}");
        }
        let error = RetryBudget::new("b", 0.1, 1, Duration::ZERO).unwrap_err();
        assert_eq!(error, ConfigError::ZeroWindow { name: "b".into() });
    }

    #[test]
    fn extreme_settings_do_not_panic() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let forever = RetryBudget::new("b", 1000.0, u32::MAX, Duration::MAX).unwrap();
            forever.deposit();
            assert!(forever.try_withdraw(Instant::now()));
            let tiny = RetryBudget::new("b", 0.0, 0, Duration::from_nanos(1)).unwrap();
            tiny.deposit();
            assert!(!tiny.try_withdraw(Instant::now()));
            // Long after: the slot number is huge, nothing overflows.
            tokio::time::advance(Duration::from_secs(3600 * 24 * 365)).await;
            tiny.deposit();
            assert!(!tiny.try_withdraw(Instant::now()));
            // A floor alone allows retries without requests.
            let floor = RetryBudget::new("b", 0.0, 2, Duration::from_secs(1)).unwrap();
            let now = Instant::now();
            assert!(floor.try_withdraw(now) && floor.try_withdraw(now));
            assert!(!floor.try_withdraw(now));
        });
    }
}
