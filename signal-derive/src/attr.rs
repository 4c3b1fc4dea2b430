//! Parses `#[signal(...)]` attributes into typed slots. Where an attribute may
//! appear is decided later, in `check.rs`; this file only reads them.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, LitStr, Path, Token};

use crate::ctxt::Ctxt;

/// The keys `#[signal(...)]` understands, for "unknown attribute" messages.
const KEYS: &str = "`forward`, `skip = \"reason\"`, `leaf = \"Kind\"`, `when = \"predicate\"`, \
                    `forward_with = \"classifier\"`, `chain(...)`, `only(...)`, `except(...)`, \
                    or `crate = \"path\"`";

/// One attribute slot: set at most once, remembering where it was set.
pub struct Attr<T> {
    name: &'static str,
    value: Option<(Span, T)>,
}

impl<T> Attr<T> {
    fn none(name: &'static str) -> Self {
        Attr { name, value: None }
    }

    fn set(&mut self, cx: &Ctxt, span: Span, value: T) {
        if let Some((first, _)) = &self.value {
            let mut error =
                syn::Error::new(span, format!("duplicate signal attribute `{}`", self.name));
            error.combine(syn::Error::new(
                *first,
                format!("`{}` first set here", self.name),
            ));
            cx.syn_error(error);
        } else {
            self.value = Some((span, value));
        }
    }

    pub fn get(&self) -> Option<&T> {
        self.value.as_ref().map(|(_, value)| value)
    }

    pub fn span(&self) -> Option<Span> {
        self.value.as_ref().map(|(span, _)| *span)
    }
}

/// A kind named in an attribute: the path, spanned at the user's text.
#[derive(Clone)]
pub struct KindPath {
    pub path: Path,
}

impl ToTokens for KindPath {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.path.to_tokens(tokens);
    }
}

/// `forward`, `forward(only(A, B))` or `forward(except(C))`.
pub struct Forward {
    pub filter: Filter,
}

pub enum Filter {
    All,
    Only(Vec<KindPath>),
    Except(Vec<KindPath>),
}

/// Every `#[signal(...)]` key found on one item, variant or field.
pub struct Attrs {
    pub forward: Attr<Forward>,
    /// `only(...)` or `except(...)` next to `forward`, `forward_with` or
    /// `chain(...)`.
    pub filter: Attr<Filter>,
    pub skip: Attr<LitStr>,
    pub leaf: Attr<KindPath>,
    pub when: Attr<Path>,
    pub forward_with: Attr<Path>,
    pub chain: Attr<Chain>,
    pub krate: Attr<Path>,
}

/// `chain(Type, Type(classifier), text(Kind("pattern", ...)))`.
pub struct Chain {
    pub items: Vec<ChainItem>,
    pub text: Vec<TextRule>,
}

/// A type to look for in a `source()` chain, with its classifier if it is
/// foreign.
pub struct ChainItem {
    pub ty: Path,
    pub classifier: Option<Path>,
}

/// `Kind("pattern", ...)` inside `text(...)`.
pub struct TextRule {
    pub kind: KindPath,
    pub patterns: Vec<LitStr>,
}

impl Attrs {
    pub fn parse(cx: &Ctxt, attrs: &[Attribute]) -> Attrs {
        let mut out = Attrs {
            forward: Attr::none("forward"),
            filter: Attr::none("only/except"),
            skip: Attr::none("skip"),
            leaf: Attr::none("leaf"),
            when: Attr::none("when"),
            forward_with: Attr::none("forward_with"),
            chain: Attr::none("chain"),
            krate: Attr::none("crate"),
        };
        for attr in attrs {
            if !attr.path().is_ident("signal") {
                continue;
            }
            match &attr.meta {
                syn::Meta::Path(path) => {
                    cx.error_spanned_by(
                        path,
                        format!("expected `#[signal(...)]` with one of {KEYS}"),
                    );
                    continue;
                }
                syn::Meta::NameValue(meta) => {
                    cx.error_spanned_by(
                        meta,
                        format!(
                            "expected `#[signal(...)]` with one of {KEYS}, not `#[signal = ...]`"
                        ),
                    );
                    continue;
                }
                syn::Meta::List(list) => {
                    if !matches!(list.delimiter, syn::MacroDelimiter::Paren(_)) {
                        cx.error_spanned_by(list, "expected parentheses: `#[signal(...)]`");
                        continue;
                    }
                    if list.tokens.is_empty() {
                        cx.error_spanned_by(
                            list,
                            format!("`#[signal()]` says nothing; expected one of {KEYS}"),
                        );
                        continue;
                    }
                }
            }
            let result = attr.parse_nested_meta(|meta| {
                if let Err(error) = parse_key(cx, &mut out, &meta) {
                    cx.syn_error(error);
                    skip_value(&meta);
                }
                Ok(())
            });
            if let Err(error) = result {
                cx.syn_error(error);
            }
        }
        out
    }
}

fn parse_key(cx: &Ctxt, out: &mut Attrs, meta: &ParseNestedMeta) -> syn::Result<()> {
    let span = meta
        .path
        .segments
        .first()
        .map_or_else(Span::call_site, |s| s.ident.span());
    if meta.path.is_ident("forward") {
        let filter = if meta.input.peek(syn::token::Paren) {
            parse_filter(meta)?
        } else if meta.input.peek(Token![=]) {
            return Err(meta.error(
                "`forward` takes no value: write `#[signal(forward)]`, \
                 or `#[signal(forward(only(Kind, ...)))]` / `#[signal(forward(except(Kind, ...)))]`",
            ));
        } else {
            Filter::All
        };
        out.forward.set(cx, span, Forward { filter });
    } else if meta.path.is_ident("skip") {
        if !meta.input.peek(Token![=]) {
            return Err(meta.error(
                "`skip` needs a reason: write `#[signal(skip = \"why this field's signals do not matter here\")]`",
            ));
        }
        let reason = parse_lit_str(meta.value()?)?;
        if reason.value().trim().is_empty() {
            return Err(syn::Error::new(
                reason.span(),
                "the reason for `skip` is empty: say why this field's signals do not matter here",
            ));
        }
        out.skip.set(cx, span, reason);
    } else if meta.path.is_ident("leaf") {
        if !meta.input.peek(Token![=]) {
            return Err(meta.error(
                "`leaf` names the kind this raises: write `#[signal(leaf = \"KindName\")]`",
            ));
        }
        let kind = parse_path_value(meta.value()?)?;
        out.leaf.set(cx, span, KindPath { path: kind });
    } else if meta.path.is_ident("when") {
        if !meta.input.peek(Token![=]) {
            return Err(meta.error(
                "`when` names a predicate: write `#[signal(leaf = \"Kind\", when = \"fn_name\")]` \
                 with `fn fn_name(&Self) -> bool`",
            ));
        }
        let predicate = parse_path_value(meta.value()?)?;
        out.when.set(cx, span, predicate);
    } else if meta.path.is_ident("forward_with") {
        if !meta.input.peek(Token![=]) {
            return Err(meta.error(
                "`forward_with` names a classifier: write `#[signal(forward_with = \"classify_fn\")]`",
            ));
        }
        let classifier = parse_path_value(meta.value()?)?;
        out.forward_with.set(cx, span, classifier);
    } else if meta.path.is_ident("chain") {
        let chain = parse_chain(meta, span)?;
        out.chain.set(cx, span, chain);
    } else if meta.path.is_ident("only") || meta.path.is_ident("except") {
        let filter = parse_filter_list(meta)?;
        out.filter.set(cx, span, filter);
    } else if meta.path.is_ident("crate") {
        let path = parse_path_value(meta.value()?)?;
        out.krate.set(cx, span, path);
    } else {
        let name = meta.path.to_token_stream().to_string().replace(' ', "");
        return Err(meta.error(format!(
            "unknown signal attribute `{name}`; expected {KEYS}"
        )));
    }
    Ok(())
}

/// `(only(A, B))` or `(except(C))` after `forward`.
fn parse_filter(meta: &ParseNestedMeta) -> syn::Result<Filter> {
    let mut filter: Option<(Span, Filter)> = None;
    let mut errors: Option<syn::Error> = None;
    meta.parse_nested_meta(|inner| {
        let span = inner
            .path
            .segments
            .first()
            .map_or_else(Span::call_site, |s| s.ident.span());
        let is_only = inner.path.is_ident("only");
        let has_list = inner.input.peek(syn::token::Paren);
        let list = if has_list {
            let content;
            syn::parenthesized!(content in inner.input);
            Some(Punctuated::<Path, Token![,]>::parse_terminated(&content)?)
        } else {
            None
        };
        if !is_only && !inner.path.is_ident("except") {
            let name = inner.path.to_token_stream().to_string().replace(' ', "");
            return Err(syn::Error::new(
                span,
                format!("unknown forward filter `{name}`; expected `only(Kind, ...)` or `except(Kind, ...)`"),
            ));
        }
        let word = if is_only { "only" } else { "except" };
        let Some(list) = list else {
            return Err(inner.error(format!(
                "`{word}` lists kinds in parentheses: `{word}(Kind, ...)`"
            )));
        };
        let kinds: Vec<KindPath> = list.into_iter().map(|path| KindPath { path }).collect();
        if kinds.is_empty() {
            return Err(syn::Error::new(
                span,
                format!("`{word}()` lists no kinds; name at least one, or use plain `forward`"),
            ));
        }
        let new = if is_only {
            Filter::Only(kinds)
        } else {
            Filter::Except(kinds)
        };
        match &filter {
            None => filter = Some((span, new)),
            Some((first, existing)) => {
                let message = match (existing, &new) {
                    (Filter::Only(_), Filter::Except(_)) | (Filter::Except(_), Filter::Only(_)) => {
                        "`only` and `except` cannot be combined: list the kinds to forward with \
                         `only`, or the kinds to hold back with `except`"
                            .to_owned()
                    }
                    _ => format!(
                        "duplicate forward filter `{word}`: list every kind in one `{word}(...)`"
                    ),
                };
                let mut error = syn::Error::new(span, message);
                error.combine(syn::Error::new(*first, "first filter here"));
                match &mut errors {
                    Some(all) => all.combine(error),
                    None => errors = Some(error),
                }
            }
        }
        Ok(())
    })?;
    if let Some(error) = errors {
        return Err(error);
    }
    Ok(filter.map_or(Filter::All, |(_, filter)| filter))
}

/// Top-level `only(A, B)` or `except(C)`, next to `forward`, `forward_with`
/// or `chain(...)`.
fn parse_filter_list(meta: &ParseNestedMeta) -> syn::Result<Filter> {
    let word = if meta.path.is_ident("only") {
        "only"
    } else {
        "except"
    };
    let span = meta.path.span();
    if !meta.input.peek(syn::token::Paren) {
        return Err(meta.error(format!(
            "`{word}` lists kinds in parentheses: `{word}(Kind, ...)`"
        )));
    }
    let content;
    syn::parenthesized!(content in meta.input);
    let paths = Punctuated::<Path, Token![,]>::parse_terminated(&content)?;
    let kinds: Vec<KindPath> = paths.into_iter().map(|path| KindPath { path }).collect();
    if kinds.is_empty() {
        return Err(syn::Error::new(
            span,
            format!("`{word}()` lists no kinds; name at least one, or drop it"),
        ));
    }
    Ok(if word == "only" {
        Filter::Only(kinds)
    } else {
        Filter::Except(kinds)
    })
}

/// `(Type, Type(classifier), text(Kind("pattern", ...)))` after `chain`.
fn parse_chain(meta: &ParseNestedMeta, span: Span) -> syn::Result<Chain> {
    if !meta.input.peek(syn::token::Paren) {
        return Err(meta.error(
            "`chain` lists the types to look for in the `source()` chain: \
             `#[signal(chain(StorageError, std::io::Error(classify_io)))]`",
        ));
    }
    let mut chain = Chain {
        items: Vec::new(),
        text: Vec::new(),
    };
    let mut text_seen = false;
    if paren_is_empty(meta.input) {
        skip_group(meta.input);
        return Err(syn::Error::new(
            span,
            "`chain()` lists nothing to look for: name the error types that carry signals, \
             or classified foreign types as `Type(classifier)`",
        ));
    }
    // Parsed straight from the attribute's tokens (not re-parsed from a
    // copy), so that every error points into the attribute.
    meta.parse_nested_meta(|item| {
        if item.path.is_ident("text") {
            text_seen = true;
            let text_span = item.path.span();
            let no_rules = || {
                syn::Error::new(
                    text_span,
                    "`text` has no patterns: the text matcher is off unless you list rules, \
                     `text(Kind(\"pattern\", ...))`",
                )
            };
            if !item.input.peek(syn::token::Paren) {
                return Err(no_rules());
            }
            if paren_is_empty(item.input) {
                skip_group(item.input);
                return Err(no_rules());
            }
            let before = chain.text.len();
            item.parse_nested_meta(|rule| {
                let kind = KindPath {
                    path: rule.path.clone(),
                };
                if !rule.input.peek(syn::token::Paren) {
                    return Err(syn::Error::new(
                        rule.path.span(),
                        "a text rule lists its patterns: `Kind(\"pattern\", ...)`",
                    ));
                }
                let content;
                syn::parenthesized!(content in rule.input);
                let patterns = Punctuated::<LitStr, Token![,]>::parse_terminated_with(
                    &content,
                    parse_lit_str,
                )?;
                if patterns.is_empty() {
                    return Err(syn::Error::new(
                        rule.path.span(),
                        "a text rule needs at least one pattern: `Kind(\"pattern\", ...)`",
                    ));
                }
                if let Some(empty) = patterns.iter().find(|p| p.value().trim().is_empty()) {
                    return Err(syn::Error::new(
                        empty.span(),
                        "an empty pattern would match every error",
                    ));
                }
                chain.text.push(TextRule {
                    kind,
                    patterns: patterns.into_iter().collect(),
                });
                Ok(())
            })?;
            if chain.text.len() == before {
                return Err(no_rules());
            }
            return Ok(());
        }
        let classifier = if item.input.peek(syn::token::Paren) {
            let content;
            syn::parenthesized!(content in item.input);
            if content.is_empty() {
                return Err(syn::Error::new(
                    item.path.span(),
                    "empty parentheses after a chain type: name its classifier, \
                     `Type(classify_fn)`, or drop the parentheses",
                ));
            }
            Some(content.parse::<Path>()?)
        } else {
            None
        };
        chain.items.push(ChainItem {
            ty: item.path.clone(),
            classifier,
        });
        Ok(())
    })?;
    if chain.items.is_empty() && !text_seen {
        return Err(syn::Error::new(
            span,
            "`chain()` lists nothing to look for: name the error types that carry signals, \
             or classified foreign types as `Type(classifier)`",
        ));
    }
    Ok(chain)
}

/// A path given as a string literal (`"Kind"`), spanned at the literal, or
/// written bare (`Kind`).
fn parse_path_value(input: ParseStream) -> syn::Result<Path> {
    if input.peek(LitStr) {
        let lit = parse_lit_str(input)?;
        if lit.value().trim().is_empty() {
            return Err(syn::Error::new(
                lit.span(),
                "expected a path, found an empty string",
            ));
        }
        lit.parse::<Path>().map_err(|_| {
            syn::Error::new(
                lit.span(),
                format!(
                    "`{}` is not a path; expected a kind such as \"NeedsDbReconnect\"",
                    lit.value()
                ),
            )
        })
    } else {
        input.parse::<Path>()
    }
}

/// Whether the input starts with `()`.
fn paren_is_empty(input: ParseStream) -> bool {
    fn inner(input: ParseStream) -> syn::Result<bool> {
        let content;
        syn::parenthesized!(content in input);
        Ok(content.is_empty())
    }
    inner(&input.fork()).unwrap_or(false)
}

/// Consumes one token tree (a group), after an error about it.
fn skip_group(input: ParseStream) {
    let _ = input.step(|cursor| match cursor.token_tree() {
        Some((_, rest)) => Ok(((), rest)),
        None => Ok(((), *cursor)),
    });
}

/// A string literal without a suffix (`"x"suffix` is an error).
fn parse_lit_str(input: ParseStream) -> syn::Result<LitStr> {
    let lit: LitStr = input.parse()?;
    if !lit.suffix().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "unexpected suffix `{}` on a string literal; write a plain \"...\"",
                lit.suffix()
            ),
        ));
    }
    Ok(lit)
}

/// After an error in one key, skip its value so the keys after it are still
/// read and their errors reported in the same compile.
fn skip_value(meta: &ParseNestedMeta) {
    let _ = meta.input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            if let proc_macro2::TokenTree::Punct(punct) = &tt
                && punct.as_char() == ','
            {
                return Ok(((), rest));
            }
            rest = next;
        }
        Ok(((), rest))
    });
}
