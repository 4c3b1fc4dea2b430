//! Examples and end-to-end tests for `signal-core`.

pub mod daemon;
pub mod fleet;
pub mod hierarchy;
