//! `tonic::Status` codes, and `tonic::transport::Error`.
//!
//! | error | kinds |
//! |---|---|
//! | a status whose source is a transport failure (the server was never reached) | what the transport failure raises: a refused or reset connection, a DNS failure, a timeout (its I/O errors as a socket's, [`classify_socket_io`](super::io::classify_socket_io)) |
//! | `UNAVAILABLE` | [`Unavailable`] |
//! | `DEADLINE_EXCEEDED` | [`TimedOut`] |
//! | `UNAUTHENTICATED` | [`BadCredentials`] |
//! | `PERMISSION_DENIED` | [`PermissionDenied`] |
//! | `RESOURCE_EXHAUSTED` | [`RateLimited`] |
//! | `ABORTED` (a conflict with a concurrent change) | [`ResourceBusy`] |
//! | `CANCELLED` | [`Cancelled`] |
//! | any other code (`NOT_FOUND`, `INVALID_ARGUMENT`, `INTERNAL`, ...) | nothing |
//! | `tonic::transport::Error` | what its sources raise |

use alloc::vec::Vec;
use std::error::Error;

use tonic::{Code, Status};

use crate::classify::{Classify, Kinds};
use crate::kind::{Kind, KindId};
use crate::vocab::{
    BadCredentials, Cancelled, PermissionDenied, RateLimited, ResourceBusy, TimedOut, Unavailable,
};

/// The kinds a status code raises (see the [module](self) table).
pub fn classify_code(code: Code) -> Kinds {
    match code {
        Code::Unavailable => Unavailable::ID.into(),
        Code::DeadlineExceeded => TimedOut::ID.into(),
        Code::Unauthenticated => BadCredentials::ID.into(),
        Code::PermissionDenied => PermissionDenied::ID.into(),
        Code::ResourceExhausted => RateLimited::ID.into(),
        Code::Aborted => ResourceBusy::ID.into(),
        Code::Cancelled => Cancelled::ID.into(),
        _ => Kinds::NONE,
    }
}

/// The kinds a status raises: those of the transport failure behind it, if
/// the call never reached the server, or else those of its code.
pub fn classify_status(status: &Status) -> Kinds {
    let below = status.source().map(super::classify_socket_error);
    match below {
        Some(kinds) if !kinds.is_empty() => kinds,
        _ => classify_code(status.code()),
    }
}

/// [`classify_status`] as a classifier type, built in for `tonic::Status`.
#[derive(Clone, Copy, Debug, Default)]
pub struct StatusClassifier;

#[diagnostic::do_not_recommend]
impl Classify<Status> for StatusClassifier {
    fn classify(&self, status: &Status) -> Kinds {
        classify_status(status)
    }

    fn kinds(&self) -> Vec<KindId> {
        let mut kinds = alloc::vec![
            Unavailable::ID,
            TimedOut::ID,
            BadCredentials::ID,
            PermissionDenied::ID,
            RateLimited::ID,
            ResourceBusy::ID,
            Cancelled::ID,
        ];
        kinds.extend(super::io::SocketIoClassifier.kinds());
        kinds
    }
}

/// The classifier of `tonic::transport::Error`: what its sources raise.
#[derive(Clone, Copy, Debug, Default)]
pub struct TransportClassifier;

#[diagnostic::do_not_recommend]
impl Classify<tonic::transport::Error> for TransportClassifier {
    fn classify(&self, error: &tonic::transport::Error) -> Kinds {
        error
            .source()
            .map(super::classify_socket_error)
            .unwrap_or(Kinds::NONE)
    }

    fn kinds(&self) -> Vec<KindId> {
        super::io::SocketIoClassifier.kinds()
    }
}

super::builtin!(Status => StatusClassifier);
super::builtin!(tonic::transport::Error => TransportClassifier);
