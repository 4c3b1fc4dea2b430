//! The std containers carry what their elements carry, and nothing else.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

use signal_core::{Kind, Signal, kind};

kind! {
    pub Reconnect;
}

#[derive(Debug, Signal)]
pub enum E {
    #[signal(leaf = "Reconnect")]
    Hit,
    Miss,
}

/// Asserts that `carrier` carries `Reconnect` through every entry point and
/// `twin` through none.
fn pair<T: Signal>(carrier: T, twin: T, path: &str) {
    assert!(carrier.has::<Reconnect>(), "{path}: has");
    assert!(carrier.has_kind(Reconnect::ID), "{path}: has_kind");
    assert_eq!(
        carrier
            .trace::<Reconnect>()
            .map(|t| t.to_string())
            .as_deref(),
        Some(path)
    );
    assert!(!twin.has::<Reconnect>(), "{path}: twin has");
    assert!(!twin.has_kind(Reconnect::ID), "{path}: twin has_kind");
    assert!(twin.trace::<Reconnect>().is_none(), "{path}: twin trace");
}

const HIT: &str = "E::Hit (Reconnect)";

#[test]
fn test_pointers_are_transparent() {
    pair(Box::new(E::Hit), Box::new(E::Miss), HIT);
    pair(Arc::new(E::Hit), Arc::new(E::Miss), HIT);
    pair(Rc::new(E::Hit), Rc::new(E::Miss), HIT);
    pair(&E::Hit, &E::Miss, HIT);
    pair(Some(E::Hit), Some(E::Miss), HIT);
    assert!(!None::<E>.has::<Reconnect>());
}

#[test]
fn test_sequences_index_their_elements() {
    pair(
        vec![E::Miss, E::Hit],
        vec![E::Miss, E::Miss],
        "[1] → E::Hit (Reconnect)",
    );
    pair(
        VecDeque::from([E::Miss, E::Hit]),
        VecDeque::from([E::Miss]),
        "[1] → E::Hit (Reconnect)",
    );
    pair(
        [E::Miss, E::Hit],
        [E::Miss, E::Miss],
        "[1] → E::Hit (Reconnect)",
    );
    pair(&[E::Hit][..], &[E::Miss][..], "[0] → E::Hit (Reconnect)");
    pair(
        Box::<[E]>::from(vec![E::Hit]),
        Box::<[E]>::from(vec![E::Miss]),
        "[0] → E::Hit (Reconnect)",
    );
    assert!(!Vec::<E>::new().has::<Reconnect>());
}

#[test]
fn test_maps_walk_values_never_keys() {
    let secret = "hunter2".to_string();
    let carrier = HashMap::from([(secret.clone(), E::Hit)]);
    let twin = HashMap::from([(secret.clone(), E::Miss)]);
    pair(carrier, twin, "[0] → E::Hit (Reconnect)");
    let carrier = BTreeMap::from([(secret.clone(), E::Miss), ("z".to_string(), E::Hit)]);
    let twin = BTreeMap::from([(secret, E::Miss)]);
    pair(carrier, twin, "[1] → E::Hit (Reconnect)");
}

#[test]
fn test_tuples_of_carriers() {
    pair(
        (E::Miss, E::Hit),
        (E::Miss, E::Miss),
        ".1 → E::Hit (Reconnect)",
    );
    pair((E::Hit,), (E::Miss,), ".0 → E::Hit (Reconnect)");
}

#[test]
fn test_nested_containers() {
    pair(
        Some(Box::new(vec![E::Miss, E::Hit])),
        Some(Box::new(vec![E::Miss])),
        "[1] → E::Hit (Reconnect)",
    );
}

#[test]
fn test_trait_objects() {
    let carrier: Box<dyn Signal> = Box::new(E::Hit);
    let twin: Box<dyn Signal> = Box::new(E::Miss);
    pair(carrier, twin, HIT);
    let carrier: Box<dyn Signal + Send + Sync> = Box::new(E::Hit);
    let twin: Box<dyn Signal + Send + Sync> = Box::new(E::Miss);
    pair(carrier, twin, HIT);
    let carrier: Arc<dyn Signal + Send + Sync> = Arc::new(E::Hit);
    let twin: Arc<dyn Signal + Send + Sync> = Arc::new(E::Miss);
    pair(carrier, twin, HIT);
    let carrier: Rc<dyn Signal> = Rc::new(E::Hit);
    let twin: Rc<dyn Signal> = Rc::new(E::Miss);
    pair(carrier, twin, HIT);
    let hit = E::Hit;
    let miss = E::Miss;
    let carrier: &(dyn Signal + Send) = &hit;
    let twin: &(dyn Signal + Send) = &miss;
    pair(carrier, twin, HIT);
    // A bare trait object answers through the object-safe methods.
    let object: &dyn Signal = &hit;
    assert!(object.has_kind(Reconnect::ID));
    assert_eq!(object.traces_kind(Reconnect::ID).len(), 1);
    let object: &dyn Signal = &miss;
    assert!(!object.has_kind(Reconnect::ID));
}

#[test]
fn test_traces_lists_every_path_in_order() {
    let many = vec![E::Hit, E::Miss, E::Hit];
    let traces: Vec<String> = many
        .traces::<Reconnect>()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        traces,
        ["[0] → E::Hit (Reconnect)", "[2] → E::Hit (Reconnect)"]
    );
    assert!(vec![E::Miss].traces::<Reconnect>().is_empty());
}

/// The longest tuple the derive reads, forwarded: its last part is walked.
#[allow(clippy::type_complexity)]
#[derive(Signal)]
pub struct Wide {
    #[signal(forward)]
    pub parts: (
        u8,
        u8,
        u8,
        u8,
        u8,
        u8,
        u8,
        u8,
        u8,
        u8,
        u8,
        u8,
        u8,
        u8,
        u8,
        E,
    ),
}

#[test]
fn test_sixteen_part_tuple_forwards_its_last_part() {
    let wide = |last| Wide {
        parts: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last),
    };
    pair(
        wide(E::Hit),
        wide(E::Miss),
        "Wide.parts.15 → E::Hit (Reconnect)",
    );
}
