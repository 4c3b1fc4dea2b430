use signal_core::{kind, kinds, Kinds};

kind! {
    pub A; pub B; pub C; pub D; pub E; pub F; pub G; pub H; pub I;
}

// Nine kinds do not fit a constant union (eight do).
const EIGHT: Kinds = kinds![A, B, C, D, E, F, G, H];
const NINE: Kinds = EIGHT.union(Kinds::one(<I as signal_core::Kind>::ID));

fn main() {
    let _ = NINE;
}
