//! Standard network kinds, and a classifier for `std::io::Error`.
//!
//! Precise leaves, each implying [`TransientNetwork`]: a supervisor asks
//! "is this a transient network failure?" and gets `true` for any of them,
//! while logs and traces name the precise cause. There is deliberately no
//! vague "temporary" kind: Go deprecated `net.Error.Temporary()` because
//! nobody could say what it meant.
//!
//! ```
//! use std::io;
//! use signal_core::net::{self, ConnectionRefused, TransientNetwork};
//! use signal_core::Kind;
//!
//! let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
//! assert_eq!(net::classify_io(&refused), Some(ConnectionRefused::ID));
//! assert!(ConnectionRefused::ID.implies(TransientNetwork::ID));
//!
//! let denied = io::Error::from(io::ErrorKind::PermissionDenied);
//! assert_eq!(net::classify_io(&denied), None);
//! ```

use alloc::vec::Vec;
use std::io;

use crate::classify::{ClassifiedBy, Classify, Kinds};
use crate::kind::{Kind, KindId};

crate::kind! {
    /// A network failure that says nothing about the request or the
    /// credentials: the same call may succeed once the network recovers.
    /// Retry with backoff, log at WARN, and never blame a token for it.
    pub TransientNetwork;
    /// The peer refused the connection (nothing listening, or a firewall
    /// reject).
    pub ConnectionRefused: TransientNetwork;
    /// The peer reset an established connection.
    pub ConnectionReset: TransientNetwork;
    /// The connection was aborted on this side (for example by the local
    /// network stack).
    pub ConnectionAborted: TransientNetwork;
    /// An operation's deadline passed: a dial, a read, or a whole request.
    pub TimedOut: TransientNetwork;
    /// The remote host cannot be reached.
    pub HostUnreachable: TransientNetwork;
    /// The network the host is on cannot be reached.
    pub NetworkUnreachable: TransientNetwork;
    /// Writing to a connection the peer has closed.
    pub BrokenPipe: TransientNetwork;
    /// A name could not be resolved: the resolver failed or timed out (for
    /// example right after a laptop wakes up).
    pub DnsFailure: TransientNetwork;
}

/// The precise network leaf an I/O error raises, or `None`.
///
/// Reads `io::ErrorKind`. A failed name resolution has no kind of its own in
/// std; it is recognized by the message std gives it ("failed to lookup
/// address information", the wording of every std and tokio resolver error
/// on Unix and Windows): the one place this classifier reads text, and it
/// reads std's own words, not a library's. Everything else — not found,
/// permission denied, invalid data — raises nothing.
pub fn classify_io(error: &io::Error) -> Option<KindId> {
    use io::ErrorKind as K;
    let kind = match error.kind() {
        K::ConnectionRefused => ConnectionRefused::ID,
        K::ConnectionReset => ConnectionReset::ID,
        K::ConnectionAborted => ConnectionAborted::ID,
        K::TimedOut => TimedOut::ID,
        K::HostUnreachable => HostUnreachable::ID,
        K::NetworkUnreachable => NetworkUnreachable::ID,
        K::BrokenPipe => BrokenPipe::ID,
        _ if is_resolver_message(error) => DnsFailure::ID,
        _ => return None,
    };
    Some(kind)
}

fn is_resolver_message(error: &io::Error) -> bool {
    error
        .to_string()
        .starts_with("failed to lookup address information")
}

/// [`classify_io`] as a classifier type, which also tells signal maps every
/// kind it may return.
///
/// It is registered for `std::io::Error` ([`ClassifiedBy`]): a field of that
/// type must be forwarded or skipped, and plain `#[signal(forward)]` on it
/// classifies it with `IoClassifier`.
#[derive(Clone, Copy, Debug, Default)]
pub struct IoClassifier;

// Not offered as a fix when another classifier does not fit: the compiler's
// suggestion would point into this crate's sources.
#[diagnostic::do_not_recommend]
impl Classify<io::Error> for IoClassifier {
    fn classify(&self, error: &io::Error) -> Kinds {
        classify_io(error).into()
    }

    fn kinds(&self) -> Vec<KindId> {
        alloc::vec![
            ConnectionRefused::ID,
            ConnectionReset::ID,
            ConnectionAborted::ID,
            TimedOut::ID,
            HostUnreachable::ID,
            NetworkUnreachable::ID,
            BrokenPipe::ID,
            DnsFailure::ID,
        ]
    }
}

impl ClassifiedBy<IoClassifier> for io::Error {}
