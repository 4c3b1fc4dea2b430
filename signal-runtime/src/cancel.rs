//! Cancellation: how a worker learns that its supervisor is shutting down.

use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::Notify;

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
