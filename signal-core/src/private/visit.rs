//! The one generated body per type, `__visit`, and the two visitors
//! that `has` and `walk` run it with.
//!
//! A derived type's visit body names each hop by its index in the type's
//! node table ([`Desc::nodes`](super::desc::Desc)); the `has` visitor never
//! reads the table, so `has` stays a constant-folded `match`.

use core::marker::PhantomData;
use core::ops::ControlFlow;

use crate::classify::Kinds;
use crate::kind::{Kind, KindId};
use crate::shape::Shape;
use crate::trace::{Node, Step, Walker};

use super::desc::Parsed;
use super::forward::Forward;

/// What a derived type's visit body reports: leaves and forwarded fields,
/// each by the index of its node.
pub trait Visitor {
    /// The kind asked about, for dynamic parts (chains).
    fn kind(&self) -> KindId;

    /// The value raises `L` at `node`.
    fn leaf<L: Kind>(&mut self, node: u32) -> ControlFlow<()>;

    /// The value raises `L` at `node` if `raised` says so (a `when`
    /// predicate), asked only when `L` answers the question.
    fn leaf_if<L: Kind>(&mut self, node: u32, raised: impl FnOnce() -> bool) -> ControlFlow<()>;

    /// A forwarded field, consulted for every kind.
    fn field<T: ?Sized + Forward<M>, M>(
        &mut self,
        node: u32,
        value: &T,
        marker: M,
    ) -> ControlFlow<()>;

    /// Whether a field with the filter `F` is consulted for the kind asked
    /// about.
    #[inline]
    fn passes<F: Filter>(&self) -> bool {
        F::passes(self.kind())
    }

    /// A field read by a classifier (`forward_with`): `name` as written.
    fn kinds(&mut self, node: u32, name: &'static str, kinds: Kinds) -> ControlFlow<()>;

    /// A field walked by generated code (`chain(...)`).
    fn dynamic(
        &mut self,
        node: u32,
        walk: &mut dyn FnMut(&mut Walker<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()>;

    /// Without a value: the forwarded field of type `T` numbered `target`
    /// among the type's forwarding fields, read with `marker`.
    #[inline(always)]
    fn target<T: ?Sized + Forward<M>, M>(&mut self, target: u32, marker: M) {
        let _ = (target, marker);
    }

    /// Without a value: a forwarding field whose shape `shape` gives.
    #[inline(always)]
    fn target_shape(&mut self, target: u32, shape: impl FnOnce() -> Shape) {
        let _ = (target, shape);
    }
}

/// `shape`: the shape of one forwarding field, by its number.
pub struct Describe {
    target: u32,
    shape: Option<Shape>,
}

impl Describe {
    #[allow(missing_docs)]
    pub fn new(target: u32) -> Self {
        Describe {
            target,
            shape: None,
        }
    }

    #[allow(missing_docs)]
    pub fn finish(self) -> Shape {
        self.shape.unwrap_or(Shape::Inert)
    }
}

impl Visitor for Describe {
    fn kind(&self) -> KindId {
        unreachable_kind()
    }
    fn leaf<L: Kind>(&mut self, _: u32) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    fn leaf_if<L: Kind>(&mut self, _: u32, _: impl FnOnce() -> bool) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    fn field<T: ?Sized + Forward<M>, M>(&mut self, _: u32, _: &T, _: M) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    fn kinds(&mut self, _: u32, _: &'static str, _: Kinds) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    fn dynamic(
        &mut self,
        _: u32,
        _: &mut dyn FnMut(&mut Walker<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    fn target<T: ?Sized + Forward<M>, M>(&mut self, target: u32, _: M) {
        if target == self.target {
            self.shape = Some(T::__shape());
        }
    }
    fn target_shape(&mut self, target: u32, shape: impl FnOnce() -> Shape) {
        if target == self.target {
            self.shape = Some(shape());
        }
    }
}

/// `Describe` visits no value, so no kind is asked about.
fn unreachable_kind() -> KindId {
    crate::vocab::TransientNetwork::ID
}

/// `has::<K>()`: stops at the first leaf that implies `K`.
pub struct Has<K>(PhantomData<K>);

impl<K: Kind> Has<K> {
    #[allow(missing_docs)]
    pub const NEW: Self = Has(PhantomData);
}

#[inline(always)]
fn stop_if(hit: bool) -> ControlFlow<()> {
    if hit {
        ControlFlow::Break(())
    } else {
        ControlFlow::Continue(())
    }
}

impl<K: Kind> Visitor for Has<K> {
    #[inline(always)]
    fn kind(&self) -> KindId {
        K::ID
    }

    #[inline(always)]
    fn leaf<L: Kind>(&mut self, _: u32) -> ControlFlow<()> {
        stop_if(L::implies::<K>())
    }

    #[inline(always)]
    fn leaf_if<L: Kind>(&mut self, _: u32, raised: impl FnOnce() -> bool) -> ControlFlow<()> {
        stop_if(L::implies::<K>() && raised())
    }

    #[inline(always)]
    fn field<T: ?Sized + Forward<M>, M>(&mut self, _: u32, value: &T, _: M) -> ControlFlow<()> {
        stop_if(value.__has::<K>())
    }

    #[inline(always)]
    fn passes<F: Filter>(&self) -> bool {
        F::passes_static::<K>()
    }

    #[inline]
    fn kinds(&mut self, _: u32, _: &'static str, kinds: Kinds) -> ControlFlow<()> {
        stop_if(kinds.implies(K::ID))
    }

    fn dynamic(
        &mut self,
        _: u32,
        walk: &mut dyn FnMut(&mut Walker<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let mut stop = |_: &[Step]| ControlFlow::Break(());
        walk(&mut Walker::new(K::ID, None, &mut stop))
    }
}

/// `walk`: reports every path, naming each hop from the type's node table.
pub struct Walk<'w, 'a> {
    walker: &'w mut Walker<'a>,
    nodes: &'static [Node],
}

impl<'w, 'a> Walk<'w, 'a> {
    /// A walk of a type whose description `desc` gives: read only when the
    /// walker records paths, so that yes/no questions (`has_kind`) neither
    /// parse it nor allocate.
    #[inline]
    pub fn new(walker: &'w mut Walker<'a>, desc: fn() -> Option<&'static Parsed>) -> Self {
        let nodes: &'static [Node] = match walker.__records() {
            true => desc().map_or(&[], |desc| &desc.nodes[..]),
            false => &[],
        };
        Walk { walker, nodes }
    }

    #[inline]
    fn node(&self, node: u32) -> Node {
        const UNNAMED: Node = Node {
            ty: "",
            variant: None,
            field: None,
        };
        self.nodes.get(node as usize).copied().unwrap_or(UNNAMED)
    }

    #[inline]
    fn enter(
        &mut self,
        node: u32,
        inner: impl FnOnce(&mut Walker<'a>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let node = self.node(node);
        self.walker.__push(Step::Node(node));
        let flow = inner(self.walker);
        self.walker.__pop();
        flow
    }
}

impl Visitor for Walk<'_, '_> {
    #[inline]
    fn kind(&self) -> KindId {
        self.walker.kind()
    }

    #[inline]
    fn leaf<L: Kind>(&mut self, node: u32) -> ControlFlow<()> {
        let node = self.node(node);
        self.walker.leaf(node, L::ID)
    }

    #[inline]
    fn leaf_if<L: Kind>(&mut self, node: u32, raised: impl FnOnce() -> bool) -> ControlFlow<()> {
        if L::ID.implies(self.walker.kind()) && raised() {
            self.leaf::<L>(node)
        } else {
            ControlFlow::Continue(())
        }
    }

    #[inline]
    fn field<T: ?Sized + Forward<M>, M>(&mut self, node: u32, value: &T, _: M) -> ControlFlow<()> {
        self.enter(node, |walker| value.__walk(walker))
    }

    fn kinds(&mut self, node: u32, name: &'static str, kinds: Kinds) -> ControlFlow<()> {
        self.enter(node, |walker| super::walk_kinds(walker, name, kinds))
    }

    fn dynamic(
        &mut self,
        node: u32,
        walk: &mut dyn FnMut(&mut Walker<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        self.enter(node, |walker| walk(walker))
    }
}

/// The kinds a filtered field is consulted for: `Only<L>` or `Except<L>`
/// over a list of kinds `(A, (B, ()))`.
pub trait Filter {
    /// Whether a field with this filter is consulted for `K`.
    fn passes_static<K: Kind>() -> bool;
    /// The same, for a kind chosen at run time.
    fn passes(kind: KindId) -> bool;
}

/// A list of kinds, as nested pairs ending in `()`.
pub trait KindList {
    /// Whether `K` is one of the kinds or implies one.
    fn any_implied_by<K: Kind>() -> bool;
    /// The same, for a kind chosen at run time.
    fn any_implied_by_id(kind: KindId) -> bool;
}

impl KindList for () {
    #[inline(always)]
    fn any_implied_by<K: Kind>() -> bool {
        false
    }
    #[inline(always)]
    fn any_implied_by_id(_: KindId) -> bool {
        false
    }
}

impl<A: Kind, B: KindList> KindList for (A, B) {
    #[inline(always)]
    fn any_implied_by<K: Kind>() -> bool {
        K::implies::<A>() || B::any_implied_by::<K>()
    }
    #[inline(always)]
    fn any_implied_by_id(kind: KindId) -> bool {
        kind.implies(A::ID) || B::any_implied_by_id(kind)
    }
}

/// `only(...)`.
pub struct Only<L>(PhantomData<L>);
/// `except(...)`.
pub struct Except<L>(PhantomData<L>);

impl<L: KindList> Filter for Only<L> {
    #[inline(always)]
    fn passes_static<K: Kind>() -> bool {
        L::any_implied_by::<K>()
    }
    #[inline(always)]
    fn passes(kind: KindId) -> bool {
        L::any_implied_by_id(kind)
    }
}

impl<L: KindList> Filter for Except<L> {
    #[inline(always)]
    fn passes_static<K: Kind>() -> bool {
        !L::any_implied_by::<K>()
    }
    #[inline(always)]
    fn passes(kind: KindId) -> bool {
        !L::any_implied_by_id(kind)
    }
}
