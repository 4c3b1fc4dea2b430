use signal_core::{kind, Signal};

kind! {
    pub Reconnect;
}

#[derive(Debug, Signal)]
pub enum Inner {
    #[signal(leaf = "Reconnect")]
    Dropped,
}

impl Outer {
    fn is_busy(&self) -> bool {
        true
    }
}

#[derive(Signal)]
pub enum Outer {
    #[signal(when = "Outer::is_busy")]
    Busy,
}

fn main() {}
