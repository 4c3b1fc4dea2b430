//! Dynamic `source()` chains: a trait object of a user trait with `Error` as
//! a supertrait, a payload inside `std::io::Error`, and anyhow's chain. Each
//! positive case sits next to a negative twin.

use std::error::Error;
use std::fmt;
use std::io;

use signal_core::{Signal, kind};

kind! {
    /// The pool must be rebuilt.
    pub NeedsReconnect;
    /// Trying again later may succeed.
    pub Retryable;
}

#[derive(Debug, thiserror::Error, Signal)]
pub enum StorageError {
    #[error("pool gone")]
    #[signal(leaf = "NeedsReconnect")]
    PoolGone,
    #[error("not found")]
    NotFound,
}

/// A crate's own error trait, used as `Box<dyn RetryableError>`.
pub trait RetryableError: Error + Send + Sync {
    fn is_retryable(&self) -> bool;
}

impl RetryableError for StorageError {
    fn is_retryable(&self) -> bool {
        matches!(self, StorageError::PoolGone)
    }
}

/// A wrapper that keeps its source.
#[derive(Debug)]
struct Context {
    source: StorageError,
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("while syncing")
    }
}

impl Error for Context {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

impl RetryableError for Context {
    fn is_retryable(&self) -> bool {
        self.source.is_retryable()
    }
}

#[derive(Debug, Signal)]
pub enum WorkerError {
    Custom(#[signal(chain(StorageError))] Box<dyn RetryableError>),
    Io(#[signal(chain(StorageError))] io::Error),
    Any(#[signal(chain(StorageError))] anyhow::Error),
}

#[test]
fn test_chain_through_a_user_trait_object() {
    let error = WorkerError::Custom(Box::new(StorageError::PoolGone));
    assert!(error.has::<NeedsReconnect>());
    assert_eq!(
        error.trace::<NeedsReconnect>().unwrap().to_string(),
        "WorkerError::Custom ⇢ StorageError::PoolGone (NeedsReconnect)"
    );
    let nested = WorkerError::Custom(Box::new(Context {
        source: StorageError::PoolGone,
    }));
    assert!(nested.has::<NeedsReconnect>());
    assert_eq!(
        nested.trace::<NeedsReconnect>().unwrap().to_string(),
        "WorkerError::Custom.source() ⇢ StorageError::PoolGone (NeedsReconnect)"
    );
}

#[test]
fn test_chain_through_a_user_trait_object_negative_twin() {
    let error = WorkerError::Custom(Box::new(StorageError::NotFound));
    assert!(!error.has::<NeedsReconnect>());
    let nested = WorkerError::Custom(Box::new(Context {
        source: StorageError::NotFound,
    }));
    assert!(!nested.has::<NeedsReconnect>());
    assert!(nested.trace::<NeedsReconnect>().is_none());
}

#[test]
fn test_chain_looks_inside_io_error_payloads() {
    // `io::Error::source()` skips its payload: the walk does not (the payload
    // counts as one hop).
    let error = WorkerError::Io(io::Error::other(StorageError::PoolGone));
    assert!(error.has::<NeedsReconnect>());
    let wrapped = WorkerError::Io(io::Error::new(
        io::ErrorKind::BrokenPipe,
        Context {
            source: StorageError::PoolGone,
        },
    ));
    assert!(wrapped.has::<NeedsReconnect>());
    assert_eq!(
        wrapped.trace::<NeedsReconnect>().unwrap().to_string(),
        "WorkerError::Io.source().source() ⇢ StorageError::PoolGone (NeedsReconnect)"
    );
}

#[test]
fn test_chain_io_error_payload_negative_twin() {
    assert!(!WorkerError::Io(io::Error::other(StorageError::NotFound)).has::<NeedsReconnect>());
    assert!(!WorkerError::Io(io::Error::other("plain text")).has::<NeedsReconnect>());
    assert!(!WorkerError::Io(io::Error::from(io::ErrorKind::NotFound)).has::<NeedsReconnect>());
}

#[test]
fn test_chain_through_anyhow_context() {
    let error = WorkerError::Any(
        anyhow::Error::new(StorageError::PoolGone)
            .context("loading the group")
            .context("syncing"),
    );
    assert!(error.has::<NeedsReconnect>());
    let trace = error.trace::<NeedsReconnect>().unwrap().to_string();
    assert!(
        trace.ends_with("StorageError::PoolGone (NeedsReconnect)"),
        "{trace}"
    );
}

#[test]
fn test_chain_through_anyhow_negative_twin() {
    let error = WorkerError::Any(anyhow::Error::new(StorageError::NotFound).context("syncing"));
    assert!(!error.has::<NeedsReconnect>());
    let text_only = WorkerError::Any(anyhow::anyhow!("pool gone"));
    assert!(!text_only.has::<NeedsReconnect>());
    assert!(!text_only.has::<Retryable>());
}
