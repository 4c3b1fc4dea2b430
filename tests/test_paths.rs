//! Runtime traces and the static map of the example hierarchy: every
//! container kind, filters, cycles, skipped edges, snapshots, and no field
//! value ever reaching a rendering.

use signal_core::testing::{SnapshotOutcome, compare_snapshot};
use signal_core::{
    Kind, Signal, StaticStep, assert_cases, assert_map_snapshot, assert_no_signal, assert_signal,
    map,
};
use signal_workspace::hierarchy::*;

fn summary(errored: Vec<(Cursor, GroupMessageProcessingError)>) -> SyncSummary {
    SyncSummary {
        process: ProcessSummary {
            errored,
            processed: 0,
        },
        ..SyncSummary::default()
    }
}

#[test]
fn test_map_snapshot_of_the_example_hierarchy() {
    assert_map_snapshot!(TaskWorkerError, "docs/signal-map.md");
}

#[test]
fn test_snapshot_mismatch_fails_with_a_diff_then_passes_after_overwrite() {
    let dir = std::env::temp_dir().join(format!("signal-snapshot-{}", std::process::id()));
    // Removed when the test ends, passed or failed.
    struct Remove(std::path::PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _remove = Remove(dir.clone());
    let path = dir.join("map.md");
    let rendered = map::<TaskWorkerError>().to_markdown();
    // A committed snapshot from before a wrapper was added: one path fewer.
    let stale: String = rendered
        .lines()
        .filter(|line| !line.contains("CommitLogError::KeystoreError"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_ne!(stale, rendered);
    compare_snapshot(&stale, &path, true).unwrap();
    let failure = compare_snapshot(&rendered, &path, false).unwrap_err();
    assert!(
        failure.contains("+ - `TaskWorkerError::CommitLog → CommitLogError::KeystoreError"),
        "{failure}"
    );
    assert!(failure.contains("SIGNAL_SNAPSHOT=overwrite"), "{failure}");
    assert_eq!(
        compare_snapshot(&rendered, &path, true),
        Ok(SnapshotOutcome::Written)
    );
    assert_eq!(
        compare_snapshot(&rendered, &path, false),
        Ok(SnapshotOutcome::Matched)
    );
}

#[test]
fn test_missing_snapshot_says_how_to_create_it() {
    let path = std::env::temp_dir().join("signal-snapshot-does-not-exist/map.md");
    let failure = compare_snapshot("x", &path, false).unwrap_err();
    assert!(failure.contains("SIGNAL_SNAPSHOT=overwrite"), "{failure}");
}

#[test]
fn test_map_is_deterministic() {
    assert_eq!(map::<TaskWorkerError>(), map::<TaskWorkerError>());
    assert_eq!(
        map::<TaskWorkerError>().to_markdown(),
        map::<TaskWorkerError>().to_markdown()
    );
}

#[test]
fn test_map_terminates_on_mutual_recursion_and_marks_it() {
    let group = map::<GroupError>();
    let paths: Vec<String> = group
        .paths(NeedsDbReconnect::ID)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        paths.contains(&"GroupError::Client → ClientError::Group → GroupError ↑".to_string()),
        "{paths:#?}"
    );
    let client = map::<ClientError>();
    let paths: Vec<String> = client
        .paths(NeedsDbReconnect::ID)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        paths.contains(&"ClientError::Group → GroupError::Client → ClientError ↑".to_string()),
        "{paths:#?}"
    );
    // A self-recursive Vec.
    let log = map::<CommitLogError>();
    assert!(
        log.paths(NeedsDbReconnect::ID)
            .iter()
            .any(
                |path| path.steps.last() == Some(&StaticStep::Seen("CommitLogError"))
                    && path.to_string() == "CommitLogError::FailedReadds[_] → CommitLogError ↑"
            )
    );
}

#[test]
fn test_map_every_leaf_reachable_is_listed_once() {
    // Each type is expanded once, so each leaf edge appears exactly once.
    let map = map::<TaskWorkerError>();
    let leaves: Vec<String> = map
        .paths(NeedsDbReconnect::ID)
        .iter()
        .filter(|path| path.leaf().is_some())
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        leaves,
        [
            "TaskWorkerError::Group → GroupError::Storage → StorageError::PoolNeedsConnection (PoolNeedsConnection ⇒ NeedsDbReconnect)"
        ]
    );
    assert!(map.paths(NeedsDbReconnect::ID).len() > 10);
}

#[test]
fn test_map_of_a_type_that_carries_nothing_is_empty() {
    assert!(map::<StorageError>().paths(Retryable::ID).len() == 1);
    #[derive(Signal)]
    struct Plain {
        _id: u64,
    }
    let plain = map::<Plain>();
    assert!(plain.sections().is_empty());
    assert!(plain.paths(NeedsDbReconnect::ID).is_empty());
}

#[test]
fn test_skipped_edge_appears_with_its_reason() {
    let map = map::<TaskWorkerError>();
    let skipped = map.skipped();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].at.to_string(), "DeviceSyncError::Client");
    assert_eq!(skipped[0].ty, "ClientError");
    assert!(skipped[0].reason.contains("never reconnects"));
    assert!(map.to_markdown().contains(
        "- `DeviceSyncError::Client` (`ClientError`): device sync surfaces client errors"
    ));
    assert!(
        map.to_mermaid()
            .contains(r#"DeviceSyncError["DeviceSyncError"] -.->|"Client (skipped)"| ClientError"#)
    );
}

#[test]
fn test_except_is_visible_in_map_and_trace() {
    let map = map::<TaskWorkerError>();
    let retry = map
        .sections()
        .iter()
        .find(|s| s.kind == Retryable::ID)
        .unwrap();
    assert_eq!(retry.held_back.len(), 1);
    assert_eq!(retry.held_back[0].at.to_string(), "ProcessSummary.errored");
    assert_eq!(retry.held_back[0].filter, "except(Retryable)");
    assert!(
        !map.paths(Retryable::ID)
            .iter()
            .any(|p| p.to_string().contains("ProcessSummary"))
    );
    // The reconnect section goes through the same field.
    assert!(
        map.paths(NeedsDbReconnect::ID)
            .iter()
            .any(|p| p.to_string().contains("ProcessSummary.errored[_].1"))
    );
    assert!(
        map.to_mermaid()
            .contains(r#"|"errored except(Retryable)"|"#)
    );

    let busy = summary(vec![(
        Cursor(1),
        GroupMessageProcessingError::Storage(StorageError::Busy),
    )]);
    assert!(busy.trace::<Retryable>().is_none());
    let dropped = summary(vec![(
        Cursor(1),
        GroupMessageProcessingError::Storage(StorageError::PoolNeedsConnection),
    )]);
    assert_eq!(
        dropped.trace::<NeedsDbReconnect>().unwrap().to_string(),
        "SyncSummary.process → ProcessSummary.errored[0].1 → GroupMessageProcessingError::Storage → \
         StorageError::PoolNeedsConnection (PoolNeedsConnection ⇒ NeedsDbReconnect)"
    );
}

#[test]
fn test_traces_iterates_every_carrier_path() {
    let error = SyncSummary {
        publish_errors: vec![
            GroupError::NotFound,
            GroupError::Storage(StorageError::PoolNeedsConnection),
        ],
        other: Some(Box::new(GroupError::Client(Box::new(
            ClientError::Storage(StorageError::PoolNeedsConnection),
        )))),
        ..summary(vec![
            (Cursor(5), GroupMessageProcessingError::InvalidPayload),
            (
                Cursor(6),
                GroupMessageProcessingError::MergeStagedCommit {
                    source: StorageError::PoolNeedsConnection,
                    epoch: 3,
                },
            ),
        ])
    };
    let traces: Vec<String> = error
        .traces::<NeedsDbReconnect>()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        traces,
        [
            "SyncSummary.publish_errors[1] → GroupError::Storage → StorageError::PoolNeedsConnection (PoolNeedsConnection ⇒ NeedsDbReconnect)",
            "SyncSummary.process → ProcessSummary.errored[1].1 → GroupMessageProcessingError::MergeStagedCommit.source → StorageError::PoolNeedsConnection (PoolNeedsConnection ⇒ NeedsDbReconnect)",
            "SyncSummary.other → GroupError::Client → ClientError::Storage → StorageError::PoolNeedsConnection (PoolNeedsConnection ⇒ NeedsDbReconnect)",
        ]
    );
    assert!(error.traces::<Retryable>().is_empty());
    let trace = error.trace::<NeedsDbReconnect>().unwrap();
    assert_eq!(trace.leaf(), Some(PoolNeedsConnection::ID));
    assert_eq!(trace.query(), NeedsDbReconnect::ID);
    assert_eq!(trace.nodes().count(), 3);
}

#[test]
fn test_no_field_value_reaches_any_rendering() {
    const SECRET: &str = "sk_live_9f8e7d6c5b4a";
    let error = TaskWorkerError::Group(GroupError::Sync(Box::new(SyncSummary {
        publish_errors: vec![GroupError::Client(Box::new(ClientError::Identity(
            SECRET.into(),
        )))],
        other: Some(Box::new(GroupError::Storage(StorageError::NotFound(
            SECRET.into(),
        )))),
        ..summary(vec![(
            Cursor(0xdead_beef),
            GroupMessageProcessingError::Storage(StorageError::PoolNeedsConnection),
        )])
    })));
    // The error's own Display does contain it: that is what the test guards against.
    assert!(format!("{error:?}").contains(SECRET));
    let mut rendered = String::new();
    for trace in error.traces::<NeedsDbReconnect>() {
        rendered += &format!("{trace}\n{trace:?}\n");
    }
    for trace in error.traces::<Retryable>() {
        rendered += &format!("{trace}\n");
    }
    let map = map::<TaskWorkerError>();
    rendered += &map.to_markdown();
    rendered += &map.to_mermaid();
    assert!(!rendered.is_empty());
    assert!(rendered.contains("StorageError::PoolNeedsConnection"));
    assert!(
        !rendered.contains(SECRET),
        "a field value leaked into a rendering"
    );
    assert!(
        !rendered.contains("3735928559"),
        "a cursor value leaked into a rendering"
    );
    assert!(!rendered.to_lowercase().contains("deadbeef"));
}

#[test]
fn test_one_line_helpers() {
    assert_signal!(
        TaskWorkerError::Group(GroupError::Storage(StorageError::PoolNeedsConnection)),
        NeedsDbReconnect
    );
    assert_no_signal!(
        TaskWorkerError::Group(GroupError::Storage(StorageError::DisconnectInTransaction)),
        NeedsDbReconnect
    );
    assert_cases!(NeedsDbReconnect;
        carries: [
            StorageError::PoolNeedsConnection,
            GroupError::Storage(StorageError::PoolNeedsConnection),
            CommitLogError::FailedReadds(vec![CommitLogError::KeystoreError(StorageError::PoolNeedsConnection)]),
        ],
        clean: [
            StorageError::DisconnectInTransaction,
            GroupError::Storage(StorageError::DisconnectInTransaction),
            CommitLogError::FailedReadds(vec![]),
        ],
    );
}

#[test]
fn test_assert_no_signal_failure_shows_the_trace() {
    let failure = std::panic::catch_unwind(|| {
        assert_no_signal!(
            GroupError::Storage(StorageError::PoolNeedsConnection),
            NeedsDbReconnect
        );
    })
    .unwrap_err();
    let message = failure.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("GroupError::Storage → StorageError::PoolNeedsConnection (PoolNeedsConnection ⇒ NeedsDbReconnect)"),
        "{message}"
    );
}

#[test]
fn test_assert_signal_failure_names_the_value() {
    let failure = std::panic::catch_unwind(|| {
        assert_signal!(GroupError::NotFound, NeedsDbReconnect);
    })
    .unwrap_err();
    let message = failure.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("`GroupError::NotFound` to carry NeedsDbReconnect"),
        "{message}"
    );
}

#[test]
fn test_assert_cases_reports_every_wrong_case() {
    let failure = std::panic::catch_unwind(|| {
        assert_cases!(NeedsDbReconnect;
            carries: [StorageError::Busy, StorageError::PoolNeedsConnection],
            clean: [GroupError::Storage(StorageError::PoolNeedsConnection)],
        );
    })
    .unwrap_err();
    let message = failure.downcast_ref::<String>().unwrap();
    assert!(
        message.starts_with("2 of 3 cases for NeedsDbReconnect failed"),
        "{message}"
    );
    assert!(
        message.contains("`StorageError::Busy` should carry it"),
        "{message}"
    );
    assert!(
        message.contains("GroupError::Storage → StorageError::PoolNeedsConnection"),
        "{message}"
    );
}

#[test]
fn test_generated_fixtures_propagate_exactly_their_kinds() {
    // One value per static path the derive can build, each checked against
    // every kind of the map, positive and negative.
    let checked = signal_core::assert_fixtures!(TaskWorkerError);
    assert!(checked >= 30, "only {checked} fixtures");
    let fixtures = signal_core::testing::fixtures::<TaskWorkerError>();
    // The per-message path exists, with its filter: reconnect yes, retry no.
    let through_errored: Vec<_> = fixtures
        .iter()
        .filter(|f| {
            f.value
                .trace_kind(f.leaf)
                .is_some_and(|t| t.to_string().contains("ProcessSummary.errored[0].1"))
                || (f.leaf == Retryable::ID && !f.should_carry(Retryable::ID))
        })
        .collect();
    assert!(
        through_errored
            .iter()
            .any(|f| f.leaf == PoolNeedsConnection::ID)
    );
    assert!(
        through_errored
            .iter()
            .any(|f| f.leaf == Retryable::ID && !f.value.has::<Retryable>())
    );
}

#[test]
fn test_fixture_check_fails_when_a_path_does_not_propagate() {
    // A hand-written impl whose fixture says it raises `Retryable`, while its
    // walk forgets to report it: the check must fail and say which leaf.
    struct Forgetful;
    impl Signal for Forgetful {
        fn walk(&self, _: &mut signal_core::Walker<'_>) -> std::ops::ControlFlow<()> {
            std::ops::ControlFlow::Continue(())
        }
        fn shape() -> signal_core::Shape {
            StorageError::shape()
        }
        fn __fixtures(
            _: &mut signal_core::testing::FixtureCx,
        ) -> Vec<signal_core::testing::Fixture<Self>> {
            vec![signal_core::testing::Fixture::__leaf(
                Forgetful,
                Retryable::ID,
            )]
        }
    }
    #[derive(Signal)]
    enum Outer {
        Inner(#[signal(forward)] Forgetful),
    }
    let failure = std::panic::catch_unwind(|| signal_core::assert_fixtures!(Outer)).unwrap_err();
    let message = failure.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("built for leaf Retryable should but does not carry Retryable"),
        "{message}"
    );
}

#[test]
fn test_fixtures_need_defaults_for_other_fields() {
    struct NoDefault;
    #[derive(Signal)]
    enum Outer {
        WithDefault(#[signal(forward)] StorageError, u64),
        WithoutDefault(#[signal(forward)] StorageError, NoDefault),
    }
    let fixtures = signal_core::testing::fixtures::<Outer>();
    // PoolNeedsConnection and Busy through `WithDefault` only.
    assert_eq!(fixtures.len(), 2);
    assert!(
        fixtures
            .iter()
            .all(|f| matches!(f.value, Outer::WithDefault(_, 0)))
    );
    let _ = Outer::WithoutDefault(StorageError::Busy, NoDefault);
}
