use signal_core::{kind, Signal};

kind! {
    pub Reconnect;
}

#[derive(Debug, Signal)]
pub enum Inner {
    #[signal(leaf = "Reconnect")]
    Dropped,
}

// A generic wrapper: `WithContext<Inner>` would carry `Inner`'s signals.
#[derive(Signal)]
pub struct WithContext<E> {
    context: &'static str,
    inner: E,
}

fn main() {}
