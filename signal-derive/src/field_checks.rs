//! The compile-time guarantee, inside the visit body on its path without a
//! value (so that `Self` and the impl's generics are in scope, and no item
//! of its own is needed): every unannotated field's
//! type, and every type inside it, carries no signals; every forwarded field
//! reaches a type that does; classifiers fit their types; chain fields are
//! errors; and the standard names the derive reads by name are the standard
//! types.
//!
//! Each check is `Trait::<FieldType>::check(probe)`: a probe answers with a
//! marker type, and the trait is implemented only for the markers that are
//! allowed. The probe expression starts at the first token of the field's
//! type and ends at its last, so the compiler underlines the whole type.

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::Type;

use crate::attr::Chain;
use crate::chain::dyn_target;
use crate::expand::{Expander, Role, role};
use crate::ty::{Probed, StdName, probes, span_range, std_names, undecidable};

impl Expander<'_> {
    pub fn field_checks(&self) -> TokenStream {
        let krate = &self.krate;
        let mut checks = Vec::new();
        let mut names: Vec<StdName> = Vec::new();
        for field in self.input.all_fields() {
            let ty = field.ty;
            let cfgs = &field.cfgs;
            let check = match role(field) {
                // A skip on a type the derive cannot see through is always
                // allowed; on any other type, there must be something to skip.
                Role::Skip if undecidable(ty, &self.params).is_some() => continue,
                Role::Skip => {
                    let probed = probes(ty);
                    self.check_call("Skippable", ty, &self.any(&probed))
                }
                Role::Classified(classifier) => self.classifier_check(ty, classifier),
                Role::Chain(chain) => self.chain_checks(ty, chain),
                Role::Unannotated => {
                    std_names(ty, false, &mut names);
                    let probed = probes(ty);
                    if probed.is_empty() {
                        continue;
                    }
                    self.check_call("Unannotated", ty, &self.any(&probed))
                }
                // Checked where `visit.rs` reads it; the standard names it
                // reads are checked here.
                Role::Forward => {
                    std_names(ty, false, &mut names);
                    continue;
                }
            };
            checks.push(quote!(#(#cfgs)* { #check }));
        }
        for name in &names {
            let StdName {
                written,
                standard,
                span,
                ..
            } = name;
            checks.push(quote_spanned! {*span=>
                <#written as #krate::StdName<#standard>>::check();
            });
        }
        if checks.is_empty() {
            return TokenStream::new();
        }
        quote!(#(#checks)*)
    }

    /// The strongest answer of the probes of `probed`.
    fn any(&self, probed: &[Probed]) -> TokenStream {
        let krate = &self.krate;
        probed
            .iter()
            .map(|probe| {
                let ty = probe.ty;
                if probe.dynamic {
                    quote!(#krate::DynProbe::<#ty>::new().__signal_probe())
                } else {
                    quote!(#krate::Probe::<#ty>::new().__signal_probe())
                }
            })
            .reduce(|acc, probe| quote!(#krate::or(#acc, #probe)))
            .unwrap_or_else(|| quote!(#krate::NoSignals))
    }

    /// `Trait::<Ty>::check(answer)`, with `answer` spanning the whole type.
    fn check_call(&self, check: &str, ty: &dyn ToTokens, answer: &TokenStream) -> TokenStream {
        let call = self.check_expr(check, ty, answer);
        quote!(#call;)
    }

    /// The same call as an expression, whose value is the probe's answer:
    /// `__signal_core::Check::<Ty>::check((answer,).0)`.
    /// The path up to `check` is spanned at the type's first token, `check`
    /// and the parentheses at its last, so the argument covers the whole
    /// type; the type keeps its own spans.
    pub fn check_expr(&self, check: &str, ty: &dyn ToTokens, answer: &TokenStream) -> TokenStream {
        let ty = ty.to_token_stream();
        let (first, last) = span_range(&ty);
        let check = Ident::new(check, first);
        let check_fn = Ident::new("check", last);
        let callee = quote_spanned!(first=> __signal_core::#check::<#ty>::);
        // `(answer,).0`: a tuple spanned at the first token, its field at the
        // last, so the argument's span is the whole type (cheaper for the
        // compiler than a call to an identity function).
        let mut tuple = Group::new(Delimiter::Parenthesis, quote!(#answer,));
        tuple.set_span(first);
        let field = quote_spanned!(last=> .0);
        let mut call_args = Group::new(Delimiter::Parenthesis, quote!(#tuple #field));
        call_args.set_span(last);
        quote!(#callee #check_fn #call_args)
    }

    /// A classifier named in `forward_with` or `chain(Type(classifier))`
    /// must classify its type.
    fn classifier_check(&self, ty: &dyn ToTokens, classifier: &syn::Path) -> TokenStream {
        let krate = &self.krate;
        let (first, last) = span_range(classifier);
        let callee = respan(quote!(#krate::Classify::<#ty>::kinds), first);
        let amp = quote_spanned!(first=> &);
        let mut args = Group::new(Delimiter::Parenthesis, quote!(#amp #classifier));
        args.set_span(last);
        quote!(let _ = #callee #args;)
    }

    /// A chain field must have a `source()` chain; each listed type must be
    /// an error that carries signals, or be classified.
    fn chain_checks(&self, ty: &Type, chain: &Chain) -> TokenStream {
        let krate = &self.krate;
        let head = if let Some(object) = dyn_target(ty) {
            quote!(#krate::DynProbe::<#object>::new().__signal_probe())
        } else {
            quote!((&&&__signal_private::ChainProbe::<#ty>::new()).__signal_chain_probe())
        };
        let head = self.check_call("Chained", ty, &head);
        let items = chain.items.iter().map(|item| {
            let item_ty = &item.ty;
            match &item.classifier {
                None => {
                    let probe = quote!(#krate::Probe::<#item_ty>::new().__signal_probe());
                    self.check_call("ChainListed", item_ty, &probe)
                }
                Some(classifier) => {
                    let (first, _) = span_range(item_ty);
                    let is_error =
                        quote_spanned!(first=> <#item_ty as #krate::ChainError>::check(););
                    let classifies = self.classifier_check(item_ty, classifier);
                    quote!(#is_error #classifies)
                }
            }
        });
        quote!(#head #(#items)*)
    }
}

/// `tokens` with every token (outside groups' contents that came from the
/// user) spanned at `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|token| match token {
            TokenTree::Group(group) => {
                let mut group = Group::new(group.delimiter(), group.stream());
                group.set_span(span);
                TokenTree::Group(group)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}
