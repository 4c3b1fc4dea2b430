//! Shared resources with single-flight rebuilds.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use super::backoff::{Backoff, Jitter};
use super::lock;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
type RebuildFn<T> = Box<dyn Fn() -> BoxFuture<'static, Result<T, BoxError>> + Send + Sync>;

/// A value many workers share (a database pool, a client), and the async
/// function that builds a new one when it is lost.
///
/// Each value has a *generation*. A worker that finds the value broken asks
/// for a rebuild *from the generation it saw*
/// ([`rebuild_from`](Self::rebuild_from)); the first such request rebuilds,
/// and every request for the same generation, arriving during the rebuild or
/// after it, gets the new value without rebuilding again. A thousand workers
/// that lose the same pool at once cause one rebuild.
///
/// A failed rebuild is shared too: the requests that waited on it get its
/// error, and the next attempt waits for the resource's [`Backoff`], so a
/// resource that cannot be rebuilt is tried at a bounded rate instead of in a
/// loop. A rebuild that panics (its closure or its future) is a failed
/// rebuild too, whose error's source carries the panic's message: no worker
/// waiting on it dies of it. With a seeded [`Backoff`], each resource draws
/// its jitter from a stream of its own.
///
/// A rebuild is all or nothing: the new value is published only once the
/// rebuild future completes. If the request that drives it is cancelled (its
/// worker shut down), the future is dropped, the previous value stays, and
/// the next request starts over.
///
/// A rebuild does not close the value it replaces: leases already handed out
/// keep it alive, and it is dropped with the last of them (by the rebuild
/// itself if no lease is left, never while holding the resource's lock, so
/// a slow drop does not hold up [`get`](Self::get)). A value whose drop
/// blocks should hand that work to a blocking thread, as `deadpool` pools
/// do.
///
/// Cloning a `Resource` clones a handle to the same value.
pub struct Resource<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Resource<T> {
    fn clone(&self) -> Self {
        Resource {
            inner: Arc::clone(&self.inner),
        }
    }
}

/// The value of a [`Resource`], with the generation it belongs to.
pub struct Lease<T> {
    value: Arc<T>,
    generation: u64,
}

impl<T> Lease<T> {
    /// The generation of the value: 0 for the first, one more per rebuild.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The shared value.
    pub fn value(&self) -> &Arc<T> {
        &self.value
    }
}

impl<T> Clone for Lease<T> {
    fn clone(&self) -> Self {
        Lease {
            value: Arc::clone(&self.value),
            generation: self.generation,
        }
    }
}

impl<T> Deref for Lease<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: fmt::Debug> fmt::Debug for Lease<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("generation", &self.generation)
            .field("value", &self.value)
            .finish()
    }
}

/// A rebuild of a [`Resource`] failed.
///
/// It implements [`Signal`](signal_core::Signal) through its source: the rebuild's
/// error is type-erased, and its `source()` chain is walked for a
/// `std::io::Error` (a refused or timed-out connection carries
/// [`TransientNetwork`](signal_core::vocab::TransientNetwork)), as
/// `#[signal(chain(std::io::Error))]` does.
#[derive(Clone, signal_core::Signal)]
pub struct RebuildError {
    resource: Arc<str>,
    attempt: u64,
    #[signal(chain(std::io::Error))]
    source: Arc<dyn std::error::Error + Send + Sync>,
}

impl RebuildError {
    /// The resource's name.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Which rebuild attempt of the resource failed (counted from 1).
    pub fn attempt(&self) -> u64 {
        self.attempt
    }
}

impl fmt::Debug for RebuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RebuildError")
            .field("resource", &self.resource)
            .field("attempt", &self.attempt)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for RebuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rebuilding resource `{}` failed (attempt {})",
            self.resource, self.attempt
        )
    }
}

impl std::error::Error for RebuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// The source of a [`RebuildError`] whose rebuild panicked.
#[derive(Debug)]
struct RebuildPanicked(Arc<str>);

impl fmt::Display for RebuildPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the rebuild panicked: {}", self.0)
    }
}

impl std::error::Error for RebuildPanicked {}

/// Counters of a [`Resource`], for tests and dashboards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResourceStats {
    /// The current generation.
    pub generation: u64,
    /// Calls to [`Resource::rebuild_from`].
    pub requests: u64,
    /// Rebuilds started.
    pub attempts: u64,
    /// Rebuilds that succeeded.
    pub rebuilds: u64,
    /// Rebuilds that failed.
    pub failures: u64,
    /// Whether a rebuild is running now.
    pub rebuilding: bool,
}

struct Inner<T> {
    name: Arc<str>,
    current: Mutex<Lease<T>>,
    /// Held by the request that rebuilds; the others queue on it (FIFO).
    gate: tokio::sync::Mutex<Gate>,
    rebuild: RebuildFn<T>,
    backoff: Backoff,
    /// Attempts that ran to completion, successful or not.
    finished: AtomicU64,
    requests: AtomicU64,
    attempts: AtomicU64,
    rebuilds: AtomicU64,
    failures: AtomicU64,
    rebuilding: AtomicBool,
}

struct Gate {
    consecutive_failures: u32,
    not_before: Option<Instant>,
    last_error: Option<RebuildError>,
    jitter: Jitter,
}

/// Marks a rebuild as running for as long as it lives, cancellation included.
struct Flight<'a>(&'a AtomicBool);

impl<'a> Flight<'a> {
    fn start(flag: &'a AtomicBool) -> Self {
        flag.store(true, Ordering::Release);
        Flight(flag)
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Configures a [`Resource`] before it is built.
pub struct ResourceBuilder<T> {
    name: Arc<str>,
    backoff: Backoff,
    value: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for ResourceBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceBuilder")
            .field("name", &self.name)
            .field("backoff", &self.backoff)
            .finish()
    }
}

impl<T: Send + Sync + 'static> ResourceBuilder<T> {
    /// Sets the backoff between failed rebuilds (default: [`Backoff::default`]).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// A resource holding `initial` (generation 0), rebuilt by `rebuild`.
    ///
    /// `rebuild` is cloned for each attempt: an async closure
    /// (`async move || { ... }`, which may borrow what it captures), a
    /// closure returning a future, or a function.
    pub fn build<F, Fut, Er>(self, initial: T, rebuild: F) -> Resource<T>
    where
        F: FnOnce() -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<T, Er>> + Send + 'static,
        Er: Into<BoxError> + 'static,
    {
        let rebuild: RebuildFn<T> = Box::new(move || {
            let fut = (rebuild.clone())();
            Box::pin(async move { fut.await.map_err(Into::into) })
        });
        // Its own stream: seeded resources do not retry in lockstep.
        let jitter = Jitter::fresh();
        Resource {
            inner: Arc::new(Inner {
                name: self.name,
                current: Mutex::new(Lease {
                    value: Arc::new(initial),
                    generation: 0,
                }),
                gate: tokio::sync::Mutex::new(Gate {
                    consecutive_failures: 0,
                    not_before: None,
                    last_error: None,
                    jitter,
                }),
                rebuild,
                backoff: self.backoff,
                finished: AtomicU64::new(0),
                requests: AtomicU64::new(0),
                attempts: AtomicU64::new(0),
                rebuilds: AtomicU64::new(0),
                failures: AtomicU64::new(0),
                rebuilding: AtomicBool::new(false),
            }),
        }
    }

    /// A resource whose first value (generation 0) comes from `rebuild`.
    pub async fn connect<F, Fut, Er>(self, rebuild: F) -> Result<Resource<T>, RebuildError>
    where
        F: FnOnce() -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<T, Er>> + Send + 'static,
        Er: Into<BoxError> + 'static,
    {
        match (rebuild.clone())().await {
            Ok(initial) => Ok(self.build(initial, rebuild)),
            Err(error) => Err(RebuildError {
                resource: self.name,
                attempt: 1,
                source: Arc::from(error.into()),
            }),
        }
    }
}

impl<T: Send + Sync + 'static> Resource<T> {
    /// A resource holding `initial` (generation 0), rebuilt by `rebuild`,
    /// with the default backoff between failed rebuilds.
    pub fn new<F, Fut, Er>(name: impl Into<Arc<str>>, initial: T, rebuild: F) -> Self
    where
        F: FnOnce() -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<T, Er>> + Send + 'static,
        Er: Into<BoxError> + 'static,
    {
        Resource::builder(name).build(initial, rebuild)
    }

    /// Starts configuring a resource.
    pub fn builder(name: impl Into<Arc<str>>) -> ResourceBuilder<T> {
        ResourceBuilder {
            name: name.into(),
            backoff: Backoff::default(),
            value: PhantomData,
        }
    }

    /// The resource's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The current value and its generation.
    pub fn get(&self) -> Lease<T> {
        lock(&self.inner.current).clone()
    }

    /// The current generation.
    pub fn generation(&self) -> u64 {
        lock(&self.inner.current).generation
    }

    /// The resource's counters.
    pub fn stats(&self) -> ResourceStats {
        let inner = &*self.inner;
        ResourceStats {
            generation: self.generation(),
            requests: inner.requests.load(Ordering::Relaxed),
            attempts: inner.attempts.load(Ordering::Relaxed),
            rebuilds: inner.rebuilds.load(Ordering::Relaxed),
            failures: inner.failures.load(Ordering::Relaxed),
            rebuilding: inner.rebuilding.load(Ordering::Acquire),
        }
    }

    /// Asks for a value newer than generation `seen`, the one the caller
    /// found broken.
    ///
    /// If the current value is already newer, it is returned at once.
    /// Otherwise the first request rebuilds while the others wait; they all
    /// get the new value, or all get the error of the failed attempt they
    /// waited on. After a failure, the next attempt starts no earlier than
    /// the resource's backoff allows.
    ///
    /// Cancellation-safe: dropping the future leaves the resource as it was
    /// (a rebuild it was driving is abandoned and never half-published).
    pub async fn rebuild_from(&self, seen: u64) -> Result<Lease<T>, RebuildError> {
        self.inner.rebuild_from(seen).await
    }

    pub(crate) fn erased(&self) -> Arc<dyn Rebuildable> {
        Arc::clone(&self.inner) as Arc<dyn Rebuildable>
    }

    /// Identifies the resource among others (stable while it lives).
    pub(crate) fn id(&self) -> usize {
        Arc::as_ptr(&self.inner) as *const () as usize
    }
}

impl<T> fmt::Debug for Resource<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resource")
            .field("name", &self.inner.name)
            .field("generation", &lock(&self.inner.current).generation)
            .finish_non_exhaustive()
    }
}

impl<T: Send + Sync + 'static> Inner<T> {
    fn newer_than(&self, seen: u64) -> Option<Lease<T>> {
        let current = lock(&self.current);
        (current.generation != seen).then(|| current.clone())
    }

    async fn rebuild_from(&self, seen: u64) -> Result<Lease<T>, RebuildError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let finished_before = self.finished.load(Ordering::Acquire);
        if let Some(lease) = self.newer_than(seen) {
            return Ok(lease);
        }
        let mut gate = self.gate.lock().await;
        if let Some(lease) = self.newer_than(seen) {
            return Ok(lease);
        }
        if self.finished.load(Ordering::Acquire) != finished_before {
            // An attempt finished while this request waited, and the
            // generation did not move: it failed. Share its error.
            if let Some(error) = &gate.last_error {
                return Err(error.clone());
            }
        }
        if let Some(not_before) = gate.not_before {
            tokio::time::sleep_until(not_before).await;
        }
        let attempt = self.attempts.fetch_add(1, Ordering::Relaxed) + 1;
        let flight = Flight::start(&self.rebuilding);
        // A panic in the rebuild (its closure or its future) is a failed
        // attempt like any other: shared with the waiters, backed off.
        let result = match super::unwind::call(|| (self.rebuild)()) {
            Ok(rebuild) => match super::unwind::caught(rebuild).await {
                Ok(result) => result,
                Err(panic) => Err(Box::new(RebuildPanicked(panic)) as BoxError),
            },
            Err(panic) => Err(Box::new(RebuildPanicked(panic)) as BoxError),
        };
        drop(flight);
        self.finished.fetch_add(1, Ordering::Release);
        match result {
            Ok(value) => {
                let (lease, replaced) = {
                    let mut current = lock(&self.current);
                    let generation = current.generation + 1;
                    let replaced = std::mem::replace(
                        &mut *current,
                        Lease {
                            value: Arc::new(value),
                            generation,
                        },
                    );
                    (current.clone(), replaced)
                };
                // Outside the lock: if this was the last lease on the old
                // value, its drop (closing connections, say) may take a
                // while, and `get` must not wait for it.
                drop(replaced);
                gate.consecutive_failures = 0;
                gate.not_before = None;
                gate.last_error = None;
                self.rebuilds.fetch_add(1, Ordering::Relaxed);
                super::metrics::rebuild(&self.name, true);
                tracing::info!(
                    resource = %self.name,
                    generation = lease.generation,
                    attempt,
                    "resource rebuilt"
                );
                Ok(lease)
            }
            Err(source) => {
                gate.consecutive_failures = gate.consecutive_failures.saturating_add(1);
                let attempts = gate.consecutive_failures;
                let delay = self.backoff.jittered(attempts, &mut gate.jitter);
                gate.not_before = Some(super::time::after(Instant::now(), delay));
                let error = RebuildError {
                    resource: Arc::clone(&self.name),
                    attempt,
                    source: Arc::from(source),
                };
                gate.last_error = Some(error.clone());
                self.failures.fetch_add(1, Ordering::Relaxed);
                super::metrics::rebuild(&self.name, false);
                tracing::error!(
                    resource = %self.name,
                    attempt,
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    "resource rebuild failed; the next attempt backs off"
                );
                Err(error)
            }
        }
    }
}

/// A [`Resource`] of any type, as a [`Reaction::Rebuild`](super::Reaction::Rebuild)
/// holds it.
pub(crate) trait Rebuildable: Send + Sync {
    fn id(&self) -> usize;
    fn name(&self) -> &str;
    fn generation(&self) -> u64;
    fn rebuild_from(&self, seen: u64) -> BoxFuture<'_, Result<u64, RebuildError>>;
}

impl<T: Send + Sync + 'static> Rebuildable for Inner<T> {
    fn id(&self) -> usize {
        self as *const Self as *const () as usize
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn generation(&self) -> u64 {
        lock(&self.current).generation
    }

    fn rebuild_from(&self, seen: u64) -> BoxFuture<'_, Result<u64, RebuildError>> {
        Box::pin(async move {
            Inner::rebuild_from(self, seen)
                .await
                .map(|lease| lease.generation)
        })
    }
}
