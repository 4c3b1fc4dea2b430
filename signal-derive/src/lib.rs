//! The derive macro of [`signal-core`](https://docs.rs/signal-core). Depend on
//! `signal-core`, which re-exports it as `signal_core::Signal`; the attribute
//! reference is the documentation of [`Signal`](derive@Signal).

mod ast;
mod attr;
mod chain;
mod check;
mod ctxt;
mod depth;
mod describe;
mod doc;
mod expand;
mod field_checks;
mod fixtures;
mod text;
mod ty;
mod visit;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Derives `Signal` for a struct or an enum: which of its values raise which
/// kinds, and which fields pass on the signals of what they hold.
///
/// Every field whose type can carry a signal must be forwarded or skipped
/// with a reason; otherwise the derive reports an error on that field. Fields
/// that provably carry nothing (`String`, `u64`, a type that does not
/// implement `Signal`) need no annotation.
///
/// All attributes are written `#[signal(...)]`:
///
/// | attribute | on | meaning |
/// |---|---|---|
/// | [`leaf = "Kind"`](#leaf) | variant, struct, enum | the value raises `Kind` (and what it implies) |
/// | [`when = "predicate"`](#when) | next to `leaf` | the leaf is raised only when `predicate(&self)` holds |
/// | [`forward`](#forward) | field | the field's signals are the value's |
/// | [`only(A, B)`, `except(C)`](#only-and-except) | next to `forward`, `forward_with`, `chain` | forward per kind asked about |
/// | [`forward_with = "classifier"`](#forward_with) | field | classify a foreign error with a named classifier |
/// | [`chain(A, B(classifier), text(...))`](#chain) | field | walk a type-erased error's `source()` chain |
/// | [`skip = "reason"`](#skip) | field | drop the field's signals on purpose |
/// | [`crate = "path"`](#crate) | struct, enum | where to find `signal_core` |
///
/// Each section below has an example that compiles, and links to the
/// compile-fail cases (in `signal-core/tests/ui/`, with the compiler's
/// message next to each in a `.stderr` file) that show its misuse.
///
/// # `leaf`
///
/// `#[signal(leaf = "Kind")]` on a variant or a struct: that value raises
/// `Kind`, and every kind `Kind` implies. On an enum, every variant raises it,
/// and a variant may add a leaf of its own. The kind may also be written as a
/// bare path, `leaf = Kind`, or as a path into a module, `leaf =
/// "kinds::Retryable"`.
///
/// ```
/// use signal_core::{Signal, kind};
///
/// kind! {
///     pub Retryable;
///     pub NeedsReconnect;
///     /// Raising it also raises `NeedsReconnect`.
///     pub PoolGone: NeedsReconnect;
/// }
///
/// #[derive(Debug, Signal)]
/// #[signal(leaf = "Retryable")] // every variant is retryable
/// pub enum UpstreamError {
///     Timeout,
///     Overloaded { queue: usize },
///     #[signal(leaf = PoolGone)] // and this one also needs a reconnect
///     Reset,
/// }
///
/// #[derive(Debug, Signal)]
/// #[signal(leaf = "NeedsReconnect")]
/// pub struct Disconnected {
///     pub peer: String,
/// }
///
/// assert!(UpstreamError::Timeout.has::<Retryable>());
/// assert!(!UpstreamError::Timeout.has::<NeedsReconnect>());
/// assert!(UpstreamError::Reset.has::<NeedsReconnect>()); // PoolGone ⇒ NeedsReconnect
/// assert!(UpstreamError::Reset.has::<Retryable>());
/// assert!(Disconnected { peer: "db".into() }.has::<NeedsReconnect>());
/// ```
///
/// A leaf raises only its own kind and the kinds it implies, never a more
/// precise one: `Disconnected` above does not raise `PoolGone`.
///
/// Misuse: [leaf-on-field], [leaf-without-kind], [leaf-not-a-path],
/// [leaf-not-a-kind], [leaf-unresolved], [duplicate-leaf].
///
/// # `when`
///
/// `#[signal(leaf = "Kind", when = "predicate")]`: a conditional leaf, raised
/// only when `predicate(&self) -> bool` returns `true`. The predicate is a
/// path to a function or method taking the whole value.
///
/// ```
/// use signal_core::{Signal, kind};
///
/// kind! { pub BadCredentials; }
///
/// #[derive(Debug, Signal)]
/// pub enum HttpError {
///     #[signal(leaf = "BadCredentials", when = "HttpError::is_unauthorized")]
///     Status(u16),
///     Io(String),
/// }
///
/// impl HttpError {
///     fn is_unauthorized(&self) -> bool {
///         matches!(self, HttpError::Status(401 | 403))
///     }
/// }
///
/// assert!(HttpError::Status(401).has::<BadCredentials>());
/// assert!(!HttpError::Status(503).has::<BadCredentials>());
/// ```
///
/// Misuse: [when-without-leaf].
///
/// # `forward`
///
/// `#[signal(forward)]` on a field: the field's signals are the value's. The
/// field's type must carry signals: a type that derives `Signal`, a foreign
/// error with a registered classifier (such as `std::io::Error`), or `Box`,
/// `Arc`, `Rc`, `&T`, `Option`, `Vec`, `VecDeque`, a slice, an array, the
/// values of a `HashMap` or `BTreeMap`, a tuple, or
/// `Box<dyn Signal + Send + Sync>`, of one, nested as deep as you like. In a
/// tuple, the elements that carry signals are forwarded and the others are
/// data.
///
/// ```
/// use std::collections::HashMap;
/// use signal_core::{Signal, kind};
///
/// kind! { pub NeedsReconnect; }
///
/// #[derive(Debug, Signal)]
/// pub enum StorageError {
///     #[signal(leaf = "NeedsReconnect")]
///     PoolClosed,
///     Constraint,
/// }
///
/// #[derive(Debug)]
/// pub struct Cursor(pub u64); // plain data
///
/// #[derive(Debug, Signal)]
/// pub struct BatchSummary {
///     #[signal(forward)]
///     pub errored: Vec<(Cursor, StorageError)>,
///     #[signal(forward)]
///     pub by_peer: HashMap<String, Option<Box<StorageError>>>,
///     pub committed: usize, // carries nothing: no annotation
/// }
///
/// #[derive(Debug, Signal)]
/// pub enum SyncError {
///     Storage(#[signal(forward)] StorageError),
///     Batch {
///         #[signal(forward)]
///         summary: Box<BatchSummary>,
///     },
/// }
///
/// let error = SyncError::Batch {
///     summary: Box::new(BatchSummary {
///         errored: vec![(Cursor(7), StorageError::Constraint), (Cursor(8), StorageError::PoolClosed)],
///         by_peer: HashMap::new(),
///         committed: 10,
///     }),
/// };
/// assert!(error.has::<NeedsReconnect>());
/// assert_eq!(
///     error.trace::<NeedsReconnect>().unwrap().to_string(),
///     "SyncError::Batch.summary → BatchSummary.errored[1].1 → StorageError::PoolClosed (NeedsReconnect)",
/// );
/// assert!(!SyncError::Storage(StorageError::Constraint).has::<NeedsReconnect>());
/// ```
///
/// A field whose type mentions a type parameter adds a `Signal` bound for it
/// when forwarded (`E: Signal`, `S::Err: Signal`); your where-clauses are
/// kept. `Self` works wherever a type does (`Box<Self>`,
/// `Option<Box<Self>>`):
///
/// ```
/// use signal_core::{Signal, kind};
///
/// kind! { pub Retryable; }
///
/// #[derive(Debug, Signal)]
/// pub struct WithContext<E> {
///     pub context: &'static str,
///     #[signal(forward)] // adds `E: Signal`
///     pub inner: E,
/// }
///
/// #[derive(Debug, Signal)]
/// pub enum Chained {
///     #[signal(leaf = "Retryable")]
///     Busy,
///     Caused(#[signal(forward)] Box<Self>),
/// }
///
/// let error = WithContext { context: "claiming", inner: Chained::Caused(Box::new(Chained::Busy)) };
/// assert!(error.has::<Retryable>());
/// ```
///
/// Misuse: [forward-on-non-carrier], [forward-on-variant],
/// [forward-with-value], [duplicate-forward], [forward-and-skip],
/// [forward-on-type-erased-error] (use `chain`),
/// [forward-tuple-with-type-erased-part], [forward-tuple-too-long] (tuples
/// of up to 16 parts). Forgetting `forward`:
/// [missed-wrapper-direct], [missed-wrapper-in-vec],
/// [missed-wrapper-in-tuple-in-vec], [missed-wrapper-in-map-value],
/// [missed-wrapper-in-generic-struct], [undecidable-type-parameter] and the
/// other `missed-wrapper-*` and `undecidable-*` cases.
///
/// # `only` and `except`
///
/// Forward per question: with `only(A, B)` the field is consulted when the
/// kind asked about is, or implies, `A` or `B`; with `except(C)` it is not
/// consulted when the kind asked about is, or implies, `C`. Write them inside
/// `forward` (`forward(only(A))`) or next to `forward`, `forward_with` or
/// `chain(...)` (`forward, only(A)`). They do not combine.
///
/// ```
/// use signal_core::{Signal, kind};
///
/// kind! {
///     pub NeedsReconnect;
///     pub Retryable;
/// }
///
/// #[derive(Debug, Signal)]
/// pub enum StorageError {
///     #[signal(leaf = "NeedsReconnect")]
///     PoolClosed,
///     #[signal(leaf = "Retryable")]
///     Busy,
/// }
///
/// #[derive(Debug, Signal)]
/// pub struct ProcessSummary {
///     // Per-message failures make nothing retryable, but a dropped pool counts.
///     #[signal(forward(except(Retryable)))]
///     pub errored: Vec<StorageError>,
///     // Only a reconnect of the audit log's pool matters here.
///     #[signal(forward, only(NeedsReconnect))]
///     pub audit: Option<StorageError>,
/// }
///
/// let summary = ProcessSummary {
///     errored: vec![StorageError::Busy],
///     audit: Some(StorageError::Busy),
/// };
/// assert!(!summary.has::<Retryable>()); // held back by both filters
///
/// let summary = ProcessSummary { errored: vec![StorageError::PoolClosed], audit: None };
/// assert!(summary.has::<NeedsReconnect>());
/// ```
///
/// Misuse: [only-with-except], [only-empty], [only-not-a-kind],
/// [filter-without-forward], [filter-twice], [filter-on-variant].
///
/// # `forward_with`
///
/// `#[signal(forward_with = "classifier")]` on a field of a type you do not
/// own: the field's signals are what the classifier returns. A classifier is
/// a `fn(&T) -> Option<KindId>`, a `fn(&T) -> Kinds`, or a type implementing
/// `Classify<T>` (which can also list the kinds it may return, for maps).
/// A foreign error with a built-in classifier (`std::io::Error`, and behind
/// features the errors of rusqlite, http, hyper, reqwest, tonic, tokio and
/// deadpool) or a registered one
/// (`impl ClassifiedBy<MyClassifier> for TheError {}`) takes plain
/// `forward`; `forward_with` names another.
///
/// ```
/// use std::io;
/// use signal_core::classifiers::io::IoClassifier;
/// use signal_core::vocab::TransientNetwork;
/// use signal_core::{Kind, KindId, Signal, kind};
///
/// kind! { pub DiskFull; }
///
/// fn classify_disk(error: &io::Error) -> Option<KindId> {
///     (error.kind() == io::ErrorKind::StorageFull).then_some(DiskFull::ID)
/// }
///
/// #[derive(Debug, Signal)]
/// pub enum SpoolError {
///     Write(#[signal(forward_with = "classify_disk")] io::Error),
///     Upload(#[signal(forward_with = "IoClassifier")] io::Error),
///     Read(#[signal(forward)] io::Error), // the built-in classifier: `IoClassifier`
/// }
///
/// let full = || io::Error::from(io::ErrorKind::StorageFull);
/// let reset = || io::Error::from(io::ErrorKind::ConnectionReset);
/// assert!(SpoolError::Write(full()).has::<DiskFull>());
/// assert!(!SpoolError::Write(reset()).has::<TransientNetwork>());
/// assert!(SpoolError::Upload(reset()).has::<TransientNetwork>());
/// assert!(SpoolError::Read(reset()).has::<TransientNetwork>());
/// ```
///
/// Misuse: [classifier-with-wrong-signature]. Forgetting to decide on a
/// classified foreign error: [classified-foreign-unannotated],
/// [registered-classifier-unannotated].
///
/// # `chain`
///
/// `#[signal(chain(A, B(classifier)))]` on a type-erased error
/// (`Box<dyn Error + Send + Sync>`, `Arc<dyn Error>`, `anyhow::Error`, a
/// pointer to a trait object of your own trait with `Error` as a
/// supertrait, or any `Error + 'static` field): walk its `source()` chain and
/// downcast each error to the listed types. List types that derive `Signal`
/// or have a registered classifier by name, and others as
/// `Type(classifier)`. The walk also follows the payload of a
/// `std::io::Error` (`io::Error::other(e)`), visits at most `MAX_CHAIN` (32)
/// errors, and stops at a cycle.
///
/// As a last resort for libraries that flatten their cause into a string,
/// `text(Kind("substring", ...), ...)` inside `chain(...)` matches the
/// lower-cased messages of the chain — only if no listed type was found.
///
/// ```
/// use std::error::Error;
/// use std::{fmt, io};
/// use signal_core::vocab::{DnsFailure, TransientNetwork};
/// use signal_core::{Signal, kind};
///
/// kind! { pub NeedsReconnect; }
///
/// #[derive(Debug, Signal)]
/// pub enum PoolError {
///     #[signal(leaf = "NeedsReconnect")]
///     Closed,
/// }
/// impl fmt::Display for PoolError {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///         f.write_str("the pool is closed")
///     }
/// }
/// impl Error for PoolError {}
///
/// #[derive(Debug, Signal)]
/// pub enum JobError {
///     Other(
///         #[signal(chain(PoolError, io::Error, text(DnsFailure("failed to lookup address"))))]
///         Box<dyn Error + Send + Sync>,
///     ),
/// }
///
/// let wrapped = io::Error::other(PoolError::Closed); // the pool error is the payload
/// assert!(JobError::Other(Box::new(wrapped)).has::<NeedsReconnect>());
///
/// let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
/// assert!(JobError::Other(Box::new(refused)).has::<TransientNetwork>());
///
/// let flattened: Box<dyn Error + Send + Sync> = "failed to lookup address information".into();
/// assert!(JobError::Other(flattened).has::<DnsFailure>());
/// ```
///
/// Misuse: [chain-empty], [chain-lists-a-non-carrier], [chain-on-a-non-error],
/// [chain-text-matcher-without-patterns], [chain-text-rule-without-parens],
/// [chain-text-rule-without-patterns]. Forgetting to decide on a type-erased
/// error: [type-erased-error-unannotated], [type-erased-anyhow-unannotated],
/// [type-erased-user-trait-unannotated].
///
/// # `skip`
///
/// `#[signal(skip = "reason")]` on a field: a deliberate opt-out. The reason
/// is required, must not be empty, and shows in the generated documentation
/// and in the signal map. There must be something to skip: `skip` on a field
/// that cannot carry signals is an error, like `forward` on one.
///
/// ```
/// use signal_core::{Signal, kind};
///
/// kind! { pub NeedsReconnect; }
///
/// #[derive(Debug, Signal)]
/// pub enum StorageError {
///     #[signal(leaf = "NeedsReconnect")]
///     PoolClosed,
/// }
///
/// #[derive(Debug, Signal)]
/// pub enum RequestError {
///     Server(#[signal(forward)] StorageError),
///     Client(#[signal(skip = "the client reconnects its own pool")] StorageError),
/// }
///
/// assert!(RequestError::Server(StorageError::PoolClosed).has::<NeedsReconnect>());
/// assert!(!RequestError::Client(StorageError::PoolClosed).has::<NeedsReconnect>());
///
/// let map = signal_core::map::<RequestError>();
/// assert_eq!(map.skipped()[0].reason, "the client reconnects its own pool");
/// ```
///
/// Misuse: [skip-without-reason], [skip-with-empty-reason],
/// [skip-on-non-carrier], [skip-on-variant].
///
/// # `crate`
///
/// `#[signal(crate = "path")]` on the type: where to find `signal_core` when
/// it is re-exported under another name (by a facade crate of your own, for
/// instance).
///
/// ```
/// mod facade {
///     pub use signal_core as signals;
/// }
/// use facade::signals::{Signal, kind};
///
/// kind! { pub Retryable; }
///
/// #[derive(Debug, Signal)]
/// #[signal(crate = "facade::signals")]
/// pub enum QueueError {
///     #[signal(leaf = "Retryable")]
///     Busy,
/// }
///
/// assert!(QueueError::Busy.has::<Retryable>());
/// ```
///
/// Misuse: [crate-on-field], [crate-path-unresolved].
///
/// # What needs a decision
///
/// An unannotated field is fine when its type provably carries nothing. The
/// derive reports an error on the field when its type can carry signals —
/// directly, or anywhere inside its generic arguments, tuple elements,
/// arrays, references, raw pointers, or a trait object's generic arguments
/// and associated-type bindings (`Box<dyn Iterator<Item = E>>`) — and also
/// where it cannot see: a type parameter or a projection on one (`E`,
/// `S::Err`), a type macro, a type-erased error, a foreign error with a
/// registered classifier, and `dyn Any`. A type that merely mentions a
/// carrier (`PhantomData<E>`, a `HashMap` keyed by one, `fn(E)`) is flagged
/// too, and needs a `skip` with its reason.
///
/// Two things no derive macro on stable Rust can see: a type alias that hides
/// a non-container wrapper or a tuple mixing data with carriers (write the
/// type out at the field), and a struct that holds a carrier without deriving
/// `Signal` (derive it).
///
/// Other misuse: [unknown-attribute], [bare-signal-attribute],
/// [attribute-empty-list], [attribute-name-value], [union],
/// [errors-reported-together] (every mistake of a type is reported in one
/// build), [type-nested-too-deep].
///
/// [leaf-on-field]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/leaf-on-field.rs
/// [leaf-without-kind]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/leaf-without-kind.rs
/// [leaf-not-a-path]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/leaf-not-a-path.rs
/// [leaf-not-a-kind]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/leaf-not-a-kind.rs
/// [leaf-unresolved]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/leaf-unresolved.rs
/// [duplicate-leaf]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/duplicate-leaf.rs
/// [when-without-leaf]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/when-without-leaf.rs
/// [forward-on-non-carrier]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/forward-on-non-carrier.rs
/// [forward-on-variant]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/forward-on-variant.rs
/// [forward-with-value]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/forward-with-value.rs
/// [duplicate-forward]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/duplicate-forward.rs
/// [forward-and-skip]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/forward-and-skip.rs
/// [forward-on-type-erased-error]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/forward-on-type-erased-error.rs
/// [forward-tuple-with-type-erased-part]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/forward-tuple-with-type-erased-part.rs
/// [forward-tuple-too-long]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/forward-tuple-too-long.rs
/// [missed-wrapper-direct]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/missed-wrapper-direct.rs
/// [missed-wrapper-in-vec]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/missed-wrapper-in-vec.rs
/// [missed-wrapper-in-tuple-in-vec]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/missed-wrapper-in-tuple-in-vec.rs
/// [missed-wrapper-in-map-value]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/missed-wrapper-in-map-value.rs
/// [missed-wrapper-in-generic-struct]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/missed-wrapper-in-generic-struct.rs
/// [undecidable-type-parameter]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/undecidable-type-parameter.rs
/// [only-with-except]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/only-with-except.rs
/// [only-empty]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/only-empty.rs
/// [only-not-a-kind]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/only-not-a-kind.rs
/// [filter-without-forward]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/filter-without-forward.rs
/// [filter-twice]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/filter-twice.rs
/// [filter-on-variant]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/filter-on-variant.rs
/// [classifier-with-wrong-signature]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/classifier-with-wrong-signature.rs
/// [classified-foreign-unannotated]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/classified-foreign-unannotated.rs
/// [registered-classifier-unannotated]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/registered-classifier-unannotated.rs
/// [chain-empty]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/chain-empty.rs
/// [chain-lists-a-non-carrier]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/chain-lists-a-non-carrier.rs
/// [chain-on-a-non-error]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/chain-on-a-non-error.rs
/// [chain-text-matcher-without-patterns]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/chain-text-matcher-without-patterns.rs
/// [chain-text-rule-without-parens]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/chain-text-rule-without-parens.rs
/// [chain-text-rule-without-patterns]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/chain-text-rule-without-patterns.rs
/// [type-erased-error-unannotated]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/type-erased-error-unannotated.rs
/// [type-erased-anyhow-unannotated]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/type-erased-anyhow-unannotated.rs
/// [type-erased-user-trait-unannotated]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/type-erased-user-trait-unannotated.rs
/// [skip-without-reason]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/skip-without-reason.rs
/// [skip-with-empty-reason]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/skip-with-empty-reason.rs
/// [skip-on-non-carrier]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/skip-on-non-carrier.rs
/// [skip-on-variant]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/skip-on-variant.rs
/// [crate-on-field]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/crate-on-field.rs
/// [crate-path-unresolved]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/crate-path-unresolved.rs
/// [unknown-attribute]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/unknown-attribute.rs
/// [bare-signal-attribute]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/bare-signal-attribute.rs
/// [attribute-empty-list]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/attribute-empty-list.rs
/// [attribute-name-value]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/attribute-name-value.rs
/// [union]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/union.rs
/// [errors-reported-together]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/errors-reported-together.rs
/// [type-nested-too-deep]: https://github.com/signal-rs/signal/blob/main/signal-core/tests/ui/type-nested-too-deep.rs
#[proc_macro_derive(Signal, attributes(signal))]
pub fn derive_signal(input: TokenStream) -> TokenStream {
    let tokens = proc_macro2::TokenStream::from(input.clone());
    if let Some(span) = depth::too_deep(&tokens) {
        return syn::Error::new(
            span,
            format!(
                "this type nests more than {} levels deep, more than the derive reads: \
                 name an inner part with a type alias or a struct",
                depth::MAX_NESTING
            ),
        )
        .to_compile_error()
        .into();
    }
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}
