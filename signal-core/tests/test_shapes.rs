//! Field shapes that need a decision, decided: `Self`, generic wrappers with
//! `forward` (bounded) or `skip` (unbounded), projections, raw pointers and
//! `dyn Any` skipped; and the enum-level leaf. Each positive case sits next
//! to a negative twin.

use std::marker::PhantomData;

use signal_core::{Kind, Signal, kind, map};

kind! {
    /// Trying again later may succeed.
    pub Retryable;
    /// The pool must be rebuilt.
    pub NeedsReconnect;
    /// The server is overloaded.
    pub Overloaded: Retryable;
}

#[derive(Debug, Signal)]
pub enum StorageError {
    #[signal(leaf = "NeedsReconnect")]
    PoolGone,
    NotFound,
}

/// Recursive through `Self`, in every container.
#[derive(Debug, Signal)]
pub enum Tree {
    Leaf(#[signal(forward)] StorageError),
    Boxed(#[signal(forward)] Box<Self>),
    Many(#[signal(forward)] Vec<Self>),
    Maybe(#[signal(forward)] Option<Box<Self>>),
    Ignored(#[signal(skip = "an old attempt, already reported")] Box<Self>),
}

#[test]
fn test_self_fields_forward() {
    let deep = Tree::Boxed(Box::new(Tree::Many(vec![
        Tree::Leaf(StorageError::NotFound),
        Tree::Maybe(Some(Box::new(Tree::Leaf(StorageError::PoolGone)))),
    ])));
    assert!(deep.has::<NeedsReconnect>());
    assert_eq!(
        deep.trace::<NeedsReconnect>().unwrap().to_string(),
        "Tree::Boxed → Tree::Many[1] → Tree::Maybe → Tree::Leaf → StorageError::PoolGone (NeedsReconnect)"
    );
}

#[test]
fn test_self_fields_negative_twin() {
    let clean = Tree::Boxed(Box::new(Tree::Many(vec![
        Tree::Leaf(StorageError::NotFound),
        Tree::Maybe(None),
    ])));
    assert!(!clean.has::<NeedsReconnect>());
    // Skipped on purpose: the signal inside does not count.
    let skipped = Tree::Ignored(Box::new(Tree::Leaf(StorageError::PoolGone)));
    assert!(!skipped.has::<NeedsReconnect>());
}

#[test]
fn test_recursive_map_terminates() {
    let map = map::<Tree>();
    assert!(!map.paths(NeedsReconnect::ID).is_empty());
}

/// A generic wrapper: `forward` bounds `E: Signal`.
#[derive(Debug, Signal)]
pub struct WithContext<E> {
    pub context: &'static str,
    #[signal(forward)]
    pub inner: E,
}

/// A generic wrapper that skips: no bound, any `T`.
#[derive(Debug, Signal)]
pub struct Labelled<T> {
    #[signal(skip = "a label, never an error")]
    pub label: T,
    #[signal(forward)]
    pub error: StorageError,
}

pub trait Store {
    type Err;
}

pub struct Sqlite;

impl Store for Sqlite {
    type Err = StorageError;
}

/// A projection, forwarded: bounds `S::Err: Signal`.
#[derive(Signal)]
pub struct StoreFailure<S: Store> {
    #[signal(forward)]
    pub error: S::Err,
    #[signal(skip = "the store handle is not an error")]
    pub store: PhantomData<S>,
}

#[test]
fn test_generic_forward() {
    let error = WithContext {
        context: "syncing",
        inner: StorageError::PoolGone,
    };
    assert!(error.has::<NeedsReconnect>());
    let nested = WithContext {
        context: "outer",
        inner: WithContext {
            context: "inner",
            inner: StorageError::PoolGone,
        },
    };
    assert!(nested.has::<NeedsReconnect>());
    let failure = StoreFailure::<Sqlite> {
        error: StorageError::PoolGone,
        store: PhantomData,
    };
    assert!(failure.has::<NeedsReconnect>());
}

#[test]
fn test_generic_forward_negative_twin() {
    let error = WithContext {
        context: "syncing",
        inner: StorageError::NotFound,
    };
    assert!(!error.has::<NeedsReconnect>());
    let failure = StoreFailure::<Sqlite> {
        error: StorageError::NotFound,
        store: PhantomData,
    };
    assert!(!failure.has::<NeedsReconnect>());
    // `skip` adds no bound: a `String` label compiles, and counts for nothing.
    let labelled = Labelled {
        label: String::from("pool gone"),
        error: StorageError::NotFound,
    };
    assert!(!labelled.has::<NeedsReconnect>());
    let labelled = Labelled {
        label: StorageError::PoolGone,
        error: StorageError::NotFound,
    };
    assert!(!labelled.has::<NeedsReconnect>());
}

/// Shapes no check can see through, each skipped with its reason.
#[derive(Signal)]
pub struct Handles {
    #[signal(skip = "a panic payload, already logged")]
    pub payload: Box<dyn std::any::Any + Send>,
    #[signal(skip = "a raw handle for FFI; never an error")]
    pub raw: *const StorageError,
}

#[test]
fn test_skipped_undecidable_shapes_carry_nothing() {
    let pool = StorageError::PoolGone;
    let handles = Handles {
        payload: Box::new(StorageError::PoolGone),
        raw: &pool,
    };
    assert!(!handles.has::<NeedsReconnect>());
}

/// Every variant is retryable; one is also a reconnect.
#[derive(Debug, Signal)]
#[signal(leaf = "Retryable")]
pub enum UpstreamError {
    Timeout,
    Overloaded {
        queue: usize,
    },
    #[signal(leaf = "NeedsReconnect")]
    Reset,
}

/// The enum-level leaf is conditional.
#[derive(Debug, Signal)]
#[signal(leaf = "Overloaded", when = "HttpError::is_overload")]
pub enum HttpError {
    Status(u16),
    Closed,
}

impl HttpError {
    fn is_overload(&self) -> bool {
        matches!(self, HttpError::Status(429 | 503))
    }
}

#[test]
fn test_enum_level_leaf() {
    for error in [
        UpstreamError::Timeout,
        UpstreamError::Overloaded { queue: 3 },
        UpstreamError::Reset,
    ] {
        assert!(error.has::<Retryable>(), "{error:?}");
        assert!(error.has_kind(Retryable::ID), "{error:?}");
    }
    assert_eq!(
        UpstreamError::Timeout
            .trace::<Retryable>()
            .unwrap()
            .to_string(),
        "UpstreamError (Retryable)"
    );
    assert!(UpstreamError::Reset.has::<NeedsReconnect>());
    assert!(HttpError::Status(503).has::<Overloaded>());
    assert!(HttpError::Status(503).has::<Retryable>());
}

#[test]
fn test_enum_level_leaf_negative_twin() {
    // Only the variant with its own leaf reconnects.
    assert!(!UpstreamError::Timeout.has::<NeedsReconnect>());
    assert!(!UpstreamError::Overloaded { queue: 3 }.has::<NeedsReconnect>());
    // The enum-level leaf raises its kind and what it implies, nothing more
    // precise.
    assert!(!UpstreamError::Timeout.has::<Overloaded>());
    // Conditional: false for other statuses and variants.
    assert!(!HttpError::Status(404).has::<Retryable>());
    assert!(!HttpError::Closed.has::<Overloaded>());
    assert!(HttpError::Closed.trace::<Retryable>().is_none());
}

#[test]
fn test_enum_level_leaf_shows_once_in_the_map() {
    let map = map::<UpstreamError>();
    let paths: Vec<String> = map
        .paths(Retryable::ID)
        .iter()
        .map(|path| path.to_string())
        .collect();
    assert_eq!(
        paths,
        vec!["UpstreamError (Retryable)".to_owned()],
        "{paths:?}"
    );
    let reconnect: Vec<String> = map
        .paths(NeedsReconnect::ID)
        .iter()
        .map(|path| path.to_string())
        .collect();
    assert_eq!(
        reconnect,
        vec!["UpstreamError::Reset (NeedsReconnect)".to_owned()]
    );
}

#[cfg(feature = "fixtures")]
#[test]
fn test_enum_level_leaf_fixtures() {
    // One value for the enum-level path, one for the variant's own leaf.
    assert_eq!(signal_core::assert_fixtures!(UpstreamError), 2);
    assert_eq!(signal_core::assert_fixtures!(Tree), 1);
    signal_core::assert_fixtures!(HttpError);
}

/// A leaf whose kind is the type's parameter: each instantiation raises its
/// own kind, in `has`, traces and maps alike (the description is shared by
/// the instantiations; its kinds are not).
#[derive(Debug, Signal)]
pub enum Raised<K: Kind> {
    #[signal(leaf = "K")]
    Raised(#[signal(skip = "a marker for the kind")] PhantomData<K>),
}

#[test]
fn test_kind_parameter_per_instantiation() {
    let retryable: Raised<Retryable> = Raised::Raised(PhantomData);
    let reconnect: Raised<NeedsReconnect> = Raised::Raised(PhantomData);
    assert!(retryable.has::<Retryable>());
    assert!(!retryable.has::<NeedsReconnect>());
    assert!(reconnect.has::<NeedsReconnect>());
    assert!(!reconnect.has::<Retryable>());
    // The maps, each asked after the other instantiation's was built.
    let first = map::<Raised<Retryable>>().to_markdown();
    let second = map::<Raised<NeedsReconnect>>().to_markdown();
    assert!(first.contains("## Retryable"), "{first}");
    assert!(!first.contains("## NeedsReconnect"), "{first}");
    assert!(second.contains("## NeedsReconnect"), "{second}");
    assert!(!second.contains("## Retryable"), "{second}");
    assert_eq!(
        reconnect.trace::<NeedsReconnect>().unwrap().to_string(),
        "Raised::Raised (NeedsReconnect)"
    );
}
