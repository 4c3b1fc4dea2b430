signal_core::kind! {
    pub Retryable: includes(Retryable);
}

fn main() {}
