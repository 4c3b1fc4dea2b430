//! "Never sent" against real sockets on 127.0.0.1: a call that is not
//! idempotent is retried when its connection was refused (the request never
//! left), and not when the server read the request and reset the connection
//! (it may have been processed). Each case next to its twin.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use signal_core::Signal;
use signal_core::vocab::{NeverSent, TransientNetwork};
use signal_runtime::{Backoff, Policy, Reaction, RetryError, StopReason};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, thiserror::Error, Signal)]
enum PayError {
    #[error("connect")]
    Connect(#[signal(forward)] io::Error),
    #[error("exchange")]
    Exchange(#[signal(forward)] io::Error),
    #[error("declined")]
    Declined,
}

const REQUEST: &[u8] = b"POST /pay HTTP/1.1\r\nHost: shop\r\nContent-Length: 6\r\n\r\ncharge";

/// Sends the payment and reads the whole answer.
async fn pay(addr: SocketAddr) -> Result<String, PayError> {
    let mut stream = TcpStream::connect(addr).await.map_err(PayError::Connect)?;
    stream
        .write_all(REQUEST)
        .await
        .map_err(PayError::Exchange)?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .await
        .map_err(PayError::Exchange)?;
    if answer.starts_with(b"HTTP/1.1 200") {
        Ok(String::from_utf8_lossy(&answer).into_owned())
    } else if answer.is_empty() {
        Err(PayError::Exchange(io::ErrorKind::UnexpectedEof.into()))
    } else {
        Err(PayError::Declined)
    }
}

/// Network failures are retried, up to three attempts; anything else stops.
fn policy() -> Policy {
    Policy::new()
        .on::<TransientNetwork>(Reaction::Retry.max_attempts(3))
        .otherwise(Reaction::Stop)
        .backoff(Backoff::new(
            Duration::from_millis(1),
            Duration::from_millis(10),
        ))
}

/// An address nothing listens on.
async fn closed_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Reads each whole request, counts it, and then either answers 200 or
/// resets the connection.
async fn serve(listener: TcpListener, reset: bool) -> Arc<AtomicU32> {
    let requests = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&requests);
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 256];
            while !request.ends_with(b"charge") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            assert_eq!(request, REQUEST);
            counted.fetch_add(1, Ordering::SeqCst);
            if reset {
                // A linger of zero sends a reset on drop, at once.
                #[allow(deprecated)]
                stream.set_linger(Some(Duration::ZERO)).unwrap();
                drop(stream);
            } else {
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    )
                    .await;
            }
        }
    });
    requests
}

async fn server(reset: bool) -> (SocketAddr, Arc<AtomicU32>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (addr, serve(listener, reset).await)
}

#[tokio::test(start_paused = true)]
async fn test_a_refused_payment_is_retried() {
    let addr = closed_port().await;
    let error = policy()
        .call("pay")
        .idempotent(false)
        .run(async |_| pay(addr).await)
        .await
        .unwrap_err();
    assert!(error.last().unwrap().has::<NeverSent>(), "{error:?}");
    assert_eq!(error.reason(), StopReason::Exhausted);
    assert_eq!(error.attempts(), 3);
}

/// The server is down for the first attempt and back for the second: the
/// payment goes through once.
#[tokio::test(start_paused = true)]
async fn test_a_payment_refused_while_the_server_restarts_goes_through_once() {
    let addr = closed_port().await;
    let mut requests = None;
    let answer = policy()
        .call("pay")
        .idempotent(false)
        .run(async |attempt| {
            if attempt.number() == 2 {
                let listener = TcpListener::bind(addr).await.unwrap();
                requests = Some(serve(listener, false).await);
            }
            pay(addr).await
        })
        .await
        .unwrap();
    assert!(answer.ends_with("ok"));
    assert_eq!(requests.unwrap().load(Ordering::SeqCst), 1);
}

/// The server read the payment and reset the connection: it may have
/// charged the card, so the payment is not repeated.
#[tokio::test(start_paused = true)]
async fn test_a_payment_reset_after_it_was_read_is_not_retried() {
    let (addr, requests) = server(true).await;
    let error = policy()
        .call("pay")
        .idempotent(false)
        .run(async |_| pay(addr).await)
        .await
        .unwrap_err();
    assert!(
        matches!(error, RetryError::MaybeProcessed { .. }),
        "{error:?}"
    );
    assert_eq!(error.reason(), StopReason::MaybeProcessed);
    assert!(error.has::<TransientNetwork>(), "{error:?}");
    assert!(!error.has::<NeverSent>());
    assert_eq!(error.attempts(), 1);
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    assert!(error.to_string().contains("may have been processed"));
}

/// The twin: the same reset, for a call that is idempotent (the default),
/// is retried by its rule.
#[tokio::test(start_paused = true)]
async fn test_an_idempotent_call_reset_after_it_was_read_is_retried() {
    let (addr, requests) = server(true).await;
    let error = policy()
        .call("pay")
        .run(async |_| pay(addr).await)
        .await
        .unwrap_err();
    assert_eq!(error.reason(), StopReason::Exhausted);
    assert_eq!(error.attempts(), 3);
    assert_eq!(requests.load(Ordering::SeqCst), 3);
}

/// A non-idempotent call whose error its rule stops on ends by its rule,
/// not by the idempotency check; a success is a success.
#[tokio::test(start_paused = true)]
async fn test_idempotency_changes_nothing_for_stops_and_successes() {
    let error = policy()
        .call("pay")
        .idempotent(false)
        .run(async |_| Err::<(), _>(PayError::Declined))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), StopReason::Reaction);

    let (addr, requests) = server(false).await;
    let answer = policy()
        .call("pay")
        .idempotent(false)
        .run(async |_| pay(addr).await)
        .await;
    assert!(answer.is_ok());
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

/// What an inner retried call's attempts meet, in order (the last one
/// repeats).
fn inner_attempts(kinds: &'static [io::ErrorKind]) -> impl Fn(u32) -> PayError {
    move |attempt| {
        let at = usize::try_from(attempt).unwrap().min(kinds.len()) - 1;
        PayError::Connect(io::Error::from(kinds[at]))
    }
}

/// An outer call that is not idempotent around an inner retried call:
/// counts what the inner attempts sent, and returns the outer error.
async fn outer_around_inner(
    kinds: &'static [io::ErrorKind],
    sent: &AtomicU32,
) -> RetryError<RetryError<PayError>> {
    let (outer, inner) = (policy(), policy());
    let attempt_error = inner_attempts(kinds);
    outer
        .call("checkout")
        .idempotent(false)
        .run(async |_| {
            inner
                .call("pay")
                .run(async |attempt| {
                    sent.fetch_add(1, Ordering::SeqCst);
                    Err::<(), _>(attempt_error(attempt.number()))
                })
                .await
        })
        .await
        .unwrap_err()
}

/// An inner call whose first attempt was reset (it may have reached the
/// peer) and whose later attempts were refused does not tell the outer
/// call "never sent": the outer call, not idempotent, does not repeat it.
#[tokio::test(start_paused = true)]
async fn test_an_inner_call_that_may_have_sent_an_attempt_is_not_never_sent() {
    use io::ErrorKind::{ConnectionRefused, ConnectionReset};
    let sent = AtomicU32::new(0);
    let error = outer_around_inner(&[ConnectionReset, ConnectionRefused], &sent).await;
    assert_eq!(error.reason(), StopReason::MaybeProcessed, "{error:#}");
    assert_eq!(error.attempts(), 1);
    assert_eq!(sent.load(Ordering::SeqCst), 3);
    let inner = error.last().unwrap();
    assert!(inner.log().any_sent());
    assert!(!inner.has::<NeverSent>(), "{inner:#}");
    // Nor any kind that would imply it; the network kinds stay.
    assert!(!inner.has::<signal_core::vocab::ConnectionRefused>());
    assert!(inner.has::<TransientNetwork>());
    // Its last error on its own says what it met.
    assert!(inner.last().unwrap().has::<NeverSent>());
}

/// The twin: an inner call none of whose attempts left says so, and the
/// outer call repeats it.
#[tokio::test(start_paused = true)]
async fn test_an_inner_call_none_of_whose_attempts_left_is_never_sent() {
    use io::ErrorKind::ConnectionRefused;
    let sent = AtomicU32::new(0);
    let error = outer_around_inner(&[ConnectionRefused], &sent).await;
    assert_eq!(error.reason(), StopReason::Exhausted, "{error:#}");
    assert_eq!(error.attempts(), 3);
    assert_eq!(sent.load(Ordering::SeqCst), 9);
    assert!(error.has::<NeverSent>(), "{error:#}");
    let inner = error.last().unwrap();
    assert!(!inner.log().any_sent());
    assert!(inner.has::<signal_core::vocab::ConnectionRefused>());
}

/// A reset as the last attempt, after refusals: not never sent either.
#[tokio::test(start_paused = true)]
async fn test_an_inner_call_reset_at_its_last_attempt_is_not_never_sent() {
    use io::ErrorKind::{ConnectionRefused, ConnectionReset};
    let sent = AtomicU32::new(0);
    let kinds = &[ConnectionRefused, ConnectionRefused, ConnectionReset];
    let error = outer_around_inner(kinds, &sent).await;
    assert_eq!(error.reason(), StopReason::MaybeProcessed, "{error:#}");
    assert_eq!(sent.load(Ordering::SeqCst), 3);
}
