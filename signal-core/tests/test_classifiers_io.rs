//! The facts of `std::io::Error`: what is true of every I/O error of a kind
//! (`IoClassifier`, behind plain `forward`), and what is true once the
//! caller knows the I/O was a socket's (`SocketIoClassifier`, for
//! `forward_with`, and what hyper, reqwest and tonic use underneath). Each
//! positive case next to a negative twin.

use std::io::{self, ErrorKind};

use signal_core::classifiers::classify_error;
use signal_core::classifiers::io::{SocketIoClassifier, classify_io, classify_socket_io};
use signal_core::vocab::{
    BrokenPipe, ConnectionRefused, ConnectionReset, NeverSent, TimedOut, TransientNetwork,
};
use signal_core::{Classify, Kind, Signal};

#[derive(Debug, Signal)]
pub enum StoreError {
    /// A file's read or write.
    Disk(#[signal(forward)] io::Error),
    /// A socket's read or write: the field says so.
    Socket(#[signal(forward_with = "SocketIoClassifier")] io::Error),
}

fn disk(kind: ErrorKind) -> StoreError {
    StoreError::Disk(io::Error::from(kind))
}

fn socket(kind: ErrorKind) -> StoreError {
    StoreError::Socket(io::Error::from(kind))
}

#[test]
fn test_a_disk_timeout_is_timed_out_not_network() {
    let error = disk(ErrorKind::TimedOut);
    assert!(error.has::<TimedOut>());
    assert!(!error.has::<TransientNetwork>(), "{error:?}");
    assert!(!error.has::<NeverSent>());
    assert!(!classify_io(&io::Error::from(ErrorKind::TimedOut)).implies(TransientNetwork::ID));
}

#[test]
fn test_a_socket_timeout_is_network_too() {
    let error = socket(ErrorKind::TimedOut);
    assert!(error.has::<TimedOut>());
    assert!(error.has::<TransientNetwork>(), "{error:?}");
    // The request may have been written before the deadline.
    assert!(!error.has::<NeverSent>());
}

#[test]
fn test_a_refused_connection_is_network_and_never_sent_anywhere() {
    for error in [
        disk(ErrorKind::ConnectionRefused),
        socket(ErrorKind::ConnectionRefused),
    ] {
        assert!(error.has::<ConnectionRefused>(), "{error:?}");
        assert!(error.has::<TransientNetwork>());
        assert!(error.has::<NeverSent>());
    }
    // Its twin: a reset is network, but the request may have left.
    let reset = disk(ErrorKind::ConnectionReset);
    assert!(reset.has::<ConnectionReset>() && reset.has::<TransientNetwork>());
    assert!(!reset.has::<NeverSent>());
}

#[test]
fn test_a_broken_pipe_is_network_only_on_a_socket() {
    // A write to a child process's closed stdin fails the same way.
    let pipe = disk(ErrorKind::BrokenPipe);
    assert!(!pipe.has::<BrokenPipe>(), "{pipe:?}");
    assert!(!pipe.has::<TransientNetwork>());

    let socket = socket(ErrorKind::BrokenPipe);
    assert!(socket.has::<BrokenPipe>(), "{socket:?}");
    assert!(socket.has::<TransientNetwork>());
}

#[test]
fn test_kinds_of_any_io_that_raise_nothing() {
    for kind in [
        ErrorKind::WouldBlock,
        ErrorKind::Interrupted,
        ErrorKind::NotConnected,
        ErrorKind::AddrNotAvailable,
        ErrorKind::AddrInUse,
        ErrorKind::UnexpectedEof,
        ErrorKind::NotFound,
        ErrorKind::PermissionDenied,
        ErrorKind::WriteZero,
    ] {
        for error in [disk(kind), socket(kind)] {
            assert!(!error.has::<TransientNetwork>(), "{kind:?} {error:?}");
            assert!(!error.has::<TimedOut>(), "{kind:?}");
            assert!(!error.has::<NeverSent>(), "{kind:?}");
        }
    }
    // The twin: the kinds that are a network's failure whatever the caller
    // knows.
    for kind in [
        ErrorKind::ConnectionRefused,
        ErrorKind::ConnectionReset,
        ErrorKind::ConnectionAborted,
        ErrorKind::HostUnreachable,
        ErrorKind::NetworkUnreachable,
        ErrorKind::NetworkDown,
    ] {
        assert!(disk(kind).has::<TransientNetwork>(), "{kind:?}");
        assert!(socket(kind).has::<TransientNetwork>(), "{kind:?}");
    }
}

#[test]
fn test_the_socket_classifier_lists_what_it_may_raise() {
    let kinds = SocketIoClassifier.kinds();
    assert!(kinds.contains(&BrokenPipe::ID) && kinds.contains(&TransientNetwork::ID));
    let plain = signal_core::classifiers::io::IoClassifier.kinds();
    assert!(!plain.contains(&BrokenPipe::ID), "{plain:?}");
    assert!(
        classify_socket_io(&io::Error::from(ErrorKind::TimedOut)).implies(TransientNetwork::ID)
    );
}

#[test]
fn test_classify_error_knows_nothing_of_sockets() {
    // A type-erased chain does not say where its I/O error came from.
    let wrapped = io::Error::other(io::Error::from(ErrorKind::TimedOut));
    assert!(classify_error(&wrapped).implies(TimedOut::ID));
    assert!(!classify_error(&wrapped).implies(TransientNetwork::ID));
    let reset = io::Error::other(io::Error::from(ErrorKind::ConnectionReset));
    assert!(classify_error(&reset).implies(TransientNetwork::ID));
}

#[test]
fn test_classify_error_unions_the_facts_along_a_chain() {
    // A timeout whose cause was a refused connection: both are facts.
    let chain = io::Error::new(
        ErrorKind::TimedOut,
        io::Error::from(ErrorKind::ConnectionRefused),
    );
    let kinds = classify_error(&chain);
    assert!(kinds.implies(TimedOut::ID), "{kinds:?}");
    assert!(kinds.implies(ConnectionRefused::ID), "{kinds:?}");
    assert!(kinds.implies(NeverSent::ID), "{kinds:?}");
    // The twins: a chain of errors that raise nothing raises nothing, and a
    // timeout with a text cause is a timeout only.
    let benign = io::Error::new(
        ErrorKind::NotFound,
        io::Error::from(ErrorKind::PermissionDenied),
    );
    assert!(classify_error(&benign).is_empty());
    let text = io::Error::new(ErrorKind::TimedOut, "the lock was held");
    assert_eq!(classify_error(&text).as_slice(), [TimedOut::ID]);
}
