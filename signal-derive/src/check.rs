//! Rules that involve where an attribute appears, or more than one attribute.

use syn::Ident;

use crate::ast::{Data, Field, Input, Variant};
use crate::attr::Attrs;
use crate::ctxt::Ctxt;
use crate::ty;

pub fn check(cx: &Ctxt, input: &Input) {
    check_item(cx, &input.attrs);
    match &input.data {
        Data::Enum(variants) => variants
            .iter()
            .for_each(|variant| check_variant(cx, variant)),
        Data::Struct(data) => data.fields.iter().for_each(|field| check_field(cx, field)),
    }
    for field in input.all_fields() {
        check_type(cx, field, &input.params);
    }
}

/// Without an annotation, a field's type must hold nothing the derive cannot
/// see through. (Types too deep to read are refused before parsing: see
/// `depth.rs`.)
fn check_type(cx: &Ctxt, field: &Field, params: &[&Ident]) {
    let attrs = &field.attrs;
    if attrs.skip.get().is_some() {
        return;
    }
    let annotated = attrs.forward.get().is_some()
        || attrs.forward_with.get().is_some()
        || attrs.chain.get().is_some();
    if annotated {
        // A part of a forwarded tuple that may hold anything would pass for
        // data.
        if attrs.forward.get().is_some() {
            let shape = ty::Shape::of(field.ty);
            if let Some(len) = shape.longest_tuple().filter(|len| *len > ty::MAX_TUPLE) {
                cx.error_spanned_by(
                    field.ty,
                    format!(
                        "this forwarded field holds a tuple of {len} parts, and the derive reads \
                         tuples of up to {}: name the parts in a struct that derives `Signal`",
                        ty::MAX_TUPLE
                    ),
                );
            }
            let mut leaves = Vec::new();
            shape.leaves(&mut leaves);
            if leaves.len() > 1
                && let Some(part) = leaves
                    .iter()
                    .filter_map(|leaf| ty::undecidable(leaf, params))
                    .find(|part| part.final_)
            {
                cx.error_spanned_by(
                    field.ty,
                    format!(
                        "a part of this forwarded field cannot be walked: {}",
                        part.what
                    ),
                );
            }
        }
        return;
    }
    if let Some(part) = ty::undecidable(field.ty, params) {
        let message = if part.final_ {
            format!(
                "the derive cannot tell whether this field carries signals: {}",
                part.what
            )
        } else {
            let bound = if part.parameter {
                " (this adds a `Signal` bound)"
            } else {
                ""
            };
            format!(
                "the derive cannot tell whether this field carries signals: {}. \
                 Decide: `#[signal(forward)]` to pass its signals on{bound}, or \
                 `#[signal(skip = \"reason\")]` to drop them on purpose",
                part.what
            )
        };
        cx.error_spanned_by(field.ty, message);
    }
}

fn check_item(cx: &Ctxt, attrs: &Attrs) {
    field_only(cx, attrs, "a type");
    // On an enum, `leaf` makes every variant raise the kind (and `when`
    // makes that conditional); on a struct, the struct raises it.
    check_when(cx, attrs);
    if let Some(span) = attrs.forward.span() {
        cx.error_at(
            span,
            "`forward` goes on a field, not on a type: `#[signal(forward)]` before the field to forward",
        );
    }
    if let Some(span) = attrs.skip.span() {
        cx.error_at(
            span,
            "`skip` goes on a field, not on a type: `#[signal(skip = \"reason\")]` before the field to skip",
        );
    }
}

fn check_variant(cx: &Ctxt, variant: &Variant) {
    if let Some(span) = variant.attrs.forward.span() {
        cx.error_at(
            span,
            format!(
                "`forward` goes on a field, not on a variant: write `{}(#[signal(forward)] Inner)`",
                variant.ident
            ),
        );
    }
    if let Some(span) = variant.attrs.skip.span() {
        cx.error_at(
            span,
            format!(
                "`skip` goes on a field, not on a variant: write `{}(#[signal(skip = \"reason\")] Inner)`",
                variant.ident
            ),
        );
    }
    not_here(cx, &variant.attrs, "a variant");
    field_only(cx, &variant.attrs, "a variant");
    check_when(cx, &variant.attrs);
    variant
        .fields
        .iter()
        .for_each(|field| check_field(cx, field));
}

fn check_field(cx: &Ctxt, field: &Field) {
    if let Some(span) = field.attrs.leaf.span() {
        cx.error_at(
            span,
            "`leaf` goes on a variant or a struct, not on a field; \
             to pass on the signals of this field's type, use `#[signal(forward)]`",
        );
    }
    if let (Some(_), Some(skip)) = (field.attrs.forward.span(), field.attrs.skip.span()) {
        cx.error_at(
            skip,
            "a field is either forwarded or skipped, not both: \
             keep `forward` to pass its signals on, or `skip = \"reason\"` to drop them",
        );
    }
    let ways = [
        ("forward", field.attrs.forward.span()),
        ("skip", field.attrs.skip.span()),
        ("forward_with", field.attrs.forward_with.span()),
        ("chain", field.attrs.chain.span()),
    ];
    let set: Vec<_> = ways
        .iter()
        .filter_map(|(name, span)| span.map(|s| (*name, s)))
        .collect();
    if set.len() > 1 && !(set.len() == 2 && set[0].0 == "forward" && set[1].0 == "skip") {
        cx.error_at(
            set[1].1,
            format!(
                "`{}` and `{}` cannot be combined: a field's signals are forwarded one way, or skipped",
                set[0].0, set[1].0
            ),
        );
    }
    if let Some(span) = field.attrs.when.span() {
        cx.error_at(
            span,
            "`when` goes with a `leaf` on a variant or a struct, not on a field",
        );
    }
    if let Some(span) = field.attrs.filter.span() {
        let forwards = field.attrs.forward.get();
        if let Some(forward) = forwards
            && !matches!(forward.filter, crate::attr::Filter::All)
        {
            cx.error_at(
                span,
                "this field already has a filter in `forward(...)`: list every kind there, \
                 or write `forward, only(...)`",
            );
        } else if forwards.is_none()
            && field.attrs.forward_with.get().is_none()
            && field.attrs.chain.get().is_none()
        {
            cx.error_at(
                span,
                "`only(...)` and `except(...)` filter what a field forwards: \
                 use them next to `forward`, `forward_with` or `chain(...)`",
            );
        }
    }
    not_here(cx, &field.attrs, "a field");
}

fn not_here(cx: &Ctxt, attrs: &Attrs, place: &str) {
    if let Some(span) = attrs.krate.span() {
        cx.error_at(
            span,
            format!("`crate` goes on the type being derived, not on {place}"),
        );
    }
}

/// `forward_with`, `chain` and filters describe a field.
fn field_only(cx: &Ctxt, attrs: &Attrs, place: &str) {
    for (name, span) in [
        ("forward_with", attrs.forward_with.span()),
        ("chain", attrs.chain.span()),
        ("only`/`except", attrs.filter.span()),
    ] {
        if let Some(span) = span {
            cx.error_at(span, format!("`{name}` goes on a field, not on {place}"));
        }
    }
}

fn check_when(cx: &Ctxt, attrs: &Attrs) {
    if let (Some(span), None) = (attrs.when.span(), attrs.leaf.span()) {
        cx.error_at(
            span,
            "`when` makes a leaf conditional, and there is no `leaf` here: \
             write `#[signal(leaf = \"Kind\", when = \"predicate\")]`",
        );
    }
}
