//! The standard vocabulary: kinds for the facts every service asks about its
//! errors.
//!
//! Each kind names *what happened*, never what to do about it: whether a
//! timeout is worth a retry, or a busy database worth a page, is your
//! policy's decision. Declare your policy's kinds and let them include these
//! ([`kind!`](crate::kind!) with `includes(...)`):
//!
//! ```
//! use signal_core::vocab::{RateLimited, ResourceBusy, TimedOut, TransientNetwork, Unavailable};
//!
//! signal_core::kind! {
//!     /// Trying the same call again later may succeed.
//!     pub Retryable: includes(TransientNetwork, TimedOut, RateLimited, Unavailable, ResourceBusy);
//! }
//! ```
//!
//! The built-in [classifiers](crate::classifiers) raise these kinds for the
//! errors of `std::io` and, behind features, of rusqlite, http, hyper,
//! reqwest, tonic, tokio and deadpool. Classify your own foreign errors with
//! them too, so that one policy covers every source.
//!
//! The network leaves are precise and each implies [`TransientNetwork`]: a
//! supervisor asks one question and the trace still names the cause. The
//! ones that prove the request never left this side also imply
//! [`NeverSent`], the fact a non-idempotent call may be retried on. There
//! is deliberately no vague "temporary" kind: Go deprecated
//! `net.Error.Temporary()` because nobody could say what it meant.

crate::kind! {
    /// A failure of the network path to a peer, which says nothing about the
    /// request or the credentials: the same call may succeed once the
    /// network recovers.
    ///
    /// Raised through its precise leaves ([`ConnectionRefused`],
    /// [`ConnectionReset`], [`DnsFailure`], ...). Not raised when the peer
    /// answered, even with an error ([`Unavailable`], [`RateLimited`],
    /// [`BadCredentials`]), nor for a deadline on its own ([`TimedOut`]).
    /// Never blame a token for it.
    pub TransientNetwork;
    /// The request never left this side, so the peer cannot have processed
    /// it: the connection was refused, the host name did not resolve, no
    /// pooled connection could be had in time. Retrying is then safe even
    /// for a call that is not idempotent (a `POST` that charges a card).
    ///
    /// Raised by the precise causes that prove it ([`ConnectionRefused`],
    /// [`DnsFailure`], a pool checkout that timed out, a client's connect
    /// failure). Never raised once the request may have been written: a
    /// connection reset or closed before the answer ([`ConnectionReset`]),
    /// a timeout while waiting for the answer ([`TimedOut`]) or an error
    /// status say it *may* have been processed.
    pub NeverSent;
    /// The peer refused the connection: nothing listens on the port, or a
    /// firewall rejects it. Common while a peer restarts. Nothing was sent
    /// ([`NeverSent`]).
    pub ConnectionRefused: TransientNetwork + NeverSent;
    /// The peer reset an established connection, or closed it before
    /// answering (a crashed or restarting server, an idle connection dropped
    /// by a proxy).
    pub ConnectionReset: TransientNetwork;
    /// The connection was aborted on this side, for example by the local
    /// network stack.
    pub ConnectionAborted: TransientNetwork;
    /// The remote host cannot be reached (no route to it).
    pub HostUnreachable: TransientNetwork;
    /// The network the host is on cannot be reached.
    pub NetworkUnreachable: TransientNetwork;
    /// Writing to a connection the peer has already closed.
    pub BrokenPipe: TransientNetwork;
    /// A host name could not be resolved: the resolver failed or timed out
    /// (for example right after a laptop wakes up). Not raised for a name
    /// that does not exist when the resolver says so for certain — which
    /// std cannot tell apart, so the io classifier raises it for both.
    /// Nothing was sent ([`NeverSent`]).
    pub DnsFailure: TransientNetwork + NeverSent;
    /// A deadline passed before the operation finished: a dial, a read, a
    /// whole request, a query, a wait for a pooled connection. Whether the
    /// operation took effect is unknown.
    ///
    /// On its own it does not imply [`TransientNetwork`]: a timeout around
    /// a database query is not a network failure. An `io::ErrorKind::TimedOut`
    /// raises it alone (a disk or a pipe times out too); a socket's, under
    /// a connection's error or through
    /// [`SocketIoClassifier`](crate::classifiers::io::SocketIoClassifier),
    /// raises both.
    pub TimedOut;
    /// The peer asked the caller to slow down: HTTP 429, gRPC
    /// `RESOURCE_EXHAUSTED`. Retry later, after the peer's `Retry-After`
    /// when it sent one; never at once.
    pub RateLimited;
    /// The peer was reached but cannot serve for now: HTTP 502 and 503,
    /// gRPC `UNAVAILABLE`, a server shutting down. Not raised when the peer
    /// could not be reached at all ([`TransientNetwork`]).
    pub Unavailable;
    /// The credentials were missing, expired or rejected: HTTP 401, gRPC
    /// `UNAUTHENTICATED`. Retrying with the same credentials will fail
    /// again; never raised for a network failure, a timeout or a refused
    /// permission ([`PermissionDenied`]).
    pub BadCredentials;
    /// The caller is known but not allowed to do this: HTTP 403, gRPC
    /// `PERMISSION_DENIED`. New credentials for the same principal will not
    /// help.
    pub PermissionDenied;
    /// A shared resource is held by someone else for now: a database busy or
    /// locked by another connection, a pool with every connection in use.
    /// The same call may succeed shortly. Not raised for a constraint
    /// violation or other error in the request itself.
    pub ResourceBusy;
    /// A connection, channel or pool is unusable and must be opened again
    /// before another call can succeed: a closed pool, a connection the
    /// client already closed. A reset seen on one call is a
    /// [`ConnectionReset`]; this kind says the handle itself is dead.
    pub NeedsReconnect;
    /// The operation was cancelled before it finished: an aborted task, a
    /// request the caller dropped, gRPC `CANCELLED`. Usually part of a
    /// shutdown, not a fault.
    pub Cancelled;
    /// The code doing the operation panicked (a task, a blocking closure):
    /// a bug, not a condition of the environment.
    pub Panicked;
}
