//! The built-in classifiers of `http`, `hyper` and `reqwest`, against a real
//! HTTP server on 127.0.0.1: statuses 429 (with `Retry-After`), 503, 401 and
//! 404, a server that closes connections without answering, and a port
//! nobody listens on. Each positive case next to a negative twin.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header::RETRY_AFTER};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use signal_core::classifiers::http::{MAX_RETRY_AFTER, retry_after, retry_after_at};
use signal_core::vocab::{
    BadCredentials, Cancelled, ConnectionRefused, ConnectionReset, NeverSent, PermissionDenied,
    RateLimited, TransientNetwork, Unavailable,
};
use signal_core::{Signal, kind};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

kind! {
    /// Our policy: worth another try later.
    pub Retryable: includes(TransientNetwork, RateLimited, Unavailable);
}

#[derive(Debug, Signal)]
pub enum ClientError {
    Reqwest(#[signal(forward)] reqwest::Error),
    Hyper(#[signal(forward)] hyper::Error),
    Status(#[signal(forward)] StatusCode),
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
        // Dropping the connection without a response.
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

async fn status_error(addr: SocketAddr, status: u16) -> (ClientError, HeaderMap) {
    let response = client()
        .get(format!("http://{addr}/{status}"))
        .send()
        .await
        .unwrap();
    let headers = response.headers().clone();
    let error = response.error_for_status().unwrap_err();
    (ClientError::Reqwest(error), headers)
}

#[tokio::test]
async fn test_429_is_rate_limited_with_retry_after() {
    let addr = serve().await;
    let (error, headers) = status_error(addr, 429).await;
    assert!(error.has::<RateLimited>(), "{error:?}");
    assert!(error.has::<Retryable>());
    assert!(!error.has::<TransientNetwork>());
    assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
    assert_eq!(
        error.trace::<Retryable>().unwrap().to_string(),
        "ClientError::Reqwest → ReqwestClassifier (RateLimited ⇒ Retryable)"
    );
}

#[tokio::test]
async fn test_503_is_unavailable_and_401_is_bad_credentials_never_network() {
    let addr = serve().await;
    let (unavailable, headers) = status_error(addr, 503).await;
    assert!(unavailable.has::<Unavailable>());
    assert!(unavailable.has::<Retryable>());
    assert!(!unavailable.has::<BadCredentials>());
    assert_eq!(retry_after(&headers), None);

    let (unauthorized, _) = status_error(addr, 401).await;
    assert!(unauthorized.has::<BadCredentials>());
    assert!(!unauthorized.has::<TransientNetwork>());
    assert!(!unauthorized.has::<Retryable>());
    assert!(!unauthorized.has::<PermissionDenied>());

    let (forbidden, _) = status_error(addr, 403).await;
    assert!(forbidden.has::<PermissionDenied>());
    assert!(!forbidden.has::<BadCredentials>());
}

#[tokio::test]
async fn test_404_and_500_raise_nothing() {
    let addr = serve().await;
    for status in [404, 500, 409] {
        let (error, _) = status_error(addr, status).await;
        assert!(!error.has::<Retryable>(), "{status}");
        assert!(!error.has::<BadCredentials>(), "{status}");
        assert!(!error.has::<Unavailable>(), "{status}");
    }
    // And a success is not an error at all.
    let ok = client()
        .get(format!("http://{addr}/200"))
        .send()
        .await
        .unwrap();
    assert!(ok.error_for_status().is_ok());
}

#[tokio::test]
async fn test_status_code_field_from_a_real_response() {
    let addr = serve().await;
    let response = client()
        .get(format!("http://{addr}/503"))
        .send()
        .await
        .unwrap();
    let error = ClientError::Status(response.status());
    assert!(error.has::<Unavailable>());
    let response = client()
        .get(format!("http://{addr}/200"))
        .send()
        .await
        .unwrap();
    assert!(!ClientError::Status(response.status()).has::<Retryable>());
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
    assert!(!error.has::<BadCredentials>());
    // The request was written and read: it may have been processed.
    assert!(!error.has::<NeverSent>());
}

#[tokio::test]
async fn test_refused_connection_is_refused() {
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
    assert!(!error.has::<Unavailable>());
    assert!(!error.has::<BadCredentials>());
    // Nothing was sent: safe to retry even a POST.
    assert!(error.has::<NeverSent>());
}

/// A server that reads the whole POST and resets the connection: reqwest's
/// error is not "never sent", though it is a network failure.
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
        // A linger of zero resets at once on drop: the thread is not held
        // up, which is what the deprecation warns about.
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

/// reqwest's connect timeout: timed out, a network failure, never sent.
#[tokio::test]
async fn test_a_connect_timeout_was_never_sent() {
    // An address reserved for documentation (TEST-NET-1), which nothing
    // answers, with a connect timeout of a millisecond.
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_millis(1))
        .build()
        .unwrap();
    let error = client.get("http://192.0.2.1:9/").send().await.unwrap_err();
    let error = ClientError::Reqwest(error);
    if error.has::<signal_core::vocab::TimedOut>() {
        assert!(
            error.has::<NeverSent>() && error.has::<TransientNetwork>(),
            "{error:?}"
        );
    } else {
        // No route at all (a sandbox without a network): still a connect
        // failure, still never sent.
        assert!(error.has::<NeverSent>(), "{error:?}");
    }
}

#[tokio::test]
async fn test_hyper_client_sees_incomplete_message_as_reset() {
    let addr = serve().await;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(
        TcpStream::connect(addr).await.unwrap(),
    ))
    .await
    .unwrap();
    tokio::spawn(connection);
    let request = Request::get(format!("http://{addr}/close"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let error = ClientError::Hyper(sender.send_request(request).await.unwrap_err());
    assert!(error.has::<ConnectionReset>(), "{error:?}");
    // An incomplete message after the request was written is not "never
    // sent": a POST answered this way may have been processed.
    assert!(!error.has::<NeverSent>());
    assert_eq!(
        error.trace::<TransientNetwork>().unwrap().to_string(),
        "ClientError::Hyper → HyperClassifier (ConnectionReset ⇒ TransientNetwork)"
    );

    // The twin: a complete answer, even an error status, is not a hyper
    // error at all.
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(
        TcpStream::connect(addr).await.unwrap(),
    ))
    .await
    .unwrap();
    tokio::spawn(connection);
    let request = Request::get(format!("http://{addr}/503"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"body");
}

/// The race of a peer's close with a request, made certain: the server
/// closes the connection before the client's connection task first runs,
/// with a request already queued. hyper reads the end of the stream as an
/// incomplete message and cancels the queued request with it: `Canceled`,
/// its source `IncompleteMessage`. The same network event as a close seen
/// after the request was written, so the same `TransientNetwork`.
#[tokio::test]
async fn test_a_request_cancelled_by_the_peers_close_is_network() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        drop(stream);
    });
    let stream = TcpStream::connect(addr).await.unwrap();
    server.await.unwrap();
    // Wait until the close has arrived: a peek of zero bytes is the end of
    // the stream.
    assert_eq!(stream.peek(&mut [0u8; 1]).await.unwrap(), 0);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let request = Request::get(format!("http://{addr}/"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request);
    tokio::spawn(connection);
    let hyper_error = response.await.unwrap_err();
    assert!(hyper_error.is_canceled(), "{hyper_error:?}");
    let source = std::error::Error::source(&hyper_error)
        .and_then(|source| source.downcast_ref::<hyper::Error>())
        .expect("the close as the cancellation's source");
    assert!(source.is_incomplete_message(), "{source:?}");

    let error = ClientError::Hyper(hyper_error);
    assert!(error.has::<TransientNetwork>(), "{error:?}");
    assert!(error.has::<ConnectionReset>(), "{error:?}");
    assert!(error.has::<Cancelled>(), "{error:?}");
    assert!(!error.has::<BadCredentials>());
}

/// The twin: a request cancelled for no network's reason (sent on a
/// connection that was not ready for it) is cancelled, not a network
/// failure.
#[tokio::test]
async fn test_a_request_cancelled_on_a_busy_connection_is_not_network() {
    let addr = serve().await;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(
        TcpStream::connect(addr).await.unwrap(),
    ))
    .await
    .unwrap();
    // The first request waits in the connection's queue (its task has not
    // run); the second finds no room.
    let get = || {
        Request::get(format!("http://{addr}/200"))
            .body(Empty::<Bytes>::new())
            .unwrap()
    };
    let first = sender.send_request(get());
    let second = sender.send_request(get()).await.unwrap_err();
    assert!(second.is_canceled(), "{second:?}");
    let error = ClientError::Hyper(second);
    assert!(error.has::<Cancelled>(), "{error:?}");
    assert!(!error.has::<TransientNetwork>(), "{error:?}");
    tokio::spawn(connection);
    assert_eq!(first.await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn test_hyper_server_that_stops_reading_mid_request() {
    // A raw peer that reads the request line and closes: the client's hyper
    // error is classified through the I/O error below it or as incomplete.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 16];
        let _ = stream.read(&mut buf).await;
    });
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(
        TcpStream::connect(addr).await.unwrap(),
    ))
    .await
    .unwrap();
    tokio::spawn(connection);
    let request = Request::post(format!("http://{addr}/upload"))
        .body(Full::new(Bytes::from(vec![b'x'; 1 << 20])))
        .unwrap();
    let error = ClientError::Hyper(sender.send_request(request).await.unwrap_err());
    assert!(error.has::<TransientNetwork>(), "{error:?}");
    assert!(!error.has::<BadCredentials>());
    assert!(!error.has::<NeverSent>());
}

#[test]
fn test_retry_after_edges() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let with = |values: &[&'static str]| {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(RETRY_AFTER, HeaderValue::from_static(value));
        }
        retry_after_at(&headers, now)
    };
    assert_eq!(with(&["0"]), Some(Duration::ZERO));
    assert_eq!(with(&[" 7 "]), Some(Duration::from_secs(7)));
    assert_eq!(with(&["99999999999999999999999"]), Some(MAX_RETRY_AFTER));
    assert_eq!(with(&["86400"]), Some(MAX_RETRY_AFTER));
    // An HTTP date 90 s after `now`, and one in the past.
    assert_eq!(
        with(&["Tue, 14 Nov 2023 22:14:50 GMT"]),
        Some(Duration::from_secs(90))
    );
    assert_eq!(
        with(&["Tue, 14 Nov 2023 22:00:00 GMT"]),
        Some(Duration::ZERO)
    );
    // Malformed, negative, fractional, empty, conflicting: no answer.
    for bad in [&["soon"][..], &["-5"], &["1.5"], &[""], &["2", "3"], &[]] {
        assert_eq!(with(bad), None, "{bad:?}");
    }
    // The same value twice is still that value.
    assert_eq!(with(&["3", "3"]), Some(Duration::from_secs(3)));
    let mut invalid = HeaderMap::new();
    invalid.insert(RETRY_AFTER, HeaderValue::from_bytes(b"\xff\xfe").unwrap());
    assert_eq!(retry_after_at(&invalid, now), None);
}
