//! Runtime paths: which way a signal travelled through a value.

use alloc::vec::Vec;
use core::fmt;
use core::ops::ControlFlow;

use crate::kind::KindId;

/// Where a path passes through a field, when the hop names one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldName {
    /// A named field (`SyncSummary.process`). Raw identifiers are shown
    /// without `r#`.
    Named(&'static str),
    /// A positional field (`Wrapper.0`, `Error::Variant.1`).
    Index(usize),
}

impl fmt::Display for FieldName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldName::Named(name) => f.write_str(name),
            FieldName::Index(index) => write!(f, "{index}"),
        }
    }
}

/// One hop through a derived type: the type, the variant if it is an enum,
/// and the field the path leaves through (none for a leaf, and none for the
/// only field of a tuple variant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    /// The type's name, without its module path or generic arguments.
    pub ty: &'static str,
    /// The variant, for enums.
    pub variant: Option<&'static str>,
    /// The field the path continues through.
    pub field: Option<FieldName>,
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ty)?;
        if let Some(variant) = self.variant {
            write!(f, "::{variant}")?;
        }
        if let Some(field) = self.field {
            write!(f, ".{field}")?;
        }
        Ok(())
    }
}

/// One step of a path. Steps hold names and positions only, never field
/// values, so a rendered path is safe to log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// A hop through a derived type.
    Node(Node),
    /// The position of an element in a sequence, or of an entry in a map
    /// (in iteration order; keys are never recorded).
    Index(usize),
    /// The position of an element in a tuple.
    Tuple(usize),
    /// A hop into a dynamic `source()` chain: the error that many
    /// `source()` calls down from the field (0: the field's error itself),
    /// found by downcasting. Rendered `⇢`, with `.source()` per level.
    Source(usize),
    /// A classifier named in `forward_with` or `chain(Type(classifier))`
    /// that returned the next leaf.
    Classifier(&'static str),
    /// A text rule whose pattern matched an error's message.
    Text(&'static str),
    /// A leaf raising `kind`: the end of a path.
    Leaf(KindId),
}

/// Walks the carrier paths of a value for one kind. Handed to
/// [`Signal::walk`](crate::Signal::walk); derived code calls its methods, and
/// hand-written implementations can too.
pub struct Walker<'a> {
    kind: KindId,
    path: Option<&'a mut Vec<Step>>,
    sink: &'a mut dyn FnMut(&[Step]) -> ControlFlow<()>,
}

impl<'a> Walker<'a> {
    /// A walker for `kind`. With `path`, the steps of each carrier path are
    /// recorded there and handed to `sink`; without it, `sink` gets an empty
    /// slice (for yes/no questions, which then allocate nothing).
    pub fn new(
        kind: KindId,
        path: Option<&'a mut Vec<Step>>,
        sink: &'a mut dyn FnMut(&[Step]) -> ControlFlow<()>,
    ) -> Self {
        Walker { kind, path, sink }
    }

    /// The kind being looked for.
    pub fn kind(&self) -> KindId {
        self.kind
    }

    /// Whether the kind being looked for passes a field filter: `only` lists
    /// the kinds a field is consulted for, `except` the kinds it is not.
    /// A kind matches a listed kind when it is that kind or implies it.
    pub fn passes(&self, only: &[KindId], except: &[KindId]) -> bool {
        (only.is_empty() || only.iter().any(|&k| self.kind.implies(k)))
            && !except.iter().any(|&k| self.kind.implies(k))
    }

    /// Reports a leaf that raises `leaf` at `node`, if `leaf` implies the kind
    /// being looked for.
    pub fn leaf(&mut self, node: Node, leaf: KindId) -> ControlFlow<()> {
        self.leaf_via(Step::Node(node), leaf)
    }

    /// Reports a leaf reached through `via` (the [`Step::Node`] of a variant,
    /// or the [`Step::Classifier`] or [`Step::Text`] that found it), if
    /// `leaf` implies the kind being looked for.
    pub fn leaf_via(&mut self, via: Step, leaf: KindId) -> ControlFlow<()> {
        if !leaf.implies(self.kind) {
            return ControlFlow::Continue(());
        }
        match &mut self.path {
            Some(path) => {
                path.push(via);
                path.push(Step::Leaf(leaf));
                let flow = (self.sink)(path);
                path.pop();
                path.pop();
                flow
            }
            None => (self.sink)(&[]),
        }
    }

    /// Whether the walker records paths (generated code: a walk that does
    /// not need names does not read them).
    #[doc(hidden)]
    #[inline]
    pub fn __records(&self) -> bool {
        self.path.is_some()
    }

    /// Steps down (generated code: pairs with [`__pop`](Self::__pop), without
    /// a closure per field).
    #[doc(hidden)]
    #[inline]
    pub fn __push(&mut self, step: Step) {
        if let Some(path) = &mut self.path {
            path.push(step);
        }
    }

    #[doc(hidden)]
    #[inline]
    pub fn __pop(&mut self) {
        if let Some(path) = &mut self.path {
            path.pop();
        }
    }

    /// Runs `inner` one step further down the path.
    pub fn enter(
        &mut self,
        step: Step,
        inner: impl FnOnce(&mut Self) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        match &mut self.path {
            Some(path) => path.push(step),
            None => return inner(self),
        }
        let flow = inner(self);
        if let Some(path) = &mut self.path {
            path.pop();
        }
        flow
    }
}

/// A path through which a value carries a kind, from the outermost type to
/// the leaf.
///
/// Renders as
/// `TaskWorkerError::Group → GroupError::Sync → SyncSummary.process →
/// ProcessSummary.errored[2].1 → GroupMessageProcessingError::Storage →
/// StorageError::PoolNeedsConnection (PoolNeedsConnection ⇒ NeedsDbReconnect)`.
///
/// ```
/// use signal_core::{Kind, Signal, kind};
///
/// kind! {
///     pub NeedsDbReconnect;
///     pub PoolNeedsConnection: NeedsDbReconnect;
/// }
///
/// #[derive(Signal)]
/// enum StorageError {
///     #[signal(leaf = "PoolNeedsConnection")]
///     PoolNeedsConnection,
/// }
///
/// #[derive(Signal)]
/// enum GroupError {
///     Storage(#[signal(forward)] StorageError),
/// }
///
/// let trace = GroupError::Storage(StorageError::PoolNeedsConnection)
///     .trace::<NeedsDbReconnect>()
///     .unwrap();
/// assert_eq!(trace.query(), NeedsDbReconnect::ID); // what was asked
/// assert_eq!(trace.leaf(), Some(PoolNeedsConnection::ID)); // what answered
/// let hops: Vec<String> = trace.nodes().map(ToString::to_string).collect();
/// assert_eq!(hops, ["GroupError::Storage", "StorageError::PoolNeedsConnection"]);
/// assert_eq!(
///     trace.to_string(),
///     "GroupError::Storage → StorageError::PoolNeedsConnection (PoolNeedsConnection ⇒ NeedsDbReconnect)",
/// );
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Trace {
    query: KindId,
    steps: Vec<Step>,
}

impl Trace {
    pub(crate) fn new(query: KindId, steps: Vec<Step>) -> Self {
        Trace { query, steps }
    }

    /// The kind that was looked for.
    pub fn query(&self) -> KindId {
        self.query
    }

    /// The leaf kind found at the end of the path.
    pub fn leaf(&self) -> Option<KindId> {
        self.steps.iter().rev().find_map(|step| match step {
            Step::Leaf(kind) => Some(*kind),
            _ => None,
        })
    }

    /// The steps, outermost first.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The hops through derived types, outermost first.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.steps.iter().filter_map(|step| match step {
            Step::Node(node) => Some(node),
            _ => None,
        })
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut after_source = false;
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                Step::Node(node) => {
                    if after_source {
                        f.write_str(" ⇢ ")?;
                    } else if i > 0 {
                        f.write_str(" → ")?;
                    }
                    write!(f, "{node}")?;
                }
                Step::Index(index) => write!(f, "[{index}]")?,
                Step::Tuple(index) => write!(f, ".{index}")?,
                Step::Source(depth) => {
                    for _ in 0..*depth {
                        f.write_str(".source()")?;
                    }
                }
                Step::Classifier(name) => {
                    let arrow = if after_source { "⇢" } else { "→" };
                    write!(f, " {arrow} {name}")?;
                }
                Step::Text(pattern) => write!(f, " ⇢ text {pattern:?}")?,
                Step::Leaf(leaf) => {
                    f.write_str(" (")?;
                    let chain = leaf.chain_to(self.query).unwrap_or_else(|| vec![*leaf]);
                    for (i, kind) in chain.iter().enumerate() {
                        if i > 0 {
                            f.write_str(" ⇒ ")?;
                        }
                        f.write_str(kind.name())?;
                    }
                    f.write_str(")")?;
                }
            }
            after_source = matches!(step, Step::Source(_));
        }
        Ok(())
    }
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Trace({self})")
    }
}
