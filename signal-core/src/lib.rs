#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

extern crate alloc;

mod checks;
pub mod classifiers;
mod classify;
mod fixture;
mod kind;
mod map;
mod shape;
mod signal;
pub mod testing;
mod trace;
pub mod vocab;
pub mod wire;

// The derive's field checks, named at the root so that compiler messages
// show `signal_core::Unannotated`, never a private path.
#[doc(hidden)]
pub use crate::checks::{
    ChainError, ChainListed, Chained, ClassifiedError, DynProbe, Forwarded, ForwardedPart,
    NoSignals, Probe, SignalCarrier, Skippable, StdName, TypeErasedError, Unannotated, or,
};
#[doc(hidden)]
pub use crate::checks::{
    DynProbeError, DynProbeNone, DynProbeSignal, ProbeBuiltin, ProbeClassified, ProbeErased,
    ProbeNone, ProbeSignal,
};

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

#[cfg(feature = "runtime")]
pub mod runtime;

pub use crate::classify::{
    ClassifiedBy, Classify, ErrorChain, Kinds, MAX_CHAIN, TextRule, chain_of,
};
pub use crate::kind::{Kind, KindId};
pub use crate::map::{
    HeldBack, KindSection, SignalMap, Skipped, StaticPath, StaticStep, map, map_with,
};
pub use crate::shape::{Edge, FieldInfo, Shape, Target, TypeInfo, VariantInfo};
pub use crate::signal::Signal;
pub use crate::trace::{FieldName, Node, Step, Trace, Walker};
/// Derives [`Signal`](trait@Signal): see the [crate documentation](crate#details)
/// for the attributes.
pub use signal_derive::Signal;
