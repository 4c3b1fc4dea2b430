//! The smallest useful program: a nested error, a question, and the path the
//! answer took.
//!
//! ```sh
//! cargo run --example quickstart
//! ```

use signal_core::Signal;
use signal_workspace::hierarchy::{
    Cursor, GroupError, GroupMessageProcessingError, NeedsDbReconnect, ProcessSummary, Retryable,
    StorageError, SyncSummary, TaskWorkerError,
};

fn main() {
    // A pool drop buried three levels deep, inside the third of several
    // per-message failures of a sync run.
    let error = TaskWorkerError::Group(GroupError::Sync(Box::new(SyncSummary {
        process: ProcessSummary {
            errored: vec![
                (Cursor(10), GroupMessageProcessingError::InvalidPayload),
                (Cursor(11), GroupMessageProcessingError::InvalidPayload),
                (
                    Cursor(12),
                    GroupMessageProcessingError::Storage(StorageError::PoolNeedsConnection),
                ),
            ],
            processed: 40,
        },
        ..SyncSummary::default()
    })));

    println!("error: {error}");
    println!("needs DB reconnect: {}", error.has::<NeedsDbReconnect>());
    println!("retryable:          {}", error.has::<Retryable>());
    if let Some(trace) = error.trace::<NeedsDbReconnect>() {
        println!("path:               {trace}");
    }

    let benign = TaskWorkerError::Group(GroupError::Storage(StorageError::DisconnectInTransaction));
    println!("\nerror: {benign}");
    println!("needs DB reconnect: {}", benign.has::<NeedsDbReconnect>());
}
