//! `Signal::shape`: the type's static description, for maps.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Path;

use crate::attr::KindPath;
use crate::expand::{Body, Expander, Role, bodies, filter, path_string, role};
use crate::ty::Shape;

impl Expander<'_> {
    /// `shape()`: the type's description, from a table of variants that is
    /// a constant (built at compile time, no code per variant).
    pub fn shape_body(&self) -> TokenStream {
        let krate = &self.krate;
        let name = &self.name;
        let is_enum = matches!(self.input.data, crate::ast::Data::Enum(_));
        let (leaf, when) = match self.enum_leaf() {
            Some((leaf, when)) => (self.leaf_id(Some(leaf)), when_name(when)),
            None => (self.leaf_id(None), when_name(None)),
        };
        quote! {
            #krate::Shape::Type(#krate::TypeInfo {
                name: #name,
                type_name: ::core::any::type_name::<Self>(),
                is_enum: #is_enum,
                leaf: #leaf,
                when: #when,
                variants: Self::__SIGNAL_VARIANTS,
            })
        }
    }

    /// The inherent constant `shape()` reads: one `VariantInfo` per variant
    /// (the struct's body for a struct).
    pub fn variants_const(&self, where_clause: &TokenStream) -> TokenStream {
        let krate = &self.krate;
        let ident = self.input.ident;
        let (impl_generics, ty_generics, _) = self.input.original.generics.split_for_impl();
        let mut targets = Vec::new();
        let variants: Vec<TokenStream> = bodies(self.input)
            .into_iter()
            .map(|body| {
                let info = self.variant_info(&body, &mut targets);
                let cfgs = body.cfgs;
                quote!(#(#cfgs)* #info)
            })
            .collect();
        let nodes = self.nodes.borrow();
        let nodes = nodes.iter();
        let arms = targets.iter().enumerate().map(|(index, (cfgs, target))| {
            let index = index as u32;
            quote!(#(#cfgs)* #index => #target,)
        });
        quote! {
            #[automatically_derived]
            #[allow(unused_qualifications, clippy::all)]
            impl #impl_generics #ident #ty_generics #where_clause {
                #[doc(hidden)]
                const __SIGNAL_VARIANTS: &'static [#krate::VariantInfo] = &[#(#variants),*];

                #[doc(hidden)]
                const __SIGNAL_NODES: &'static [#krate::Node] = &[#(#nodes),*];

                /// The shapes of the forwarded fields' types, by index: one
                /// function for the whole type.
                #[doc(hidden)]
                fn __signal_target(__index: u32) -> #krate::Shape {
                    match __index {
                        #(#arms)*
                        _ => #krate::Shape::Inert,
                    }
                }
            }
        }
    }

    fn leaf_id(&self, leaf: Option<&KindPath>) -> TokenStream {
        match leaf {
            Some(leaf) => {
                let kind = self.kind(leaf);
                quote!(::core::option::Option::Some(#kind::ID))
            }
            None => quote!(::core::option::Option::None),
        }
    }

    fn variant_info<'i, 'a>(
        &self,
        body: &Body<'i, 'a>,
        targets: &mut Vec<(&'i [&'a syn::Attribute], TokenStream)>,
    ) -> TokenStream {
        let krate = &self.krate;
        let name = match body.variant_name() {
            Some(name) => quote!(::core::option::Option::Some(#name)),
            None => quote!(::core::option::Option::None),
        };
        let when = when_name(body.when);
        let leaf = self.leaf_id(body.leaf);
        let fields = body.fields.iter().filter_map(|field| {
            let target = match role(field) {
                Role::Unannotated => return None,
                Role::Skip => {
                    let reason = field
                        .attrs
                        .skip
                        .get()
                        .map(syn::LitStr::value)
                        .unwrap_or_default();
                    let field_name = self.field_name(field);
                    let ty = crate::doc::type_string(field.ty);
                    let cfgs = &field.cfgs;
                    return Some(quote! {
                        #(#cfgs)* #krate::FieldInfo {
                            name: #field_name,
                            ty: #ty,
                            edge: #krate::Edge::Skip { reason: #reason },
                        }
                    });
                }
                Role::Forward => self.shape_expr(&Shape::of(field.ty)),
                Role::Classified(classifier) => self.classified_shape(field.ty, classifier),
                Role::Chain(chain) => {
                    let items = chain.items.iter().map(|item| {
                        let ty = &item.ty;
                        match &item.classifier {
                            None => {
                                quote!((&&&&#krate::__private::Probe::<#ty>::new()).__signal_shape())
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
                            items: #krate::__private::vec![#(#items),*],
                            text: #krate::__private::vec![#(#text),*],
                        }
                    }
                }
            };
            let index = targets.len() as u32;
            targets.push((&field.cfgs[..], target));
            let target = quote!(#krate::Target::__new(Self::__signal_target, #index));
            let (only, except) = self.filter_ids(filter(field));
            let field_name = self.field_name(field);
            let ty = crate::doc::type_string(field.ty);
            let cfgs = &field.cfgs;
            Some(quote! {
                #(#cfgs)* #krate::FieldInfo {
                    name: #field_name,
                    ty: #ty,
                    edge: #krate::Edge::Forward {
                        only: #only,
                        except: #except,
                        target: #target,
                    },
                }
            })
        });
        quote! {
            #krate::VariantInfo { name: #name, leaf: #leaf, when: #when, fields: &[#(#fields),*] }
        }
    }

    fn shape_expr(&self, shape: &Shape) -> TokenStream {
        let krate = &self.krate;
        match shape {
            Shape::Leaf(ty) => {
                quote!((&&&&#krate::__private::Probe::<#ty>::new()).__signal_shape())
            }
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

    fn classified_shape(&self, ty: &dyn quote::ToTokens, classifier: &Path) -> TokenStream {
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

fn when_name(when: Option<&Path>) -> TokenStream {
    match when {
        Some(path) => {
            let path = path_string(path);
            quote!(::core::option::Option::Some(#path))
        }
        None => quote!(::core::option::Option::None),
    }
}
