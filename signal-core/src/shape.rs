//! Static shapes: what a type can carry, and through which fields, without a
//! value. Derived types describe themselves; [`map`](crate::map()) walks the
//! descriptions.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::kind::KindId;
use crate::trace::FieldName;

/// How a type reaches leaves, statically.
///
/// Shapes of derived types hold their fields' shapes behind function
/// pointers, so describing a recursive type terminates.
#[derive(Debug)]
#[non_exhaustive]
pub enum Shape {
    /// A derived type.
    Type(TypeInfo),
    /// A sequence or map: the element's shape, at any position.
    Seq(Box<Shape>),
    /// A pointer or `Option`: the inner shape, with no step of its own.
    Transparent(Box<Shape>),
    /// A tuple: the shapes of the elements that can carry signals, by
    /// position.
    Tuple(Vec<(usize, Shape)>),
    /// A type whose paths are only known at run time: a trait object, or a
    /// hand-written impl that does not describe itself. Named by its type.
    Dynamic(&'static str),
    /// Plain data inside a tuple: carries nothing.
    Inert,
    /// A foreign type read by a classifier (`forward_with`, or a classified
    /// chain entry): its name, and the kinds it may return (empty when the
    /// classifier is a plain function that does not say).
    Classified {
        /// The classifier, as written in the attribute.
        name: &'static str,
        /// The kinds it may return.
        kinds: Vec<KindId>,
    },
    /// A dynamic `source()` chain, searched for the listed types
    /// (`chain(...)`), then matched against text rules if none was found.
    Chain {
        /// The listed types: carriers with their shapes, or classified types.
        items: Vec<Shape>,
        /// The text rules: kind and patterns.
        text: Vec<(KindId, &'static [&'static str])>,
    },
}

/// The static description of a derived type.
#[derive(Clone, Copy, Debug)]
pub struct TypeInfo {
    /// The name as written in paths (`GroupError`).
    pub name: &'static str,
    /// The full type name (`my_crate::errors::GroupError<u8>`): the identity
    /// used to find cycles.
    pub type_name: &'static str,
    /// Whether the type is an enum.
    pub is_enum: bool,
    /// The kind every variant of an enum raises (`#[signal(leaf = "...")]`
    /// on the enum). A struct's leaf is on its one [`VariantInfo`].
    pub leaf: Option<KindId>,
    /// For a conditional enum-level leaf, the predicate that decides.
    pub when: Option<&'static str>,
    /// The variants, in declaration order; a struct has one, without a name.
    pub variants: &'static [VariantInfo],
}

/// A variant of a derived enum, or the body of a derived struct.
#[derive(Clone, Copy, Debug)]
pub struct VariantInfo {
    /// The variant's name; `None` for a struct.
    pub name: Option<&'static str>,
    /// The kind this variant (or struct) raises itself.
    pub leaf: Option<KindId>,
    /// For a conditional leaf, the predicate (`when = "..."`) that decides.
    pub when: Option<&'static str>,
    /// The fields that forward or are skipped, in declaration order. Fields
    /// that cannot carry signals are not listed.
    pub fields: &'static [FieldInfo],
}

/// A forwarded or skipped field.
#[derive(Clone, Copy, Debug)]
pub struct FieldInfo {
    /// How a path names the field (`None` for the only field of a tuple
    /// variant).
    pub name: Option<FieldName>,
    /// The field's type, as written.
    pub ty: &'static str,
    /// What the field does with its signals.
    pub edge: Edge,
}

/// What a field does with the signals of its type.
#[derive(Clone, Copy, Debug)]
pub enum Edge {
    /// `#[signal(forward)]`, possibly per kind.
    Forward {
        /// With `only(...)`: the kinds the field is consulted for.
        only: &'static [KindId],
        /// With `except(...)`: the kinds the field is not consulted for.
        except: &'static [KindId],
        /// The shape of the field's type.
        target: Target,
    },
    /// `#[signal(skip = "reason")]`.
    Skip {
        /// The reason given.
        reason: &'static str,
    },
}

impl Edge {
    /// Whether a forwarded field is consulted for `kind` (false for a skip).
    pub fn passes(&self, kind: KindId) -> bool {
        match self {
            Edge::Forward { only, except, .. } => {
                (only.is_empty() || only.iter().any(|&k| kind.implies(k)))
                    && !except.iter().any(|&k| kind.implies(k))
            }
            Edge::Skip { .. } => false,
        }
    }
}

/// The shape of a forwarded field's type, described on demand (so that
/// describing a recursive type terminates). Derived types keep one
/// describing function per type, indexed by field.
#[derive(Clone, Copy)]
pub struct Target {
    describe: fn(u32) -> Shape,
    index: u32,
}

impl Target {
    #[doc(hidden)]
    pub const fn __new(describe: fn(u32) -> Shape, index: u32) -> Self {
        Target { describe, index }
    }

    /// The shape of the field's type.
    pub fn shape(&self) -> Shape {
        (self.describe)(self.index)
    }
}

impl core::fmt::Debug for Target {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Target(..)")
    }
}
