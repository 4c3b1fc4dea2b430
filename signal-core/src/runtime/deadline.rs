//! Deadline scheduling: sleep to the next deadline, wake early on a nudge.

use tokio::time::Instant;

use super::supervisor::Ctx;

/// Why [`Ctx::sleep_until`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wake {
    /// The deadline passed.
    Deadline,
    /// The worker was nudged.
    Nudged,
    /// The supervisor is shutting down (see [`Ctx::cancelled`]).
    Cancelled,
}

impl Ctx {
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
    pub async fn sleep_until(&self, deadline: Instant) -> Wake {
        let core = self.core.core();
        tokio::select! {
            biased;
            () = core.cancel.cancelled() => Wake::Cancelled,
            () = core.nudge.notified() => Wake::Nudged,
            () = tokio::time::sleep_until(deadline) => Wake::Deadline,
        }
    }

    /// Like [`sleep_until`](Self::sleep_until), with no deadline when there
    /// is none: the worker then waits for a nudge only.
    pub async fn park(&self, deadline: Option<Instant>) -> Wake {
        match deadline {
            Some(deadline) => self.sleep_until(deadline).await,
            None => {
                let core = self.core.core();
                tokio::select! {
                    biased;
                    () = core.cancel.cancelled() => Wake::Cancelled,
                    () = core.nudge.notified() => Wake::Nudged,
                }
            }
        }
    }

    /// Waits for a nudge (or takes the pending one). Unlike
    /// [`park`](Self::park), it does not return on shutdown.
    pub async fn nudged(&self) {
        self.core.core().nudge.notified().await;
    }
}
