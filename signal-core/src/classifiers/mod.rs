//! Built-in classifiers for the foreign errors services see every day.
//!
//! Each module classifies one crate's error types into the
//! [standard vocabulary](crate::vocab). A module is compiled with the
//! feature of the same name (`io` always); with it on, a field of one of its
//! types is classified by plain `#[signal(forward)]`, and a field left
//! without `forward` or `skip` is a compile error, as for any error that
//! carries signals.
//!
//! A classifier you register yourself ([`ClassifiedBy`](crate::ClassifiedBy))
//! takes precedence over the built-in one for the same type, so enabling a
//! feature (perhaps through another crate of your build) never breaks a
//! registration of yours.
//!
//! | feature | types | kinds |
//! |---|---|---|
//! | (always) | `std::io::Error` | network leaves (⇒ `TransientNetwork`), `TimedOut`; a socket's timeout and broken pipe through [`SocketIoClassifier`](io::SocketIoClassifier) |
//! | `rusqlite` | `rusqlite::Error` | `ResourceBusy` |
//! | `http` | `http::StatusCode`; `Retry-After` headers | `BadCredentials`, `PermissionDenied`, `TimedOut`, `RateLimited`, `Unavailable` |
//! | `hyper` | `hyper::Error` | `TimedOut`, `ConnectionReset`, `NeedsReconnect`, `Cancelled`, network leaves |
//! | `reqwest` | `reqwest::Error` of reqwest 0.12 | as `http` for statuses; `TimedOut`; network leaves |
//! | `reqwest-0-13` | `reqwest::Error` of reqwest 0.13 | as `reqwest` |
//! | `tonic` | `tonic::Status`, `tonic::transport::Error` | `Unavailable`, `TimedOut`, `BadCredentials`, `PermissionDenied`, `RateLimited`, `ResourceBusy`, `Cancelled`, network leaves |
//! | `tokio` | `tokio::time::error::Elapsed`, `tokio::task::JoinError` | `TimedOut`; `Panicked`, `Cancelled` |
//! | `deadpool` | `deadpool::managed::PoolError<E>`, `deadpool_sync::InteractError` | `ResourceBusy`, `TimedOut`, `NeedsReconnect`, the backend's kinds; `Panicked`, `Cancelled` |
//!
//! Each module documents what raises what, and what raises nothing.
//!
//! Each feature classifies one major of its crate; when more than one is
//! classified, the feature names the major (`reqwest` is 0.12,
//! `reqwest-0-13` is 0.13). A field of an error type from another major is
//! a type this crate does not know: `#[signal(forward)]` on it does not
//! compile ("`#[signal(forward)]` on a field of type `reqwest::Error`, which
//! cannot carry signals"), so code that moves to an unclassified major stops
//! building at that field; without an attribute, such a field carries
//! nothing, as a field of any unknown type does.

use std::error::Error;

use crate::classify::{Classify, Kinds, chain_of};

#[cfg(feature = "deadpool")]
pub mod deadpool;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "hyper")]
pub mod hyper;
pub mod io;
#[cfg(feature = "reqwest")]
pub mod reqwest;
#[cfg(feature = "reqwest-0-13")]
pub mod reqwest_0_13;
#[cfg(any(feature = "reqwest", feature = "reqwest-0-13"))]
mod reqwest_common;
#[cfg(feature = "rusqlite")]
pub mod rusqlite;
#[cfg(feature = "tokio")]
pub mod tokio;
#[cfg(feature = "tonic")]
pub mod tonic;

/// The kinds an error raises by the built-in classifiers: the union of what
/// they say of each error of its `source()` chain (itself included,
/// [`chain_of`]).
///
/// Every error of a chain states a fact, and the facts add up: a request
/// cancelled because the peer closed the connection is cancelled *and* a
/// reset connection, a timeout whose cause was a refused connection is both.
/// A classifier says nothing it does not know, so no error's kinds need to
/// hide another's; the union is the same whichever error of the chain is
/// asked about first.
///
/// For type-erased errors whose concrete types are the ones this module
/// knows: `chain(...)` fields, a pool's backend error, the source of a
/// `tonic::Status`. Kinds of your own types in the chain are not seen here;
/// list those in `chain(...)`.
///
/// ```
/// use std::io;
/// use signal_core::classifiers::classify_error;
/// use signal_core::vocab::{ConnectionReset, TimedOut};
/// use signal_core::Kind;
///
/// let wrapped = io::Error::other(io::Error::from(io::ErrorKind::ConnectionReset));
/// assert!(classify_error(&wrapped).implies(ConnectionReset::ID));
///
/// let both = io::Error::new(io::ErrorKind::TimedOut, wrapped);
/// assert!(classify_error(&both).implies(TimedOut::ID));
/// assert!(classify_error(&both).implies(ConnectionReset::ID));
/// assert!(classify_error(&std::fmt::Error).is_empty());
/// ```
pub fn classify_error(error: &(dyn Error + 'static)) -> Kinds {
    classify_chain(error, Io::Any)
}

/// [`classify_error`] for the chain under a connection's error (hyper's,
/// reqwest's, tonic's): its I/O errors are a socket's
/// ([`io::classify_socket_io`]).
#[cfg_attr(
    not(any(
        feature = "hyper",
        feature = "reqwest",
        feature = "reqwest-0-13",
        feature = "tonic"
    )),
    allow(dead_code)
)]
pub(crate) fn classify_socket_error(error: &(dyn Error + 'static)) -> Kinds {
    classify_chain(error, Io::Socket)
}

/// What a chain's `std::io::Error`s are known to be.
#[derive(Clone, Copy)]
enum Io {
    Any,
    Socket,
}

fn classify_chain(error: &(dyn Error + 'static), io: Io) -> Kinds {
    chain_of(error).fold(Kinds::NONE, |kinds, error| kinds | classify_one(error, io))
}

fn classify_one(error: &(dyn Error + 'static), io: Io) -> Kinds {
    fn with<T: Error + Builtin + 'static>(error: &(dyn Error + 'static)) -> Option<Kinds> {
        error
            .downcast_ref::<T>()
            .map(|value| T::Classifier::default().classify(value))
    }
    let found = match io {
        Io::Any => with::<std::io::Error>(error),
        Io::Socket => error
            .downcast_ref::<std::io::Error>()
            .map(io::classify_socket_io),
    };
    #[cfg(feature = "rusqlite")]
    let found = found.or_else(|| with::<::rusqlite::Error>(error));
    #[cfg(feature = "hyper")]
    let found = found.or_else(|| with::<::hyper::Error>(error));
    #[cfg(feature = "reqwest")]
    let found = found.or_else(|| with::<::reqwest::Error>(error));
    #[cfg(feature = "reqwest-0-13")]
    let found = found.or_else(|| with::<::reqwest_0_13::Error>(error));
    #[cfg(feature = "tonic")]
    let found = found
        .or_else(|| with::<::tonic::Status>(error))
        .or_else(|| {
            error
                .downcast_ref::<::tonic::TimeoutExpired>()
                .map(|_| <crate::vocab::TimedOut as crate::Kind>::ID.into())
        });
    #[cfg(feature = "tokio")]
    let found = found
        .or_else(|| with::<::tokio::time::error::Elapsed>(error))
        .or_else(|| with::<::tokio::task::JoinError>(error));
    #[cfg(feature = "deadpool")]
    let found = found.or_else(|| with::<::deadpool_sync::InteractError>(error));
    found.unwrap_or(Kinds::NONE)
}

/// The built-in classifier of a foreign type. Implemented by this crate
/// only: register your own with [`ClassifiedBy`](crate::ClassifiedBy).
#[doc(hidden)]
pub trait Builtin: sealed::Sealed {
    /// The classifier.
    type Classifier: crate::Classify<Self> + Default;
}

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// Registers a built-in classifier: `builtin!(io::Error => IoClassifier)`.
macro_rules! builtin {
    ($(<$($param:ident),*>)? $ty:ty => $classifier:ty) => {
        impl $(<$($param),*>)? crate::classifiers::sealed::Sealed for $ty {}
        impl $(<$($param),*>)? crate::classifiers::Builtin for $ty {
            type Classifier = $classifier;
        }
    };
}
pub(crate) use builtin;
