//! Prints the signal map of the example hierarchy: every static path from
//! `TaskWorkerError` to every leaf, per kind, as Markdown; then as a Mermaid
//! graph with `--mermaid`.
//!
//! ```sh
//! cargo run --example signal_map
//! cargo run --example signal_map -- --mermaid
//! ```

use signal_workspace::hierarchy::TaskWorkerError;

fn main() {
    let map = signal_core::map::<TaskWorkerError>();
    if std::env::args().any(|arg| arg == "--mermaid") {
        print!("{}", map.to_mermaid());
    } else {
        print!("{}", map.to_markdown());
    }
}
