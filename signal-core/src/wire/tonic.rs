//! Kinds in gRPC statuses: the [`HEADER`] metadata entry of a
//! `tonic::Status`.
//!
//! On the server, [`WireKinds::attach`] adds the kinds an error raised to
//! the status it answers with; on the client, [`RemoteStatus::decode`] reads
//! them back with the kinds accepted from that server, into an error that
//! carries both the status's own classification and the remote kinds.

use core::fmt;
use core::ops::ControlFlow;
use core::time::Duration;

use tonic::Status;
use tonic::metadata::MetadataValue;

use super::{HEADER, RemoteKinds, WireError, WireKinds};
use crate::classifiers::tonic::classify_status;
use crate::signal::Signal;
use crate::trace::{Step, Walker};

/// The metadata key of gRPC's server pushback: how many milliseconds the
/// client should wait before retrying (gRPC's retry design, A6). A negative
/// or malformed value means "do not retry on my account" and is read as no
/// hint.
pub const PUSHBACK: &str = "grpc-retry-pushback-ms";

/// The longest pushback accepted: a longer one is read as this. A server
/// cannot park a caller for a day.
pub const MAX_PUSHBACK: Duration = Duration::from_secs(3600);

/// Asks the caller to wait `after` before retrying ([`PUSHBACK`], in whole
/// milliseconds), replacing any earlier value.
pub fn set_retry_after(status: &mut Status, after: Duration) {
    let millis = after.as_millis().min(u128::from(u64::MAX)).to_string();
    if let Ok(value) = MetadataValue::try_from(millis.as_str()) {
        status.metadata_mut().insert(PUSHBACK, value);
    }
}

/// The wait a status asks for ([`PUSHBACK`]): `None` when there is none, or
/// it is negative, repeated with different values or not a number; at most
/// [`MAX_PUSHBACK`].
pub fn retry_after(status: &Status) -> Option<Duration> {
    let mut values = status.metadata().get_all(PUSHBACK).iter();
    let first = values.next()?;
    if values.any(|other| other != first) {
        return None;
    }
    let text = first.to_str().ok()?.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wait = text
        .parse::<u64>()
        .map(Duration::from_millis)
        .unwrap_or(MAX_PUSHBACK);
    Some(wait.min(MAX_PUSHBACK))
}

impl WireKinds {
    /// Adds to `status` the kinds of this set that `error` raises (replacing
    /// any earlier entry); adds nothing when it raises none.
    pub fn attach(&self, status: &mut Status, error: &(impl Signal + ?Sized)) {
        let value = self.encode(error);
        let metadata = status.metadata_mut();
        metadata.remove(HEADER);
        if value.is_empty() {
            return;
        }
        // The names are checked ASCII, so the value is always valid.
        if let Ok(value) = MetadataValue::try_from(value.as_str()) {
            metadata.insert(HEADER, value);
        }
    }

    /// The kinds a status's [`HEADER`] names, as far as this set accepts
    /// them; an empty set when there is none.
    pub fn decode_status(&self, status: &Status) -> Result<RemoteKinds, WireError> {
        self.decode_all(
            status
                .metadata()
                .get_all(HEADER)
                .iter()
                .map(|value| value.as_bytes()),
        )
    }
}

/// A status from a remote, with the kinds it named.
///
/// Implements [`Signal`]: it raises what the status itself raises (its code,
/// or the transport failure behind it: [`classifiers::tonic`](crate::classifiers::tonic))
/// and the remote kinds this side accepted.
#[derive(Debug)]
pub struct RemoteStatus {
    /// The status.
    pub status: Status,
    /// The kinds the remote named, as far as they were accepted.
    pub kinds: RemoteKinds,
}

impl RemoteStatus {
    /// Reads the kinds of `status` with the set accepted from its sender.
    /// On a malformed entry, the error and the status are both returned:
    /// the call failed either way, and the status is still worth logging.
    #[allow(clippy::result_large_err)]
    pub fn decode(
        status: Status,
        accepted: &WireKinds,
    ) -> Result<RemoteStatus, (Status, WireError)> {
        match accepted.decode_status(&status) {
            Ok(kinds) => Ok(RemoteStatus { status, kinds }),
            Err(error) => Err((status, error)),
        }
    }

    /// The wait the status asks for before a retry ([`retry_after`]).
    pub fn retry_after(&self) -> Option<Duration> {
        retry_after(&self.status)
    }

    /// The status with no remote kinds, for a status whose entry could not
    /// be read: only its code is trusted.
    pub fn without_kinds(status: Status) -> RemoteStatus {
        RemoteStatus {
            status,
            kinds: RemoteKinds::default(),
        }
    }
}

impl Signal for RemoteStatus {
    fn walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
        walker.enter(
            Step::Node(super::node("RemoteStatus", Some("status"))),
            |walker| {
                crate::__private::walk_kinds(
                    walker,
                    "StatusClassifier",
                    classify_status(&self.status),
                )
            },
        )?;
        walker.enter(
            Step::Node(super::node("RemoteStatus", Some("kinds"))),
            |walker| self.kinds.walk(walker),
        )
    }
}

impl fmt::Display for RemoteStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status.code(), self.status.message())?;
        if !self.kinds.kinds().is_empty() || !self.kinds.unknown().is_empty() {
            write!(f, " ({})", self.kinds)?;
        }
        Ok(())
    }
}

impl std::error::Error for RemoteStatus {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.status)
    }
}
