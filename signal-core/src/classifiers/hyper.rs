//! `hyper::Error`: connections closed, reset or timed out, and requests
//! cancelled.
//!
//! | error | kinds |
//! |---|---|
//! | `is_timeout()` | [`TimedOut`] |
//! | `is_incomplete_message()`: the peer closed the connection before the whole message | [`ConnectionReset`] (never [`NeverSent`](crate::vocab::NeverSent): the request may have been written and processed) |
//! | `is_closed()`: the connection was already closed | [`NeedsReconnect`] |
//! | `is_canceled()`: the request was cancelled before it was written (its connection went away, or was not ready) | [`Cancelled`], and what its source raises: a peer's close is [`ConnectionReset`] |
//! | an I/O error underneath | as a socket's [`std::io::Error`](super::io) (a timeout is [`TransientNetwork`](crate::vocab::TransientNetwork) too) |
//! | a parse error, a user error, anything else | nothing |
//!
//! Each row's kinds come with what the error's sources raise.

use alloc::vec::Vec;
use std::error::Error;

use crate::classify::{Classify, Kinds};
use crate::kind::{Kind, KindId};
use crate::vocab::{Cancelled, ConnectionReset, NeedsReconnect, TimedOut};

/// The kinds a hyper error raises (see the [module](self) table): its own
/// fact, with what its sources raise.
pub fn classify_hyper(error: &hyper::Error) -> Kinds {
    let own = if error.is_timeout() {
        TimedOut::ID.into()
    } else if error.is_incomplete_message() {
        ConnectionReset::ID.into()
    } else if error.is_closed() {
        NeedsReconnect::ID.into()
    } else if error.is_canceled() {
        Cancelled::ID.into()
    } else {
        Kinds::NONE
    };
    // A cancellation caused by the connection's failure (the peer closed it
    // while a request waited: `Canceled` with an `IncompleteMessage`
    // source), an I/O error below (reset, broken pipe): the sources' facts
    // are facts of this error too.
    own | error
        .source()
        .map(super::classify_socket_error)
        .unwrap_or(Kinds::NONE)
}

/// [`classify_hyper`] as a classifier type, built in for `hyper::Error`.
#[derive(Clone, Copy, Debug, Default)]
pub struct HyperClassifier;

#[diagnostic::do_not_recommend]
impl Classify<hyper::Error> for HyperClassifier {
    fn classify(&self, error: &hyper::Error) -> Kinds {
        classify_hyper(error)
    }

    fn kinds(&self) -> Vec<KindId> {
        let mut kinds = alloc::vec![
            TimedOut::ID,
            ConnectionReset::ID,
            NeedsReconnect::ID,
            Cancelled::ID
        ];
        kinds.extend(super::io::SocketIoClassifier.kinds());
        kinds
    }
}

super::builtin!(hyper::Error => HyperClassifier);
