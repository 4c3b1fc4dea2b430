//! `reqwest::Error`: statuses, timeouts and connection failures.
//!
//! | error | kinds |
//! |---|---|
//! | an error status (`error_for_status`) | as [`http::StatusCode`](super::http) |
//! | a timeout while connecting | [`TimedOut`], [`TransientNetwork`] |
//! | another timeout | [`TimedOut`] |
//! | a connect or request failure | what its sources raise: a refused or reset connection, a DNS failure ([`std::io::Error`](super::io)), a connection closed early ([`hyper::Error`](super::hyper)) |
//! | a builder, redirect, body or decode error | nothing |

use alloc::vec::Vec;

use crate::classify::{Classify, Kinds};
use crate::kind::{Kind, KindId};
use crate::kinds;
use crate::vocab::{TimedOut, TransientNetwork};

/// The kinds a reqwest error raises (see the [module](self) table).
pub fn classify_reqwest(error: &reqwest::Error) -> Kinds {
    if let Some(status) = error.status() {
        return super::http::classify_status(status);
    }
    if error.is_timeout() {
        return if error.is_connect() {
            kinds![TimedOut, TransientNetwork]
        } else {
            TimedOut::ID.into()
        };
    }
    if error.is_connect() || error.is_request() {
        return std::error::Error::source(error)
            .map(super::classify_error)
            .unwrap_or(Kinds::NONE);
    }
    Kinds::NONE
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
        kinds
    }
}

super::builtin!(reqwest::Error => ReqwestClassifier);
