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
pub struct Batch {
    #[signal(forward)]
    results: Vec<(Inner, Box<dyn std::any::Any + Send>)>,
}

fn main() {}
