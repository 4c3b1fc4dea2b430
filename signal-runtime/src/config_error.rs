//! Settings that make no sense, for a retry budget or a circuit breaker: a
//! leaf, below both.

use std::fmt;
use std::sync::Arc;

/// Settings that make no sense: what [`RetryBudget::new`](super::RetryBudget::new) and
/// [`BreakerBuilder::build`](super::BreakerBuilder::build) return instead
/// of a budget or a breaker.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The ratio of retries to requests is not a number, negative, or more
    /// than [`RetryBudget::MAX_RATIO`](super::RetryBudget::MAX_RATIO).
    Ratio {
        /// The budget's name.
        name: Arc<str>,
        /// The ratio given.
        ratio: f64,
    },
    /// The window is zero: nothing would ever be counted in it.
    ZeroWindow {
        /// The budget's or breaker's name.
        name: Arc<str>,
    },
    /// A circuit breaker counts no kind: it could never open.
    NoCountedKinds {
        /// The breaker's name.
        name: Arc<str>,
    },
    /// A circuit breaker's failure rate is not a number, zero or less, or
    /// more than 1.
    FailureRate {
        /// The breaker's name.
        name: Arc<str>,
        /// The rate given.
        rate: f64,
    },
    /// A circuit breaker lets no probe through: it could never close again.
    NoProbes {
        /// The breaker's name.
        name: Arc<str>,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Ratio { name, ratio } => write!(
                f,
                "retry budget `{name}`: the ratio of retries to requests must be a number \
                 from 0 to {}, not {ratio}",
                super::RetryBudget::MAX_RATIO
            ),
            ConfigError::ZeroWindow { name } => {
                write!(f, "`{name}`: the window must be longer than zero")
            }
            ConfigError::NoCountedKinds { name } => write!(
                f,
                "circuit breaker `{name}`: it counts no kind, so it could never open"
            ),
            ConfigError::FailureRate { name, rate } => write!(
                f,
                "circuit breaker `{name}`: the failure rate must be more than 0 and at most 1, \
                 not {rate}"
            ),
            ConfigError::NoProbes { name } => write!(
                f,
                "circuit breaker `{name}`: it must let at least one probe through"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}
