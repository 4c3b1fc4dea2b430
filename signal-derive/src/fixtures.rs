//! Test fixtures (`signal_core::testing::fixtures`), generated only with
//! the `fixtures` feature: one value per static path to a leaf.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::Ident;

use crate::ast::Field;
use crate::attr::KindPath;
use crate::expand::{Expander, Role, bodies, filter, role};
use crate::ty::Shape;

impl Expander<'_> {
    pub fn fixtures_body(&self) -> TokenStream {
        let bodies = bodies(self.input);
        let mut parts: Vec<TokenStream> = Vec::new();
        // An enum-level leaf is one path: the first variant that can be
        // built from defaults stands for it.
        if let Some((leaf, when)) = self.enum_leaf() {
            let kind = self.kind(leaf);
            let tries = bodies.iter().map(|body| {
                let path = body.path();
                let cfgs = body.cfgs;
                let build = self.defaulted(&path, body.fields, None, &TokenStream::new());
                let ctor = &build.constructor;
                let push_leaf = self.push_leaf(ctor, &kind, when);
                let push = build.push(quote! {
                    #push_leaf
                    __done = true;
                });
                quote!(#(#cfgs)* if !__done { #push })
            });
            parts.push(quote! {
                let mut __done = false;
                #(#tries)*
                let _ = __done;
            });
        }
        for body in &bodies {
            let cfgs = body.cfgs;
            let inner = self.variant_fixtures(&body.path(), body.leaf, body.when, body.fields);
            parts.push(quote!(#(#cfgs)* { #inner }));
        }
        // Every value of the enum raises its enum-level leaf too.
        let also = self.enum_leaf().map(|(leaf, when)| {
            let kind = self.kind(leaf);
            let condition = match when {
                Some(predicate) => quote!(__signal_private::when(#predicate, &__fx.value)),
                None => quote!(true),
            };
            quote! {
                for __fx in __out.iter_mut() {
                    if #condition {
                        __fx.__also(#kind::ID);
                    }
                }
            }
        });
        quote! {
            let mut __out = __signal_private::Vec::new();
            if !__cx.enter(::core::any::type_name::<Self>()) {
                return __out;
            }
            #(#parts)*
            #also
            __cx.leave();
            __out
        }
    }

    /// Defaults for every field but `skip`, and the constructor that uses
    /// `value` for `skip`.
    fn defaulted(
        &self,
        path: &TokenStream,
        fields: &[Field],
        skip: Option<usize>,
        value: &TokenStream,
    ) -> Defaulted {
        let vars: Vec<Ident> = (0..fields.len())
            .map(|i| format_ident!("__d{}", i))
            .collect();
        let members = fields.iter().enumerate().map(|(i, field)| {
            let member = &field.member;
            let cfgs = &field.cfgs;
            if Some(i) == skip {
                quote!(#(#cfgs)* #member: #value)
            } else {
                let var = &vars[i];
                quote!(#(#cfgs)* #member: #var)
            }
        });
        let constructor = quote!(#path { #(#members),* });
        let defaults: Vec<TokenStream> = fields
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != skip)
            .map(|(_, field)| {
                let ty = field.ty;
                quote!((&__signal_private::Probe::<#ty>::new()).__signal_default())
            })
            .collect();
        let patterns: Vec<TokenStream> = (0..fields.len())
            .filter(|i| Some(*i) != skip)
            .map(|i| {
                let var = &vars[i];
                quote!(::core::option::Option::Some(#var))
            })
            .collect();
        Defaulted {
            pattern: quote!((#(#patterns,)*)),
            defaults: quote!((#(#defaults,)*)),
            constructor,
        }
    }

    /// Pushes a leaf's fixture; a conditional leaf only if its predicate
    /// holds for the value built from defaults.
    fn push_leaf(
        &self,
        ctor: &TokenStream,
        kind: &TokenStream,
        when: Option<&syn::Path>,
    ) -> TokenStream {
        let condition = match when {
            Some(predicate) => quote!(__signal_private::when(#predicate, &__v)),
            None => quote!(true),
        };
        quote! {
            let __v = #ctor;
            if #condition {
                __out.push(__signal_private::Fixture::__leaf(__v, #kind::ID));
            }
        }
    }

    /// Fixtures of one variant: its leaf with every field `Default`, then
    /// each forwarded field's fixtures with the other fields `Default`.
    fn variant_fixtures(
        &self,
        path: &TokenStream,
        leaf: Option<&KindPath>,
        when: Option<&syn::Path>,
        fields: &[Field],
    ) -> TokenStream {
        let mut out = Vec::new();
        if let Some(leaf) = leaf {
            let kind = self.kind(leaf);
            let leaf = self.defaulted(path, fields, None, &TokenStream::new());
            let ctor = &leaf.constructor;
            let push = self.push_leaf(ctor, &kind, when);
            out.push(leaf.push(push));
        }
        for (index, field) in fields.iter().enumerate() {
            let Role::Forward = role(field) else {
                continue;
            };
            let ty = field.ty;
            let cfgs = &field.cfgs;
            let fixtures = self.fixtures_expr(&Shape::of(ty), 0);
            let (only, except) = self.filter_ids(filter(field));
            let wrapped = self.defaulted(path, fields, Some(index), &quote!(__v));
            let ctor = &wrapped.constructor;
            let push = wrapped
                .push(quote!(__out.push(__fx.__map(|__v| #ctor).__filtered(#only, #except));));
            out.push(quote! {
                #(#cfgs)* {
                    let __fxs: __signal_private::Vec<__signal_private::Fixture<#ty>> = #fixtures;
                    for __fx in __fxs {
                        #push
                    }
                }
            });
        }
        quote!(#(#out)*)
    }

    /// The fixtures of a field's type, by its shape. Containers annotate
    /// their element's fixtures with the element type, so inference never
    /// has to guess through `From` or `FromIterator`.
    fn fixtures_expr(&self, shape: &Shape, depth: usize) -> TokenStream {
        if !shape.buildable() {
            return quote!(__signal_private::Vec::new());
        }
        let wrap = |inner: &Shape, elem: &syn::Type, ctor: TokenStream| {
            let inner = self.fixtures_expr(inner, depth + 1);
            quote!({
                let __inner: __signal_private::Vec<__signal_private::Fixture<#elem>> = #inner;
                ::core::iter::IntoIterator::into_iter(__inner)
                    .map(|__f| __f.__map(#ctor))
                    .collect::<__signal_private::Vec<_>>()
            })
        };
        match shape {
            Shape::Leaf(ty) => {
                quote!((&__signal_private::Probe::<#ty>::new()).__signal_fixtures(__cx))
            }
            Shape::Opt(inner, elem) => wrap(inner, elem, quote!(::core::option::Option::Some)),
            Shape::Deref(inner, _, elem) => wrap(inner, elem, quote!(::core::convert::From::from)),
            Shape::Seq(inner, _, elem) => wrap(
                inner,
                elem,
                quote!(|__e| ::core::iter::FromIterator::from_iter(::core::iter::once(__e))),
            ),
            Shape::Map(..) => quote!(__signal_private::Vec::new()),
            Shape::Tuple(elems) => {
                let vars: Vec<Ident> = (0..elems.len())
                    .map(|i| format_ident!("__t{}_{}", depth, i))
                    .collect();
                let parts = elems.iter().enumerate().filter(|(_, (_, elem))| elem.buildable()).map(|(index, (elem_ty, elem))| {
                    let fixtures = self.fixtures_expr(elem, depth + 1);
                    let defaults = elems.iter().enumerate().filter(|(i, _)| *i != index).map(|(_, (ty, _))| {
                        quote!((&__signal_private::Probe::<#ty>::new()).__signal_default())
                    });
                    let patterns = (0..elems.len()).filter(|i| *i != index).map(|i| {
                        let var = &vars[i];
                        quote!(::core::option::Option::Some(#var))
                    });
                    let values = (0..elems.len()).map(|i| {
                        if i == index { quote!(__v) } else { let var = &vars[i]; quote!(#var) }
                    });
                    quote! {
                        let __elem: __signal_private::Vec<__signal_private::Fixture<#elem_ty>> = #fixtures;
                        for __fx in __elem {
                            #[allow(irrefutable_let_patterns)]
                            if let (#(#patterns,)*) = (#(#defaults,)*) {
                                __tuple.push(__fx.__map(|__v| (#(#values,)*)));
                            }
                        }
                    }
                });
                quote!({
                    let mut __tuple = __signal_private::Vec::new();
                    #(#parts)*
                    __tuple
                })
            }
        }
    }
}

/// A constructor whose other fields come from `Default`.
struct Defaulted {
    pattern: TokenStream,
    defaults: TokenStream,
    constructor: TokenStream,
}

impl Defaulted {
    /// Runs `push` when every default the constructor needs exists.
    fn push(&self, push: TokenStream) -> TokenStream {
        let Defaulted {
            pattern, defaults, ..
        } = self;
        quote! {
            #[allow(irrefutable_let_patterns)]
            if let #pattern = #defaults {
                #push
            }
        }
    }
}
