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

#[derive(Signal)]
pub struct StoreFailure<S: Store> {
    error: Option<<S as Store>::Err>,
}

fn main() {}
