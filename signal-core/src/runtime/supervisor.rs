//! The supervisor: runs workers, reacts to their failures, shuts them down.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::ops::ControlFlow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tracing::{Instrument, Span};

use super::backoff::Jitter;
use super::cancel::Cancel;
use super::error::{Failure, SupervisorError};
use super::ladder::{Failed, Step};
use super::lock;
use super::log::{self, Report, Subject};
use super::metrics;
use super::names::{ReactionName, StopReason};
use super::policy::{Policy, ResourceRef};
use super::resource::{Lease, Resource};
use super::retry::RetryState;
use super::state::{RECENT_RUNS, RunOutcome, RunRecord, State};
use super::time;
use super::unwind::{self, panic_message};
use crate::{KindId, Signal};

/// Runs supervised workers and shuts them all down.
///
/// Cloning a `Supervisor` clones a handle to the same set of workers.
/// Dropping the last handle aborts every worker still running; call
/// [`shutdown`](Self::shutdown) to also wait until they are gone.
#[derive(Clone, Default)]
pub struct Supervisor {
    inner: Arc<SupervisorInner>,
}

#[derive(Default)]
struct SupervisorInner {
    tasks: Mutex<Tasks>,
    drained: Notify,
    spawned: AtomicU64,
    cancel: Arc<Cancel>,
}

struct Tasks {
    /// The workers that may still be running; `None` once shutdown has
    /// begun.
    set: Option<Vec<Arc<dyn CoreRef>>>,
    /// Set once shutdown has finished.
    report: Option<ShutdownReport>,
}

impl Default for Tasks {
    fn default() -> Self {
        Tasks {
            set: Some(Vec::new()),
            report: None,
        }
    }
}

impl Drop for SupervisorInner {
    /// The last handle to the supervisor is gone: abort every worker.
    fn drop(&mut self) {
        let tasks = self.tasks.get_mut().unwrap_or_else(PoisonError::into_inner);
        for worker in tasks.set.iter().flatten() {
            worker.abort();
        }
    }
}

/// How a shutdown went: how many workers ended by themselves within the
/// grace period, and how many were cut off at its end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ShutdownReport {
    /// Workers running when shutdown began that ended before the grace
    /// period was over.
    pub finished: usize,
    /// Workers still running when it was over: cancelled at their next
    /// `.await`.
    pub aborted: usize,
}

impl fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supervisor")
            .field("spawned", &self.inner.spawned.load(Ordering::Relaxed))
            .field("shut_down", &self.is_shut_down())
            .finish()
    }
}

impl Supervisor {
    /// A supervisor with no workers.
    pub fn new() -> Self {
        Supervisor::default()
    }

    /// Starts a worker named `name`: each run calls a clone of `factory`
    /// with a fresh [`RunContext`], and its future is run to completion.
    ///
    /// * `Ok(value)` ends the worker; [`WorkerHandle::join`] returns it.
    /// * `Err(error)` and panics are failures: `policy` picks the reaction by
    ///   the kinds the error carries, and the worker is restarted with a new
    ///   clone of `factory` (or stopped).
    ///
    /// The factory is a recipe for a run, cloned for each one: an async
    /// closure (`async move |ctx| { ... }`, which may borrow what it
    /// captures), a closure returning a future, or a function. Since every run
    /// starts from a fresh clone, what a run changes in the factory's captures
    /// is not seen by the next run: keep what must outlive a run in a
    /// [`State`], with [`spawn_with_state`](Self::spawn_with_state).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use signal_core::runtime::{Policy, Supervisor};
    /// # #[derive(Debug, signal_core::Signal)] enum MyError {}
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let supervisor = Supervisor::new();
    /// let greeting = Arc::new(String::from("hello"));
    /// let worker = supervisor.spawn("greeter", Policy::new(), async move |ctx| {
    ///     Ok::<_, MyError>(format!("{greeting} from {}", ctx.name()))
    /// });
    /// assert_eq!(worker.join().await.unwrap(), "hello from greeter");
    /// # }
    /// ```
    ///
    /// Must be called from within a tokio runtime. After
    /// [`shutdown`](Self::shutdown), the worker is not started and its handle
    /// reports [`SupervisorError::Shutdown`].
    pub fn spawn<F, Fut, T, E>(
        &self,
        name: impl Into<Box<str>>,
        policy: impl Into<Arc<Policy>>,
        factory: F,
    ) -> WorkerHandle<T, E>
    where
        F: FnOnce(RunContext) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Signal + Send + Sync + 'static,
    {
        self.spawn_with_hook(name.into(), policy.into(), None, factory)
    }

    fn spawn_with_hook<F, Fut, T, E>(
        &self,
        name: Box<str>,
        policy: Arc<Policy>,
        on_recover: Option<OnRecover>,
        factory: F,
    ) -> WorkerHandle<T, E>
    where
        F: FnOnce(RunContext) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Signal + Send + Sync + 'static,
    {
        let index = self.inner.spawned.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(Shared::new(name, Arc::clone(&self.inner.cancel), index));
        if let Some(hook) = on_recover {
            lock(&shared.record).history().on_recover = Some(hook);
        }
        let run = Task::new(Arc::clone(&shared));
        let mut tasks = lock(&self.inner.tasks);
        if let Some(set) = tasks.set.as_mut() {
            if set.len() == set.capacity() {
                // Forget the workers that are gone before growing.
                set.retain(|worker| !worker.is_exited());
            }
            let abort = tokio::spawn(supervise(run, policy, factory)).abort_handle();
            lock(&shared.record).abort = Some(abort);
            set.push(Arc::clone(&shared) as Arc<dyn CoreRef>);
        }
        // Else shut down: `run` is dropped unstarted and reports it.
        WorkerHandle {
            watcher: Watcher { shared },
        }
    }

    /// Starts a worker whose runs all share `state`: what a run stores there
    /// is what the next run starts from, after a failure, a panic or a
    /// rebuild. Otherwise as [`spawn`](Self::spawn); `factory` gets the
    /// state next to the [`RunContext`]. A state made with
    /// [`State::with_reset`] is reset when the worker is
    /// [recovered](WorkerHandle::recover).
    ///
    /// ```
    /// # use signal_core::runtime::{Policy, State, Supervisor};
    /// # #[derive(Debug, signal_core::Signal)] enum MyError {}
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let supervisor = Supervisor::new();
    /// let seen = State::new(Vec::<u32>::new());
    /// let worker = supervisor.spawn_with_state("collect", Policy::new(), seen.clone(), async |_ctx, seen| {
    ///     seen.update(|seen| seen.push(7));
    ///     Ok::<_, MyError>(seen.get_with(Vec::len))
    /// });
    /// assert_eq!(worker.join().await.unwrap(), 1);
    /// assert_eq!(seen.get(), [7]);
    /// # }
    /// ```
    pub fn spawn_with_state<S, F, Fut, T, E>(
        &self,
        name: impl Into<Box<str>>,
        policy: impl Into<Arc<Policy>>,
        state: State<S>,
        factory: F,
    ) -> WorkerHandle<T, E>
    where
        S: Clone + Send + 'static,
        F: FnOnce(RunContext, State<S>) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Signal + Send + Sync + 'static,
    {
        let on_recover = state.has_reset().then(|| {
            let state = state.clone();
            Arc::new(move || state.reset()) as OnRecover
        });
        self.spawn_with_hook(name.into(), policy.into(), on_recover, move |ctx| {
            factory(ctx, state)
        })
    }

    /// Whether [`shutdown`](Self::shutdown) has been called.
    pub fn is_shut_down(&self) -> bool {
        lock(&self.inner.tasks).set.is_none()
    }

    /// Stops every worker at once and waits until all of them are gone:
    /// [`shutdown_within`](Self::shutdown_within) with no grace period.
    ///
    /// Workers are cancelled at their next `.await` (their futures are
    /// dropped), so shutdown is as prompt as the workers' own polls: a worker
    /// sleeping to a deadline, backing off, stopped, or waiting on a rebuild
    /// goes at once. A rebuild a worker was driving is abandoned whole: the
    /// resource keeps its previous value. Each handle then reports
    /// [`SupervisorError::Shutdown`] (or the error the worker had stopped
    /// with). Workers spawned afterwards do not start.
    ///
    /// Calling it again, or from several places, waits for the same
    /// shutdown.
    pub async fn shutdown(&self) -> ShutdownReport {
        self.shutdown_within(Duration::ZERO).await
    }

    /// Shuts down gracefully: tells every worker to stop, gives them `grace`
    /// to finish what they are doing, then cancels the rest at their next
    /// `.await`, and waits until all of them are gone.
    ///
    /// At once, [`RunContext::cancelled`] completes in every run,
    /// [`RunContext::sleep_until`] returns [`Wake::Cancelled`](super::Wake::Cancelled),
    /// and the workers that wait in the supervisor's hands (backing off,
    /// stopped, waiting on a rebuild) end. A run that then returns ends its
    /// worker, whatever it returns: it is not restarted. What is still
    /// running when `grace` is over is cancelled as by
    /// [`shutdown`](Self::shutdown), so a worker that ignores cancellation
    /// delays shutdown by `grace` at most.
    ///
    /// A worker that does its work in transactions and checks
    /// [`RunContext::cancelled`] between them commits the one it is in, or (if
    /// `grace` runs out first, and its future is dropped mid-transaction)
    /// leaves it to be rolled back, never half done.
    ///
    /// Calling it again, or from several places, waits for the same shutdown
    /// and returns its report.
    pub async fn shutdown_within(&self, grace: Duration) -> ShutdownReport {
        let set = { lock(&self.inner.tasks).set.take() };
        match set {
            Some(workers) => {
                let mut drained = Drained(&self.inner, workers, ShutdownReport::default());
                let cancel = &self.inner.cancel;
                cancel.cancel();
                let running = cancel.live();
                // Wakes the workers asleep to a deadline (see `sleep_until`).
                for worker in &drained.1 {
                    worker.core().nudge.notify_one();
                }
                // Saturating: `Duration::MAX` is as good as no limit.
                let deadline = time::after(Instant::now(), grace);
                let _ = tokio::time::timeout_at(deadline, cancel.all_gone()).await;
                let aborted = cancel.live();
                for worker in &drained.1 {
                    worker.abort();
                }
                cancel.all_gone().await;
                drained.2 = ShutdownReport {
                    finished: running.saturating_sub(aborted),
                    aborted,
                };
                drained.2
            }
            None => loop {
                let mut drained = pin!(self.inner.drained.notified());
                drained.as_mut().enable();
                if let Some(report) = lock(&self.inner.tasks).report {
                    return report;
                }
                drained.await;
            },
        }
    }
}

/// Marks the shutdown as finished with its report when dropped, even if the
/// future driving it is dropped (every worker is aborted by then, since the
/// `JoinSet` is dropped with it).
struct Drained<'a>(&'a SupervisorInner, Vec<Arc<dyn CoreRef>>, ShutdownReport);

impl Drop for Drained<'_> {
    fn drop(&mut self) {
        for worker in &self.1 {
            worker.abort();
        }
        lock(&self.0.tasks).report = Some(self.2);
        self.0.drained.notify_waiters();
    }
}

/// What one worker's task shares with its handles and its [`RunContext`].
pub(crate) struct Core {
    /// Boxed, not shared: errors, which are rare, copy it.
    name: Box<str>,
    pub(crate) nudge: Notify,
    /// A recovery was asked for and not yet acted on (capacity 1).
    recover: AtomicBool,
    /// Notified on every status change, and on a recovery request.
    changed: Notify,
    /// For each resource, the newest generation this run has seen.
    seen: Mutex<Vec<(usize, u64)>>,
    /// This run called [`RunContext::mark_healthy`].
    healthy: AtomicBool,
    /// The current run's attempt number, for [`RunContext::attempt`].
    attempt: AtomicU32,
    /// The supervisor's shutdown signal.
    pub(crate) cancel: Arc<Cancel>,
}

impl Core {
    /// At the start of a run: the worker has seen the current generation of
    /// every resource its policy may rebuild.
    fn snapshot(&self, policy: &Policy) {
        let mut seen = lock(&self.seen);
        seen.clear();
        for resource in policy.resources() {
            let id = resource.0.id();
            if seen.iter().all(|&(known, _)| known != id) {
                seen.push((id, resource.0.generation()));
            }
        }
    }

    fn saw(&self, id: usize, generation: u64) {
        let mut seen = lock(&self.seen);
        match seen.iter_mut().find(|(known, _)| *known == id) {
            Some((_, newest)) => *newest = (*newest).max(generation),
            None => seen.push((id, generation)),
        }
    }

    /// Waits for a recovery request and takes it. Cancellation-safe: a
    /// request is taken only when this returns.
    async fn recovery_requested(&self) {
        loop {
            let mut changed = pin!(self.changed.notified());
            changed.as_mut().enable();
            if self.recover.swap(false, Ordering::SeqCst) {
                return;
            }
            changed.await;
        }
    }

    fn seen(&self, resource: &ResourceRef) -> u64 {
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
type OnRecover = Arc<dyn Fn() -> Result<(), Arc<str>> + Send + Sync>;

struct Shared<T, E> {
    core: Core,
    record: Mutex<Record<T, E>>,
}

/// A worker's status as stored: compact while it has never failed nor
/// finished (an idle worker pays for no history).
struct Record<T, E> {
    phase: Phase,
    /// The worker's number in its supervisor, for its jitter stream.
    index: u32,
    runs: u64,
    /// Aborts the worker's task, once it is spawned.
    abort: Option<AbortHandle>,
    history: Option<Box<History<E>>>,
    outcome: Option<Box<Result<T, SupervisorError<E>>>>,
}

/// What a worker's failures and past runs left behind.
struct History<E> {
    retry: RetryState,
    failures: u64,
    last_failure: Option<Failure<E>>,
    /// The error it is stopped with, while it is; then the one it ended with.
    error: Option<SupervisorError<E>>,
    recent: VecDeque<RunRecord>,
    /// Resets the worker's state on recovery.
    on_recover: Option<OnRecover>,
}

impl<E> Default for History<E> {
    fn default() -> Self {
        History {
            retry: RetryState::default(),
            failures: 0,
            last_failure: None,
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
            error: self.error.clone(),
            recent: self.recent.clone(),
            on_recover: self.on_recover.clone(),
        }
    }
}

impl<E> History<E> {
    /// Adds how a run ended, keeping the last [`RECENT_RUNS`].
    fn record(&mut self, record: RunRecord) {
        if self.recent.len() == RECENT_RUNS {
            self.recent.pop_front();
        }
        self.recent.push_back(record);
    }
}

impl<T, E> Record<T, E> {
    fn history(&mut self) -> &mut History<E> {
        self.history.get_or_insert_with(Box::default)
    }

    fn status(&self) -> WorkerStatus<E> {
        let history = self.history.as_deref();
        WorkerStatus {
            phase: self.phase,
            retry: history.map(|h| h.retry.clone()).unwrap_or_default(),
            runs: self.runs,
            failures: history.map_or(0, |h| h.failures),
            last_failure: history.and_then(|h| h.last_failure.clone()),
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
        self.recover_when(|record| match kinds {
            None => true,
            Some(kinds) => record
                .history
                .as_ref()
                .and_then(|history| history.last_failure.as_ref())
                .and_then(Failure::error)
                .is_some_and(|error| kinds.iter().any(|&kind| error.has_kind(kind))),
        })
    }
}

impl<T, E> Shared<T, E> {
    /// Asks for a recovery if the worker is backing off or stopped and
    /// `condition` holds, both checked under the record's lock: a worker
    /// that is running or rebuilding refuses it (and keeps nothing pending
    /// that a later failure could act on).
    fn recover_when(&self, condition: impl FnOnce(&Record<T, E>) -> bool) -> bool {
        let accepted = {
            let mut record = lock(&self.record);
            let waiting = matches!(record.phase, Phase::BackingOff | Phase::Stopped);
            let accepted = waiting && condition(&record);
            if accepted {
                self.core.recover.store(true, Ordering::SeqCst);
                // From now on the worker is on its way to a run: `join` does
                // not return the error it was stopped with, and a second
                // request is refused.
                record.phase = Phase::Starting;
            }
            accepted
        };
        if accepted {
            self.core.changed.notify_waiters();
        }
        accepted
    }

    fn new(name: Box<str>, cancel: Arc<Cancel>, index: u64) -> Self {
        Shared {
            core: Core {
                name,
                cancel,
                nudge: Notify::new(),
                recover: AtomicBool::new(false),
                changed: Notify::new(),
                seen: Mutex::new(Vec::new()),
                healthy: AtomicBool::new(false),
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
    /// Waiting out a backoff delay; [`WorkerHandle::recover`] ends it early.
    BackingOff,
    /// Waiting for a shared resource to be rebuilt.
    Rebuilding,
    /// Stopped by its reaction or its restart intensity; waits for
    /// [`WorkerHandle::recover`].
    Stopped,
    /// Finished, shut down or aborted: its outcome is ready for
    /// [`WorkerHandle::join`].
    Done,
}

/// A snapshot of a worker, from [`WorkerHandle::status`].
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
            .field("error", &self.error)
            .field("recent", &self.recent)
            .finish()
    }
}

/// What a run of a worker gets: its name, its attempt number, deadline
/// sleeps that nudges cut short ([`sleep_until`](RunContext::sleep_until)), and
/// leases on shared resources.
#[derive(Clone)]
pub struct RunContext {
    pub(crate) core: Arc<dyn CoreRef>,
}

impl fmt::Debug for RunContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunContext")
            .field("name", &self.name())
            .field("attempt", &self.attempt())
            .finish()
    }
}

impl RunContext {
    /// The worker's name.
    pub fn name(&self) -> &str {
        &self.core.core().name
    }

    /// Failures since the worker was last healthy or recovered: 0 on a first
    /// run.
    pub fn attempt(&self) -> u32 {
        self.core.core().attempt.load(Ordering::Relaxed)
    }

    /// The current value of `resource`, noting its generation: if this run
    /// then fails with a reaction that rebuilds `resource`, the rebuild is
    /// asked for *from this generation*, so a value some other worker already
    /// replaced is not rebuilt twice.
    ///
    /// Without it, a run is taken to have seen the generation that was
    /// current when it started.
    pub fn lease<T: Send + Sync + 'static>(&self, resource: &Resource<T>) -> Lease<T> {
        let lease = resource.get();
        self.core.core().saw(resource.id(), lease.generation());
        lease
    }

    /// Marks this run healthy: it has made progress (committed work, served
    /// a request), so if it fails later, its backoff starts over from the
    /// first delay, as after a run that lasted [`Policy::healthy_after`].
    ///
    /// Without it, health is measured by time alone, and a worker whose runs
    /// each get some work done but fail within `healthy_after` (under a
    /// steady rate of faults) backs off longer and longer although every
    /// run made progress. Restarts still count towards the
    /// [intensity](super::Intensity) limit, so a worker that marks itself
    /// healthy cannot restart in a hot loop.
    pub fn mark_healthy(&self) {
        self.core.core().healthy.store(true, Ordering::Relaxed);
    }

    /// A handle that nudges or recovers this worker.
    pub fn nudger(&self) -> Nudger {
        Nudger(Arc::clone(&self.core))
    }
}

/// Nudges or recovers one worker; cheap to clone and send anywhere.
#[derive(Clone)]
pub struct Nudger(Arc<dyn CoreRef>);

impl Nudger {
    /// The worker's name.
    pub fn name(&self) -> &str {
        &self.0.core().name
    }

    /// See [`WorkerHandle::nudge`].
    pub fn nudge(&self) {
        self.0.core().nudge.notify_one();
    }

    /// See [`WorkerHandle::recover`].
    pub fn recover(&self) -> bool {
        self.0.recover_on(None)
    }

    /// See [`WorkerHandle::recover_on`].
    pub fn recover_on(&self, kinds: &[KindId]) -> bool {
        self.0.recover_on(Some(kinds))
    }
}

impl fmt::Debug for Nudger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Nudger").field(&self.name()).finish()
    }
}

/// The handle of a supervised worker: what a [`Watcher`] does, and
/// [`join`](Self::join).
///
/// Dropping it does not stop the worker.
pub struct WorkerHandle<T, E> {
    watcher: Watcher<T, E>,
}

/// Watches and recovers one worker: its status, [`wait_for`](Self::wait_for),
/// [`recover`](Self::recover) and its conditional forms, [`nudge`](Self::nudge).
/// Cheap to clone and send anywhere; from [`WorkerHandle::watcher`]. Unlike
/// the handle, it cannot [`join`](WorkerHandle::join) (which takes the
/// worker's value).
pub struct Watcher<T, E> {
    shared: Arc<Shared<T, E>>,
}

impl<T, E> Clone for Watcher<T, E> {
    fn clone(&self) -> Self {
        Watcher {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T, E> fmt::Debug for WorkerHandle<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerHandle")
            .field("name", &&*self.watcher.shared.core.name)
            .field("phase", &lock(&self.watcher.shared.record).phase)
            .finish()
    }
}

impl<T, E> fmt::Debug for Watcher<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watcher")
            .field("name", &&*self.shared.core.name)
            .field("phase", &lock(&self.shared.record).phase)
            .finish()
    }
}

impl<T: Send + 'static, E: Signal + Send + Sync + 'static> Watcher<T, E> {
    /// The worker's name.
    pub fn name(&self) -> &str {
        &self.shared.core.name
    }

    /// See [`WorkerHandle::nudge`].
    pub fn nudge(&self) {
        self.shared.core.nudge.notify_one();
    }

    /// See [`WorkerHandle::recover`].
    pub fn recover(&self) -> bool {
        self.shared.recover_when(|_| true)
    }

    /// See [`WorkerHandle::recover_on`].
    pub fn recover_on(&self, kinds: &[KindId]) -> bool {
        CoreRef::recover_on(&*self.shared, Some(kinds))
    }

    /// See [`WorkerHandle::recover_if`].
    pub fn recover_if(&self, condition: impl FnOnce(&WorkerStatus<E>) -> bool) -> bool {
        self.shared
            .recover_when(|record| condition(&record.status()))
    }

    /// A snapshot of the worker.
    pub fn status(&self) -> WorkerStatus<E> {
        lock(&self.shared.record).status()
    }

    /// Where the worker is.
    pub fn phase(&self) -> Phase {
        lock(&self.shared.record).phase
    }

    /// A copy of the worker's retry state.
    pub fn retry_state(&self) -> RetryState {
        lock(&self.shared.record)
            .history
            .as_ref()
            .map(|history| history.retry.clone())
            .unwrap_or_default()
    }

    /// See [`WorkerHandle::wait_for`].
    pub async fn wait_for(
        &self,
        mut predicate: impl FnMut(&WorkerStatus<E>) -> bool,
    ) -> WorkerStatus<E> {
        loop {
            let mut changed = pin!(self.shared.core.changed.notified());
            changed.as_mut().enable();
            {
                let status = lock(&self.shared.record).status();
                if predicate(&status) {
                    return status;
                }
            }
            changed.await;
        }
    }

    /// Whether the worker has exited.
    pub fn is_finished(&self) -> bool {
        self.phase() == Phase::Done
    }
}

impl<T: Send + 'static, E: Signal + Send + Sync + 'static> WorkerHandle<T, E> {
    /// The worker's name.
    pub fn name(&self) -> &str {
        self.watcher.name()
    }

    /// Wakes the worker from [`RunContext::sleep_until`] now, or, if it is busy, at
    /// its next sleep. Capacity 1 and lossy: nudges sent while it is busy
    /// collapse into one, and none is lost.
    pub fn nudge(&self) {
        self.watcher.nudge();
    }

    /// An external event says the worker's failures may be over (peers
    /// reconnected, credentials renewed): if it is waiting in the
    /// supervisor's hands, it starts again at once. Returns whether the
    /// request was taken.
    ///
    /// What it does depends on where the worker is:
    ///
    /// * **Backing off** or **stopped**: taken. The worker resets its whole
    ///   [`RetryState`] (the attempt count, the backoff, and the restart
    ///   intensity window too: the outside world says the cause is gone, so
    ///   the restarts it caused no longer count), resets its
    ///   [`State`] if that was made [with a reset](State::with_reset), and
    ///   starts a run at once.
    /// * **Starting**, **running**: refused (`false`), and nothing is kept:
    ///   the worker is already trying, and a request kept until it next
    ///   fails would turn that unrelated failure (even one whose reaction is
    ///   to stop) into an immediate restart.
    /// * **Rebuilding**: refused: the worker restarts as soon as the rebuild
    ///   ends (or backs off if it fails, and can be recovered then).
    /// * **Done**: refused.
    ///
    /// The check and the request are one step: a worker cannot leave its
    /// backoff between them and find the request later. To recover only a
    /// worker that failed for a given reason, use
    /// [`recover_on`](Self::recover_on) or [`recover_if`](Self::recover_if).
    pub fn recover(&self) -> bool {
        self.watcher.recover()
    }

    /// Like [`recover`](Self::recover), only if the worker's last failure
    /// carries one of `kinds` (checked with [`Signal::has_kind`], in the same
    /// step): a worker stopped on corrupt storage is not revived by "the
    /// peers reconnected", and a panic carries no kind.
    pub fn recover_on(&self, kinds: &[KindId]) -> bool {
        self.watcher.recover_on(kinds)
    }

    /// Like [`recover`](Self::recover), only if `condition` holds for the
    /// worker's status, checked in the same step as the request.
    pub fn recover_if(&self, condition: impl FnOnce(&WorkerStatus<E>) -> bool) -> bool {
        self.watcher.recover_if(condition)
    }

    /// A handle that nudges or recovers this worker.
    pub fn nudger(&self) -> Nudger {
        Nudger(Arc::clone(&self.watcher.shared) as Arc<dyn CoreRef>)
    }

    /// A cloneable handle that reads this worker's status and recovers it.
    pub fn watcher(&self) -> Watcher<T, E> {
        self.watcher.clone()
    }

    /// A snapshot of the worker.
    pub fn status(&self) -> WorkerStatus<E> {
        self.watcher.status()
    }

    /// Where the worker is.
    pub fn phase(&self) -> Phase {
        self.watcher.phase()
    }

    /// A copy of the worker's retry state.
    pub fn retry_state(&self) -> RetryState {
        self.watcher.retry_state()
    }

    /// Waits until the worker's status satisfies `predicate` and returns it.
    ///
    /// The predicate is checked now and on every status change (a run
    /// starting, a failure, a stop, a recovery); to wait for something a
    /// worker stores in its [`State`], wait on the state
    /// ([`State::wait_for`]).
    pub async fn wait_for(
        &self,
        predicate: impl FnMut(&WorkerStatus<E>) -> bool,
    ) -> WorkerStatus<E> {
        self.watcher.wait_for(predicate).await
    }

    /// Whether the worker has exited.
    pub fn is_finished(&self) -> bool {
        self.watcher.is_finished()
    }

    /// Cancels this worker alone, as [`Supervisor::shutdown`] would.
    pub fn abort(&self) {
        CoreRef::abort(&*self.watcher.shared);
    }

    /// Waits for the worker to finish: its value, or the typed error it
    /// stopped or ended with.
    ///
    /// Returns as soon as the worker exits *or stops*: a worker stopped by
    /// its reaction ([`SupervisorError::Stopped`],
    /// [`SupervisorError::Panicked`]) or by its restart intensity
    /// ([`SupervisorError::IntensityExceeded`]) makes `join` return that
    /// error at once, so joining every handle in `main` cannot hang on a
    /// stopped worker. The stopped worker itself stays parked until it is
    /// recovered (through a [`Nudger`] taken before joining) or shut down.
    ///
    /// To wait through stops for a worker that something else recovers, use
    /// [`join_through_recovery`](Self::join_through_recovery).
    ///
    /// ```
    /// # use signal_core::runtime::{Policy, Reaction, Supervisor, SupervisorError};
    /// # #[derive(Debug, signal_core::Signal)] enum MyError { Bad }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let supervisor = Supervisor::new();
    /// let policy = Policy::new().otherwise(Reaction::Stop);
    /// let worker = supervisor.spawn("once", policy, async |_ctx| Err::<(), _>(MyError::Bad));
    /// assert!(matches!(worker.join().await, Err(SupervisorError::Stopped { .. })));
    /// # supervisor.shutdown().await;
    /// # }
    /// ```
    pub async fn join(self) -> Result<T, SupervisorError<E>> {
        let status = self
            .wait_for(|status| matches!(status.phase, Phase::Done | Phase::Stopped))
            .await;
        if status.phase == Phase::Stopped
            && let Some(error) = status.error
        {
            return Err(error);
        }
        self.exit_outcome().await
    }

    /// Waits for the worker to exit, through any number of stops and
    /// recoveries: a stopped worker is waited on until it is
    /// [recovered](Self::recover) and then exits, or until the supervisor
    /// shuts it down (the result is then the error it had stopped with).
    pub async fn join_through_recovery(self) -> Result<T, SupervisorError<E>> {
        self.exit_outcome().await
    }

    async fn exit_outcome(&self) -> Result<T, SupervisorError<E>> {
        self.wait_for(|status| status.phase == Phase::Done).await;
        lock(&self.watcher.shared.record)
            .outcome
            .take()
            .map_or_else(
                || {
                    Err(SupervisorError::Shutdown {
                        worker: Arc::from(&*self.watcher.shared.core.name),
                        last: None,
                    })
                },
                |outcome| *outcome,
            )
    }
}

/// One worker's task, as its supervising future holds it. Dropping it (the
/// task finished, or was cancelled, even before its first poll) publishes
/// the outcome.
struct Task<T, E> {
    shared: Arc<Shared<T, E>>,
}

impl<T, E> Drop for Task<T, E> {
    fn drop(&mut self) {
        let _ended = Ended(&self.shared.core.cancel);
        {
            let mut record = lock(&self.shared.record);
            if record.phase == Phase::Done {
                return; // it finished with a value
            }
            let history = record.history();
            let error = history
                .error
                .clone()
                .unwrap_or_else(|| SupervisorError::Shutdown {
                    worker: Arc::from(&*self.shared.core.name),
                    last: history.last_failure.clone(),
                });
            history.error = Some(error.clone());
            record.phase = Phase::Done;
            record.outcome = Some(Box::new(Err(error)));
        }
        self.shared.core.changed.notify_waiters();
    }
}

/// Counts a task as gone when dropped, after the task has published its
/// outcome.
struct Ended<'a>(&'a Cancel);

impl Drop for Ended<'_> {
    fn drop(&mut self) {
        self.0.task_ended();
    }
}

impl<T, E> Task<T, E> {
    fn new(shared: Arc<Shared<T, E>>) -> Self {
        shared.core.cancel.task_started();
        Task { shared }
    }

    /// Starts a run: returns its number and attempt.
    ///
    /// A recovery taken while the worker was leaving its backoff (its delay
    /// ran out as the request came) is applied here, so a request that was
    /// taken is never left pending into the run.
    fn begin_run(&self) -> (u64, u32) {
        let (started, recovered) = {
            let mut record = lock(&self.shared.record);
            record.runs += 1;
            record.phase = Phase::Running;
            let mut recovered = None;
            if self.shared.core.recover.swap(false, Ordering::SeqCst) {
                let history = record.history();
                history.retry.reset();
                history.error = None;
                recovered = Some(history.on_recover.clone());
            }
            let attempt = record.history.as_ref().map_or(0, |h| h.retry.attempt);
            ((record.runs, attempt), recovered)
        };
        if let Some(on_recover) = recovered {
            recovered_with(&self.shared.core.name, on_recover.as_ref());
        }
        self.shared.core.changed.notify_waiters();
        started
    }

    /// The run returned `value`: the worker is done.
    fn succeed(&self, value: T, started: Instant) {
        {
            let mut record = lock(&self.shared.record);
            let run = record.runs;
            record.history().record(RunRecord {
                run,
                started,
                lasted: started.elapsed(),
                outcome: RunOutcome::Succeeded,
            });
            record.phase = Phase::Done;
            record.outcome = Some(Box::new(Ok(value)));
        }
        self.shared.core.changed.notify_waiters();
    }

    /// The supervisor's reaction to a failure panicked: the worker ends
    /// with the panic as its error.
    fn end_panicked(&self, message: Arc<str>) {
        tracing::error!(
            worker = &*self.shared.core.name,
            "the reaction to a failure panicked; worker ended"
        );
        {
            let mut record = lock(&self.shared.record);
            let history = record.history();
            let error = SupervisorError::Panicked {
                worker: Arc::from(&*self.shared.core.name),
                attempt: history.retry.attempt,
                message,
            };
            history.error = Some(error.clone());
            record.phase = Phase::Done;
            record.outcome = Some(Box::new(Err(error)));
        }
        self.shared.core.changed.notify_waiters();
    }

    /// The run failed while the supervisor shuts down: recorded, not reacted
    /// to (dropping the task then reports it as the last failure).
    fn fail_in_shutdown(&self, failure: Failure<E>, kind: Option<KindId>, started: Instant) {
        let mut record = lock(&self.shared.record);
        let run = record.runs;
        let history = record.history();
        let reaction = ReactionName::Stop;
        history.record(RunRecord {
            run,
            started,
            lasted: started.elapsed(),
            outcome: match failure {
                Failure::Error(_) => RunOutcome::Failed { kind, reaction },
                Failure::Panic(_) => RunOutcome::Panicked { reaction },
            },
        });
        history.failures += 1;
        history.last_failure = Some(failure);
    }
}

/// A worker's state while the supervisor reacts to one of its failures: a
/// working copy of its history, published at each change. It lives in the
/// (boxed) reaction only, so an idle worker's task does not hold it.
struct Run<'a, T, E> {
    shared: &'a Shared<T, E>,
    runs: u64,
    /// The worker's number in its supervisor.
    index: u32,
    h: History<E>,
}

impl<'a, T, E> Run<'a, T, E>
where
    T: Send + 'static,
    E: Signal + Send + Sync + 'static,
{
    fn load(shared: &'a Shared<T, E>) -> Self {
        let record = lock(&shared.record);
        Run {
            shared,
            runs: record.runs,
            index: record.index,
            h: record.history.as_deref().cloned().unwrap_or_default(),
        }
    }

    fn name(&self) -> &str {
        &self.shared.core.name
    }

    /// The jitter stream of this reaction: the worker's name, its number
    /// in its supervisor and its failure count, so that with a seed each
    /// worker (two of the same name too) gets its own delays, reproducible
    /// from one run of the program to the next, and each failure a fresh
    /// draw.
    fn jitter_stream(&self) -> u64 {
        let name = self
            .name()
            .bytes()
            .fold(0xCBF2_9CE4_8422_2325_u64, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3)
            });
        name ^ u64::from(self.index).wrapping_mul(0xD6E8_FEB8_6659_FD93)
            ^ self.h.failures.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// Writes the working copy back, without announcing it.
    fn save(&self) {
        let mut record = lock(&self.shared.record);
        match &mut record.history {
            Some(history) => (**history).clone_from(&self.h),
            None => record.history = Some(Box::new(self.h.clone())),
        }
    }

    fn publish(&self, phase: Phase) {
        self.save();
        lock(&self.shared.record).phase = phase;
        self.shared.core.changed.notify_waiters();
    }

    /// Adds how a run ended to the recent runs (published with the next
    /// status change).
    fn record(&mut self, started: Instant, outcome: RunOutcome) {
        let run = self.runs;
        self.h.record(RunRecord {
            run,
            started,
            lasted: started.elapsed(),
            outcome,
        });
    }

    /// Reacts to one failed run, by the step the reaction ladder gives.
    /// Returns when the worker should run again, or (with `Break`) when it
    /// should end because the supervisor is shutting down.
    async fn fail(
        &mut self,
        mut failure: Failure<E>,
        started: Instant,
        policy: &Policy,
        jitter: &mut Jitter,
    ) -> ControlFlow<()> {
        let now = Instant::now();
        let marked_healthy = self.shared.core.healthy.swap(false, Ordering::Relaxed);
        if marked_healthy || now.saturating_duration_since(started) >= policy.healthy_after {
            self.h.retry.forget_backoff();
        }
        self.h.retry.attempt = self.h.retry.attempt.saturating_add(1);
        let attempt = self.h.retry.attempt;
        self.h.failures += 1;
        let mut matched = match &failure {
            Failure::Error(error) => policy.rule_for(&**error),
            Failure::Panic(_) => policy.rule_for_panic(),
        };
        let (mut proposed, reader_panic) =
            policy.delay_after(matched.rule, attempt, failure.error(), jitter);
        if let Some(message) = reader_panic {
            // A panic in what the supervisor calls for the run is a panic
            // of the run: the panic rule answers it.
            failure = Failure::Panic(Arc::from(format!(
                "the Retry-After reader panicked: {message}"
            )));
            matched = policy.rule_for_panic();
            proposed = policy
                .delay_after::<E>(matched.rule, attempt, None, jitter)
                .0;
        }
        self.h.last_failure = Some(failure.clone());
        let spent = self.h.retry.spend(matched.kind);
        let seen = matched
            .resource()
            .map_or(0, |resource| self.shared.core.seen(resource));
        let failed = Failed {
            matched,
            attempt,
            spent,
            seen,
            proposed: Some(proposed),
        };
        let step = policy.step(failed, &mut self.h.retry.restarts, now);
        let rule = matched.rule;
        self.h.retry.last_reaction = Some(rule.reaction.name());
        self.record(
            started,
            match failure {
                Failure::Error(_) => RunOutcome::Failed {
                    kind: matched.kind,
                    reaction: step.reaction(),
                },
                Failure::Panic(_) => RunOutcome::Panicked {
                    reaction: step.reaction(),
                },
            },
        );
        let trace = matched
            .kind
            .zip(failure.error())
            .and_then(|(kind, error)| error.trace_kind(kind));
        let shared = self.shared;
        let report = Report {
            subject: Subject::Worker,
            worker: &shared.core.name,
            attempt,
            kind: matched.kind,
            trace: trace.as_ref(),
            error_type: match failure {
                Failure::Error(_) => std::any::type_name::<E>(),
                Failure::Panic(_) => "panic",
            },
        };
        let restarts = self.h.retry.restarts.len();
        report.step(rule.level, &step, &policy.intensity, restarts);
        let stopped = match step {
            Step::Stop(reason) => Some(reason),
            _ => None,
        };
        metrics::step(
            Subject::Worker,
            self.name(),
            step.reaction(),
            stopped,
            matched.kind,
            failure.is_panic(),
        );

        let worker = || Arc::from(&*shared.core.name);
        match step {
            Step::Stop(reason) => {
                let error = match (reason, failure) {
                    (StopReason::Reaction, Failure::Error(error)) => SupervisorError::Stopped {
                        worker: worker(),
                        attempt,
                        error,
                    },
                    (StopReason::Reaction, Failure::Panic(message)) => SupervisorError::Panicked {
                        worker: worker(),
                        attempt,
                        message,
                    },
                    (StopReason::Exhausted, last) => SupervisorError::Exhausted {
                        worker: worker(),
                        attempts: attempt,
                        last,
                    },
                    (StopReason::IntensityExceeded, last) => SupervisorError::IntensityExceeded {
                        worker: worker(),
                        restarts,
                        within: policy.intensity.within,
                        last,
                    },
                };
                self.park(reason, error).await
            }
            Step::Rebuild {
                resource,
                from,
                after_failure,
            } => {
                self.publish(Phase::Rebuilding);
                let rebuilt = tokio::select! {
                    biased;
                    () = shared.core.cancel.cancelled() => return ControlFlow::Break(()),
                    rebuilt = resource.0.rebuild_from(from) => rebuilt,
                };
                if rebuilt.is_err() {
                    report.rebuild_failed(resource.name(), after_failure);
                    return self.back_off(after_failure).await;
                }
                ControlFlow::Continue(())
            }
            Step::Retry { delay } => self.back_off(delay).await,
        }
    }

    /// Waits out `delay`, or less if the worker is recovered; `Break` if the
    /// supervisor shuts down meanwhile.
    async fn back_off(&mut self, delay: Duration) -> ControlFlow<()> {
        let until = time::after(Instant::now(), delay);
        self.h.retry.backoff_until = Some(until);
        self.h.retry.last_delay = Some(delay);
        self.publish(Phase::BackingOff);
        let shared = self.shared;
        let started = Instant::now();
        let flow = tokio::select! {
            biased;
            () = shared.core.cancel.cancelled() => ControlFlow::Break(()),
            () = shared.core.recovery_requested() => {
                self.recovered();
                ControlFlow::Continue(())
            }
            () = tokio::time::sleep_until(until) => {
                self.h.retry.backoff_until = None;
                ControlFlow::Continue(())
            }
        };
        metrics::backoff(self.name(), started.elapsed());
        flow
    }

    /// Stops with `error` until the worker is recovered; `Break` if the
    /// supervisor shuts down first.
    async fn park(&mut self, reason: StopReason, error: SupervisorError<E>) -> ControlFlow<()> {
        self.h.retry.stopped = Some(reason);
        self.h.error = Some(error);
        self.publish(Phase::Stopped);
        let shared = self.shared;
        tokio::select! {
            biased;
            () = shared.core.cancel.cancelled() => return ControlFlow::Break(()),
            () = shared.core.recovery_requested() => self.recovered(),
        }
        ControlFlow::Continue(())
    }

    fn recovered(&mut self) {
        self.h.retry.reset();
        self.h.error = None;
        recovered_with(&self.shared.core.name, self.h.on_recover.as_ref());
    }
}

/// A worker was recovered: logged, and its state reset (a reset that
/// panics is logged and leaves the state as it was).
fn recovered_with(worker: &str, on_recover: Option<&OnRecover>) {
    log::recovered(worker);
    if let Some(reset) = on_recover
        && reset().is_err()
    {
        tracing::error!(
            worker,
            "the state's reset panicked; the state is kept as it was"
        );
    }
}

/// The task of one worker.
async fn supervise<F, Fut, T, E>(task: Task<T, E>, policy: Arc<Policy>, factory: F)
where
    F: FnOnce(RunContext) -> Fut + Clone,
    Fut: Future<Output = Result<T, E>>,
    T: Send + 'static,
    E: Signal + Send + Sync + 'static,
{
    loop {
        // Everything a run starts with is made in `begin`, outside this
        // future: only the run's own future stays here while it runs.
        let (result, span, started) = begin(&task, &policy, &factory).await;
        let failure = match result {
            Ok(Ok(value)) => return task.succeed(value, started),
            Ok(Err(error)) => Failure::Error(Arc::new(error)),
            Err(message) => Failure::Panic(message),
        };
        if task.shared.core.cancel.is_cancelled() {
            // Shutting down: no restart.
            let kind = failure
                .error()
                .and_then(|error| policy.rule_for(error).kind);
            return task.fail_in_shutdown(failure, kind, started);
        }
        // Boxed: failures are rare, and an idle worker's task then holds
        // neither the reaction nor the worker's history.
        let shared = &*task.shared;
        let policy = &*policy;
        let reaction = async move {
            let mut run = Run::load(shared);
            let mut jitter = Jitter::new(run.jitter_stream());
            let flow = run.fail(failure, started, policy, &mut jitter).await;
            run.save();
            flow
        };
        // The reaction calls code that is not the runtime's (the error's
        // `Signal` impl, tracing subscribers): if that panics, the worker
        // ends with the panic as its error, never silently.
        match Box::pin(unwind::caught(reaction.instrument(span))).await {
            Ok(ControlFlow::Continue(())) => {}
            Ok(ControlFlow::Break(())) => return,
            Err(message) => return task.end_panicked(message),
        }
    }
}

/// Starts a run: its number and attempt published, its context and span
/// made, and the future that will call a clone of the factory.
fn begin<F, Fut, T, E>(task: &Task<T, E>, policy: &Policy, factory: &F) -> Caught<F, Fut>
where
    F: FnOnce(RunContext) -> Fut + Clone,
    T: Send + 'static,
    E: Signal + Send + Sync + 'static,
{
    let core = &task.shared.core;
    core.snapshot(policy);
    core.healthy.store(false, Ordering::Relaxed);
    let (run, attempt) = task.begin_run();
    core.attempt.store(attempt, Ordering::Relaxed);
    let ctx = RunContext {
        core: Arc::clone(&task.shared) as Arc<dyn CoreRef>,
    };
    let span = tracing::info_span!(
        "worker",
        worker = &*task.shared.core.name,
        run,
        generation = tracing::field::Empty,
    );
    if let Some(resource) = policy.resources().next() {
        span.record("generation", resource.generation());
    }
    Caught::new(factory.clone(), ctx, span)
}

pin_project_lite::pin_project! {
    /// Calls the factory on first poll and runs its future inside the run's
    /// span, turning a panic in either into its message. (A hand-written
    /// future: an `async fn` would keep the worker's future twice, once as a
    /// local and once pinned.)
    #[project = CaughtProj]
    enum Caught<F, Fut> {
        Start { factory: Option<F>, ctx: Option<RunContext>, span: Span, started: Instant },
        Running { #[pin] fut: Fut, span: Span, started: Instant },
    }
}

impl<F, Fut> Caught<F, Fut> {
    fn new(factory: F, ctx: RunContext, span: Span) -> Self {
        Caught::Start {
            factory: Some(factory),
            ctx: Some(ctx),
            span,
            started: Instant::now(),
        }
    }
}

impl<F, Fut, T, E> Future for Caught<F, Fut>
where
    F: FnOnce(RunContext) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    /// The run's result (or its panic's message), its span back, and when
    /// it started.
    type Output = (Result<Result<T, E>, Arc<str>>, Span, Instant);

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Self::Output> {
        loop {
            match self.as_mut().project() {
                CaughtProj::Start {
                    factory,
                    ctx,
                    span,
                    started,
                } => {
                    let (span, started) = (std::mem::replace(span, Span::none()), *started);
                    let (Some(factory), Some(ctx)) = (factory.take(), ctx.take()) else {
                        let done = Err(Arc::from("polled after completion"));
                        return Poll::Ready((done, span, started));
                    };
                    let made = span.in_scope(|| catch_unwind(AssertUnwindSafe(|| factory(ctx))));
                    match made {
                        Ok(fut) => self.set(Caught::Running { fut, span, started }),
                        Err(payload) => {
                            return Poll::Ready((Err(panic_message(payload)), span, started));
                        }
                    }
                }
                CaughtProj::Running { fut, span, started } => {
                    let polled = {
                        let _entered = span.enter();
                        catch_unwind(AssertUnwindSafe(|| fut.poll(cx)))
                    };
                    let result = match polled {
                        Ok(Poll::Pending) => return Poll::Pending,
                        Ok(Poll::Ready(result)) => Ok(result),
                        Err(payload) => Err(panic_message(payload)),
                    };
                    let span = std::mem::replace(span, Span::none());
                    return Poll::Ready((result, span, *started));
                }
            }
        }
    }
}
