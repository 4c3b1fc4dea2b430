//! State that survives restarts, and the record of the last runs.

use std::fmt;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::lock;
use super::names::ReactionName;
use signal_core::KindId;

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
/// never leave the value half changed. Updates do not overlap: one that
/// starts while another runs waits for it, so none is lost. The value can be
/// awaited ([`wait_for`](Self::wait_for)).
///
/// ```
/// # use signal_runtime::{Policy, State, Supervisor};
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
    inner: Arc<Inner<S>>,
}

type Reset<S> = Box<dyn Fn(&mut S) + Send + Sync>;

struct Inner<S> {
    value: Mutex<S>,
    /// Notified on every change.
    changed: Notify,
    /// Puts the value's retry part back when its worker is recovered.
    reset: Option<Reset<S>>,
}

impl<S> Clone for State<S> {
    fn clone(&self) -> Self {
        State {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for State<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("State")
            .field(&*lock(&self.inner.value))
            .finish()
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
            inner: Arc::new(Inner {
                value: Mutex::new(value),
                changed: Notify::new(),
                reset: None,
            }),
        }
    }

    /// A state holding `value`, and `reset`, which a supervisor calls on it
    /// when it [recovers](super::WorkerHandle::recover) the worker the state
    /// was given to: the retry state a worker keeps in its own value (a
    /// `retry_after` it was told, a count of failed attempts) is reset with
    /// the supervisor's, in one place, and what the worker has done (its
    /// cursor, its checkpoint) is kept.
    ///
    /// ```
    /// # use signal_runtime::State;
    /// #[derive(Clone, Default)]
    /// struct Sync {
    ///     cursor: u64,
    ///     chainlock_retry_after: Option<u64>,
    /// }
    /// let state = State::with_reset(Sync::default(), |sync| sync.chainlock_retry_after = None);
    /// # let _ = state;
    /// ```
    pub fn with_reset(value: S, reset: impl Fn(&mut S) + Send + Sync + 'static) -> Self {
        State {
            inner: Arc::new(Inner {
                value: Mutex::new(value),
                changed: Notify::new(),
                reset: Some(Box::new(reset)),
            }),
        }
    }

    /// A copy of the value.
    pub fn get(&self) -> S
    where
        S: Clone,
    {
        lock(&self.inner.value).clone()
    }

    /// Reads the value through `read`.
    pub fn get_with<R>(&self, read: impl FnOnce(&S) -> R) -> R {
        read(&lock(&self.inner.value))
    }

    /// Replaces the value, returning the previous one.
    pub fn set(&self, value: S) -> S {
        let previous = std::mem::replace(&mut *lock(&self.inner.value), value);
        self.inner.changed.notify_waiters();
        previous
    }

    /// Changes the value through `change`, all or nothing, and one change at
    /// a time: `change` works on a copy, stored when it returns, and the
    /// value stays locked meanwhile, so two overlapping updates both land
    /// (neither overwrites the other's). If `change` panics, the value stays
    /// as it was. `change` must not use this `State` itself (it would wait
    /// on its own lock).
    pub fn update<R>(&self, change: impl FnOnce(&mut S) -> R) -> R
    where
        S: Clone,
    {
        let result = {
            let mut value = lock(&self.inner.value);
            let mut next = value.clone();
            let result = change(&mut next);
            *value = next;
            result
        };
        self.inner.changed.notify_waiters();
        result
    }

    /// Waits until the value satisfies `predicate` (checked now, then after
    /// every [`set`](Self::set) and [`update`](Self::update)), and returns a
    /// copy of it. Cancellation-safe. Each check works on a copy of the
    /// value, with no lock held: `predicate` may read this `State` too.
    ///
    /// A worker's status changes when it fails or restarts, not when its
    /// state does: to wait for what a worker has stored, wait on its state.
    pub async fn wait_for(&self, mut predicate: impl FnMut(&S) -> bool) -> S
    where
        S: Clone,
    {
        loop {
            let mut changed = pin!(self.inner.changed.notified());
            changed.as_mut().enable();
            // A copy, so that `predicate` runs with no lock held (it may
            // read this `State`), and what is returned is what it accepted.
            let value = lock(&self.inner.value).clone();
            if predicate(&value) {
                return value;
            }
            changed.await;
        }
    }

    /// Applies the reset given to [`with_reset`](Self::with_reset), if any,
    /// all or nothing; `Err` with the message if it panicked.
    pub(crate) fn reset(&self) -> Result<(), Arc<str>>
    where
        S: Clone,
    {
        let Some(reset) = &self.inner.reset else {
            return Ok(());
        };
        let done = {
            let mut value = lock(&self.inner.value);
            let mut next = value.clone();
            let done = super::unwind::call(|| reset(&mut next));
            if done.is_ok() {
                *value = next;
            }
            done
        };
        self.inner.changed.notify_waiters();
        done
    }

    /// Whether a reset was given.
    pub(crate) fn has_reset(&self) -> bool {
        self.inner.reset.is_some()
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
