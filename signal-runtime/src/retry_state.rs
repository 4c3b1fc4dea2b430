//! The retry state of one worker, and the one function that resets it.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::names::{ReactionName, StopReason};
use super::policy::RuleKey;

/// Everything a worker remembers about its failures.
///
/// All of it lives here, and [`reset`](Self::reset) puts every field back to
/// its [`Default`] at once: recovering a worker cannot forget one piece of
/// in-flight retry state, because no code resets fields one by one. (The
/// fields are public and the struct is not `#[non_exhaustive]`, so a test can
/// destructure it without `..` and fail to compile when a field is added.)
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetryState {
    /// Failures since the worker was last healthy or recovered: the backoff
    /// exponent.
    pub attempt: u32,
    /// When each restart in the current [intensity](super::Intensity) window
    /// happened, oldest first.
    pub restarts: VecDeque<Instant>,
    /// When the current backoff ends, while the worker is backing off.
    pub backoff_until: Option<Instant>,
    /// The delay the backoff last chose, jitter included.
    pub last_delay: Option<Duration>,
    /// The reaction last applied.
    pub last_reaction: Option<ReactionName>,
    /// Why the worker is stopped, while it is.
    pub stopped: Option<StopReason>,
    /// Failures by the rule that picked them (a kind's, the default or the
    /// panic rule), over the same span as `attempt`: what
    /// [budgets](super::Rule::budget) count.
    pub by_rule: Vec<(RuleKey, u32)>,
}

impl RetryState {
    /// Puts every field back to its initial value.
    pub fn reset(&mut self) {
        *self = RetryState::default();
    }

    /// Whether every field has its initial value.
    pub fn is_initial(&self) -> bool {
        *self == RetryState::default()
    }

    /// Counts one more failure picked by `rule`; returns the count.
    pub(crate) fn spend(&mut self, rule: RuleKey) -> u32 {
        spend(&mut self.by_rule, rule)
    }

    /// After a healthy run: the backoff starts over, but restarts already in
    /// the intensity window still count.
    pub(crate) fn forget_backoff(&mut self) {
        let restarts = std::mem::take(&mut self.restarts);
        self.reset();
        self.restarts = restarts;
    }
}

/// Counts one more failure picked by `rule` in `counts`; returns the count.
pub(crate) fn spend(counts: &mut Vec<(RuleKey, u32)>, rule: RuleKey) -> u32 {
    match counts.iter_mut().find(|(known, _)| *known == rule) {
        Some((_, count)) => {
            *count = count.saturating_add(1);
            *count
        }
        None => {
            counts.push((rule, 1));
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy() -> RetryState {
        RetryState {
            attempt: 4,
            restarts: VecDeque::from([Instant::now()]),
            backoff_until: Some(Instant::now()),
            last_delay: Some(Duration::from_secs(1)),
            last_reaction: Some(ReactionName::Retry),
            stopped: Some(StopReason::IntensityExceeded),
            by_rule: vec![(RuleKey::Otherwise, 2)],
        }
    }

    #[test]
    fn reset_clears_everything() {
        let mut state = busy();
        assert!(!state.is_initial());
        state.reset();
        assert!(state.is_initial());
    }

    #[test]
    fn forget_backoff_keeps_the_intensity_window() {
        let mut state = busy();
        let restarts = state.restarts.clone();
        state.forget_backoff();
        assert_eq!(
            state,
            RetryState {
                restarts,
                ..RetryState::default()
            }
        );
    }
}
