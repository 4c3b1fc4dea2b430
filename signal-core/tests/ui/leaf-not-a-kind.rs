use signal_core::{kind, Signal};

kind! {
    pub Reconnect;
}

#[derive(Debug, Signal)]
pub enum Inner {
    #[signal(leaf = "Reconnect")]
    Dropped,
}

pub struct NotAKind;

#[derive(Signal)]
pub enum Outer {
    #[signal(leaf = "NotAKind")]
    Dropped,
}

fn main() {}
