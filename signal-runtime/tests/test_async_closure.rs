//! Rust 2024 async closures, which may borrow what they capture, are
//! accepted wherever a closure returning a future is: `spawn` and
//! `Resource::new`.

mod support;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use signal_runtime::{Policy, Reaction, Resource, Supervisor};
use support::{HOUR_LIMIT, NeedsDbReconnect, Pool, StorageError, WorkerError, within};

#[tokio::test(start_paused = true)]
async fn test_spawn_takes_an_async_closure_that_borrows_its_captures() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let calls = Arc::new(AtomicU32::new(0));
        let label = String::from("run");
        let counted = Arc::clone(&calls);
        // The body borrows `counted` and `label` from the closure: a lending
        // async closure, which no `FnMut(RunContext) -> Fut` bound accepts.
        let worker = supervisor.spawn("async-closure", Policy::new(), async move |ctx| {
            let run = counted.fetch_add(1, Ordering::SeqCst) + 1;
            if run < 3 {
                return Err(WorkerError::Storage(StorageError::Busy));
            }
            Ok(format!("{label} {run} of {}", ctx.name()))
        });
        assert_eq!(worker.join().await.unwrap(), "run 3 of async-closure");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        supervisor.shutdown().await;
    })
    .await;
}

/// A closure returning a future, and a plain function, still work.
#[tokio::test(start_paused = true)]
async fn test_spawn_still_takes_closures_returning_futures_and_functions() {
    async fn answer(_ctx: signal_runtime::RunContext) -> Result<u32, WorkerError> {
        Ok(42)
    }
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let base = Arc::new(40);
        let closure = supervisor.spawn("closure", Policy::new(), move |_ctx| {
            let base = Arc::clone(&base);
            async move { Ok::<_, WorkerError>(*base + 2) }
        });
        let function = supervisor.spawn("function", Policy::new(), answer);
        assert_eq!(closure.join().await.unwrap(), 42);
        assert_eq!(function.join().await.unwrap(), 42);
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_resource_rebuilds_with_an_async_closure() {
    within(HOUR_LIMIT, async {
        let opened = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&opened);
        let db = Resource::new("db", Pool::default(), async move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok::<_, io::Error>(Pool::default())
        });
        let policy = Policy::new().on::<NeedsDbReconnect>(Reaction::rebuild(&db));
        let supervisor = Supervisor::new();
        let pool = db.clone();
        let worker = supervisor.spawn("sync", policy, async move |ctx| {
            let lease = ctx.lease(&pool);
            if lease.generation() == 0 {
                lease.drop_connection();
                lease.serve().await?;
                unreachable!("a dropped pool fails at once");
            }
            Ok::<_, WorkerError>(lease.generation())
        });
        assert_eq!(worker.join().await.unwrap(), 1);
        assert_eq!(opened.load(Ordering::SeqCst), 1);
        assert_eq!(db.stats().rebuilds, 1);
        supervisor.shutdown().await;
    })
    .await;
}
