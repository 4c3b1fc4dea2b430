//! Test fixtures built by the derive: one value per static path to a leaf.
//! Used by the `Signal` trait (generated `__fixtures`) and by the test
//! helpers in [`testing`](crate::testing); depends on neither.

use alloc::vec::Vec;

use crate::kind::KindId;

/// A value built by the derive along one static path, ending at one leaf:
/// see [`fixtures`] (with the `fixtures` feature).
///
#[cfg_attr(feature = "fixtures", doc = "[`fixtures`]: crate::testing::fixtures")]
#[cfg_attr(
    not(feature = "fixtures"),
    doc = "[`fixtures`]: https://docs.rs/signal-core/latest/signal_core/testing/fn.fixtures.html"
)]
#[derive(Debug)]
pub struct Fixture<T> {
    /// The value.
    pub value: T,
    /// The leaf kind at the end of its path.
    pub leaf: KindId,
    /// The `(only, except)` filters of the forwarded fields on its path,
    /// outermost last.
    filters: Vec<(&'static [KindId], &'static [KindId])>,
    /// Kinds raised on the way by enum-level leaves, each with the number of
    /// filters that were already on the path below it (those do not apply).
    also: Vec<(KindId, usize)>,
}

impl<T> Fixture<T> {
    #[doc(hidden)]
    pub fn __leaf(value: T, leaf: KindId) -> Self {
        Fixture {
            value,
            leaf,
            filters: Vec::new(),
            also: Vec::new(),
        }
    }

    #[doc(hidden)]
    pub fn __map<U>(self, wrap: impl FnOnce(T) -> U) -> Fixture<U> {
        Fixture {
            value: wrap(self.value),
            leaf: self.leaf,
            filters: self.filters,
            also: self.also,
        }
    }

    #[doc(hidden)]
    pub fn __filtered(mut self, only: &'static [KindId], except: &'static [KindId]) -> Self {
        if !only.is_empty() || !except.is_empty() {
            self.filters.push((only, except));
        }
        self
    }

    /// The value also raises `kind` where it is now (an enum-level leaf).
    #[doc(hidden)]
    pub fn __also(&mut self, kind: KindId) {
        self.also.push((kind, self.filters.len()));
    }

    /// Whether the value should carry `kind`: its leaf (or an enum-level leaf
    /// on its path) implies it, and every filter above lets it through.
    pub fn should_carry(&self, kind: KindId) -> bool {
        let passes = |filters: &[(&'static [KindId], &'static [KindId])]| {
            filters.iter().all(|(only, except)| {
                (only.is_empty() || only.iter().any(|&k| kind.implies(k)))
                    && !except.iter().any(|&k| kind.implies(k))
            })
        };
        (self.leaf.implies(kind) && passes(&self.filters))
            || self
                .also
                .iter()
                .any(|&(also, below)| also.implies(kind) && passes(&self.filters[below..]))
    }
}

/// Guards fixture generation against recursive types.
#[doc(hidden)]
#[derive(Default)]
pub struct FixtureCx {
    stack: Vec<&'static str>,
}

impl FixtureCx {
    /// Enters a type; false if it is already on the current path.
    pub fn enter(&mut self, type_name: &'static str) -> bool {
        if self.stack.contains(&type_name) {
            return false;
        }
        self.stack.push(type_name);
        true
    }

    pub fn leave(&mut self) {
        self.stack.pop();
    }
}
