use signal_core::{kind, Signal};

kind! {
    pub Reconnect;
}

#[derive(Debug, Signal)]
pub enum Inner {
    #[signal(leaf = "Reconnect")]
    Dropped,
}

pub trait Store {
    type Err;
}

impl Store for Wrapped {
    type Err = Inner;
}

#[derive(Signal)]
pub enum Wrapped {
    Store(Option<Box<<Self as Store>::Err>>),
    Closed,
}

fn main() {}
