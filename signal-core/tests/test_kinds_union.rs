//! `Kinds` combined: `Kinds::union` in constants, `|` and `|=` at run time.
//! Each positive case next to a negative twin.

use signal_core::vocab::{
    BadCredentials, ConnectionReset, NeverSent, RateLimited, TimedOut, TransientNetwork,
    Unavailable,
};
use signal_core::{Kind, KindId, Kinds, kind, kinds};

kind! {
    pub A;
    pub B;
    pub C;
    pub D;
    pub E;
    pub F;
    pub G;
    pub H;
    pub I;
    pub J;
}

/// A status × error-code table, written as unions of its rows and columns.
const RATE_LIMITED: Kinds = Kinds::one(RateLimited::ID);
const RETRY_LATER: Kinds = kinds![Unavailable, TimedOut];
const BOTH: Kinds = RATE_LIMITED.union(RETRY_LATER);

#[test]
fn test_a_const_union_holds_both_sides() {
    assert!(BOTH.implies(RateLimited::ID));
    assert!(BOTH.implies(Unavailable::ID));
    assert!(BOTH.implies(TimedOut::ID));
    assert_eq!(BOTH.as_slice().len(), 3);
    // The twin: nothing that neither side holds.
    assert!(!BOTH.implies(BadCredentials::ID));
    assert!(!BOTH.implies(TransientNetwork::ID));
}

#[test]
fn test_a_kind_on_both_sides_is_kept_once() {
    const TWICE: Kinds = RETRY_LATER.union(Kinds::one(TimedOut::ID));
    assert_eq!(TWICE.as_slice(), [Unavailable::ID, TimedOut::ID]);
    let runtime = Kinds::one(A::ID) | Kinds::one(A::ID);
    assert_eq!(runtime.as_slice(), [A::ID]);
    // The twin: two different kinds are both kept.
    assert_eq!((Kinds::one(A::ID) | B::ID).as_slice(), [A::ID, B::ID]);
}

#[test]
fn test_union_at_run_time_from_a_table() {
    let rows = [Kinds::NONE, Kinds::one(ConnectionReset::ID), RATE_LIMITED];
    let mut all = Kinds::NONE;
    for row in rows {
        all |= row;
    }
    assert!(all.implies(TransientNetwork::ID) && all.implies(RateLimited::ID));
    assert!(!all.implies(NeverSent::ID));
    assert_eq!(Kinds::NONE | Kinds::NONE, Kinds::NONE);
    assert!((Kinds::NONE | Kinds::NONE).is_empty());
}

#[test]
fn test_equal_whatever_the_order() {
    assert_eq!(kinds![A, B], kinds![B, A]);
    assert_eq!(Kinds::one(A::ID) | B::ID, Kinds::one(B::ID) | A::ID);
    assert_ne!(kinds![A, B], kinds![A, C]);
    assert_ne!(kinds![A, B], Kinds::one(A::ID));
}

#[test]
fn test_more_kinds_than_fit_inline_are_all_kept() {
    let ids: [KindId; 10] = [
        A::ID,
        B::ID,
        C::ID,
        D::ID,
        E::ID,
        F::ID,
        G::ID,
        H::ID,
        I::ID,
        J::ID,
    ];
    assert!(ids.len() > Kinds::INLINE);
    let mut all = Kinds::NONE;
    for id in ids {
        all |= id;
    }
    assert_eq!(all.as_slice(), ids);
    for id in ids {
        assert!(all.implies(id), "{id:?}");
    }
    // The twin: a kind never added is not there.
    assert!(!all.implies(TimedOut::ID));
    // And the same union again is the same value.
    let mut again = Kinds::NONE;
    for id in ids.iter().rev() {
        again |= *id;
    }
    assert_eq!(all, again);
}
