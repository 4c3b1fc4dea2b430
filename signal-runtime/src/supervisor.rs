//! The supervisor: runs workers and shuts them down.

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::cancel::Cancel;
use super::handle::{RunContext, Watcher, WorkerHandle};
use super::lock;
use super::policy::Policy;
use super::state::State;
use super::task::{Task, supervise};
use super::time;
use super::worker::{CoreRef, OnRecover, Shared};
use signal_core::Signal;

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
    /// Set once shutdown has finished, or its future was dropped (every
    /// worker aborted, their tasks maybe not yet ended).
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
    /// # use signal_runtime::{Policy, Supervisor};
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
    /// reports [`SupervisorError::Shutdown`](super::SupervisorError::Shutdown).
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
    /// # use signal_runtime::{Policy, State, Supervisor};
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
    /// [`SupervisorError::Shutdown`](super::SupervisorError::Shutdown) (or the error the worker had stopped
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
    /// and returns its report. If the first call's future is dropped before
    /// it ends, every worker is aborted then, and a later call waits until
    /// all of them are gone; its report counts as aborted the workers still
    /// running when the first future was dropped.
    pub async fn shutdown_within(&self, grace: Duration) -> ShutdownReport {
        let set = { lock(&self.inner.tasks).set.take() };
        match set {
            Some(workers) => {
                let cancel = &self.inner.cancel;
                cancel.cancel();
                let mut drained = Drained {
                    inner: &self.inner,
                    workers,
                    running: cancel.live(),
                    report: None,
                };
                // Wakes the workers asleep to a deadline (see `sleep_until`).
                for worker in &drained.workers {
                    worker.core().nudge.notify_one();
                }
                // Saturating: `Duration::MAX` is as good as no limit.
                let deadline = time::after(Instant::now(), grace);
                let _ = tokio::time::timeout_at(deadline, cancel.all_gone()).await;
                let report = drained.abort();
                cancel.all_gone().await;
                drained.report = Some(report);
                report
            }
            None => {
                let report = loop {
                    let mut drained = pin!(self.inner.drained.notified());
                    drained.as_mut().enable();
                    if let Some(report) = lock(&self.inner.tasks).report {
                        break report;
                    }
                    drained.await;
                };
                // The first shutdown's future may have been dropped once it
                // aborted the workers, before their tasks ended.
                self.inner.cancel.all_gone().await;
                report
            }
        }
    }
}

/// A shutdown under way. Dropped, it aborts every worker and publishes the
/// report (the one the shutdown finished with, or, if the future driving it
/// was dropped first, one that counts the workers still live then as
/// aborted); a later shutdown returns that report once every task is gone.
struct Drained<'a> {
    inner: &'a SupervisorInner,
    workers: Vec<Arc<dyn CoreRef>>,
    /// The workers live when shutdown began.
    running: usize,
    /// Set once the shutdown has waited until every worker was gone.
    report: Option<ShutdownReport>,
}

impl Drained<'_> {
    /// Aborts every worker; the report counts those still live as aborted.
    fn abort(&self) -> ShutdownReport {
        let aborted = self.inner.cancel.live();
        for worker in &self.workers {
            worker.abort();
        }
        ShutdownReport {
            finished: self.running.saturating_sub(aborted),
            aborted,
        }
    }
}

impl Drop for Drained<'_> {
    fn drop(&mut self) {
        let report = match self.report {
            Some(report) => report,
            None => self.abort(),
        };
        lock(&self.inner.tasks).report = Some(report);
        self.inner.drained.notify_waiters();
    }
}
