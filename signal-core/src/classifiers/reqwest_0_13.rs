//! `reqwest::Error` of reqwest 0.13 (feature `reqwest-0-13`; the `reqwest`
//! feature classifies 0.12): statuses, timeouts and connection failures,
//! the same facts as for 0.12.
//!
//! Depend on it under its own name, or under `reqwest`: the classifier is
//! for the type, whatever your crate calls it.
//!
//! | error | kinds |
//! |---|---|
//! | an error status (`error_for_status`) | as [`http::StatusCode`](super::http) |
//! | a timeout while connecting | [`TimedOut`], [`TransientNetwork`], [`NeverSent`] |
//! | another timeout | [`TimedOut`] |
//! | a connect failure (`is_connect()`: no connection, so nothing was sent) | what its sources raise (a refused connection, a DNS failure: a socket's [`std::io::Error`](super::io)), and [`NeverSent`] |
//! | a request failure | what its sources raise: a reset connection, a connection closed early ([`hyper::Error`](super::hyper)); never [`NeverSent`] on its own, since the request may have been written |
//! | a builder, redirect, body or decode error | nothing |

super::reqwest_common::reqwest_classifier!(reqwest_0_13);
