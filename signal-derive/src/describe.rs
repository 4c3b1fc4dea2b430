//! The type's static description, for `shape` (maps) and for the node table
//! `walk` names hops from: one string per type, parsed by
//! `signal_core::__private::desc` on first use, and one function that gives
//! the forwarded fields' shapes by index.
//!
//! Hops are numbered in the order `visit.rs` numbers them: the enum's leaf,
//! then per variant its leaf and its forwarding fields.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Member;
use syn::ext::IdentExt;

use crate::attr::{Filter, KindPath};
use crate::expand::{Expander, Role, bodies, filter, path_string, role};

/// Writes the description string.
struct Writer<'e> {
    text: String,
    /// The kinds named, by index: their paths as written, and the tokens.
    kinds: Vec<(String, TokenStream)>,
    /// The `cfg!(...)` of each conditional item, by index.
    present: Vec<TokenStream>,
    expander: &'e Expander<'e>,
}

impl Writer<'_> {
    fn string(&mut self, text: &str) {
        self.text.push('s');
        self.text.push_str(&text.len().to_string());
        self.text.push(':');
        self.text.push_str(text);
    }

    fn number(&mut self, n: usize) {
        self.text.push('i');
        self.text.push_str(&n.to_string());
        self.text.push(';');
    }

    fn none(&mut self) {
        self.text.push('n');
    }

    fn opt_string(&mut self, text: Option<&str>) {
        match text {
            Some(text) => self.string(text),
            None => self.none(),
        }
    }

    fn kind(&mut self, kind: &KindPath) {
        let key = path_string(&kind.path);
        let index = match self.kinds.iter().position(|(known, _)| *known == key) {
            Some(index) => index,
            None => {
                let tokens = self.expander.kind(kind);
                self.kinds.push((key, quote!(#tokens::ID)));
                self.kinds.len() - 1
            }
        };
        self.number(index);
    }

    fn opt_kind(&mut self, kind: Option<&KindPath>) {
        match kind {
            Some(kind) => self.kind(kind),
            None => self.none(),
        }
    }

    fn kind_list(&mut self, kinds: &[KindPath]) {
        self.number(kinds.len());
        for kind in kinds {
            self.kind(kind);
        }
    }

    fn condition(&mut self, cfgs: &[&syn::Attribute]) {
        if cfgs.is_empty() {
            return self.none();
        }
        let checks = cfgs.iter().filter_map(|attr| match &attr.meta {
            syn::Meta::List(list) => {
                let tokens = &list.tokens;
                Some(quote!(::core::cfg!(#tokens)))
            }
            _ => None,
        });
        self.present.push(quote!(true #(&& #checks)*));
        self.number(self.present.len() - 1);
    }
}

impl Expander<'_> {
    /// `__desc`, the type's parsed description (the shapes of its forwarded
    /// fields, by index, come from the visit body without a value).
    pub fn describe_fns(&self) -> TokenStream {
        let mut writer = Writer {
            text: String::new(),
            kinds: Vec::new(),
            present: Vec::new(),
            expander: self,
        };
        let is_enum = matches!(self.input.data, crate::ast::Data::Enum(_));
        writer.string(&self.name);
        writer.number(usize::from(is_enum));
        let (leaf, when) = match self.enum_leaf() {
            Some((leaf, when)) => (Some(leaf), when),
            None => (None, None),
        };
        writer.opt_kind(leaf);
        writer.opt_string(when.map(path_string).as_deref());
        let bodies = bodies(self.input);
        writer.number(bodies.len());
        let mut targets = 0;
        for body in &bodies {
            writer.condition(body.cfgs);
            writer.opt_string(body.variant_name().as_deref());
            writer.opt_kind(body.leaf);
            writer.opt_string(body.when.map(path_string).as_deref());
            let listed: Vec<_> = body
                .fields
                .iter()
                .filter(|field| !matches!(role(field), Role::Unannotated))
                .collect();
            writer.number(listed.len());
            for field in listed {
                writer.condition(&field.cfgs);
                if field.sole_unnamed {
                    writer.none();
                } else {
                    match &field.member {
                        Member::Named(ident) => writer.string(&ident.unraw().to_string()),
                        Member::Unnamed(index) => writer.number(index.index as usize),
                    }
                }
                writer.string(&crate::text::type_string(field.ty));
                if let Role::Skip = role(field) {
                    writer.text.push('k');
                    let reason = field
                        .attrs
                        .skip
                        .get()
                        .map(syn::LitStr::value)
                        .unwrap_or_default();
                    writer.string(&reason);
                    continue;
                }
                writer.text.push('f');
                match filter(field) {
                    Filter::All => {
                        writer.number(0);
                        writer.number(0);
                    }
                    Filter::Only(kinds) => {
                        writer.kind_list(kinds);
                        writer.number(0);
                    }
                    Filter::Except(kinds) => {
                        writer.number(0);
                        writer.kind_list(kinds);
                    }
                }
                writer.number(targets);
                targets += 1;
            }
        }
        let text = &writer.text;
        // Kinds named through the type's parameters differ per
        // instantiation, which a static cannot: one parse per kind list.
        let generic_kinds = self
            .kind_paths()
            .any(|kind| path_mentions(&kind.path, &self.params));
        let constructor = if generic_kinds {
            quote!(generic)
        } else {
            quote!(new)
        };
        let kinds = writer.kinds.iter().map(|(_, tokens)| tokens);
        let present = &writer.present;
        quote! {
            #[inline]
            fn __desc() -> ::core::option::Option<&'static __signal_private::Parsed> {
                static __DESC: __signal_private::Desc = __signal_private::Desc::#constructor(#text);
                ::core::option::Option::Some(__DESC.get(&[#(#kinds),*], &[#(#present),*]))
            }
        }
    }

    /// Every kind the attributes name.
    fn kind_paths(&self) -> impl Iterator<Item = &KindPath> {
        let input = self.input;
        let leaves = input.attrs.leaf.get().into_iter().chain(
            bodies(input)
                .into_iter()
                .filter_map(|body| body.leaf)
                .collect::<Vec<_>>(),
        );
        let filters = input.all_fields().flat_map(|field| match filter(field) {
            Filter::All => &[][..],
            Filter::Only(kinds) | Filter::Except(kinds) => &kinds[..],
        });
        leaves.chain(filters)
    }

    pub fn chain_shape(&self, chain: &crate::attr::Chain) -> TokenStream {
        let krate = &self.krate;
        let items = chain.items.iter().map(|item| {
            let ty = &item.ty;
            match &item.classifier {
                None => {
                    let probe = self.probe_any(ty);
                    quote!(__signal_private::shape_of::<#ty, _>(#probe))
                }
                Some(classifier) => self.classified_shape(ty, classifier),
            }
        });
        let text = chain.text.iter().map(|rule| {
            let kind = self.kind(&rule.kind);
            let patterns = rule.patterns.iter().map(|p| p.value().to_lowercase());
            quote!((#kind::ID, &[#(#patterns),*] as &'static [&'static str]))
        });
        quote! {
            #krate::Shape::Chain {
                items: __signal_private::Vec::from([#(#items),*]),
                text: __signal_private::Vec::from([#(#text),*]),
            }
        }
    }

    pub fn classified_shape(
        &self,
        ty: &dyn quote::ToTokens,
        classifier: &syn::Path,
    ) -> TokenStream {
        let krate = &self.krate;
        let name = path_string(classifier);
        let classifying = self.classifying(ty, classifier);
        quote! {
            #krate::Shape::Classified {
                name: #name,
                kinds: #classifying.__signal_kinds(),
            }
        }
    }
}

/// Whether a kind's path names one of the type's parameters.
fn path_mentions(path: &syn::Path, params: &[&syn::Ident]) -> bool {
    path.segments.iter().any(|segment| {
        params.iter().any(|param| segment.ident == **param)
            || match &segment.arguments {
                syn::PathArguments::AngleBracketed(args) => args.args.iter().any(|arg| match arg {
                    syn::GenericArgument::Type(ty) => crate::ty::mentions(ty, params),
                    _ => false,
                }),
                _ => false,
            }
    })
}
