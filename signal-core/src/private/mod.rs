//! Support for generated code. Not public API: anything here may change in
//! any release.
//!
//! - `visit`: the visitors a derived type's one visit body runs with
//!   (`has`, `walk`, the shape of one field), and field filters;
//! - `forward`: how a forwarded field is read (`Forward<M>`), its markers,
//!   and the leaf probe;
//! - `desc`: the type's static description, one string parsed on first use;
//! - `chain`: `chain(...)` fields; `classify`: `forward_with` fields;
//! - `fixtures`: the test fixtures' dispatch (feature `fixtures`).

#![allow(clippy::new_without_default, missing_docs)]

use core::ops::ControlFlow;

use crate::classify::Kinds;
use crate::signal::Signal;
use crate::trace::{Step, Walker};

mod chain;
mod classify;
mod desc;
mod fixtures;
mod forward;
mod visit;

pub use crate::checks::Probe;
pub use crate::kind::KindInfo;
pub use alloc::vec::Vec;

pub use self::chain::{
    ChainDeref, ChainDirect, ChainNone, ChainProbe, ChainProbeDeref, ChainProbeDirect,
    ChainProbeNone, ChainRef, Downcast, DowncastNo, DowncastYes, chain_walk,
};
pub use self::classify::{ClassifyNo, ClassifyYes, Classifying, when};
pub use self::desc::{Desc, Parsed};
pub use self::fixtures::{DefaultNone, DefaultSome, FixtureCarrier, FixtureInert};
pub use self::forward::{
    BuiltinClassified, Deref, Forward, Lf, LfBuiltin, LfErased, LfNone, LfRegistered, Map, Opt,
    Registered, Seq, Tuple, shape_of,
};
pub use self::visit::{Describe, Except, Has, Only, Visitor, Walk};
pub use crate::fixture::{Fixture, FixtureCx};

/// The dispatch traits the generated code calls methods of, one module per
/// family, each holding only `Trait as _` imports: a glob of one puts its
/// traits in scope for method lookup without adding a name.
pub mod traits {
    /// Leaf probes of forwarded fields.
    pub mod forward {
        pub use super::super::forward::{
            LfBuiltin as _, LfErased as _, LfNone as _, LfRegistered as _,
        };
    }
    /// Probes of skipped and unannotated fields.
    pub mod probe {
        pub use crate::checks::{
            DynProbeError as _, DynProbeNone as _, ProbeBuiltin as _, ProbeClassified as _,
            ProbeErased as _, ProbeNone as _,
        };
    }
    /// `chain(...)` walks.
    pub mod chain {
        pub use super::super::chain::{
            ChainDeref as _, ChainDirect as _, ChainNone as _, ChainProbeDeref as _,
            ChainProbeDirect as _, ChainProbeNone as _, DowncastNo as _, DowncastYes as _,
        };
    }
    /// `forward_with` classifiers.
    pub mod classify {
        pub use super::super::classify::{ClassifyNo as _, ClassifyYes as _};
    }
    /// Generated fixtures.
    pub mod fixtures {
        pub use super::super::fixtures::{
            DefaultNone as _, DefaultSome as _, FixtureCarrier as _, FixtureInert as _,
        };
    }
}

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

/// A derived type's `walk`: its visit body with the `walk` visitor.
#[inline]
pub fn walk<T: Signal>(this: &T, walker: &mut Walker<'_>) -> ControlFlow<()> {
    let visitor = &mut Walk::new(walker, T::__desc);
    T::__visit(Some(this), visitor)
}

/// The shape of a derived type's forwarding field numbered `index`.
pub fn target<T: Signal>(index: u32) -> crate::shape::Shape {
    let mut describe = Describe::new(index);
    let _ = T::__visit(None, &mut describe);
    describe.finish()
}

/// Walks a chain's listed type, read as its marker says.
#[inline]
pub fn forward_walk<T: ?Sized + Forward<M>, M>(
    value: &T,
    walker: &mut Walker<'_>,
    _: M,
) -> ControlFlow<()> {
    value.__walk(walker)
}
