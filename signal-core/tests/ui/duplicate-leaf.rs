use signal_core::{kind, Signal};

kind! {
    pub Reconnect;
}

#[derive(Debug, Signal)]
pub enum Inner {
    #[signal(leaf = "Reconnect")]
    Dropped,
}

kind! {
    pub Retryable;
}

#[derive(Signal)]
pub enum Outer {
    #[signal(leaf = "Reconnect", leaf = "Retryable")]
    Both,
}

fn main() {}
