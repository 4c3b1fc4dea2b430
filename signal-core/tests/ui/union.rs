use signal_core::Signal;

#[derive(Signal)]
pub union Raw {
    a: u32,
    b: f32,
}

fn main() {}
