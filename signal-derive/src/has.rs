//! `Signal::has`: a plain `match`, monomorphized per kind, allocation-free.

use proc_macro2::TokenStream;
use quote::quote;

use crate::attr::{Filter, KindPath};
use crate::expand::{Body, Expander, Role, binding_tokens, bodies, filter, role};
use crate::ty::Shape;

impl Expander<'_> {
    pub fn has_body(&self) -> TokenStream {
        if self.is_empty_enum() {
            return quote!(match *self {});
        }
        let enum_leaf = self.enum_leaf().map(|(leaf, when)| {
            let kind = self.kind(leaf);
            let when = self.when(when);
            quote!(if #kind::implies::<__K>() #when { return true; })
        });
        let bodies = bodies(self.input);
        let blocks = bodies.iter().map(|body| {
            let pattern = self.pattern(body.path(), body.fields);
            let block = self.has_block(body);
            (body.cfgs, pattern, block)
        });
        let dispatch = if self.enum_leaf().is_some() || bodies.iter().any(|b| b.variant.is_some()) {
            let arms =
                blocks.map(|(cfgs, pattern, block)| quote!(#(#cfgs)* #pattern => { #block }));
            quote!(match *self { #(#arms)* })
        } else {
            let statements = blocks.map(|(_, pattern, block)| quote!(let #pattern = *self; #block));
            quote!(#(#statements)*)
        };
        quote!(#enum_leaf #dispatch)
    }

    fn has_block(&self, body: &Body) -> TokenStream {
        let krate = &self.krate;
        let when = self.when(body.when);
        let leaf = body.leaf.map(|leaf| {
            let kind = self.kind(leaf);
            quote!(if #kind::implies::<__K>() #when { return true; })
        });
        let forwards: Vec<TokenStream> = body
            .fields
            .iter()
            .enumerate()
            .filter_map(|(index, field)| {
                let value = binding_tokens(index);
                let expr = match role(field) {
                    Role::Forward => self.has_expr(&Shape::of(field.ty), &value),
                    Role::Classified(classifier) => {
                        let classify = self.classify(field.ty, classifier, &value);
                        quote!(#classify.implies(<__K as #krate::Kind>::ID))
                    }
                    Role::Chain(chain) => self.chain_has(field.ty, chain, &value),
                    Role::Skip | Role::Unannotated => return None,
                };
                let filter = self.static_filter(filter(field));
                let cfgs = &field.cfgs;
                Some(quote!(#(#cfgs)* { if #filter #expr { return true; } }))
            })
            .collect();
        quote!(#leaf #(#forwards)* false)
    }

    /// `(... ) &&` when a filter decides, per kind, whether a field is
    /// consulted. Kinds are named as `<Kind as Kind>` in `has` and `walk`
    /// alike, so a name that is not a kind is reported once.
    fn static_filter(&self, filter: &Filter) -> TokenStream {
        let list = |kinds: &[KindPath]| {
            let kinds = kinds.iter().map(|kind| self.kind(kind));
            quote!((false #(|| #kinds::__implied_by::<__K>())*))
        };
        match filter {
            Filter::All => TokenStream::new(),
            Filter::Only(kinds) => {
                let any = list(kinds);
                quote!(#any &&)
            }
            Filter::Except(kinds) => {
                let any = list(kinds);
                quote!(!#any &&)
            }
        }
    }

    /// Whether the value of `shape` at `value` carries `__K`: an expression
    /// without closures (loops in labeled blocks), so that it costs the
    /// compiler one body, not one per container.
    fn has_expr(&self, shape: &Shape, value: &TokenStream) -> TokenStream {
        self.has_expr_at(shape, value, 0)
    }

    fn has_expr_at(&self, shape: &Shape, value: &TokenStream, depth: usize) -> TokenStream {
        let krate = &self.krate;
        let label = syn::Lifetime::new(&format!("'__h{depth}"), proc_macro2::Span::call_site());
        let elem = quote::format_ident!("__e{}", depth);
        match shape {
            Shape::Leaf(_) => quote!((&&&&#krate::__private::Maybe(#value)).__signal_has::<__K>()),
            Shape::Tuple(elems) => {
                let tuple = quote::format_ident!("__t{}", depth);
                let parts = elems.iter().enumerate().map(|(index, (_, elem))| {
                    let index = syn::Index::from(index);
                    self.has_expr_at(elem, &quote!(&#tuple.#index), depth + 1)
                });
                quote!({ let #tuple = #value; false #(|| #parts)* })
            }
            Shape::Seq(inner, _, _) | Shape::Map(inner) => {
                let inner = self.has_expr_at(inner, &quote!(#elem), depth + 1);
                let items = match shape {
                    Shape::Map(_) => quote!(#value.values()),
                    _ => quote!(::core::iter::IntoIterator::into_iter(#value)),
                };
                quote!(#label: {
                    for #elem in #items {
                        if #inner {
                            break #label true;
                        }
                    }
                    false
                })
            }
            Shape::Opt(inner, _) => {
                let inner = self.has_expr_at(inner, &quote!(#elem), depth + 1);
                quote!(match #value {
                    ::core::option::Option::Some(#elem) => #inner,
                    ::core::option::Option::None => false,
                })
            }
            Shape::Deref(inner, _, _) => {
                let inner = self.has_expr_at(inner, &quote!(#elem), depth + 1);
                quote!({ let #elem = &**#value; #inner })
            }
        }
    }
}
