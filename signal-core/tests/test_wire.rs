//! Kinds across the wire: the header format, trust (allow-lists, forged and
//! unknown names), bad input (malformed, oversized, repeated), and real
//! round trips over HTTP (hyper server, reqwest client) and gRPC (tonic)
//! on 127.0.0.1.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use signal_core::vocab::{
    BadCredentials, ConnectionRefused, TimedOut, TransientNetwork, Unavailable,
};
use signal_core::wire::tonic::RemoteStatus;
use signal_core::wire::{HEADER, MAX_HEADER_LEN, MAX_NAMES, WireError, WireKinds};
use signal_core::{Kind, Signal, kind};
use tokio::net::TcpListener;

kind! {
    /// The server's pool is being rebuilt.
    pub NeedsDbReconnect;
    /// Our policy on the client: worth another try later.
    pub Retryable: includes(TransientNetwork, TimedOut, Unavailable, NeedsDbReconnect);
}

mod other_team {
    signal_core::kind! {
        /// Another team's kind with the same name as ours.
        pub NeedsDbReconnect;
        /// The same kind, renamed on the wire.
        pub Renamed as "other.db-reconnect";
    }
}

#[derive(Debug, Signal)]
pub enum ServerError {
    #[signal(leaf = "NeedsDbReconnect")]
    PoolGone,
    #[signal(leaf = "TimedOut")]
    UpstreamTimeout,
    #[signal(leaf = "BadCredentials")]
    BadToken,
    NotFound,
}

fn told() -> WireKinds {
    WireKinds::new([NeedsDbReconnect::ID, TimedOut::ID, BadCredentials::ID]).unwrap()
}

fn accepted() -> WireKinds {
    WireKinds::new([NeedsDbReconnect::ID, TimedOut::ID, BadCredentials::ID]).unwrap()
}

#[test]
fn test_encode_names_the_kinds_raised() {
    assert_eq!(told().encode(&ServerError::PoolGone), "NeedsDbReconnect");
    assert_eq!(told().encode(&ServerError::UpstreamTimeout), "TimedOut");
    assert_eq!(told().encode(&ServerError::NotFound), "");
    // A kind outside the told set is not sent.
    let narrow = WireKinds::new([TimedOut::ID]).unwrap();
    assert_eq!(narrow.encode(&ServerError::PoolGone), "");
}

#[test]
fn test_round_trip_keeps_the_kinds_and_their_relations() {
    let remote = accepted()
        .decode(&told().encode(&ServerError::PoolGone))
        .unwrap();
    assert!(remote.has::<NeedsDbReconnect>());
    assert!(remote.has::<Retryable>());
    assert!(!remote.has::<BadCredentials>());
    assert_eq!(
        remote.trace::<Retryable>().unwrap().to_string(),
        "RemoteKinds → wire (NeedsDbReconnect ⇒ Retryable)"
    );
}

#[test]
fn test_forged_and_unknown_names_are_kept_not_matched() {
    // The caller accepts only the pool and timeout kinds from this server.
    let narrow = WireKinds::new([NeedsDbReconnect::ID, TimedOut::ID]).unwrap();
    let remote = narrow
        .decode("BadCredentials, TimedOut, SomethingNew")
        .unwrap();
    assert!(remote.has::<TimedOut>());
    assert!(!remote.has::<BadCredentials>());
    assert_eq!(remote.unknown(), ["BadCredentials", "SomethingNew"]);
    assert_eq!(remote.kinds(), [TimedOut::ID]);
    // Repeated names count once.
    let twice = narrow.decode("TimedOut,TimedOut , TimedOut").unwrap();
    assert_eq!(twice.kinds(), [TimedOut::ID]);
    // Empty and blank are no kinds, not errors.
    assert!(narrow.decode("").unwrap().is_empty());
    assert!(narrow.decode("   ").unwrap().is_empty());
}

#[test]
fn test_bad_input_is_a_typed_error() {
    let set = accepted();
    assert_eq!(
        set.decode(&"a".repeat(MAX_HEADER_LEN + 1)),
        Err(WireError::TooLong {
            len: MAX_HEADER_LEN + 1
        })
    );
    let many = vec!["TimedOut"; MAX_NAMES + 1].join(",");
    assert_eq!(set.decode(&many), Err(WireError::TooManyNames));
    let just_enough = vec!["TimedOut"; MAX_NAMES].join(",");
    assert!(set.decode(&just_enough).unwrap().has::<TimedOut>());
    for bad in [
        "Timed Out",
        "TimedOut,,",
        ",TimedOut",
        "Timed\"Out",
        "Timed;Out",
        "ä",
    ] {
        assert!(
            matches!(
                set.decode(bad),
                Err(WireError::InvalidName { .. } | WireError::NotText)
            ),
            "{bad:?}: {:?}",
            set.decode(bad)
        );
    }
    assert_eq!(set.decode_bytes(b"Timed\xffOut"), Err(WireError::NotText));
    let long_name = "x".repeat(65);
    assert!(matches!(
        set.decode(&long_name),
        Err(WireError::InvalidName { entry }) if entry.len() == 64
    ));
    assert_eq!(
        set.decode_all([&b"TimedOut"[..], &b"BadCredentials"[..]]),
        Err(WireError::Repeated)
    );
    assert!(
        set.decode_all([&b"TimedOut"[..], &b"TimedOut"[..]])
            .unwrap()
            .has::<TimedOut>()
    );
}

#[test]
fn test_duplicate_wire_names_are_a_start_up_error() {
    let error =
        WireKinds::new([NeedsDbReconnect::ID, other_team::NeedsDbReconnect::ID]).unwrap_err();
    assert!(matches!(
        error,
        WireError::DuplicateName {
            name: "NeedsDbReconnect",
            ..
        }
    ));
    assert!(error.to_string().contains("other_team"), "{error}");
    // Renamed with `as`, the two coexist; the same kind twice is fine.
    let set = WireKinds::new([
        NeedsDbReconnect::ID,
        other_team::Renamed::ID,
        NeedsDbReconnect::ID,
    ])
    .unwrap();
    assert_eq!(set.kinds().len(), 2);
    assert_eq!(set.get("other.db-reconnect"), Some(other_team::Renamed::ID));
    assert_eq!(set.get("Renamed"), None);
}

async fn http_server(set: WireKinds) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let set = set.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let set = set.clone();
                    async move {
                        let error = match request.uri().path() {
                            "/pool" => Some(ServerError::PoolGone),
                            "/token" => Some(ServerError::BadToken),
                            "/forged" => None,
                            _ => Some(ServerError::NotFound),
                        };
                        let mut response = Response::new(Full::new(Bytes::from_static(b"")));
                        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                        match error {
                            Some(error) => set.insert_header(response.headers_mut(), &error),
                            None => {
                                response
                                    .headers_mut()
                                    .insert(HEADER, "x".repeat(2000).parse().unwrap());
                            }
                        }
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn test_http_round_trip_over_loopback() {
    let addr = http_server(told()).await;
    let client = reqwest::Client::new();
    let get = |path: &'static str| {
        let client = client.clone();
        async move {
            client
                .get(format!("http://{addr}{path}"))
                .send()
                .await
                .unwrap()
        }
    };
    let pool = get("/pool").await;
    let remote = accepted().decode_header(pool.headers()).unwrap();
    assert!(remote.has::<NeedsDbReconnect>());
    assert!(remote.has::<Retryable>());

    let token = get("/token").await;
    let remote = accepted().decode_header(token.headers()).unwrap();
    assert!(remote.has::<BadCredentials>());
    assert!(!remote.has::<Retryable>());

    let plain = get("/other").await;
    assert!(plain.headers().get(HEADER).is_none());
    assert!(
        accepted()
            .decode_header(plain.headers())
            .unwrap()
            .is_empty()
    );

    let oversized = get("/forged").await;
    assert_eq!(
        accepted().decode_header(oversized.headers()),
        Err(WireError::TooLong { len: 2000 })
    );
}

mod grpc_support;

mod grpc {
    //! A unary gRPC service over a raw-bytes codec (no code generation):
    //! the request names the failure to answer with.

    use std::convert::Infallible;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use bytes::Bytes;
    use tonic::Status;
    use tonic::server::NamedService;

    pub use super::grpc_support::RawCodec;

    use super::{ServerError, told};

    pub const METHOD: &str = "/signal.test.Store/Sync";

    #[derive(Clone)]
    pub struct Store;

    impl NamedService for Store {
        const NAME: &'static str = "signal.test.Store";
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
            let (mut status, error) = match &request.get_ref()[..] {
                b"pool" => (
                    Status::unavailable("pool rebuilding"),
                    ServerError::PoolGone,
                ),
                b"token" => (Status::unauthenticated("bad token"), ServerError::BadToken),
                b"forged" => {
                    let mut status = Status::internal("oops");
                    status
                        .metadata_mut()
                        .insert(signal_core::wire::HEADER, "Bad Name".parse().unwrap());
                    return std::future::ready(Err(status));
                }
                _ => return std::future::ready(Ok(tonic::Response::new(request.into_inner()))),
            };
            told().attach(&mut status, &error);
            std::future::ready(Err(status))
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
            Box::pin(async move {
                if request.uri().path() != METHOD {
                    return Ok(Status::unimplemented("no such method").into_http());
                }
                Ok(tonic::server::Grpc::new(RawCodec)
                    .unary(Call, request)
                    .await)
            })
        }
    }
}

async fn grpc_call(
    channel: tonic::transport::Channel,
    what: &'static str,
) -> Result<Bytes, tonic::Status> {
    let mut client = tonic::client::Grpc::new(channel);
    client
        .ready()
        .await
        .map_err(|e| tonic::Status::unknown(e.to_string()))?;
    client
        .unary(
            tonic::Request::new(Bytes::from_static(what.as_bytes())),
            http::uri::PathAndQuery::from_static(grpc::METHOD),
            grpc::RawCodec,
        )
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn test_grpc_round_trip_over_loopback() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(grpc::Store)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();

    let status = grpc_call(channel.clone(), "pool").await.unwrap_err();
    let error = RemoteStatus::decode(status, &accepted()).unwrap();
    assert!(error.has::<NeedsDbReconnect>(), "{error}");
    assert!(error.has::<Unavailable>(), "the code's own kind too");
    assert!(error.has::<Retryable>());
    assert!(!error.has::<BadCredentials>());
    assert_eq!(
        error.trace::<NeedsDbReconnect>().unwrap().to_string(),
        "RemoteStatus.kinds → RemoteKinds → wire (NeedsDbReconnect)"
    );

    let status = grpc_call(channel.clone(), "token").await.unwrap_err();
    let error = RemoteStatus::decode(status, &accepted()).unwrap();
    assert!(error.has::<BadCredentials>());
    assert!(!error.has::<Retryable>());

    // A server that is not trusted with credentials cannot raise them.
    let narrow = WireKinds::new([NeedsDbReconnect::ID]).unwrap();
    let status = grpc_call(channel.clone(), "pool").await.unwrap_err();
    let kinds = narrow.decode_status(&status).unwrap();
    assert!(kinds.has::<NeedsDbReconnect>());
    assert!(!kinds.has::<TimedOut>());

    // A malformed entry: a typed error, and the status back.
    let status = grpc_call(channel.clone(), "forged").await.unwrap_err();
    let (status, error) = RemoteStatus::decode(status, &accepted()).unwrap_err();
    assert!(matches!(error, WireError::InvalidName { .. }));
    assert_eq!(status.code(), tonic::Code::Internal);
    assert!(!RemoteStatus::without_kinds(status).has::<Retryable>());

    assert_eq!(&grpc_call(channel, "ok").await.unwrap()[..], b"ok");
    server.abort();

    // A server that is gone: the status's own classification still works,
    // with no remote kinds.
    let status = grpc_call(
        tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy(),
        "pool",
    )
    .await
    .unwrap_err();
    let error = RemoteStatus::decode(status, &accepted()).unwrap();
    assert!(error.kinds.is_empty());
    assert!(
        error.has::<ConnectionRefused>() || error.has::<TransientNetwork>(),
        "{error:?}"
    );
    assert!(!error.has::<NeedsDbReconnect>());
}

/// Arbitrary bytes never panic the decoder, and whatever it accepts is made
/// of valid names only (a deterministic generator: the same inputs on every
/// run).
#[test]
fn test_arbitrary_bytes_never_panic() {
    let set = accepted();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet: &[u8] = b"TimedOutNeedsDbReconnectBadCredentials,, \t.-_\xff\x00\"a";
    let (mut accepted_values, mut rejected) = (0, 0);
    for _ in 0..20_000 {
        let len = (next() % 80) as usize;
        let value: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        match set.decode_bytes(&value) {
            Ok(remote) => {
                accepted_values += 1;
                for name in remote.unknown() {
                    assert!(signal_core::wire::is_valid_name(name), "{name:?}");
                }
                assert!(remote.kinds().len() <= MAX_NAMES);
            }
            Err(_) => rejected += 1,
        }
    }
    // Both outcomes were exercised.
    assert!(
        accepted_values > 100 && rejected > 100,
        "{accepted_values} / {rejected}"
    );
}

#[test]
fn test_grpc_pushback_is_read_with_limits() {
    use signal_core::wire::tonic::{MAX_PUSHBACK, PUSHBACK, retry_after, set_retry_after};
    use std::time::Duration;

    let mut status = tonic::Status::unavailable("pool down");
    assert_eq!(retry_after(&status), None);
    set_retry_after(&mut status, Duration::from_millis(1500));
    assert_eq!(retry_after(&status), Some(Duration::from_millis(1500)));
    let remote = RemoteStatus::decode(status, &accepted()).unwrap();
    assert_eq!(remote.retry_after(), Some(Duration::from_millis(1500)));

    let with = |values: &[&str]| {
        let mut status = tonic::Status::unavailable("x");
        for value in values {
            status
                .metadata_mut()
                .append(PUSHBACK, value.parse().unwrap());
        }
        retry_after(&status)
    };
    assert_eq!(with(&["0"]), Some(Duration::ZERO));
    assert_eq!(with(&["99999999999999999999999"]), Some(MAX_PUSHBACK));
    assert_eq!(with(&["7200000"]), Some(MAX_PUSHBACK));
    // Negative ("do not retry"), fractional, text, empty, conflicting: no hint.
    for bad in [&["-1"][..], &["1.5"], &["soon"], &[""], &["5", "6"]] {
        assert_eq!(with(bad), None, "{bad:?}");
    }
    assert_eq!(with(&["5", "5"]), Some(Duration::from_millis(5)));
}
