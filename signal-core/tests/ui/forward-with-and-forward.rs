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
    Io(#[signal(forward, forward_with = "signal_core::classifiers::io::classify_io")] std::io::Error),
}

fn main() {}
