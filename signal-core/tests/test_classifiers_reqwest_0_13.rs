//! The built-in classifier of reqwest 0.13 (feature `reqwest-0-13`), against
//! a real HTTP server on 127.0.0.1, as `test_classifiers_http` tests the one
//! of reqwest 0.12: statuses, a server that closes connections without
//! answering, a reset after the request was read, a port nobody listens on.
//! Each positive case next to a negative twin.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header::RETRY_AFTER};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use reqwest_0_13 as reqwest;
use signal_core::classifiers::http::retry_after;
use signal_core::vocab::{
    BadCredentials, ConnectionRefused, ConnectionReset, NeverSent, PermissionDenied, RateLimited,
    TimedOut, TransientNetwork, Unavailable,
};
use signal_core::{Signal, kind};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

kind! {
    /// Our policy: worth another try later.
    pub Retryable: includes(TransientNetwork, RateLimited, Unavailable);
}

#[derive(Debug, Signal)]
pub enum ClientError {
    Reqwest(#[signal(forward)] reqwest::Error),
}

/// Answers `/<status>` with that status (429 with `Retry-After: 2`), and
/// closes the connection without an answer on `/close`.
async fn serve() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(answer);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let path = request.uri().path().trim_start_matches('/');
    if path == "close" {
        return Err(std::io::Error::other("closing without an answer"));
    }
    let status = path.parse::<u16>().unwrap_or(200);
    let mut response = Response::new(Full::new(Bytes::from_static(b"body")));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    if status == 429 {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("2"));
    }
    Ok(response)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn status_error(addr: SocketAddr, status: u16) -> ClientError {
    let response = client()
        .get(format!("http://{addr}/{status}"))
        .send()
        .await
        .unwrap();
    ClientError::Reqwest(response.error_for_status().unwrap_err())
}

#[tokio::test]
async fn test_429_is_rate_limited_with_retry_after() {
    let addr = serve().await;
    let response = client()
        .get(format!("http://{addr}/429"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        retry_after(response.headers()),
        Some(Duration::from_secs(2))
    );
    let error = ClientError::Reqwest(response.error_for_status().unwrap_err());
    assert!(error.has::<RateLimited>(), "{error:?}");
    assert!(error.has::<Retryable>());
    assert!(!error.has::<TransientNetwork>());
}

#[tokio::test]
async fn test_503_is_unavailable_and_401_is_bad_credentials_never_network() {
    let addr = serve().await;
    let unavailable = status_error(addr, 503).await;
    assert!(unavailable.has::<Unavailable>(), "{unavailable:?}");
    assert!(!unavailable.has::<BadCredentials>());
    let unauthorized = status_error(addr, 401).await;
    assert!(unauthorized.has::<BadCredentials>(), "{unauthorized:?}");
    assert!(!unauthorized.has::<TransientNetwork>());
    assert!(!unauthorized.has::<Retryable>());
    let forbidden = status_error(addr, 403).await;
    assert!(forbidden.has::<PermissionDenied>());
}

#[tokio::test]
async fn test_404_and_500_raise_nothing() {
    let addr = serve().await;
    for status in [404, 500] {
        let error = status_error(addr, status).await;
        assert!(!error.has::<Retryable>(), "{status} {error:?}");
        assert!(!error.has::<BadCredentials>(), "{status}");
        assert!(!error.has::<NeverSent>(), "{status}");
    }
}

#[tokio::test]
async fn test_connection_closed_without_answer_is_reset() {
    let addr = serve().await;
    let error = ClientError::Reqwest(
        client()
            .get(format!("http://{addr}/close"))
            .send()
            .await
            .unwrap_err(),
    );
    assert!(error.has::<ConnectionReset>(), "{error:?}");
    assert!(error.has::<Retryable>());
    // The request was written and read: it may have been processed.
    assert!(!error.has::<NeverSent>());
}

#[tokio::test]
async fn test_refused_connection_is_refused_and_never_sent() {
    // Bind, learn the port, close: nothing listens there now.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let error = ClientError::Reqwest(
        client()
            .get(format!("http://{addr}/200"))
            .send()
            .await
            .unwrap_err(),
    );
    assert!(error.has::<ConnectionRefused>(), "{error:?}");
    assert!(error.has::<TransientNetwork>());
    assert!(error.has::<NeverSent>());
    assert!(!error.has::<Unavailable>());
    assert!(!error.has::<BadCredentials>());
}

/// A server that reads the whole POST and resets the connection: a network
/// failure, not "never sent".
#[tokio::test]
async fn test_reset_after_reading_a_post_may_have_been_processed() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.ends_with(b"charge") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the request ended early");
            request.extend_from_slice(&buf[..n]);
        }
        #[allow(deprecated)]
        stream.set_linger(Some(Duration::ZERO)).unwrap();
        drop(stream);
    });
    let error = ClientError::Reqwest(
        client()
            .post(format!("http://{addr}/pay"))
            .body("charge")
            .send()
            .await
            .unwrap_err(),
    );
    assert!(error.has::<TransientNetwork>(), "{error:?}");
    assert!(!error.has::<NeverSent>(), "{error:?}");
}

/// A whole-request timeout against a server that reads and never answers:
/// timed out, and not a network failure on its own.
#[tokio::test]
async fn test_a_request_timeout_is_timed_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = stream.read(&mut buf).await;
        // Hold the connection open, silent, until the test ends.
        let _ = finished.await;
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let error = ClientError::Reqwest(
        client
            .get(format!("http://{addr}/200"))
            .send()
            .await
            .unwrap_err(),
    );
    drop(done);
    assert!(error.has::<TimedOut>(), "{error:?}");
    assert!(!error.has::<NeverSent>(), "{error:?}");
    assert!(!error.has::<BadCredentials>());
}
