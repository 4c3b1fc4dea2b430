//! tokio's errors: an elapsed timeout, and a task that panicked or was
//! cancelled.

use alloc::vec::Vec;

use tokio::task::JoinError;
use tokio::time::error::Elapsed;

use crate::classify::{Classify, Kinds};
use crate::kind::{Kind, KindId};
use crate::vocab::{Cancelled, Panicked, TimedOut};

/// The kinds a join error raises: [`Panicked`] or [`Cancelled`].
pub fn classify_join_error(error: &JoinError) -> Kinds {
    if error.is_panic() {
        Panicked::ID.into()
    } else if error.is_cancelled() {
        Cancelled::ID.into()
    } else {
        Kinds::NONE
    }
}

/// The classifier of `tokio::time::error::Elapsed`: always [`TimedOut`]
/// (not [`TransientNetwork`](crate::vocab::TransientNetwork): the future
/// that ran out of time may not touch the network at all).
#[derive(Clone, Copy, Debug, Default)]
pub struct ElapsedClassifier;

#[diagnostic::do_not_recommend]
impl Classify<Elapsed> for ElapsedClassifier {
    fn classify(&self, _: &Elapsed) -> Kinds {
        TimedOut::ID.into()
    }

    fn kinds(&self) -> Vec<KindId> {
        alloc::vec![TimedOut::ID]
    }
}

/// [`classify_join_error`] as a classifier type, built in for
/// `tokio::task::JoinError`.
#[derive(Clone, Copy, Debug, Default)]
pub struct JoinErrorClassifier;

#[diagnostic::do_not_recommend]
impl Classify<JoinError> for JoinErrorClassifier {
    fn classify(&self, error: &JoinError) -> Kinds {
        classify_join_error(error)
    }

    fn kinds(&self) -> Vec<KindId> {
        alloc::vec![Panicked::ID, Cancelled::ID]
    }
}

super::builtin!(Elapsed => ElapsedClassifier);
super::builtin!(JoinError => JoinErrorClassifier);
