//! `Signal::walk`: reports every path to a leaf that raises the walker's
//! kind, naming types, variants, fields and positions, never values.

use proc_macro2::TokenStream;
use quote::quote;

use crate::attr::Filter;
use crate::expand::{Body, Expander, Role, binding_tokens, bodies, filter, path_string, role};
use crate::ty::Shape;

impl Expander<'_> {
    /// A hop through this type, as an entry of the type's constant table of
    /// nodes (one table per type, not a struct literal per use).
    fn node(&self, variant: Option<&str>, field: TokenStream) -> TokenStream {
        let krate = &self.krate;
        let ty = &self.name;
        let variant = match variant {
            Some(name) => quote!(::core::option::Option::Some(#name)),
            None => quote!(::core::option::Option::None),
        };
        let mut nodes = self.nodes.borrow_mut();
        let index = nodes.len();
        nodes.push(quote!(#krate::Node { ty: #ty, variant: #variant, field: #field }));
        quote!(Self::__SIGNAL_NODES[#index])
    }

    pub fn walk_body(&self) -> TokenStream {
        if self.is_empty_enum() {
            return quote!(match *self {});
        }
        let enum_leaf = self.enum_leaf().map(|(leaf, when)| {
            let kind = self.kind(leaf);
            let when = self.when(when);
            let node = self.node(None, quote!(::core::option::Option::None));
            quote! {
                if true #when {
                    __w.leaf(#node, #kind::ID)?;
                }
            }
        });
        let bodies = bodies(self.input);
        let is_enum = bodies.iter().any(|body| body.variant.is_some());
        let blocks: Vec<TokenStream> = bodies
            .iter()
            .map(|body| {
                let pattern = self.pattern(body.path(), body.fields);
                let block = self.walk_block(body);
                let cfgs = body.cfgs;
                if is_enum {
                    quote!(#(#cfgs)* #pattern => { #block })
                } else {
                    quote!(let #pattern = *self; #block)
                }
            })
            .collect();
        if is_enum {
            quote!(#enum_leaf match *self { #(#blocks)* })
        } else {
            quote!(#(#blocks)*)
        }
    }

    fn walk_block(&self, body: &Body) -> TokenStream {
        let krate = &self.krate;
        let variant = body.variant_name();
        let when = self.when(body.when);
        let leaf = body.leaf.map(|leaf| {
            let kind = self.kind(leaf);
            let node = self.node(variant.as_deref(), quote!(::core::option::Option::None));
            quote! {
                if true #when {
                    __w.leaf(#node, #kind::ID)?;
                }
            }
        });
        let forwards: Vec<TokenStream> = body
            .fields
            .iter()
            .enumerate()
            .filter_map(|(index, field)| {
                let value = binding_tokens(index);
                let expr = match role(field) {
                    Role::Forward => self.walk_expr(&Shape::of(field.ty), &value),
                    Role::Classified(classifier) => {
                        let name = path_string(classifier);
                        let classify = self.classify(field.ty, classifier, &value);
                        quote!(#krate::__private::walk_kinds(__w, #name, #classify))
                    }
                    Role::Chain(chain) => self.chain_walk(field.ty, chain, &value),
                    Role::Skip | Role::Unannotated => return None,
                };
                let cfgs = &field.cfgs;
                let node = self.node(variant.as_deref(), self.field_name(field));
                let step = quote! {
                    __w.__push(#krate::Step::Node(#node));
                    let __flow = #expr;
                    __w.__pop();
                    __flow?;
                };
                let guarded = match filter(field) {
                    Filter::All => step,
                    Filter::Only(kinds) => {
                        let kinds = kinds.iter().map(|kind| self.kind(kind));
                        quote!(if __w.passes(&[#(#kinds::ID),*], &[]) { #step })
                    }
                    Filter::Except(kinds) => {
                        let kinds = kinds.iter().map(|kind| self.kind(kind));
                        quote!(if __w.passes(&[], &[#(#kinds::ID),*]) { #step })
                    }
                };
                Some(quote!(#(#cfgs)* { #guarded }))
            })
            .collect();
        quote!(#leaf #(#forwards)* ::core::ops::ControlFlow::Continue(()))
    }

    /// Walks the value of `shape` at `value`: a block that returns early
    /// (`?`) on `Break`, without closures.
    fn walk_expr(&self, shape: &Shape, value: &TokenStream) -> TokenStream {
        self.walk_expr_at(shape, value, 0)
    }

    fn walk_expr_at(&self, shape: &Shape, value: &TokenStream, depth: usize) -> TokenStream {
        let krate = &self.krate;
        let elem = quote::format_ident!("__e{}", depth);
        let continue_ = quote!(::core::ops::ControlFlow::Continue(()));
        match shape {
            Shape::Leaf(_) => quote!((&&&&#krate::__private::Maybe(#value)).__signal_walk(__w)),
            Shape::Tuple(elems) => {
                let tuple = quote::format_ident!("__t{}", depth);
                let parts = elems.iter().enumerate().map(|(index, (_, elem))| {
                    let field = syn::Index::from(index);
                    let expr = self.walk_expr_at(elem, &quote!(&#tuple.#field), depth + 1);
                    quote! {
                        __w.__push(#krate::Step::Tuple(#index));
                        let __flow = #expr;
                        __w.__pop();
                        __flow?;
                    }
                });
                quote!({ let #tuple = #value; #(#parts)* #continue_ })
            }
            Shape::Seq(inner, _, _) | Shape::Map(inner) => {
                let index = quote::format_ident!("__i{}", depth);
                let inner = self.walk_expr_at(inner, &quote!(#elem), depth + 1);
                let items = match shape {
                    Shape::Map(_) => quote!(#value.values()),
                    _ => quote!(::core::iter::IntoIterator::into_iter(#value)),
                };
                quote!({
                    for (#index, #elem) in ::core::iter::Iterator::enumerate(#items) {
                        __w.__push(#krate::Step::Index(#index));
                        let __flow = #inner;
                        __w.__pop();
                        __flow?;
                    }
                    #continue_
                })
            }
            Shape::Opt(inner, _) => {
                let inner = self.walk_expr_at(inner, &quote!(#elem), depth + 1);
                quote!(match #value {
                    ::core::option::Option::Some(#elem) => #inner,
                    ::core::option::Option::None => #continue_,
                })
            }
            Shape::Deref(inner, _, _) => {
                let inner = self.walk_expr_at(inner, &quote!(#elem), depth + 1);
                quote!({ let #elem = &**#value; #inner })
            }
        }
    }
}
