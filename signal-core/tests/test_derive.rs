//! The derive on every input shape it accepts: enums of every variant kind,
//! structs, generics, `#[cfg]`, raw identifiers, `#[non_exhaustive]`, empty
//! enums, struct leaves and per-signal filters. Positive and negative cases
//! side by side.

#![allow(dead_code, clippy::non_minimal_cfg, clippy::type_complexity)]

use signal_core::{Kind, Signal, kind};

kind! {
    /// Broad.
    pub Reconnect;
    /// Precise; implies `Reconnect`.
    pub PoolGone: Reconnect;
    /// Unrelated.
    pub Retryable;
    /// Implies two kinds.
    pub Timeout: Retryable + Transient;
    /// Broad network kind.
    pub Transient;
}

#[derive(Debug, Signal)]
pub enum Leafy {
    #[signal(leaf = "PoolGone")]
    Pool,
    #[signal(leaf = "Timeout")]
    Timeout {
        after_ms: u64,
    },
    #[signal(leaf = "Retryable")]
    Busy(u32),
    Benign,
}

#[test]
fn test_unit_tuple_and_named_leaves() {
    assert!(Leafy::Pool.has::<PoolGone>());
    assert!(Leafy::Timeout { after_ms: 5 }.has::<Transient>());
    assert!(Leafy::Busy(3).has::<Retryable>());
}

#[test]
fn test_leaves_raise_nothing_else() {
    assert!(!Leafy::Benign.has::<Reconnect>());
    assert!(!Leafy::Benign.has::<Retryable>());
    assert!(!Leafy::Busy(3).has::<Reconnect>());
    assert!(!Leafy::Pool.has::<Retryable>());
    assert!(!Leafy::Timeout { after_ms: 5 }.has::<Reconnect>());
}

#[test]
fn test_implication_is_transitive_and_one_way() {
    assert!(PoolGone::implies::<Reconnect>());
    assert!(PoolGone::implies::<PoolGone>());
    assert!(!Reconnect::implies::<PoolGone>());
    assert!(Timeout::implies::<Retryable>() && Timeout::implies::<Transient>());
    assert!(!Retryable::implies::<Timeout>());
    assert!(PoolGone::ID.implies(Reconnect::ID));
    assert!(!Reconnect::ID.implies(PoolGone::ID));
    assert_eq!(
        PoolGone::ID.chain_to(Reconnect::ID),
        Some(vec![PoolGone::ID, Reconnect::ID])
    );
    assert_eq!(Reconnect::ID.chain_to(PoolGone::ID), None);
    assert_eq!(PoolGone::ID.name(), "PoolGone");
    assert_eq!(PoolGone::ID.doc().trim(), "Precise; implies `Reconnect`.");
}

#[derive(Debug, Signal)]
#[signal(leaf = "Reconnect")]
pub struct AlwaysReconnect {
    pub attempts: u32,
}

#[derive(Debug, Signal)]
pub struct Tuple(#[signal(forward)] pub Leafy, pub u64);

#[test]
fn test_struct_leaf_and_tuple_struct() {
    assert!(AlwaysReconnect { attempts: 1 }.has::<Reconnect>());
    assert!(!AlwaysReconnect { attempts: 1 }.has::<Retryable>());
    assert!(Tuple(Leafy::Pool, 1).has::<Reconnect>());
    assert!(!Tuple(Leafy::Benign, 1).has::<Reconnect>());
    assert_eq!(
        Tuple(Leafy::Pool, 1)
            .trace::<Reconnect>()
            .unwrap()
            .to_string(),
        "Tuple.0 → Leafy::Pool (PoolGone ⇒ Reconnect)"
    );
}

#[derive(Debug, Signal)]
pub enum Filtered {
    Only(#[signal(forward(only(Reconnect)))] Leafy),
    Except(#[signal(forward(except(Retryable)))] Leafy),
}

#[test]
fn test_only_forwards_listed_kinds_and_their_precise_forms() {
    assert!(Filtered::Only(Leafy::Pool).has::<Reconnect>());
    // A question about a more precise kind passes an `only` of the broad one.
    assert!(Filtered::Only(Leafy::Pool).has::<PoolGone>());
    assert!(Filtered::Only(Leafy::Pool).has_kind(PoolGone::ID));
}

#[test]
fn test_only_holds_back_other_kinds() {
    assert!(Leafy::Busy(1).has::<Retryable>());
    assert!(!Filtered::Only(Leafy::Busy(1)).has::<Retryable>());
    assert!(!Filtered::Only(Leafy::Busy(1)).has_kind(Retryable::ID));
    assert!(
        Filtered::Only(Leafy::Busy(1))
            .trace::<Retryable>()
            .is_none()
    );
}

#[test]
fn test_except_holds_back_listed_kinds() {
    assert!(!Filtered::Except(Leafy::Busy(1)).has::<Retryable>());
    assert!(!Filtered::Except(Leafy::Busy(1)).has_kind(Retryable::ID));
    // `Timeout` implies `Transient` as well: only the question about
    // `Retryable` is held back.
    let timeout = Filtered::Except(Leafy::Timeout { after_ms: 1 });
    assert!(!timeout.has::<Retryable>());
    assert!(timeout.has::<Transient>());
}

#[test]
fn test_except_forwards_other_kinds() {
    assert!(Filtered::Except(Leafy::Pool).has::<Reconnect>());
    assert!(Filtered::Except(Leafy::Pool).has_kind(Reconnect::ID));
}

#[derive(Debug, Signal)]
pub struct Generic<T, U> {
    #[signal(forward)]
    pub inner: T,
    #[signal(skip = "a label: data, whatever its type")]
    pub label: U,
}

#[derive(Debug, Signal)]
pub enum GenericEnum<E>
where
    E: std::fmt::Debug,
{
    Many(#[signal(forward)] Vec<E>),
    None,
}

#[derive(Debug, Signal)]
pub struct Lifetimes<'a, T> {
    #[signal(forward)]
    pub borrowed: &'a T,
}

#[derive(Debug, Signal)]
pub struct ConstGeneric<const N: usize> {
    #[signal(forward)]
    pub last: [Leafy; N],
}

#[test]
fn test_generics() {
    // `U` needs no `Signal` bound: it is skipped.
    let generic = Generic {
        inner: Leafy::Pool,
        label: std::time::Duration::ZERO,
    };
    assert!(generic.has::<Reconnect>());
    let generic = Generic {
        inner: Leafy::Benign,
        label: (),
    };
    assert!(!generic.has::<Reconnect>());
    assert!(GenericEnum::Many(vec![Leafy::Benign, Leafy::Pool]).has::<Reconnect>());
    assert!(!GenericEnum::Many(vec![Leafy::Benign]).has::<Reconnect>());
    assert!(!GenericEnum::<Leafy>::None.has::<Reconnect>());
    let leaf = Leafy::Pool;
    assert!(Lifetimes { borrowed: &leaf }.has::<Reconnect>());
    assert!(
        !Lifetimes {
            borrowed: &Leafy::Benign
        }
        .has::<Reconnect>()
    );
    assert!(
        ConstGeneric {
            last: [Leafy::Benign, Leafy::Pool]
        }
        .has::<Reconnect>()
    );
    assert!(
        !ConstGeneric {
            last: [Leafy::Benign]
        }
        .has::<Reconnect>()
    );
}

#[derive(Debug, Signal)]
#[non_exhaustive]
pub enum WithCfg {
    #[cfg(any())]
    Gone(Leafy),
    #[cfg(all())]
    #[signal(leaf = "Retryable")]
    Present,
    Kept {
        #[cfg(any())]
        hidden: Leafy,
        #[signal(forward)]
        shown: Leafy,
    },
}

#[test]
fn test_cfg_and_non_exhaustive() {
    assert!(WithCfg::Present.has::<Retryable>());
    assert!(WithCfg::Kept { shown: Leafy::Pool }.has::<Reconnect>());
    assert!(
        !WithCfg::Kept {
            shown: Leafy::Benign
        }
        .has::<Reconnect>()
    );
}

#[derive(Debug, Signal)]
pub enum r#Raw {
    #[signal(leaf = "Reconnect")]
    r#Match,
    r#Type {
        #[signal(forward)]
        r#type: Leafy,
    },
}

#[test]
fn test_raw_identifiers_render_without_prefix() {
    assert!(Raw::Match.has::<Reconnect>());
    let nested = Raw::Type {
        r#type: Leafy::Pool,
    };
    assert_eq!(
        nested.trace::<Reconnect>().unwrap().to_string(),
        "Raw::Type.type → Leafy::Pool (PoolGone ⇒ Reconnect)"
    );
    assert!(
        !Raw::Type {
            r#type: Leafy::Benign
        }
        .has::<Reconnect>()
    );
}

#[derive(Debug, Signal)]
pub enum Empty {}

#[derive(Debug, Signal)]
pub struct Unit;

#[test]
fn test_empty_enum_and_unit_struct_carry_nothing() {
    assert!(!Unit.has::<Reconnect>());
    let none: Option<Empty> = None;
    assert!(!none.has::<Reconnect>());
}

#[derive(Debug, Signal)]
pub struct Skipped {
    #[signal(skip = "reported to the user directly; never triggers a reconnect")]
    pub user_facing: Leafy,
    #[signal(forward)]
    pub internal: Option<Leafy>,
}

#[test]
fn test_skipped_fields_carry_nothing() {
    let skipped = Skipped {
        user_facing: Leafy::Pool,
        internal: None,
    };
    assert!(!skipped.has::<Reconnect>());
    let forwarded = Skipped {
        user_facing: Leafy::Benign,
        internal: Some(Leafy::Pool),
    };
    assert!(forwarded.has::<Reconnect>());
}

pub struct NotASignal(pub &'static str);

#[derive(Signal)]
pub struct MixedTuples {
    #[signal(forward)]
    pub by_cursor: Vec<(u64, NotASignal, Leafy)>,
    #[signal(forward)]
    pub nested: Option<Box<[(String, Vec<(u8, Leafy)>)]>>,
}

#[test]
fn test_tuples_mixing_data_and_carriers() {
    let carrier = MixedTuples {
        by_cursor: vec![
            (1, NotASignal("a"), Leafy::Benign),
            (2, NotASignal("b"), Leafy::Pool),
        ],
        nested: None,
    };
    assert!(carrier.has::<Reconnect>());
    assert_eq!(
        carrier.trace::<Reconnect>().unwrap().to_string(),
        "MixedTuples.by_cursor[1].2 → Leafy::Pool (PoolGone ⇒ Reconnect)"
    );
    let deep = MixedTuples {
        by_cursor: vec![],
        nested: Some(vec![("x".into(), vec![(0, Leafy::Benign), (1, Leafy::Busy(1))])].into()),
    };
    assert!(deep.has::<Retryable>());
    assert_eq!(
        deep.trace::<Retryable>().unwrap().to_string(),
        "MixedTuples.nested[0].1[1].1 → Leafy::Busy (Retryable)"
    );
    assert!(!deep.has::<Reconnect>());
    let twin = MixedTuples {
        by_cursor: vec![(1, NotASignal("a"), Leafy::Benign)],
        nested: Some(vec![("x".into(), vec![(0, Leafy::Benign)])].into()),
    };
    assert!(!twin.has::<Reconnect>());
    assert!(!twin.has::<Retryable>());
}

#[derive(Signal)]
pub struct GenericTuple<T> {
    #[signal(forward)]
    pub pairs: Vec<(u64, T)>,
}

#[test]
fn test_generic_inside_tuple_is_forwarded() {
    assert!(
        GenericTuple {
            pairs: vec![(1, Leafy::Pool)]
        }
        .has::<Reconnect>()
    );
    assert!(
        !GenericTuple {
            pairs: vec![(1, Leafy::Benign)]
        }
        .has::<Reconnect>()
    );
}

#[test]
fn test_only_and_except_are_visible_in_the_map() {
    let map = signal_core::map::<Filtered>();
    let retry = map
        .sections()
        .iter()
        .find(|s| s.kind == Retryable::ID)
        .unwrap();
    let held: Vec<(String, &str)> = retry
        .held_back
        .iter()
        .map(|h| (h.at.to_string(), h.filter.as_str()))
        .collect();
    assert_eq!(
        held,
        [
            ("Filtered::Only".to_string(), "only(Reconnect)"),
            ("Filtered::Except".to_string(), "except(Retryable)")
        ]
    );
    // The reconnect section goes through both.
    let reconnect: Vec<String> = map
        .paths(Reconnect::ID)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        reconnect,
        [
            "Filtered::Only → Leafy::Pool (PoolGone ⇒ Reconnect)",
            "Filtered::Except → Leafy ↑",
        ]
    );
    // Transient passes `except(Retryable)` but not `only(Reconnect)`.
    let transient = map
        .sections()
        .iter()
        .find(|s| s.kind == Transient::ID)
        .unwrap();
    assert_eq!(transient.held_back.len(), 1);
    assert_eq!(transient.paths.len(), 1);
    assert!(
        map.to_markdown()
            .contains("- `Filtered::Only` — `only(Reconnect)`")
    );
}

mod reexported {
    pub use signal_core as signals;
}

/// The crate reached through a re-export, as a library that wraps
/// `signal-core` would.
#[derive(Debug, Signal)]
#[signal(crate = "reexported::signals")]
pub enum ThroughReexport {
    Inner(#[signal(forward)] Leafy),
    Plain,
}

#[test]
fn test_crate_path_through_a_reexport() {
    assert!(ThroughReexport::Inner(Leafy::Pool).has::<Reconnect>());
    assert!(!ThroughReexport::Inner(Leafy::Benign).has::<Reconnect>());
    assert!(!ThroughReexport::Plain.has::<Reconnect>());
}

mod when_calls {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use signal_core::{Signal, kind};

    kind! {
        pub Unauthorized;
        pub Unrelated;
    }

    static CALLS: AtomicUsize = AtomicUsize::new(0);

    fn is_401(error: &HttpError) -> bool {
        CALLS.fetch_add(1, Ordering::SeqCst);
        matches!(error, HttpError::Status(401))
    }

    #[derive(Signal)]
    pub enum HttpError {
        #[signal(leaf = "Unauthorized", when = "is_401")]
        Status(u16),
    }

    /// A conditional leaf's predicate runs only when the kind asked about is
    /// one the leaf raises: `has` of an unrelated kind stays a plain match.
    #[test]
    fn test_when_predicate_not_called_for_unrelated_kinds() {
        CALLS.store(0, Ordering::SeqCst);
        assert!(!HttpError::Status(401).has::<Unrelated>());
        assert!(HttpError::Status(401).trace::<Unrelated>().is_none());
        assert_eq!(CALLS.load(Ordering::SeqCst), 0);
        // The twin: asked about the leaf's own kind, it decides.
        assert!(HttpError::Status(401).has::<Unauthorized>());
        assert!(!HttpError::Status(500).has::<Unauthorized>());
        assert_eq!(CALLS.load(Ordering::SeqCst), 2);
    }
}
