use signal_core::{kind, Signal};

kind! {
    pub Reconnect;
}

#[derive(Debug, Signal)]
pub enum Inner {
    #[signal(leaf = "Reconnect")]
    Dropped,
}

pub enum Unused {}

#[derive(Signal)]
pub enum Tree {
    #[signal(leaf = "Reconnect")]
    Leaf,
    Node(Vec<Self>),
}

fn main() {}
