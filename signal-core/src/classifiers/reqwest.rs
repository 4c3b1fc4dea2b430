//! `reqwest::Error`: statuses, timeouts and connection failures.
//!
//! | error | kinds |
//! |---|---|
//! | an error status (`error_for_status`) | as [`http::StatusCode`](super::http) |
//! | a timeout while connecting | [`TimedOut`], [`TransientNetwork`], [`NeverSent`] |
//! | another timeout | [`TimedOut`] |
//! | a connect failure (`is_connect()`: no connection, so nothing was sent) | what its sources raise (a refused connection, a DNS failure: a socket's [`std::io::Error`](super::io)), and [`NeverSent`] |
//! | a request failure | what its sources raise: a reset connection, a connection closed early ([`hyper::Error`](super::hyper)); never [`NeverSent`] on its own, since the request may have been written |
//! | a builder, redirect, body or decode error | nothing |

use alloc::vec::Vec;

use crate::classify::{Classify, Kinds};
use crate::kind::{Kind, KindId};
use crate::kinds;
use crate::vocab::{NeverSent, TimedOut, TransientNetwork};

/// The kinds a reqwest error raises (see the [module](self) table).
pub fn classify_reqwest(error: &reqwest::Error) -> Kinds {
    if let Some(status) = error.status() {
        return super::http::classify_status(status);
    }
    if error.is_timeout() {
        return if error.is_connect() {
            kinds![TimedOut, TransientNetwork, NeverSent]
        } else {
            TimedOut::ID.into()
        };
    }
    if error.is_connect() {
        // No connection was made: whatever the cause below, the request did
        // not leave.
        let below = std::error::Error::source(error)
            .map(super::classify_socket_error)
            .unwrap_or(Kinds::NONE);
        return never_sent(below);
    }
    if error.is_request() {
        return std::error::Error::source(error)
            .map(super::classify_socket_error)
            .unwrap_or(Kinds::NONE);
    }
    Kinds::NONE
}

/// `below`, the kinds of a failed connect's cause, with [`NeverSent`].
fn never_sent(below: Kinds) -> Kinds {
    below | NeverSent::ID
}

/// [`classify_reqwest`] as a classifier type, built in for `reqwest::Error`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReqwestClassifier;

#[diagnostic::do_not_recommend]
impl Classify<reqwest::Error> for ReqwestClassifier {
    fn classify(&self, error: &reqwest::Error) -> Kinds {
        classify_reqwest(error)
    }

    fn kinds(&self) -> Vec<KindId> {
        let mut kinds = super::http::StatusClassifier.kinds();
        kinds.extend(super::hyper::HyperClassifier.kinds());
        kinds.push(NeverSent::ID);
        kinds
    }
}

super::builtin!(reqwest::Error => ReqwestClassifier);
