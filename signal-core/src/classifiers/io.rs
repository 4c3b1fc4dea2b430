//! `std::io::Error`: connection failures, resolver failures and timeouts.
//!
//! ```
//! use std::io;
//! use signal_core::classifiers::io::classify_io;
//! use signal_core::vocab::{ConnectionRefused, TimedOut, TransientNetwork};
//! use signal_core::Kind;
//!
//! let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
//! assert!(classify_io(&refused).implies(TransientNetwork::ID));
//! assert_eq!(classify_io(&refused).as_slice(), [ConnectionRefused::ID]);
//!
//! let timeout = io::Error::from(io::ErrorKind::TimedOut);
//! assert!(classify_io(&timeout).implies(TimedOut::ID));
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

/// The kinds an I/O error raises: a precise network leaf, [`TimedOut`] with
/// [`TransientNetwork`] for a socket's timeout, or nothing. A refused
/// connection and a failed name resolution also raise
/// [`NeverSent`](crate::vocab::NeverSent), which their kinds imply.
///
/// Reads `io::ErrorKind`. A failed name resolution has no kind of its own in
/// std; it is recognized by the message std gives it ("failed to lookup
/// address information", the wording of every std and tokio resolver error
/// on Unix and Windows): the one place this classifier reads text, and it
/// reads std's own words, not a library's. Everything else — not found,
/// permission denied, invalid data, an unexpected end of file — raises
/// nothing.
pub fn classify_io(error: &io::Error) -> Kinds {
    use io::ErrorKind as K;
    match error.kind() {
        K::ConnectionRefused => ConnectionRefused::ID.into(),
        K::ConnectionReset => ConnectionReset::ID.into(),
        K::ConnectionAborted => ConnectionAborted::ID.into(),
        K::TimedOut => kinds![TimedOut, TransientNetwork],
        K::HostUnreachable => HostUnreachable::ID.into(),
        K::NetworkUnreachable => NetworkUnreachable::ID.into(),
        K::BrokenPipe => BrokenPipe::ID.into(),
        _ if is_resolver_message(error) => DnsFailure::ID.into(),
        _ => Kinds::NONE,
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
            TimedOut::ID,
            TransientNetwork::ID,
            HostUnreachable::ID,
            NetworkUnreachable::ID,
            BrokenPipe::ID,
            DnsFailure::ID,
        ]
    }
}

super::builtin!(io::Error => IoClassifier);
