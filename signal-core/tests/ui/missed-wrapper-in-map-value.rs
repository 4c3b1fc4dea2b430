use signal_core::{kind, Signal};

kind! {
    pub Reconnect;
}

#[derive(Debug, Signal)]
pub enum Inner {
    #[signal(leaf = "Reconnect")]
    Dropped,
}

use std::collections::HashMap;

#[derive(Signal)]
pub struct Outer {
    by_group: HashMap<String, Inner>,
}

fn main() {}
