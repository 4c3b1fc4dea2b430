//! Restart intensity, as in Erlang/OTP supervisors.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// At most `max_restarts` restarts within `within`: one more, and the worker
/// is stopped with [`SupervisorError::IntensityExceeded`] and an ERROR event.
///
/// This is the backstop against hot loops: whatever an error is classified
/// as, a worker that keeps failing faster than this stops instead of spinning.
/// Backoff spaces restarts out; intensity bounds how many may happen at all.
///
/// [`SupervisorError::IntensityExceeded`]: super::SupervisorError::IntensityExceeded
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Intensity {
    /// How many restarts the window may hold.
    pub max_restarts: u32,
    /// The length of the window.
    pub within: Duration,
}

impl Default for Intensity {
    /// 10 restarts within 60 seconds.
    fn default() -> Self {
        Intensity::new(10, Duration::from_secs(60))
    }
}

impl Intensity {
    /// At most `max_restarts` restarts within `within`.
    pub const fn new(max_restarts: u32, within: Duration) -> Self {
        Intensity {
            max_restarts,
            within,
        }
    }

    /// Records a restart at `now` in `window` (dropping the ones that fell out
    /// of it) and says whether the limit is now exceeded.
    pub(crate) fn record(&self, window: &mut VecDeque<Instant>, now: Instant) -> bool {
        while window
            .front()
            .is_some_and(|&at| now.saturating_duration_since(at) >= self.within)
        {
            window.pop_front();
        }
        window.push_back(now);
        window.len() > self.max_restarts as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exceeded_only_when_more_than_max_fall_in_the_window() {
        let intensity = Intensity::new(2, Duration::from_secs(10));
        let start = Instant::now();
        let mut window = VecDeque::new();
        assert!(!intensity.record(&mut window, start));
        assert!(!intensity.record(&mut window, start + Duration::from_secs(4)));
        // The first restart is 10 s old by now: it no longer counts.
        assert!(!intensity.record(&mut window, start + Duration::from_secs(10)));
        assert_eq!(window.len(), 2);
        assert!(intensity.record(&mut window, start + Duration::from_secs(11)));
    }

    #[test]
    fn zero_allows_no_restart() {
        let intensity = Intensity::new(0, Duration::from_secs(1));
        assert!(intensity.record(&mut VecDeque::new(), Instant::now()));
    }
}
