//! Code generation. Reads the checked model; parses nothing.

use std::collections::BTreeSet;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{DeriveInput, Ident, Member, Path};

use crate::ast::{Data, Field, Input, Variant};
use crate::attr::{Chain, Filter, KindPath};
use crate::check::check;
use crate::ctxt::Ctxt;
use crate::shape::{Shape, mentioned_params, probe_types};

pub fn derive(node: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let input = Input::from_syn(&cx, node);
    if let Some(input) = &input {
        check(&cx, input);
    }
    let krate = input
        .as_ref()
        .and_then(|input| input.attrs.krate.get().cloned())
        .unwrap_or_else(|| syn::parse_quote!(::signal_core));
    match input {
        Some(input) if !cx.has_errors() => Expander::new(&input, krate).expand(),
        _ => {
            let errors = cx.into_compile_errors();
            let fallback = fallback(node, &krate);
            quote!(#errors #fallback)
        }
    }
}

/// After an error, an impl that carries nothing, so code using the type does
/// not fail a second time with "does not implement `Signal`".
fn fallback(node: &DeriveInput, krate: &Path) -> TokenStream {
    let ident = &node.ident;
    let (impl_generics, ty_generics, where_clause) = node.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        #[allow(unused_qualifications)]
        impl #impl_generics #krate::Signal for #ident #ty_generics #where_clause {
            fn has<__K: #krate::Kind>(&self) -> bool {
                false
            }
            fn walk(&self, _: &mut #krate::Walker<'_>) -> ::core::ops::ControlFlow<()> {
                ::core::ops::ControlFlow::Continue(())
            }
        }
    }
}

struct Expander<'a> {
    input: &'a Input<'a>,
    krate: Path,
    /// The type's name as it appears in paths (`r#` removed).
    name: String,
    /// Type parameters that need a `Signal` bound: those in forwarded fields.
    bounded: BTreeSet<Ident>,
}

/// What the attributes say a field does.
enum Role<'f> {
    Forward(&'f Filter),
    Classified(&'f Path),
    Chain(&'f Chain),
    Skip,
    Unannotated,
}

impl Role<'_> {
    /// Whether the generated code reads the field.
    fn binds(&self) -> bool {
        matches!(
            self,
            Role::Forward(_) | Role::Classified(_) | Role::Chain(_)
        )
    }
}

fn role<'f>(field: &'f Field) -> Role<'f> {
    if let Some(forward) = field.attrs.forward.get() {
        Role::Forward(&forward.filter)
    } else if let Some(classifier) = field.attrs.forward_with.get() {
        Role::Classified(classifier)
    } else if let Some(chain) = field.attrs.chain.get() {
        Role::Chain(chain)
    } else if field.attrs.skip.get().is_some() {
        Role::Skip
    } else {
        Role::Unannotated
    }
}

impl<'a> Expander<'a> {
    fn new(input: &'a Input<'a>, krate: Path) -> Self {
        let params: BTreeSet<Ident> = input
            .original
            .generics
            .type_params()
            .map(|param| param.ident.clone())
            .collect();
        let mut bounded = BTreeSet::new();
        for field in input.all_fields() {
            if let Role::Forward(_) = role(field) {
                let mut opaque = Vec::new();
                Shape::of(field.ty).opaque_types(&mut opaque);
                for ty in opaque {
                    mentioned_params(ty, &params, &mut bounded);
                }
            }
        }
        Expander {
            input,
            krate,
            name: input.ident.unraw().to_string(),
            bounded,
        }
    }

    fn expand(&self) -> TokenStream {
        let krate = &self.krate;
        let ident = self.input.ident;
        let generics = &self.input.original.generics;
        let (impl_generics, ty_generics, _) = generics.split_for_impl();
        let where_clause = self.where_clause();
        let (has_body, walk_body) = match &self.input.data {
            Data::Enum(variants) => self.enum_bodies(variants),
            Data::Struct(data) => self.struct_bodies(&data.fields),
        };
        let checks = self.field_checks(&impl_generics, &ty_generics, &where_clause);
        let shape_body = self.shape_body();
        // Test fixtures are generated only with the `fixtures` feature of
        // `signal-core` (which turns on this crate's): they are most of the
        // code a derive would otherwise emit.
        let fixtures = cfg!(feature = "fixtures").then(|| {
            let body = self.fixtures_body();
            quote! {
                #[inline]
                fn __fixtures(
                    __cx: &mut #krate::__private::FixtureCx,
                ) -> #krate::__private::Vec<#krate::__private::Fixture<Self>> {
                    #body
                }
            }
        });
        let doc = crate::doc::impl_doc(self.input, &self.name);
        quote! {
            #[doc = #doc]
            #[automatically_derived]
            #[allow(unused_qualifications, clippy::needless_return)]
            impl #impl_generics #krate::Signal for #ident #ty_generics #where_clause {
                #[inline]
                fn has<__K: #krate::Kind>(&self) -> bool {
                    #has_body
                }

                // `#[inline]` on the methods that only traces, maps and tests
                // call: they are then compiled where they are used, and a
                // crate that only asks `has` does not pay for them.
                #[inline]
                fn walk(&self, __w: &mut #krate::Walker<'_>) -> ::core::ops::ControlFlow<()> {
                    #walk_body
                }

                #[inline]
                fn shape() -> #krate::Shape {
                    #shape_body
                }

                #fixtures
            }

            #checks
        }
    }

    fn where_clause(&self) -> TokenStream {
        let krate = &self.krate;
        let existing = self
            .input
            .original
            .generics
            .where_clause
            .as_ref()
            .map(|clause| clause.predicates.iter().collect::<Vec<_>>())
            .unwrap_or_default();
        let bounded = &self.bounded;
        if existing.is_empty() && bounded.is_empty() {
            return TokenStream::new();
        }
        quote!(where #(#existing,)* #(#bounded: #krate::Signal,)*)
    }

    fn enum_bodies(&self, variants: &[Variant]) -> (TokenStream, TokenStream) {
        if variants.is_empty() {
            return (quote!(match *self {}), quote!(match *self {}));
        }
        let mut has_arms = Vec::new();
        let mut walk_arms = Vec::new();
        for variant in variants {
            let cfgs = &variant.cfgs;
            let variant_ident = variant.ident;
            let pattern = self.pattern(quote!(Self::#variant_ident), &variant.fields);
            let variant_name = variant_ident.unraw().to_string();
            let leaf = variant.attrs.leaf.get();
            let when = variant.attrs.when.get();
            let has = self.has_block(leaf, when, &variant.fields);
            let walk = self.walk_block(Some(&variant_name), leaf, when, &variant.fields);
            has_arms.push(quote!(#(#cfgs)* #pattern => { #has }));
            walk_arms.push(quote!(#(#cfgs)* #pattern => { #walk }));
        }
        (
            quote!(match *self { #(#has_arms)* }),
            quote!(match *self { #(#walk_arms)* }),
        )
    }

    fn struct_bodies(&self, fields: &[Field]) -> (TokenStream, TokenStream) {
        let pattern = self.pattern(quote!(Self), fields);
        let leaf = self.input.attrs.leaf.get();
        let when = self.input.attrs.when.get();
        let has = self.has_block(leaf, when, fields);
        let walk = self.walk_block(None, leaf, when, fields);
        (
            quote!(let #pattern = *self; #has),
            quote!(let #pattern = *self; #walk),
        )
    }

    /// `Path { field: ref __f0, 1: ref __f1, .. }`, binding forwarded fields.
    fn pattern(&self, path: TokenStream, fields: &[Field]) -> TokenStream {
        let bindings = fields.iter().enumerate().filter_map(|(index, field)| {
            if role(field).binds() {
                let member = &field.member;
                let binding = binding(index);
                let cfgs = &field.cfgs;
                Some(quote!(#(#cfgs)* #member: ref #binding,))
            } else {
                None
            }
        });
        quote!(#path { #(#bindings)* .. })
    }

    fn kind(&self, kind: &KindPath) -> TokenStream {
        let krate = &self.krate;
        let path = &kind.path;
        quote_spanned!(path.span()=> <#path as #krate::Kind>)
    }

    /// `&& predicate(self)` for a conditional leaf.
    fn when(&self, when: Option<&Path>) -> TokenStream {
        let krate = &self.krate;
        when.map(|path| quote!(&& #krate::__private::when(#path, self)))
            .unwrap_or_default()
    }

    fn has_block(
        &self,
        leaf: Option<&KindPath>,
        when: Option<&Path>,
        fields: &[Field],
    ) -> TokenStream {
        let krate = &self.krate;
        let when = self.when(when);
        let leaf = leaf.map(|leaf| {
            let kind = self.kind(leaf);
            quote!(if #kind::implies::<__K>() #when { return true; })
        });
        let mut needs_maybe = false;
        let forwards: Vec<TokenStream> = fields
            .iter()
            .enumerate()
            .filter_map(|(index, field)| {
                let value = binding_tokens(index);
                let ty = field.ty;
                let cfgs = &field.cfgs;
                let expr = match role(field) {
                    Role::Forward(filter) => {
                        let filter = self.static_filter(filter);
                        let expr = self.has_expr(&Shape::of(ty), &value);
                        quote!(#filter #expr)
                    }
                    Role::Classified(classifier) => {
                        let classify = self.classify(ty, classifier, &value);
                        quote!(#classify.is_some_and(|__l| __l.implies(<__K as #krate::Kind>::ID)))
                    }
                    Role::Chain(chain) => self.chain_has(chain, &value),
                    Role::Skip | Role::Unannotated => return None,
                };
                needs_maybe = true;
                Some(quote!(#(#cfgs)* { if #expr { return true; } }))
            })
            .collect();
        let uses = needs_maybe.then(|| self.imports());
        quote!(#uses #leaf #(#forwards)* false)
    }

    /// A filter's `only` and `except` lists, as `&'static [KindId]`.
    fn filter_ids(&self, filter: &Filter) -> (TokenStream, TokenStream) {
        let ids = |kinds: &[KindPath]| {
            let kinds = kinds.iter().map(|kind| self.kind(kind));
            quote!(&[#(#kinds::ID),*])
        };
        match filter {
            Filter::All => (ids(&[]), ids(&[])),
            Filter::Only(kinds) => (ids(kinds), ids(&[])),
            Filter::Except(kinds) => (ids(&[]), ids(kinds)),
        }
    }

    fn static_filter(&self, filter: &Filter) -> TokenStream {
        match filter {
            Filter::All => TokenStream::new(),
            Filter::Only(kinds) => self.only_filter(kinds),
            Filter::Except(kinds) => self.except_filter(kinds),
        }
    }

    /// Filters name kinds as `<Kind as Kind>` in both `has` and `walk`, so a
    /// name that is not a kind is reported once.
    fn only_filter(&self, kinds: &[KindPath]) -> TokenStream {
        let kinds = kinds.iter().map(|kind| self.kind(kind));
        quote!((false #(|| #kinds::__implied_by::<__K>())*) &&)
    }

    fn except_filter(&self, kinds: &[KindPath]) -> TokenStream {
        let kinds = kinds.iter().map(|kind| self.kind(kind));
        quote!(!(false #(|| #kinds::__implied_by::<__K>())*) &&)
    }

    fn has_expr(&self, shape: &Shape, value: &TokenStream) -> TokenStream {
        let krate = &self.krate;
        match shape {
            Shape::Opaque(_) => quote!((&#krate::__private::Maybe(#value)).__signal_has::<__K>()),
            Shape::Tuple(elems) => {
                let parts = elems.iter().enumerate().map(|(index, (_, elem))| {
                    let index = syn::Index::from(index);
                    self.has_expr(elem, &quote!(&__t.#index))
                });
                quote!({ let __t = #value; false #(|| #parts)* })
            }
            Shape::Seq(inner, _, _) => {
                let inner = self.has_expr(inner, &quote!(__e));
                quote!(::core::iter::IntoIterator::into_iter(#value).any(|__e| #inner))
            }
            Shape::Map(inner) => {
                let inner = self.has_expr(inner, &quote!(__e));
                quote!(#value.values().any(|__e| #inner))
            }
            Shape::Opt(inner, _) => {
                let inner = self.has_expr(inner, &quote!(__e));
                quote!(match #value {
                    ::core::option::Option::Some(__e) => #inner,
                    ::core::option::Option::None => false,
                })
            }
            Shape::Deref(inner, _, _) => {
                let inner = self.has_expr(inner, &quote!(__e));
                quote!({ let __e = &**#value; #inner })
            }
        }
    }

    fn walk_block(
        &self,
        variant: Option<&str>,
        leaf: Option<&KindPath>,
        when: Option<&Path>,
        fields: &[Field],
    ) -> TokenStream {
        let krate = &self.krate;
        let ty = &self.name;
        let variant_tokens = match variant {
            Some(name) => quote!(::core::option::Option::Some(#name)),
            None => quote!(::core::option::Option::None),
        };
        let when = self.when(when);
        let leaf = leaf.map(|leaf| {
            let kind = self.kind(leaf);
            quote! {
                if true #when {
                    __w.leaf(
                        #krate::Node { ty: #ty, variant: #variant_tokens, field: ::core::option::Option::None },
                        #kind::ID,
                    )?;
                }
            }
        });
        let mut needs_maybe = false;
        let forwards: Vec<TokenStream> = fields
            .iter()
            .enumerate()
            .filter_map(|(index, field)| {
                let value = binding_tokens(index);
                let field_ty = field.ty;
                let (filter, expr) = match role(field) {
                    Role::Forward(filter) => (filter, self.walk_expr(&Shape::of(field_ty), &value)),
                    Role::Classified(classifier) => {
                        let name = path_string(classifier);
                        let classify = self.classify(field_ty, classifier, &value);
                        let expr = quote! {
                            match #classify {
                                ::core::option::Option::Some(__l) => __w.leaf_via(#krate::Step::Classifier(#name), __l),
                                ::core::option::Option::None => ::core::ops::ControlFlow::Continue(()),
                            }
                        };
                        (&Filter::All, expr)
                    }
                    Role::Chain(chain) => (&Filter::All, self.chain_walk(chain, &value)),
                    Role::Skip | Role::Unannotated => return None,
                };
                needs_maybe = true;
                let cfgs = &field.cfgs;
                let field_name = self.field_name(field);
                let step = quote! {
                    __w.__push(#krate::Step::Node(#krate::Node { ty: #ty, variant: #variant_tokens, field: #field_name }));
                    let __flow = #expr;
                    __w.__pop();
                    __flow?;
                };
                let guarded = match filter {
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
        let uses = needs_maybe.then(|| self.imports());
        quote!(#uses #leaf #(#forwards)* ::core::ops::ControlFlow::Continue(()))
    }

    fn text_rules(&self, chain: &Chain) -> TokenStream {
        let krate = &self.krate;
        let rules = chain.text.iter().map(|rule| {
            let kind = self.kind(&rule.kind);
            let patterns = rule.patterns.iter().map(|p| p.value().to_lowercase());
            quote!(#krate::TextRule { kind: #kind::ID, patterns: &[#(#patterns),*] })
        });
        quote!(&[#(#rules),*])
    }

    /// The head of a chain field, as `Option<&dyn Error>`.
    fn chain_head(&self, value: &TokenStream) -> TokenStream {
        let krate = &self.krate;
        quote! {{
            #[allow(unused_imports)]
            use #krate::__private::{ChainDeref as _, ChainDirect as _, ChainNone as _};
            (&&&#krate::__private::ChainRef(#value)).__signal_chain()
        }}
    }

    fn chain_has(&self, chain: &Chain, value: &TokenStream) -> TokenStream {
        let krate = &self.krate;
        let head = self.chain_head(value);
        let rules = self.text_rules(chain);
        let items = chain.items.iter().map(|item| {
            let ty = &item.ty;
            let hit = match &item.classifier {
                None => quote!((&#krate::__private::Maybe(__t)).__signal_has::<__K>()),
                Some(classifier) => {
                    let classify = self.classify(ty, classifier, &quote!(__t));
                    quote!(#classify.is_some_and(|__l| __l.implies(<__K as #krate::Kind>::ID)))
                }
            };
            quote! {
                if let ::core::option::Option::Some(__t) =
                    (&#krate::__private::Downcast::<#ty>::new()).__signal_downcast(__e)
                {
                    return ::core::option::Option::Some(#hit);
                }
            }
        });
        quote! {
            match #head {
                ::core::option::Option::Some(__head) => #krate::__private::chain_has(
                    __head,
                    <__K as #krate::Kind>::ID,
                    #rules,
                    |__e| {
                        #(#items)*
                        ::core::option::Option::None
                    },
                ),
                ::core::option::Option::None => false,
            }
        }
    }

    fn chain_walk(&self, chain: &Chain, value: &TokenStream) -> TokenStream {
        let krate = &self.krate;
        let head = self.chain_head(value);
        let rules = self.text_rules(chain);
        let items = chain.items.iter().map(|item| {
            let ty = &item.ty;
            let walk = match &item.classifier {
                None => quote!((&#krate::__private::Maybe(__t)).__signal_walk(__w)),
                Some(classifier) => {
                    let name = path_string(classifier);
                    let classify = self.classify(ty, classifier, &quote!(__t));
                    quote! {
                        match #classify {
                            ::core::option::Option::Some(__l) => __w.leaf_via(#krate::Step::Classifier(#name), __l),
                            ::core::option::Option::None => ::core::ops::ControlFlow::Continue(()),
                        }
                    }
                }
            };
            quote! {
                if let ::core::option::Option::Some(__t) =
                    (&#krate::__private::Downcast::<#ty>::new()).__signal_downcast(__e)
                {
                    return ::core::option::Option::Some(
                        __w.enter(#krate::Step::Source(__depth), |__w| #walk),
                    );
                }
            }
        });
        quote! {
            match #head {
                ::core::option::Option::Some(__head) => #krate::__private::chain_walk(
                    __head,
                    __w,
                    #rules,
                    |__e, __depth, __w| {
                        #(#items)*
                        ::core::option::Option::None
                    },
                ),
                ::core::option::Option::None => ::core::ops::ControlFlow::Continue(()),
            }
        }
    }

    fn walk_expr(&self, shape: &Shape, value: &TokenStream) -> TokenStream {
        let krate = &self.krate;
        match shape {
            Shape::Opaque(_) => quote!((&#krate::__private::Maybe(#value)).__signal_walk(__w)),
            Shape::Tuple(elems) => {
                let parts = elems.iter().enumerate().map(|(index, (_, elem))| {
                    let expr = self.walk_expr(elem, &{
                        let index = syn::Index::from(index);
                        quote!(&__t.#index)
                    });
                    quote!(__w.enter(#krate::Step::Tuple(#index), |__w| #expr)?;)
                });
                quote! {
                    (|__w: &mut #krate::Walker<'_>| -> ::core::ops::ControlFlow<()> {
                        let __t = #value;
                        #(#parts)*
                        ::core::ops::ControlFlow::Continue(())
                    })(__w)
                }
            }
            Shape::Seq(inner, _, _) => {
                let inner = self.walk_expr(inner, &quote!(__e));
                quote! {
                    #krate::__private::walk_seq(
                        ::core::iter::IntoIterator::into_iter(#value), __w, |__e, __w| #inner,
                    )
                }
            }
            Shape::Map(inner) => {
                let inner = self.walk_expr(inner, &quote!(__e));
                quote!(#krate::__private::walk_seq(#value.values(), __w, |__e, __w| #inner))
            }
            Shape::Opt(inner, _) => {
                let inner = self.walk_expr(inner, &quote!(__e));
                quote!(match #value {
                    ::core::option::Option::Some(__e) => #inner,
                    ::core::option::Option::None => ::core::ops::ControlFlow::Continue(()),
                })
            }
            Shape::Deref(inner, _, _) => {
                let inner = self.walk_expr(inner, &quote!(__e));
                quote!({ let __e = &**#value; #inner })
            }
        }
    }

    fn shape_body(&self) -> TokenStream {
        let krate = &self.krate;
        let name = &self.name;
        let (is_enum, variants) = match &self.input.data {
            Data::Enum(variants) => (
                true,
                variants
                    .iter()
                    .map(|variant| {
                        let variant_name = variant.ident.unraw().to_string();
                        let info = self.variant_info(
                            quote!(::core::option::Option::Some(#variant_name)),
                            variant.attrs.leaf.get(),
                            variant.attrs.when.get(),
                            &variant.fields,
                        );
                        let cfgs = &variant.cfgs;
                        quote!(#(#cfgs)* __variants.push(#info);)
                    })
                    .collect::<Vec<_>>(),
            ),
            Data::Struct(data) => {
                let info = self.variant_info(
                    quote!(::core::option::Option::None),
                    self.input.attrs.leaf.get(),
                    self.input.attrs.when.get(),
                    &data.fields,
                );
                (false, vec![quote!(__variants.push(#info);)])
            }
        };
        let uses = self
            .input
            .all_fields()
            .any(|field| role(field).binds())
            .then(|| self.imports());
        quote! {
            #uses
            let mut __variants = #krate::__private::Vec::new();
            #(#variants)*
            #krate::Shape::Type(#krate::TypeInfo {
                name: #name,
                type_name: ::core::any::type_name::<Self>(),
                is_enum: #is_enum,
                variants: __variants,
            })
        }
    }

    fn variant_info(
        &self,
        name: TokenStream,
        leaf: Option<&KindPath>,
        when: Option<&Path>,
        fields: &[Field],
    ) -> TokenStream {
        let krate = &self.krate;
        let when = match when {
            Some(path) => {
                let path = path_string(path);
                quote!(::core::option::Option::Some(#path))
            }
            None => quote!(::core::option::Option::None),
        };
        let leaf = match leaf {
            Some(leaf) => {
                let kind = self.kind(leaf);
                quote!(::core::option::Option::Some(#kind::ID))
            }
            None => quote!(::core::option::Option::None),
        };
        let fields = fields.iter().filter_map(|field| {
            let edge = match role(field) {
                Role::Unannotated => return None,
                Role::Skip => {
                    let reason = field.attrs.skip.get().map(syn::LitStr::value).unwrap_or_default();
                    quote!(#krate::Edge::Skip { reason: #reason })
                }
                Role::Forward(filter) => {
                    let (only, except) = self.filter_ids(filter);
                    let target = self.shape_expr(&Shape::of(field.ty));
                    quote! {
                        #krate::Edge::Forward {
                            only: #only,
                            except: #except,
                            target: || #target,
                        }
                    }
                }
                Role::Classified(classifier) => {
                    let target = self.classified_shape(field.ty, classifier);
                    quote! {
                        #krate::Edge::Forward {
                            only: &[],
                            except: &[],
                            target: || #target,
                        }
                    }
                }
                Role::Chain(chain) => {
                    let items = chain.items.iter().map(|item| {
                        let ty = &item.ty;
                        match &item.classifier {
                            None => quote!((&#krate::__private::Probe::<#ty>::new()).__signal_shape()),
                            Some(classifier) => self.classified_shape(ty, classifier),
                        }
                    });
                    let text = chain.text.iter().map(|rule| {
                        let kind = self.kind(&rule.kind);
                        let patterns = rule.patterns.iter().map(|p| p.value().to_lowercase());
                        quote!((#kind::ID, &[#(#patterns),*] as &'static [&'static str]))
                    });
                    quote! {
                        #krate::Edge::Forward {
                            only: &[],
                            except: &[],
                            target: || #krate::Shape::Chain {
                                items: #krate::__private::vec![#(#items),*],
                                text: #krate::__private::vec![#(#text),*],
                            },
                        }
                    }
                }
            };
            let field_name = self.field_name(field);
            let ty = crate::doc::type_string(field.ty);
            let cfgs = &field.cfgs;
            Some(quote!(#(#cfgs)* __fields.push(#krate::FieldInfo { name: #field_name, ty: #ty, edge: #edge });))
        });
        quote!({
            let mut __fields = #krate::__private::Vec::new();
            #(#fields)*
            #krate::VariantInfo { name: #name, leaf: #leaf, when: #when, fields: __fields }
        })
    }

    fn classifying(&self, ty: &dyn ToTokens, classifier: &Path) -> TokenStream {
        let krate = &self.krate;
        quote! {
            (&#krate::__private::Classifying::<_, #ty>(&#classifier, ::core::marker::PhantomData))
        }
    }

    /// `Option<KindId>`: what the classifier says of `value`.
    fn classify(&self, ty: &dyn ToTokens, classifier: &Path, value: &TokenStream) -> TokenStream {
        let classifying = self.classifying(ty, classifier);
        quote!(#classifying.__signal_classify(#value))
    }

    fn classified_shape(&self, ty: &dyn ToTokens, classifier: &Path) -> TokenStream {
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

    /// Every helper trait generated code calls methods of, in scope at once.
    fn imports(&self) -> TokenStream {
        let krate = &self.krate;
        quote! {
            #[allow(unused_imports)]
            use #krate::__private::{
                ClassifyNo as _, ClassifyYes as _, DefaultNone as _, DefaultSome as _,
                DowncastNo as _, DowncastYes as _, FixtureCarrier as _, FixtureInert as _,
                MaybeCarrier as _, MaybeInert as _, ShapeCarrier as _, ShapeInert as _,
            };
        }
    }

    fn shape_expr(&self, shape: &Shape) -> TokenStream {
        let krate = &self.krate;
        match shape {
            Shape::Opaque(ty) => quote!((&#krate::__private::Probe::<#ty>::new()).__signal_shape()),
            Shape::Tuple(elems) => {
                let elems = elems.iter().enumerate().map(|(index, (_, elem))| {
                    let elem = self.shape_expr(elem);
                    quote!((#index, #elem))
                });
                quote!(#krate::__private::tuple_shape(#krate::__private::vec![#(#elems),*]))
            }
            Shape::Seq(inner, _, _) | Shape::Map(inner) => {
                let inner = self.shape_expr(inner);
                quote!(#krate::Shape::Seq(#krate::__private::Box::new(#inner)))
            }
            Shape::Opt(inner, _) | Shape::Deref(inner, _, _) => {
                let inner = self.shape_expr(inner);
                quote!(#krate::Shape::Transparent(#krate::__private::Box::new(#inner)))
            }
        }
    }

    fn fixtures_body(&self) -> TokenStream {
        let krate = &self.krate;
        let bodies: Vec<TokenStream> = match &self.input.data {
            Data::Enum(variants) => variants
                .iter()
                .map(|variant| {
                    let ident = variant.ident;
                    let cfgs = &variant.cfgs;
                    let body = self.variant_fixtures(
                        &quote!(Self::#ident),
                        variant.attrs.leaf.get(),
                        &variant.fields,
                    );
                    quote!(#(#cfgs)* { #body })
                })
                .collect(),
            Data::Struct(data) => {
                vec![self.variant_fixtures(
                    &quote!(Self),
                    self.input.attrs.leaf.get(),
                    &data.fields,
                )]
            }
        };
        let imports = self.imports();
        quote! {
            #imports
            let mut __out = #krate::__private::Vec::new();
            if !__cx.enter(::core::any::type_name::<Self>()) {
                return __out;
            }
            #(#bodies)*
            __cx.leave();
            __out
        }
    }

    /// Fixtures of one variant: its leaf with every field `Default`, then
    /// each forwarded field's fixtures with the other fields `Default`.
    fn variant_fixtures(
        &self,
        path: &TokenStream,
        leaf: Option<&KindPath>,
        fields: &[Field],
    ) -> TokenStream {
        let krate = &self.krate;
        let vars: Vec<Ident> = (0..fields.len())
            .map(|i| format_ident!("__d{}", i))
            .collect();
        // Defaults for every field but `skip`, and the constructor that uses
        // `value` for `skip`.
        let build = |skip: Option<usize>, value: &TokenStream| -> Defaulted {
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
                    quote!((&#krate::__private::Probe::<#ty>::new()).__signal_default())
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
        };
        let mut out = Vec::new();
        if let Some(leaf) = leaf {
            let kind = self.kind(leaf);
            let leaf = build(None, &TokenStream::new());
            let ctor = &leaf.constructor;
            out.push(
                leaf.push(
                    quote!(__out.push(#krate::__private::Fixture::__leaf(#ctor, #kind::ID));),
                ),
            );
        }
        for (index, field) in fields.iter().enumerate() {
            let Role::Forward(filter) = role(field) else {
                continue;
            };
            let ty = field.ty;
            let cfgs = &field.cfgs;
            let fixtures = self.fixtures_expr(&Shape::of(ty), 0);
            let (only, except) = self.filter_ids(filter);
            let wrapped = build(Some(index), &quote!(__v));
            let ctor = &wrapped.constructor;
            let push = wrapped
                .push(quote!(__out.push(__fx.__map(|__v| #ctor).__filtered(#only, #except));));
            out.push(quote! {
                #(#cfgs)* {
                    let __fxs: #krate::__private::Vec<#krate::__private::Fixture<#ty>> = #fixtures;
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
        let krate = &self.krate;
        if !shape.buildable() {
            return quote!(#krate::__private::Vec::new());
        }
        let wrap = |inner: &Shape, elem: &syn::Type, ctor: TokenStream| {
            let inner = self.fixtures_expr(inner, depth + 1);
            quote!({
                let __inner: #krate::__private::Vec<#krate::__private::Fixture<#elem>> = #inner;
                ::core::iter::IntoIterator::into_iter(__inner)
                    .map(|__f| __f.__map(#ctor))
                    .collect::<#krate::__private::Vec<_>>()
            })
        };
        match shape {
            Shape::Opaque(ty) => {
                quote!((&#krate::__private::Probe::<#ty>::new()).__signal_fixtures(__cx))
            }
            Shape::Opt(inner, elem) => wrap(inner, elem, quote!(::core::option::Option::Some)),
            Shape::Deref(inner, _, elem) => wrap(inner, elem, quote!(::core::convert::From::from)),
            Shape::Seq(inner, _, elem) => wrap(
                inner,
                elem,
                quote!(|__e| ::core::iter::FromIterator::from_iter(::core::iter::once(__e))),
            ),
            Shape::Map(..) => quote!(#krate::__private::Vec::new()),
            Shape::Tuple(elems) => {
                let vars: Vec<Ident> = (0..elems.len())
                    .map(|i| format_ident!("__t{}_{}", depth, i))
                    .collect();
                let parts = elems.iter().enumerate().filter(|(_, (_, elem))| elem.buildable()).map(|(index, (elem_ty, elem))| {
                    let fixtures = self.fixtures_expr(elem, depth + 1);
                    let defaults = elems.iter().enumerate().filter(|(i, _)| *i != index).map(|(_, (ty, _))| {
                        quote!((&#krate::__private::Probe::<#ty>::new()).__signal_default())
                    });
                    let patterns = (0..elems.len()).filter(|i| *i != index).map(|i| {
                        let var = &vars[i];
                        quote!(::core::option::Option::Some(#var))
                    });
                    let values = (0..elems.len()).map(|i| {
                        if i == index { quote!(__v) } else { let var = &vars[i]; quote!(#var) }
                    });
                    quote! {
                        let __elem: #krate::__private::Vec<#krate::__private::Fixture<#elem_ty>> = #fixtures;
                        for __fx in __elem {
                            #[allow(irrefutable_let_patterns)]
                            if let (#(#patterns,)*) = (#(#defaults,)*) {
                                __tuple.push(__fx.__map(|__v| (#(#values,)*)));
                            }
                        }
                    }
                });
                quote!({
                    let mut __tuple = #krate::__private::Vec::new();
                    #(#parts)*
                    __tuple
                })
            }
        }
    }

    /// How a path names `field`: `None` for the only field of a tuple variant.
    fn field_name(&self, field: &Field) -> TokenStream {
        let krate = &self.krate;
        if field.sole_unnamed {
            return quote!(::core::option::Option::None);
        }
        let name = match &field.member {
            Member::Named(ident) => {
                let name = ident.unraw().to_string();
                quote!(#krate::FieldName::Named(#name))
            }
            Member::Unnamed(index) => {
                let index = index.index as usize;
                quote!(#krate::FieldName::Index(#index))
            }
        };
        quote!(::core::option::Option::Some(#name))
    }

    /// The compile-time guarantee: every unannotated field's type (and every
    /// type inside it) must not implement `Signal`; every forwarded field must
    /// reach at least one type that does. Errors are spanned to the field.
    fn field_checks(
        &self,
        impl_generics: &syn::ImplGenerics,
        ty_generics: &syn::TypeGenerics,
        where_clause: &TokenStream,
    ) -> TokenStream {
        let krate = &self.krate;
        let ident = self.input.ident;
        let mut checks = Vec::new();
        for field in self.input.all_fields() {
            let ty = field.ty;
            let span = ty.span();
            let cfgs = &field.cfgs;
            let types = match role(field) {
                Role::Skip => continue,
                Role::Classified(classifier) => {
                    let check = quote_spanned! {classifier.span()=>
                        #krate::__private::check_classifier::<#ty, _>(&#classifier);
                    };
                    checks.push(quote!(#(#cfgs)* { #check }));
                    continue;
                }
                Role::Chain(chain) => {
                    checks.push(self.chain_checks(field, chain));
                    continue;
                }
                Role::Unannotated => probe_types(ty),
                Role::Forward(_) => {
                    let mut types = Vec::new();
                    Shape::of(ty).opaque_types(&mut types);
                    types
                }
            };
            let probes = types.iter().map(|inner| {
                quote_spanned!(span=> (&#krate::__private::Probe::<#inner>::new()).__signal_probe())
            });
            let Some(any) = probes
                .reduce(|acc, probe| quote_spanned!(span=> #krate::__private::or(#acc, #probe)))
            else {
                continue;
            };
            let check = match role(field) {
                Role::Forward(_) => {
                    quote_spanned!(span=> #krate::__private::forwarded::<#ty, _>(#any);)
                }
                _ => quote_spanned!(span=> #krate::__private::unannotated::<#ty, _>(#any);),
            };
            checks.push(quote!(#(#cfgs)* { #check }));
        }
        if checks.is_empty() {
            return TokenStream::new();
        }
        quote! {
            const _: () = {
                #[allow(dead_code, unused_qualifications, clippy::all)]
                // Takes the type as an argument for its implied bounds (`T: 'a`).
                fn __signal_field_checks #impl_generics (_: &#ident #ty_generics) #where_clause {
                    use #krate::__private::{ProbeCarrier as _, ProbeInert as _};
                    #(#checks)*
                }
            };
        }
    }
}

impl Expander<'_> {
    /// A chain field must have a `source()` chain; each listed type must be
    /// an error that carries signals, or be classified.
    fn chain_checks(&self, field: &Field, chain: &Chain) -> TokenStream {
        let krate = &self.krate;
        let ty = field.ty;
        let cfgs = &field.cfgs;
        let head = quote_spanned! {ty.span()=>
            #krate::__private::chained::<#ty, _>({
                #[allow(unused_imports)]
                use #krate::__private::{ChainProbeDeref as _, ChainProbeDirect as _, ChainProbeNone as _};
                (&&&#krate::__private::ChainProbe::<#ty>::new()).__signal_chain_probe()
            });
        };
        let items = chain.items.iter().map(|item| {
            let item_ty = &item.ty;
            match &item.classifier {
                None => {
                    quote_spanned!(item_ty.span()=> #krate::__private::chain_item::<#item_ty>();)
                }
                Some(classifier) => quote_spanned! {classifier.span()=>
                    #krate::__private::chain_classified::<#item_ty, _>(&#classifier);
                },
            }
        });
        quote!(#(#cfgs)* { #head #(#items)* })
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

/// A path as written, for names in traces and maps.
fn path_string(path: &Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

fn binding(index: usize) -> Ident {
    format_ident!("__f{}", index, span = Span::call_site())
}

fn binding_tokens(index: usize) -> TokenStream {
    let binding = binding(index);
    quote!(#binding)
}
