//! `chain(...)` fields: the head of a field's dynamic `source()` chain, its
//! walk, and the downcast to a listed type.

use core::marker::PhantomData;
use core::ops::{ControlFlow, Deref};
use std::error::Error;

use crate::checks::{NoSignals, SignalCarrier};
use crate::classify::{ErrorChain, TextRule, chain_of};
use crate::trace::{Step, Walker};

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
    fn __signal_chain_probe(&self) -> NoSignals {
        NoSignals
    }
}

impl<T: ?Sized> ChainProbeNone for ChainProbe<T> {}

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
