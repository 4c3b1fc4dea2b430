//! How a forwarded field is read: one plain trait call, [`Forward<M>`],
//! with the marker `M` built by the generated code. Standard containers and
//! tuple parts get their markers from the derive, which reads them from the
//! field's type (`Vec<(u64, E)>` is `Seq(Tuple(...))`); each leaf type's
//! marker comes from one probe ([`Lf`]): the type derives `Signal`, has a
//! classifier registered by the user, has a built-in one, is a type-erased
//! error, or is plain data — in that order of precedence.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::rc::Rc;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::marker::PhantomData;
use core::ops::{ControlFlow, Deref as StdDeref};
use std::collections::HashMap;

use crate::checks::{ErasedTarget, NoSignals, SignalCarrier, TypeErasedError};
use crate::classifiers::Builtin;
use crate::classify::{ClassifiedBy, Classify};
use crate::kind::Kind;
use crate::shape::Shape;
use crate::signal::Signal;
use crate::trace::{Step, Walker};

use super::{short_type_name, walk_kinds};

/// Reads a forwarded value of this type, as the marker `M` says.
pub trait Forward<M> {
    /// Whether the value carries `K`.
    fn __has<K: Kind>(&self) -> bool;
    /// Walks the value's paths.
    fn __walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()>;
    /// The static shape of the type.
    fn __shape() -> Shape;
}

/// The shape of `T` read with the marker `M`.
#[inline]
pub fn shape_of<T: ?Sized + Forward<M>, M>(_: M) -> Shape {
    T::__shape()
}

/// A leaf with a classifier registered by the user (`ClassifiedBy<C>`).
/// Copied whatever `C` is: a leaf type's marker is bound once and read by
/// every field that reaches it.
pub struct Registered<C>(PhantomData<C>);

impl<C> Clone for Registered<C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C> Copy for Registered<C> {}

/// A leaf with a built-in classifier (`std::io::Error`, ...).
#[derive(Clone, Copy)]
pub struct BuiltinClassified;

impl<T: Signal> Forward<SignalCarrier> for T {
    #[inline]
    fn __has<K: Kind>(&self) -> bool {
        self.has::<K>()
    }
    #[inline]
    fn __walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
        self.walk(walker)
    }
    fn __shape() -> Shape {
        T::shape()
    }
}

impl<T: ?Sized + ClassifiedBy<C>, C: Classify<T> + Default> Forward<Registered<C>> for T {
    #[inline]
    fn __has<K: Kind>(&self) -> bool {
        C::default().classify(self).implies(K::ID)
    }
    fn __walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
        walk_kinds(walker, short_type_name::<C>(), C::default().classify(self))
    }
    fn __shape() -> Shape {
        Shape::Classified {
            name: short_type_name::<C>(),
            kinds: C::default().kinds(),
        }
    }
}

impl<T: ?Sized + Builtin> Forward<BuiltinClassified> for T {
    #[inline]
    fn __has<K: Kind>(&self) -> bool {
        T::Classifier::default().classify(self).implies(K::ID)
    }
    fn __walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
        walk_kinds(
            walker,
            short_type_name::<T::Classifier>(),
            T::Classifier::default().classify(self),
        )
    }
    fn __shape() -> Shape {
        Shape::Classified {
            name: short_type_name::<T::Classifier>(),
            kinds: T::Classifier::default().kinds(),
        }
    }
}

/// Plain data (a tuple part), and what the field checks reject (so that one
/// mistake is one error): carries nothing.
macro_rules! inert {
    ($($marker:ty),*) => {$(
        impl<T: ?Sized> Forward<$marker> for T {
            #[inline(always)]
            fn __has<K: Kind>(&self) -> bool {
                false
            }
            #[inline(always)]
            fn __walk(&self, _: &mut Walker<'_>) -> ControlFlow<()> {
                ControlFlow::Continue(())
            }
            fn __shape() -> Shape {
                Shape::Inert
            }
        }
    )*};
}

inert!(NoSignals, TypeErasedError);

// ---------------------------------------------------------------------------
// Containers, by the marker the derive wrote.

/// Elements by index: `Vec`, `VecDeque`, arrays, slices.
#[derive(Clone, Copy)]
pub struct Seq<M>(pub M);
/// The values of a map, by position.
#[derive(Clone, Copy)]
pub struct Map<M>(pub M);
/// `Option`: the value, if any, with no step of its own.
#[derive(Clone, Copy)]
pub struct Opt<M>(pub M);
/// `Box`, `Arc`, `Rc`, references: transparent.
#[derive(Clone, Copy)]
pub struct Deref<M>(pub M);
/// A tuple: its parts' markers as nested pairs ending in `()`.
#[derive(Clone, Copy)]
pub struct Tuple<L>(pub L);

fn walk_indexed<'a, T: 'a + ?Sized + Forward<M>, M>(
    items: impl Iterator<Item = &'a T>,
    walker: &mut Walker<'_>,
) -> ControlFlow<()> {
    for (index, item) in items.enumerate() {
        walker.__push(Step::Index(index));
        let flow = item.__walk(walker);
        walker.__pop();
        flow?;
    }
    ControlFlow::Continue(())
}

macro_rules! seq {
    ($([$($params:tt)*] $ty:ty;)*) => {$(
        impl<$($params)*, M> Forward<Seq<M>> for $ty where T: Forward<M> {
            #[inline]
            fn __has<K: Kind>(&self) -> bool {
                self.iter().any(T::__has::<K>)
            }
            fn __walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
                walk_indexed(self.iter(), walker)
            }
            fn __shape() -> Shape {
                Shape::Seq(Box::new(T::__shape()))
            }
        }
    )*};
}

seq! {
    [T] Vec<T>;
    [T] VecDeque<T>;
    [T] [T];
    [T, const N: usize] [T; N];
}

macro_rules! map {
    ($([$($params:tt)*] $ty:ty;)*) => {$(
        impl<$($params)*, T: Forward<M>, M> Forward<Map<M>> for $ty {
            #[inline]
            fn __has<K: Kind>(&self) -> bool {
                self.values().any(T::__has::<K>)
            }
            fn __walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
                walk_indexed(self.values(), walker)
            }
            fn __shape() -> Shape {
                Shape::Seq(Box::new(T::__shape()))
            }
        }
    )*};
}

map! {
    [Key, S] HashMap<Key, T, S>;
    [Key] BTreeMap<Key, T>;
}

impl<T: Forward<M>, M> Forward<Opt<M>> for Option<T> {
    #[inline]
    fn __has<K: Kind>(&self) -> bool {
        match self {
            Some(value) => value.__has::<K>(),
            None => false,
        }
    }
    #[inline]
    fn __walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
        match self {
            Some(value) => value.__walk(walker),
            None => ControlFlow::Continue(()),
        }
    }
    fn __shape() -> Shape {
        Shape::Transparent(Box::new(T::__shape()))
    }
}

macro_rules! deref {
    ($($ty:ty),*) => {$(
        impl<T: ?Sized + Forward<M>, M> Forward<Deref<M>> for $ty {
            #[inline]
            fn __has<K: Kind>(&self) -> bool {
                T::__has::<K>(self)
            }
            #[inline]
            fn __walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
                T::__walk(self, walker)
            }
            fn __shape() -> Shape {
                Shape::Transparent(Box::new(T::__shape()))
            }
        }
    )*};
}

deref!(Box<T>, Arc<T>, Rc<T>, &T, &mut T);

/// A tuple's parts, by position: tuples of up to 16 parts (the derive's
/// `ty::MAX_TUPLE`, which refuses longer ones, naming the fix).
pub trait Parts<L> {
    /// Whether a part carries `K`.
    fn __has<K: Kind>(&self) -> bool;
    /// Walks the parts, each one a step.
    fn __walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()>;
    /// The parts' shapes, by position, without the inert ones.
    fn __shapes(out: &mut Vec<(usize, Shape)>);
}

macro_rules! tuples {
    ($(($($name:ident $marker:ident $index:tt),+))*) => {$(
        impl<$($name: Forward<$marker>, $marker),+> Parts<tuples!(@list $($marker)+)> for ($($name,)+) {
            #[inline]
            fn __has<K: Kind>(&self) -> bool {
                false $(|| self.$index.__has::<K>())+
            }
            fn __walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
                $(
                    walker.__push(Step::Tuple($index));
                    let flow = self.$index.__walk(walker);
                    walker.__pop();
                    flow?;
                )+
                ControlFlow::Continue(())
            }
            fn __shapes(out: &mut Vec<(usize, Shape)>) {
                $(
                    let shape = $name::__shape();
                    if !matches!(shape, Shape::Inert) {
                        out.push(($index, shape));
                    }
                )+
            }
        }
    )*};
    (@list $first:ident $($rest:ident)*) => { ($first, tuples!(@list $($rest)*)) };
    (@list) => { () };
}

tuples! {
    (A MA 0)
    (A MA 0, B MB 1)
    (A MA 0, B MB 1, C MC 2)
    (A MA 0, B MB 1, C MC 2, D MD 3)
    (A MA 0, B MB 1, C MC 2, D MD 3, E ME 4)
    (A MA 0, B MB 1, C MC 2, D MD 3, E ME 4, F MF 5)
    (A MA 0, B MB 1, C MC 2, D MD 3, E ME 4, F MF 5, G MG 6)
    (A MA 0, B MB 1, C MC 2, D MD 3, E ME 4, F MF 5, G MG 6, H MH 7)
    (A MA 0, B MB 1, C MC 2, D MD 3, E ME 4, F MF 5, G MG 6, H MH 7, I MI 8)
    (A MA 0, B MB 1, C MC 2, D MD 3, E ME 4, F MF 5, G MG 6, H MH 7, I MI 8, J MJ 9)
    (A MA 0, B MB 1, C MC 2, D MD 3, E ME 4, F MF 5, G MG 6, H MH 7, I MI 8, J MJ 9, L ML 10)
    (A MA 0, B MB 1, C MC 2, D MD 3, E ME 4, F MF 5, G MG 6, H MH 7, I MI 8, J MJ 9, L ML 10, N MN 11)
    (A MA 0, B MB 1, C MC 2, D MD 3, E ME 4, F MF 5, G MG 6, H MH 7, I MI 8, J MJ 9, L ML 10, N MN 11, O MO 12)
    (A MA 0, B MB 1, C MC 2, D MD 3, E ME 4, F MF 5, G MG 6, H MH 7, I MI 8, J MJ 9, L ML 10, N MN 11, O MO 12, P MP 13)
    (A MA 0, B MB 1, C MC 2, D MD 3, E ME 4, F MF 5, G MG 6, H MH 7, I MI 8, J MJ 9, L ML 10, N MN 11, O MO 12, P MP 13, Q MQ 14)
    (A MA 0, B MB 1, C MC 2, D MD 3, E ME 4, F MF 5, G MG 6, H MH 7, I MI 8, J MJ 9, L ML 10, N MN 11, O MO 12, P MP 13, Q MQ 14, R MR 15)
}

impl<T: Parts<L>, L> Forward<Tuple<L>> for T {
    #[inline]
    fn __has<K: Kind>(&self) -> bool {
        Parts::__has::<K>(self)
    }
    fn __walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
        Parts::__walk(self, walker)
    }
    fn __shape() -> Shape {
        let mut parts = Vec::new();
        T::__shapes(&mut parts);
        Shape::Tuple(parts)
    }
}

// ---------------------------------------------------------------------------
// The leaf probe: which marker a leaf type gets, by method lookup on a value
// of a concrete type. The compiler tries, in order, an inherent method taking
// `self`, trait methods taking `self`, `&self`, then `&mut self`, then (one
// autoderef step away) the methods of what the probe derefs to: the first
// whose bounds hold wins. Each tier is one lookup on the same receiver,
// which keeps the probe cheap to type-check.

/// A probe of a forwarded leaf type.
pub struct Lf<T: ?Sized>(PhantomData<T>);

impl<T: ?Sized> Lf<T> {
    #[allow(missing_docs)]
    #[inline(always)]
    pub const fn new() -> Self {
        Lf(PhantomData)
    }
}

/// The leaf derives `Signal` (first tier: an inherent method).
impl<T: Signal> Lf<T> {
    #[allow(missing_docs)]
    #[inline(always)]
    pub fn __signal_leaf(self) -> SignalCarrier {
        SignalCarrier
    }
}

/// The leaf has a classifier registered by the user (second tier).
pub trait LfRegistered<C> {
    #[allow(missing_docs)]
    fn __signal_leaf(self) -> Registered<C>;
}

impl<T: ?Sized + ClassifiedBy<C>, C: Classify<T> + Default> LfRegistered<C> for Lf<T> {
    #[inline(always)]
    fn __signal_leaf(self) -> Registered<C> {
        Registered(PhantomData)
    }
}

/// The leaf has a built-in classifier (third tier).
pub trait LfBuiltin {
    #[allow(missing_docs)]
    #[inline(always)]
    fn __signal_leaf(&self) -> BuiltinClassified {
        BuiltinClassified
    }
}

impl<T: ?Sized + Builtin> LfBuiltin for Lf<T> {}

/// The leaf is a type-erased error (fourth tier).
pub trait LfErased {
    #[allow(missing_docs)]
    #[inline(always)]
    fn __signal_leaf(&mut self) -> TypeErasedError {
        TypeErasedError
    }
}

impl<T: ?Sized + StdDeref> LfErased for Lf<T> where T::Target: ErasedTarget {}

/// What a leaf probe derefs to: its last tier, one autoderef step away.
pub struct LfData<T: ?Sized>(PhantomData<T>);

impl<T: ?Sized> StdDeref for Lf<T> {
    type Target = LfData<T>;
    #[inline(always)]
    fn deref(&self) -> &LfData<T> {
        &LfData(PhantomData)
    }
}

/// The leaf is plain data (last tier).
pub trait LfNone {
    #[allow(missing_docs)]
    #[inline(always)]
    fn __signal_leaf(&self) -> NoSignals {
        NoSignals
    }
}

impl<T: ?Sized> LfNone for LfData<T> {}
