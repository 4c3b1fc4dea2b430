//! The rustdoc of a generated impl: the type's own signal edges.

use std::fmt::Write as _;

use quote::ToTokens;
use syn::{PathArguments, Type};

use crate::text::type_string;

use crate::ast::{Data, Field, Input};
use crate::attr::{Filter, KindPath};

/// Markdown for the impl: which variants raise which kinds, which fields
/// forward what (with links to the wrapped types), which are skipped and why.
pub fn impl_doc(input: &Input, name: &str) -> String {
    let params: Vec<String> = input.params.iter().map(ToString::to_string).collect();
    let mut lines = Vec::new();
    let push_fields = |lines: &mut Vec<String>, prefix: &str, fields: &[Field]| {
        for field in fields {
            let at = match &field.member {
                _ if field.sole_unnamed => prefix.to_owned(),
                syn::Member::Named(ident) => {
                    let field = syn::ext::IdentExt::unraw(ident).to_string();
                    if prefix.is_empty() {
                        field
                    } else {
                        format!("{prefix}.{field}")
                    }
                }
                syn::Member::Unnamed(index) => {
                    if prefix.is_empty() {
                        index.index.to_string()
                    } else {
                        format!("{prefix}.{}", index.index)
                    }
                }
            };
            let ty = type_string(field.ty);
            let links = links(field.ty, &params);
            // A plain named type is its own link; a compound one is followed
            // by links to the named types inside it.
            let shown = match links.as_slice() {
                [only] if only.starts_with(&format!("[`{ty}`]")) => only.clone(),
                _ => format!("`{ty}`"),
            };
            let via = if links.is_empty() || shown != format!("`{ty}`") {
                String::new()
            } else {
                format!(" ({})", links.join(", "))
            };
            if let Some(forward) = field.attrs.forward.get() {
                let filter = match &forward.filter {
                    Filter::All => String::new(),
                    Filter::Only(kinds) => format!(", only {}", kind_list(kinds)),
                    Filter::Except(kinds) => format!(", except {}", kind_list(kinds)),
                };
                lines.push(format!("- `{at}` forwards {shown}{via}{filter}"));
            } else if let Some(classifier) = field.attrs.forward_with.get() {
                let classifier = classifier.to_token_stream().to_string().replace(' ', "");
                lines.push(format!(
                    "- `{at}` ({shown}) is classified by `{classifier}`"
                ));
            } else if let Some(chain) = field.attrs.chain.get() {
                let items: Vec<String> = chain
                    .items
                    .iter()
                    .map(|item| {
                        format!(
                            "`{}`",
                            item.ty.to_token_stream().to_string().replace(' ', "")
                        )
                    })
                    .collect();
                let text = if chain.text.is_empty() {
                    ""
                } else {
                    ", then text rules"
                };
                lines.push(format!(
                    "- `{at}` ({shown}): its `source()` chain is searched for {}{text}",
                    if items.is_empty() {
                        "nothing by type".to_owned()
                    } else {
                        items.join(", ")
                    }
                ));
            } else if let Some(reason) = field.attrs.skip.get() {
                lines.push(format!("- `{at}` ({shown}) is skipped: {}", reason.value()));
            }
        }
    };
    match &input.data {
        Data::Enum(variants) => {
            if let Some(leaf) = input.attrs.leaf.get() {
                lines.push(format!("- every `{name}` raises {}", kind_link(leaf)));
            }
            for variant in variants {
                let variant_name = syn::ext::IdentExt::unraw(variant.ident).to_string();
                if let Some(leaf) = variant.attrs.leaf.get() {
                    lines.push(format!("- `{variant_name}` raises {}", kind_link(leaf)));
                }
                push_fields(&mut lines, &variant_name, &variant.fields);
            }
        }
        Data::Struct(data) => {
            if let Some(leaf) = input.attrs.leaf.get() {
                lines.push(format!("- every `{name}` raises {}", kind_link(leaf)));
            }
            push_fields(&mut lines, "", &data.fields);
        }
    }
    let mut doc = format!("Signal edges of `{name}`");
    if lines.is_empty() {
        doc.push_str(": none. It raises no kind and forwards no field.");
    } else {
        doc.push_str(":\n\n");
        for line in lines {
            let _ = writeln!(doc, "{line}");
        }
    }
    doc
}

fn kind_link(kind: &KindPath) -> String {
    let path = crate::text::path_string(&kind.path);
    let last = kind
        .path
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default();
    format!("[`{last}`]({path})")
}

fn kind_list(kinds: &[KindPath]) -> String {
    kinds.iter().map(kind_link).collect::<Vec<_>>().join(", ")
}

/// Links to the named types inside a field's type: plain paths without
/// generic arguments that are neither type parameters nor std names.
fn links(ty: &Type, params: &[String]) -> Vec<String> {
    const STD: &[&str] = &[
        "Box", "Arc", "Rc", "Option", "Vec", "VecDeque", "HashMap", "BTreeMap", "String", "str",
        "Self", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128",
        "isize", "bool", "char", "f32", "f64",
    ];
    let mut types = Vec::new();
    crate::ty::all_types(ty, &mut types);
    let mut out: Vec<String> = Vec::new();
    for ty in types {
        let Type::Path(path) = ty else { continue };
        if path.qself.is_some()
            || path
                .path
                .segments
                .iter()
                .any(|s| !matches!(s.arguments, PathArguments::None))
        {
            continue;
        }
        let Some(last) = path.path.segments.last() else {
            continue;
        };
        let last = last.ident.to_string();
        if STD.contains(&last.as_str()) || params.contains(&last) {
            continue;
        }
        let full = crate::text::path_string(&path.path);
        let link = format!("[`{last}`]({full})");
        if !out.contains(&link) {
            out.push(link);
        }
    }
    out
}
