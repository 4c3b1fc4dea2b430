//! Shared pieces of the runtime tests: an error hierarchy, a pool, a poll
//! counter, a tracing layer that captures events, and the breakers,
//! policies and budgets the breaker and budget tests build.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use signal_core::{Signal, kind};
use signal_runtime::{
    Backoff, BreakerBuilder, BreakerState, CircuitBreaker, Intensity, Policy, Reaction,
    RetryBudget, RetryError,
};
use tokio::sync::Notify;
use tracing::field::{Field, Visit};
use tracing::subscriber::DefaultGuard;
use tracing::{Level, Subscriber};
use tracing_subscriber::layer::{Layer, SubscriberExt};

kind! {
    /// The pool must be rebuilt.
    pub NeedsDbReconnect;
    /// The pool has no live connection.
    pub PoolNeedsConnection: NeedsDbReconnect;
    /// Trying again may succeed.
    pub Retryable;
    /// A network blip.
    pub TransientNetwork: Retryable;
}

#[derive(Debug, thiserror::Error, Signal)]
pub enum StorageError {
    #[error("pool needs a connection")]
    #[signal(leaf = "PoolNeedsConnection")]
    PoolNeedsConnection,
    #[error("database busy")]
    #[signal(leaf = "Retryable")]
    Busy,
    #[error("disconnected inside a transaction")]
    DisconnectInTransaction,
}

#[derive(Debug, thiserror::Error, Signal)]
pub enum NetError {
    #[error("dns lookup of {host} timed out")]
    #[signal(leaf = "TransientNetwork")]
    DnsTimeout { host: String },
}

#[derive(Debug, thiserror::Error, Signal)]
pub enum WorkerError {
    #[error(transparent)]
    Storage(#[signal(forward)] StorageError),
    #[error(transparent)]
    Network(#[signal(forward)] NetError),
    #[error("corrupt record {0}")]
    Corrupt(String),
}

/// A stand-in for a database pool: alive until dropped.
#[derive(Debug, Default)]
pub struct Pool {
    dead: AtomicBool,
    woken: Notify,
}

impl Pool {
    pub fn is_alive(&self) -> bool {
        !self.dead.load(Ordering::SeqCst)
    }

    /// Drops the pool: every worker serving it fails now, with an error that
    /// carries `PoolNeedsConnection`.
    pub fn drop_connection(&self) {
        self.dead.store(true, Ordering::SeqCst);
        self.woken.notify_waiters();
    }

    /// A transient failure: every worker serving the pool fails now, with a
    /// `Busy` error (`Retryable`); the pool stays alive.
    pub fn blip(&self) {
        self.woken.notify_waiters();
    }

    /// Serves until the pool is dropped or blips; fails at once on a dropped
    /// pool.
    pub async fn serve(&self) -> Result<(), WorkerError> {
        let woken = self.woken.notified();
        if self.is_alive() {
            woken.await;
        }
        Err(WorkerError::Storage(if self.is_alive() {
            StorageError::Busy
        } else {
            StorageError::PoolNeedsConnection
        }))
    }
}

/// Counts the polls of a future.
pub struct Counted<F> {
    inner: Pin<Box<F>>,
    polls: Arc<AtomicU64>,
}

impl<F> Counted<F> {
    pub fn new(inner: F, polls: Arc<AtomicU64>) -> Self {
        Counted {
            inner: Box::pin(inner),
            polls,
        }
    }
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.fetch_add(1, Ordering::Relaxed);
        self.inner.as_mut().poll(cx)
    }
}

/// A counter tests can wait on.
#[derive(Clone, Default)]
pub struct Gauge {
    count: Arc<AtomicUsize>,
    changed: Arc<Notify>,
}

impl Gauge {
    pub fn add(&self, n: usize) {
        self.count.fetch_add(n, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    pub fn get(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    pub async fn reach(&self, target: usize) {
        loop {
            let changed = self.changed.notified();
            if self.get() >= target {
                return;
            }
            changed.await;
        }
    }
}

/// Lets every ready task run, by sleeping 1 ms of paused time: the clock
/// only advances once nothing else can run.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// One captured event.
#[derive(Clone, Debug)]
pub struct Event {
    pub level: Level,
    pub message: String,
    pub fields: BTreeMap<&'static str, String>,
}

impl Event {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// Every recorded value, message included, for "never logged" checks.
    pub fn text(&self) -> String {
        let mut text = self.message.clone();
        for (name, value) in &self.fields {
            text.push_str(&format!(" {name}={value}"));
        }
        text
    }
}

/// A layer that keeps every event.
#[derive(Clone, Default)]
pub struct Events(Arc<Mutex<Vec<Event>>>);

impl Events {
    /// Starts capturing this thread's events until the guard drops.
    pub fn capture() -> (Events, DefaultGuard) {
        let events = Events::default();
        let subscriber = tracing_subscriber::registry().with(events.clone());
        (events, tracing::subscriber::set_default(subscriber))
    }

    pub fn all(&self) -> Vec<Event> {
        self.0.lock().unwrap().clone()
    }

    /// The events whose `reaction` field is `reaction`.
    pub fn reactions(&self, reaction: &str) -> Vec<Event> {
        self.all()
            .into_iter()
            .filter(|event| event.field("reaction") == Some(reaction))
            .collect()
    }
}

impl<S: Subscriber> Layer<S> for Events {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut visitor = Visitor::default();
        event.record(&mut visitor);
        self.0.lock().unwrap().push(Event {
            level: *event.metadata().level(),
            message: visitor.message,
            fields: visitor.fields,
        });
    }
}

#[derive(Default)]
struct Visitor {
    message: String,
    fields: BTreeMap<&'static str, String>,
}

impl Visit for Visitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.fields.insert(field.name(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.fields.insert(field.name(), format!("{value:?}"));
        }
    }
}

/// A worker factory that follows a script: run `i` lasts `script[i]` of
/// simulated time and then fails with `error()`; the run after the script
/// succeeds with the number of runs. Records when each run started.
pub fn scripted(
    script: Vec<Duration>,
    error: fn() -> WorkerError,
    starts: Arc<Mutex<Vec<tokio::time::Instant>>>,
) -> impl FnOnce(
    signal_runtime::RunContext,
) -> Pin<Box<dyn Future<Output = Result<usize, WorkerError>> + Send>>
+ Clone
+ Send
+ 'static {
    // Each run calls a fresh clone of the factory: the run counter is shared.
    let runs = Arc::new(AtomicUsize::new(0));
    let script = Arc::new(script);
    move |_ctx| {
        starts.lock().unwrap().push(tokio::time::Instant::now());
        let this = runs.fetch_add(1, Ordering::SeqCst);
        let lasts = script.get(this).copied();
        Box::pin(async move {
            match lasts {
                Some(lasts) => {
                    tokio::time::sleep(lasts).await;
                    Err(error())
                }
                None => Ok(this + 1),
            }
        })
    }
}

/// The gaps between consecutive instants.
pub fn gaps(instants: &[tokio::time::Instant]) -> Vec<Duration> {
    instants.windows(2).map(|w| w[1] - w[0]).collect()
}

/// Awaits `fut`, failing the test if it takes more than `limit` of simulated
/// time (so a regression fails fast instead of hanging).
///
/// Also runs the tests of one binary one at a time. They capture events with
/// a thread-local subscriber, and `tracing` caches, per callsite and for the
/// whole process, whether anyone listens: a test's thread registering a
/// callsite while another test's subscriber comes and goes can make that
/// other test miss events. One test at a time keeps every capture exact.
pub async fn within<F: Future>(limit: Duration, fut: F) -> F::Output {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _serial = SERIAL.lock().await;
    tracing::callsite::rebuild_interest_cache();
    match tokio::time::timeout(limit, fut).await {
        Ok(output) => output,
        Err(_) => panic!("not done within {limit:?} of simulated time"),
    }
}

/// One hour, for [`within`] limits.
pub const HOUR_LIMIT: Duration = Duration::from_secs(3600);

/// One millisecond.
pub const MS: Duration = Duration::from_millis(1);

/// How long the breakers of the breaker tests stay open.
pub const OPEN_FOR: Duration = Duration::from_secs(30);

/// A breaker named `name` that counts network failures and opens at half
/// of at least `min_calls` outcomes; add to it what a test needs, then
/// build it.
pub fn network_breaker(name: &str, min_calls: u32) -> BreakerBuilder {
    CircuitBreaker::builder(name)
        .counts::<signal_core::vocab::TransientNetwork>()
        .min_calls(min_calls)
}

/// Retries the network up to 3 attempts, after 100 ms then 200 ms (up to
/// 1 s, no jitter); stops on anything else; no intensity limit.
pub fn network_policy() -> Policy {
    Policy::new()
        .on::<signal_core::vocab::TransientNetwork>(Reaction::Retry.max_attempts(3))
        .otherwise(Reaction::Stop)
        .backoff(Backoff::new(100 * MS, Duration::from_secs(1)).with_jitter(0.0))
        .intensity(Intensity::new(u32::MAX, Duration::from_secs(1)))
}

/// A budget named "api" on the floor only: `floor` retries a second, over
/// 10 s, no ratio.
pub fn floor_budget(floor: u32) -> RetryBudget {
    RetryBudget::new("api", 0.0, floor, Duration::from_secs(10)).unwrap()
}

/// Opens `breaker` with calls named "api" through `policy` that fail with
/// `error()`.
pub async fn open_breaker<E: Signal + 'static>(
    policy: &Policy,
    breaker: &CircuitBreaker,
    error: impl Fn() -> E,
) {
    while breaker.state() != BreakerState::Open {
        let _ = policy
            .call("api")
            .run(async |_| Err::<(), _>(error()))
            .await;
    }
}

/// A call named `name` through `policy` whose one attempt succeeds.
pub async fn succeed<E: Signal + 'static>(
    policy: &Policy,
    name: &str,
) -> Result<(), RetryError<E>> {
    policy.call(name).run(async |_| Ok::<(), E>(())).await
}

/// A backend that answers every request with `answer`, and counts them.
#[derive(Clone)]
pub struct Backend<E> {
    sent: Arc<AtomicU64>,
    answer: Arc<Mutex<Result<(), E>>>,
}

impl<E: Clone> Backend<E> {
    pub fn new(answer: Result<(), E>) -> Backend<E> {
        Backend {
            sent: Arc::default(),
            answer: Arc::new(Mutex::new(answer)),
        }
    }

    pub fn send(&self) -> Result<(), E> {
        self.sent.fetch_add(1, Ordering::SeqCst);
        self.answer.lock().unwrap().clone()
    }

    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    /// Answers `answer` from now on.
    pub fn answer(&self, answer: Result<(), E>) {
        *self.answer.lock().unwrap() = answer;
    }
}

/// A tracing layer that panics on the event a breaker half-opening sends.
pub struct PanicOnHalfOpen;

impl<S: Subscriber> Layer<S> for PanicOnHalfOpen {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(bool);
        impl Visit for Message {
            fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
                if field.name() == "message" {
                    self.0 |= format!("{value:?}").contains("half-open");
                }
            }
        }
        let mut message = Message(false);
        event.record(&mut message);
        if message.0 {
            panic!("the subscriber panicked");
        }
    }
}
