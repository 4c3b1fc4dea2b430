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
    Tuple(Vec<Shape<'a>>),
    /// Vec, VecDeque, arrays, slices: elements by index.
    Seq(Box<Shape<'a>>),
    /// Option: the value, if any, with no step in the path.
    Opt(Box<Shape<'a>>),
    /// Box, Arc, Rc, references: transparent.
    Deref(Box<Shape<'a>>),
    /// HashMap, BTreeMap: values by position.
    Map(Box<Shape<'a>>),
}

impl<'a> Shape<'a> {
    pub fn of(ty: &'a Type) -> Shape<'a> {
        match ty {
            Type::Paren(inner) => Shape::of(&inner.elem),
            Type::Group(inner) => Shape::of(&inner.elem),
            Type::Tuple(tuple) if !tuple.elems.is_empty() => {
                Shape::Tuple(tuple.elems.iter().map(Shape::of).collect())
            }
            Type::Array(array) => wrap(ty, Shape::of(&array.elem), Shape::Seq),
            Type::Slice(slice) => wrap(ty, Shape::of(&slice.elem), Shape::Seq),
            Type::Reference(reference) => wrap(ty, Shape::of(&reference.elem), Shape::Deref),
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
                let (index, make): (usize, fn(Box<Shape<'a>>) -> Shape<'a>) =
                    match last.ident.to_string().as_str() {
                        "Vec" | "VecDeque" => (0, Shape::Seq),
                        "Option" => (0, Shape::Opt),
                        "Box" | "Arc" | "Rc" => (0, Shape::Deref),
                        "HashMap" | "BTreeMap" => (1, Shape::Map),
                        _ => return Shape::Opaque(ty),
                    };
                match types.get(index) {
                    Some(inner) => wrap(ty, Shape::of(inner), make),
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
            Shape::Tuple(elems) => elems.iter().for_each(|elem| elem.opaque_types(out)),
            Shape::Seq(inner) | Shape::Opt(inner) | Shape::Deref(inner) | Shape::Map(inner) => {
                inner.opaque_types(out);
            }
        }
    }
}

/// A container keeps its own shape only if something inside it had to be
/// decomposed; otherwise the container is walked through its `Signal` impl.
fn wrap<'a>(ty: &'a Type, inner: Shape<'a>, make: fn(Box<Shape<'a>>) -> Shape<'a>) -> Shape<'a> {
    match inner {
        Shape::Opaque(_) => Shape::Opaque(ty),
        inner => make(Box::new(inner)),
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
