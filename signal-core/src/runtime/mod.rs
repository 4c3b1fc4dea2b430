//! A tokio supervisor that acts on the signals a worker's errors carry.
