use signal_core::{kind, Signal};

kind! {
    pub Reconnect;
}

#[derive(Debug, Signal)]
pub enum Inner {
    #[signal(leaf = "Reconnect")]
    Dropped,
}

use signal_core::{ClassifiedBy, Classify, Kind, Kinds};

#[derive(Default)]
pub struct FmtClassifier;

impl Classify<std::fmt::Error> for FmtClassifier {
    fn classify(&self, _: &std::fmt::Error) -> Kinds {
        Reconnect::ID.into()
    }
}

impl ClassifiedBy<FmtClassifier> for std::fmt::Error {}

// Registered once: from then on every field of the type needs a decision.
#[derive(Signal)]
pub enum Outer {
    Format(std::fmt::Error),
}

fn main() {}
