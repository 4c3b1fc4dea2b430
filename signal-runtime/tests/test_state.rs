//! State that survives restarts, and the last runs' outcomes in the status.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use signal_core::Kind;
use signal_core::KindId;
use signal_runtime::{
    Backoff, Intensity, Phase, Policy, RECENT_RUNS, Reaction, ReactionName, RunOutcome, State,
    Supervisor,
};
use support::{
    HOUR_LIMIT, NetError, Retryable, StorageError, TransientNetwork, WorkerError, within,
};

const SECOND: Duration = Duration::from_secs(1);

fn busy() -> WorkerError {
    WorkerError::Storage(StorageError::Busy)
}

fn quick() -> Policy {
    Policy::new().backoff(Backoff::new(SECOND, SECOND).with_jitter(0.0))
}

/// Syncs items 1 to 10, one per second; fails at item 5 on its first run.
#[tokio::test(start_paused = true)]
async fn test_state_survives_a_restart() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let cursor = State::new(0u32);
        let synced = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&synced);
        let worker = supervisor.spawn_with_state(
            "sync",
            quick(),
            cursor.clone(),
            async move |ctx, cursor| {
                while cursor.get() < 10 {
                    tokio::time::sleep(SECOND).await;
                    counted.fetch_add(1, Ordering::SeqCst);
                    let at = cursor.update(|at| {
                        *at += 1;
                        *at
                    });
                    if at == 5 && ctx.attempt() == 0 {
                        return Err(busy());
                    }
                }
                Ok(cursor.get())
            },
        );
        assert_eq!(worker.join().await.ok(), Some(10));
        assert_eq!(cursor.get(), 10);
        assert_eq!(
            synced.load(Ordering::SeqCst),
            10,
            "the second run redid work"
        );
        supervisor.shutdown().await;
    })
    .await;
}

/// The negative twin: what a run keeps in its own future, or in its
/// factory's captures, starts over with each run.
#[tokio::test(start_paused = true)]
async fn test_a_runs_own_variables_start_over() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let synced = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&synced);
        let mut captured = 0u32;
        let worker = supervisor.spawn("sync", quick(), async move |ctx| {
            captured += 1;
            let mut cursor = 0;
            while cursor < 10 {
                tokio::time::sleep(SECOND).await;
                counted.fetch_add(1, Ordering::SeqCst);
                cursor += 1;
                if cursor == 5 && ctx.attempt() == 0 {
                    return Err(busy());
                }
            }
            Ok(captured)
        });
        // The second run saw a fresh copy of `captured`.
        assert_eq!(worker.join().await.ok(), Some(1));
        assert_eq!(synced.load(Ordering::SeqCst), 15);
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_a_panicking_update_leaves_the_state_whole() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let pair = State::new((0u32, 0u32));
        let worker =
            supervisor.spawn_with_state("pair", quick(), pair.clone(), async |ctx, pair| {
                pair.update(|(a, b)| {
                    *a += 1;
                    if ctx.attempt() == 0 {
                        panic!("between the two halves");
                    }
                    *b += 1;
                });
                Ok::<_, WorkerError>(pair.get())
            });
        // The first update panicked after changing `a`: it was not stored.
        assert_eq!(worker.join().await.ok(), Some((1, 1)));
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_status_keeps_the_last_runs_outcomes() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let policy = quick()
            .on::<TransientNetwork>(Reaction::Retry)
            .on::<Retryable>(Reaction::Retry);
        let runs = Arc::new(AtomicU32::new(0));
        let worker = supervisor.spawn("mixed", policy, async move |_ctx| {
            let run = runs.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(SECOND * (run + 1)).await;
            match run {
                0 => Err(busy()),
                1 => Err(WorkerError::Network(NetError::DnsTimeout {
                    host: "h".into(),
                })),
                2 => Err(WorkerError::Corrupt("c".into())),
                3 => panic!("run 4"),
                _ => Ok(()),
            }
        });
        let status = worker.wait_for(|status| status.phase == Phase::Done).await;
        let outcomes: Vec<_> = status
            .recent
            .iter()
            .map(|r| (r.run, r.lasted, r.outcome))
            .collect();
        let failed = |kind: Option<KindId>| RunOutcome::Failed {
            kind,
            reaction: ReactionName::Retry,
        };
        assert_eq!(
            outcomes,
            [
                (1, SECOND, failed(Some(Retryable::ID))),
                (2, 2 * SECOND, failed(Some(TransientNetwork::ID))),
                (3, 3 * SECOND, failed(None)),
                (
                    4,
                    4 * SECOND,
                    RunOutcome::Panicked {
                        reaction: ReactionName::Retry
                    }
                ),
                (5, 5 * SECOND, RunOutcome::Succeeded),
            ]
        );
        supervisor.shutdown().await;
    })
    .await;
}

/// At most `RECENT_RUNS` are kept, the newest; a stop shows as one.
#[tokio::test(start_paused = true)]
async fn test_recent_runs_are_bounded_and_show_the_stop() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let policy = quick().intensity(Intensity::new(11, HOUR_LIMIT));
        let worker = supervisor.spawn("failing", policy, async |_ctx| Err::<(), _>(busy()));
        let status = worker
            .wait_for(|status| status.phase == Phase::Stopped)
            .await;
        assert_eq!(status.recent.len(), RECENT_RUNS);
        let runs: Vec<_> = status.recent.iter().map(|r| r.run).collect();
        assert_eq!(runs, (5..=12).collect::<Vec<_>>());
        let reactions: Vec<_> = status
            .recent
            .iter()
            .map(|r| match r.outcome {
                RunOutcome::Failed { reaction, .. } => reaction,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(reactions[..7], [ReactionName::Retry; 7]);
        assert_eq!(reactions[7], ReactionName::Stop);
        supervisor.shutdown().await;
    })
    .await;
}

/// A `wait_for` predicate may read the same `State` (it ran under the
/// state's lock and deadlocked); what it returns is the value the predicate
/// accepted.
#[tokio::test(start_paused = true)]
async fn test_a_wait_for_predicate_may_read_the_state() {
    within(HOUR_LIMIT, async {
        let count = State::new(0u32);
        let writer = count.clone();
        let waiting = tokio::spawn({
            let count = count.clone();
            async move { count.wait_for(|&n| n >= 3 && count.get() >= 3).await }
        });
        for _ in 0..3 {
            tokio::task::yield_now().await;
            writer.update(|n| *n += 1);
        }
        assert_eq!(waiting.await.unwrap(), 3);
    })
    .await;
}
