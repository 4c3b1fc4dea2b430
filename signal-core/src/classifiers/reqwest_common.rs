//! The classifier of `reqwest::Error`, one for each major of reqwest
//! (`reqwest` 0.12, `reqwest_0_13` 0.13): their errors answer the same
//! questions with the same methods.

/// Defines `classify_reqwest` and `ReqwestClassifier` for the reqwest crate
/// named, and registers the classifier as built in.
macro_rules! reqwest_classifier {
    ($reqwest:ident) => {
        use alloc::vec::Vec;

        use $crate::classify::{Classify, Kinds};
        use $crate::kind::{Kind, KindId};
        use $crate::kinds;
        use $crate::vocab::{NeverSent, TimedOut, TransientNetwork};

        /// The kinds a reqwest error raises (see the [module](self) table).
        pub fn classify_reqwest(error: &$reqwest::Error) -> Kinds {
            if let Some(status) = error.status() {
                return $crate::classifiers::http::classify_status(status);
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
                    .map($crate::classifiers::classify_socket_error)
                    .unwrap_or(Kinds::NONE);
                return never_sent(below);
            }
            if error.is_request() {
                return std::error::Error::source(error)
                    .map($crate::classifiers::classify_socket_error)
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
        impl Classify<$reqwest::Error> for ReqwestClassifier {
            fn classify(&self, error: &$reqwest::Error) -> Kinds {
                classify_reqwest(error)
            }

            fn kinds(&self) -> Vec<KindId> {
                let mut kinds = $crate::classifiers::http::StatusClassifier.kinds();
                kinds.extend($crate::classifiers::hyper::HyperClassifier.kinds());
                kinds.push(NeverSent::ID);
                kinds
            }
        }

        $crate::classifiers::builtin!($reqwest::Error => ReqwestClassifier);
    };
}
pub(crate) use reqwest_classifier;
