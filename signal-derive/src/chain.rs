//! `chain(...)` fields: the walk of a dynamic `source()` chain (`has` asks
//! it with a walker that stops at the first leaf).

use proc_macro2::TokenStream;
use quote::quote;
use syn::{PathArguments, Type};

use crate::attr::Chain;
use crate::expand::{Expander, path_string};

/// The trait object `ty` points to, if it is a pointer to one (`Box<dyn X>`,
/// `Arc<dyn X>`, `Rc<dyn X>`, `&dyn X`). Such a chain head is taken by
/// coercion at the field, which also upcasts a user trait with `Error` as a
/// supertrait.
pub fn dyn_target(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Paren(inner) => dyn_target(&inner.elem),
        Type::Group(inner) => dyn_target(&inner.elem),
        Type::Reference(reference) => {
            matches!(&*reference.elem, Type::TraitObject(_)).then_some(&*reference.elem)
        }
        Type::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?;
            if !matches!(last.ident.to_string().as_str(), "Box" | "Arc" | "Rc") {
                return None;
            }
            match &last.arguments {
                PathArguments::AngleBracketed(args) => args.args.iter().find_map(|arg| match arg {
                    syn::GenericArgument::Type(object @ Type::TraitObject(_)) => Some(object),
                    _ => None,
                }),
                _ => None,
            }
        }
        _ => None,
    }
}

impl Expander<'_> {
    fn text_rules(&self, chain: &Chain) -> TokenStream {
        let krate = &self.krate;
        let rules = chain.text.iter().map(|rule| {
            let kind = self.kind(&rule.kind);
            let patterns = rule.patterns.iter().map(|p| p.value().to_lowercase());
            quote!(#krate::TextRule { kind: #kind::ID, patterns: &[#(#patterns),*] })
        });
        quote!(&[#(#rules),*])
    }

    /// The head of a chain field, as `Option<&(dyn Error + 'static)>`.
    fn chain_head(&self, ty: &Type, value: &TokenStream) -> TokenStream {
        if dyn_target(ty).is_some() {
            return quote! {
                ::core::option::Option::Some({
                    let __h: &(dyn ::std::error::Error + 'static) = &**#value;
                    __h
                })
            };
        }
        quote!((&&&__signal_private::ChainRef(#value)).__signal_chain())
    }

    pub fn chain_walk(&self, ty: &Type, chain: &Chain, value: &TokenStream) -> TokenStream {
        let krate = &self.krate;
        let head = self.chain_head(ty, value);
        let rules = self.text_rules(chain);
        let items = chain.items.iter().map(|item| {
            let item_ty = &item.ty;
            let walk = match &item.classifier {
                None => {
                    let probe = self.probe_any(item_ty);
                    quote!(__signal_private::forward_walk(__t, __w, #probe))
                }
                Some(classifier) => {
                    let name = path_string(classifier);
                    let classify = self.classify(item_ty, classifier, &quote!(__t));
                    quote!(__signal_private::walk_kinds(__w, #name, #classify))
                }
            };
            quote! {
                if let ::core::option::Option::Some(__t) =
                    (&__signal_private::Downcast::<#item_ty>::new()).__signal_downcast(__e)
                {
                    return ::core::option::Option::Some(
                        __w.enter(#krate::Step::Source(__depth), |__w| #walk),
                    );
                }
            }
        });
        quote! {
            match #head {
                ::core::option::Option::Some(__head) => __signal_private::chain_walk(
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
}
