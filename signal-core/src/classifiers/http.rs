//! HTTP status codes, and the `Retry-After` header.
//!
//! | status | kinds |
//! |---|---|
//! | 401 Unauthorized | [`BadCredentials`] |
//! | 403 Forbidden | [`PermissionDenied`] |
//! | 408 Request Timeout | [`TimedOut`] |
//! | 429 Too Many Requests | [`RateLimited`] |
//! | 502 Bad Gateway, 503 Service Unavailable | [`Unavailable`] |
//! | 504 Gateway Timeout | [`TimedOut`], [`Unavailable`] |
//! | anything else (404, 409, 500, ...) | nothing |
//!
//! A 500 says only that the server failed; whether retrying helps is not a
//! fact the status carries, so it raises nothing.
//!
//! ```
//! use signal_core::classifiers::http::classify_status;
//! use signal_core::vocab::{BadCredentials, RateLimited, TransientNetwork};
//! use signal_core::Kind;
//!
//! assert!(classify_status(http::StatusCode::TOO_MANY_REQUESTS).implies(RateLimited::ID));
//! assert!(classify_status(http::StatusCode::UNAUTHORIZED).implies(BadCredentials::ID));
//! assert!(!classify_status(http::StatusCode::UNAUTHORIZED).implies(TransientNetwork::ID));
//! assert!(classify_status(http::StatusCode::NOT_FOUND).is_empty());
//! ```

use alloc::vec::Vec;
use core::time::Duration;
use std::time::SystemTime;

use http::{HeaderMap, StatusCode};

use crate::classify::{Classify, Kinds};
use crate::kind::{Kind, KindId};
use crate::kinds;
use crate::vocab::{BadCredentials, PermissionDenied, RateLimited, TimedOut, Unavailable};

/// The kinds a response status raises (see the [module](self) table).
pub fn classify_status(status: StatusCode) -> Kinds {
    match status.as_u16() {
        401 => BadCredentials::ID.into(),
        403 => PermissionDenied::ID.into(),
        408 => TimedOut::ID.into(),
        429 => RateLimited::ID.into(),
        502 | 503 => Unavailable::ID.into(),
        504 => kinds![TimedOut, Unavailable],
        _ => Kinds::NONE,
    }
}

/// [`classify_status`] as a classifier type, built in for
/// `http::StatusCode`: an error that keeps a response's status in a field
/// must forward or skip it.
#[derive(Clone, Copy, Debug, Default)]
pub struct StatusClassifier;

#[diagnostic::do_not_recommend]
impl Classify<StatusCode> for StatusClassifier {
    fn classify(&self, status: &StatusCode) -> Kinds {
        classify_status(*status)
    }

    fn kinds(&self) -> Vec<KindId> {
        alloc::vec![
            BadCredentials::ID,
            PermissionDenied::ID,
            TimedOut::ID,
            RateLimited::ID,
            Unavailable::ID,
        ]
    }
}

super::builtin!(StatusCode => StatusClassifier);

/// The longest `Retry-After` accepted: a longer one (or a date further
/// away) is read as this. A peer cannot park a caller for a day.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// How long the peer asked the caller to wait, from a `Retry-After` header:
/// a number of seconds (`Retry-After: 120`) or an HTTP date (`Retry-After:
/// Wed, 21 Oct 2026 07:28:00 GMT`), measured from now. A date in the past is
/// zero; more than [`MAX_RETRY_AFTER`] is capped to it. `None` when the
/// header is missing, repeated with different values, or malformed — never
/// a panic.
///
/// ```
/// use std::time::Duration;
/// use http::{HeaderMap, HeaderValue, header::RETRY_AFTER};
/// use signal_core::classifiers::http::retry_after;
///
/// let mut headers = HeaderMap::new();
/// headers.insert(RETRY_AFTER, HeaderValue::from_static("2"));
/// assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
///
/// headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
/// assert_eq!(retry_after(&headers), None);
/// ```
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_at(headers, SystemTime::now())
}

/// [`retry_after`] measured from `now`.
pub fn retry_after_at(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let mut values = headers.get_all(http::header::RETRY_AFTER).iter();
    let first = values.next()?;
    if values.any(|other| other != first) {
        return None;
    }
    let text = first.to_str().ok()?.trim();
    let wait = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is still "very long".
        text.parse::<u64>()
            .map(Duration::from_secs)
            .unwrap_or(MAX_RETRY_AFTER)
    } else {
        let at = httpdate::parse_http_date(text).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}
