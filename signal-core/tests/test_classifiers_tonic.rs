//! The built-in classifiers of tonic, against a real gRPC server on
//! 127.0.0.1 (a hand-written unary service over a raw-bytes codec, so no
//! code generation is needed): statuses the server returns, a server that
//! went away, and a port nobody listens on. Each positive case next to a
//! negative twin.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::uri::PathAndQuery;
use signal_core::vocab::{
    BadCredentials, Cancelled, ConnectionRefused, NeverSent, PermissionDenied, RateLimited,
    ResourceBusy, TimedOut, TransientNetwork, Unavailable,
};
use signal_core::{Signal, kind};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::server::NamedService;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Code, Status};

mod grpc_support;

use grpc_support::RawCodec;

kind! {
    /// Our policy: worth another try later.
    pub Retryable: includes(TransientNetwork, TimedOut, RateLimited, Unavailable);
}

#[derive(Debug, Signal)]
pub enum CallError {
    Status(#[signal(forward)] Status),
    Transport(#[signal(forward)] tonic::transport::Error),
}

const METHOD: &str = "/signal.test.Echo/Call";

/// The gRPC service: the request names the status code to answer with
/// (`"14"` is UNAVAILABLE); `"0"` answers OK with the request itself.
#[derive(Clone)]
struct Echo;

impl NamedService for Echo {
    const NAME: &'static str = "signal.test.Echo";
}

struct Call;

impl tower_service::Service<tonic::Request<Bytes>> for Call {
    type Response = tonic::Response<Bytes>;
    type Error = Status;
    type Future = std::future::Ready<Result<tonic::Response<Bytes>, Status>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let body = request.into_inner();
        let code = std::str::from_utf8(&body)
            .ok()
            .and_then(|text| text.parse::<i32>().ok())
            .map(Code::from_i32)
            .unwrap_or(Code::InvalidArgument);
        std::future::ready(match code {
            Code::Ok => Ok(tonic::Response::new(body)),
            code => Err(Status::new(code, "answered as asked")),
        })
    }
}

impl tower_service::Service<http::Request<tonic::body::Body>> for Echo {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(async move {
            if request.uri().path() != METHOD {
                return Ok(Status::unimplemented("no such method").into_http());
            }
            let mut grpc = tonic::server::Grpc::new(RawCodec);
            Ok(grpc.unary(Call, request).await)
        })
    }
}

struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<()>,
}

async fn serve() -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel();
    let done = tokio::spawn(async move {
        Server::builder()
            .add_service(Echo)
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                async {
                    let _ = stopped.await;
                },
            )
            .await
            .unwrap();
    });
    Running { addr, stop, done }
}

async fn channel(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap()
}

async fn call(channel: Channel, code: Code) -> Result<Bytes, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unknown(e.to_string()))?;
    let body = Bytes::from((code as i32).to_string());
    grpc.unary(
        tonic::Request::new(body),
        PathAndQuery::from_static(METHOD),
        RawCodec,
    )
    .await
    .map(tonic::Response::into_inner)
}

/// Whether an error raises the kind a case expects.
type Raises = fn(&CallError) -> bool;

#[tokio::test]
async fn test_statuses_from_a_real_server() {
    let server = serve().await;
    let channel = channel(server.addr).await;
    // (code, kind it must raise)
    let cases: [(Code, Raises); 7] = [
        (Code::Unavailable, |e| {
            e.has::<Unavailable>() && e.has::<Retryable>()
        }),
        (Code::DeadlineExceeded, |e| {
            e.has::<TimedOut>() && e.has::<Retryable>()
        }),
        (Code::Unauthenticated, |e| e.has::<BadCredentials>()),
        (Code::PermissionDenied, |e| e.has::<PermissionDenied>()),
        (Code::ResourceExhausted, |e| e.has::<RateLimited>()),
        (Code::Aborted, |e| e.has::<ResourceBusy>()),
        (Code::Cancelled, |e| e.has::<Cancelled>()),
    ];
    for (code, raises) in cases {
        let status = call(channel.clone(), code).await.unwrap_err();
        assert_eq!(status.code(), code);
        let error = CallError::Status(status);
        assert!(raises(&error), "{code:?}: {error:?}");
        // An answer from the server is never a network failure, and the
        // request was sent.
        assert!(!error.has::<TransientNetwork>(), "{code:?}");
        assert!(!error.has::<NeverSent>(), "{code:?}");
    }
    // Twins: credentials are never "retryable", and codes about the request
    // itself raise nothing.
    let unauthenticated = CallError::Status(
        call(channel.clone(), Code::Unauthenticated)
            .await
            .unwrap_err(),
    );
    assert!(!unauthenticated.has::<Retryable>());
    for code in [
        Code::NotFound,
        Code::InvalidArgument,
        Code::Internal,
        Code::AlreadyExists,
    ] {
        let error = CallError::Status(call(channel.clone(), code).await.unwrap_err());
        assert!(!error.has::<Retryable>(), "{code:?}");
        assert!(!error.has::<BadCredentials>(), "{code:?}");
    }
    assert_eq!(&call(channel, Code::Ok).await.unwrap()[..], b"0");
    let _ = server.stop.send(());
    server.done.await.unwrap();
}

#[tokio::test]
async fn test_dropped_transport_is_a_network_failure() {
    let server = serve().await;
    let addr = server.addr;
    let channel = channel(addr).await;
    assert!(call(channel.clone(), Code::Ok).await.is_ok());

    // The server goes away; the next call on the same channel cannot reach
    // it.
    let _ = server.stop.send(());
    server.done.await.unwrap();
    let status = call(channel, Code::Ok).await.unwrap_err();
    let error = CallError::Status(status);
    assert!(error.has::<TransientNetwork>(), "{error:?}");
    assert!(error.has::<Retryable>());
    assert!(!error.has::<BadCredentials>());
}

#[tokio::test]
async fn test_connect_to_a_closed_port_is_refused() {
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let error = CallError::Transport(
        Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap_err(),
    );
    assert!(error.has::<ConnectionRefused>(), "{error:?}");
    assert!(error.has::<Retryable>());
    assert!(!error.has::<Unavailable>());
    assert!(error.has::<NeverSent>());
    assert_eq!(
        error.trace::<ConnectionRefused>().unwrap().to_string(),
        "CallError::Transport → TransportClassifier (ConnectionRefused)"
    );
}
