//! Code generation: assembles the impl. Reads the checked model; parses
//! nothing. Each generated part lives in its own file: `visit.rs` (the one
//! body `has` and `walk` run), `describe.rs` (the static description behind
//! `shape` and the node table), `fixtures.rs`, and `field_checks.rs` (the
//! compile-time guarantee; forwarded fields are checked where `visit.rs`
//! reads them).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{DeriveInput, Ident, Path, Type};

use crate::ast::{Data, Field, Input};
use crate::attr::{Chain, Filter, KindPath};
use crate::check::check;
use crate::ctxt::Ctxt;
pub use crate::text::path_string;
use crate::ty::{Shape, mentions};

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
    // Everything generated names the crate through one import, so a wrong
    // `crate = "..."` path is one error, on the attribute.
    let alias: Path = syn::parse_quote!(__signal_core);
    let imports = input.as_ref().map(imports).unwrap_or_default();
    let output = match input {
        Some(input) if !cx.has_errors() => Expander::new(&input, alias).expand(),
        _ => {
            let errors = cx.into_compile_errors();
            let fallback = fallback(node, &alias);
            quote!(#errors #fallback)
        }
    };
    // Spanned at the user's path, so that an unresolved one is reported
    // there.
    let (first, _) = crate::ty::span_range(&krate);
    let import = quote_spanned!(first=> use #krate as __signal_core;);
    quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, unused_qualifications)]
        const _: () = {
            #[allow(unused_imports)]
            #import
            #[allow(unused_imports)]
            use __signal_core::__private as __signal_private;
            #imports
            #output
        };
    }
}

/// The dispatch traits the generated code calls methods of, in scope once for
/// the whole expansion: only the families it uses.
fn imports(input: &Input) -> TokenStream {
    let (mut forward, mut probe, mut chain, mut classify) = (false, false, false, false);
    for field in input.all_fields() {
        match role(field) {
            Role::Forward => forward = true,
            Role::Classified(_) => classify = true,
            Role::Chain(items) => {
                (forward, probe, chain) = (true, true, true);
                classify |= items.items.iter().any(|item| item.classifier.is_some());
            }
            Role::Skip | Role::Unannotated => probe = true,
        }
    }
    let fixtures = cfg!(feature = "fixtures");
    forward |= fixtures;
    // Each family is one glob of a module that holds only `Trait as _`
    // imports: the traits are in scope for method lookup, and no name is.
    let mut names: Vec<TokenStream> = Vec::new();
    if forward {
        names.push(quote!(
            use __signal_core::__private::traits::forward::*;
        ));
    }
    if probe || fixtures {
        names.push(quote!(
            use __signal_core::__private::traits::probe::*;
        ));
    }
    if chain {
        names.push(quote!(
            use __signal_core::__private::traits::chain::*;
        ));
    }
    if classify || fixtures {
        names.push(quote!(
            use __signal_core::__private::traits::classify::*;
        ));
    }
    if fixtures {
        names.push(quote!(
            use __signal_core::__private::traits::fixtures::*;
        ));
    }
    quote!(#(#[allow(unused_imports)] #names)*)
}

/// After an error, an impl that carries nothing, so code using the type does
/// not fail a second time with "does not implement `Signal`". Spanned at the
/// derive: if the `crate = "..."` path itself is wrong, its error is already
/// reported on the attribute.
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

pub struct Expander<'a> {
    pub input: &'a Input<'a>,
    pub krate: Path,
    /// The type's name as it appears in paths (`r#` removed).
    pub name: String,
    /// Predicates added to the where-clause: `Leaf: Signal` for each
    /// forwarded leaf type that mentions a type parameter.
    pub bounds: Vec<&'a Type>,
    /// The type parameters.
    pub params: Vec<&'a Ident>,
    /// The leaf probes of forwarded fields, one per distinct leaf type:
    /// the type as written, and the name its marker is bound to.
    pub leaf_probes: std::cell::RefCell<Vec<(String, Ident, Type)>>,
}

/// What the attributes say a field does.
pub enum Role<'f> {
    Forward,
    Classified(&'f Path),
    Chain(&'f Chain),
    Skip,
    Unannotated,
}

impl Role<'_> {
    /// Whether the generated code reads the field.
    pub fn binds(&self) -> bool {
        matches!(self, Role::Forward | Role::Classified(_) | Role::Chain(_))
    }
}

pub fn role<'f>(field: &'f Field) -> Role<'f> {
    if field.attrs.forward.get().is_some() {
        Role::Forward
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

/// The kinds a forwarding field is consulted for: `forward(only(...))`, or a
/// top-level `only(...)` / `except(...)` next to any way of forwarding.
pub fn filter<'f>(field: &'f Field) -> &'f Filter {
    const ALL: &Filter = &Filter::All;
    if let Some(forward) = field.attrs.forward.get()
        && !matches!(forward.filter, Filter::All)
    {
        return &forward.filter;
    }
    field.attrs.filter.get().unwrap_or(ALL)
}

impl<'a> Expander<'a> {
    fn new(input: &'a Input<'a>, krate: Path) -> Self {
        let params = input.params.clone();
        let mut bounds: Vec<&'a Type> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for field in input.all_fields() {
            if let Role::Forward = role(field) {
                let mut leaves = Vec::new();
                Shape::of(field.ty).leaves(&mut leaves);
                for leaf in leaves {
                    if !mentions(leaf, &params) {
                        continue;
                    }
                    let text = crate::text::type_string(leaf);
                    if !seen.contains(&text) {
                        seen.push(text);
                        bounds.push(leaf);
                    }
                }
            }
        }
        Expander {
            input,
            krate,
            name: input.ident.unraw().to_string(),
            bounds,
            params,
            leaf_probes: std::cell::RefCell::new(Vec::new()),
        }
    }

    fn expand(&self) -> TokenStream {
        let krate = &self.krate;
        let ident = self.input.ident;
        let generics = &self.input.original.generics;
        let (impl_generics, ty_generics, _) = generics.split_for_impl();
        let where_clause = self.where_clause();
        let checks = self.field_checks();
        let visit_body = self.visit_body(&checks);
        let describe = self.describe_fns();
        // Test fixtures are generated only with the `fixtures` feature of
        // `signal-core` (which turns on this crate's): they are most of the
        // code a derive would otherwise emit.
        let fixtures = cfg!(feature = "fixtures").then(|| {
            let body = self.fixtures_body();
            quote! {
                #[inline]
                fn __fixtures(
                    __cx: &mut __signal_private::FixtureCx,
                ) -> __signal_private::Vec<__signal_private::Fixture<Self>> {
                    #body
                }
            }
        });
        let doc = crate::doc::impl_doc(self.input, &self.name);
        quote! {
            #[doc = #doc]
            #[automatically_derived]
            #[allow(unused_qualifications)]
            impl #impl_generics #krate::Signal for #ident #ty_generics #where_clause {
                // `has` and `shape` are the trait's defaults, which run the
                // visit body and the description below when `__derived`
                // says so. `#[inline]` on the methods that only traces, maps
                // and tests call: they are then compiled where they are
                // used, and a crate that only asks `has` does not pay for
                // them.
                #[inline]
                fn walk(&self, __w: &mut #krate::Walker<'_>) -> ::core::ops::ControlFlow<()> {
                    __signal_private::walk(self, __w)
                }

                #[inline(always)]
                fn __derived() -> bool {
                    true
                }

                #[inline]
                #[allow(clippy::all)]
                fn __visit<__V: __signal_private::Visitor>(
                    __this: ::core::option::Option<&Self>,
                    __v: &mut __V,
                ) -> ::core::ops::ControlFlow<()> {
                    #visit_body
                }

                #describe

                #fixtures
            }
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
        let bounds = &self.bounds;
        if existing.is_empty() && bounds.is_empty() {
            return TokenStream::new();
        }
        quote!(where #(#existing,)* #(#bounds: #krate::Signal,)*)
    }

    /// `Path { field: ref __f0, 1: ref __f1, .. }`, binding the fields the
    /// generated code reads.
    pub fn pattern(&self, path: TokenStream, fields: &[Field]) -> TokenStream {
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

    /// `<Kind as Kind>`, spanned at the user's kind.
    pub fn kind(&self, kind: &KindPath) -> TokenStream {
        let krate = &self.krate;
        let path = &kind.path;
        quote_spanned!(path.span()=> <#path as #krate::Kind>)
    }

    /// A filter's `only` and `except` lists, as `&'static [KindId]`.
    pub fn filter_ids(&self, filter: &Filter) -> (TokenStream, TokenStream) {
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

    /// The classifier named in `forward_with` or `chain(Type(classifier))`,
    /// applied where it fits (the field check reports where it does not).
    pub fn classifying(&self, ty: &dyn quote::ToTokens, classifier: &Path) -> TokenStream {
        quote! {
            (&__signal_private::Classifying::<_, #ty>(&#classifier, ::core::marker::PhantomData))
        }
    }

    /// `Kinds`: what the classifier says of `value`.
    pub fn classify(
        &self,
        ty: &dyn quote::ToTokens,
        classifier: &Path,
        value: &TokenStream,
    ) -> TokenStream {
        let classifying = self.classifying(ty, classifier);
        quote!(#classifying.__signal_classify(#value))
    }
}

pub fn binding(index: usize) -> Ident {
    format_ident!("__f{}", index, span = Span::call_site())
}

pub fn binding_tokens(index: usize) -> TokenStream {
    let binding = binding(index);
    quote!(#binding)
}

/// The variants (or the struct body) with their leaf, for the per-variant
/// generators.
pub fn bodies<'i, 'a>(input: &'i Input<'a>) -> Vec<Body<'i, 'a>> {
    match &input.data {
        Data::Enum(variants) => variants
            .iter()
            .map(|variant| Body {
                variant: Some(variant.ident),
                leaf: variant.attrs.leaf.get(),
                when: variant.attrs.when.get(),
                cfgs: &variant.cfgs,
                fields: &variant.fields,
            })
            .collect(),
        Data::Struct(data) => vec![Body {
            variant: None,
            leaf: input.attrs.leaf.get(),
            when: input.attrs.when.get(),
            cfgs: &[],
            fields: &data.fields,
        }],
    }
}

/// One variant, or a struct's body.
pub struct Body<'i, 'a> {
    pub variant: Option<&'a Ident>,
    pub leaf: Option<&'i KindPath>,
    pub when: Option<&'i Path>,
    pub cfgs: &'i [&'a syn::Attribute],
    pub fields: &'i [Field<'a>],
}

impl Body<'_, '_> {
    /// `Self::Variant` or `Self`.
    pub fn path(&self) -> TokenStream {
        match self.variant {
            Some(ident) => quote!(Self::#ident),
            None => quote!(Self),
        }
    }

    /// The variant's name as it appears in paths.
    pub fn variant_name(&self) -> Option<String> {
        self.variant.map(|ident| ident.unraw().to_string())
    }
}

impl Expander<'_> {
    /// The enum-level leaf (`#[signal(leaf = "...")]` on an enum), if any.
    pub fn enum_leaf(&self) -> Option<(&KindPath, Option<&Path>)> {
        match &self.input.data {
            Data::Enum(_) => self
                .input
                .attrs
                .leaf
                .get()
                .map(|leaf| (leaf, self.input.attrs.when.get())),
            Data::Struct(_) => None,
        }
    }

    pub fn is_empty_enum(&self) -> bool {
        matches!(&self.input.data, Data::Enum(variants) if variants.is_empty())
    }
}
