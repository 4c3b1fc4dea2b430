use signal_core::{kind, Signal};

kind! {
    pub Reconnect;
}

#[derive(Debug, Signal)]
pub enum Inner {
    #[signal(leaf = "Reconnect")]
    Dropped,
}

#[derive(Signal)]
pub enum Outer {
    #[signal(leaf = "Reconnect", frobnicate)]
    A(#[signal(skip)] Inner),
    B(#[signal(forward, forward)] Inner),
    #[signal(forward)]
    C(#[signal(leaf = "Reconnect")] Inner),
}

fn main() {}
