//! A reproducible fault schedule: the same seed gives the same sequence of
//! faults (which request is reset, which batch loses the pool), whatever the
//! timing of the run. Which worker meets which fault is up to the scheduler,
//! so what the faults cost (retries, rebuilds) varies from run to run.
//!
//! The draws come from `fastrand` (wyrand), seeded: one generator for the
//! remote's requests and one for the pool, so that the two sequences do not
//! shift each other.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What the remote does with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetFault {
    /// Answer normally.
    None,
    /// Reset the connection (the client sees `ConnectionReset`).
    Reset,
    /// Never answer on this connection (the client times out).
    Stall,
    /// Reset, and stop listening for a while (reconnects are refused).
    Refuse,
}

/// The fault schedule, shared by the remote and the workers.
#[derive(Debug)]
pub struct Faults {
    rate: f64,
    net: Mutex<fastrand::Rng>,
    pool: Mutex<fastrand::Rng>,
    injected_net: AtomicU64,
    injected_pool: AtomicU64,
    requests: AtomicU64,
    /// How long the remote was not listening, in microseconds.
    refused_for_us: AtomicU64,
}

impl Faults {
    /// Faults at `rate` per request (network), and at twice that rate per
    /// batch commit (pool drops), drawn from `seed`.
    pub fn new(seed: u64, rate: f64) -> Self {
        Faults {
            rate,
            net: Mutex::new(fastrand::Rng::with_seed(seed ^ 0x6E65_7477_6F72_6B00)),
            pool: Mutex::new(fastrand::Rng::with_seed(seed ^ 0x706F_6F6C_0000_0000)),
            injected_net: AtomicU64::new(0),
            injected_pool: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            refused_for_us: AtomicU64::new(0),
        }
    }

    /// The fault for the next request the remote serves.
    pub fn next_request(&self) -> NetFault {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut rng = self.net.lock().unwrap_or_else(|e| e.into_inner());
        if !chance(&mut rng, self.rate) {
            return NetFault::None;
        }
        self.injected_net.fetch_add(1, Ordering::Relaxed);
        match rng.u8(0..3) {
            0 => NetFault::Reset,
            1 => NetFault::Stall,
            _ => NetFault::Refuse,
        }
    }

    /// Whether the pool is dropped after the next batch commit.
    pub fn drop_pool_now(&self) -> bool {
        let mut rng = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        let drop = chance(&mut rng, self.rate * 2.0);
        if drop {
            self.injected_pool.fetch_add(1, Ordering::Relaxed);
        }
        drop
    }

    /// Network faults injected so far.
    pub fn network_faults(&self) -> u64 {
        self.injected_net.load(Ordering::Relaxed)
    }

    /// Pool drops injected so far.
    pub fn pool_drops(&self) -> u64 {
        self.injected_pool.load(Ordering::Relaxed)
    }

    /// Requests the remote has read so far (faulty or not).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Records that the remote did not listen for `window` (a `Refuse`).
    pub fn record_refusal(&self, window: Duration) {
        let micros = u64::try_from(window.as_micros()).unwrap_or(u64::MAX);
        self.refused_for_us.fetch_add(micros, Ordering::Relaxed);
    }

    /// How long the remote has not been listening, in total.
    pub fn refused_for(&self) -> Duration {
        Duration::from_micros(self.refused_for_us.load(Ordering::Relaxed))
    }
}

/// `true` with probability `p` (never for `p <= 0`, always for `p >= 1`).
pub fn chance(rng: &mut fastrand::Rng, p: f64) -> bool {
    rng.f64() < p
}
