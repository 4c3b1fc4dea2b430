//! A guard that runs before the input is parsed: a type nested hundreds of
//! levels deep would overflow the stack of the (recursive) parser and crash
//! the compiler, so it gets a spanned error instead.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};

/// The deepest nesting of generic arguments, groups and `&`/`*` type
/// prefixes the derive parses.
pub const MAX_NESTING: usize = 64;

/// The first token at which `input` nests deeper than [`MAX_NESTING`].
pub fn too_deep(input: &TokenStream) -> Option<Span> {
    scan(input.clone(), 0)
}

fn scan(tokens: TokenStream, outer: usize) -> Option<Span> {
    // `angles`: open `<` of generic arguments; `prefixes`: `&` and `*` since
    // the last separator (each one is a level of the type parser).
    let mut angles = 0usize;
    let mut prefixes = 0usize;
    let mut previous: Option<TokenTree> = None;
    let mut after_pound = false;
    for token in tokens {
        match &token {
            TokenTree::Group(group) => {
                // Attribute contents are not parsed as types.
                let attribute = after_pound && group.delimiter() == Delimiter::Bracket;
                if !attribute
                    && let Some(span) = scan(group.stream(), outer + angles + prefixes + 1)
                {
                    return Some(span);
                }
            }
            TokenTree::Punct(punct) => match punct.as_char() {
                '<' => {
                    let operator = matches!(&previous, Some(TokenTree::Literal(_)));
                    if !operator {
                        angles += 1;
                    }
                }
                '>' => {
                    let arrow = matches!(&previous, Some(TokenTree::Punct(p))
                        if matches!(p.as_char(), '-' | '=') && p.spacing() == proc_macro2::Spacing::Joint);
                    if !arrow {
                        angles = angles.saturating_sub(1);
                    }
                    prefixes = 0;
                }
                '&' | '*' => prefixes += 1,
                ',' | ';' | '=' => prefixes = 0,
                _ => {}
            },
            _ => {}
        }
        if outer + angles + prefixes > MAX_NESTING {
            return Some(token.span());
        }
        after_pound = matches!(&token, TokenTree::Punct(p) if p.as_char() == '#');
        previous = Some(token);
    }
    None
}
