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
pub enum Chain {
    #[signal(leaf = "Reconnect")]
    End,
    Next(Box<Chain>),
}

fn main() {}
