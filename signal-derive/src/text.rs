//! Types and paths as text, for generated docs, descriptions and messages: a
//! leaf module, below everything that renders them.

use quote::{ToTokens, quote};
use syn::{GenericArgument, Path, PathArguments, Type};

/// A type as written, with the spacing a person would use.
pub fn type_string(ty: &Type) -> String {
    let mut out = String::new();
    if write_type(ty, &mut out) {
        out
    } else {
        spelled(ty)
    }
}

/// Writes the common shapes of types (paths with type and lifetime
/// arguments, references, tuples, slices) directly, as [`spelled`] would;
/// `false` for anything else.
fn write_type(ty: &Type, out: &mut String) -> bool {
    match ty {
        Type::Path(path) if path.qself.is_none() && path.attrs.is_empty() => {
            if path.path.leading_colon.is_some() {
                out.push_str("::");
            }
            for (index, segment) in path.path.segments.iter().enumerate() {
                if index > 0 {
                    out.push_str("::");
                }
                out.push_str(&segment.ident.to_string());
                match &segment.arguments {
                    PathArguments::None => {}
                    PathArguments::AngleBracketed(args) if args.colon2_token.is_none() => {
                        out.push('<');
                        for (index, arg) in args.args.iter().enumerate() {
                            if index > 0 {
                                out.push_str(", ");
                            }
                            match arg {
                                GenericArgument::Type(ty) => {
                                    if !write_type(ty, out) {
                                        return false;
                                    }
                                }
                                GenericArgument::Lifetime(lifetime) => {
                                    out.push('\'');
                                    out.push_str(&lifetime.ident.to_string());
                                }
                                _ => return false,
                            }
                        }
                        if args.args.trailing_punct() {
                            out.push(',');
                        }
                        out.push('>');
                    }
                    _ => return false,
                }
            }
            true
        }
        Type::Reference(reference) if reference.attrs.is_empty() => {
            out.push('&');
            if let Some(lifetime) = &reference.lifetime {
                out.push('\'');
                out.push_str(&lifetime.ident.to_string());
                out.push(' ');
            }
            if reference.mutability.is_some() {
                out.push_str("mut ");
            }
            write_type(&reference.elem, out)
        }
        Type::Tuple(tuple) if tuple.attrs.is_empty() => {
            out.push('(');
            for (index, elem) in tuple.elems.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                if !write_type(elem, out) {
                    return false;
                }
            }
            if tuple.elems.trailing_punct() || tuple.elems.len() == 1 {
                out.push(',');
            }
            out.push(')');
            true
        }
        Type::Slice(slice) if slice.attrs.is_empty() => {
            out.push('[');
            if !write_type(&slice.elem, out) {
                return false;
            }
            out.push(']');
            true
        }
        _ => false,
    }
}

/// A type's tokens as text, respaced.
fn spelled(ty: &Type) -> String {
    let raw = ty.to_token_stream().to_string();
    let mut out = raw;
    for (from, to) in [
        (" < ", "<"),
        ("< ", "<"),
        (" <", "<"),
        (" >", ">"),
        (" ,", ","),
        (":: ", "::"),
        (" ::", "::"),
        ("& ", "&"),
        ("( ", "("),
        (" )", ")"),
        ("[ ", "["),
        (" ]", "]"),
        (" ;", ";"),
        ("' ", "'"),
    ] {
        while out.contains(from) {
            out = out.replace(from, to);
        }
    }
    out
}

/// A path as written, for names in traces and maps.
pub fn path_string(path: &Path) -> String {
    if path
        .segments
        .iter()
        .any(|segment| !matches!(segment.arguments, PathArguments::None))
    {
        return quote!(#path).to_string().replace(' ', "");
    }
    let mut out = String::new();
    if path.leading_colon.is_some() {
        out.push_str("::");
    }
    for (index, segment) in path.segments.iter().enumerate() {
        if index > 0 {
            out.push_str("::");
        }
        out.push_str(&segment.ident.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{spelled, type_string};

    /// The direct writer spells every type it handles as the token printer
    /// does, and leaves the rest to it.
    #[test]
    fn written_as_spelled() {
        for text in [
            "E035",
            "Box<E026>",
            "Vec<(u64, E024)>",
            "Option<Box<E040>>",
            "::std::io::Error",
            "std::collections::HashMap<String, Vec<crate::a::B>>",
            "&'a str",
            "&'static mut T",
            "&mut [u8]",
            "(E,)",
            "()",
            "Vec<E,>",
            "(A, B,)",
            "HashMap<K, V,>",
            "(A, (B, C), [D])",
            "Cow<'a, str>",
            "r#type::Error",
            "Result<T, E>",
            "Vec<Vec<Vec<E>>>",
            "[E; 3]",
            "dyn Error + Send",
            "Box<dyn std::error::Error + Send + Sync + 'static>",
            "fn(u8) -> E",
            "<T as Trait>::Error",
            "Iter<Item = E>",
            "Foo<3>",
            "Vec::<E>",
            "impl Error",
            "*const E",
            "!",
        ] {
            let ty: syn::Type = syn::parse_str(text).expect(text);
            assert_eq!(type_string(&ty), spelled(&ty), "{text}");
        }
    }

    #[test]
    fn paths_written_as_spelled() {
        for text in [
            "a",
            "::signal_core::Kind",
            "crate::kinds::Retry",
            "r#type::X",
            "a::b<C>::d",
        ] {
            let path: syn::Path = syn::parse_str(text).expect(text);
            let quoted = quote::quote!(#path).to_string().replace(' ', "");
            assert_eq!(super::path_string(&path), quoted, "{text}");
        }
    }
}
