//! A fleet of two services that agree on kinds across gRPC: a store server
//! whose database pool drops and whose upstream times out, and a client
//! whose supervised workers react to the kinds the server names in its
//! statuses (`signal_core::wire`), not to the bare status codes.
//!
//! The server answers each `Sync` call with the job id, or fails it:
//!
//! * every `pool_every`-th call drops its database pool, which stays down
//!   for the next `pool_down` calls (`UNAVAILABLE`, kind `NeedsDbReconnect`);
//! * every `timeout_every`-th call times out upstream (`UNAVAILABLE`, kind
//!   `TimedOut`: the status code alone would not tell the two apart);
//! * a call with a token it does not know is `UNAUTHENTICATED`, kind
//!   `BadCredentials`.
//!
//! Each call to the server is retried by the client's call policy, behind a
//! circuit breaker and a retry budget the workers share: the breaker counts
//! only the server's pool kind (its database is down: every call fails
//! until it is back), so a burst of pool failures opens it and the calls
//! fail fast for a few milliseconds instead of hammering the store, while
//! timeouts and bad credentials never count; the budget caps the calls'
//! retries to a tenth of the calls (plus a floor). A call that gives up
//! fails its worker, whose policy backs off and restarts it on `Retryable`
//! (which includes the server's pool kind, timeouts, network failures and
//! the breaker's `Unavailable`) — while the pool is down, at least as long
//! as the server's gRPC pushback asks — and stops it on `BadCredentials`.
//! Every job is claimed from a shared queue and put back when its call
//! fails, so none is lost; the run ends with an accounting line.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use signal_core::vocab::{BadCredentials, TimedOut, TransientNetwork, Unavailable};
use signal_core::wire::WireKinds;
use signal_core::wire::tonic::{RemoteStatus, set_retry_after};
use signal_core::{Kind, Signal, kind};
use signal_runtime::{
    Backoff, CircuitBreaker, Intensity, Phase, Policy, Reaction, RetryAfter, RetryBudget,
    RetryError, Supervisor,
};
use tokio::net::TcpListener;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::NamedService;
use tonic::transport::{Channel, Endpoint};

kind! {
    /// The server's database pool is down and being rebuilt: retry later.
    pub NeedsDbReconnect as "fleet.db-reconnect";
    /// The client's policy: the same call may succeed later.
    pub Retryable: includes(NeedsDbReconnect, TimedOut, Unavailable, TransientNetwork);
}

/// The kinds the store server tells its callers, and the client accepts
/// from it.
pub fn fleet_kinds() -> &'static WireKinds {
    static KINDS: LazyLock<WireKinds> = LazyLock::new(|| {
        WireKinds::new([NeedsDbReconnect::ID, TimedOut::ID, BadCredentials::ID])
            .expect("the fleet's kinds have distinct wire names")
    });
    &KINDS
}

/// The server's own error.
#[derive(Debug, thiserror::Error, Signal)]
pub enum StoreError {
    /// The pool was dropped; it is being rebuilt.
    #[error("the database pool is down")]
    #[signal(leaf = "NeedsDbReconnect")]
    PoolDown,
    /// The upstream did not answer in time.
    #[error("the upstream timed out")]
    #[signal(leaf = "TimedOut")]
    UpstreamTimeout,
    /// The caller's token is unknown.
    #[error("unknown token")]
    #[signal(leaf = "BadCredentials")]
    BadToken,
}

/// One call's error.
#[derive(Debug, thiserror::Error, Signal)]
pub enum CallError {
    /// The server answered with an error status.
    #[error("store call failed: {0}")]
    Remote(#[signal(forward)] RemoteStatus),
}

/// The server's pushback, forwarded: the policy waits at least that long.
impl RetryAfter for CallError {
    fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Remote(status) => status.retry_after(),
        }
    }
}

/// The client worker's error: a call that gave up (its attempts, the
/// budget or the breaker said so), with its last error.
#[derive(Debug, thiserror::Error, Signal)]
pub enum WorkerError {
    /// The call's retries gave up.
    #[error(transparent)]
    Call(#[signal(forward)] RetryError<CallError>),
}

/// The last attempt's pushback: the worker waits at least that long.
impl RetryAfter for WorkerError {
    fn retry_after(&self) -> Option<Duration> {
        match self {
            WorkerError::Call(error) => error.last().and_then(RetryAfter::retry_after),
        }
    }
}

/// Messages are raw bytes: no code generation is needed.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

const SYNC: &str = "/fleet.Store/Sync";

/// How long the server asks callers to wait while its pool is down (gRPC
/// pushback).
pub const POOL_PUSHBACK: Duration = Duration::from_millis(5);

/// How the store server fails.
#[derive(Clone, Copy, Debug)]
pub struct Faults {
    /// Every this many calls, the pool drops (0: never).
    pub pool_every: u64,
    /// Calls that fail while it is down.
    pub pool_down: u64,
    /// Every this many calls, the upstream times out (0: never).
    pub timeout_every: u64,
}

#[derive(Clone)]
struct Store {
    faults: Faults,
    /// The calls so far and the last call the pool is down for, under one
    /// lock: a call's fate is decided by its number alone, whatever calls
    /// run beside it.
    schedule: Arc<Mutex<Schedule>>,
}

#[derive(Default)]
struct Schedule {
    calls: u64,
    down_until: u64,
}

impl NamedService for Store {
    const NAME: &'static str = "fleet.Store";
}

impl Store {
    /// One call: `token:job` in, `job` out.
    fn sync(&self, request: &[u8]) -> Result<Bytes, Status> {
        let text = std::str::from_utf8(request).unwrap_or("");
        let (token, job) = text.split_once(':').unwrap_or(("", text));
        let mut schedule = self.schedule.lock().unwrap_or_else(|e| e.into_inner());
        schedule.calls += 1;
        let call = schedule.calls;
        let failure = if token != "good-token" {
            Some((
                Status::unauthenticated("unknown token"),
                StoreError::BadToken,
            ))
        } else if call <= schedule.down_until {
            Some((Status::unavailable("pool down"), StoreError::PoolDown))
        } else if self.faults.pool_every > 0 && call.is_multiple_of(self.faults.pool_every) {
            schedule.down_until = call + self.faults.pool_down;
            Some((Status::unavailable("pool down"), StoreError::PoolDown))
        } else if self.faults.timeout_every > 0 && call.is_multiple_of(self.faults.timeout_every) {
            Some((
                Status::unavailable("upstream timed out"),
                StoreError::UpstreamTimeout,
            ))
        } else {
            None
        };
        drop(schedule);
        match failure {
            Some((mut status, error)) => {
                fleet_kinds().attach(&mut status, &error);
                if matches!(error, StoreError::PoolDown) {
                    // The pool is being rebuilt: ask callers to wait for it.
                    set_retry_after(&mut status, POOL_PUSHBACK);
                }
                Err(status)
            }
            None => Ok(Bytes::copy_from_slice(job.as_bytes())),
        }
    }
}

struct Call(Store);

impl tower_service::Service<tonic::Request<Bytes>> for Call {
    type Response = tonic::Response<Bytes>;
    type Error = Status;
    type Future = std::future::Ready<Result<tonic::Response<Bytes>, Status>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        std::future::ready(self.0.sync(request.get_ref()).map(tonic::Response::new))
    }
}

impl tower_service::Service<http::Request<tonic::body::Body>> for Store {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let store = self.clone();
        Box::pin(async move {
            if request.uri().path() != SYNC {
                return Ok(Status::unimplemented("no such method").into_http());
            }
            Ok(tonic::server::Grpc::new(RawCodec)
                .unary(Call(store), request)
                .await)
        })
    }
}

/// Serves the store on 127.0.0.1 until the returned task is aborted.
pub async fn serve(faults: Faults) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let store = Store {
        faults,
        schedule: Arc::new(Mutex::new(Schedule::default())),
    };
    let task = tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(store)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await;
    });
    Ok((addr, task))
}

async fn sync(channel: Channel, token: &str, job: u64) -> Result<u64, CallError> {
    let mut client = tonic::client::Grpc::new(channel);
    let remote = |status: Status| {
        CallError::Remote(
            RemoteStatus::decode(status, fleet_kinds())
                .unwrap_or_else(|(status, _)| RemoteStatus::without_kinds(status)),
        )
    };
    client
        .ready()
        .await
        .map_err(|e| remote(Status::unavailable(e.to_string())))?;
    let reply = client
        .unary(
            tonic::Request::new(Bytes::from(format!("{token}:{job}"))),
            http::uri::PathAndQuery::from_static(SYNC),
            RawCodec,
        )
        .await
        .map_err(remote)?;
    Ok(std::str::from_utf8(reply.get_ref())
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(u64::MAX))
}

/// One job's call, retried by `calls`; each failed attempt's remote kinds
/// are counted in `books`. The attempt closure owns everything it uses, the
/// token too: a closure that captures a reference (even a `&'static str`)
/// makes the compiler unable to prove the call's future `Send` for the
/// supervisor.
async fn sync_retried(
    calls: Arc<Policy>,
    books: Arc<Mutex<Books>>,
    channel: Channel,
    token: Arc<str>,
    job: u64,
) -> Result<u64, RetryError<CallError>> {
    calls
        .call("sync")
        .run(move |_| {
            let (books, channel, token) = (Arc::clone(&books), channel.clone(), Arc::clone(&token));
            async move {
                let result = sync(channel, &token, job).await;
                if let Err(CallError::Remote(remote)) = &result {
                    lock(&books).seen(remote);
                }
                result
            }
        })
        .await
}

/// What a fleet run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Jobs enqueued.
    pub jobs: u64,
    /// Jobs the server acknowledged, each once.
    pub done: u64,
    /// Jobs not acknowledged when the run hit its time limit: still queued,
    /// or in flight when the workers were shut down.
    pub pending: u64,
    /// Jobs neither acknowledged nor pending: must be 0.
    pub lost: u64,
    /// Jobs acknowledged twice: must be 0.
    pub duplicated: u64,
    /// Failed calls, by the remote kind the client saw (wire names).
    pub failures_by_kind: BTreeMap<String, u64>,
    /// Worker restarts after a failure (backoff, then retry).
    pub retries: u64,
    /// Workers stopped by the policy (bad credentials).
    pub stopped: u64,
    /// Times the calls' circuit breaker opened.
    pub breaker_opened: u64,
    /// Calls and retries the open breaker failed fast.
    pub fast_failed: u64,
    /// Retries the shared budget refused.
    pub budget_refused: u64,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<String> = self
            .failures_by_kind
            .iter()
            .map(|(kind, n)| format!("{kind}: {n}"))
            .collect();
        write!(
            f,
            "jobs={} done={} pending={} lost={} duplicated={} retries={} stopped_workers={} \
             breaker_opened={} fast_failed={} budget_refused={} remote_kinds={{{}}}",
            self.jobs,
            self.done,
            self.pending,
            self.lost,
            self.duplicated,
            self.retries,
            self.stopped,
            self.breaker_opened,
            self.fast_failed,
            self.budget_refused,
            kinds.join(", ")
        )
    }
}

/// The breaker in front of the store: it counts only the server's pool kind
/// (its database is down), opens when half of at least 4 calls within 10 ms
/// found it down, and then fails calls fast for 5 ms (the server's
/// pushback) before a probe.
pub fn breaker() -> CircuitBreaker {
    CircuitBreaker::builder("store")
        .counts::<NeedsDbReconnect>()
        .failure_rate(0.5)
        .min_calls(4)
        .window(Duration::from_millis(10))
        .open_for(POOL_PUSHBACK)
        .build()
        .expect("the breaker's settings are valid")
}

/// The retry budget the calls share: retries at most a tenth of the calls
/// within a second, plus 10 a second.
pub fn budget() -> RetryBudget {
    RetryBudget::new("store", 0.1, 10, Duration::from_secs(1))
        .expect("the budget's settings are valid")
}

/// The policy of each call to the store: up to 3 attempts on anything
/// retryable (at least as long as the server asks), none on bad
/// credentials, behind `breaker` and within `budget`.
pub fn call_policy(breaker: &CircuitBreaker, budget: &RetryBudget) -> Policy {
    Policy::new()
        .on::<BadCredentials>(Reaction::Stop)
        .on::<Retryable>(Reaction::Retry.max_attempts(3))
        .otherwise(Reaction::Stop)
        .honour_retry_after::<CallError>()
        .backoff(Backoff::new(
            Duration::from_millis(1),
            Duration::from_millis(20),
        ))
        .intensity(Intensity::new(10_000, Duration::from_secs(1)))
        .breaker(breaker)
        .retry_budget(budget)
}

/// The workers' policy: back off on anything retryable (at least as long as
/// the server asks), stop on bad credentials, stop on anything else.
pub fn policy() -> Policy {
    Policy::new()
        .on::<BadCredentials>(Reaction::Stop)
        .on::<Retryable>(Reaction::Retry)
        .otherwise(Reaction::Stop)
        .honour_retry_after::<WorkerError>()
        .backoff(Backoff::new(
            Duration::from_millis(1),
            Duration::from_millis(20),
        ))
        .intensity(Intensity::new(10_000, Duration::from_secs(1)))
}

/// Runs `workers` client workers (plus one with a token the server does not
/// know) against a store server with `faults`, until `jobs` jobs are done or
/// `limit` has passed (a fault load under which nothing succeeds ends there,
/// with the jobs left `pending`).
pub async fn run(
    jobs: u64,
    workers: usize,
    faults: Faults,
    limit: Duration,
) -> std::io::Result<Report> {
    let (addr, server) = serve(faults).await?;
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(std::io::Error::other)?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect_lazy();
    let books = Arc::new(Mutex::new(Books {
        queue: (1..=jobs).collect(),
        ..Books::default()
    }));
    let policy = Arc::new(policy());
    let (breaker, budget) = (breaker(), budget());
    let calls = Arc::new(call_policy(&breaker, &budget));
    let supervisor = Supervisor::new();

    let mut handles = Vec::new();
    for (i, token) in std::iter::repeat_n("good-token", workers)
        .chain(["stolen-token"])
        .enumerate()
    {
        let (books, channel, calls) = (Arc::clone(&books), channel.clone(), Arc::clone(&calls));
        let handle = supervisor.spawn(format!("client-{i}"), Arc::clone(&policy), move |_ctx| {
            let (books, channel, calls) = (Arc::clone(&books), channel.clone(), Arc::clone(&calls));
            async move {
                let mut count = 0u64;
                loop {
                    // The guard is dropped here, before the call.
                    let claimed = lock(&books).claim();
                    let Some(job) = claimed else {
                        return Ok(count);
                    };
                    let result = sync_retried(
                        Arc::clone(&calls),
                        Arc::clone(&books),
                        channel.clone(),
                        token.into(),
                        job,
                    )
                    .await;
                    match result {
                        Ok(acked) => {
                            lock(&books).ack(job, acked);
                            count += 1;
                        }
                        Err(error) => {
                            lock(&books).put_back(job);
                            return Err(WorkerError::Call(error));
                        }
                    }
                }
            }
        });
        handles.push(handle);
    }

    let mut report = Report {
        jobs,
        ..Report::default()
    };
    // A worker either drains the queue and exits, or is stopped.
    let settled = |s: &signal_runtime::WorkerStatus<WorkerError>| {
        matches!(s.phase, Phase::Done | Phase::Stopped)
    };
    let _ = tokio::time::timeout(limit, async {
        for handle in &handles {
            handle.wait_for(settled).await;
        }
    })
    .await;
    for handle in &handles {
        let status = handle.status();
        report.retries += status.runs.saturating_sub(1);
        if status.phase == Phase::Stopped {
            report.stopped += 1;
        }
    }
    supervisor.shutdown().await;
    server.abort();
    report.breaker_opened = breaker.stats().opened;
    report.fast_failed = breaker.stats().refused;
    report.budget_refused = budget.stats().refused;

    let books = lock(&books);
    report.done = books.done.len() as u64;
    report.duplicated = books.done.values().filter(|&&n| n > 1).count() as u64;
    let pending: BTreeSet<u64> = books
        .queue
        .iter()
        .chain(&books.in_flight)
        .copied()
        .collect();
    report.pending = pending.len() as u64;
    report.lost = (1..=jobs)
        .filter(|job| !books.done.contains_key(job) && !pending.contains(job))
        .count() as u64;
    report.failures_by_kind = books.seen.clone();
    Ok(report)
}

/// The client's books: jobs to claim, claimed, acknowledged, and the remote
/// kinds its failed calls carried.
#[derive(Default)]
struct Books {
    queue: VecDeque<u64>,
    /// Claimed jobs stay here until acknowledged or put back, so a shutdown
    /// mid-call leaves them pending.
    in_flight: BTreeSet<u64>,
    /// Acknowledgements per job.
    done: BTreeMap<u64, u64>,
    seen: BTreeMap<String, u64>,
}

impl Books {
    fn claim(&mut self) -> Option<u64> {
        let job = self.queue.pop_front()?;
        self.in_flight.insert(job);
        Some(job)
    }

    fn ack(&mut self, job: u64, acked: u64) {
        *self.done.entry(acked).or_default() += 1;
        self.in_flight.remove(&job);
    }

    /// Puts a failed job back before the failure is reported: never lost.
    fn put_back(&mut self, job: u64) {
        self.queue.push_back(job);
        self.in_flight.remove(&job);
    }

    /// Counts the remote kinds of a failed attempt.
    fn seen(&mut self, remote: &RemoteStatus) {
        let kinds = remote.kinds.kinds();
        if kinds.is_empty() {
            *self.seen.entry("(none)".to_owned()).or_default() += 1;
        }
        for kind in kinds {
            *self.seen.entry(kind.wire_name().to_owned()).or_default() += 1;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
