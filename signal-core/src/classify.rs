//! Leaves outside your crate: classifiers for foreign types, and walks of
//! dynamic `source()` chains.

use alloc::vec::Vec;
use std::error::Error;

use crate::kind::KindId;

/// Classifies a value of a type that cannot implement [`Signal`](crate::Signal)
/// (the orphan rule forbids `impl Signal for std::io::Error` outside this
/// crate): returns the precise leaf kind it raises, if any.
///
/// Any `fn(&T) -> Option<KindId>` is a classifier. A classifier type can
/// also list the kinds it may return, so that signal maps show them:
///
/// ```
/// use signal_core::{Classify, Kind, KindId, kind};
///
/// kind! {
///     pub Retryable;
///     pub Busy: Retryable;
/// }
///
/// #[non_exhaustive]
/// pub enum DriverError { Busy, Constraint, Other(String) }
///
/// pub struct DriverClassifier;
///
/// impl Classify<DriverError> for DriverClassifier {
///     fn classify(&self, error: &DriverError) -> Option<KindId> {
///         match error {
///             DriverError::Busy => Some(Busy::ID),
///             _ => None, // not a blanket `true`: unknown errors raise nothing
///         }
///     }
///     fn kinds(&self) -> Vec<KindId> {
///         vec![Busy::ID]
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot classify a `{T}`",
    label = "expected a `fn(&{T}) -> Option<KindId>` or a type implementing `Classify<{T}>`",
    note = "a classifier returns the precise leaf kind a value raises, or `None`"
)]
pub trait Classify<T: ?Sized> {
    /// The precise leaf kind `value` raises, or `None`.
    fn classify(&self, value: &T) -> Option<KindId>;

    /// The kinds `classify` may return, for signal maps. Empty when unknown
    /// (plain functions): the map then shows the classifier's paths as known
    /// only at run time.
    fn kinds(&self) -> Vec<KindId> {
        Vec::new()
    }
}

impl<T: ?Sized, F: Fn(&T) -> Option<KindId>> Classify<T> for F {
    fn classify(&self, value: &T) -> Option<KindId> {
        self(value)
    }
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
        next = error.source();
        Some(error)
    })
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
