//! The compile-time checks the derive emits for each field. Not public API.
//!
//! A probe asks the compiler what a type is, by method lookup on a value of a
//! concrete type (an inherent method first, then trait methods taking
//! `self`, `&self`, `&mut self`, then those of what the probe derefs to: the
//! first whose bounds hold wins), and answers with one of four marker types. The check
//! traits are implemented only for the markers that are allowed, so a wrong
//! answer is an `E0277` whose message (`on_unimplemented`) names the fix.
//!
//! The items are re-exported, hidden, at the crate root, so that the
//! compiler's messages name `signal_core::Unannotated`, never a private path.
//! The checks are called as `Trait::<T>::check(probe)`, which reports the
//! unmet bound at the probe (spanned over the user's field type) without a
//! note pointing into this crate's sources.

#![allow(missing_docs, clippy::new_without_default)]

use core::marker::PhantomData;
use core::ops::Deref;
use std::error::Error;

use crate::__private::{BuiltinClassified, Registered};
use crate::classifiers::Builtin;
use crate::classify::{ClassifiedBy, Classify};
use crate::signal::Signal;

/// The probed type implements `Signal`.
#[derive(Clone, Copy, Default)]
pub struct SignalCarrier;

/// The probed type is a foreign error with a registered classifier
/// ([`ClassifiedBy`]) or a built-in one, such as `std::io::Error`.
#[derive(Clone, Copy, Default)]
pub struct ClassifiedError;

/// The probed type is a type-erased error (`dyn Error`, a user trait with
/// `Error` as a supertrait, or a type that derefs to `dyn Error`, such as
/// `anyhow::Error`): it may hold any error, so it may carry signals.
#[derive(Clone, Copy, Default)]
pub struct TypeErasedError;

/// The probed type carries no signals.
#[derive(Clone, Copy, Default)]
pub struct NoSignals;

/// A probe of `T`. The compiler picks its answer by method lookup on a
/// value: an inherent method taking `self` first, then trait methods taking
/// `self`, `&self`, `&mut self`, then the methods of what it derefs to; the
/// first tier whose bounds hold wins.
pub struct Probe<T: ?Sized>(PhantomData<T>);

impl<T: ?Sized> Probe<T> {
    #[inline]
    pub const fn new() -> Self {
        Probe(PhantomData)
    }
}

/// The type derives `Signal` (first tier).
impl<T: ?Sized + Signal> Probe<T> {
    #[inline]
    pub fn __signal_probe(self) -> SignalCarrier {
        SignalCarrier
    }
}

/// A registered classifier (second tier).
pub trait ProbeClassified<C> {
    fn __signal_probe(self) -> ClassifiedError;
}

impl<T: ?Sized + ClassifiedBy<C>, C: Classify<T> + Default> ProbeClassified<C> for Probe<T> {
    #[inline]
    fn __signal_probe(self) -> ClassifiedError {
        ClassifiedError
    }
}

/// A built-in classifier, below a registration of the user's own (third
/// tier).
pub trait ProbeBuiltin {
    #[inline]
    fn __signal_probe(&self) -> ClassifiedError {
        ClassifiedError
    }
}

impl<T: ?Sized + Builtin> ProbeBuiltin for Probe<T> {}

/// `dyn Error`, with or without `Send` and `Sync`: what type-erased errors
/// deref to.
pub trait ErasedTarget {}

impl ErasedTarget for dyn Error + '_ {}
impl ErasedTarget for dyn Error + Send + '_ {}
impl ErasedTarget for dyn Error + Sync + '_ {}
impl ErasedTarget for dyn Error + Send + Sync + '_ {}

/// A type-erased error (fourth tier).
pub trait ProbeErased {
    #[inline]
    fn __signal_probe(&mut self) -> TypeErasedError {
        TypeErasedError
    }
}

impl<T: ?Sized + Deref> ProbeErased for Probe<T> where T::Target: ErasedTarget {}

/// What a probe derefs to: its last tier, one autoderef step away.
pub struct ProbeData<T: ?Sized>(PhantomData<T>);

impl<T: ?Sized> Deref for Probe<T> {
    type Target = ProbeData<T>;
    #[inline]
    fn deref(&self) -> &ProbeData<T> {
        &ProbeData(PhantomData)
    }
}

/// Plain data (last tier).
pub trait ProbeNone {
    #[inline]
    fn __signal_probe(&self) -> NoSignals {
        NoSignals
    }
}

impl<T: ?Sized> ProbeNone for ProbeData<T> {}

/// A probe of a trait object type found in a field's type: `dyn Signal`
/// carries signals, and any trait object that is an error (`dyn Error`, or a
/// user trait with `Error` as a supertrait) is type-erased.
pub struct DynProbe<T: ?Sized>(PhantomData<T>);

impl<T: ?Sized> DynProbe<T> {
    #[inline]
    pub const fn new() -> Self {
        DynProbe(PhantomData)
    }
}

/// `dyn Signal`-like objects carry signals (first tier).
impl<T: ?Sized + Signal> DynProbe<T> {
    #[inline]
    pub fn __signal_probe(self) -> SignalCarrier {
        SignalCarrier
    }
}

/// Any other error object is type-erased (second tier).
pub trait DynProbeError {
    fn __signal_probe(self) -> TypeErasedError;
}

impl<T: ?Sized + Error> DynProbeError for DynProbe<T> {
    #[inline]
    fn __signal_probe(self) -> TypeErasedError {
        TypeErasedError
    }
}

/// Anything else carries nothing (third tier).
pub trait DynProbeNone {
    #[inline]
    fn __signal_probe(&self) -> NoSignals {
        NoSignals
    }
}

impl<T: ?Sized> DynProbeNone for DynProbe<T> {}

/// The strongest of two probe answers.
pub trait Or<Rhs> {
    type Out: Default;
}

macro_rules! or_table {
    ($($a:ident | $b:ident => $out:ident;)*) => {$(
        impl Or<$b> for $a {
            type Out = $out;
        }
    )*};
}

or_table! {
    SignalCarrier | SignalCarrier => SignalCarrier;
    SignalCarrier | ClassifiedError => SignalCarrier;
    SignalCarrier | TypeErasedError => SignalCarrier;
    SignalCarrier | NoSignals => SignalCarrier;
    ClassifiedError | SignalCarrier => SignalCarrier;
    ClassifiedError | ClassifiedError => ClassifiedError;
    ClassifiedError | TypeErasedError => ClassifiedError;
    ClassifiedError | NoSignals => ClassifiedError;
    TypeErasedError | SignalCarrier => SignalCarrier;
    TypeErasedError | ClassifiedError => ClassifiedError;
    TypeErasedError | TypeErasedError => TypeErasedError;
    TypeErasedError | NoSignals => TypeErasedError;
    NoSignals | SignalCarrier => SignalCarrier;
    NoSignals | ClassifiedError => ClassifiedError;
    NoSignals | TypeErasedError => TypeErasedError;
    NoSignals | NoSignals => NoSignals;
}

/// The class of a probe's answer: a forwarded leaf's marker (which names
/// its classifier) is a `ClassifiedError` to the checks.
pub trait Class {
    type Of;
}

impl Class for SignalCarrier {
    type Of = SignalCarrier;
}
impl Class for ClassifiedError {
    type Of = ClassifiedError;
}
impl Class for TypeErasedError {
    type Of = TypeErasedError;
}
impl Class for NoSignals {
    type Of = NoSignals;
}
impl<C> Class for Registered<C> {
    type Of = ClassifiedError;
}
impl Class for BuiltinClassified {
    type Of = ClassifiedError;
}

#[inline]
pub fn or<A: Class, B: Class>(_: A, _: B) -> <A::Of as Or<B::Of>>::Out
where
    A::Of: Or<B::Of>,
{
    Default::default()
}

/// A field without `#[signal(...)]` must carry nothing.
#[diagnostic::on_unimplemented(
    message = "this field can carry signals (through `{T}`), but is neither forwarded nor skipped",
    label = "add `#[signal(forward)]` (`chain(...)` for a type-erased error) to pass its signals on, or `#[signal(skip = \"reason\")]` to drop them on purpose",
    note = "found a `{Self}` in the type: a `SignalCarrier` derives `Signal`; a `ClassifiedError` is a foreign error with a registered or built-in classifier (such as `std::io::Error`), which `forward` classifies; a `TypeErasedError` (`Box<dyn Error>`, `anyhow::Error`) may hold any error, and `#[signal(chain(...))]` walks it"
)]
pub trait Unannotated<T: ?Sized> {
    #[inline]
    fn check(self)
    where
        Self: Sized,
    {
    }
}

#[diagnostic::do_not_recommend]
impl<T: ?Sized> Unannotated<T> for NoSignals {}

/// A forwarded field must reach a type that carries signals.
#[diagnostic::on_unimplemented(
    message = "`#[signal(forward)]` on a field of type `{T}`, which cannot carry signals",
    label = "`{T}` does not implement `Signal`, and has no registered classifier",
    note = "if the type is yours, derive `Signal` for it; for a foreign error, name a classifier with `#[signal(forward_with = \"classify_fn\")]` or register one for its type (`impl signal_core::ClassifiedBy<MyClassifier> for TheError {{}}`); for a type-erased error (`Box<dyn Error>`, `anyhow::Error`), walk its `source()` chain with `#[signal(chain(...))]`; a field that carries nothing needs no attribute"
)]
pub trait Forwarded<T: ?Sized> {
    #[inline(always)]
    fn check(self) -> Self
    where
        Self: Sized,
    {
        self
    }
}

#[diagnostic::do_not_recommend]
impl<T: ?Sized> Forwarded<T> for SignalCarrier {}
#[diagnostic::do_not_recommend]
impl<T: ?Sized> Forwarded<T> for ClassifiedError {}
#[diagnostic::do_not_recommend]
impl<T: ?Sized, C> Forwarded<T> for Registered<C> {}
#[diagnostic::do_not_recommend]
impl<T: ?Sized> Forwarded<T> for BuiltinClassified {}

/// Each part of a forwarded tuple is walked if it carries signals and is
/// data otherwise; a type-erased error cannot be walked by `forward`, and
/// must not pass for data.
#[diagnostic::on_unimplemented(
    message = "`{T}`, a part of this forwarded field, is a type-erased error, which `forward` cannot walk",
    label = "`forward` would pass over the `{T}` inside",
    note = "move the type-erased error to a field of its own and walk it with `#[signal(chain(...))]`, or skip this field with a reason"
)]
pub trait ForwardedPart<T: ?Sized> {
    #[inline(always)]
    fn check(self) -> Self
    where
        Self: Sized,
    {
        self
    }
}

#[diagnostic::do_not_recommend]
impl<T: ?Sized> ForwardedPart<T> for SignalCarrier {}
#[diagnostic::do_not_recommend]
impl<T: ?Sized> ForwardedPart<T> for ClassifiedError {}
#[diagnostic::do_not_recommend]
impl<T: ?Sized> ForwardedPart<T> for NoSignals {}
#[diagnostic::do_not_recommend]
impl<T: ?Sized, C> ForwardedPart<T> for Registered<C> {}
#[diagnostic::do_not_recommend]
impl<T: ?Sized> ForwardedPart<T> for BuiltinClassified {}

/// A skipped field must be able to carry signals: a skip on a field that
/// cannot is noise, and would hide the day its type starts to carry.
#[diagnostic::on_unimplemented(
    message = "`#[signal(skip = \"...\")]` on a field of type `{T}`, which cannot carry signals",
    label = "nothing to skip: `{T}` does not implement `Signal`, has no registered classifier, and is not a type-erased error",
    note = "drop the attribute: a field that carries nothing needs no annotation, and the derive will ask for one if its type ever starts to carry signals"
)]
pub trait Skippable<T: ?Sized> {
    #[inline]
    fn check(self)
    where
        Self: Sized,
    {
    }
}

#[diagnostic::do_not_recommend]
impl<T: ?Sized> Skippable<T> for SignalCarrier {}
#[diagnostic::do_not_recommend]
impl<T: ?Sized> Skippable<T> for ClassifiedError {}
#[diagnostic::do_not_recommend]
impl<T: ?Sized> Skippable<T> for TypeErasedError {}

/// A `chain(...)` field must be an error, or deref to one.
#[diagnostic::on_unimplemented(
    message = "`#[signal(chain(...))]` on a field of type `{T}`, which has no `source()` chain",
    label = "`{T}` is not an error, and does not deref to one",
    note = "use `chain` on a field that implements `std::error::Error + 'static`, or holds a `Box<dyn Error + Send + Sync>` (or a trait object of a trait with `Error` as a supertrait)"
)]
pub trait Chained<T: ?Sized> {
    #[inline]
    fn check(self)
    where
        Self: Sized,
    {
    }
}

#[diagnostic::do_not_recommend]
impl<T: ?Sized> Chained<T> for SignalCarrier {}
#[diagnostic::do_not_recommend]
impl<T: ?Sized> Chained<T> for TypeErasedError {}

/// A type listed in `chain(...)` without a classifier must be an error that
/// carries signals, or has a registered classifier.
#[diagnostic::on_unimplemented(
    message = "`{T}` is listed in `chain(...)`, but it is not an error type that carries signals",
    label = "neither an error that derives `Signal`, nor a foreign error with a registered classifier",
    note = "list error types that derive `Signal`, or name a classifier for a foreign type: `chain(std::io::Error(classify_io))`"
)]
pub trait ChainListed<T: ?Sized> {
    #[inline]
    fn check(self)
    where
        Self: Sized,
    {
    }
}

#[diagnostic::do_not_recommend]
impl<T: Error + 'static> ChainListed<T> for SignalCarrier {}
#[diagnostic::do_not_recommend]
impl<T: Error + 'static> ChainListed<T> for ClassifiedError {}

/// A name the derive reads as a standard library type must be that type (a
/// local `type String = MyError;` would otherwise hide a carrier).
#[diagnostic::on_unimplemented(
    message = "`{Self}` here is not the standard library's `{T}`, which the derive took it for",
    label = "a local item shadows the standard name",
    note = "the derive reads `String`, `u64`, `Vec`, `Option`, `Box`, ... as the standard types; name your own type differently, or annotate the field with `#[signal(forward)]` or `#[signal(skip = \"reason\")]`"
)]
pub trait StdName<T: ?Sized> {
    #[inline]
    fn check() {}
}

#[diagnostic::do_not_recommend]
impl<T: ?Sized> StdName<T> for T {}

/// A type listed in `chain(...)` with a classifier must be an error, so a
/// chain entry can be downcast to it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is listed in `chain(...)`, but it is not an error type",
    label = "a `source()` chain holds only `std::error::Error + 'static` types",
    note = "list error types; a classifier for a non-error type goes in `#[signal(forward_with = \"...\")]`"
)]
pub trait ChainError {
    #[inline]
    fn check() {}
}

#[diagnostic::do_not_recommend]
impl<T: Error + 'static> ChainError for T {}
