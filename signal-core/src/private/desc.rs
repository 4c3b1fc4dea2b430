//! A derived type's static description: one string per type, written by the
//! derive and parsed on first use, instead of constant tables (which the
//! compiler would evaluate in every build, used or not).
//!
//! The string is a sequence of tokens: `s<len>:<text>` (a string of `len`
//! bytes), `i<n>;` (a number), `n` (none), `f` and `k` (a forwarding and a
//! skipped field). Kinds are numbers into the kinds the derive passes at run
//! time; items under `#[cfg(...)]` name their entry in the presence flags.
//!
//! ```text
//! type    = s<name> i<is_enum> kind? when? i<variants> variant*
//! variant = cond? s<name>? kind? when? i<fields> field*
//! field   = cond? name? s<type> (f list list i<target> | k s<reason>)
//! name    = s<named> | i<position>          (none: the only tuple field)
//! list    = i<len> i<kind>*
//! ```

use alloc::boxed::Box;
use alloc::vec::Vec;
use std::sync::{Mutex, OnceLock};

use crate::kind::KindId;
use crate::shape::{Edge, FieldInfo, Shape, Target, TypeInfo, VariantInfo};
use crate::trace::{FieldName, Node};

/// The description of one derived type, as the derive wrote it.
pub struct Desc {
    text: &'static str,
    parsed: OnceLock<Parsed>,
    /// For a generic type whose kinds are type parameters: one parse per
    /// list of kinds (per instantiation), since the static is shared.
    by_kinds: Option<Mutex<Vec<ByKinds>>>,
}

/// A description parsed for one list of kinds.
type ByKinds = (Vec<KindId>, &'static Parsed);

impl Desc {
    #[allow(missing_docs)]
    pub const fn new(text: &'static str) -> Self {
        Desc {
            text,
            parsed: OnceLock::new(),
            by_kinds: None,
        }
    }

    /// A description whose kinds depend on the type's parameters.
    pub const fn generic(text: &'static str) -> Self {
        Desc {
            text,
            parsed: OnceLock::new(),
            by_kinds: Some(Mutex::new(Vec::new())),
        }
    }

    /// The parsed description, `kinds` and `present` as the derive passes
    /// them (the same on every call, but for kinds that are type
    /// parameters).
    #[inline]
    pub fn get(&'static self, kinds: &[KindId], present: &[bool]) -> &'static Parsed {
        match &self.by_kinds {
            None => self
                .parsed
                .get_or_init(|| Parsed::parse(self.text, kinds, present)),
            Some(cache) => {
                let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((_, parsed)) = cache.iter().find(|(known, _)| known == kinds) {
                    return parsed;
                }
                let parsed: &'static Parsed =
                    Box::leak(Box::new(Parsed::parse(self.text, kinds, present)));
                cache.push((kinds.to_vec(), parsed));
                parsed
            }
        }
    }
}

/// A parsed description: the node table `walk` names hops from, and what
/// `shape` describes.
pub struct Parsed {
    name: &'static str,
    is_enum: bool,
    leaf: Option<KindId>,
    when: Option<&'static str>,
    variants: Vec<ParsedVariant>,
    /// Every hop, by the index the generated code uses.
    pub nodes: Vec<Node>,
    /// The variant tables of `shape`, per instantiation (keyed by the
    /// instantiation's describing function): a generic type shares its
    /// description, not its fields' shapes.
    tables: Mutex<Vec<(usize, &'static [VariantInfo])>>,
}

struct ParsedVariant {
    name: Option<&'static str>,
    leaf: Option<KindId>,
    when: Option<&'static str>,
    fields: Vec<ParsedField>,
}

struct ParsedField {
    name: Option<FieldName>,
    ty: &'static str,
    edge: ParsedEdge,
}

enum ParsedEdge {
    Forward {
        only: &'static [KindId],
        except: &'static [KindId],
        target: u32,
    },
    Skip {
        reason: &'static str,
    },
}

struct Cursor<'k> {
    text: &'static str,
    kinds: &'k [KindId],
    present: &'k [bool],
}

impl Cursor<'_> {
    fn peek(&self) -> u8 {
        self.text.as_bytes().first().copied().unwrap_or(0)
    }

    fn bump(&mut self) -> u8 {
        let byte = self.peek();
        self.text = &self.text[1..];
        byte
    }

    fn number(&mut self) -> usize {
        let tag = self.bump();
        debug_assert_eq!(tag, b'i');
        let end = self.text.find(';').unwrap_or(self.text.len());
        let value = self.text[..end].parse().unwrap_or(0);
        self.text = &self.text[end + 1..];
        value
    }

    fn string(&mut self) -> &'static str {
        let tag = self.bump();
        debug_assert_eq!(tag, b's');
        let end = self.text.find(':').unwrap_or(0);
        let len: usize = self.text[..end].parse().unwrap_or(0);
        let value = &self.text[end + 1..end + 1 + len];
        self.text = &self.text[end + 1 + len..];
        value
    }

    fn none(&mut self) -> bool {
        if self.peek() == b'n' {
            self.bump();
            true
        } else {
            false
        }
    }

    fn opt_string(&mut self) -> Option<&'static str> {
        if self.none() {
            None
        } else {
            Some(self.string())
        }
    }

    fn kind(&mut self) -> KindId {
        let index = self.number();
        self.kinds[index]
    }

    fn opt_kind(&mut self) -> Option<KindId> {
        if self.none() { None } else { Some(self.kind()) }
    }

    /// Whether the next item is compiled in.
    fn present(&mut self) -> bool {
        if self.none() {
            true
        } else {
            let index = self.number();
            self.present[index]
        }
    }

    fn kind_list(&mut self) -> &'static [KindId] {
        let len = self.number();
        if len == 0 {
            return &[];
        }
        let list: Vec<KindId> = (0..len).map(|_| self.kind()).collect();
        Box::leak(list.into_boxed_slice())
    }
}

impl Parsed {
    fn parse(text: &'static str, kinds: &[KindId], present: &[bool]) -> Parsed {
        let mut cursor = Cursor {
            text,
            kinds,
            present,
        };
        let name = cursor.string();
        let is_enum = cursor.number() == 1;
        let leaf = cursor.opt_kind();
        let when = cursor.opt_string();
        let mut nodes = Vec::new();
        if leaf.is_some() {
            nodes.push(Node {
                ty: name,
                variant: None,
                field: None,
            });
        }
        let count = cursor.number();
        let mut variants = Vec::with_capacity(count);
        for _ in 0..count {
            let here = cursor.present();
            let variant_name = cursor.opt_string();
            let variant_leaf = cursor.opt_kind();
            let variant_when = cursor.opt_string();
            if variant_leaf.is_some() {
                nodes.push(Node {
                    ty: name,
                    variant: variant_name,
                    field: None,
                });
            }
            let count = cursor.number();
            let mut fields = Vec::with_capacity(count);
            for _ in 0..count {
                let field_here = cursor.present();
                let field_name = if cursor.none() {
                    None
                } else if cursor.peek() == b's' {
                    Some(FieldName::Named(cursor.string()))
                } else {
                    Some(FieldName::Index(cursor.number()))
                };
                let ty = cursor.string();
                let edge = match cursor.bump() {
                    b'f' => {
                        let only = cursor.kind_list();
                        let except = cursor.kind_list();
                        let target = cursor.number() as u32;
                        nodes.push(Node {
                            ty: name,
                            variant: variant_name,
                            field: field_name,
                        });
                        ParsedEdge::Forward {
                            only,
                            except,
                            target,
                        }
                    }
                    _ => ParsedEdge::Skip {
                        reason: cursor.string(),
                    },
                };
                if field_here {
                    fields.push(ParsedField {
                        name: field_name,
                        ty,
                        edge,
                    });
                }
            }
            if here {
                variants.push(ParsedVariant {
                    name: variant_name,
                    leaf: variant_leaf,
                    when: variant_when,
                    fields,
                });
            }
        }
        Parsed {
            name,
            is_enum,
            leaf,
            when,
            variants,
            nodes,
            tables: Mutex::new(Vec::new()),
        }
    }

    /// `Signal::shape` of the type named `type_name`, whose fields' shapes
    /// `describe` gives by target index.
    pub fn shape(&'static self, type_name: &'static str, describe: fn(u32) -> Shape) -> Shape {
        Shape::Type(TypeInfo {
            name: self.name,
            type_name,
            is_enum: self.is_enum,
            leaf: self.leaf,
            when: self.when,
            variants: self.variants(describe),
        })
    }

    fn variants(&'static self, describe: fn(u32) -> Shape) -> &'static [VariantInfo] {
        let key = describe as usize;
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, table)) = tables.iter().find(|(k, _)| *k == key) {
            return table;
        }
        let table: Vec<VariantInfo> = self
            .variants
            .iter()
            .map(|variant| {
                let fields: Vec<FieldInfo> = variant
                    .fields
                    .iter()
                    .map(|field| FieldInfo {
                        name: field.name,
                        ty: field.ty,
                        edge: match field.edge {
                            ParsedEdge::Forward {
                                only,
                                except,
                                target,
                            } => Edge::Forward {
                                only,
                                except,
                                target: Target::__new(describe, target),
                            },
                            ParsedEdge::Skip { reason } => Edge::Skip { reason },
                        },
                    })
                    .collect();
                VariantInfo {
                    name: variant.name,
                    leaf: variant.leaf,
                    when: variant.when,
                    fields: Box::leak(fields.into_boxed_slice()),
                }
            })
            .collect();
        let table: &'static [VariantInfo] = Box::leak(table.into_boxed_slice());
        tables.push((key, table));
        table
    }
}
