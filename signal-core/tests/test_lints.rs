//! The derive's output is clean under strict lints: this file fails to build
//! (or fails clippy in CI) if generated code trips any of them.

#![deny(
    unused_qualifications,
    unused,
    missing_docs,
    rust_2018_idioms,
    clippy::all,
    clippy::pedantic,
    clippy::nursery
)]
#![allow(clippy::missing_docs_in_private_items)]

//! Lint test.

use signal_core::{Signal, kind};

kind! {
    /// A kind.
    pub Reconnect;
    /// Another kind.
    pub Precise: Reconnect;
}

/// Leaves.
#[derive(Debug, Signal)]
pub enum Leaf {
    /// Raises `Precise`.
    #[signal(leaf = "Precise")]
    Pool,
    /// Raises nothing.
    Benign,
}

/// Every attribute.
#[derive(Debug, Signal)]
pub enum Outer<T: core::fmt::Debug> {
    /// Forwarded.
    A(#[signal(forward)] Leaf),
    /// Filtered.
    B(#[signal(forward(only(Reconnect)))] Box<Leaf>),
    /// Except.
    C {
        /// Field.
        #[signal(forward(except(Precise)))]
        inner: Vec<(u64, Leaf)>,
    },
    /// Skipped.
    D(#[signal(skip = "documented reason")] Leaf),
    /// Generic.
    E(#[signal(forward)] Option<T>),
    /// Leaf.
    #[signal(leaf = "Reconnect")]
    F,
}

/// A struct.
#[derive(Debug, Signal)]
#[signal(leaf = "Reconnect")]
pub struct Struct {
    /// Plain data.
    pub data: u32,
    #[signal(forward)]
    /// Forwarded.
    pub inner: Outer<Leaf>,
}

/// Empty.
#[derive(Debug, Signal)]
pub enum Never {}

#[test]
fn test_lint_clean_derive_works() {
    let outer: Outer<Leaf> = Outer::C {
        inner: vec![(1, Leaf::Pool)],
    };
    assert!(outer.has::<Reconnect>());
    assert!(!outer.has::<Precise>());
    assert!(!Outer::<Leaf>::D(Leaf::Pool).has::<Reconnect>());
    assert!(
        Struct {
            data: 0,
            inner: Outer::A(Leaf::Benign)
        }
        .has::<Reconnect>()
    );
}
