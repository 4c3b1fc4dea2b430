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
#[signal(leaf = "Reconnect")]
pub enum Outer {
    Dropped,
}

fn main() {}
