//! Examples and end-to-end tests for `signal-core`.

pub mod daemon;
pub mod fleet;
pub mod hierarchy;

/// The README's Rust blocks, compiled and run as doctests of this package:
/// a block that stops compiling, or whose assertions fail, fails
/// `cargo test`. (`tests/test_readme.rs` checks that they hide no lines.)
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
