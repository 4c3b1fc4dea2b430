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
pub struct Outer {
    last_io_error: Option<std::sync::Arc<std::io::Error>>,
}

fn main() {}
