//! Types and paths as text, for generated docs, descriptions and messages: a
//! leaf module, below everything that renders them.

use quote::{ToTokens, quote};
use syn::{Path, Type};

/// A type as written, with the spacing a person would use.
pub fn type_string(ty: &Type) -> String {
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
    quote!(#path).to_string().replace(' ', "")
}
