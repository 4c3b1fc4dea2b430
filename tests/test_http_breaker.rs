//! The circuit breaker and "never sent" against a real HTTP/1 server on
//! 127.0.0.1 (hyper): the server goes down (its port refuses connections),
//! comes back on the same port, resets connections after reading a
//! request, and answers per-request errors (401). The breaker counts only
//! the kinds that say the server is sick, so the outage opens it and the
//! recovery closes it, while a storm of bad credentials never opens it; a
//! POST reset after it was read is not repeated, a refused one is.
//!
//! Real sockets run on the real clock: the tests wait for states (never for
//! a time), with a short open period so that waiting is quick. Each request
//! goes on a connection of its own, so no pool hides what the server did.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use signal_core::Signal;
use signal_core::vocab::{
    BadCredentials, ConnectionReset, NeverSent, TimedOut, TransientNetwork, Unavailable,
};
use signal_runtime::{
    Backoff, BreakerState, CircuitBreaker, Policy, Reaction, RetryError, StopReason,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// What the server does with each request it reads.
const ANSWER_OK: u8 = 0;
const ANSWER_UNAUTHORIZED: u8 = 1;
/// Reads the whole request, then closes the connection without answering.
const ANSWER_RESET: u8 = 2;

/// The server's state, shared by its incarnations: what it answers, and
/// how many requests it read.
#[derive(Clone, Default)]
struct Server {
    answer: Arc<AtomicU8>,
    served: Arc<AtomicU64>,
}

/// One incarnation of the server, serving on its port until taken down.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    fn answering(answer: u8) -> Server {
        let server = Server::default();
        server.answer.store(answer, Ordering::SeqCst);
        server
    }

    fn served(&self) -> u64 {
        self.served.load(Ordering::SeqCst)
    }

    /// Serves on `addr` (port 0: any free port); returns where.
    async fn start(&self, addr: SocketAddr) -> (SocketAddr, Running) {
        let listener = TcpListener::bind(addr).await.expect("the port is free");
        let addr = listener.local_addr().unwrap();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let server = self.clone();
        let task = tokio::spawn(async move {
            // Dropped with the task: every open connection closes too.
            let mut connections = JoinSet::new();
            loop {
                let stream = tokio::select! {
                    _ = &mut stopped => return,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                };
                let server = server.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let server = server.clone();
                        async move { server.answer(request).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (addr, Running { stop, task })
    }

    async fn answer(&self, request: Request<Incoming>) -> io::Result<Response<Full<Bytes>>> {
        // The whole request is read before anything is decided.
        let body = request
            .into_body()
            .collect()
            .await
            .map_err(io::Error::other)?;
        self.served.fetch_add(1, Ordering::SeqCst);
        let status = match self.answer.load(Ordering::SeqCst) {
            ANSWER_UNAUTHORIZED => StatusCode::UNAUTHORIZED,
            // An error from the service: hyper closes the connection
            // without a response.
            ANSWER_RESET => return Err(io::Error::other("reset after reading the request")),
            _ => StatusCode::OK,
        };
        let mut response = Response::new(Full::new(body.to_bytes()));
        *response.status_mut() = status;
        Ok(response)
    }
}

impl Running {
    /// Takes the server down: its connections close and its port refuses.
    async fn down(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }
}

#[derive(Debug, thiserror::Error, Signal)]
enum HttpError {
    #[error("connect: {0}")]
    Connect(#[signal(forward)] io::Error),
    #[error("exchange: {0}")]
    Exchange(#[signal(forward)] hyper::Error),
    #[error("status {0}")]
    Status(#[signal(forward)] StatusCode),
}

/// One request on a connection of its own; a status other than 2xx is an
/// error.
async fn send(addr: SocketAddr, method: Method) -> Result<Bytes, HttpError> {
    let stream = TcpStream::connect(addr).await.map_err(HttpError::Connect)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(HttpError::Exchange)?;
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(format!("http://{addr}/pay"))
        .header(http::header::HOST, "shop")
        .body(Full::new(Bytes::from_static(b"charge")))
        .unwrap();
    let response = sender
        .send_request(request)
        .await
        .map_err(HttpError::Exchange)?;
    if !response.status().is_success() {
        return Err(HttpError::Status(response.status()));
    }
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(HttpError::Exchange)?;
    Ok(body.to_bytes())
}

const OPEN_FOR: Duration = Duration::from_millis(50);

/// Counts the server's sickness: network failures, unavailability and
/// timeouts; opens at half of at least 5 outcomes.
fn breaker() -> CircuitBreaker {
    CircuitBreaker::builder("shop")
        .counts::<TransientNetwork>()
        .counts::<Unavailable>()
        .counts::<TimedOut>()
        .min_calls(5)
        .window(Duration::from_secs(600))
        .open_for(OPEN_FOR)
        .build()
        .unwrap()
}

/// Retries the network up to three attempts; stops on anything else (bad
/// credentials).
fn policy() -> Policy {
    Policy::new()
        .on::<TransientNetwork>(Reaction::Retry.max_attempts(3))
        .on::<Unavailable>(Reaction::Retry.max_attempts(3))
        .otherwise(Reaction::Stop)
        .backoff(Backoff::new(
            Duration::from_millis(1),
            Duration::from_millis(5),
        ))
}

async fn get(policy: &Policy, addr: SocketAddr) -> Result<Bytes, RetryError<HttpError>> {
    policy
        .call("shop")
        .run(async |_| send(addr, Method::GET).await)
        .await
}

/// A POST: not idempotent.
async fn post(policy: &Policy, addr: SocketAddr) -> Result<Bytes, RetryError<HttpError>> {
    policy
        .call("shop")
        .idempotent(false)
        .run(async |_| send(addr, Method::POST).await)
        .await
}

/// An address nothing listens on.
async fn closed_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
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
    addr: SocketAddr,
    limit: u32,
) -> u32 {
    for calls in 1..=limit {
        let error = get(policy, addr).await.unwrap_err();
        assert!(breaker.counts_error(&error), "{error:#}");
        assert!(!error.has::<BadCredentials>(), "{error:#}");
        if breaker.state() == BreakerState::Open {
            return calls;
        }
    }
    panic!("the outage did not open the breaker: {breaker:?}");
}

/// Up, down, up again: the outage opens the breaker, calls then fail fast
/// without connecting, and once the server is back a probe closes it.
#[tokio::test]
async fn test_the_breaker_opens_while_the_http_server_is_down_and_closes_after_it_returns() {
    let server = Server::answering(ANSWER_OK);
    let (addr, running) = server.start("127.0.0.1:0".parse().unwrap()).await;
    let breaker = breaker();
    let policy = policy().breaker(&breaker);
    for _ in 0..10 {
        assert_eq!(&get(&policy, addr).await.unwrap()[..], b"charge");
    }
    assert_eq!(
        (breaker.state(), server.served()),
        (BreakerState::Closed, 10)
    );

    // Down: the port refuses. Refused connections are never sent, and count.
    running.down().await;
    // Ten answers in the window: the tenth failure (the fourth call of
    // three attempts) makes half.
    assert_eq!(until_open(&policy, &breaker, addr, 20).await, 4);
    let error = get(&policy, addr).await.unwrap_err();
    assert!(
        matches!(&error, RetryError::CircuitOpen { last: None, .. }),
        "{error:#}"
    );
    assert_eq!(error.attempts(), 0);
    assert!(error.has::<Unavailable>() && error.has::<NeverSent>());

    // Still down at the probe: it fails and reopens the breaker.
    until_half_open(&breaker).await;
    let error = get(&policy, addr).await.unwrap_err();
    assert_eq!(error.reason(), StopReason::CircuitOpen, "{error:#}");
    assert!(error.has::<NeverSent>(), "{error:#}");
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(server.served(), 10);

    // Back on the same port: the next probe goes through and closes it.
    let (_, running) = server.start(addr).await;
    until_half_open(&breaker).await;
    assert_eq!(&get(&policy, addr).await.unwrap()[..], b"charge");
    assert_eq!(breaker.state(), BreakerState::Closed);
    for _ in 0..10 {
        assert!(get(&policy, addr).await.is_ok());
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(server.served(), 21);
    running.down().await;
}

/// The twin: a healthy server that answers every request 401 never opens
/// the breaker, and each request reaches it once (not retried). The same
/// breaker then opens when that server goes down.
#[tokio::test]
async fn test_a_storm_of_401_answers_never_opens_the_breaker() {
    let server = Server::answering(ANSWER_UNAUTHORIZED);
    let (addr, running) = server.start("127.0.0.1:0".parse().unwrap()).await;
    let breaker = breaker();
    let policy = policy().breaker(&breaker);
    for _ in 0..100 {
        let error = get(&policy, addr).await.unwrap_err();
        assert!(error.has::<BadCredentials>(), "{error:#}");
        assert_eq!(error.reason(), StopReason::Reaction, "{error:#}");
        assert!(!breaker.counts_error(&error), "{error:#}");
    }
    assert_eq!(server.served(), 100);
    assert_eq!(breaker.state(), BreakerState::Closed);

    // Down: 100 answers and 100 failures make half, within 34 calls.
    running.down().await;
    assert_eq!(until_open(&policy, &breaker, addr, 50).await, 34);
}

/// A POST the server read and then reset may have been processed: it is
/// not repeated.
#[tokio::test]
async fn test_a_post_reset_after_it_was_read_is_not_retried() {
    let server = Server::answering(ANSWER_RESET);
    let (addr, running) = server.start("127.0.0.1:0".parse().unwrap()).await;
    let error = post(&policy(), addr).await.unwrap_err();
    assert_eq!(error.reason(), StopReason::MaybeProcessed, "{error:#}");
    assert_eq!(error.attempts(), 1);
    assert!(error.has::<ConnectionReset>(), "{error:#}");
    assert!(!error.has::<NeverSent>());
    assert_eq!(server.served(), 1);

    // The twin: a GET (idempotent) reset the same way is retried.
    let error = get(&policy(), addr).await.unwrap_err();
    assert_eq!(error.reason(), StopReason::Exhausted, "{error:#}");
    assert_eq!(error.attempts(), 3);
    assert_eq!(server.served(), 4);
    running.down().await;
}

/// A POST whose connection was refused never left: it is retried, and
/// goes through once the server is up.
#[tokio::test]
async fn test_a_refused_post_is_retried() {
    let server = Server::answering(ANSWER_OK);
    let addr = closed_port().await;
    let policy = policy();
    let mut running = None;
    let reply = policy
        .call("shop")
        .idempotent(false)
        .run(async |attempt| {
            if attempt.number() == 2 {
                // Up between the first attempt and the second.
                running = Some(server.start(addr).await.1);
            }
            send(addr, Method::POST).await
        })
        .await
        .unwrap();
    assert_eq!(&reply[..], b"charge");
    assert_eq!(server.served(), 1);
    running.unwrap().down().await;

    // Refused throughout: every attempt is made, and the error still says
    // nothing left.
    let error = post(&policy, closed_port().await).await.unwrap_err();
    assert_eq!(error.reason(), StopReason::Exhausted, "{error:#}");
    assert_eq!(error.attempts(), 3);
    assert!(error.has::<NeverSent>(), "{error:#}");
    assert_eq!(server.served(), 1);
}
