use signal_core::{kind, Signal};

kind! {
    pub Reconnect;
}

#[derive(Debug, Signal)]
pub enum Inner {
    #[signal(leaf = "Reconnect")]
    Dropped,
}

fn classify(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::TimedOut
}

#[derive(Signal)]
pub enum Outer {
    Io(#[signal(forward_with = "classify")] std::io::Error),
}

fn main() {}
