//! Signal kinds: the questions a supervisor asks of an error.

use core::any::TypeId;
use core::fmt;
use core::hash::{Hash, Hasher};

/// A signal kind: a zero-sized type that names one cross-cutting fact about an
/// error ("the DB pool must be rebuilt", "this is retryable").
///
/// Declare kinds with [`kind!`](crate::kind!); do not implement this trait by
/// hand. A kind may *imply* broader kinds: raising `PoolNeedsConnection`, which
/// implies `NeedsDbReconnect`, answers `true` to a question about either.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a signal kind",
    label = "not declared with `signal_core::kind!`",
    note = "declare it with `signal_core::kind! {{ pub {Self}; }}`, or name an existing kind"
)]
pub trait Kind: Sized + 'static {
    /// The kind's name, as written in its declaration.
    const NAME: &'static str;

    /// The kind's identity, usable where kinds are chosen at run time.
    const ID: KindId;

    /// Whether raising `Self` also raises `Q`: true when `Q` is `Self` or one
    /// of the kinds `Self` implies, directly or transitively.
    ///
    /// Monomorphized and constant-folded: on concrete kinds this compiles to
    /// `true` or `false`.
    fn implies<Q: Kind>() -> bool;

    #[doc(hidden)]
    #[inline]
    fn __implied_by<Q: Kind>() -> bool {
        Q::implies::<Self>()
    }
}

/// The identity of a [`Kind`], for code that picks kinds at run time (trait
/// objects, supervisors, maps).
///
/// Two ids are equal when they name the same kind type.
#[derive(Clone, Copy)]
pub struct KindId(&'static KindInfo);

#[doc(hidden)]
pub struct KindInfo {
    pub name: &'static str,
    pub doc: &'static str,
    pub type_id: TypeId,
    pub implies: &'static [KindId],
}

impl KindId {
    /// The id of kind `K`.
    pub const fn of<K: Kind>() -> KindId {
        K::ID
    }

    #[doc(hidden)]
    pub const fn __new(info: &'static KindInfo) -> KindId {
        KindId(info)
    }

    /// The kind's name, as declared.
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// The kind's documentation, as declared (may be empty).
    pub fn doc(self) -> &'static str {
        self.0.doc
    }

    /// The kinds this kind implies directly, in declaration order.
    pub fn direct_implications(self) -> &'static [KindId] {
        self.0.implies
    }

    /// Whether raising `self` also raises `query` (reflexive and transitive).
    pub fn implies(self, query: KindId) -> bool {
        self == query || self.0.implies.iter().any(|k| k.implies(query))
    }

    /// The shortest chain of implications from `self` to `query`, both ends
    /// included, or `None` if `self` does not imply `query`.
    pub fn chain_to(self, query: KindId) -> Option<Vec<KindId>> {
        if self == query {
            return Some(vec![self]);
        }
        self.0
            .implies
            .iter()
            .filter_map(|k| k.chain_to(query))
            .min_by_key(Vec::len)
            .map(|mut rest| {
                rest.insert(0, self);
                rest
            })
    }
}

impl PartialEq for KindId {
    fn eq(&self, other: &Self) -> bool {
        self.0.type_id == other.0.type_id
    }
}

impl Eq for KindId {}

impl Hash for KindId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.type_id.hash(state);
    }
}

impl PartialOrd for KindId {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Ordered by name, then by type, so maps and reports are deterministic.
impl Ord for KindId {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.0
            .name
            .cmp(other.0.name)
            .then_with(|| self.0.type_id.cmp(&other.0.type_id))
    }
}

impl fmt::Debug for KindId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

impl fmt::Display for KindId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

/// Declares signal kinds.
///
/// Each entry becomes a public (or as declared) zero-sized type implementing
/// [`Kind`]. After a colon, list the broader kinds it implies, joined by `+`.
/// Doc comments are kept on the type and appear in signal maps.
///
/// ```
/// signal_core::kind! {
///     /// The DB pool was dropped; rebuild it before retrying.
///     pub NeedsDbReconnect;
///     /// The pool has no live connection. Implies [`NeedsDbReconnect`].
///     pub PoolNeedsConnection: NeedsDbReconnect;
///     /// Trying again later may succeed.
///     pub Retryable;
///     /// A deadline passed.
///     pub TimedOut: Retryable;
/// }
///
/// use signal_core::Kind;
/// assert!(PoolNeedsConnection::implies::<NeedsDbReconnect>());
/// assert!(!NeedsDbReconnect::implies::<PoolNeedsConnection>());
/// ```
///
/// Implications must not form a cycle; a cycle is rejected at compile time.
#[macro_export]
macro_rules! kind {
    () => {};
    (
        $(#[$($attr:tt)*])*
        $vis:vis $name:ident $(: $($implied:ident)::+ $(+ $($more:ident)::+)*)?;
        $($rest:tt)*
    ) => {
        $(#[$($attr)*])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        $vis struct $name;

        // Not offered as "other types that implement `Kind`" when a name that
        // is not a kind is used as one: the list would be noise.
        #[diagnostic::do_not_recommend]
        impl $crate::Kind for $name {
            const NAME: &'static str = ::core::stringify!($name);
            const ID: $crate::KindId = $crate::KindId::__new(&$crate::__private::KindInfo {
                name: ::core::stringify!($name),
                doc: ::core::concat!($($crate::__doc_line!($($attr)*),)*),
                type_id: ::core::any::TypeId::of::<$name>(),
                implies: &[$(
                    <$($implied)::+ as $crate::Kind>::ID,
                    $(<$($more)::+ as $crate::Kind>::ID,)*
                )?],
            });

            #[inline]
            fn implies<Q: $crate::Kind>() -> bool {
                ::core::any::TypeId::of::<Q>() == ::core::any::TypeId::of::<$name>()
                    $(
                        || <$($implied)::+ as $crate::Kind>::implies::<Q>()
                        $(|| <$($more)::+ as $crate::Kind>::implies::<Q>())*
                    )?
            }
        }

        $crate::kind!($($rest)*);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __doc_line {
    (doc = $doc:literal) => {
        ::core::concat!($doc, "\n")
    };
    ($($other:tt)*) => {
        ""
    };
}
