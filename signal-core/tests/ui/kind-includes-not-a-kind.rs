pub struct NotAKind;

signal_core::kind! {
    pub Retryable: includes(NotAKind);
}

fn main() {}
