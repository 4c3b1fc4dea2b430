//! The derive macro behind `signal-core`. Depend on `signal-core`, which
//! re-exports it; the attribute reference lives there.

mod ast;
mod attr;
mod chain;
mod check;
mod ctxt;
mod depth;
mod describe;
mod doc;
mod expand;
mod field_checks;
mod fixtures;
mod has;
mod ty;
mod walk;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Derives `signal_core::Signal`. See `signal_core`'s documentation of the
/// derive for the attributes.
#[proc_macro_derive(Signal, attributes(signal))]
pub fn derive_signal(input: TokenStream) -> TokenStream {
    let tokens = proc_macro2::TokenStream::from(input.clone());
    if let Some(span) = depth::too_deep(&tokens) {
        return syn::Error::new(
            span,
            format!(
                "this type nests more than {} levels deep, more than the derive reads: \
                 name an inner part with a type alias or a struct",
                depth::MAX_NESTING
            ),
        )
        .to_compile_error()
        .into();
    }
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}
