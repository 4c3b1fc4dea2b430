use signal_core::Signal;

#[derive(Signal)]
pub enum Outer {
    Code(#[signal(skip = "status codes are logged elsewhere")] u16),
}

fn main() {}
