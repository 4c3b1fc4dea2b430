//! Support for generated code. Not public API: anything here may change in
//! any release.

#![allow(clippy::new_without_default)]

use core::marker::PhantomData;
use core::ops::ControlFlow;

use crate::classifiers::Builtin;
use crate::kind::Kind;
pub use crate::kind::KindInfo;
use crate::signal::Signal;
use crate::trace::{Step, Walker};

pub use crate::checks::Probe;

/// The identity: wraps a check's argument so that its span can cover the
/// user's whole field type.
#[inline(always)]
pub fn id<T>(value: T) -> T {
    value
}
use crate::checks::SignalCarrier;
use crate::classify::{ClassifiedBy, Kinds};

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

impl<T: Signal> MaybeCarrier for &&&Maybe<'_, T> {
    #[inline]
    fn __signal_has<K: Kind>(&self) -> bool {
        self.0.has::<K>()
    }
    #[inline]
    fn __signal_walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
        self.0.walk(walker)
    }
}

/// A foreign error with a registered classifier.
pub trait MaybeClassified<C> {
    fn __signal_has<K: Kind>(&self) -> bool;
    fn __signal_walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()>;
}

impl<T: ?Sized + ClassifiedBy<C>, C: Classify<T> + Default> MaybeClassified<C> for &&Maybe<'_, T> {
    #[inline]
    fn __signal_has<K: Kind>(&self) -> bool {
        C::default().classify(self.0).implies(K::ID)
    }
    fn __signal_walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
        walk_kinds(
            walker,
            short_type_name::<C>(),
            C::default().classify(self.0),
        )
    }
}

/// A foreign error with a built-in classifier, below a registration of the
/// user's own.
pub trait MaybeBuiltin {
    fn __signal_has<K: Kind>(&self) -> bool;
    fn __signal_walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()>;
}

impl<T: ?Sized + Builtin> MaybeBuiltin for &Maybe<'_, T> {
    #[inline]
    fn __signal_has<K: Kind>(&self) -> bool {
        T::Classifier::default().classify(self.0).implies(K::ID)
    }
    fn __signal_walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
        walk_kinds(
            walker,
            short_type_name::<T::Classifier>(),
            T::Classifier::default().classify(self.0),
        )
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

impl<T: ?Sized> MaybeInert for Maybe<'_, T> {}

/// A type's name without its module path: `IoClassifier`.
pub fn short_type_name<T: ?Sized>() -> &'static str {
    let name = core::any::type_name::<T>();
    let plain = name.split('<').next().unwrap_or(name);
    plain.rsplit("::").next().unwrap_or(plain)
}

/// Reports the first of `kinds` that implies the walker's kind, reached
/// through the classifier `name`.
pub fn walk_kinds(walker: &mut Walker<'_>, name: &'static str, kinds: Kinds) -> ControlFlow<()> {
    match kinds.first_implying(walker.kind()) {
        Some(leaf) => walker.leaf_via(Step::Classifier(name), leaf),
        None => ControlFlow::Continue(()),
    }
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

impl<T: Signal> ShapeCarrier for &&&Probe<T> {
    fn __signal_shape(&self) -> Shape {
        T::shape()
    }
}

pub trait ShapeClassified<C> {
    fn __signal_shape(&self) -> Shape;
}

impl<T: ?Sized + ClassifiedBy<C>, C: Classify<T> + Default> ShapeClassified<C> for &&Probe<T> {
    fn __signal_shape(&self) -> Shape {
        Shape::Classified {
            name: short_type_name::<C>(),
            kinds: C::default().kinds(),
        }
    }
}

pub trait ShapeBuiltin {
    fn __signal_shape(&self) -> Shape;
}

impl<T: ?Sized + Builtin> ShapeBuiltin for &Probe<T> {
    fn __signal_shape(&self) -> Shape {
        Shape::Classified {
            name: short_type_name::<T::Classifier>(),
            kinds: T::Classifier::default().kinds(),
        }
    }
}

pub trait ShapeInert {
    fn __signal_shape(&self) -> Shape {
        Shape::Inert
    }
}

impl<T: ?Sized> ShapeInert for Probe<T> {}

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

pub use crate::fixture::{Fixture, FixtureCx};

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
    fn __signal_chain_probe(&self) -> SignalCarrier {
        SignalCarrier
    }
}

impl<T: ?Sized + ErrorChain> ChainProbeDirect for &&ChainProbe<T> {}

pub trait ChainProbeDeref {
    fn __signal_chain_probe(&self) -> SignalCarrier {
        SignalCarrier
    }
}

impl<T: ?Sized + Deref> ChainProbeDeref for &ChainProbe<T> where T::Target: ErrorChain {}

pub trait ChainProbeNone {
    fn __signal_chain_probe(&self) -> crate::checks::NoSignals {
        crate::checks::NoSignals
    }
}

impl<T: ?Sized> ChainProbeNone for ChainProbe<T> {}

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
    fn __signal_classify(&self, value: &T) -> Kinds;
    fn __signal_kinds(&self) -> Vec<KindId>;
}

impl<C: ?Sized + Classify<T>, T: ?Sized> ClassifyYes<T> for Classifying<'_, C, T> {
    fn __signal_classify(&self, value: &T) -> Kinds {
        self.0.classify(value)
    }
    fn __signal_kinds(&self) -> Vec<KindId> {
        self.0.kinds()
    }
}

pub trait ClassifyNo<T: ?Sized> {
    fn __signal_classify(&self, _: &T) -> Kinds {
        Kinds::NONE
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
