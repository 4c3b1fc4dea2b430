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
pub struct Tagged<T> {
    #[signal(skip = "a tag: data, whatever its type")]
    tag: T,
    inner: Vec<Inner>,
}

fn main() {}
