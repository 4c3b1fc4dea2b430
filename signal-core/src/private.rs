//! Support for generated code. Not public API: anything here may change in
//! any release.

use core::marker::PhantomData;
use core::ops::ControlFlow;

use crate::kind::Kind;
pub use crate::kind::KindInfo;
use crate::signal::Signal;
use crate::trace::{Step, Walker};

// ---------------------------------------------------------------------------
// Compile-time probes: does a type implement `Signal`? Resolved by method
// lookup on a concrete type ("autoref specialization"): the by-value impl wins
// when `T: Signal` holds, the by-reference impl otherwise. Inside a generic
// impl a bare type parameter resolves to "no" unless it is bounded by
// `Signal`, which is the documented limit of the check.

/// Yes: the probed type implements `Signal`.
#[derive(Default)]
pub struct Carrier;

/// No: the probed type does not implement `Signal`.
#[derive(Default)]
pub struct Inert;

#[derive(Default)]
pub struct Probe<T: ?Sized>(PhantomData<T>);

impl<T: ?Sized> Probe<T> {
    pub const fn new() -> Self {
        Probe(PhantomData)
    }
}

pub trait ProbeCarrier {
    fn __signal_probe(&self) -> Carrier {
        Carrier
    }
}

impl<T: ?Sized + Signal> ProbeCarrier for Probe<T> {}

pub trait ProbeInert {
    fn __signal_probe(&self) -> Inert {
        Inert
    }
}

impl<T: ?Sized> ProbeInert for &Probe<T> {}

/// Type-level "or" of two probe answers.
pub trait Or<Rhs> {
    type Out: Default;
}

impl Or<Carrier> for Carrier {
    type Out = Carrier;
}
impl Or<Inert> for Carrier {
    type Out = Carrier;
}
impl Or<Carrier> for Inert {
    type Out = Carrier;
}
impl Or<Inert> for Inert {
    type Out = Inert;
}

pub fn or<A: Or<B>, B>(_: A, _: B) -> A::Out {
    A::Out::default()
}

#[diagnostic::on_unimplemented(
    message = "this field can carry signals (through `{T}`), but is neither forwarded nor skipped",
    label = "add `#[signal(forward)]` to pass its signals on, or `#[signal(skip = \"reason\")]` to drop them on purpose",
    note = "a field whose type implements `Signal` (directly or inside Box, Vec, Option, a tuple, ...) must say what happens to its signals"
)]
pub trait Unannotated<T: ?Sized> {}

#[diagnostic::do_not_recommend]
impl<T: ?Sized> Unannotated<T> for Inert {}

/// Compiles only if the probe said "no".
pub fn unannotated<T: ?Sized, M: Unannotated<T>>(_: M) {}

#[diagnostic::on_unimplemented(
    message = "`#[signal(forward)]` on a field of type `{T}`, which cannot carry signals",
    label = "`{T}` does not implement `Signal`",
    note = "derive `Signal` for the type (or for the error inside it), or drop `forward`: a field that carries no signals needs no attribute"
)]
pub trait Forwardable<T: ?Sized> {}

#[diagnostic::do_not_recommend]
impl<T: ?Sized> Forwardable<T> for Carrier {}

/// Compiles only if the probe said "yes".
pub fn forwarded<T: ?Sized, M: Forwardable<T>>(_: M) {}

// ---------------------------------------------------------------------------
// Value-level dispatch for forwarded fields: calls `Signal` when the type
// implements it and does nothing otherwise (tuple elements that are plain
// data). Whether a forwarded field can carry at all is checked separately, so
// the "nothing" branch never hides a mistake.

pub struct Maybe<'a, T: ?Sized>(pub &'a T);

pub trait MaybeCarrier {
    fn __signal_has<K: Kind>(&self) -> bool;
    fn __signal_walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()>;
}

impl<T: Signal> MaybeCarrier for Maybe<'_, T> {
    #[inline]
    fn __signal_has<K: Kind>(&self) -> bool {
        self.0.has::<K>()
    }
    #[inline]
    fn __signal_walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
        self.0.walk(walker)
    }
}

pub trait MaybeInert {
    #[inline]
    fn __signal_has<K: Kind>(&self) -> bool {
        false
    }
    #[inline]
    fn __signal_walk(&self, _: &mut Walker<'_>) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

impl<T: ?Sized> MaybeInert for &Maybe<'_, T> {}

/// Walks a sequence, one `Step::Index` per element.
pub fn walk_seq<'i, T: ?Sized + 'i>(
    items: impl Iterator<Item = &'i T>,
    walker: &mut Walker<'_>,
    mut each: impl FnMut(&'i T, &mut Walker<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    for (index, item) in items.enumerate() {
        walker.enter(Step::Index(index), |walker| each(item, walker))?;
    }
    ControlFlow::Continue(())
}

// ---------------------------------------------------------------------------
// Static shapes, with the same dispatch: a tuple element that does not
// implement `Signal` is plain data.

pub use alloc::boxed::Box;
pub use alloc::vec;
pub use alloc::vec::Vec;

use crate::shape::Shape;

pub trait ShapeCarrier {
    fn __signal_shape(&self) -> Shape;
}

impl<T: Signal> ShapeCarrier for Probe<T> {
    fn __signal_shape(&self) -> Shape {
        T::shape()
    }
}

pub trait ShapeInert {
    fn __signal_shape(&self) -> Shape {
        Shape::Inert
    }
}

impl<T: ?Sized> ShapeInert for &Probe<T> {}

/// A tuple's shape, keeping the elements that can carry signals.
pub fn tuple_shape(elems: Vec<(usize, Shape)>) -> Shape {
    Shape::Tuple(
        elems
            .into_iter()
            .filter(|(_, shape)| !matches!(shape, Shape::Inert))
            .collect(),
    )
}

// ---------------------------------------------------------------------------
// Test fixtures, with the same dispatch: a field type without `Signal` has no
// fixtures, and a field type without `Default` has no default.

pub use crate::testing::{Fixture, FixtureCx};

pub trait FixtureCarrier<T> {
    fn __signal_fixtures(&self, cx: &mut FixtureCx) -> Vec<Fixture<T>>;
}

impl<T: Signal> FixtureCarrier<T> for Probe<T> {
    fn __signal_fixtures(&self, cx: &mut FixtureCx) -> Vec<Fixture<T>> {
        T::__fixtures(cx)
    }
}

pub trait FixtureInert<T> {
    fn __signal_fixtures(&self, _: &mut FixtureCx) -> Vec<Fixture<T>> {
        Vec::new()
    }
}

impl<T> FixtureInert<T> for &Probe<T> {}

pub trait DefaultSome<T> {
    fn __signal_default(&self) -> Option<T>;
}

impl<T: Default> DefaultSome<T> for Probe<T> {
    fn __signal_default(&self) -> Option<T> {
        Some(T::default())
    }
}

pub trait DefaultNone<T> {
    fn __signal_default(&self) -> Option<T> {
        None
    }
}

impl<T> DefaultNone<T> for &Probe<T> {}
