// `Retryable` implies `Transient`, and `Transient` includes `Retryable`
// (raising `Retryable` raises `Transient`... and back): a cycle.
signal_core::kind! {
    pub Retryable: Transient;
    pub Transient: includes(Retryable);
}

fn main() {}
