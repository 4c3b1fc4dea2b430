//! The static signal map of a type: every path from it to every leaf, per kind.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use crate::kind::KindId;
use crate::shape::{Edge, Shape, TypeInfo};
use crate::signal::Signal;
use crate::trace::Node;

mod render;

/// One step of a static path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StaticStep {
    /// A hop through a derived type.
    Node(Node),
    /// Any element of a sequence or map, rendered `[_]`.
    AnyIndex,
    /// An element of a tuple, rendered `.N`.
    Tuple(usize),
    /// A leaf raising this kind: the end of the path.
    Leaf(KindId),
    /// The path reaches a type whose onward paths are already listed (by a
    /// shorter path, or because the type is recursive). Rendered `↑`.
    Seen(&'static str),
    /// A trait object or undescribed type whose paths are known only at run
    /// time.
    Dynamic(&'static str),
    /// A hop into a dynamic `source()` chain, at any depth. Rendered `⇢`.
    Source,
    /// A classifier that may return the next leaf.
    Classifier(&'static str),
    /// A text rule (its first pattern) that may raise the next leaf.
    Text(&'static str),
    /// A conditional leaf's predicate. Rendered `if predicate`.
    When(&'static str),
}

/// A path from the root type to a leaf (or to a cycle or a dynamic edge).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StaticPath {
    /// The kind this path was listed for.
    pub kind: KindId,
    /// The steps, outermost first.
    pub steps: Vec<StaticStep>,
}

/// A forwarded field that is not consulted for a kind because of its
/// `only(...)`/`except(...)` filter.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HeldBack {
    /// The type and field, as a path would name them.
    pub at: Node,
    /// The filter, rendered (`except(Retryable)`).
    pub filter: String,
}

/// A skipped field, with its reason.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Skipped {
    /// The type and field, as a path would name them.
    pub at: Node,
    /// The field's type, as written.
    pub ty: &'static str,
    /// The reason given in `skip = "..."`.
    pub reason: &'static str,
}

/// Everything one kind can travel through, from the root type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindSection {
    /// The kind.
    pub kind: KindId,
    /// Every path to a leaf raising it (or to a cycle or dynamic edge that
    /// may), in declaration order.
    pub paths: Vec<StaticPath>,
    /// Forwarded fields on those types that are filtered out for this kind.
    pub held_back: Vec<HeldBack>,
}

/// The static signal map of a type. Build it with [`map`]; render it with
/// [`to_markdown`](SignalMap::to_markdown) or
/// [`to_mermaid`](SignalMap::to_mermaid).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignalMap {
    root: &'static str,
    types: Vec<&'static str>,
    sections: Vec<KindSection>,
    skipped: Vec<Skipped>,
    edges: Vec<(String, String, String, EdgeStyle)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EdgeStyle {
    Forward,
    Skip,
    Leaf,
}

/// Builds the signal map of `E`: every static path from `E` to every leaf,
/// per kind, with skipped fields and per-kind filters.
///
/// Paths are listed breadth-first and each type is expanded once: a path that
/// reaches a type whose onward paths are already listed ends there with
/// [`StaticStep::Seen`]. So every edge toward a kind appears in exactly one
/// path, the map terminates on recursive types, and it is deterministic
/// (declaration order within each level).
///
/// ```
/// use signal_core::{kind, Signal};
///
/// kind! { pub Reconnect; }
///
/// #[derive(Signal)]
/// enum Storage {
///     #[signal(leaf = "Reconnect")]
///     PoolGone,
/// }
///
/// #[derive(Signal)]
/// enum Worker {
///     Storage(#[signal(forward)] Storage),
/// }
///
/// let map = signal_core::map::<Worker>();
/// assert_eq!(map.paths(Reconnect::ID)[0].to_string(), "Worker::Storage → Storage::PoolGone (Reconnect)");
/// # use signal_core::Kind;
/// ```
pub fn map<E: Signal>() -> SignalMap {
    map_with::<E>(&[])
}

/// [`map`], with a section for each of `kinds` too.
///
/// A map lists the kinds its leaves raise, and the kinds those imply. A kind
/// that *includes* them (`Retryable: includes(TransientNetwork)`) is not
/// known to the leaves: name it here to see every path that raises it.
///
/// ```
/// use signal_core::vocab::TransientNetwork;
/// use signal_core::{Kind, Signal, kind};
///
/// kind! { pub Retryable: includes(TransientNetwork); }
///
/// #[derive(Signal)]
/// enum Client {
///     Io(#[signal(forward)] std::io::Error),
/// }
///
/// let map = signal_core::map_with::<Client>(&[Retryable::ID]);
/// assert_eq!(
///     map.paths(Retryable::ID)[0].to_string(),
///     "Client::Io → IoClassifier (ConnectionRefused ⇒ TransientNetwork ⇒ Retryable)"
/// );
/// assert!(signal_core::map::<Client>().paths(Retryable::ID).is_empty());
/// ```
pub fn map_with<E: Signal>(kinds: &[KindId]) -> SignalMap {
    let mut builder = Builder::default();
    let root = E::shape();
    builder.discover(&root);
    for &kind in kinds {
        builder.add_kind(kind);
    }
    builder.finish(root)
}

#[derive(Default)]
struct Builder {
    /// Types by full type name, with their discovery order.
    types: BTreeMap<&'static str, (usize, TypeInfo)>,
    order: Vec<&'static str>,
    /// Every kind raised by some reachable leaf, implied kinds included.
    kinds: BTreeSet<KindId>,
    /// Kinds in the order first seen.
    kind_order: Vec<KindId>,
}

impl Builder {
    fn discover(&mut self, shape: &Shape) {
        match shape {
            Shape::Type(info) => {
                if self.types.contains_key(info.type_name) {
                    return;
                }
                let copy = *info;
                self.order.push(info.type_name);
                self.types
                    .insert(info.type_name, (self.order.len() - 1, copy));
                if let Some(leaf) = info.leaf {
                    self.add_kind(leaf);
                }
                for variant in info.variants {
                    if let Some(leaf) = variant.leaf {
                        self.add_kind(leaf);
                    }
                    for field in variant.fields {
                        if let Edge::Forward { target, .. } = &field.edge {
                            self.discover(&target.shape());
                        }
                    }
                }
            }
            Shape::Seq(inner) | Shape::Transparent(inner) => self.discover(inner),
            Shape::Tuple(elems) => elems.iter().for_each(|(_, elem)| self.discover(elem)),
            Shape::Classified { kinds, .. } => kinds.iter().for_each(|&kind| self.add_kind(kind)),
            Shape::Chain { items, text } => {
                items.iter().for_each(|item| self.discover(item));
                text.iter().for_each(|&(kind, _)| self.add_kind(kind));
            }
            Shape::Dynamic(_) | Shape::Inert => {}
        }
    }

    fn add_kind(&mut self, kind: KindId) {
        if self.kinds.insert(kind) {
            self.kind_order.push(kind);
        }
        for &implied in kind.direct_implications() {
            self.add_kind(implied);
        }
    }

    fn finish(self, root: Shape) -> SignalMap {
        let root_name = match &root {
            Shape::Type(info) => info.name,
            Shape::Dynamic(name) => name,
            _ => "value",
        };
        let mut sections = Vec::new();
        for &kind in &self.kind_order {
            let (paths, held_back) = PathWalk::new(&self, kind).run(&root);
            sections.push(KindSection {
                kind,
                paths,
                held_back: dedup(held_back),
            });
        }
        let mut skipped = Vec::new();
        let mut edges = Vec::new();
        for name in &self.order {
            let info = &self.types[name].1;
            if let Some(leaf) = info.leaf {
                edges.push((
                    info.name.into(),
                    leaf.name().into(),
                    info.name.into(),
                    EdgeStyle::Leaf,
                ));
            }
            for variant in info.variants {
                if let Some(leaf) = variant.leaf {
                    let label = variant.name.unwrap_or(info.name);
                    edges.push((
                        info.name.into(),
                        leaf.name().into(),
                        label.into(),
                        EdgeStyle::Leaf,
                    ));
                }
                for field in variant.fields {
                    let at = Node {
                        ty: info.name,
                        variant: variant.name,
                        field: field.name,
                    };
                    let label = edge_label(&at);
                    match &field.edge {
                        Edge::Skip { reason } => {
                            skipped.push(Skipped {
                                at,
                                ty: field.ty,
                                reason,
                            });
                            edges.push((info.name.into(), field.ty.into(), label, EdgeStyle::Skip));
                        }
                        Edge::Forward {
                            target,
                            only,
                            except,
                        } => {
                            let mut label = label;
                            if let Some(filter) = filter_text(only, except) {
                                label.push(' ');
                                label.push_str(&filter);
                            }
                            let mut targets = Vec::new();
                            type_names(&target.shape(), &mut targets);
                            for target in targets {
                                edges.push((
                                    info.name.into(),
                                    target.into(),
                                    label.clone(),
                                    EdgeStyle::Forward,
                                ));
                            }
                        }
                    }
                }
            }
        }
        SignalMap {
            root: root_name,
            types: self
                .order
                .iter()
                .map(|name| self.types[name].1.name)
                .collect(),
            sections,
            skipped,
            edges,
        }
    }
}

fn dedup<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn type_names(shape: &Shape, out: &mut Vec<&'static str>) {
    match shape {
        Shape::Type(info) => out.push(info.name),
        Shape::Seq(inner) | Shape::Transparent(inner) => type_names(inner, out),
        Shape::Tuple(elems) => elems.iter().for_each(|(_, elem)| type_names(elem, out)),
        Shape::Dynamic(name) | Shape::Classified { name, .. } => out.push(name),
        Shape::Chain { items, text } => {
            items.iter().for_each(|item| type_names(item, out));
            if !text.is_empty() {
                out.push("text rules");
            }
        }
        Shape::Inert => {}
    }
}

/// Whether a classifier or chain can raise `kind` (a classifier that does
/// not list its kinds may raise anything).
fn foreign_reaches(kinds: &[KindId], kind: KindId) -> bool {
    kinds.is_empty() || kinds.iter().any(|k| k.implies(kind))
}

fn edge_label(at: &Node) -> String {
    let mut label = String::new();
    if let Some(variant) = at.variant {
        label.push_str(variant);
    }
    if let Some(field) = at.field {
        if at.variant.is_some() {
            label.push('.');
        }
        let _ = write!(label, "{field}");
    }
    if label.is_empty() {
        label.push_str(at.ty);
    }
    label
}

fn filter_text(only: &[KindId], except: &[KindId]) -> Option<String> {
    let (word, kinds) = if !only.is_empty() {
        ("only", only)
    } else if !except.is_empty() {
        ("except", except)
    } else {
        return None;
    };
    let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    Some(alloc::format!("{word}({})", names.join(", ")))
}

/// Lists the paths for one kind breadth-first, expanding each type once: the
/// first (shortest) path to a type continues through its fields; a later path
/// that reaches it again ends there with [`StaticStep::Seen`]. Every edge
/// toward the kind appears in exactly one listed path, so the list stays
/// short on dense or recursive hierarchies and a new edge shows up as one new
/// line.
struct PathWalk<'b> {
    builder: &'b Builder,
    kind: KindId,
    /// Types from which some path reaches the kind.
    reaching: BTreeSet<&'static str>,
    expanded: BTreeSet<&'static str>,
    queue: alloc::collections::VecDeque<(&'static str, Vec<StaticStep>)>,
    paths: Vec<StaticPath>,
    held_back: Vec<HeldBack>,
}

impl<'b> PathWalk<'b> {
    fn new(builder: &'b Builder, kind: KindId) -> Self {
        let mut walk = PathWalk {
            builder,
            kind,
            reaching: BTreeSet::new(),
            expanded: BTreeSet::new(),
            queue: alloc::collections::VecDeque::new(),
            paths: Vec::new(),
            held_back: Vec::new(),
        };
        // Fixpoint: a type reaches the kind if it raises it, or forwards (for
        // this kind) into a shape that reaches it.
        loop {
            let mut changed = false;
            for name in &builder.order {
                if walk.reaching.contains(name) {
                    continue;
                }
                let info = &builder.types[name].1;
                let reaches = info.leaf.is_some_and(|leaf| leaf.implies(kind))
                    || info.variants.iter().any(|variant| {
                        variant.leaf.is_some_and(|leaf| leaf.implies(kind))
                            || variant.fields.iter().any(|field| match &field.edge {
                                Edge::Forward { target, .. } if field.edge.passes(kind) => {
                                    walk.shape_reaches(&target.shape())
                                }
                                _ => false,
                            })
                    });
                if reaches {
                    walk.reaching.insert(name);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        walk
    }

    fn shape_reaches(&self, shape: &Shape) -> bool {
        match shape {
            Shape::Type(info) => self.reaching.contains(info.type_name),
            Shape::Seq(inner) | Shape::Transparent(inner) => self.shape_reaches(inner),
            Shape::Tuple(elems) => elems.iter().any(|(_, elem)| self.shape_reaches(elem)),
            Shape::Classified { kinds, .. } => foreign_reaches(kinds, self.kind),
            Shape::Chain { items, text } => {
                items.iter().any(|item| self.shape_reaches(item))
                    || text.iter().any(|(k, _)| k.implies(self.kind))
            }
            Shape::Dynamic(_) => true,
            Shape::Inert => false,
        }
    }

    fn run(mut self, root: &Shape) -> (Vec<StaticPath>, Vec<HeldBack>) {
        self.follow(root, Vec::new());
        while let Some((name, prefix)) = self.queue.pop_front() {
            self.expand(name, prefix);
        }
        (self.paths, self.held_back)
    }

    /// Walks a shape's containers; queues the types it reaches (all of them:
    /// a type that cannot reach the kind may still hold a field that a
    /// filter holds back).
    fn follow(&mut self, shape: &Shape, mut steps: Vec<StaticStep>) {
        match shape {
            Shape::Type(info) => self.queue.push_back((info.type_name, steps)),
            Shape::Seq(inner) => {
                steps.push(StaticStep::AnyIndex);
                self.follow(inner, steps);
            }
            Shape::Transparent(inner) => self.follow(inner, steps),
            Shape::Tuple(elems) => {
                for (index, elem) in elems {
                    let mut steps = steps.clone();
                    steps.push(StaticStep::Tuple(*index));
                    self.follow(elem, steps);
                }
            }
            Shape::Dynamic(name) => {
                steps.push(StaticStep::Dynamic(name));
                self.paths.push(StaticPath {
                    kind: self.kind,
                    steps,
                });
            }
            Shape::Classified { name, kinds } => {
                if kinds.is_empty() {
                    steps.push(StaticStep::Dynamic(name));
                    self.paths.push(StaticPath {
                        kind: self.kind,
                        steps,
                    });
                    return;
                }
                for &leaf in kinds.iter().filter(|k| k.implies(self.kind)) {
                    let mut steps = steps.clone();
                    steps.push(StaticStep::Classifier(name));
                    steps.push(StaticStep::Leaf(leaf));
                    self.paths.push(StaticPath {
                        kind: self.kind,
                        steps,
                    });
                }
            }
            Shape::Chain { items, text } => {
                for item in items {
                    let mut steps = steps.clone();
                    steps.push(StaticStep::Source);
                    self.follow(item, steps);
                }
                for &(leaf, patterns) in text.iter().filter(|(k, _)| k.implies(self.kind)) {
                    let mut steps = steps.clone();
                    steps.push(StaticStep::Source);
                    steps.push(StaticStep::Text(
                        patterns.first().copied().unwrap_or_default(),
                    ));
                    steps.push(StaticStep::Leaf(leaf));
                    self.paths.push(StaticPath {
                        kind: self.kind,
                        steps,
                    });
                }
            }
            Shape::Inert => {}
        }
    }

    fn expand(&mut self, type_name: &'static str, prefix: Vec<StaticStep>) {
        let builder = self.builder;
        let info = &builder.types[type_name].1;
        if !self.expanded.insert(type_name) {
            if self.reaching.contains(type_name) {
                let mut steps = prefix;
                steps.push(StaticStep::Seen(info.name));
                self.paths.push(StaticPath {
                    kind: self.kind,
                    steps,
                });
            }
            return;
        }
        if let Some(leaf) = info.leaf
            && leaf.implies(self.kind)
        {
            let mut steps = prefix.clone();
            steps.push(StaticStep::Node(Node {
                ty: info.name,
                variant: None,
                field: None,
            }));
            if let Some(when) = info.when {
                steps.push(StaticStep::When(when));
            }
            steps.push(StaticStep::Leaf(leaf));
            self.paths.push(StaticPath {
                kind: self.kind,
                steps,
            });
        }
        for variant in info.variants {
            if let Some(leaf) = variant.leaf
                && leaf.implies(self.kind)
            {
                let mut steps = prefix.clone();
                steps.push(StaticStep::Node(Node {
                    ty: info.name,
                    variant: variant.name,
                    field: None,
                }));
                if let Some(when) = variant.when {
                    steps.push(StaticStep::When(when));
                }
                steps.push(StaticStep::Leaf(leaf));
                self.paths.push(StaticPath {
                    kind: self.kind,
                    steps,
                });
            }
            for field in variant.fields {
                let Edge::Forward {
                    target,
                    only,
                    except,
                } = &field.edge
                else {
                    continue;
                };
                let at = Node {
                    ty: info.name,
                    variant: variant.name,
                    field: field.name,
                };
                let target = target.shape();
                if !field.edge.passes(self.kind) {
                    // Would it have reached the kind without the filter?
                    let unfiltered =
                        PathWalk::reaches_ignoring_filters(builder, self.kind, &target);
                    if unfiltered {
                        self.held_back.push(HeldBack {
                            at,
                            filter: filter_text(only, except).unwrap_or_default(),
                        });
                    }
                    continue;
                }
                let mut steps = prefix.clone();
                steps.push(StaticStep::Node(at));
                self.follow(&target, steps);
            }
        }
    }

    fn reaches_ignoring_filters(builder: &Builder, kind: KindId, shape: &Shape) -> bool {
        fn go(
            builder: &Builder,
            kind: KindId,
            shape: &Shape,
            seen: &mut BTreeSet<&'static str>,
        ) -> bool {
            match shape {
                Shape::Type(info) => {
                    if !seen.insert(info.type_name) {
                        return false;
                    }
                    let info = &builder.types[info.type_name].1;
                    info.leaf.is_some_and(|leaf| leaf.implies(kind))
                        || info.variants.iter().any(|variant| {
                            variant.leaf.is_some_and(|leaf| leaf.implies(kind))
                                || variant.fields.iter().any(|field| match &field.edge {
                                    Edge::Forward { target, .. } => {
                                        go(builder, kind, &target.shape(), seen)
                                    }
                                    Edge::Skip { .. } => false,
                                })
                        })
                }
                Shape::Seq(inner) | Shape::Transparent(inner) => go(builder, kind, inner, seen),
                Shape::Tuple(elems) => elems.iter().any(|(_, elem)| go(builder, kind, elem, seen)),
                Shape::Classified { kinds, .. } => foreign_reaches(kinds, kind),
                Shape::Chain { items, text } => {
                    items.iter().any(|item| go(builder, kind, item, seen))
                        || text.iter().any(|(k, _)| k.implies(kind))
                }
                Shape::Dynamic(_) => true,
                Shape::Inert => false,
            }
        }
        go(builder, kind, shape, &mut BTreeSet::new())
    }
}
