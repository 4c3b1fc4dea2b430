use signal_core::{kind, Signal};

kind! {
    pub Reconnect;
}

#[derive(Debug, Signal)]
pub enum Inner {
    #[signal(leaf = "Reconnect")]
    Dropped,
}

use std::sync::Arc;

#[derive(Signal)]
pub enum Outer {
    Shared(Arc<Inner>),
}

fn main() {}
