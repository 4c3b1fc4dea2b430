//! Capped exponential backoff with jitter.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Capped exponential backoff with proportional jitter.
///
/// The delay before retry number `attempt` (counted from 1) is
/// `initial × factor^(attempt − 1)`, capped at `max`, then shortened by a
/// random fraction of at most `jitter` of itself (and rounded up to a whole
/// millisecond, the timer's resolution): every delay lies in
/// [`bounds(attempt)`](Self::bounds), and never exceeds `max`.
///
/// Jitter spreads the retries of many workers that failed together, so they
/// do not hit a recovering service in lockstep. It is drawn from `fastrand`,
/// seeded at random unless a [`seed`](Self::with_seed) is given (tests pass
/// one to get the same delays on every run).
///
/// A `Backoff` works on its own too, wherever something must wait between
/// attempts: [`delay`](Self::delay) gives one jittered delay, and
/// [`delays`](Self::delays) the sequence of them.
///
/// ```
/// use std::time::Duration;
/// use signal_runtime::Backoff;
///
/// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1)).with_jitter(0.0);
/// assert_eq!(backoff.base_delay(1), Duration::from_millis(100));
/// assert_eq!(backoff.base_delay(3), Duration::from_millis(400));
/// assert_eq!(backoff.base_delay(30), Duration::from_secs(1)); // capped
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// The delay before the first retry.
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
    /// The growth factor between consecutive delays (0 is taken as 1).
    pub factor: u32,
    /// The largest fraction a delay may be shortened by, in `0.0..=1.0`.
    pub jitter: f64,
    /// A fixed seed for the jitter generator, for reproducible delays.
    pub seed: Option<u64>,
}

impl Default for Backoff {
    /// 100 ms doubling up to 30 s, with 20% jitter.
    fn default() -> Self {
        Backoff::new(Duration::from_millis(100), Duration::from_secs(30))
    }
}

impl Backoff {
    /// Doubling delays from `initial` up to `max`, with 20% jitter.
    pub const fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            factor: 2,
            jitter: 0.2,
            seed: None,
        }
    }

    /// Sets the growth factor.
    pub const fn with_factor(mut self, factor: u32) -> Self {
        self.factor = factor;
        self
    }

    /// Sets the jitter fraction; values outside `0.0..=1.0` (and NaN) are
    /// clamped into it.
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// Seeds the jitter generator, for reproducible delays.
    pub const fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The delay before retry `attempt` (counted from 1), before jitter.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1);
        self.factor
            .max(1)
            .checked_pow(exponent)
            .and_then(|multiplier| self.initial.checked_mul(multiplier))
            .map_or(self.max, |delay| delay.min(self.max))
    }

    /// The shortest and longest delay retry `attempt` can get.
    pub fn bounds(&self, attempt: u32) -> (Duration, Duration) {
        let base = self.base_delay(attempt);
        (
            base.saturating_sub(fraction(base, self.clamped_jitter())),
            base,
        )
    }

    /// The delay before retry `attempt` (counted from 1), jitter included,
    /// rounded up to a whole millisecond (tokio's timer resolution) without
    /// exceeding the base: always within [`bounds(attempt)`](Self::bounds).
    ///
    /// With a [seed](Self::with_seed), the same attempt always gets the same
    /// delay; use [`delays`](Self::delays) for a sequence that varies.
    ///
    /// ```
    /// use std::time::Duration;
    /// use signal_runtime::Backoff;
    ///
    /// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
    /// let delay = backoff.delay(2);
    /// let (low, high) = backoff.bounds(2);
    /// assert!(low <= delay && delay <= high);
    /// assert_eq!(high, Duration::from_millis(200));
    /// ```
    pub fn delay(&self, attempt: u32) -> Duration {
        let mut rng = Jitter::new(u64::from(attempt));
        self.jittered(attempt, &mut rng)
    }

    /// The delays before retries 1, 2, 3, and so on, jitter included; the
    /// iterator never ends (the delays stay at [`max`](Self::max) once they
    /// reach it). Seeded, it yields the same sequence every time.
    ///
    /// ```
    /// use std::time::Duration;
    /// use signal_runtime::Backoff;
    ///
    /// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(300))
    ///     .with_jitter(0.0);
    /// let delays: Vec<_> = backoff.delays().take(4).map(|d| d.as_millis()).collect();
    /// assert_eq!(delays, [100, 200, 300, 300]);
    /// ```
    pub fn delays(&self) -> Delays {
        Delays {
            backoff: *self,
            attempt: 0,
            rng: Jitter::new(0),
        }
    }

    /// The delay before retry `attempt`, drawing the jitter from `rng`.
    pub(crate) fn jittered(&self, attempt: u32, rng: &mut Jitter) -> Duration {
        let base = self.base_delay(attempt);
        let shortened = fraction(base, self.clamped_jitter() * rng.next_unit(self.seed));
        let jittered = base.saturating_sub(shortened);
        ceil_millis(jittered).min(base)
    }

    fn clamped_jitter(&self) -> f64 {
        if self.jitter.is_nan() {
            0.0
        } else {
            self.jitter.clamp(0.0, 1.0)
        }
    }
}

/// The delays of a [`Backoff`], from [`Backoff::delays`].
#[derive(Clone, Debug)]
pub struct Delays {
    backoff: Backoff,
    attempt: u32,
    rng: Jitter,
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.attempt = self.attempt.saturating_add(1);
        Some(self.backoff.jittered(self.attempt, &mut self.rng))
    }
}

/// The random source of jitter: one stream per worker, resource or call.
///
/// A stream is a number and a count of draws. Each draw is made from the
/// seed of the backoff it is drawn for, so a rule's own seeded backoff is
/// honoured next to the policy's; with a seed, the draws of one stream are
/// reproducible and two streams differ; without, they are random.
#[derive(Clone, Debug)]
pub(crate) struct Jitter {
    stream: u64,
    draws: u64,
}

impl Jitter {
    /// The stream numbered `stream`.
    pub(crate) fn new(stream: u64) -> Self {
        Jitter { stream, draws: 0 }
    }

    /// A stream no other call, request or resource of this process shares.
    pub(crate) fn fresh() -> Self {
        static STREAMS: AtomicU64 = AtomicU64::new(1);
        Jitter::new(STREAMS.fetch_add(1, Ordering::Relaxed))
    }

    /// A number in `[0, 1)`, for a backoff seeded with `seed`.
    fn next_unit(&mut self, seed: Option<u64>) -> f64 {
        self.draws = self.draws.wrapping_add(1);
        match seed {
            Some(seed) => {
                let mixed = mix(mix(seed ^ mix(self.stream)) ^ self.draws);
                fastrand::Rng::with_seed(mixed).f64()
            }
            None => fastrand::f64(),
        }
    }
}

/// splitmix64's finaliser: nearby inputs give unrelated outputs.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `share` (in `0.0..=1.0`) of `delay`, saturating: `Duration::mul_f64`
/// panics when the product rounds past `Duration::MAX`.
fn fraction(delay: Duration, share: f64) -> Duration {
    Duration::try_from_secs_f64(delay.as_secs_f64() * share).map_or(delay, |part| part.min(delay))
}

fn ceil_millis(delay: Duration) -> Duration {
    // Up to the next whole millisecond; a delay too long to round stays.
    match delay.subsec_nanos() % 1_000_000 {
        0 => delay,
        part => delay
            .checked_add(Duration::from_nanos(u64::from(1_000_000 - part)))
            .unwrap_or(delay),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_cap() {
        let backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(75));
        let bases: Vec<_> = (1..=6).map(|a| backoff.base_delay(a).as_millis()).collect();
        assert_eq!(bases, [10, 20, 40, 75, 75, 75]);
        assert_eq!(backoff.base_delay(u32::MAX), Duration::from_millis(75));
        assert_eq!(backoff.base_delay(0), Duration::from_millis(10));
    }

    #[test]
    fn jittered_delays_stay_in_bounds_and_are_reproducible() {
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2))
            .with_jitter(0.5)
            .with_seed(42);
        let mut a = Jitter::new(3);
        let mut b = Jitter::new(3);
        let mut other = Jitter::new(4);
        let mut differs = false;
        for attempt in 1..50 {
            let delay = backoff.jittered(attempt, &mut a);
            let (low, high) = backoff.bounds(attempt);
            assert!(
                low <= delay && delay <= high,
                "{delay:?} not in {low:?}..={high:?}"
            );
            assert_eq!(delay, backoff.jittered(attempt, &mut b));
            differs |= delay != backoff.jittered(attempt, &mut other);
        }
        assert!(differs, "two streams of one seed gave the same delays");
    }

    #[test]
    fn the_longest_delays_saturate() {
        for jitter in [0.0, 0.2, 1.0] {
            let backoff = Backoff::new(Duration::MAX, Duration::MAX).with_jitter(jitter);
            let (low, high) = backoff.bounds(1);
            assert!(low <= high && high == Duration::MAX);
            let delay = backoff.jittered(3, &mut Jitter::new(1));
            assert!(low <= delay && delay <= high, "{delay:?}");
            assert!(backoff.delays().take(3).all(|d| d <= Duration::MAX));
        }
        // The twin: an ordinary backoff's bounds are its base and its jitter.
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(1)).with_jitter(1.0);
        assert_eq!(backoff.bounds(1), (Duration::ZERO, Duration::from_secs(1)));
    }

    #[test]
    fn no_jitter_means_exact_delays() {
        let backoff =
            Backoff::new(Duration::from_millis(100), Duration::from_secs(2)).with_jitter(f64::NAN);
        let mut rng = Jitter::new(0);
        assert_eq!(backoff.jittered(2, &mut rng), Duration::from_millis(200));
        assert_eq!(
            backoff.bounds(2),
            (Duration::from_millis(200), Duration::from_millis(200))
        );
    }
}
