//! The handles of a worker: what a run gets ([`RunContext`]), and what
//! the outside holds ([`WorkerHandle`], [`Watcher`], [`Nudger`]).

use std::fmt;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::breaker::Outcome;
use super::error::SupervisorError;
use super::lock;
use super::resource::{Lease, Resource};
use super::retry_state::RetryState;
use super::worker::{CoreRef, Phase, Shared, WorkerStatus};
use signal_core::{KindId, Signal};

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
    /// first delay, as after a run that lasted [`Policy::healthy_after`](super::Policy::healthy_after).
    ///
    /// Without it, health is measured by time alone, and a worker whose runs
    /// each get some work done but fail within `healthy_after` (under a
    /// steady rate of faults) backs off longer and longer although every
    /// run made progress. Restarts still count towards the
    /// [intensity](super::Intensity) limit, so a worker that marks itself
    /// healthy cannot restart in a hot loop.
    ///
    /// A run that took a probe's place in the policy's half-open
    /// [circuit breaker](super::CircuitBreaker) answers the probe with it:
    /// the dependency answered, and the place is not held for as long as a
    /// long-lived run (a consumer loop) runs. Its failure later is counted
    /// as any other outcome.
    pub fn mark_healthy(&self) {
        let core = self.core.core();
        core.healthy.store(true, Ordering::Relaxed);
        let probe = lock(&core.probe).take();
        if let Some(probe) = probe {
            probe.record(Outcome::Answered);
        }
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
    pub(crate) watcher: Watcher<T, E>,
}

/// Watches and recovers one worker: its status, [`wait_for`](Self::wait_for),
/// [`recover`](Self::recover) and its conditional forms, [`nudge`](Self::nudge).
/// Cheap to clone and send anywhere; from [`WorkerHandle::watcher`]. Unlike
/// the handle, it cannot [`join`](WorkerHandle::join) (which takes the
/// worker's value).
pub struct Watcher<T, E> {
    pub(crate) shared: Arc<Shared<T, E>>,
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
        self.shared.recover_when(condition)
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
    ///   [`State`](super::State) if that was made [with a reset](super::State::with_reset), and
    ///   starts a run at once.
    /// * **Starting**, **running**: refused (`false`), and nothing is kept:
    ///   the worker is already trying, and a request kept until it next
    ///   fails would turn that unrelated failure (even one whose reaction is
    ///   to stop) into an immediate restart.
    /// * **Rebuilding**: refused: the worker restarts as soon as the rebuild
    ///   ends (or backs off if it fails, and can be recovered then).
    /// * **Done**: refused.
    /// * Whatever the phase, once the supervisor is shutting down: refused,
    ///   since the worker never runs again.
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
    /// worker's status. `condition` runs on a snapshot of the status with no
    /// lock held (it may read this worker, through a [`Watcher`], say); the
    /// request is taken only if the worker has neither run nor failed since
    /// that snapshot, so the condition always answers for the failure the
    /// worker is waiting on, and `false` is returned otherwise.
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
    /// worker stores in its [`State`](super::State), wait on the state
    /// ([`State::wait_for`](super::State::wait_for)).
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

    /// Cancels this worker alone, as [`Supervisor::shutdown`](super::Supervisor::shutdown) would.
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
    /// # use signal_runtime::{Policy, Reaction, Supervisor, SupervisorError};
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

impl RunContext {
    /// Completes once the supervisor has begun to shut down
    /// ([`Supervisor::shutdown_within`](super::Supervisor::shutdown_within)
    /// or [`shutdown`](super::Supervisor::shutdown)); at once if it has.
    ///
    /// A worker that selects on it between units of work can finish the unit
    /// it is in (commit its transaction, answer its request) and return, and
    /// so leave nothing half done; the supervisor does not restart a worker
    /// after shutdown has begun, whatever its run returns. Cancellation-safe.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use signal_runtime::{Policy, Supervisor};
    /// # #[derive(Debug, signal_core::Signal)] enum MyError {}
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let supervisor = Supervisor::new();
    /// let worker = supervisor.spawn("batches", Policy::new(), async |ctx| {
    ///     let mut batches = 0;
    ///     loop {
    ///         tokio::select! {
    ///             () = ctx.cancelled() => return Ok::<_, MyError>(batches),
    ///             () = tokio::time::sleep(Duration::from_secs(1)) => batches += 1, // one batch
    ///         }
    ///     }
    /// });
    /// tokio::time::sleep(Duration::from_millis(3500)).await;
    /// let report = supervisor.shutdown_within(Duration::from_secs(10)).await;
    /// assert_eq!((report.finished, report.aborted), (1, 0));
    /// assert_eq!(worker.join().await.unwrap(), 3);
    /// # }
    /// ```
    pub async fn cancelled(&self) {
        self.core.core().cancel.cancelled().await;
    }

    /// Whether the supervisor has begun to shut down.
    pub fn is_cancelled(&self) -> bool {
        self.core.core().cancel.is_cancelled()
    }
}
