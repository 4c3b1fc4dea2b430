//! A tokio supervisor and per-call retry that act on the signals a worker's
//! errors carry.
//!
//! Classifying an error is half the job, and [`signal-core`](signal_core)
//! does it; the other half is the code that reacts to it. This crate (beside
//! `signal-core` as `tokio-util` beside `tokio`, and built on its public API
//! only) runs workers and, when one fails, picks what to do by the
//! [kinds](signal_core::Kind) its error carries, through every wrapper the
//! error type forwards:
//!
//! ```toml
//! [dependencies]
//! signal-core = "0.1"
//! signal-runtime = "0.1"
//! ```
//!
//!
//! * **Reactions by kind.** A [`Policy`] maps kinds to [`Rule`]s, first
//!   match wins, with a default for everything else. A rule's [`Reaction`]
//!   is to [`Rebuild`](Reaction::Rebuild) a shared [`Resource`] then
//!   restart, [`Retry`](Reaction::Retry) after a capped exponential
//!   [`Backoff`] with jitter (the rule's own, or the policy's; lengthened
//!   to the error's [Retry-After](RetryAfter) when the policy honours it),
//!   or [`Stop`](Reaction::Stop) and surface a typed [`SupervisorError`]
//!   that keeps the last error; a rule may also cap the number of attempts,
//!   in all ([`Rule::max_attempts`]) or of its own kind ([`Rule::budget`]).
//! * **One reaction ladder.** [`Policy::step`], a pure function (no
//!   runtime, no clock), answers every failure with a [`Step`]: stop (with
//!   its [`StopReason`]), rebuild (which resource, from which generation) or
//!   retry after a delay. The supervisor, [`Policy::retry`], the `tower`
//!   policy and the `backon` adjustment only carry its steps out, with one
//!   event and one metric per step, so they cannot drift apart.
//! * **Reactions across calls.** A [`RetryBudget`] shared by every call,
//!   request and worker of the policies that have it
//!   ([`Policy::retry_budget`]) caps retries to a fraction of the requests
//!   plus a floor per second, so an outage is not amplified (a refused retry
//!   is [`StopReason::BudgetExhausted`]). A [`CircuitBreaker`]
//!   ([`Policy::breaker`]) counts only the kinds that say the dependency is
//!   sick, opens on their rate, probes when half-open, and while open makes
//!   calls fail fast with an error that raises
//!   [`Unavailable`](signal_core::vocab::Unavailable) ([`Policy::call`],
//!   [`Policy::retry_guarded`], and `Policy::backon_guard` with feature
//!   `backon`); workers wait for it (their first run too), and
//!   `CircuitBreaker::layer` (feature `tower`) guards a `tower` service; a
//!   request it refused is no traffic for the budget. [`Policy::call`] runs one call
//!   with a [deadline](Call::deadline) (it stops as soon as the next wait
//!   would overrun it, and each [`Attempt`] sees the time left), marked
//!   [not idempotent](Call::idempotent) if it must be retried only when the
//!   error says the request was never sent
//!   ([`NeverSent`](signal_core::vocab::NeverSent)); it gives up with a
//!   [`RetryError`] that says why, keeps every attempt's kinds, trace and
//!   delay ([`AttemptLog`]), says "never sent" only when none of its
//!   attempts may have reached the peer (so an outer call that is not
//!   idempotent can trust it) and, for a deadline, raises
//!   [`TimedOut`](signal_core::vocab::TimedOut) itself:
//!
//!   ```
//!   # use std::time::Duration;
//!   # use signal_runtime::{Backoff, Policy, Reaction, RetryBudget};
//!   # use signal_core::{Signal, vocab::TimedOut, vocab::TransientNetwork};
//!   # #[derive(Debug, Signal)] enum E { Io(#[signal(forward)] std::io::Error) }
//!   # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//!   let budget = RetryBudget::new("backend", 0.1, 1, Duration::from_secs(10)).unwrap();
//!   let policy = Policy::new()
//!       .on::<TransientNetwork>(Reaction::Retry)
//!       .backoff(Backoff::new(Duration::from_millis(300), Duration::from_secs(5)))
//!       .retry_budget(&budget);
//!   let error = policy
//!       .call("charge")
//!       .deadline(Duration::from_secs(1))
//!       .idempotent(false)
//!       .run(async |attempt| {
//!           let _timeout = attempt.remaining(); // for the request's own timeout
//!           Err::<(), _>(E::Io(std::io::ErrorKind::ConnectionRefused.into()))
//!       })
//!       .await
//!       .unwrap_err();
//!   assert!(error.has::<TimedOut>()); // refused (never sent) until the deadline
//!   assert!(error.to_string().contains("failed after"));
//!   # }
//!   ```
//! * **Workers and single calls.** The same policy supervises long-running
//!   workers ([`Supervisor::spawn`]) and retries one call
//!   ([`Policy::retry`]), with the same events; each worker, call, request
//!   and resource draws its jitter from a stream of its own.
//! * **Single-flight rebuilds.** When many workers report the same dropped
//!   [`Resource`] (the same generation), it is rebuilt once and every one of
//!   them resumes with the new value; a failing rebuild backs off.
//! * **No hot loops.** More than N restarts within T ([`Intensity`], as in
//!   Erlang/OTP) stops the worker with
//!   [`SupervisorError::IntensityExceeded`] and an ERROR event, whatever its
//!   error was classified as; the backoff starts over once a run has stayed
//!   healthy for [`Policy::healthy_after`], or has made progress
//!   ([`RunContext::mark_healthy`]).
//! * **Logging.** Each reaction is a `tracing` event at the level its rule
//!   names (a [`Retry`](Reaction::Retry) at WARN, the others at ERROR, unless
//!   configured), with the fields `worker`, `reaction`, `attempt`,
//!   `delay_ms`, `kind`, `trace` (the path through which the error carries the
//!   kind, e.g. `TaskWorkerError::Group → GroupError::Storage →
//!   StorageError::PoolNeedsConnection (PoolNeedsConnection ⇒
//!   NeedsDbReconnect)`) and `error_type`. Error *values* are never logged:
//!   traces name types, variants and fields only, and no error's `Display`
//!   reaches an event.
//! * **Deadlines, not polling.** A worker sleeps to its exact next deadline
//!   with [`RunContext::sleep_until`] and can be woken early with
//!   [`WorkerHandle::nudge`] (capacity 1, lossy: nudges sent while it is busy
//!   collapse into one, and none is lost). An idle worker costs no wakeups,
//!   however long it sleeps.
//! * **Recovery on external events.** [`WorkerHandle::recover`] takes a
//!   worker out of backoff, or out of its stopped state, and restarts it at
//!   once, after resetting its whole [`RetryState`] through one function
//!   (and its [`State`], if made [with a reset](State::with_reset)); a
//!   worker that is running or rebuilding refuses it and keeps nothing
//!   pending. [`recover_on`](WorkerHandle::recover_on) recovers only a worker
//!   whose last failure carries given kinds, checked in the same step; a
//!   [`Watcher`] is a cloneable handle that reads status and recovers.
//! * **Panics and shutdown.** A panic in a worker is caught and handled as a
//!   failure with its own reaction ([`Policy::on_panic`]); so is a panic in
//!   what the runtime calls on its behalf (a rebuild is then a failed
//!   rebuild, a Retry-After reader's panic a panic of the run), and no
//!   worker ends without a reason in its status and `join`. Durations
//!   saturate: `Duration::MAX` is as good as never, not a panic.
//!   [`Supervisor::shutdown_within`] tells every worker
//!   ([`RunContext::cancelled`]), lets them finish within a grace period,
//!   then cancels the rest at their next `.await`; a rebuild in progress is
//!   abandoned whole, never half-published. [`WorkerHandle::join`] returns a
//!   stopped worker's typed error at once.
//! * **State and history.** A [`State`] survives a worker's restarts
//!   ([`Supervisor::spawn_with_state`]); its [`WorkerStatus`] keeps the
//!   outcomes of its last runs.
//! * **Observability.** Each run runs in a `worker` span (fields `worker`,
//!   `run`, `generation`); with the feature `metrics`, the `metrics` facade
//!   gets `signal_runtime_restarts_total` (by worker, reaction and kind),
//!   `signal_runtime_stops_total` (by reason), `signal_runtime_backoff_seconds`
//!   (time spent backing off), `signal_runtime_call_retries_total` and
//!   `signal_runtime_call_stops_total` (calls, `tower` requests and `backon`
//!   calls; stops by `reason`, [`StopReason::as_str`]) and `signal_runtime_rebuilds_total` (by outcome). [`SupervisorError`] and
//!   [`RebuildError`] implement [`Signal`](signal_core::Signal), so a supervisor
//!   nested in a worker passes its workers' signals on.
//!
//! The names, one per concept: a [`Policy`] holds [`Rule`]s; a rule's
//! [`Reaction`] is what is done, named by a [`ReactionName`] in logs and
//! history; [`Policy::rule_for`] gives the [`RuleMatch`] for an error; a run
//! gets a [`RunContext`]; a [`WorkerHandle`] shows a [`WorkerStatus`] whose
//! [`Phase`] is `Done` once the worker will never run again.
//!
//! # Feature flags
//!
//! No feature is on by default.
//!
//! | feature | adds | dependencies |
//! |---|---|---|
//! | `metrics` | runtime metrics (restarts by kind, stops, rebuilds, call retries and stops, time in backoff) through the `metrics` facade | `metrics` |
//! | `backon` | `Policy::backon_backoff`, `backon_when` and `backon_adjust`: a policy's backoff and reaction ladder for code that retries with backon | `backon` |
//! | `tower` | `Policy::tower`: a `tower::retry::Policy` from a policy; `CircuitBreaker::layer` | `tower` (`retry`) |
//! | `tonic` | [`RetryAfter`] for `signal_core::wire::tonic::RemoteStatus`: a gRPC server's pushback, honoured by a policy | `signal-core` (`tonic`) |
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::time::Duration;
//!
//! use signal_runtime::{Backoff, Policy, Reaction, Resource, Supervisor, Wake};
//! use signal_core::{Signal, kind};
//! use tokio::time::Instant;
//!
//! kind! {
//!     /// The pool was dropped: rebuild it before retrying.
//!     pub NeedsDbReconnect;
//!     /// A network blip: retrying later will do.
//!     pub TransientNetwork;
//! }
//!
//! #[derive(Debug, thiserror::Error, Signal)]
//! enum SyncError {
//!     #[error("pool dropped")]
//!     #[signal(leaf = "NeedsDbReconnect")]
//!     PoolDropped,
//!     #[error("dns timeout")]
//!     #[signal(leaf = "TransientNetwork")]
//!     DnsTimeout,
//! }
//!
//! /// Stands in for a database pool.
//! struct Pool {
//!     alive: AtomicBool,
//! }
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() {
//!     let alive = || Pool { alive: AtomicBool::new(true) };
//!     let db = Resource::new("db", alive(), move || async move {
//!         Ok::<_, std::io::Error>(alive())
//!     });
//!     let policy = Arc::new(
//!         Policy::new()
//!             .on::<NeedsDbReconnect>(Reaction::rebuild(&db)) // ERROR, then rebuild
//!             .on::<TransientNetwork>(Reaction::Retry) // WARN, then back off
//!             .backoff(Backoff::new(Duration::from_millis(100), Duration::from_secs(30))),
//!     );
//!
//!     let supervisor = Supervisor::new();
//!     let pool = db.clone();
//!     // Rotates keys every 30 days, or as soon as it is nudged.
//!     let worker = supervisor.spawn("rotate-keys", policy, move |ctx| {
//!         let pool = pool.clone();
//!         async move {
//!             let lease = ctx.lease(&pool);
//!             let next_rotation = Instant::now() + Duration::from_secs(30 * 24 * 3600);
//!             let _woken_by: Wake = ctx.sleep_until(next_rotation).await;
//!             if !lease.alive.load(Ordering::SeqCst) {
//!                 return Err(SyncError::PoolDropped);
//!             }
//!             Ok(lease.generation())
//!         }
//!     });
//!
//!     db.get().alive.store(false, Ordering::SeqCst); // the pool drops
//!     worker.nudge(); // the worker wakes, fails, the pool is rebuilt, it restarts
//!     worker.wait_for(|status| status.runs == 2).await;
//!     worker.nudge(); // the second run wakes and rotates on the new pool
//!
//!     assert_eq!(worker.join().await.ok(), Some(1));
//!     assert_eq!(db.stats().rebuilds, 1);
//!     supervisor.shutdown().await;
//! }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

mod attempt_log;
mod backoff;
mod breaker;
#[cfg(feature = "tower")]
mod breaker_layer;
mod breaker_machine;
mod budget;
mod call;
mod cancel;
mod config_error;
mod deadline;
mod error;
mod handle;
mod intensity;
mod ladder;
mod log;
mod metrics;
mod names;
mod policy;
mod react;
mod resource;
mod retry;
mod retry_after;
mod retry_error;
mod retry_error_signal;
mod retry_state;
mod state;
mod supervisor;
mod task;
mod time;
mod unwind;
#[cfg(feature = "backon")]
mod with_backon;
#[cfg(feature = "backon")]
mod with_backon_guard;
#[cfg(feature = "tower")]
mod with_tower;
mod worker;

pub use attempt_log::{AttemptLog, AttemptRecord};
pub use backoff::{Backoff, Delays};
pub use breaker::{
    BreakerBuilder, BreakerOpen, BreakerRefused, BreakerState, BreakerStats, CircuitBreaker,
};
#[cfg(feature = "tower")]
pub use breaker_layer::{BreakerError, BreakerFuture, BreakerLayer, BreakerService};
pub use budget::{BudgetStats, RetryBudget};
pub use call::{Attempt, Call};
pub use config_error::ConfigError;
pub use deadline::Wake;
pub use error::{Failure, SupervisorError};
pub use handle::{Nudger, RunContext, Watcher, WorkerHandle};
pub use intensity::Intensity;
pub use ladder::{Failed, Step};
pub use names::{ReactionName, StopReason};
pub use policy::{Policy, Reaction, ResourceRef, Rule, RuleKey, RuleMatch};
pub use resource::{Lease, RebuildError, Resource, ResourceBuilder, ResourceStats};
pub use retry_after::RetryAfter;
pub use retry_error::RetryError;
pub use retry_state::RetryState;
pub use state::{RECENT_RUNS, RunOutcome, RunRecord, State};
pub use supervisor::{ShutdownReport, Supervisor};
#[cfg(feature = "backon")]
pub use with_backon_guard::{BackonGuard, BackonGuarded};
#[cfg(feature = "tower")]
pub use with_tower::TowerPolicy;

#[cfg(feature = "tonic")]
mod with_tonic;
pub use worker::{Phase, WorkerStatus};

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, ignoring poisoning: the runtime's state stays consistent
/// across a panic, since no lock is held while user code runs.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
