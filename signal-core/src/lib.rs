#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

extern crate alloc;

mod classify;
mod kind;
mod map;
pub mod net;
mod shape;
mod signal;
pub mod testing;
mod trace;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

#[cfg(feature = "runtime")]
pub mod runtime;

pub use crate::classify::{Classify, ErrorChain, MAX_CHAIN, TextRule, chain_of};
pub use crate::kind::{Kind, KindId};
pub use crate::map::{HeldBack, KindSection, SignalMap, Skipped, StaticPath, StaticStep, map};
pub use crate::shape::{Edge, FieldInfo, Shape, TypeInfo, VariantInfo};
pub use crate::signal::Signal;
pub use crate::trace::{FieldName, Node, Step, Trace, Walker};
/// Derives [`Signal`](trait@Signal): see the [crate documentation](crate#details)
/// for the attributes.
pub use signal_derive::Signal;
