//! What the derive can see of a field's type, from its syntax alone.
//!
//! Most forwarded fields are walked through the `Signal` impls of their type
//! (`Vec<E>`, `Option<Box<E>>`). A tuple inside a std container, such as
//! `Vec<(Cursor, E)>`, may mix data with carriers, which no trait impl can
//! express; for those the derive decomposes the type here and forwards the
//! tuple elements that implement `Signal`.

use std::collections::BTreeSet;

use syn::{GenericArgument, Ident, PathArguments, Type};

pub enum Shape<'a> {
    /// Walked through its own `Signal` impl (or ignored, inside a tuple, if it
    /// has none).
    Opaque(&'a Type),
    /// A tuple: each element forwarded if it can carry signals.
    Tuple(Vec<(&'a Type, Shape<'a>)>),
    /// Vec, VecDeque, arrays, slices: elements by index.
    /// (A container's last field is its element's type.)
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
            Type::Array(array) => wrap(ty, &array.elem, |s, t| Shape::Seq(s, Build::No, t)),
            Type::Slice(slice) => wrap(ty, &slice.elem, |s, t| Shape::Seq(s, Build::No, t)),
            Type::Reference(reference) => {
                wrap(ty, &reference.elem, |s, t| Shape::Deref(s, Build::No, t))
            }
            Type::Path(path) if path.qself.is_none() => {
                let Some(last) = path.path.segments.last() else {
                    return Shape::Opaque(ty);
                };
                let PathArguments::AngleBracketed(args) = &last.arguments else {
                    return Shape::Opaque(ty);
                };
                let types: Vec<&Type> = args
                    .args
                    .iter()
                    .filter_map(|arg| match arg {
                        GenericArgument::Type(ty) => Some(ty),
                        _ => None,
                    })
                    .collect();
                let (index, make): (usize, Make<'a>) = match last.ident.to_string().as_str() {
                    "Vec" | "VecDeque" => (0, |s, t| Shape::Seq(s, Build::Collect, t)),
                    "Option" => (0, Shape::Opt),
                    "Box" | "Arc" | "Rc" => (0, |s, t| Shape::Deref(s, Build::From, t)),
                    "HashMap" | "BTreeMap" => (1, |s, _| Shape::Map(s)),
                    _ => return Shape::Opaque(ty),
                };
                match types.get(index) {
                    Some(inner) => wrap(ty, inner, make),
                    None => Shape::Opaque(ty),
                }
            }
            _ => Shape::Opaque(ty),
        }
    }

    /// The opaque types a walk reaches, in order.
    pub fn opaque_types(&self, out: &mut Vec<&'a Type>) {
        match self {
            Shape::Opaque(ty) => out.push(ty),
            Shape::Tuple(elems) => elems.iter().for_each(|(_, elem)| elem.opaque_types(out)),
            Shape::Seq(inner, _, _)
            | Shape::Opt(inner, _)
            | Shape::Deref(inner, _, _)
            | Shape::Map(inner) => {
                inner.opaque_types(out);
            }
        }
    }
}

type Make<'a> = fn(Box<Shape<'a>>, &'a Type) -> Shape<'a>;

/// A container keeps its own shape only if something inside it had to be
/// decomposed; otherwise the container is walked through its `Signal` impl.
fn wrap<'a>(ty: &'a Type, elem: &'a Type, make: Make<'a>) -> Shape<'a> {
    match Shape::of(elem) {
        Shape::Opaque(_) => Shape::Opaque(ty),
        inner => make(Box::new(inner), elem),
    }
}

impl Shape<'_> {
    /// Whether a test fixture of this shape can be built around one leaf.
    pub fn buildable(&self) -> bool {
        match self {
            Shape::Opaque(_) => true,
            Shape::Tuple(elems) => elems.iter().any(|(_, elem)| elem.buildable()),
            Shape::Opt(inner, _)
            | Shape::Seq(inner, Build::Collect, _)
            | Shape::Deref(inner, Build::From, _) => inner.buildable(),
            Shape::Seq(..) | Shape::Deref(..) | Shape::Map(..) => false,
        }
    }
}

/// Every type an unannotated field could carry signals through: the type
/// itself, the generic arguments of every path in it, tuple and array
/// elements and reference targets, recursively. Checking all of them is
/// deliberately conservative: a type that merely mentions a carrier (say
/// `PhantomData<E>`) must be skipped with a reason.
pub fn inner_types<'a>(ty: &'a Type, out: &mut Vec<&'a Type>) {
    match ty {
        Type::Paren(inner) => return inner_types(&inner.elem, out),
        Type::Group(inner) => return inner_types(&inner.elem, out),
        _ => {}
    }
    out.push(ty);
    match ty {
        Type::Tuple(tuple) => tuple.elems.iter().for_each(|elem| inner_types(elem, out)),
        Type::Array(array) => inner_types(&array.elem, out),
        Type::Slice(slice) => inner_types(&slice.elem, out),
        Type::Reference(reference) => inner_types(&reference.elem, out),
        Type::Path(path) => {
            if let Some(qself) = &path.qself {
                inner_types(&qself.ty, out);
            }
            for segment in &path.path.segments {
                if let PathArguments::AngleBracketed(args) = &segment.arguments {
                    for arg in &args.args {
                        if let GenericArgument::Type(ty) = arg {
                            inner_types(ty, out);
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

/// The type parameters among `params` that `ty` mentions.
pub fn mentioned_params(ty: &Type, params: &BTreeSet<Ident>, out: &mut BTreeSet<Ident>) {
    let mut types = Vec::new();
    inner_types(ty, &mut types);
    for ty in types {
        if let Type::Path(path) = ty
            && path.qself.is_none()
            && let Some(first) = path.path.segments.first()
            && params.contains(&first.ident)
        {
            out.insert(first.ident.clone());
        }
    }
}

/// The types of an unannotated field worth asking the compiler about: the
/// field's type itself, and every type inside it that is neither a std
/// container whose `Signal` impl follows from its elements' (`Vec`, `Option`,
/// `Box`, ...; their elements are asked instead), nor a tuple, array, slice
/// or reference (likewise), nor a primitive or `String`, which can never
/// implement `Signal` (the orphan rule forbids it outside this crate, and
/// `signal-core` does not). Fewer probes, same answer, faster builds.
pub fn probe_types(ty: &Type) -> Vec<&Type> {
    let mut all = Vec::new();
    inner_types(ty, &mut all);
    let mut out: Vec<&Type> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (i, inner) in all.into_iter().enumerate() {
        let whole = i == 0;
        let keep = match inner {
            Type::Path(path) if path.qself.is_none() => match path.path.segments.last() {
                Some(last) => {
                    let name = last.ident.to_string();
                    let plain = matches!(last.arguments, PathArguments::None);
                    let never = plain
                        && path.path.segments.len() == 1
                        && NEVER_SIGNAL.contains(&name.as_str());
                    let container = !plain && STD_CONTAINERS.contains(&name.as_str());
                    !never && (whole || !container)
                }
                None => false,
            },
            Type::Tuple(_) | Type::Array(_) | Type::Slice(_) | Type::Reference(_) => whole,
            _ => true,
        };
        if keep {
            let text = quote::ToTokens::to_token_stream(inner).to_string();
            if !seen.contains(&text) {
                seen.push(text);
                out.push(inner);
            }
        }
    }
    out
}

/// Types that never implement `Signal`.
const NEVER_SIGNAL: &[&str] = &[
    "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize", "f32",
    "f64", "bool", "char", "str", "String",
];

/// Std containers that implement `Signal` exactly when their elements do.
const STD_CONTAINERS: &[&str] = &[
    "Vec", "VecDeque", "Option", "Box", "Arc", "Rc", "HashMap", "BTreeMap",
];
