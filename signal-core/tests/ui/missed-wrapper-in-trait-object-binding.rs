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
pub struct Pending {
    errors: Box<dyn Iterator<Item = Inner>>,
}

fn main() {}
