//! Capped exponential backoff with jitter.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
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
/// do not hit a recovering service in lockstep. It is drawn from a small
/// xorshift generator, seeded from the process's random hasher keys unless a
/// [`seed`](Self::with_seed) is given (tests pass one to get the same delays
/// on every run).
///
/// ```
/// use std::time::Duration;
/// use signal_core::runtime::Backoff;
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
        (base - base.mul_f64(self.clamped_jitter()), base)
    }

    /// The delay before retry `attempt`, jitter included, rounded up to a
    /// whole millisecond (tokio's timer resolution) without exceeding the
    /// base.
    pub(crate) fn delay(&self, attempt: u32, rng: &mut Jitter) -> Duration {
        let base = self.base_delay(attempt);
        let jittered = base - base.mul_f64(self.clamped_jitter() * rng.next_unit());
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

/// A xorshift64* generator for jitter. Not for anything that needs real
/// randomness.
#[derive(Clone, Debug)]
pub(crate) struct Jitter(u64);

impl Jitter {
    /// A generator for one stream (one worker, one resource). With a seed,
    /// each stream gets its own reproducible sequence.
    pub(crate) fn new(seed: Option<u64>, stream: u64) -> Self {
        let state = match seed {
            Some(seed) => splitmix64(seed ^ splitmix64(stream)),
            None => RandomState::new().hash_one(stream),
        };
        // xorshift never leaves zero.
        Jitter(if state == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            state
        })
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `[0, 1)`.
    fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn ceil_millis(delay: Duration) -> Duration {
    let millis = Duration::from_millis(1);
    match delay.as_nanos() % millis.as_nanos() {
        0 => delay,
        _ => delay.checked_add(millis).map_or(delay, |up| {
            Duration::from_millis(u64::try_from(up.as_millis()).unwrap_or(u64::MAX))
        }),
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
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
        let mut a = Jitter::new(backoff.seed, 3);
        let mut b = Jitter::new(backoff.seed, 3);
        let mut other = Jitter::new(backoff.seed, 4);
        let mut differs = false;
        for attempt in 1..50 {
            let delay = backoff.delay(attempt, &mut a);
            let (low, high) = backoff.bounds(attempt);
            assert!(
                low <= delay && delay <= high,
                "{delay:?} not in {low:?}..={high:?}"
            );
            assert_eq!(delay, backoff.delay(attempt, &mut b));
            differs |= delay != backoff.delay(attempt, &mut other);
        }
        assert!(differs, "two streams of one seed gave the same delays");
    }

    #[test]
    fn no_jitter_means_exact_delays() {
        let backoff =
            Backoff::new(Duration::from_millis(100), Duration::from_secs(2)).with_jitter(f64::NAN);
        let mut rng = Jitter::new(None, 0);
        assert_eq!(backoff.delay(2, &mut rng), Duration::from_millis(200));
        assert_eq!(
            backoff.bounds(2),
            (Duration::from_millis(200), Duration::from_millis(200))
        );
    }
}
