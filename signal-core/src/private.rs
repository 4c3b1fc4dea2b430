//! Support for generated code. Not public API: anything here may change in
//! any release.

#![allow(clippy::new_without_default)]

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

// ---------------------------------------------------------------------------
// Foreign leaves: classifiers and dynamic `source()` chains.

use crate::classify::{Classify, ErrorChain, TextRule, chain_of};
use crate::kind::KindId;
use core::ops::Deref;
use std::error::Error;

pub fn classify<T: ?Sized, C: Classify<T>>(classifier: &C, value: &T) -> Option<KindId> {
    classifier.classify(value)
}

pub fn classifier_kinds<T: ?Sized, C: Classify<T>>(classifier: &C) -> Vec<KindId> {
    classifier.kinds()
}

/// Compiles only if `C` classifies a `T`.
pub fn check_classifier<T: ?Sized, C: Classify<T>>(_: &C) {}

/// A conditional leaf's predicate.
pub fn when<T: ?Sized>(predicate: fn(&T) -> bool, value: &T) -> bool {
    predicate(value)
}

/// The head of a field's `source()` chain: the field itself if it is an
/// error, what it derefs to if that is one (`Box<dyn Error + ...>`,
/// `anyhow::Error`), or nothing (reported by the field check).
pub struct ChainRef<'a, T: ?Sized>(pub &'a T);

pub trait ChainDirect<'a> {
    fn __signal_chain(&self) -> Option<&'a (dyn Error + 'static)>;
}

impl<'a, T: ?Sized + ErrorChain> ChainDirect<'a> for &&ChainRef<'a, T> {
    fn __signal_chain(&self) -> Option<&'a (dyn Error + 'static)> {
        Some(self.0.head())
    }
}

pub trait ChainDeref<'a> {
    fn __signal_chain(&self) -> Option<&'a (dyn Error + 'static)>;
}

impl<'a, T: ?Sized + Deref> ChainDeref<'a> for &ChainRef<'a, T>
where
    T::Target: ErrorChain,
{
    fn __signal_chain(&self) -> Option<&'a (dyn Error + 'static)> {
        Some(Deref::deref(self.0).head())
    }
}

pub trait ChainNone<'a> {
    fn __signal_chain(&self) -> Option<&'a (dyn Error + 'static)> {
        None
    }
}

impl<'a, T: ?Sized> ChainNone<'a> for ChainRef<'a, T> {}

/// The same three levels at the type level, for the field check.
pub struct ChainProbe<T: ?Sized>(PhantomData<T>);

impl<T: ?Sized> ChainProbe<T> {
    pub const fn new() -> Self {
        ChainProbe(PhantomData)
    }
}

pub trait ChainProbeDirect {
    fn __signal_chain_probe(&self) -> Carrier {
        Carrier
    }
}

impl<T: ?Sized + ErrorChain> ChainProbeDirect for &&ChainProbe<T> {}

pub trait ChainProbeDeref {
    fn __signal_chain_probe(&self) -> Carrier {
        Carrier
    }
}

impl<T: ?Sized + Deref> ChainProbeDeref for &ChainProbe<T> where T::Target: ErrorChain {}

pub trait ChainProbeNone {
    fn __signal_chain_probe(&self) -> Inert {
        Inert
    }
}

impl<T: ?Sized> ChainProbeNone for ChainProbe<T> {}

#[diagnostic::on_unimplemented(
    message = "`#[signal(chain(...))]` on a field of type `{T}`, which has no `source()` chain",
    label = "`{T}` is not an error, and does not deref to one",
    note = "use `chain` on a field that implements `std::error::Error + 'static` or holds a `Box<dyn Error + Send + Sync>`"
)]
pub trait Chained<T: ?Sized> {}

#[diagnostic::do_not_recommend]
impl<T: ?Sized> Chained<T> for Carrier {}

pub fn chained<T: ?Sized, M: Chained<T>>(_: M) {}

#[diagnostic::on_unimplemented(
    message = "`{Self}` is listed in `chain(...)`, but it is not an error type that carries signals",
    label = "neither a `Signal` error nor classified",
    note = "list error types that derive `Signal`, or classify a foreign type: `chain(std::io::Error(classify_io))`"
)]
pub trait ChainItem: Signal + Error + 'static {}

impl<T: Signal + Error + 'static> ChainItem for T {}

pub fn chain_item<T: ChainItem>() {}

/// Compiles only if `T` can be downcast to (a classified chain entry).
pub fn chain_classified<T: Error + 'static, C: Classify<T>>(_: &C) {}

/// `has` over a chain. `typed` answers for one error: `None` if no listed
/// type matched it, `Some(hit)` if one did. Text rules apply only when no
/// listed type matched anywhere in the chain.
pub fn chain_has(
    head: &(dyn Error + 'static),
    kind: KindId,
    rules: &[TextRule],
    mut typed: impl FnMut(&(dyn Error + 'static)) -> Option<bool>,
) -> bool {
    let mut matched = false;
    for error in chain_of(head) {
        match typed(error) {
            Some(true) => return true,
            Some(false) => matched = true,
            None => {}
        }
    }
    !matched
        && rules
            .iter()
            .any(|rule| rule.kind.implies(kind) && chain_of(head).any(|error| rule.matches(error)))
}

/// `walk` over a chain; `typed` walks one error if a listed type matches it.
pub fn chain_walk(
    head: &(dyn Error + 'static),
    walker: &mut Walker<'_>,
    rules: &[TextRule],
    mut typed: impl FnMut(&(dyn Error + 'static), usize, &mut Walker<'_>) -> Option<ControlFlow<()>>,
) -> ControlFlow<()> {
    let mut matched = false;
    for (depth, error) in chain_of(head).enumerate() {
        if let Some(flow) = typed(error, depth, walker) {
            matched = true;
            flow?;
        }
    }
    if matched {
        return ControlFlow::Continue(());
    }
    for rule in rules {
        if !rule.kind.implies(walker.kind()) {
            continue;
        }
        if let Some(depth) = chain_of(head).position(|error| rule.matches(error)) {
            let pattern = rule.patterns.first().copied().unwrap_or_default();
            walker.enter(Step::Source(depth), |walker| {
                walker.leaf_via(Step::Text(pattern), rule.kind)
            })?;
        }
    }
    ControlFlow::Continue(())
}

/// A classifier applied where it fits, and nothing where it does not (the
/// field check reports that), so one mistake is one error.
pub struct Classifying<'a, C: ?Sized, T: ?Sized>(pub &'a C, pub PhantomData<fn(&T)>);

pub trait ClassifyYes<T: ?Sized> {
    fn __signal_classify(&self, value: &T) -> Option<KindId>;
    fn __signal_kinds(&self) -> Vec<KindId>;
}

impl<C: ?Sized + Classify<T>, T: ?Sized> ClassifyYes<T> for Classifying<'_, C, T> {
    fn __signal_classify(&self, value: &T) -> Option<KindId> {
        self.0.classify(value)
    }
    fn __signal_kinds(&self) -> Vec<KindId> {
        self.0.kinds()
    }
}

pub trait ClassifyNo<T: ?Sized> {
    fn __signal_classify(&self, _: &T) -> Option<KindId> {
        None
    }
    fn __signal_kinds(&self) -> Vec<KindId> {
        Vec::new()
    }
}

impl<C: ?Sized, T: ?Sized> ClassifyNo<T> for &Classifying<'_, C, T> {}

/// A downcast to a listed chain type, or nothing if it is not an error type
/// (the field check reports that).
pub struct Downcast<T: ?Sized>(PhantomData<T>);

impl<T: ?Sized> Downcast<T> {
    pub const fn new() -> Self {
        Downcast(PhantomData)
    }
}

pub trait DowncastYes<T> {
    fn __signal_downcast<'e>(&self, error: &'e (dyn Error + 'static)) -> Option<&'e T>;
}

impl<T: Error + 'static> DowncastYes<T> for Downcast<T> {
    fn __signal_downcast<'e>(&self, error: &'e (dyn Error + 'static)) -> Option<&'e T> {
        error.downcast_ref::<T>()
    }
}

pub trait DowncastNo<T> {
    fn __signal_downcast<'e>(&self, _: &'e (dyn Error + 'static)) -> Option<&'e T> {
        None
    }
}

impl<T> DowncastNo<T> for &Downcast<T> {}
