//! `std::io::Error`: connection failures, resolver failures and timeouts.
//!
//! An `io::Error` does not say whether its I/O was a socket's, a file's or a
//! pipe's, so [`IoClassifier`] (behind plain `#[signal(forward)]`) says only
//! what is true of every I/O error of a kind. [`SocketIoClassifier`] adds
//! what is true once the caller knows the I/O was a socket's: name it with
//! `forward_with` on a field that only ever holds socket errors. The
//! classifiers of hyper, reqwest and tonic use it for the I/O errors under
//! their connections.
//!
//! | `io::ErrorKind` | any I/O ([`IoClassifier`]) | a socket's ([`SocketIoClassifier`]) |
//! |---|---|---|
//! | `ConnectionRefused` | [`ConnectionRefused`] (⇒ [`TransientNetwork`], [`NeverSent`]) | the same |
//! | `ConnectionReset`, `ConnectionAborted` | [`ConnectionReset`], [`ConnectionAborted`] (⇒ [`TransientNetwork`]) | the same |
//! | `HostUnreachable`, `NetworkUnreachable` | [`HostUnreachable`], [`NetworkUnreachable`] (⇒ [`TransientNetwork`]) | the same |
//! | `NetworkDown` | [`TransientNetwork`] | the same |
//! | a failed name resolution (std's message, below) | [`DnsFailure`] (⇒ [`TransientNetwork`], [`NeverSent`]) | the same |
//! | `TimedOut` | [`TimedOut`]: a disk, a lock or a pipe times out too | [`TimedOut`], [`TransientNetwork`] |
//! | `BrokenPipe` | nothing: a write to a closed pipe (a child's stdin) fails the same way | [`BrokenPipe`] (⇒ [`TransientNetwork`]) |
//! | `WouldBlock`, `Interrupted` | nothing: not a failure, the operation is to be polled or repeated | the same |
//! | `NotConnected`, `AddrNotAvailable`, `AddrInUse` | nothing: a socket used before it connected, or a local address that cannot be had, says nothing about the network | the same |
//! | `UnexpectedEof`, `WriteZero`, `NotFound`, `PermissionDenied`, `InvalidData`, anything else | nothing | the same |
//!
//! No kind raises [`NeverSent`] but a refused connection and a failed
//! resolution: after a reset, a timeout or a broken pipe the request may
//! have been written and processed.
//!
//! [`NeverSent`]: crate::vocab::NeverSent
//!
//! ```
//! use std::io;
//! use signal_core::classifiers::io::{classify_io, classify_socket_io};
//! use signal_core::vocab::{ConnectionRefused, TimedOut, TransientNetwork};
//! use signal_core::Kind;
//!
//! let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
//! assert!(classify_io(&refused).implies(TransientNetwork::ID));
//! assert_eq!(classify_io(&refused).as_slice(), [ConnectionRefused::ID]);
//!
//! let timeout = io::Error::from(io::ErrorKind::TimedOut);
//! assert!(classify_io(&timeout).implies(TimedOut::ID));
//! assert!(!classify_io(&timeout).implies(TransientNetwork::ID));
//! assert!(classify_socket_io(&timeout).implies(TransientNetwork::ID));
//!
//! let denied = io::Error::from(io::ErrorKind::PermissionDenied);
//! assert!(classify_io(&denied).is_empty());
//! ```

use alloc::vec::Vec;
use std::io;

use crate::classify::{Classify, Kinds};
use crate::kind::{Kind, KindId};
use crate::kinds;
use crate::vocab::{
    BrokenPipe, ConnectionAborted, ConnectionRefused, ConnectionReset, DnsFailure, HostUnreachable,
    NetworkUnreachable, TimedOut, TransientNetwork,
};

/// The kinds any I/O error raises (see the [module](self) table): a precise
/// network leaf for the kinds only a network produces, [`TimedOut`] alone
/// for a timeout, or nothing.
///
/// Reads `io::ErrorKind`. A failed name resolution has no kind of its own in
/// std; it is recognized by the message std gives it ("failed to lookup
/// address information", the wording of every std and tokio resolver error
/// on Unix and Windows): the one place this classifier reads text, and it
/// reads std's own words, not a library's.
pub fn classify_io(error: &io::Error) -> Kinds {
    use io::ErrorKind as K;
    match error.kind() {
        K::ConnectionRefused => ConnectionRefused::ID.into(),
        K::ConnectionReset => ConnectionReset::ID.into(),
        K::ConnectionAborted => ConnectionAborted::ID.into(),
        K::HostUnreachable => HostUnreachable::ID.into(),
        K::NetworkUnreachable => NetworkUnreachable::ID.into(),
        K::NetworkDown => TransientNetwork::ID.into(),
        K::TimedOut => TimedOut::ID.into(),
        _ if is_resolver_message(error) => DnsFailure::ID.into(),
        _ => Kinds::NONE,
    }
}

/// The kinds a socket's I/O error raises (see the [module](self) table): as
/// [`classify_io`], and a timeout is also [`TransientNetwork`], a broken
/// pipe [`BrokenPipe`].
pub fn classify_socket_io(error: &io::Error) -> Kinds {
    match error.kind() {
        io::ErrorKind::TimedOut => kinds![TimedOut, TransientNetwork],
        io::ErrorKind::BrokenPipe => BrokenPipe::ID.into(),
        _ => classify_io(error),
    }
}

fn is_resolver_message(error: &io::Error) -> bool {
    error
        .to_string()
        .starts_with("failed to lookup address information")
}

/// [`classify_io`] as a classifier type, which also tells signal maps every
/// kind it may return. Built in for `std::io::Error`: a field of that type
/// must be forwarded or skipped, and plain `#[signal(forward)]` on it
/// classifies it with `IoClassifier`.
#[derive(Clone, Copy, Debug, Default)]
pub struct IoClassifier;

// Not offered as a fix when another classifier does not fit: the compiler's
// suggestion would point into this crate's sources.
#[diagnostic::do_not_recommend]
impl Classify<io::Error> for IoClassifier {
    fn classify(&self, error: &io::Error) -> Kinds {
        classify_io(error)
    }

    fn kinds(&self) -> Vec<KindId> {
        alloc::vec![
            ConnectionRefused::ID,
            ConnectionReset::ID,
            ConnectionAborted::ID,
            HostUnreachable::ID,
            NetworkUnreachable::ID,
            TransientNetwork::ID,
            TimedOut::ID,
            DnsFailure::ID,
        ]
    }
}

/// [`classify_socket_io`] as a classifier type, for a field that holds only
/// a socket's I/O errors: `#[signal(forward_with = "SocketIoClassifier")]`.
///
/// ```
/// use std::io;
/// use signal_core::classifiers::io::SocketIoClassifier;
/// use signal_core::vocab::TransientNetwork;
/// use signal_core::Signal;
///
/// #[derive(Debug, Signal)]
/// pub enum FeedError {
///     Socket(#[signal(forward_with = "SocketIoClassifier")] io::Error),
///     Spool(#[signal(forward)] io::Error),
/// }
///
/// let timeout = || io::Error::from(io::ErrorKind::TimedOut);
/// assert!(FeedError::Socket(timeout()).has::<TransientNetwork>());
/// assert!(!FeedError::Spool(timeout()).has::<TransientNetwork>());
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct SocketIoClassifier;

#[diagnostic::do_not_recommend]
impl Classify<io::Error> for SocketIoClassifier {
    fn classify(&self, error: &io::Error) -> Kinds {
        classify_socket_io(error)
    }

    fn kinds(&self) -> Vec<KindId> {
        let mut kinds = IoClassifier.kinds();
        kinds.push(BrokenPipe::ID);
        kinds
    }
}

super::builtin!(io::Error => IoClassifier);
