signal_core::kind! {
    pub Recoverable;
    pub Retryable: includes(signal_core::vocab::TransientNetwork) + Recoverable;
}

fn main() {}
