//! State that survives restarts, and the record of the last runs.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::lock;
use super::policy::ReactionName;
use crate::KindId;

/// A value a supervised worker keeps across its runs: a cursor, a
/// checkpoint, a count of what it has done.
///
/// Every run of a worker started with
/// [`Supervisor::spawn_with_state`](super::Supervisor::spawn_with_state)
/// gets the same `State`, so what a run stored is what the next run (after a
/// failure, a panic, a rebuild) starts from. Cloning a `State` clones a
/// handle to the same value: keep one to read the value from outside.
///
/// Changes are whole: [`update`](Self::update) works on a copy and stores it
/// only once the closure returns, so a panic inside it leaves the previous
/// value, and since it is not async, a run cancelled at an `.await` can
/// never leave the value half changed.
///
/// ```
/// # use signal_core::runtime::{Policy, State, Supervisor};
/// # #[derive(Debug, signal_core::Signal)] enum SyncError { Blip }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let supervisor = Supervisor::new();
/// let cursor = State::new(0u64);
/// let worker = supervisor.spawn_with_state("sync", Policy::new(), cursor.clone(), async |ctx, cursor| {
///     loop {
///         let at = cursor.update(|at| { *at += 1; *at }); // one more item synced
///         if at == 5 && ctx.attempt() == 0 {
///             return Err(SyncError::Blip); // restarted: the next run resumes at 5
///         }
///         if at == 10 {
///             return Ok(at);
///         }
///     }
/// });
/// assert_eq!(worker.join().await.unwrap(), 10); // 10 items synced in all, not 15
/// # supervisor.shutdown().await;
/// # }
/// ```
pub struct State<S> {
    value: Arc<Mutex<S>>,
}

impl<S> Clone for State<S> {
    fn clone(&self) -> Self {
        State {
            value: Arc::clone(&self.value),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for State<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("State").field(&*lock(&self.value)).finish()
    }
}

impl<S: Default> Default for State<S> {
    fn default() -> Self {
        State::new(S::default())
    }
}

impl<S> State<S> {
    /// A state holding `value`.
    pub fn new(value: S) -> Self {
        State {
            value: Arc::new(Mutex::new(value)),
        }
    }

    /// A copy of the value.
    pub fn get(&self) -> S
    where
        S: Clone,
    {
        lock(&self.value).clone()
    }

    /// Reads the value through `read`.
    pub fn get_with<R>(&self, read: impl FnOnce(&S) -> R) -> R {
        read(&lock(&self.value))
    }

    /// Replaces the value, returning the previous one.
    pub fn set(&self, value: S) -> S {
        std::mem::replace(&mut *lock(&self.value), value)
    }

    /// Changes the value through `change`, all or nothing: `change` works on
    /// a copy, stored when it returns; if it panics, the value stays as it
    /// was.
    pub fn update<R>(&self, change: impl FnOnce(&mut S) -> R) -> R
    where
        S: Clone,
    {
        let mut next = self.get();
        let result = change(&mut next);
        *lock(&self.value) = next;
        result
    }
}

/// How one run of a worker ended, in [`WorkerStatus::recent`](super::WorkerStatus::recent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunRecord {
    /// The run's number (the first run is 1).
    pub run: u64,
    /// When it started.
    pub started: Instant,
    /// How long it lasted.
    pub lasted: Duration,
    /// How it ended.
    pub outcome: RunOutcome,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// It returned a value: the worker finished.
    Succeeded,
    /// It returned an error.
    Failed {
        /// The kind whose rule matched the error (`None` for the default
        /// rule).
        kind: Option<KindId>,
        /// What the supervisor did about it.
        reaction: ReactionName,
    },
    /// It panicked.
    Panicked {
        /// What the supervisor did about it.
        reaction: ReactionName,
    },
}

/// How many runs [`WorkerStatus::recent`](super::WorkerStatus::recent) keeps.
pub const RECENT_RUNS: usize = 8;
