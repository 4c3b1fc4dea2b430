//! Asking whether a value carries a signal allocates nothing: not through the
//! example hierarchy, not through `Box`, `Vec` or `Option`, and not when the
//! kind is chosen at run time on a `dyn Signal`.
//!
//! A counting global allocator, installed for this test binary only, counts
//! allocations, reallocations and deallocations per thread (tests run on
//! several threads at once). The tests assert counts, never times.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::Arc;

use signal_core::{Kind, KindId, Signal};
use signal_workspace::hierarchy::*;

struct Counting;

thread_local! {
    // `const` and without a destructor: reading it never allocates.
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    let _ = CALLS.try_with(|calls| calls.set(calls.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count();
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` and returns its result with the number of allocator calls it
/// made on this thread.
fn allocator_calls<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = CALLS.with(Cell::get);
    let result = black_box(f());
    let after = CALLS.with(Cell::get);
    (result, after - before)
}

/// Asserts that `$ask` answers `$expected` without calling the allocator.
macro_rules! assert_no_alloc {
    ($ask:expr, $expected:expr) => {{
        let (answer, calls) = allocator_calls(|| $ask);
        assert_eq!(
            answer,
            $expected,
            "wrong answer from `{}`",
            stringify!($ask)
        );
        assert_eq!(
            calls,
            0,
            "`{}` called the allocator {} times",
            stringify!($ask),
            calls
        );
    }};
}

fn reconnect() -> StorageError {
    StorageError::PoolNeedsConnection
}

fn benign() -> StorageError {
    StorageError::DisconnectInTransaction
}

/// `TaskWorkerError::Group → GroupError::Sync → SyncSummary.process →
/// ProcessSummary.errored[_]`: `count` per-message errors, `last` at the end.
fn aggregate(count: usize, last: StorageError) -> TaskWorkerError {
    let mut errored: Vec<_> = (0..count - 1)
        .map(|i| {
            let error = match i % 3 {
                0 => GroupMessageProcessingError::InvalidPayload,
                1 => {
                    GroupMessageProcessingError::Storage(StorageError::NotFound(format!("row {i}")))
                }
                _ => GroupMessageProcessingError::MergeStagedCommit {
                    source: benign(),
                    epoch: i as u64,
                },
            };
            (Cursor(i as u64), error)
        })
        .collect();
    errored.push((
        Cursor(count as u64),
        GroupMessageProcessingError::Storage(last),
    ));
    TaskWorkerError::Group(GroupError::Sync(Box::new(SyncSummary {
        process: ProcessSummary {
            errored,
            processed: count,
        },
        ..SyncSummary::default()
    })))
}

/// Through the commit log, a failed re-add, a group error, a client error
/// and a boxed group: every kind of wrapper in the hierarchy.
fn nested(leaf: StorageError) -> TaskWorkerError {
    TaskWorkerError::CommitLog(CommitLogError::FailedReadds(vec![
        CommitLogError::KeystoreError(StorageError::Busy),
        CommitLogError::GroupError(GroupError::Client(Box::new(ClientError::Group(Box::new(
            GroupError::Sync(Box::new(SyncSummary {
                other: Some(Box::new(GroupError::Storage(leaf))),
                ..SyncSummary::default()
            })),
        ))))),
    ]))
}

/// A carrier behind the skipped `DeviceSyncError::Client` field.
fn skipped() -> TaskWorkerError {
    TaskWorkerError::DeviceSync(DeviceSyncError::Client(ClientError::Storage(reconnect())))
}

#[test]
fn test_counter_sees_allocations() {
    let (_, calls) = allocator_calls(|| vec![0u8; 16]);
    assert!(calls > 0, "the counting allocator is not installed");
    // `trace` is the one question that allocates: it returns an owned path.
    let error = nested(reconnect());
    let (trace, calls) = allocator_calls(|| error.trace::<NeedsDbReconnect>());
    assert!(trace.is_some());
    assert!(calls > 0, "trace builds a path, which allocates");
}

#[test]
fn test_has_allocates_nothing_on_the_hierarchy() {
    let hit = aggregate(10_000, reconnect());
    let miss = aggregate(10_000, benign());
    assert_no_alloc!(hit.has::<NeedsDbReconnect>(), true);
    assert_no_alloc!(hit.has::<PoolNeedsConnection>(), true);
    assert_no_alloc!(hit.has::<Retryable>(), false);
    assert_no_alloc!(miss.has::<NeedsDbReconnect>(), false);
    assert_no_alloc!(miss.has::<PoolNeedsConnection>(), false);

    let hit = nested(reconnect());
    let miss = nested(benign());
    assert_no_alloc!(hit.has::<NeedsDbReconnect>(), true);
    assert_no_alloc!(hit.has::<Retryable>(), true);
    assert_no_alloc!(miss.has::<NeedsDbReconnect>(), false);
    assert_no_alloc!(miss.has::<Retryable>(), true);

    assert_no_alloc!(skipped().has::<NeedsDbReconnect>(), false);
    assert_no_alloc!(reconnect().has::<NeedsDbReconnect>(), true);
}

#[test]
fn test_has_allocates_nothing_through_containers() {
    let boxed = Box::new(aggregate(1_000, reconnect()));
    assert_no_alloc!(boxed.has::<NeedsDbReconnect>(), true);

    let mut many: Vec<TaskWorkerError> = (0..100).map(|_| nested(benign())).collect();
    assert_no_alloc!(many.has::<NeedsDbReconnect>(), false);
    many.push(nested(reconnect()));
    assert_no_alloc!(many.has::<NeedsDbReconnect>(), true);

    let boxed_many: Box<Vec<Box<TaskWorkerError>>> = Box::new(vec![
        Box::new(nested(benign())),
        Box::new(nested(reconnect())),
    ]);
    assert_no_alloc!(boxed_many.has::<NeedsDbReconnect>(), true);

    let maybe: Option<Box<TaskWorkerError>> = Some(Box::new(nested(benign())));
    assert_no_alloc!(maybe.has::<NeedsDbReconnect>(), false);
    let nothing: Option<Box<TaskWorkerError>> = None;
    assert_no_alloc!(nothing.has::<NeedsDbReconnect>(), false);

    let shared = Arc::new(nested(reconnect()));
    assert_no_alloc!(shared.has::<PoolNeedsConnection>(), true);
}

#[test]
fn test_has_kind_allocates_nothing_on_dyn_signal() {
    let reconnect_id: KindId = NeedsDbReconnect::ID;
    let hit = aggregate(10_000, reconnect());
    let miss = aggregate(10_000, benign());

    let hit_ref: &dyn Signal = &hit;
    let miss_ref: &dyn Signal = &miss;
    assert_no_alloc!(hit_ref.has_kind(reconnect_id), true);
    assert_no_alloc!(hit_ref.has_kind(Retryable::ID), false);
    assert_no_alloc!(miss_ref.has_kind(reconnect_id), false);

    let boxed: Box<dyn Signal + Send + Sync> = Box::new(nested(reconnect()));
    assert_no_alloc!(boxed.has_kind(reconnect_id), true);
    assert_no_alloc!(boxed.has::<NeedsDbReconnect>(), true);
    let boxed_miss: Box<dyn Signal + Send + Sync> = Box::new(nested(benign()));
    assert_no_alloc!(boxed_miss.has_kind(reconnect_id), false);
    assert_no_alloc!(boxed_miss.has::<NeedsDbReconnect>(), false);

    let shared: Arc<dyn Signal + Send + Sync> = Arc::new(skipped());
    assert_no_alloc!(shared.has_kind(reconnect_id), false);

    let objects: Vec<Box<dyn Signal + Send + Sync>> = vec![
        Box::new(benign()),
        Box::new(nested(benign())),
        Box::new(aggregate(100, reconnect())),
    ];
    assert_no_alloc!(objects.has::<NeedsDbReconnect>(), true);
    assert_no_alloc!(objects.has::<Retryable>(), true);
}
