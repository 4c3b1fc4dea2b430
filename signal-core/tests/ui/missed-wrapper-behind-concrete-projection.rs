use signal_core::{kind, Signal};

kind! {
    pub Reconnect;
}

#[derive(Debug, Signal)]
pub enum Inner {
    #[signal(leaf = "Reconnect")]
    Dropped,
}

pub trait Store {
    type Err;
}

pub struct Local;

impl Store for Local {
    type Err = Inner;
}

// One concrete type: the compiler is asked about it like any other.
#[derive(Signal)]
pub enum Wrapped {
    Store(Option<<Local as Store>::Err>),
}

fn main() {}
