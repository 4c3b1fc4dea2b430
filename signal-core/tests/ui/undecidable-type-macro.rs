use signal_core::{kind, Signal};

kind! {
    pub Reconnect;
}

#[derive(Debug, Signal)]
pub enum Inner {
    #[signal(leaf = "Reconnect")]
    Dropped,
}

macro_rules! locked {
    () => {
        std::sync::Mutex<Inner>
    };
}

#[derive(Signal)]
pub struct Shared {
    inner: locked!(),
}

fn main() {}
