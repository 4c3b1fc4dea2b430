use signal_core::{kind, Signal};

kind! {
    pub Reconnect;
}

#[derive(Debug, Signal)]
pub enum Inner {
    #[signal(leaf = "Reconnect")]
    Dropped,
}

use std::marker::PhantomData;

#[derive(Signal)]
pub struct Outer {
    marker: PhantomData<Inner>,
}

fn main() {}
