//! The circuit breaker against a real gRPC peer on 127.0.0.1: a tonic
//! server that goes down (its port refuses connections), comes back on the
//! same port, and answers per-request errors. The breaker counts only the
//! kinds that say the peer is sick, so the outage opens it and the recovery
//! closes it, while a storm of bad credentials from a healthy peer never
//! opens it.
//!
//! Real sockets run on the real clock: the tests wait for states (never for
//! a time), with a short open period so that waiting is quick.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use signal_core::Signal;
use signal_core::vocab::{
    BadCredentials, NeverSent, PermissionDenied, TimedOut, TransientNetwork, Unavailable,
};
use signal_runtime::{
    Backoff, BreakerState, CircuitBreaker, Policy, Reaction, RetryError, StopReason,
};
use signal_workspace::fleet::RawCodec;
use tokio::net::TcpListener;
use tonic::Status;
use tonic::server::NamedService;
use tonic::transport::{Channel, Endpoint};

const METHOD: &str = "/peer.Store/Get";

/// What the peer answers each request with, besides the request itself (0).
const ANSWER_UNAUTHENTICATED: u8 = 1;
const ANSWER_PERMISSION_DENIED: u8 = 2;

/// The peer's state, shared by its incarnations: what it answers, and how
/// many requests reached it.
#[derive(Clone, Default)]
struct Peer {
    answer: Arc<AtomicU8>,
    served: Arc<AtomicU64>,
}

impl NamedService for Peer {
    const NAME: &'static str = "peer.Store";
}

struct Unary(Peer);

impl tower_service::Service<tonic::Request<Bytes>> for Unary {
    type Response = tonic::Response<Bytes>;
    type Error = Status;
    type Future = std::future::Ready<Result<tonic::Response<Bytes>, Status>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        self.0.served.fetch_add(1, Ordering::SeqCst);
        std::future::ready(match self.0.answer.load(Ordering::SeqCst) {
            ANSWER_UNAUTHENTICATED => Err(Status::unauthenticated("unknown token")),
            ANSWER_PERMISSION_DENIED => Err(Status::permission_denied("not yours")),
            _ => Ok(tonic::Response::new(request.into_inner())),
        })
    }
}

impl tower_service::Service<http::Request<tonic::body::Body>> for Peer {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let peer = self.clone();
        Box::pin(async move {
            if request.uri().path() != METHOD {
                return Ok(Status::unimplemented("no such method").into_http());
            }
            Ok(tonic::server::Grpc::new(RawCodec)
                .unary(Unary(peer), request)
                .await)
        })
    }
}

/// One incarnation of the peer, serving on `addr` until it is taken down.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Peer {
    /// Serves on `addr` (port 0: any free port); returns where.
    async fn start(&self, addr: SocketAddr) -> (SocketAddr, Running) {
        let listener = TcpListener::bind(addr).await.expect("the port is free");
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let peer = self.clone();
        let task = tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(peer)
                .serve_with_incoming_shutdown(
                    tonic::transport::server::TcpIncoming::from(listener),
                    async {
                        let _ = stopped.await;
                    },
                )
                .await;
        });
        (addr, Running { stop, task })
    }
}

impl Running {
    /// Takes the peer down: its connections close and its port refuses.
    async fn down(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }
}

#[derive(Debug, thiserror::Error, Signal)]
enum CallError {
    #[error("the peer is not reachable: {0}")]
    Transport(#[signal(forward)] tonic::transport::Error),
    #[error("the call failed: {0}")]
    Status(#[signal(forward)] Status),
}

async fn get(channel: &Channel) -> Result<Bytes, CallError> {
    let mut client = tonic::client::Grpc::new(channel.clone());
    client.ready().await.map_err(CallError::Transport)?;
    let reply = client
        .unary(
            tonic::Request::new(Bytes::from_static(b"key")),
            http::uri::PathAndQuery::from_static(METHOD),
            RawCodec,
        )
        .await
        .map_err(CallError::Status)?;
    Ok(reply.into_inner())
}

const OPEN_FOR: Duration = Duration::from_millis(50);

/// Counts the peer's sickness: network failures, unavailability and
/// timeouts; opens at half of at least 5 outcomes.
fn breaker() -> CircuitBreaker {
    CircuitBreaker::builder("peer")
        .counts::<TransientNetwork>()
        .counts::<Unavailable>()
        .counts::<TimedOut>()
        .min_calls(5)
        .window(Duration::from_secs(600))
        .open_for(OPEN_FOR)
        .build()
        .unwrap()
}

/// Retries the network twice; stops on anything else (bad credentials).
fn policy(breaker: &CircuitBreaker) -> Policy {
    Policy::new()
        .on::<TransientNetwork>(Reaction::Retry.max_attempts(3))
        .on::<Unavailable>(Reaction::Retry.max_attempts(3))
        .otherwise(Reaction::Stop)
        .backoff(Backoff::new(
            Duration::from_millis(1),
            Duration::from_millis(5),
        ))
        .breaker(breaker)
}

fn channel(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect_lazy()
}

async fn call(policy: &Policy, channel: &Channel) -> Result<Bytes, RetryError<CallError>> {
    policy.call("peer").run(async |_| get(channel).await).await
}

/// Waits until the breaker lets a probe through.
async fn until_half_open(breaker: &CircuitBreaker) {
    while breaker.state() == BreakerState::Open {
        tokio::time::sleep(OPEN_FOR / 5).await;
    }
}

/// Calls until the breaker opens; returns how many calls that took (at
/// most `limit`, or it panics).
async fn until_open(
    policy: &Policy,
    breaker: &CircuitBreaker,
    channel: &Channel,
    limit: u32,
) -> u32 {
    for calls in 1..=limit {
        let error = call(policy, channel).await.unwrap_err();
        assert!(breaker.counts_error(&error), "{error:#}");
        assert!(
            !error.has::<BadCredentials>() && !error.has::<PermissionDenied>(),
            "{error:#}"
        );
        if breaker.state() == BreakerState::Open {
            return calls;
        }
    }
    panic!("the outage did not open the breaker: {breaker:?}");
}

/// Up, down, up again: the outage opens the breaker, calls then fail fast
/// without reaching for the peer, and once the peer is back a probe closes
/// the breaker.
#[tokio::test]
async fn test_the_breaker_opens_while_the_grpc_peer_is_down_and_closes_after_it_returns() {
    let peer = Peer::default();
    let (addr, running) = peer.start("127.0.0.1:0".parse().unwrap()).await;
    let (breaker, channel) = (breaker(), channel(addr));
    let policy = policy(&breaker);
    for _ in 0..10 {
        assert_eq!(&call(&policy, &channel).await.unwrap()[..], b"key");
    }
    assert_eq!(breaker.state(), BreakerState::Closed);

    // Down: the port refuses. Refused connections are never sent, and count.
    running.down().await;
    // Ten answers in the window: the tenth failure (the fourth call of
    // three attempts) makes half.
    let calls = until_open(&policy, &breaker, &channel, 20).await;
    assert_eq!(calls, 4);
    let error = call(&policy, &channel).await.unwrap_err();
    assert!(
        matches!(&error, RetryError::CircuitOpen { last: None, .. }),
        "{error:#}"
    );
    assert_eq!(error.attempts(), 0);
    assert!(error.has::<Unavailable>());

    // Still down at the probe: it fails and reopens the breaker.
    until_half_open(&breaker).await;
    let error = call(&policy, &channel).await.unwrap_err();
    assert_eq!(error.reason(), StopReason::CircuitOpen, "{error:#}");
    assert!(error.has::<NeverSent>() || error.has::<TransientNetwork>());
    assert_eq!(breaker.state(), BreakerState::Open);

    // Back on the same port: the next probe goes through and closes it.
    let served = peer.served.load(Ordering::SeqCst);
    let (_, running) = peer.start(addr).await;
    let mut probes = 0;
    let recovered = loop {
        until_half_open(&breaker).await;
        probes += 1;
        match call(&policy, &channel).await {
            Ok(reply) => break reply,
            // The channel may still hold the old connection's failure.
            Err(error) if probes < 10 => assert!(error.has::<Unavailable>(), "{error:#}"),
            Err(error) => panic!("the peer came back but the calls fail: {error:#}"),
        }
    };
    assert_eq!(&recovered[..], b"key");
    assert_eq!(breaker.state(), BreakerState::Closed);
    for _ in 0..10 {
        assert!(call(&policy, &channel).await.is_ok());
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert!(peer.served.load(Ordering::SeqCst) >= served + 11);
    running.down().await;
}

/// The twin: a healthy peer that answers every request with bad
/// credentials (`UNAUTHENTICATED`, then `PERMISSION_DENIED`) never opens the
/// breaker, and each request reaches it once (not retried). The same
/// breaker then opens when that peer goes down.
#[tokio::test]
async fn test_a_storm_of_bad_credentials_from_a_grpc_peer_never_opens_the_breaker() {
    let peer = Peer::default();
    let (addr, running) = peer.start("127.0.0.1:0".parse().unwrap()).await;
    let (breaker, channel) = (breaker(), channel(addr));
    let policy = policy(&breaker);
    for (answer, kind_is) in [
        (
            ANSWER_UNAUTHENTICATED,
            (|error: &RetryError<CallError>| error.has::<BadCredentials>()) as fn(&_) -> bool,
        ),
        (ANSWER_PERMISSION_DENIED, |error| {
            error.has::<PermissionDenied>()
        }),
    ] {
        peer.answer.store(answer, Ordering::SeqCst);
        let served = peer.served.load(Ordering::SeqCst);
        for _ in 0..100 {
            let error = call(&policy, &channel).await.unwrap_err();
            assert!(kind_is(&error), "{error:#}");
            assert_eq!(error.reason(), StopReason::Reaction, "{error:#}");
            assert!(!breaker.counts_error(&error), "{error:#}");
        }
        assert_eq!(peer.served.load(Ordering::SeqCst), served + 100);
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    // Down: 200 failures make half of the window, within 67 calls.
    running.down().await;
    let calls = until_open(&policy, &breaker, &channel, 100).await;
    assert_eq!(calls, 67);
}
