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
#[signal(crate = "not_signal_core")]
pub enum Outer {
    Inner(#[signal(forward)] Inner),
}

fn main() {}
