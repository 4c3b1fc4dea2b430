//! A gRPC server's pushback as a Retry-After (feature `tonic`).

use std::time::Duration;

use signal_core::wire::tonic::RemoteStatus;

use crate::RetryAfter;

/// A policy that honours Retry-After
/// ([`Policy::honour_retry_after`](crate::Policy::honour_retry_after))
/// waits at least as long as the server's pushback.
impl RetryAfter for RemoteStatus {
    fn retry_after(&self) -> Option<Duration> {
        RemoteStatus::retry_after(self)
    }
}
