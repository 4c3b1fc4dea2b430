use signal_core::{kind, Signal};

kind! {
    pub Reconnect;
}

#[derive(Debug, Signal)]
pub enum Inner {
    #[signal(leaf = "Reconnect")]
    Dropped,
}

mod sh {
    pub type String = super::Inner;
}

use sh::String;

// `String` here is `Inner`, not the standard string.
#[derive(Signal)]
pub struct Message {
    text: String,
}

fn main() {}
