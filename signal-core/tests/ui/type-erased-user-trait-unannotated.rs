use signal_core::{kind, Signal};

kind! {
    pub Reconnect;
}

#[derive(Debug, Signal)]
pub enum Inner {
    #[signal(leaf = "Reconnect")]
    Dropped,
}

pub trait RetryableError: std::error::Error {
    fn is_retryable(&self) -> bool;
}

#[derive(Signal)]
pub enum Outer {
    Retry(Box<dyn RetryableError + Send + Sync>),
}

fn main() {}
