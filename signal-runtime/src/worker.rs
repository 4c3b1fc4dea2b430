//! What one worker's task shares with its handles: its core, its record
//! (phase, history, outcome), and the status read from it.

use std::collections::VecDeque;
use std::fmt;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio::task::AbortHandle;

use super::breaker::Permit;
use super::cancel::Cancel;
use super::error::{Failure, SupervisorError};
use super::lock;
use super::policy::{Policy, ResourceRef};
use super::resource::RebuildError;
use super::retry_state::RetryState;
use super::state::{RECENT_RUNS, RunRecord};
use signal_core::{KindId, Signal};

/// What one worker's task shares with its handles and its [`RunContext`].
pub(crate) struct Core {
    /// Boxed, not shared: errors, which are rare, copy it.
    pub(crate) name: Box<str>,
    pub(crate) nudge: Notify,
    /// A recovery was asked for and not yet acted on (capacity 1).
    pub(crate) recover: AtomicBool,
    /// Notified on every status change, and on a recovery request.
    pub(crate) changed: Notify,
    /// For each resource, the newest generation this run has seen.
    pub(crate) seen: Mutex<Vec<(usize, u64)>>,
    /// This run called [`RunContext::mark_healthy`].
    pub(crate) healthy: AtomicBool,
    /// The probe place this run took in the policy's half-open breaker,
    /// while it runs: [`RunContext::mark_healthy`] counts it as the probe's
    /// success.
    pub(crate) probe: Mutex<Option<Permit>>,
    /// The current run's attempt number, for [`RunContext::attempt`].
    pub(crate) attempt: AtomicU32,
    /// The supervisor's shutdown signal.
    pub(crate) cancel: Arc<Cancel>,
}

impl Core {
    /// At the start of a run: the worker has seen the current generation of
    /// every resource its policy may rebuild.
    pub(crate) fn snapshot(&self, policy: &Policy) {
        let mut seen = lock(&self.seen);
        seen.clear();
        for resource in policy.resources() {
            let id = resource.0.id();
            if seen.iter().all(|&(known, _)| known != id) {
                seen.push((id, resource.0.generation()));
            }
        }
    }

    pub(crate) fn saw(&self, id: usize, generation: u64) {
        let mut seen = lock(&self.seen);
        match seen.iter_mut().find(|(known, _)| *known == id) {
            Some((_, newest)) => *newest = (*newest).max(generation),
            None => seen.push((id, generation)),
        }
    }

    /// Waits for a recovery request and takes it. Cancellation-safe: a
    /// request is taken only when this returns.
    pub(crate) async fn recovery_requested(&self) {
        loop {
            let mut changed = pin!(self.changed.notified());
            changed.as_mut().enable();
            if self.recover.swap(false, Ordering::SeqCst) {
                return;
            }
            changed.await;
        }
    }

    pub(crate) fn seen(&self, resource: &ResourceRef) -> u64 {
        let id = resource.0.id();
        lock(&self.seen)
            .iter()
            .find(|(known, _)| *known == id)
            .map_or_else(|| resource.generation(), |&(_, generation)| generation)
    }
}

pub(crate) trait CoreRef: Send + Sync + 'static {
    fn core(&self) -> &Core;

    /// Aborts the worker's task.
    fn abort(&self);

    /// Whether the worker has exited.
    fn is_exited(&self) -> bool;

    /// Recovers the worker if it is backing off or stopped and (with
    /// `kinds`) its last failure carries one of `kinds`.
    fn recover_on(&self, kinds: Option<&[KindId]>) -> bool;
}

/// Resets a worker's own state on recovery; `Err` with the message if it
/// panicked.
pub(crate) type OnRecover = Arc<dyn Fn() -> Result<(), Arc<str>> + Send + Sync>;

pub(crate) struct Shared<T, E> {
    pub(crate) core: Core,
    pub(crate) record: Mutex<Record<T, E>>,
}

/// A worker's status as stored: compact while it has never failed nor
/// finished (an idle worker pays for no history).
pub(crate) struct Record<T, E> {
    pub(crate) phase: Phase,
    /// The worker's number in its supervisor, for its jitter stream.
    pub(crate) index: u32,
    pub(crate) runs: u64,
    /// Aborts the worker's task, once it is spawned.
    pub(crate) abort: Option<AbortHandle>,
    pub(crate) history: Option<Box<History<E>>>,
    pub(crate) outcome: Option<Box<Result<T, SupervisorError<E>>>>,
}

/// What a worker's failures and past runs left behind.
pub(crate) struct History<E> {
    pub(crate) retry: RetryState,
    pub(crate) failures: u64,
    pub(crate) last_failure: Option<Failure<E>>,
    pub(crate) last_rebuild_error: Option<RebuildError>,
    /// The error it is stopped with, while it is; then the one it ended with.
    pub(crate) error: Option<SupervisorError<E>>,
    pub(crate) recent: VecDeque<RunRecord>,
    /// Resets the worker's state on recovery.
    pub(crate) on_recover: Option<OnRecover>,
}

impl<E> Default for History<E> {
    fn default() -> Self {
        History {
            retry: RetryState::default(),
            failures: 0,
            last_failure: None,
            last_rebuild_error: None,
            error: None,
            recent: VecDeque::new(),
            on_recover: None,
        }
    }
}

impl<E> Clone for History<E> {
    fn clone(&self) -> Self {
        History {
            retry: self.retry.clone(),
            failures: self.failures,
            last_failure: self.last_failure.clone(),
            last_rebuild_error: self.last_rebuild_error.clone(),
            error: self.error.clone(),
            recent: self.recent.clone(),
            on_recover: self.on_recover.clone(),
        }
    }
}

impl<E> History<E> {
    /// Adds how a run ended, keeping the last [`RECENT_RUNS`].
    pub(crate) fn record(&mut self, record: RunRecord) {
        if self.recent.len() == RECENT_RUNS {
            self.recent.pop_front();
        }
        self.recent.push_back(record);
    }
}

impl<T, E> Record<T, E> {
    pub(crate) fn history(&mut self) -> &mut History<E> {
        self.history.get_or_insert_with(Box::default)
    }

    pub(crate) fn status(&self) -> WorkerStatus<E> {
        let history = self.history.as_deref();
        WorkerStatus {
            phase: self.phase,
            retry: history.map(|h| h.retry.clone()).unwrap_or_default(),
            runs: self.runs,
            failures: history.map_or(0, |h| h.failures),
            last_failure: history.and_then(|h| h.last_failure.clone()),
            last_rebuild_error: history.and_then(|h| h.last_rebuild_error.clone()),
            error: history.and_then(|h| h.error.clone()),
            recent: history.map(|h| h.recent.clone()).unwrap_or_default(),
        }
    }
}

impl<T: Send + 'static, E: Signal + Send + Sync + 'static> CoreRef for Shared<T, E> {
    fn core(&self) -> &Core {
        &self.core
    }

    fn abort(&self) {
        if let Some(abort) = &lock(&self.record).abort {
            abort.abort();
        }
    }

    fn is_exited(&self) -> bool {
        lock(&self.record).phase == Phase::Done
    }

    fn recover_on(&self, kinds: Option<&[KindId]>) -> bool {
        match kinds {
            None => self.recover_when(|_| true),
            Some(kinds) => self.recover_when(|status| {
                status
                    .last_failure
                    .as_ref()
                    .and_then(Failure::error)
                    .is_some_and(|error| kinds.iter().any(|&kind| error.has_kind(kind)))
            }),
        }
    }
}

impl<T, E> Shared<T, E> {
    /// Asks for a recovery if the worker is backing off or stopped and
    /// `condition` holds for its status: a worker that is running or
    /// rebuilding refuses it (and keeps nothing pending that a later failure
    /// could act on), and so does every worker once its supervisor is
    /// shutting down.
    ///
    /// `condition` is the caller's code (or the error's `Signal` impl): it
    /// runs on a snapshot, with no lock held, so it may read the worker
    /// itself. The request is then taken only if the worker has neither run
    /// nor failed since the snapshot (checked with the phase, under the
    /// record's lock): a condition never answers for a failure it did not
    /// see, and a worker cannot leave its backoff between the check and the
    /// request.
    pub(crate) fn recover_when(&self, condition: impl FnOnce(&WorkerStatus<E>) -> bool) -> bool {
        let waiting = |record: &Record<T, E>| {
            // Once shutdown has begun the worker never runs again: it is on
            // its way to `Done`, whatever its phase still says.
            matches!(record.phase, Phase::BackingOff | Phase::Stopped)
                && !self.core.cancel.is_cancelled()
        };
        let mark = |record: &Record<T, E>| {
            (
                record.runs,
                record
                    .history
                    .as_ref()
                    .map_or(0, |history| history.failures),
            )
        };
        let (status, seen) = {
            let record = lock(&self.record);
            if !waiting(&record) {
                return false;
            }
            (record.status(), mark(&record))
        };
        if !condition(&status) {
            return false;
        }
        {
            let mut record = lock(&self.record);
            if !waiting(&record) || mark(&record) != seen {
                return false;
            }
            self.core.recover.store(true, Ordering::SeqCst);
            // From now on the worker is on its way to a run: `join` does not
            // return the error it was stopped with, and a second request is
            // refused.
            record.phase = Phase::Starting;
        }
        self.core.changed.notify_waiters();
        true
    }

    pub(crate) fn new(name: Box<str>, cancel: Arc<Cancel>, index: u64) -> Self {
        Shared {
            core: Core {
                name,
                cancel,
                nudge: Notify::new(),
                recover: AtomicBool::new(false),
                changed: Notify::new(),
                seen: Mutex::new(Vec::new()),
                healthy: AtomicBool::new(false),
                probe: Mutex::new(None),
                attempt: AtomicU32::new(0),
            },
            record: Mutex::new(Record {
                phase: Phase::Starting,
                index: index as u32,
                runs: 0,
                abort: None,
                history: None,
                outcome: None,
            }),
        }
    }
}

/// Where a worker is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Spawned and not yet polled, or recovered and its next run not yet
    /// started.
    Starting,
    /// Running its future (possibly sleeping to a deadline inside it).
    Running,
    /// Waiting out a backoff delay; [`WorkerHandle::recover`](super::WorkerHandle::recover) ends it early.
    BackingOff,
    /// Waiting for a shared resource to be rebuilt.
    Rebuilding,
    /// Stopped by its reaction or its restart intensity; waits for
    /// [`WorkerHandle::recover`](super::WorkerHandle::recover).
    Stopped,
    /// Finished, shut down or aborted: its outcome is ready for
    /// [`WorkerHandle::join`](super::WorkerHandle::join).
    Done,
}

/// A snapshot of a worker, from [`WorkerHandle::status`](super::WorkerHandle::status).
pub struct WorkerStatus<E> {
    /// Where the worker is.
    pub phase: Phase,
    /// Its retry state.
    pub retry: RetryState,
    /// Runs started (the first one included).
    pub runs: u64,
    /// Failures so far (errors and panics), never reset.
    pub failures: u64,
    /// The last failure, kept after recovery too.
    pub last_failure: Option<Failure<E>>,
    /// The error of the last rebuild this worker asked for that failed
    /// (a panicking rebuild's too, its message in the error's source),
    /// kept after later rebuilds succeed.
    pub last_rebuild_error: Option<RebuildError>,
    /// The error it is stopped with, or ended with.
    pub error: Option<SupervisorError<E>>,
    /// How its last runs ended, oldest first: at most
    /// [`RECENT_RUNS`](super::RECENT_RUNS), kept across restarts and
    /// recoveries.
    pub recent: VecDeque<RunRecord>,
}

impl<E> Default for WorkerStatus<E> {
    fn default() -> Self {
        WorkerStatus {
            phase: Phase::Starting,
            retry: RetryState::default(),
            runs: 0,
            failures: 0,
            last_failure: None,
            last_rebuild_error: None,
            error: None,
            recent: VecDeque::new(),
        }
    }
}

impl<E> Clone for WorkerStatus<E> {
    fn clone(&self) -> Self {
        WorkerStatus {
            phase: self.phase,
            retry: self.retry.clone(),
            runs: self.runs,
            failures: self.failures,
            last_failure: self.last_failure.clone(),
            last_rebuild_error: self.last_rebuild_error.clone(),
            error: self.error.clone(),
            recent: self.recent.clone(),
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for WorkerStatus<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerStatus")
            .field("phase", &self.phase)
            .field("retry", &self.retry)
            .field("runs", &self.runs)
            .field("failures", &self.failures)
            .field("last_failure", &self.last_failure)
            .field("last_rebuild_error", &self.last_rebuild_error)
            .field("error", &self.error)
            .field("recent", &self.recent)
            .finish()
    }
}
