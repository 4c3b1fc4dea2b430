//! Test fixtures, with the probes' dispatch: a field type without `Signal`
//! has no fixtures, and a field type without `Default` has no default.

use alloc::vec::Vec;

use crate::checks::Probe;
use crate::signal::Signal;

use crate::fixture::{Fixture, FixtureCx};

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
