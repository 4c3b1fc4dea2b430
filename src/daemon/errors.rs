//! The daemon's error hierarchy: storage and network leaves at the bottom,
//! a per-job processing error, an aggregate batch summary, and the worker
//! error its supervisor inspects.

use std::io;

use signal_core::vocab::{BadCredentials, ResourceBusy, TimedOut, TransientNetwork};
use signal_core::{Signal, kind};

kind! {
    /// The database pool was closed or lost its connections: rebuild it.
    pub NeedsDbReconnect;
    /// The pool refuses to hand out connections. Implies
    /// [`NeedsDbReconnect`].
    pub PoolClosed: NeedsDbReconnect;
    /// The same call may succeed later: a network failure, a timeout, or a
    /// database busy with another connection (the built-in classifiers of
    /// `std::io::Error` and `rusqlite::Error` raise those).
    pub Retryable: includes(TransientNetwork, TimedOut, ResourceBusy);
}

/// Errors of the job store.
#[derive(Debug, thiserror::Error, Signal)]
pub enum StorageError {
    /// The pool was closed under us.
    #[error("the connection pool is closed")]
    #[signal(leaf = "PoolClosed")]
    PoolClosed,
    /// The pool could not open a connection.
    #[error("opening a database connection failed")]
    Connect(#[signal(forward)] rusqlite::Error),
    /// A statement failed.
    #[error("database statement failed")]
    Sqlite(#[signal(forward)] rusqlite::Error),
    /// The blocking task running a statement panicked or was cancelled.
    #[error("database task failed: {0}")]
    Task(String),
}

/// Errors talking to the remote.
#[derive(Debug, thiserror::Error, Signal)]
pub enum RemoteError {
    /// A connection-level failure: refused, reset, broken pipe, DNS.
    #[error("remote i/o failed")]
    Io(#[signal(forward)] io::Error),
    /// No answer before the deadline.
    #[error("remote did not answer in time")]
    #[signal(leaf = "TimedOut")]
    Timeout,
    /// The remote answered `ERR 401` or `ERR 403`.
    #[error("remote rejected the credentials ({status})")]
    #[signal(leaf = "BadCredentials")]
    Unauthorized {
        /// The status it answered.
        status: u16,
    },
    /// The remote answered something else.
    #[error("remote answered an unexpected line")]
    Protocol,
}

/// Failure to process one job.
#[derive(Debug, thiserror::Error, Signal)]
pub enum JobError {
    /// Storing the job's result failed.
    #[error(transparent)]
    Storage(#[signal(forward)] StorageError),
    /// The remote call for the job failed.
    #[error(transparent)]
    Remote(#[signal(forward)] RemoteError),
}

/// A job's id in the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(pub i64);

/// The outcome of one batch: jobs that failed and will be retried, with their
/// ids. Only the first failure of a batch stops it, so the list is short;
/// it is a list because a batch *could* report several, and every one of
/// them is forwarded.
#[derive(Debug, Default, Signal)]
pub struct BatchSummary {
    /// Failed jobs, in the order they failed.
    #[signal(forward)]
    pub failed: Vec<(JobId, JobError)>,
    /// Jobs committed before the batch stopped.
    pub committed: usize,
}

impl std::fmt::Display for BatchSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "batch stopped: {} committed, {} failed",
            self.committed,
            self.failed.len()
        )
    }
}

impl std::error::Error for BatchSummary {}

/// The error a sync worker returns to its supervisor.
#[derive(Debug, thiserror::Error, Signal)]
pub enum WorkerError {
    /// Claiming or committing jobs failed.
    #[error(transparent)]
    Storage(#[signal(forward)] StorageError),
    /// A batch stopped on a failed job.
    #[error(transparent)]
    Batch(#[signal(forward)] Box<BatchSummary>),
}
