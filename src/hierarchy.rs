//! A realistic error hierarchy, modelled on a messaging client's sync engine:
//! storage errors at the bottom, per-message processing errors, aggregate
//! sync summaries, group and client errors that wrap each other, and a task
//! worker error at the top that a supervisor inspects.
//!
//! Every wrapper forwards or skips with a reason; removing any one
//! `#[signal(forward)]` below makes this crate fail to compile.

use signal_core::{Signal, kind};

kind! {
    /// The database pool was dropped or lost its connection: rebuild it before
    /// retrying anything that touches storage.
    pub NeedsDbReconnect;
    /// The pool has no live connection. Implies [`NeedsDbReconnect`].
    pub PoolNeedsConnection: NeedsDbReconnect;
    /// Trying the same operation again later may succeed.
    pub Retryable;
}

/// A position in a message stream. Plain data: carries no signals.
/// (`Default` lets the generated test fixtures build the tuples it sits in.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor(pub u64);

/// Errors from the embedded database layer.
#[derive(Debug, thiserror::Error, Signal)]
pub enum StorageError {
    /// The pool has no connection: it must be rebuilt.
    #[error("pool needs a connection")]
    #[signal(leaf = "PoolNeedsConnection")]
    PoolNeedsConnection,
    /// A connection dropped inside a transaction: the pool itself is fine.
    #[error("disconnected inside a transaction")]
    DisconnectInTransaction,
    /// The database was busy; the same statement may succeed later.
    #[error("database busy")]
    #[signal(leaf = "Retryable")]
    Busy,
    /// A row was not found.
    #[error("not found: {0}")]
    NotFound(String),
}

/// Failure to process one message of a group.
#[derive(Debug, thiserror::Error, Signal)]
pub enum GroupMessageProcessingError {
    /// Storage failed while processing.
    #[error(transparent)]
    Storage(
        #[from]
        #[signal(forward)]
        StorageError,
    ),
    /// Merging a staged commit failed in its key store.
    #[error("merge staged commit: {source}")]
    MergeStagedCommit {
        /// The key store's storage error.
        #[signal(forward)]
        source: StorageError,
        /// The epoch being merged.
        epoch: u64,
    },
    /// The message was malformed.
    #[error("invalid payload")]
    InvalidPayload,
}

/// Outcome of processing a batch of messages.
#[derive(Debug, Default, Signal)]
pub struct ProcessSummary {
    /// Messages that failed, with where they were in the stream. Retrying the
    /// batch would not help a per-message failure, so `Retryable` is not
    /// forwarded; a dropped pool is.
    #[signal(forward(except(Retryable)))]
    pub errored: Vec<(Cursor, GroupMessageProcessingError)>,
    /// Messages processed.
    pub processed: usize,
}

/// The aggregate error of one sync run.
#[derive(Debug, Default, Signal)]
pub struct SyncSummary {
    /// Errors publishing local intents.
    #[signal(forward)]
    pub publish_errors: Vec<GroupError>,
    /// Per-message processing.
    #[signal(forward)]
    pub process: ProcessSummary,
    /// Errors after the commit.
    #[signal(forward)]
    pub post_commit_errors: Vec<GroupError>,
    /// Anything else.
    #[signal(forward)]
    pub other: Option<Box<GroupError>>,
}

impl std::fmt::Display for SyncSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sync failed: {} publish, {} processing, {} post-commit errors",
            self.publish_errors.len(),
            self.process.errored.len(),
            self.post_commit_errors.len()
        )
    }
}

impl std::error::Error for SyncSummary {}

/// Errors of group operations.
#[derive(Debug, thiserror::Error, Signal)]
pub enum GroupError {
    /// Storage failed.
    #[error(transparent)]
    Storage(
        #[from]
        #[signal(forward)]
        StorageError,
    ),
    /// A sync failed.
    #[error(transparent)]
    Sync(#[signal(forward)] Box<SyncSummary>),
    /// A sync failed while waiting for it.
    #[error("sync failed while waiting: {0}")]
    SyncFailedToWait(#[signal(forward)] Box<SyncSummary>),
    /// A client call made by the group failed.
    #[error(transparent)]
    Client(#[signal(forward)] Box<ClientError>),
    /// The group was not found.
    #[error("group not found")]
    NotFound,
}

/// Errors of the client, which calls into groups (and groups into it).
#[derive(Debug, thiserror::Error, Signal)]
pub enum ClientError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[signal(forward)] StorageError),
    /// A group operation failed.
    #[error(transparent)]
    Group(#[signal(forward)] Box<GroupError>),
    /// The identity could not be verified; says nothing about storage.
    #[error("identity: {0}")]
    Identity(String),
}

/// Errors of the commit log, which re-adds members and may fail for many.
#[derive(Debug, thiserror::Error, Signal)]
pub enum CommitLogError {
    /// Syncing failed.
    #[error(transparent)]
    SyncError(#[signal(forward)] SyncSummary),
    /// A group operation failed.
    #[error(transparent)]
    GroupError(#[signal(forward)] GroupError),
    /// Re-adding members failed, each for its own reason.
    #[error("failed re-adds: {}", .0.len())]
    FailedReadds(#[signal(forward)] Vec<CommitLogError>),
    /// The key store's connection failed.
    #[error(transparent)]
    KeystoreError(#[signal(forward)] StorageError),
}

/// Errors of device sync.
#[derive(Debug, thiserror::Error, Signal)]
pub enum DeviceSyncError {
    /// Syncing failed.
    #[error(transparent)]
    Sync(#[signal(forward)] Box<SyncSummary>),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[signal(forward)] StorageError),
    /// The client failed, but device sync reports client errors to the user
    /// itself and never reconnects for them.
    #[error(transparent)]
    Client(
        #[signal(
            skip = "device sync surfaces client errors to the user and never reconnects for them"
        )]
        ClientError,
    ),
}

/// The error a background task worker returns to its supervisor.
///
/// Its signal map follows, generated by `signal_core::map` and kept current
/// by the snapshot test in `tests/test_paths.rs`.
///
#[doc = include_str!("../docs/signal-map.md")]
#[derive(Debug, thiserror::Error, Signal)]
pub enum TaskWorkerError {
    /// A group operation failed.
    #[error(transparent)]
    Group(
        #[from]
        #[signal(forward)]
        GroupError,
    ),
    /// Device sync failed.
    #[error(transparent)]
    DeviceSync(
        #[from]
        #[signal(forward)]
        DeviceSyncError,
    ),
    /// The commit log failed.
    #[error(transparent)]
    CommitLog(
        #[from]
        #[signal(forward)]
        CommitLogError,
    ),
    /// The worker was cancelled.
    #[error("cancelled")]
    Cancelled,
}
