use signal_core::{kind, Signal};

kind! {
    pub Reconnect;
}

#[derive(Debug, Signal)]
pub enum Inner {
    #[signal(leaf = "Reconnect")]
    Dropped,
}

pub struct Cursor(pub u64);

#[derive(Signal)]
pub struct ProcessSummary {
    errored: Vec<(Cursor, Inner)>,
}

fn main() {}
