//! Error signals — "rebuild the DB pool", "retryable", "transient network,
//! not a bad token" — that flow through nested error types by construction.
//!
//! Services nest error enums five or six deep and answer cross-cutting
//! questions about them ("must the pool be rebuilt?") with hand-written
//! methods full of `_ => false` arms: one forgotten wrapper silently drops
//! the signal, and a supervisor hot-loops on a dead pool.
//! [`#[derive(Signal)]`](derive@Signal) replaces those methods, and makes the
//! forgotten wrapper a compile error: **every field whose type can carry a
//! signal is forwarded, or skipped with a reason, or the crate does not
//! compile.**
//!
//! ```toml
//! [dependencies]
//! signal-core = "0.1"
//! ```
//!
//! # Quick start
//!
//! Declare the kinds your supervisor asks about, mark the variants that
//! raise them, and forward through the wrappers:
//!
//! ```
//! use signal_core::{Signal, kind};
//!
//! kind! {
//!     /// The DB pool was dropped; rebuild it before retrying.
//!     pub NeedsDbReconnect;
//!     /// The pool has no live connection. Raising it also raises `NeedsDbReconnect`.
//!     pub PoolNeedsConnection: NeedsDbReconnect;
//!     /// Trying again later may succeed.
//!     pub Retryable;
//! }
//!
//! #[derive(Debug, Signal)]
//! pub enum StorageError {
//!     #[signal(leaf = "PoolNeedsConnection")]
//!     PoolNeedsConnection,
//!     #[signal(leaf = "Retryable")]
//!     Busy,
//!     DisconnectInTransaction, // carries nothing: no annotation needed
//! }
//!
//! #[derive(Debug)]
//! pub struct Cursor(pub u64); // plain data
//!
//! #[derive(Debug, Signal)]
//! pub struct ProcessSummary {
//!     // Per-message failures make nothing retryable, but a dropped pool counts.
//!     #[signal(forward(except(Retryable)))]
//!     pub errored: Vec<(Cursor, StorageError)>,
//! }
//!
//! #[derive(Debug, Signal)]
//! pub enum GroupError {
//!     Storage(#[signal(forward)] StorageError),
//!     Sync(#[signal(forward)] Box<ProcessSummary>),
//!     Client(#[signal(skip = "client errors are reported by the caller")] StorageError),
//! }
//!
//! let error = GroupError::Sync(Box::new(ProcessSummary {
//!     errored: vec![
//!         (Cursor(1), StorageError::Busy),
//!         (Cursor(2), StorageError::PoolNeedsConnection),
//!     ],
//! }));
//!
//! assert!(error.has::<NeedsDbReconnect>()); // no allocation; a plain `match`
//! assert!(!error.has::<Retryable>()); // held back by `except`
//! assert_eq!(
//!     error.trace::<NeedsDbReconnect>().unwrap().to_string(),
//!     "GroupError::Sync → ProcessSummary.errored[1].1 → \
//!      StorageError::PoolNeedsConnection (PoolNeedsConnection ⇒ NeedsDbReconnect)",
//! );
//! ```
//!
//! Forget the `forward` on `GroupError::Storage` and the build fails on that
//! field:
//!
//! ```compile_fail,E0277
//! # use signal_core::{Signal, kind};
//! # kind! { pub NeedsDbReconnect; }
//! # #[derive(Debug, Signal)]
//! # pub enum StorageError {
//! #     #[signal(leaf = "NeedsDbReconnect")]
//! #     PoolNeedsConnection,
//! # }
//! #[derive(Debug, Signal)]
//! pub enum GroupError {
//!     Storage(StorageError),
//! }
//! ```
//!
//! ```text
//! error[E0277]: this field can carry signals (through `StorageError`), but is neither forwarded nor skipped
//!   --> src/lib.rs:31:13
//!    |
//! 31 |     Storage(StorageError),
//!    |             ^^^^^^^^^^^^ add `#[signal(forward)]` (`chain(...)` for a type-erased error) to pass its signals on, or `#[signal(skip = "reason")]` to drop them on purpose
//! ```
//!
//! # Kinds
//!
//! A kind is a zero-sized type declared with [`kind!`]. `Precise: Broad +
//! Other` makes raising `Precise` also raise `Broad` and `Other`; a question
//! about `Broad` is then true for either. Implications may not form a cycle
//! (a compile error). [`Kind`] is the static view, [`KindId`] the run-time
//! one, for code that picks kinds at run time; [`Kinds`] is what a
//! classifier returns, built with [`kinds!`].
//!
//! ```
//! use signal_core::{Kind, kind};
//!
//! kind! {
//!     pub Retryable;
//!     pub DatabaseBusy: Retryable;
//! }
//!
//! assert!(DatabaseBusy::implies::<Retryable>());
//! assert!(!Retryable::implies::<DatabaseBusy>());
//! assert_eq!(DatabaseBusy::ID.name(), "DatabaseBusy");
//! ```
//!
//! # The derive
//!
//! | attribute | on | meaning |
//! |---|---|---|
//! | `leaf = "Kind"` | variant, struct, enum | the value raises `Kind` and what it implies |
//! | `when = "predicate"` | next to `leaf` | only when `predicate(&self)` holds |
//! | `forward` | field | the field's signals are the value's, through `Box`, `Vec`, `Option`, tuples, maps, ... |
//! | `only(A)`, `except(B)` | next to `forward`, `forward_with`, `chain` | forward per kind asked about |
//! | `forward_with = "classifier"` | field | a foreign error, classified by a named function or [`Classify`] type |
//! | `chain(A, B(classifier))` | field | a type-erased error: walk `source()` and downcast |
//! | `skip = "reason"` | field | drop its signals on purpose; the reason shows in docs and maps |
//! | `crate = "path"` | struct, enum | where to find `signal_core` if re-exported |
//!
//! [The derive's reference](derive@Signal) documents each attribute with an
//! example, where the check cannot see, and the compile-fail cases that show
//! each misuse.
//!
//! # Asking
//!
//! [`Signal::has`] is monomorphized and allocation-free. [`Signal::trace`]
//! returns the first path through which a value carries a kind, and
//! [`Signal::traces`] every path; paths name types, variants, fields and
//! positions — never field values, and never map keys — so they are safe to
//! log. [`Signal::has_kind`], [`Signal::trace_kind`] and
//! [`Signal::traces_kind`] take the kind at run time ([`KindId`]) and work on
//! `dyn Signal`.
//!
//! ```
//! use signal_core::{Kind, Signal, kind};
//!
//! kind! { pub Retryable; }
//!
//! #[derive(Debug, Signal)]
//! pub enum JobError {
//!     #[signal(leaf = "Retryable")]
//!     Busy,
//!     Invalid,
//! }
//!
//! let errors: Vec<Box<dyn Signal + Send + Sync>> =
//!     vec![Box::new(JobError::Invalid), Box::new(vec![JobError::Invalid, JobError::Busy])];
//! let retryable: Vec<bool> = errors.iter().map(|e| e.has_kind(Retryable::ID)).collect();
//! assert_eq!(retryable, [false, true]);
//! assert_eq!(errors[1].trace_kind(Retryable::ID).unwrap().to_string(), "[1] → JobError::Busy (Retryable)");
//! ```
//!
//! # Errors you do not own
//!
//! The orphan rule forbids `impl Signal for std::io::Error` outside this
//! crate. Classify foreign errors instead: a classifier is a
//! `fn(&T) -> Option<KindId>` (or `-> Kinds`), or a type implementing
//! [`Classify`]; registering it (`impl ClassifiedBy<MyClassifier> for
//! TheError {}`, allowed because the classifier is yours) makes plain
//! `forward` work on that error, and makes the check ask for a decision on
//! every field holding one. Built-in classifiers
//! ([`classifiers`]) cover `std::io::Error` and, behind features, the
//! errors of common crates; a registration of yours takes precedence.
//!
//! ```
//! use std::{fmt, io};
//! use signal_core::vocab::TransientNetwork;
//! use signal_core::{ClassifiedBy, Classify, Kind, KindId, Kinds, Signal, kind, kinds};
//!
//! kind! {
//!     pub Retryable;
//!     pub NeedsReconnect;
//! }
//!
//! /// A driver's error, standing in for a database crate's.
//! #[derive(Debug)]
//! #[non_exhaustive]
//! pub enum DriverError {
//!     Busy,
//!     Closed,
//!     Constraint,
//! }
//! impl fmt::Display for DriverError {
//!     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
//!         write!(f, "{self:?}")
//!     }
//! }
//! impl std::error::Error for DriverError {}
//!
//! #[derive(Default)]
//! pub struct DriverClassifier;
//!
//! impl Classify<DriverError> for DriverClassifier {
//!     fn classify(&self, error: &DriverError) -> Kinds {
//!         match error {
//!             DriverError::Busy => Retryable::ID.into(),
//!             DriverError::Closed => kinds![NeedsReconnect, Retryable],
//!             _ => Kinds::NONE,
//!         }
//!     }
//!     fn kinds(&self) -> Vec<KindId> {
//!         vec![NeedsReconnect::ID, Retryable::ID]
//!     }
//! }
//!
//! impl ClassifiedBy<DriverClassifier> for DriverError {}
//!
//! #[derive(Debug, Signal)]
//! pub enum SyncError {
//!     Io(#[signal(forward)] io::Error),
//!     Db(#[signal(forward)] DriverError),
//! }
//!
//! assert!(SyncError::Io(io::ErrorKind::ConnectionRefused.into()).has::<TransientNetwork>());
//! assert!(SyncError::Db(DriverError::Closed).has::<NeedsReconnect>());
//! assert!(!SyncError::Db(DriverError::Constraint).has::<Retryable>());
//! ```
//!
//! # Paths in the docs and in review
//!
//! [`map`] lists every static path from a type to every leaf, per kind, with
//! the fields filters hold back and every skipped field with its reason;
//! [`SignalMap::to_markdown`] and [`SignalMap::to_mermaid`] render it.
//! [`assert_map_snapshot!`] compares it with a committed file, so a changed
//! signal path shows up in code review, and
//! `#[doc = include_str!("../docs/signal-map.md")]` puts it in `cargo doc`.
//! Each derived impl also documents the type's own edges.
//!
//! # Testing
//!
//! [`testing`] has one-line assertions that print the paths when they fail
//! ([`assert_signal!`], [`assert_no_signal!`]), case tables
//! ([`assert_cases!`]), map snapshots, and, with the `fixtures` feature, one
//! generated value per static path checked against every kind
//! ([`assert_fixtures!`]).
//!
//! ```
//! use signal_core::{Signal, assert_cases, assert_no_signal, assert_signal, kind};
//!
//! kind! { pub Reconnect; }
//!
//! #[derive(Signal)]
//! enum StorageError {
//!     #[signal(leaf = "Reconnect")]
//!     PoolGone,
//!     Constraint,
//! }
//!
//! assert_signal!(StorageError::PoolGone, Reconnect);
//! assert_no_signal!(StorageError::Constraint, Reconnect);
//! assert_cases!(Reconnect;
//!     carries: [StorageError::PoolGone, Some(StorageError::PoolGone)],
//!     clean: [StorageError::Constraint, None::<StorageError>],
//! );
//! ```
//!
//! # The runtime
//!
//! The crate [`signal-runtime`](https://docs.rs/signal-runtime) (beside this
//! one, as `tokio-util` beside `tokio`) supervises tokio workers and reacts
//! to what their errors carry, through every wrapper: it rebuilds a shared
//! resource once however many workers saw it fail, retries with backoff,
//! stops what cannot be retried, and logs each reaction with its trace. It
//! depends on this crate's public API only, so its releases do not move the
//! derive's.
//!
//! # The standard vocabulary, built-in classifiers, open kinds
//!
//! [`vocab`] names the facts every service asks about (`TransientNetwork`
//! and its precise leaves, `TimedOut`, `RateLimited`, `Unavailable`,
//! `BadCredentials`, `ResourceBusy`, ...). [`classifiers`] raises them for
//! `std::io::Error` and, one feature per crate, for the errors of rusqlite,
//! http, hyper, reqwest, tonic, tokio and deadpool: with a feature on, plain
//! `#[signal(forward)]` works on that crate's error, and an unannotated field
//! of it is a compile error. Your own kinds may include library kinds
//! (`kind! { pub Retryable: includes(TransientNetwork, ResourceBusy); }`), so
//! that one question covers them all.
//!
//! # Signals across the wire
//!
//! [`wire`] carries the kinds an error raised across an HTTP or gRPC
//! boundary, in one `signal-kinds` header, and turns the names a caller
//! trusts back into kinds, into an error that implements [`Signal`].
//!
//! # Feature flags
//!
//! No feature is on by default. On docs.rs, items that need a feature say so.
//!
//! | feature | adds | dependencies |
//! |---|---|---|
//! | `fixtures` | [`testing::fixtures`] and [`assert_fixtures!`]: one generated test value per static path. Turn it on in `[dev-dependencies]` only: it multiplies the code the derive emits. | none |
//! | `rusqlite` | the built-in classifier of `rusqlite::Error` (busy, locked ⇒ `ResourceBusy`). Needs Rust 1.95, as rusqlite 0.40 does. | `rusqlite` |
//! | `http` | the classifier of `http::StatusCode`, `classifiers::http::retry_after`, and the `signal-kinds` header of [`wire`] for HTTP | `http`, `httpdate` |
//! | `hyper` | the classifier of `hyper::Error` | `hyper` |
//! | `reqwest` | the classifier of `reqwest::Error` of reqwest 0.12 (turns on `http` and `hyper`) | `reqwest` 0.12 |
//! | `reqwest-0-13` | the classifier of `reqwest::Error` of reqwest 0.13, the same facts (turns on `http` and `hyper`) | `reqwest` 0.13 |
//! | `tonic` | the classifiers of `tonic::Status` and `tonic::transport::Error`, and `wire::tonic` for kinds in gRPC statuses | `tonic` (with `channel`) |
//! | `tokio` | the classifiers of `tokio::time::error::Elapsed` and `tokio::task::JoinError` | `tokio` |
//! | `deadpool` | the classifiers of `deadpool::managed::PoolError<E>` and `deadpool_sync::InteractError` | `deadpool`, `deadpool-sync` |
//!
//! # Minimum supported Rust version
//!
//! `signal-core` and `signal-derive` build on **Rust 1.91** and later
//! (`rust-version` in their manifests). The MSRV trails the latest stable
//! release by at least four releases (about six months); raising it is a
//! minor-version change (0.1 → 0.2 before 1.0), never a patch release.
//! (The repository's examples and end-to-end tests need Rust 1.95, for
//! `deadpool-sqlite` and `rusqlite`; they are not published.)
//!
//! # Compared with the alternatives
//!
//! - **Hand-written methods** (`fn needs_db_reconnect(&self) -> bool` on
//!   every enum) compile to the same code as `has`, but each new wrapper and
//!   variant must remember to forward, and an exhaustive match still allows
//!   `Variant(_) => false`.
//! - **Walking `source()` with `downcast_ref`** (the `anyhow` and
//!   `error-stack` way) finds a leaf only if every wrapper reports it as its
//!   source, follows a single chain (never the hundred per-message errors of
//!   a summary), costs a virtual call and a type-id comparison per hop, and
//!   is not checked at compile time. [`chain`](derive@Signal#chain) does it
//!   where a type is erased.
//! - **`thiserror`** describes errors; `signal` answers questions about
//!   them. They derive side by side on the same types.
//!
//! # Licence
//!
//! Licensed under either of Apache License, Version 2.0 or MIT licence, at
//! your option.
//!
// Links to items that need a feature: into these docs when it is on (as on
// docs.rs), to docs.rs when it is off.
#![cfg_attr(
    feature = "fixtures",
    doc = "[`testing::fixtures`]: crate::testing::fixtures\n[`assert_fixtures!`]: crate::assert_fixtures"
)]
#![cfg_attr(
    not(feature = "fixtures"),
    doc = "[`testing::fixtures`]: https://docs.rs/signal-core/latest/signal_core/testing/fn.fixtures.html\n[`assert_fixtures!`]: https://docs.rs/signal-core/latest/signal_core/macro.assert_fixtures.html"
)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

extern crate alloc;

mod checks;
pub mod classifiers;
mod classify;
mod fixture;
mod kind;
mod map;
mod shape;
mod signal;
pub mod testing;
mod trace;
pub mod vocab;
pub mod wire;

// The derive's field checks, named at the root so that compiler messages
// show `signal_core::Unannotated`, never a private path.
#[doc(hidden)]
pub use crate::checks::{
    ChainError, ChainListed, Chained, ClassifiedError, DynProbe, Forwarded, ForwardedPart,
    NoSignals, Probe, SignalCarrier, Skippable, StdName, TypeErasedError, Unannotated, or,
};
#[doc(hidden)]
pub use crate::checks::{
    DynProbeError, DynProbeNone, ProbeBuiltin, ProbeClassified, ProbeErased, ProbeNone,
};

#[doc(hidden)]
#[path = "private/mod.rs"]
pub mod __private;

pub use crate::classify::{
    ClassifiedBy, Classify, ErrorChain, Kinds, MAX_CHAIN, TextRule, chain_of,
};
pub use crate::kind::{Kind, KindId};
pub use crate::map::{
    HeldBack, KindSection, SignalMap, Skipped, StaticPath, StaticStep, map, map_with,
};
pub use crate::shape::{Edge, FieldInfo, Shape, Target, TypeInfo, VariantInfo};
pub use crate::signal::Signal;
pub use crate::trace::{FieldName, Node, Step, Trace, Walker};
pub use signal_derive::Signal;
