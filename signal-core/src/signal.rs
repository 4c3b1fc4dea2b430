//! The [`Signal`] trait and its implementations for std containers.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::rc::Rc;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ops::ControlFlow;
use std::collections::HashMap;

use crate::kind::{Kind, KindId};
use crate::shape::Shape;
use crate::trace::{Step, Trace, Walker};

/// A value that can carry error signals.
///
/// Derive it with [`#[derive(Signal)]`](derive@crate::Signal); the containers
/// of the standard library (`Box`, `Arc`, `Rc`, `&T`, `Option`, `Vec`,
/// `VecDeque`, slices, arrays, the values of `HashMap` and `BTreeMap`, tuples)
/// implement it when their elements do. A value carries kind `K` when any leaf
/// reachable from it raises `K` or a kind that implies `K`.
///
/// The trait is object safe: `Box<dyn Signal + Send + Sync>`, `Arc<dyn
/// Signal + Send + Sync>` and `&dyn Signal` implement it too, so `has`,
/// `trace` and `traces` work on them and they nest inside derived types. On a
/// bare `dyn Signal` place (say `*boxed`), use the object-safe
/// [`has_kind`](Self::has_kind) and [`trace_kind`](Self::trace_kind).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot carry signals",
    label = "`{Self}` does not implement `Signal`",
    note = "derive `Signal` for it, or wrap it in a container of a type that does (Box, Vec, Option, ...)"
)]
pub trait Signal {
    /// Whether this value carries kind `K`.
    ///
    /// Monomorphized for each kind and allocation-free: on derived types it
    /// compiles to the same `match` a hand-written method would. The default,
    /// for hand-written impls, asks [`walk`](Self::walk).
    fn has<K: Kind>(&self) -> bool
    where
        Self: Sized,
    {
        self.has_kind(K::ID)
    }

    /// Walks every path through which this value carries `walker.kind()`,
    /// reporting each one to the walker. Stops early when the walker says so.
    ///
    /// This is the object-safe core of the trait; [`has_kind`](Self::has_kind),
    /// [`trace`](Self::trace) and [`traces`](Self::traces) are built on it.
    /// Derived implementations never read field values into the path.
    fn walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()>;

    /// The static shape of this type: which fields reach which leaves.
    /// Derived types describe themselves; containers describe their
    /// elements. The default, for hand-written impls, is
    /// [`Shape::Dynamic`]: paths known only at run time.
    fn shape() -> Shape
    where
        Self: Sized,
    {
        Shape::Dynamic(core::any::type_name::<Self>())
    }

    /// Whether this value carries `kind`, chosen at run time.
    fn has_kind(&self, kind: KindId) -> bool {
        let mut stop = |_: &[Step]| ControlFlow::Break(());
        let mut walker = Walker::new(kind, None, &mut stop);
        self.walk(&mut walker).is_break()
    }

    /// The first path through which this value carries `K`, if any.
    fn trace<K: Kind>(&self) -> Option<Trace>
    where
        Self: Sized,
    {
        self.trace_kind(K::ID)
    }

    /// Every path through which this value carries `K`, in walk order.
    fn traces<K: Kind>(&self) -> Vec<Trace>
    where
        Self: Sized,
    {
        self.traces_kind(K::ID)
    }

    /// The first path through which this value carries `kind`, if any.
    fn trace_kind(&self, kind: KindId) -> Option<Trace> {
        let mut found = None;
        let mut path = Vec::new();
        let mut first = |steps: &[Step]| {
            found = Some(Trace::new(kind, steps.to_vec()));
            ControlFlow::Break(())
        };
        let mut walker = Walker::new(kind, Some(&mut path), &mut first);
        let _ = self.walk(&mut walker);
        found
    }

    /// Every path through which this value carries `kind`, in walk order.
    fn traces_kind(&self, kind: KindId) -> Vec<Trace> {
        let mut all = Vec::new();
        let mut path = Vec::new();
        let mut every = |steps: &[Step]| {
            all.push(Trace::new(kind, steps.to_vec()));
            ControlFlow::Continue(())
        };
        let mut walker = Walker::new(kind, Some(&mut path), &mut every);
        let _ = self.walk(&mut walker);
        all
    }
}

/// Smart pointers and references are transparent: they add no step to a path.
macro_rules! pointer_impls {
    ($($ptr:ident),*) => {$(
        impl<T: Signal> Signal for $ptr<T> {
            #[inline]
            fn has<K: Kind>(&self) -> bool {
                T::has::<K>(self)
            }
            fn shape() -> Shape {
                T::shape()
            }
            fn walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
                T::walk(self, walker)
            }
        }

        impl<T: Signal> Signal for $ptr<[T]> {
            #[inline]
            fn has<K: Kind>(&self) -> bool {
                self.iter().any(T::has::<K>)
            }
            fn shape() -> Shape {
                Shape::Seq(Box::new(T::shape()))
            }
            fn walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
                <[T] as Signal>::walk(self, walker)
            }
        }

        pointer_impls!(@dyn $ptr;);
        pointer_impls!(@dyn $ptr; + Send);
        pointer_impls!(@dyn $ptr; + Sync);
        pointer_impls!(@dyn $ptr; + Send + Sync);
    )*};
    (@dyn $ptr:ident; $($bounds:tt)*) => {
        impl Signal for $ptr<dyn Signal $($bounds)*> {
            fn walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
                (**self).walk(walker)
            }
        }
    };
}

pointer_impls!(Box, Arc, Rc);

impl<T: Signal> Signal for &T {
    #[inline]
    fn has<K: Kind>(&self) -> bool {
        T::has::<K>(self)
    }
    fn shape() -> Shape {
        T::shape()
    }
    fn walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
        T::walk(self, walker)
    }
}

impl<T: Signal> Signal for &[T] {
    #[inline]
    fn has<K: Kind>(&self) -> bool {
        self.iter().any(T::has::<K>)
    }
    fn shape() -> Shape {
        Shape::Seq(Box::new(T::shape()))
    }
    fn walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
        <[T] as Signal>::walk(self, walker)
    }
}

macro_rules! dyn_ref_impls {
    ($([$($bounds:tt)*])*) => {$(
        impl Signal for &(dyn Signal $($bounds)* + '_) {
            fn walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
                (**self).walk(walker)
            }
        }
    )*};
}

dyn_ref_impls! {
    []
    [+ Send]
    [+ Sync]
    [+ Send + Sync]
}

impl<T: Signal> Signal for Option<T> {
    #[inline]
    fn has<K: Kind>(&self) -> bool {
        match self {
            Some(inner) => inner.has::<K>(),
            None => false,
        }
    }
    fn shape() -> Shape {
        Shape::Transparent(Box::new(T::shape()))
    }
    fn walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
        match self {
            Some(inner) => inner.walk(walker),
            None => ControlFlow::Continue(()),
        }
    }
}

fn walk_indexed<'a, T: Signal + 'a>(
    items: impl Iterator<Item = &'a T>,
    walker: &mut Walker<'_>,
) -> ControlFlow<()> {
    for (index, item) in items.enumerate() {
        walker.enter(Step::Index(index), |walker| item.walk(walker))?;
    }
    ControlFlow::Continue(())
}

impl<T: Signal> Signal for [T] {
    fn walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
        walk_indexed(self.iter(), walker)
    }
}

impl<T: Signal, const N: usize> Signal for [T; N] {
    #[inline]
    fn has<K: Kind>(&self) -> bool {
        self.iter().any(T::has::<K>)
    }
    fn shape() -> Shape {
        Shape::Seq(Box::new(T::shape()))
    }
    fn walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
        walk_indexed(self.iter(), walker)
    }
}

impl<T: Signal> Signal for Vec<T> {
    #[inline]
    fn has<K: Kind>(&self) -> bool {
        self.iter().any(T::has::<K>)
    }
    fn shape() -> Shape {
        Shape::Seq(Box::new(T::shape()))
    }
    fn walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
        walk_indexed(self.iter(), walker)
    }
}

impl<T: Signal> Signal for VecDeque<T> {
    #[inline]
    fn has<K: Kind>(&self) -> bool {
        self.iter().any(T::has::<K>)
    }
    fn shape() -> Shape {
        Shape::Seq(Box::new(T::shape()))
    }
    fn walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
        walk_indexed(self.iter(), walker)
    }
}

/// Map values are walked; keys never appear in a path (they are values, and
/// may be secrets). A path names an entry by its position in iteration order.
impl<Key, V: Signal, S> Signal for HashMap<Key, V, S> {
    #[inline]
    fn has<K: Kind>(&self) -> bool {
        self.values().any(V::has::<K>)
    }
    fn shape() -> Shape {
        Shape::Seq(Box::new(V::shape()))
    }
    fn walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
        walk_indexed(self.values(), walker)
    }
}

/// Map values are walked, in key order; keys never appear in a path.
impl<Key, V: Signal> Signal for BTreeMap<Key, V> {
    #[inline]
    fn has<K: Kind>(&self) -> bool {
        self.values().any(V::has::<K>)
    }
    fn shape() -> Shape {
        Shape::Seq(Box::new(V::shape()))
    }
    fn walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
        walk_indexed(self.values(), walker)
    }
}

macro_rules! tuple_impls {
    ($(($($name:ident $index:tt),+))*) => {$(
        /// Every element must implement `Signal`. Inside a derived type,
        /// tuples may mix carriers with plain data: see the derive's docs.
        impl<$($name: Signal),+> Signal for ($($name,)+) {
            #[inline]
            fn has<K: Kind>(&self) -> bool {
                false $(|| self.$index.has::<K>())+
            }
            fn shape() -> Shape {
                Shape::Tuple(alloc::vec![$(($index, $name::shape())),+])
            }
            fn walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
                $(walker.enter(Step::Tuple($index), |walker| self.$index.walk(walker))?;)+
                ControlFlow::Continue(())
            }
        }
    )*};
}

tuple_impls! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
}
