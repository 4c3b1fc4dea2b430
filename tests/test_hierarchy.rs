//! Propagation through the realistic hierarchy in `signal_workspace::hierarchy`.
//! Every positive case has a negative twin built the same way around a benign
//! error (`DisconnectInTransaction`), which must carry nothing.

use signal_core::Signal;
use signal_workspace::hierarchy::*;

fn disconnect() -> StorageError {
    StorageError::PoolNeedsConnection
}

fn benign() -> StorageError {
    StorageError::DisconnectInTransaction
}

fn process_error(storage: StorageError) -> GroupMessageProcessingError {
    GroupMessageProcessingError::Storage(storage)
}

fn summary_with_errored(storage: StorageError) -> SyncSummary {
    SyncSummary {
        process: ProcessSummary {
            errored: vec![
                (Cursor(1), GroupMessageProcessingError::InvalidPayload),
                (Cursor(2), GroupMessageProcessingError::InvalidPayload),
                (Cursor(3), process_error(storage)),
            ],
            processed: 7,
        },
        ..SyncSummary::default()
    }
}

fn worker_error(storage: StorageError) -> TaskWorkerError {
    TaskWorkerError::Group(GroupError::Sync(Box::new(summary_with_errored(storage))))
}

#[test]
fn test_storage_leaf() {
    assert!(disconnect().has::<PoolNeedsConnection>());
    assert!(disconnect().has::<NeedsDbReconnect>());
    assert!(!disconnect().has::<Retryable>());
}

#[test]
fn test_storage_leaf_negative() {
    assert!(!benign().has::<PoolNeedsConnection>());
    assert!(!benign().has::<NeedsDbReconnect>());
    assert!(!StorageError::NotFound("x".into()).has::<NeedsDbReconnect>());
}

#[test]
fn test_broader_kind_does_not_imply_precise_kind() {
    // A leaf raises its own kind and the kinds it implies, never a more precise one.
    assert!(StorageError::Busy.has::<Retryable>());
    assert!(!StorageError::Busy.has::<NeedsDbReconnect>());
}

#[test]
fn test_sync_summary_forwards_disconnect_from_processed_messages() {
    assert!(summary_with_errored(disconnect()).has::<NeedsDbReconnect>());
}

#[test]
fn test_sync_summary_benign_processed_messages() {
    assert!(!summary_with_errored(benign()).has::<NeedsDbReconnect>());
}

#[test]
fn test_sync_summary_every_source() {
    let sources: Vec<fn(StorageError) -> SyncSummary> = vec![
        |e| SyncSummary {
            publish_errors: vec![GroupError::NotFound, GroupError::Storage(e)],
            ..SyncSummary::default()
        },
        |e| SyncSummary {
            post_commit_errors: vec![GroupError::Storage(e)],
            ..SyncSummary::default()
        },
        |e| SyncSummary {
            other: Some(Box::new(GroupError::Storage(e))),
            ..SyncSummary::default()
        },
        summary_with_errored,
    ];
    for (i, make) in sources.iter().enumerate() {
        assert!(
            make(disconnect()).has::<NeedsDbReconnect>(),
            "source {i} dropped the signal"
        );
        assert!(
            !make(benign()).has::<NeedsDbReconnect>(),
            "source {i} raised a false positive"
        );
    }
    assert!(!SyncSummary::default().has::<NeedsDbReconnect>());
}

#[test]
fn test_per_message_errors_are_not_retryable_through_the_summary() {
    // `errored` forwards everything except `Retryable`: a busy database while
    // processing one message does not make the whole batch retryable...
    let summary = summary_with_errored(StorageError::Busy);
    assert!(!summary.has::<Retryable>());
    // ...while the same error elsewhere in the summary does.
    let summary = SyncSummary {
        publish_errors: vec![GroupError::Storage(StorageError::Busy)],
        ..SyncSummary::default()
    };
    assert!(summary.has::<Retryable>());
}

#[test]
fn test_group_message_processing_error_named_field() {
    let carrier = GroupMessageProcessingError::MergeStagedCommit {
        source: disconnect(),
        epoch: 4,
    };
    assert!(carrier.has::<NeedsDbReconnect>());
    let twin = GroupMessageProcessingError::MergeStagedCommit {
        source: benign(),
        epoch: 4,
    };
    assert!(!twin.has::<NeedsDbReconnect>());
}

#[test]
fn test_task_worker_error_forwards_disconnect() {
    assert!(worker_error(disconnect()).has::<NeedsDbReconnect>());
    assert!(worker_error(disconnect()).has::<PoolNeedsConnection>());
}

#[test]
fn test_task_worker_error_benign() {
    assert!(!worker_error(benign()).has::<NeedsDbReconnect>());
    assert!(!TaskWorkerError::Cancelled.has::<NeedsDbReconnect>());
}

#[test]
fn test_sync_failed_to_wait_forwards() {
    let carrier = GroupError::SyncFailedToWait(Box::new(summary_with_errored(disconnect())));
    assert!(carrier.has::<NeedsDbReconnect>());
    let twin = GroupError::SyncFailedToWait(Box::new(summary_with_errored(benign())));
    assert!(!twin.has::<NeedsDbReconnect>());
}

#[test]
fn test_commit_log_recursive_vec() {
    let nested = |e| {
        CommitLogError::FailedReadds(vec![
            CommitLogError::KeystoreError(benign()),
            CommitLogError::FailedReadds(vec![CommitLogError::GroupError(GroupError::Storage(e))]),
        ])
    };
    assert!(nested(disconnect()).has::<NeedsDbReconnect>());
    assert!(!nested(benign()).has::<NeedsDbReconnect>());
    assert!(!CommitLogError::FailedReadds(vec![]).has::<NeedsDbReconnect>());
}

#[test]
fn test_device_sync_forwards_sync() {
    let carrier = DeviceSyncError::Sync(Box::new(summary_with_errored(disconnect())));
    assert!(TaskWorkerError::DeviceSync(carrier).has::<NeedsDbReconnect>());
    let twin = DeviceSyncError::Sync(Box::new(summary_with_errored(benign())));
    assert!(!TaskWorkerError::DeviceSync(twin).has::<NeedsDbReconnect>());
}

#[test]
fn test_device_sync_skips_client_errors() {
    // The skip is deliberate and documented: a pool drop inside a client
    // error does not reach device sync's supervisor.
    let client = ClientError::Storage(disconnect());
    assert!(client.has::<NeedsDbReconnect>());
    assert!(!DeviceSyncError::Client(client).has::<NeedsDbReconnect>());
}

#[test]
fn test_mutual_recursion_group_and_client() {
    let deep = |e| {
        GroupError::Client(Box::new(ClientError::Group(Box::new(GroupError::Client(
            Box::new(ClientError::Storage(e)),
        )))))
    };
    assert!(deep(disconnect()).has::<NeedsDbReconnect>());
    assert!(!deep(benign()).has::<NeedsDbReconnect>());
}

#[test]
fn test_has_kind_agrees_with_has() {
    use signal_core::Kind;
    for e in [
        worker_error(disconnect()),
        worker_error(benign()),
        TaskWorkerError::Cancelled,
    ] {
        assert_eq!(
            e.has::<NeedsDbReconnect>(),
            e.has_kind(NeedsDbReconnect::ID)
        );
        assert_eq!(e.has::<Retryable>(), e.has_kind(Retryable::ID));
    }
}

#[test]
fn test_boxed_trait_object() {
    let boxed: Box<dyn Signal + Send + Sync> = Box::new(worker_error(disconnect()));
    assert!(boxed.has::<NeedsDbReconnect>());
    let twin: Box<dyn Signal + Send + Sync> = Box::new(worker_error(benign()));
    assert!(!twin.has::<NeedsDbReconnect>());
    // The box itself is a carrier, so it nests.
    let nested: Vec<Box<dyn Signal + Send + Sync>> = vec![twin, boxed];
    assert!(nested.has::<NeedsDbReconnect>());
}

#[test]
fn test_trace_names_the_path() {
    let trace = worker_error(disconnect())
        .trace::<NeedsDbReconnect>()
        .expect("carried");
    assert_eq!(
        trace.to_string(),
        "TaskWorkerError::Group → GroupError::Sync → SyncSummary.process → \
         ProcessSummary.errored[2].1 → GroupMessageProcessingError::Storage → \
         StorageError::PoolNeedsConnection (PoolNeedsConnection ⇒ NeedsDbReconnect)"
    );
    assert!(worker_error(benign()).trace::<NeedsDbReconnect>().is_none());
}
