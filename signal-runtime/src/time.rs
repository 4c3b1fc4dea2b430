//! Saturating time arithmetic: a deadline that would overflow the clock is
//! as good as never, not a panic.

use std::time::Duration;

use tokio::time::Instant;

/// About thirty years: far enough to be never, near enough that every
/// platform's clock can hold it.
const NEVER: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

/// `at + delay`, or (when that would overflow) the latest instant the clock
/// can hold near thirty years from `at`.
pub(crate) fn after(at: Instant, delay: Duration) -> Instant {
    at.checked_add(delay)
        .or_else(|| at.checked_add(NEVER))
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_saturates() {
        let now = Instant::now();
        assert_eq!(
            after(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
        assert!(after(now, Duration::MAX) >= now + NEVER);
        assert!(after(now, Duration::ZERO) == now);
    }
}
