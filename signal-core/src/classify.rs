//! Leaves outside your crate: classifiers for foreign types, and walks of
//! dynamic `source()` chains.

use alloc::vec::Vec;
use std::error::Error;

use crate::kind::KindId;

/// Classifies a value of a type that cannot implement [`Signal`](crate::Signal)
/// (the orphan rule forbids `impl Signal for std::io::Error` outside this
/// crate): returns the precise leaf kinds it raises, if any.
///
/// Any `fn(&T) -> Option<KindId>` or `fn(&T) -> Kinds` is a classifier. A
/// classifier type can also list the kinds it may return, so that signal maps
/// show them, and can be registered for its type with [`ClassifiedBy`], so
/// that plain `#[signal(forward)]` uses it:
///
/// ```
/// use signal_core::{Classify, Kind, KindId, Kinds, kind, kinds};
///
/// kind! {
///     pub Retryable;
///     pub Busy: Retryable;
///     pub NeedsReconnect;
/// }
///
/// #[non_exhaustive]
/// pub enum DriverError { Busy, Closed, Constraint, Other(String) }
///
/// #[derive(Default)]
/// pub struct DriverClassifier;
///
/// impl Classify<DriverError> for DriverClassifier {
///     fn classify(&self, error: &DriverError) -> Kinds {
///         match error {
///             DriverError::Busy => Busy::ID.into(),
///             // One error, two facts: rebuild the connection, then retry.
///             DriverError::Closed => kinds![NeedsReconnect, Retryable],
///             _ => Kinds::NONE, // not a blanket `true`: unknown errors raise nothing
///         }
///     }
///     fn kinds(&self) -> Vec<KindId> {
///         vec![Busy::ID, NeedsReconnect::ID, Retryable::ID]
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot classify a `{T}`",
    label = "expected a `fn(&{T}) -> Option<KindId>` (or `-> Kinds`), or a type implementing `Classify<{T}>`",
    note = "a classifier returns the precise leaf kinds a value raises, or none"
)]
pub trait Classify<T: ?Sized> {
    /// The precise leaf kinds `value` raises: none, one, or several.
    fn classify(&self, value: &T) -> Kinds;

    /// The kinds `classify` may return, for signal maps. Empty when unknown
    /// (plain functions): the map then shows the classifier's paths as known
    /// only at run time.
    fn kinds(&self) -> Vec<KindId> {
        Vec::new()
    }
}

/// What a classifier function may return: `Option<KindId>`, `KindId` or
/// [`Kinds`].
pub trait IntoKinds {
    /// The kinds.
    fn into_kinds(self) -> Kinds;
}

impl IntoKinds for Kinds {
    fn into_kinds(self) -> Kinds {
        self
    }
}

impl IntoKinds for KindId {
    fn into_kinds(self) -> Kinds {
        Kinds::one(self)
    }
}

impl IntoKinds for Option<KindId> {
    fn into_kinds(self) -> Kinds {
        self.into()
    }
}

#[diagnostic::do_not_recommend]
impl<T: ?Sized, F, R> Classify<T> for F
where
    F: Fn(&T) -> R,
    R: IntoKinds,
{
    fn classify(&self, value: &T) -> Kinds {
        self(value).into_kinds()
    }
}

/// Registers `C` as the classifier of the foreign error type `Self`, once
/// per crate.
///
/// From then on, in every crate that sees the registration, a field of type
/// `Self` (or of a container of it) must be forwarded or skipped like any
/// error that carries signals, and plain `#[signal(forward)]` classifies it
/// with `C`. The [built-in classifiers](crate::classifiers) (`std::io::Error`
/// always, other crates' errors behind features) work the same way without a
/// registration; a registration of yours takes precedence over a built-in
/// one for the same type.
///
/// The impl is allowed by the orphan rule because `C` is your type:
///
/// ```
/// use signal_core::{ClassifiedBy, Classify, Kind, Kinds, Signal, kind};
///
/// kind! { pub DatabaseBusy; }
///
/// # mod driver { #[derive(Debug)] pub struct Error { pub busy: bool } }
/// // `driver::Error` belongs to another crate.
/// #[derive(Default)]
/// pub struct DriverClassifier;
///
/// impl Classify<driver::Error> for DriverClassifier {
///     fn classify(&self, error: &driver::Error) -> Kinds {
///         if error.busy { DatabaseBusy::ID.into() } else { Kinds::NONE }
///     }
/// }
///
/// impl ClassifiedBy<DriverClassifier> for driver::Error {}
///
/// #[derive(Signal)]
/// pub enum StoreError {
///     Driver(#[signal(forward)] driver::Error), // classified by DriverClassifier
/// }
///
/// assert!(StoreError::Driver(driver::Error { busy: true }).has::<DatabaseBusy>());
/// assert!(!StoreError::Driver(driver::Error { busy: false }).has::<DatabaseBusy>());
/// ```
///
/// Register one classifier per type: where two registrations for the same
/// type are visible, the derive cannot choose and reports the field as
/// ambiguous; name one explicitly with `forward_with` there.
pub trait ClassifiedBy<C: Classify<Self> + Default> {}

/// The kinds a classifier says a value raises: none, one, or several.
///
/// Copy, and built from constants: `Kinds::NONE`, `KindId::into()` for one
/// kind, `Option<KindId>::into()`, and [`kinds!`](crate::kinds!) for
/// several. Combine them with [`Kinds::union`] in a constant and with `|`
/// (or `|=`) at run time, a `Kinds` or a `KindId` on the right:
///
/// ```
/// use signal_core::vocab::{RateLimited, TimedOut, Unavailable};
/// use signal_core::{Kind, Kinds, kinds};
///
/// const BUSY: Kinds = Kinds::one(RateLimited::ID);
/// const SLOW: Kinds = kinds![Unavailable, TimedOut];
/// const BOTH: Kinds = BUSY.union(SLOW);
///
/// let mut seen = Kinds::NONE;
/// for row in [Kinds::NONE, BUSY, SLOW] {
///     seen |= row;
/// }
/// assert_eq!(seen, BOTH);
/// assert!(seen.implies(TimedOut::ID));
/// ```
///
/// A union keeps each kind once, in the order first seen; two `Kinds` are
/// equal when they hold the same kinds, in any order. Up to
/// [`Kinds::INLINE`] kinds a union is held in the value itself, with no
/// allocation.
#[derive(Clone, Copy)]
pub struct Kinds(Repr);

#[derive(Clone, Copy)]
enum Repr {
    One(KindId),
    Many(&'static [KindId]),
    /// A union: the first `.0` kinds.
    Inline(u8, [KindId; Kinds::INLINE]),
}

impl Kinds {
    /// No kind.
    pub const NONE: Kinds = Kinds(Repr::Many(&[]));

    /// How many kinds a union holds in the value itself. More, at run time,
    /// are kept in a list that lives as long as the program, one per
    /// distinct set of kinds (so a loop that forms the same large union
    /// again and again allocates once).
    pub const INLINE: usize = 8;

    /// One kind.
    pub const fn one(kind: KindId) -> Kinds {
        Kinds(Repr::One(kind))
    }

    /// Several kinds, from a constant list (see [`kinds!`](crate::kinds!)).
    pub const fn many(kinds: &'static [KindId]) -> Kinds {
        Kinds(Repr::Many(kinds))
    }

    /// The kinds of `self` and of `other`, each once, `self`'s first: for
    /// constants (`const BOTH: Kinds = A.union(B);`) and run time alike.
    ///
    /// # Panics
    ///
    /// When the union holds more than [`Kinds::INLINE`] kinds: in a
    /// constant, a compile error. `|` has no such limit.
    pub const fn union(self, other: Kinds) -> Kinds {
        match self.union_inline(other) {
            Some(kinds) => kinds,
            None => panic!(
                "a union of more than Kinds::INLINE kinds: list them with kinds![...], or use `|`"
            ),
        }
    }

    /// The union, if it holds at most [`Kinds::INLINE`] kinds.
    const fn union_inline(self, other: Kinds) -> Option<Kinds> {
        let (a, b) = (self.as_slice(), other.as_slice());
        if b.is_empty() || contains_all(a, b) {
            return Some(self);
        }
        if a.is_empty() || contains_all(b, a) {
            return Some(other);
        }
        let mut out = [a[0]; Kinds::INLINE];
        let mut len = 0;
        let mut side = 0;
        while side < 2 {
            let from = if side == 0 { a } else { b };
            let mut i = 0;
            while i < from.len() {
                if !contains(out.split_at(len).0, from[i]) {
                    if len == Kinds::INLINE {
                        return None;
                    }
                    out[len] = from[i];
                    len += 1;
                }
                i += 1;
            }
            side += 1;
        }
        Some(Kinds(Repr::Inline(len as u8, out)))
    }

    /// The kinds, in the order given.
    pub const fn as_slice(&self) -> &[KindId] {
        match &self.0 {
            Repr::One(kind) => core::slice::from_ref(kind),
            Repr::Many(kinds) => kinds,
            Repr::Inline(len, kinds) => kinds.split_at(*len as usize).0,
        }
    }

    /// Whether there is no kind.
    pub const fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// Whether one of the kinds is `query` or implies it.
    pub fn implies(&self, query: KindId) -> bool {
        self.as_slice().iter().any(|kind| kind.implies(query))
    }

    /// The first kind that is `query` or implies it.
    pub fn first_implying(&self, query: KindId) -> Option<KindId> {
        self.as_slice()
            .iter()
            .copied()
            .find(|kind| kind.implies(query))
    }
}

// The size the CHANGELOG gives: eight kinds and their count.
const _: () = assert!(core::mem::size_of::<Kinds>() <= 9 * core::mem::size_of::<usize>());

const fn contains(kinds: &[KindId], kind: KindId) -> bool {
    let mut i = 0;
    while i < kinds.len() {
        if kinds[i].same(kind) {
            return true;
        }
        i += 1;
    }
    false
}

const fn contains_all(kinds: &[KindId], all: &[KindId]) -> bool {
    let mut i = 0;
    while i < all.len() {
        if !contains(kinds, all[i]) {
            return false;
        }
        i += 1;
    }
    true
}

/// A union of more than [`Kinds::INLINE`] kinds, kept once per distinct
/// list for the rest of the program.
fn spilled(a: &[KindId], b: &[KindId]) -> Kinds {
    static LISTS: std::sync::Mutex<Vec<&'static [KindId]>> = std::sync::Mutex::new(Vec::new());
    let mut union: Vec<KindId> = Vec::with_capacity(a.len() + b.len());
    for &kind in a.iter().chain(b) {
        if !contains(&union, kind) {
            union.push(kind);
        }
    }
    let mut lists = LISTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let known = lists
        .iter()
        .copied()
        .find(|list| list.len() == union.len() && list.iter().zip(&union).all(|(x, y)| x.same(*y)));
    let list = known.unwrap_or_else(|| {
        let list: &'static [KindId] = alloc::boxed::Box::leak(union.into_boxed_slice());
        lists.push(list);
        list
    });
    Kinds::many(list)
}

impl core::ops::BitOr for Kinds {
    type Output = Kinds;

    /// [`Kinds::union`], with no limit on the number of kinds.
    fn bitor(self, other: Kinds) -> Kinds {
        self.union_inline(other)
            .unwrap_or_else(|| spilled(self.as_slice(), other.as_slice()))
    }
}

impl core::ops::BitOr<KindId> for Kinds {
    type Output = Kinds;

    fn bitor(self, other: KindId) -> Kinds {
        self | Kinds::one(other)
    }
}

impl core::ops::BitOrAssign for Kinds {
    fn bitor_assign(&mut self, other: Kinds) {
        *self = *self | other;
    }
}

impl core::ops::BitOrAssign<KindId> for Kinds {
    fn bitor_assign(&mut self, other: KindId) {
        *self = *self | other;
    }
}

impl From<KindId> for Kinds {
    fn from(kind: KindId) -> Self {
        Kinds::one(kind)
    }
}

impl From<Option<KindId>> for Kinds {
    fn from(kind: Option<KindId>) -> Self {
        match kind {
            Some(kind) => Kinds::one(kind),
            None => Kinds::NONE,
        }
    }
}

/// The same kinds, in any order.
impl PartialEq for Kinds {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.as_slice(), other.as_slice());
        b.iter().all(|kind| a.contains(kind)) && a.iter().all(|kind| b.contains(kind))
    }
}

impl Eq for Kinds {}

impl core::fmt::Debug for Kinds {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_set().entries(self.as_slice()).finish()
    }
}

/// Several kinds as one [`Kinds`] value, built at compile time:
/// `kinds![NeedsReconnect, Retryable]`.
#[macro_export]
macro_rules! kinds {
    () => {
        $crate::Kinds::NONE
    };
    ($($kind:path),+ $(,)?) => {{
        const __KINDS: &[$crate::KindId] = &[$(<$kind as $crate::Kind>::ID),+];
        $crate::Kinds::many(__KINDS)
    }};
}

/// Errors whose `source()` chain can be walked: any `std::error::Error +
/// 'static` and `dyn Error` (with or without `Send`/`Sync`). A field may also
/// hold one behind a pointer (`Box<dyn Error + Send + Sync>`, `Arc<...>`, or
/// anything that derefs to one, such as `anyhow::Error`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no `source()` chain to walk",
    label = "`#[signal(chain(...))]` needs an error type",
    note = "use it on a field that implements `std::error::Error + 'static`, or holds a `Box<dyn Error + Send + Sync>`"
)]
pub trait ErrorChain {
    /// The error at the head of the chain.
    fn head(&self) -> &(dyn Error + 'static);
}

impl<E: Error + 'static> ErrorChain for E {
    fn head(&self) -> &(dyn Error + 'static) {
        self
    }
}

macro_rules! dyn_chain_impls {
    ($([$($bounds:tt)*])*) => {$(
        impl ErrorChain for dyn Error $($bounds)* + 'static {
            fn head(&self) -> &(dyn Error + 'static) {
                self
            }
        }
    )*};
}

dyn_chain_impls!([] [+ Send] [+ Sync] [+ Send + Sync]);

/// The longest `source()` chain walked. A chain longer than this (or one
/// that loops back on itself) is cut there.
pub const MAX_CHAIN: usize = 32;

/// The errors of a chain, head first, at most [`MAX_CHAIN`] of them, stopping
/// early if an error repeats (a cyclic chain).
///
/// After a `std::io::Error` that wraps a payload (`io::Error::other(e)`,
/// `io::Error::new(kind, e)`), the next error is the payload itself:
/// `io::Error::source()` skips it and goes straight to the payload's own
/// source, which would hide a payload that carries signals.
pub fn chain_of<'e>(
    head: &'e (dyn Error + 'static),
) -> impl Iterator<Item = &'e (dyn Error + 'static)> {
    // An error and its first field share an address, so a repeat is the same
    // address *and* the same vtable (the same type): a real cycle.
    let mut seen: [Option<*const (dyn Error + 'static)>; MAX_CHAIN] = [None; MAX_CHAIN];
    let mut count = 0;
    let mut next = Some(head);
    core::iter::from_fn(move || {
        let error = next?;
        let pointer: *const (dyn Error + 'static) = error;
        #[allow(ambiguous_wide_pointer_comparisons)]
        let repeated = seen[..count]
            .iter()
            .flatten()
            .any(|&earlier| core::ptr::eq(earlier, pointer));
        if count == MAX_CHAIN || repeated {
            next = None;
            return None;
        }
        seen[count] = Some(pointer);
        count += 1;
        next = next_in_chain(error);
        Some(error)
    })
}

fn next_in_chain<'e>(error: &'e (dyn Error + 'static)) -> Option<&'e (dyn Error + 'static)> {
    if let Some(io) = error.downcast_ref::<std::io::Error>()
        && let Some(payload) = io.get_ref()
    {
        return Some(payload);
    }
    error.source()
}

/// A last-resort text matcher for errors that libraries flatten into strings
/// (`format!("{e}")` instead of a typed source): a kind and the
/// case-insensitive substrings of an error's `Display` that raise it.
///
/// Off by default: a chain uses it only when the attribute lists patterns
/// (`chain(text(TimedOut("deadline has elapsed")))`), and only after every
/// typed check found nothing. Prefer a typed check whenever the library
/// keeps its source.
#[derive(Clone, Copy, Debug)]
pub struct TextRule {
    /// The kind raised on a match.
    pub kind: KindId,
    /// Lower-case substrings; any one matches.
    pub patterns: &'static [&'static str],
}

impl TextRule {
    /// Whether `error`'s `Display` contains one of the patterns, ignoring
    /// case.
    pub fn matches(&self, error: &dyn Error) -> bool {
        let text = alloc::format!("{error}").to_lowercase();
        self.patterns
            .iter()
            .any(|pattern| text.contains(&pattern.to_lowercase()))
    }
}
