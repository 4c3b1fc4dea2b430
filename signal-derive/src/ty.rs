//! What the derive can see of a field's type, from its syntax alone.
//!
//! Three readings of one type:
//! - [`Shape::of`]: how a forwarded field is walked. Standard containers
//!   (`Vec`, `Option`, `Box`, maps, tuples, arrays, ...) are taken apart, so
//!   that a tuple may mix data with carriers (`Vec<(Cursor, E)>`) and a
//!   foreign error with a registered classifier may sit inside a container
//!   (`Option<std::io::Error>`); every other type is a leaf, dispatched by
//!   the compiler (derives `Signal`, has a classifier, or is data).
//! - [`undecidable`]: a part of an unannotated field's type that no check can
//!   see through (a type parameter, a projection, a type macro, `dyn Any`).
//!   The user must decide.
//! - [`probes`]: the types of an unannotated field worth asking the compiler
//!   about.
//!
//! The derive reads a few standard names (`Vec`, `Option`, `String`, `u64`,
//! ...) by name, to take them apart or to skip asking about them. A local
//! item could shadow such a name (`type String = MyError;`), so every name
//! read this way is also checked, once per derive, to be the standard type
//! ([`std_names`]).

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::{GenericArgument, Ident, PathArguments, ReturnType, Type, TypeParamBound};

/// The longest tuple a forwarded field may hold (signal-core's
/// `__private::forward::MAX_TUPLE`).
pub const MAX_TUPLE: usize = 16;

pub enum Shape<'a> {
    /// Dispatched by the compiler: `Signal`, a registered classifier, or
    /// nothing (data).
    Leaf(&'a Type),
    /// A tuple: each element walked, by position.
    Tuple(Vec<(&'a Type, Shape<'a>)>),
    /// Vec, VecDeque, arrays, slices: elements by index.
    Seq(Box<Shape<'a>>, Build, &'a Type),
    /// Option: the value, if any, with no step in the path.
    Opt(Box<Shape<'a>>, &'a Type),
    /// Box, Arc, Rc, references: transparent.
    Deref(Box<Shape<'a>>, Build, &'a Type),
    /// HashMap, BTreeMap: values by position.
    Map(Box<Shape<'a>>),
}

/// How a test fixture of a container is built around one element.
#[derive(Clone, Copy)]
pub enum Build {
    /// `FromIterator` of one element (Vec, VecDeque).
    Collect,
    /// `From<T>` (Box, Arc, Rc).
    From,
    /// Not built (arrays, slices, references).
    No,
}

/// A standard container the derive takes apart.
#[derive(Clone, Copy, PartialEq)]
enum Container {
    Seq,
    Opt,
    Deref,
    Map,
}

fn container(name: &str) -> Option<(Container, &'static str)> {
    Some(match name {
        "Vec" => (Container::Seq, "::std::vec::Vec"),
        "VecDeque" => (Container::Seq, "::std::collections::VecDeque"),
        "Option" => (Container::Opt, "::core::option::Option"),
        "Box" => (Container::Deref, "::std::boxed::Box"),
        "Arc" => (Container::Deref, "::std::sync::Arc"),
        "Rc" => (Container::Deref, "::std::rc::Rc"),
        "HashMap" => (Container::Map, "::std::collections::HashMap"),
        "BTreeMap" => (Container::Map, "::std::collections::BTreeMap"),
        _ => return None,
    })
}

/// Names that never implement `Signal`, with their standard paths.
fn never_signal(name: &str) -> Option<&'static str> {
    Some(match name {
        "u8" => "::core::primitive::u8",
        "u16" => "::core::primitive::u16",
        "u32" => "::core::primitive::u32",
        "u64" => "::core::primitive::u64",
        "u128" => "::core::primitive::u128",
        "usize" => "::core::primitive::usize",
        "i8" => "::core::primitive::i8",
        "i16" => "::core::primitive::i16",
        "i32" => "::core::primitive::i32",
        "i64" => "::core::primitive::i64",
        "i128" => "::core::primitive::i128",
        "isize" => "::core::primitive::isize",
        "f32" => "::core::primitive::f32",
        "f64" => "::core::primitive::f64",
        "bool" => "::core::primitive::bool",
        "char" => "::core::primitive::char",
        "str" => "::core::primitive::str",
        "String" => "::std::string::String",
        _ => return None,
    })
}

/// A path the derive reads by name: a single identifier (`Vec`), or a path
/// through `std`, `core` or `alloc` (`std::vec::Vec`). Other paths that end
/// in a standard name (`hashbrown::HashMap`) are ordinary types.
fn std_looking(path: &syn::TypePath) -> Option<&Ident> {
    if path.qself.is_some() {
        return None;
    }
    let segments = &path.path.segments;
    let last = segments.last()?;
    let first = &segments.first()?.ident;
    let through_std = segments.len() > 1 && (first == "std" || first == "core" || first == "alloc");
    if segments.len() == 1 || through_std {
        Some(&last.ident)
    } else {
        None
    }
}

fn type_args(segment: &syn::PathSegment) -> Vec<&Type> {
    match &segment.arguments {
        PathArguments::AngleBracketed(args) => args
            .args
            .iter()
            .filter_map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn strip(ty: &Type) -> &Type {
    match ty {
        Type::Paren(inner) => strip(&inner.elem),
        Type::Group(inner) => strip(&inner.elem),
        _ => ty,
    }
}

fn is_unsized_target(ty: &Type) -> bool {
    matches!(strip(ty), Type::TraitObject(_))
}

impl<'a> Shape<'a> {
    pub fn of(ty: &'a Type) -> Shape<'a> {
        match ty {
            Type::Paren(inner) => Shape::of(&inner.elem),
            Type::Group(inner) => Shape::of(&inner.elem),
            Type::Tuple(tuple) if !tuple.elems.is_empty() => Shape::Tuple(
                tuple
                    .elems
                    .iter()
                    .map(|elem| (elem, Shape::of(elem)))
                    .collect(),
            ),
            Type::Array(array) => {
                Shape::Seq(Box::new(Shape::of(&array.elem)), Build::No, &array.elem)
            }
            Type::Slice(slice) => {
                Shape::Seq(Box::new(Shape::of(&slice.elem)), Build::No, &slice.elem)
            }
            Type::Reference(reference) if !is_unsized_target(&reference.elem) => Shape::Deref(
                Box::new(Shape::of(&reference.elem)),
                Build::No,
                &reference.elem,
            ),
            Type::Path(path) => {
                let Some(name) = std_looking(path) else {
                    return Shape::Leaf(ty);
                };
                let Some((kind, _)) = container(&name.to_string()) else {
                    return Shape::Leaf(ty);
                };
                let Some(last) = path.path.segments.last() else {
                    return Shape::Leaf(ty);
                };
                let args = type_args(last);
                let elem = match kind {
                    Container::Map => args.get(1),
                    _ => args.first(),
                };
                let Some(elem) = elem.copied() else {
                    return Shape::Leaf(ty);
                };
                let inner = Box::new(Shape::of(elem));
                match kind {
                    Container::Seq => Shape::Seq(inner, Build::Collect, elem),
                    Container::Opt => Shape::Opt(inner, elem),
                    Container::Deref if is_unsized_target(elem) => Shape::Leaf(ty),
                    Container::Deref => Shape::Deref(inner, Build::From, elem),
                    Container::Map => Shape::Map(inner),
                }
            }
            _ => Shape::Leaf(ty),
        }
    }

    /// The length of the longest tuple in the shape, if any.
    pub fn longest_tuple(&self) -> Option<usize> {
        match self {
            Shape::Leaf(_) => None,
            Shape::Tuple(elems) => elems
                .iter()
                .filter_map(|(_, elem)| elem.longest_tuple())
                .chain(Some(elems.len()))
                .max(),
            Shape::Seq(inner, _, _)
            | Shape::Opt(inner, _)
            | Shape::Deref(inner, _, _)
            | Shape::Map(inner) => inner.longest_tuple(),
        }
    }

    /// The leaf types a walk reaches, in order.
    pub fn leaves(&self, out: &mut Vec<&'a Type>) {
        match self {
            Shape::Leaf(ty) => out.push(ty),
            Shape::Tuple(elems) => elems.iter().for_each(|(_, elem)| elem.leaves(out)),
            Shape::Seq(inner, _, _)
            | Shape::Opt(inner, _)
            | Shape::Deref(inner, _, _)
            | Shape::Map(inner) => inner.leaves(out),
        }
    }

    /// Whether a test fixture of this shape can be built around one leaf.
    pub fn buildable(&self) -> bool {
        match self {
            Shape::Leaf(_) => true,
            Shape::Tuple(elems) => elems.iter().any(|(_, elem)| elem.buildable()),
            Shape::Opt(inner, _)
            | Shape::Seq(inner, Build::Collect, _)
            | Shape::Deref(inner, Build::From, _) => inner.buildable(),
            Shape::Seq(..) | Shape::Deref(..) | Shape::Map(..) => false,
        }
    }
}

/// Whether `ty` is a standard type that never carries signals (`u64`,
/// `String`, ...), read by name: the derive checks the name is the standard
/// one ([`std_names`]).
pub fn is_std_data(ty: &Type) -> bool {
    match strip(ty) {
        Type::Path(path) => std_looking(path).is_some_and(|name| {
            never_signal(&name.to_string()).is_some()
                && path
                    .path
                    .segments
                    .last()
                    .is_some_and(|last| matches!(last.arguments, PathArguments::None))
        }),
        _ => false,
    }
}

/// Calls `f` on every type written directly inside `ty`: generic arguments
/// (and associated-type bindings) of every path segment, tuple, array and
/// slice elements, reference and pointer targets, trait object bounds'
/// arguments, and function signatures.
fn each_inner<'a>(ty: &'a Type, f: &mut dyn FnMut(&'a Type)) {
    match ty {
        Type::Paren(inner) => f(&inner.elem),
        Type::Group(inner) => f(&inner.elem),
        Type::Tuple(tuple) => tuple.elems.iter().for_each(f),
        Type::Array(array) => f(&array.elem),
        Type::Slice(slice) => f(&slice.elem),
        Type::Reference(reference) => f(&reference.elem),
        Type::Ptr(pointer) => f(&pointer.elem),
        Type::Path(path) => {
            if let Some(qself) = &path.qself {
                f(&qself.ty);
            }
            path.path.segments.iter().for_each(|s| segment_inner(s, f));
        }
        Type::TraitObject(object) => bounds_inner(&object.bounds, f),
        Type::ImplTrait(object) => bounds_inner(&object.bounds, f),
        Type::FnPtr(function) => {
            function.inputs.iter().for_each(|arg| f(&arg.ty));
            if let ReturnType::Type(_, output) = &function.output {
                f(output);
            }
        }
        _ => {}
    }
}

fn bounds_inner<'a, P>(
    bounds: &'a syn::punctuated::Punctuated<TypeParamBound, P>,
    f: &mut dyn FnMut(&'a Type),
) {
    for bound in bounds {
        if let TypeParamBound::Trait(bound) = bound {
            bound.path.segments.iter().for_each(|s| segment_inner(s, f));
        }
    }
}

fn segment_inner<'a>(segment: &'a syn::PathSegment, f: &mut dyn FnMut(&'a Type)) {
    match &segment.arguments {
        PathArguments::AngleBracketed(args) => {
            for arg in &args.args {
                match arg {
                    GenericArgument::Type(ty) => f(ty),
                    GenericArgument::AssocType(assoc) => f(&assoc.ty),
                    _ => {}
                }
            }
        }
        PathArguments::Parenthesized(args) => {
            args.inputs.iter().for_each(|arg| f(&arg.ty));
            if let ReturnType::Type(_, output) = &args.output {
                f(output);
            }
        }
        PathArguments::None => {}
    }
}

/// Every type in `ty`, `ty` first, outside in.
pub fn all_types<'a>(ty: &'a Type, out: &mut Vec<&'a Type>) {
    out.push(ty);
    each_inner(ty, &mut |inner| all_types(inner, out));
}

/// A part of a type that no compile-time check can see through.
pub struct Undecidable {
    pub what: String,
    /// `what` already names the fix.
    pub final_: bool,
    /// A bare type parameter: `forward` adds a `Signal` bound for it.
    pub parameter: bool,
}

/// The first part of `ty` that the derive cannot prove signal-free: a type
/// parameter of the derived type, a projection (`S::Err`, `<S as T>::Err`,
/// `Self::Err`), a type macro, `dyn Any`, or a type form it does not know.
pub fn undecidable(ty: &Type, params: &[&Ident]) -> Option<Undecidable> {
    let mut types = Vec::new();
    all_types(ty, &mut types);
    for part in types {
        let mut parameter = false;
        let what = match part {
            // `<Local as Store>::Err` names one type, which the compiler is
            // asked about like any other; `<S as Store>::Err` does not.
            Type::Path(path)
                if path
                    .qself
                    .as_ref()
                    .is_some_and(|qself| mentions_self_or(&qself.ty, params)) =>
            {
                format!(
                    "the projection `{}` can be any type",
                    crate::text::type_string(part)
                )
            }
            Type::Path(path) => {
                let Some(first) = path.path.segments.first() else {
                    continue;
                };
                let is_param = params.iter().any(|param| first.ident == **param);
                let is_self = first.ident == "Self";
                if is_param && path.path.segments.len() == 1 {
                    parameter = true;
                    format!(
                        "`{}` is a type parameter: it may be an error that carries signals",
                        first.ident
                    )
                } else if (is_param || is_self) && path.path.segments.len() > 1 {
                    format!(
                        "the projection `{}` can be any type",
                        crate::text::type_string(part)
                    )
                } else {
                    continue;
                }
            }
            Type::Macro(mac) => format!(
                "the type macro `{}!` hides the type it expands to",
                mac.mac.path.to_token_stream().to_string().replace(' ', "")
            ),
            Type::TraitObject(object) => {
                let any = object.bounds.iter().any(|bound| match bound {
                    TypeParamBound::Trait(bound) => bound
                        .path
                        .segments
                        .last()
                        .is_some_and(|segment| segment.ident == "Any"),
                    _ => false,
                });
                if !any {
                    continue;
                }
                return Some(Undecidable {
                    what: "a `dyn Any` may hold any value, including errors that carry signals, \
                           and no walk can find them. Skip it with a reason: \
                           `#[signal(skip = \"reason\")]`"
                        .to_owned(),
                    final_: true,
                    parameter: false,
                });
            }
            Type::Verbatim(_) | Type::Infer(_) | Type::ImplTrait(_) => format!(
                "the derive cannot read the type `{}`",
                crate::text::type_string(part)
            ),
            _ => continue,
        };
        return Some(Undecidable {
            what,
            parameter,
            final_: false,
        });
    }
    None
}

/// A type to ask the compiler about.
pub struct Probed<'a> {
    pub ty: &'a Type,
    /// A trait object: asked whether it is an error (type-erased) rather than
    /// whether it has a classifier.
    pub dynamic: bool,
}

/// The types of an unannotated field worth asking the compiler about: the
/// field's type itself, and every type inside it, except standard containers
/// whose `Signal` impl follows from their elements' (their elements are asked
/// instead), tuples, arrays, slices, references and pointers (likewise), and
/// names that never implement `Signal` (`u64`, `String`, ...). Fewer probes,
/// same answer, faster builds; the names skipped are checked by
/// [`std_names`].
pub fn probes(ty: &Type) -> Vec<Probed<'_>> {
    let mut all = Vec::new();
    all_types(ty, &mut all);
    let mut out: Vec<Probed> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (i, inner) in all.into_iter().enumerate() {
        let whole = i == 0;
        let keep = match inner {
            Type::Path(path) => match std_looking(path) {
                Some(name) => {
                    let name = name.to_string();
                    let plain = path
                        .path
                        .segments
                        .last()
                        .is_some_and(|s| matches!(s.arguments, PathArguments::None));
                    let never = plain && never_signal(&name).is_some();
                    let is_container = !plain && container(&name).is_some();
                    !never && (whole || !is_container)
                }
                None => true,
            },
            Type::Tuple(_)
            | Type::Array(_)
            | Type::Slice(_)
            | Type::Reference(_)
            | Type::Ptr(_)
            | Type::Paren(_)
            | Type::Group(_) => whole && !matches!(inner, Type::Ptr(_)),
            Type::TraitObject(_) => true,
            Type::FnPtr(_) | Type::Never(_) => false,
            _ => true,
        };
        if keep {
            let text = inner.to_token_stream().to_string();
            if !seen.contains(&text) {
                seen.push(text);
                out.push(Probed {
                    ty: inner,
                    dynamic: matches!(inner, Type::TraitObject(_)),
                });
            }
        }
    }
    out
}

/// A standard name read by the derive, and what it must be.
pub struct StdName {
    /// The name as written, with `()` for each type argument.
    pub written: TokenStream,
    /// The standard type, with the same arguments.
    pub standard: TokenStream,
    pub span: Span,
    key: String,
}

/// Every standard name in `ty` the derive reads by name, as written (with
/// `()` arguments), next to the standard type it is taken for. With
/// `containers_only`, only the containers a forwarded field is taken apart
/// through.
pub fn std_names(ty: &Type, containers_only: bool, out: &mut Vec<StdName>) {
    let mut all = Vec::new();
    all_types(ty, &mut all);
    for inner in all {
        let Type::Path(path) = inner else { continue };
        let Some(name) = std_looking(path) else {
            continue;
        };
        let name_text = name.to_string();
        let standard = match (container(&name_text), never_signal(&name_text)) {
            (Some((_, standard)), _) => standard,
            (None, Some(standard)) if !containers_only => standard,
            _ => continue,
        };
        let Some(last) = path.path.segments.last() else {
            continue;
        };
        let arity = type_args(last).len();
        let mut key = String::new();
        for segment in &path.path.segments {
            key.push_str(&segment.ident.to_string());
            key.push_str("::");
        }
        key.push_str(&arity.to_string());
        if path.path.leading_colon.is_some() {
            key.insert(0, ':');
        }
        if out.iter().any(|known| known.key == key) {
            continue;
        }
        let units = (0..arity).map(|_| quote!(()));
        let args = (arity > 0).then(|| quote!(<#(#units),*>));
        let mut written_path = path.path.clone();
        if let Some(last) = written_path.segments.last_mut() {
            last.arguments = PathArguments::None;
        }
        let standard = std_path(standard);
        out.push(StdName {
            written: quote!(#written_path #args),
            standard: quote!(#standard #args),
            span: name.span(),
            key,
        });
    }
}

/// `::std::vec::Vec` as tokens, without parsing.
fn std_path(path: &str) -> TokenStream {
    let segments = path.trim_start_matches("::").split("::").map(|segment| {
        let ident = Ident::new(segment, Span::call_site());
        quote!(:: #ident)
    });
    quote!(#(#segments)*)
}

/// Whether `ty` mentions `Self` or one of `params` anywhere.
fn mentions_self_or(ty: &Type, params: &[&Ident]) -> bool {
    let mut all = Vec::new();
    all_types(ty, &mut all);
    all.into_iter().any(|inner| match inner {
        Type::Path(path) => path.path.segments.first().is_some_and(|first| {
            first.ident == "Self" || params.iter().any(|param| first.ident == **param)
        }),
        _ => false,
    })
}

/// Whether `ty` mentions one of `params` (or a projection) anywhere.
pub fn mentions(ty: &Type, params: &[&Ident]) -> bool {
    let mut all = Vec::new();
    all_types(ty, &mut all);
    all.into_iter().any(|inner| match inner {
        Type::Path(path) => {
            path.qself.is_some()
                || path
                    .path
                    .segments
                    .first()
                    .is_some_and(|first| params.iter().any(|param| first.ident == **param))
        }
        _ => false,
    })
}

/// The first and last token spans of `tokens`: a generated expression that
/// starts at the first and ends at the last is underlined over the whole
/// type.
pub fn span_range(tokens: &dyn ToTokens) -> (Span, Span) {
    let stream = tokens.to_token_stream();
    let mut iter = stream.into_iter();
    let first = iter
        .next()
        .map_or_else(Span::call_site, |token| token.span());
    let last = iter.last().map_or(first, |token| token.span());
    (first, last)
}
