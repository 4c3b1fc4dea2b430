//! Deadline scheduling: sleep to the next deadline, wake early on a nudge.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::futures::Notified;
use tokio::time::{Instant, Sleep};

use super::handle::RunContext;
use super::worker::Core;

/// Why [`RunContext::sleep_until`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wake {
    /// The deadline passed.
    Deadline,
    /// The worker was nudged.
    Nudged,
    /// The supervisor is shutting down (see [`RunContext::cancelled`]).
    Cancelled,
}

impl RunContext {
    /// Sleeps until `deadline`, or until the worker is nudged, whichever comes
    /// first.
    ///
    /// Nothing polls the worker in between: it costs one timer entry and one
    /// waiter, and zero wakeups, however long the sleep (a 30-day deadline is
    /// a single timer; tokio clamps deadlines beyond its wheel, about two
    /// years, and re-arms them).
    ///
    /// Nudges are a capacity-1, lossy signal: a nudge sent while the worker is
    /// busy is kept, and the next sleep returns [`Wake::Nudged`] at once;
    /// several nudges sent while busy collapse into that one. A nudge is
    /// never lost, and never counted twice. A pending nudge wins over a
    /// deadline that has also passed.
    ///
    /// Once the supervisor is shutting down, it returns [`Wake::Cancelled`]
    /// at once: a worker that loops while it wakes for a deadline or a nudge
    /// then ends by itself.
    ///
    /// Cancellation-safe: if the sleep is dropped after a nudge reached it
    /// but before it returned, the nudge stays pending.
    pub fn sleep_until(&self, deadline: Instant) -> impl Future<Output = Wake> + Send + '_ {
        // Shutdown nudges every worker after setting its flag: one waiter
        // serves both, so an idle worker holds no second one.
        let core = self.core.core();
        SleepUntil {
            core,
            nudge: core.nudge.notified(),
            sleep: tokio::time::sleep_until(deadline),
        }
    }

    /// Like [`sleep_until`](Self::sleep_until), with no deadline when there
    /// is none: the worker then waits for a nudge only.
    pub async fn park(&self, deadline: Option<Instant>) -> Wake {
        match deadline {
            Some(deadline) => self.sleep_until(deadline).await,
            None => {
                let core = self.core.core();
                if core.cancel.is_cancelled() {
                    return Wake::Cancelled;
                }
                core.nudge.notified().await;
                core.woken()
            }
        }
    }

    /// Waits for a nudge (or takes the pending one). Shutdown nudges every
    /// worker, so it returns then too: check
    /// [`is_cancelled`](Self::is_cancelled).
    pub async fn nudged(&self) {
        self.core.core().nudge.notified().await;
    }
}

pin_project_lite::pin_project! {
    /// [`RunContext::sleep_until`]'s future, written out: the nudge's waiter and the
    /// timer, nothing else, since an idle worker holds it all the while.
    struct SleepUntil<'a> {
        core: &'a Core,
        #[pin]
        nudge: Notified<'a>,
        #[pin]
        sleep: Sleep,
    }
}

impl Future for SleepUntil<'_> {
    type Output = Wake;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Wake> {
        let this = self.project();
        if this.core.cancel.is_cancelled() {
            return Poll::Ready(Wake::Cancelled);
        }
        // A pending nudge wins over a deadline that has also passed.
        if this.nudge.poll(cx).is_ready() {
            return Poll::Ready(this.core.woken());
        }
        this.sleep.poll(cx).map(|()| Wake::Deadline)
    }
}

impl Core {
    /// Why a nudge woke the worker: a shutdown nudges every worker.
    fn woken(&self) -> Wake {
        if self.cancel.is_cancelled() {
            Wake::Cancelled
        } else {
            Wake::Nudged
        }
    }
}
