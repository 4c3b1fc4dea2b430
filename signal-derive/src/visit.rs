//! `__visit`: the type's one generated body. `has` and `walk` run it
//! with the visitors of `signal_core::__private::visit`; each hop is named by
//! its index in the type's node table (see `describe.rs`, which numbers them
//! the same way).
//!
//! A forwarded field is one call, `__v.field(node, value, marker)`: the
//! marker spells out the standard containers of the field's type
//! (`Seq(Tuple(...))`) around one probe per leaf type, and the probe of a
//! field that cannot carry signals fails the field's check, spanned over its
//! type.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Type;

use crate::attr::{Filter, KindPath};
use crate::expand::{Body, Expander, Role, binding_tokens, bodies, filter, path_string, role};
use crate::ty::{Shape, is_std_data};

impl Expander<'_> {
    /// The body of `__visit(__this: Option<&Self>, __v)`: with a
    /// value, its leaves and forwarded fields; without one, the forwarded
    /// fields' shapes (for `shape`). Each field's marker is bound once, at
    /// the top, and read by both.
    pub fn visit_body(&self, checks: &TokenStream) -> TokenStream {
        let continue_ = quote!(::core::ops::ControlFlow::Continue(()));
        let mut markers = Vec::new();
        let mut targets = Vec::new();
        let mut node: u32 = 0;
        let enum_leaf = self.enum_leaf().map(|(leaf, when)| {
            let leaf = self.leaf_call(leaf, when, &mut node);
            quote!(#leaf?;)
        });
        let bodies = bodies(self.input);
        let is_enum = bodies.iter().any(|body| body.variant.is_some());
        let mut silent = false;
        let mut arms = Vec::new();
        for body in &bodies {
            let calls = self.body_calls(body, &mut node, &mut markers, &mut targets);
            let cfgs = body.cfgs;
            if is_enum && calls.is_empty() {
                silent = true;
                continue;
            }
            let pattern = self.pattern(body.path(), body.fields);
            let conditional = calls.iter().any(|(cfgs, _)| !cfgs.is_empty());
            let block = match calls.as_slice() {
                [] => continue_.clone(),
                [(_, only)] if !conditional => only.clone(),
                _ if !conditional => {
                    let (last, init) = calls.split_last().expect("calls");
                    let init = init.iter().map(|(_, call)| call);
                    let last = &last.1;
                    quote!({ #(#init?;)* #last })
                }
                _ => {
                    let calls = calls
                        .iter()
                        .map(|(cfgs, call)| quote!(#(#cfgs)* { #call?; }));
                    quote!({ #(#calls)* #continue_ })
                }
            };
            if is_enum {
                arms.push(quote!(#(#cfgs)* #pattern => #block,));
            } else {
                arms.push(quote!(let #pattern = *__this; #block));
            }
        }
        let value = if self.is_empty_enum() {
            quote!(match *__this {})
        } else if is_enum {
            let rest = silent.then(|| quote!(_ => #continue_,));
            quote! {
                #enum_leaf
                #[allow(unreachable_patterns)]
                match *__this { #(#arms)* #rest }
            }
        } else {
            quote!(#enum_leaf #(#arms)*)
        };
        let targets = targets
            .iter()
            .map(|(cfgs, target)| quote!(#(#cfgs)* #target;));
        let probes = self.leaf_probes.borrow();
        let probes = probes.iter().map(|(_, name, ty)| {
            let probe = self.probe_any(ty);
            quote!(let #name = #probe;)
        });
        quote! {
            #(#probes)*
            #(#markers)*
            match __this {
                ::core::option::Option::Some(__this) => { #value }
                ::core::option::Option::None => {
                    #checks
                    #(#targets)*
                    let _ = __v;
                    #continue_
                }
            }
        }
    }

    /// `__v.leaf::<Kind>(node)`, under its `when` predicate.
    fn leaf_call(&self, leaf: &KindPath, when: Option<&syn::Path>, node: &mut u32) -> TokenStream {
        let kind = self.kind(leaf);
        let index = *node;
        *node += 1;
        match when {
            Some(when) => quote! {
                __v.leaf_if::<#kind::__Me>(#index, || __signal_private::when(#when, __this))
            },
            None => quote!(__v.leaf::<#kind::__Me>(#index)),
        }
    }

    /// The calls of one variant (or the struct's body), in order; each
    /// forwarded field's marker goes to `markers`, and what describes its
    /// shape to `targets`.
    fn body_calls<'i, 'a>(
        &self,
        body: &Body<'i, 'a>,
        node: &mut u32,
        markers: &mut Vec<TokenStream>,
        targets: &mut Vec<(&'i [&'a syn::Attribute], TokenStream)>,
    ) -> Vec<(&'i [&'a syn::Attribute], TokenStream)> {
        let krate = &self.krate;
        let mut calls = Vec::new();
        if let Some(leaf) = body.leaf {
            calls.push((&[][..], self.leaf_call(leaf, body.when, node)));
        }
        for (index, field) in body.fields.iter().enumerate() {
            let value = binding_tokens(index);
            let role = role(field);
            if !role.binds() {
                continue;
            }
            let at = *node;
            *node += 1;
            let target = targets.len() as u32;
            let cfgs = &field.cfgs[..];
            let call = match role {
                Role::Forward => {
                    let marker = self.checked_marker(field.ty, cfgs.is_empty());
                    let name = quote::format_ident!("__m{}", target);
                    markers.push(quote!(#(#cfgs)* let #name = #marker;));
                    let ty = field.ty;
                    targets.push((cfgs, quote!(__v.target::<#ty, _>(#target, #name))));
                    quote!(__v.field(#at, #value, #name))
                }
                Role::Classified(classifier) => {
                    let name = path_string(classifier);
                    let classify = self.classify(field.ty, classifier, &value);
                    let shape = self.classified_shape(field.ty, classifier);
                    targets.push((cfgs, quote!(__v.target_shape(#target, || #shape))));
                    quote!(__v.kinds(#at, #name, #classify))
                }
                Role::Chain(chain) => {
                    let walk = self.chain_walk(field.ty, chain, &value);
                    let shape = self.chain_shape(chain);
                    targets.push((cfgs, quote!(__v.target_shape(#target, || #shape))));
                    quote!(__v.dynamic(#at, &mut |__w: &mut #krate::Walker<'_>| #walk))
                }
                Role::Skip | Role::Unannotated => unreachable!(),
            };
            let call = match self.filter_type(filter(field)) {
                Some(filter) => quote! {
                    if __v.passes::<#filter>() {
                        #call
                    } else {
                        ::core::ops::ControlFlow::Continue(())
                    }
                },
                None => call,
            };
            calls.push((cfgs, call));
        }
        calls
    }

    /// `Only<(A, (B, ()))>` or `Except<...>` for a filtered field.
    pub fn filter_type(&self, filter: &Filter) -> Option<TokenStream> {
        let list = |kinds: &[KindPath]| {
            kinds.iter().rev().fold(quote!(()), |rest, kind| {
                let kind = self.kind(kind);
                quote!((#kind::__Me, #rest))
            })
        };
        match filter {
            Filter::All => None,
            Filter::Only(kinds) => {
                let list = list(kinds);
                Some(quote!(__signal_private::Only<#list>))
            }
            Filter::Except(kinds) => {
                let list = list(kinds);
                Some(quote!(__signal_private::Except<#list>))
            }
        }
    }

    /// The probe of a leaf type: its marker.
    pub fn probe(&self, ty: &Type) -> TokenStream {
        let krate = &self.krate;
        if is_std_data(ty) {
            return quote!(#krate::NoSignals);
        }
        self.probe_any(ty)
    }

    /// The probe of a type named by tokens (a chain's listed type).
    pub fn probe_any(&self, ty: &dyn quote::ToTokens) -> TokenStream {
        quote!(__signal_private::Lf::<#ty>::new().__signal_leaf())
    }

    /// The probe of a forwarded field's leaf type: bound once per distinct
    /// type at the top of the visit body (a field under `#[cfg]` probes
    /// its own, since the binding would not exist without it).
    fn shared_probe(&self, ty: &Type, shared: bool) -> TokenStream {
        if !shared || is_std_data(ty) {
            return self.probe(ty);
        }
        let text = crate::text::type_string(ty);
        let mut probes = self.leaf_probes.borrow_mut();
        if let Some((_, name, _)) = probes.iter().find(|(seen, _, _)| *seen == text) {
            return quote!(#name);
        }
        let name = quote::format_ident!("__l{}", probes.len());
        probes.push((text, name.clone(), ty.clone()));
        quote!(#name)
    }

    /// The marker of a field's type, with the field's checks: the whole
    /// reaches a carrier, and no tuple part is a type-erased error.
    fn checked_marker(&self, ty: &Type, shared: bool) -> TokenStream {
        let krate = &self.krate;
        let shape = Shape::of(ty);
        let mut leaves = Vec::new();
        shape.leaves(&mut leaves);
        if leaves.len() == 1 {
            let probe = self.shared_probe(leaves[0], shared);
            let checked = self.check_expr("Forwarded", ty, &probe);
            return self.marker(&shape, &mut |_| checked.clone());
        }
        let probes: Vec<TokenStream> = leaves
            .iter()
            .map(|leaf| self.shared_probe(leaf, shared))
            .collect();
        let any = probes
            .iter()
            .cloned()
            .reduce(|acc, probe| quote!(#krate::or(#acc, #probe)))
            .unwrap_or_else(|| quote!(#krate::NoSignals));
        let whole = self.check_expr("Forwarded", ty, &any);
        let mut parts = leaves.iter().zip(&probes);
        let marker = self.marker(&shape, &mut |_| {
            let (leaf, probe) = parts.next().expect("one probe per leaf");
            self.check_expr("ForwardedPart", *leaf, probe)
        });
        quote!({ let _ = #whole; #marker })
    }

    /// The marker of `shape`, with `leaf` giving each leaf's marker in walk
    /// order.
    pub fn marker(&self, shape: &Shape, leaf: &mut dyn FnMut(&Type) -> TokenStream) -> TokenStream {
        match shape {
            Shape::Leaf(ty) => leaf(ty),
            Shape::Tuple(elems) => {
                let parts: Vec<TokenStream> = elems
                    .iter()
                    .map(|(_, elem)| self.marker(elem, leaf))
                    .collect();
                let list = parts
                    .iter()
                    .rev()
                    .fold(quote!(()), |rest, part| quote!((#part, #rest)));
                quote!(__signal_private::Tuple(#list))
            }
            Shape::Seq(inner, _, _) => {
                let inner = self.marker(inner, leaf);
                quote!(__signal_private::Seq(#inner))
            }
            Shape::Map(inner) => {
                let inner = self.marker(inner, leaf);
                quote!(__signal_private::Map(#inner))
            }
            Shape::Opt(inner, _) => {
                let inner = self.marker(inner, leaf);
                quote!(__signal_private::Opt(#inner))
            }
            Shape::Deref(inner, _, _) => {
                let inner = self.marker(inner, leaf);
                quote!(__signal_private::Deref(#inner))
            }
        }
    }
}
