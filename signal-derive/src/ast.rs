//! A typed model of the derive input, borrowed from `syn`, with attributes
//! already read. Each node keeps `original` for spans.

use proc_macro2::Span;
use syn::{Attribute, DeriveInput, Ident, Member, Type};

use crate::attr::Attrs;
use crate::ctxt::Ctxt;

pub struct Input<'a> {
    pub original: &'a DeriveInput,
    pub ident: &'a Ident,
    /// The type parameters, collected once.
    pub params: Vec<&'a Ident>,
    pub attrs: Attrs,
    pub data: Data<'a>,
}

pub enum Data<'a> {
    Enum(Vec<Variant<'a>>),
    Struct(Struct<'a>),
}

pub struct Struct<'a> {
    pub fields: Vec<Field<'a>>,
}

pub struct Variant<'a> {
    pub ident: &'a Ident,
    pub attrs: Attrs,
    pub cfgs: Vec<&'a Attribute>,
    pub fields: Vec<Field<'a>>,
}

pub struct Field<'a> {
    pub member: Member,
    pub ty: &'a Type,
    pub attrs: Attrs,
    pub cfgs: Vec<&'a Attribute>,
    /// Whether this is the only field of a tuple variant or tuple struct
    /// (a path through it names no field).
    pub sole_unnamed: bool,
}

impl<'a> Input<'a> {
    /// Reads the input, or returns `None` (with an error recorded) for a union.
    pub fn from_syn(cx: &Ctxt, node: &'a DeriveInput) -> Option<Input<'a>> {
        let attrs = Attrs::parse(cx, &node.attrs);
        let data = match &node.data {
            syn::Data::Enum(data) => Data::Enum(
                data.variants
                    .iter()
                    .map(|variant| Variant {
                        ident: &variant.ident,
                        attrs: Attrs::parse(cx, &variant.attrs),
                        cfgs: cfgs(&variant.attrs),
                        fields: fields(cx, &variant.fields, true),
                    })
                    .collect(),
            ),
            syn::Data::Struct(data) => Data::Struct(Struct {
                fields: fields(cx, &data.fields, false),
            }),
            syn::Data::Union(data) => {
                cx.error_at(
                    data.union_token.span,
                    "`Signal` cannot be derived for a union: the derive cannot tell which field \
                     is live. Use an enum, or implement `Signal` by hand",
                );
                return None;
            }
        };
        Some(Input {
            original: node,
            ident: &node.ident,
            params: node
                .generics
                .type_params()
                .map(|param| &param.ident)
                .collect(),
            attrs,
            data,
        })
    }

    pub fn all_fields(&self) -> Box<dyn Iterator<Item = &Field<'a>> + '_> {
        match &self.data {
            Data::Enum(variants) => Box::new(variants.iter().flat_map(|v| v.fields.iter())),
            Data::Struct(data) => Box::new(data.fields.iter()),
        }
    }
}

fn fields<'a>(cx: &Ctxt, fields: &'a syn::Fields, in_variant: bool) -> Vec<Field<'a>> {
    let sole_unnamed = matches!(fields, syn::Fields::Unnamed(f) if f.unnamed.len() == 1);
    fields
        .iter()
        .enumerate()
        .map(|(index, field)| Field {
            member: match &field.ident {
                Some(ident) => Member::Named(ident.clone()),
                None => Member::Unnamed(syn::Index {
                    index: index as u32,
                    span: Span::call_site(),
                }),
            },
            ty: &field.ty,
            attrs: Attrs::parse(cx, &field.attrs),
            cfgs: cfgs(&field.attrs),
            sole_unnamed: sole_unnamed && in_variant,
        })
        .collect()
}

fn cfgs(attrs: &[Attribute]) -> Vec<&Attribute> {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg"))
        .collect()
}
