//! deadpool's errors: a pool that cannot hand out a connection, and a
//! blocking closure that panicked.
//!
//! | error | kinds |
//! |---|---|
//! | `PoolError::Timeout(Wait)`: every object stayed in use | [`ResourceBusy`], [`TimedOut`], [`NeverSent`] |
//! | `PoolError::Timeout(Create \| Recycle)` | [`TimedOut`], [`NeverSent`] |
//! | `PoolError::Closed` | [`NeedsReconnect`], [`NeverSent`] |
//!
//! Every one of these is a checkout that failed: no connection was handed
//! out, so the request was never sent ([`NeverSent`]).
//! | `PoolError::Backend(e)`, `PostCreateHook(Backend(e))` | the built-in classification of `e` and its sources ([`classify_error`](super::classify_error)) |
//! | `PoolError::NoRuntimeSpecified`, a hook's message | nothing |
//! | `InteractError::Panic` | [`Panicked`] |
//! | `InteractError::Cancelled` | [`Cancelled`] |
//!
//! A backend error of your own that derives `Signal` is not reached through
//! `PoolError`: classify such a pool error with a `forward_with` function
//! that forwards its `Backend` variant.

use alloc::vec::Vec;
use std::error::Error;

use deadpool::managed::{HookError, PoolError, TimeoutType};
use deadpool_sync::InteractError;

use crate::classify::{Classify, Kinds};
use crate::kind::{Kind, KindId};
use crate::kinds;
use crate::vocab::{Cancelled, NeedsReconnect, NeverSent, Panicked, ResourceBusy, TimedOut};

/// The kinds a pool error raises (see the [module](self) table).
pub fn classify_pool_error<E: Error + 'static>(error: &PoolError<E>) -> Kinds {
    match error {
        PoolError::Timeout(TimeoutType::Wait) => kinds![ResourceBusy, TimedOut, NeverSent],
        PoolError::Timeout(_) => kinds![TimedOut, NeverSent],
        PoolError::Closed => kinds![NeedsReconnect, NeverSent],
        PoolError::Backend(backend) | PoolError::PostCreateHook(HookError::Backend(backend)) => {
            super::classify_error(backend)
        }
        _ => Kinds::NONE,
    }
}

/// [`classify_pool_error`] as a classifier type, built in for
/// `deadpool::managed::PoolError<E>` (and so for the pool errors of
/// `deadpool-sqlite`, `deadpool-postgres`, ...).
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolErrorClassifier;

#[diagnostic::do_not_recommend]
impl<E: Error + 'static> Classify<PoolError<E>> for PoolErrorClassifier {
    fn classify(&self, error: &PoolError<E>) -> Kinds {
        classify_pool_error(error)
    }

    fn kinds(&self) -> Vec<KindId> {
        alloc::vec![
            ResourceBusy::ID,
            TimedOut::ID,
            NeedsReconnect::ID,
            NeverSent::ID
        ]
    }
}

/// The kinds an `interact` error raises: [`Panicked`] or [`Cancelled`].
pub fn classify_interact_error(error: &InteractError) -> Kinds {
    match error {
        InteractError::Panic(_) => Panicked::ID.into(),
        InteractError::Cancelled => Cancelled::ID.into(),
    }
}

/// [`classify_interact_error`] as a classifier type, built in for
/// `deadpool_sync::InteractError`.
#[derive(Clone, Copy, Debug, Default)]
pub struct InteractErrorClassifier;

#[diagnostic::do_not_recommend]
impl Classify<InteractError> for InteractErrorClassifier {
    fn classify(&self, error: &InteractError) -> Kinds {
        classify_interact_error(error)
    }

    fn kinds(&self) -> Vec<KindId> {
        alloc::vec![Panicked::ID, Cancelled::ID]
    }
}

impl<E: Error + 'static> super::sealed::Sealed for PoolError<E> {}
impl<E: Error + 'static> super::Builtin for PoolError<E> {
    type Classifier = PoolErrorClassifier;
}
super::builtin!(InteractError => InteractErrorClassifier);
