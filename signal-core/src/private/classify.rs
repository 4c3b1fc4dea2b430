//! `forward_with` fields: a classifier named by the user, applied where it
//! fits, and a conditional leaf's predicate.

use alloc::vec::Vec;
use core::marker::PhantomData;

use crate::classify::{Classify, Kinds};
use crate::kind::KindId;

/// A conditional leaf's predicate.
pub fn when<T: ?Sized>(predicate: fn(&T) -> bool, value: &T) -> bool {
    predicate(value)
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
