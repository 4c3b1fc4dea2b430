//! Cancellation: how a worker learns that its supervisor is shutting down.

use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::Notify;

use super::supervisor::RunContext;

/// The shutdown signal one supervisor shares with all its workers (set
/// once, never cleared), and the count of their live tasks.
#[derive(Debug, Default)]
pub(crate) struct Cancel {
    flag: AtomicBool,
    notify: Notify,
    live: AtomicUsize,
    gone: Notify,
}

impl Cancel {
    /// A worker's task came to life.
    pub(crate) fn task_started(&self) {
        self.live.fetch_add(1, Ordering::SeqCst);
    }

    /// A worker's task is gone.
    pub(crate) fn task_ended(&self) {
        if self.live.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.gone.notify_waiters();
        }
    }

    /// Live worker tasks.
    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Completes once no worker task is left.
    pub(crate) async fn all_gone(&self) {
        loop {
            let mut gone = pin!(self.gone.notified());
            gone.as_mut().enable();
            if self.live() == 0 {
                return;
            }
            gone.await;
        }
    }

    /// Sets the signal and wakes everything waiting on it.
    pub(crate) fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Completes once the signal is set (at once if it already is).
    /// Cancellation-safe.
    pub(crate) async fn cancelled(&self) {
        loop {
            let mut notified = pin!(self.notify.notified());
            notified.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
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
    /// # use signal_core::runtime::{Policy, Supervisor};
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
