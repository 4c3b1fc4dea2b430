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
pub struct Batch {
    #[signal(forward)]
    parts: (u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, Inner),
}

fn main() {}
