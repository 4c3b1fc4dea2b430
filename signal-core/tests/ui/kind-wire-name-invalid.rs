signal_core::kind! {
    pub Retryable as "has space";
}

fn main() {}
