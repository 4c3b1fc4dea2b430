//! Foreign errors: the registered classifier of `std::io::Error` behind plain
//! `forward`, a user's registered classifier, classifiers that return several
//! kinds, and `only(...)` / `except(...)` on `forward_with` and `chain`. Each
//! positive case sits next to a negative twin.

use std::io;
use std::sync::Arc;

use signal_core::classifiers::io::IoClassifier;
use signal_core::vocab::{ConnectionRefused, NeverSent, TimedOut, TransientNetwork};
use signal_core::{
    ClassifiedBy, Classify, Kind, KindId, Kinds, Signal, StaticStep, kind, kinds, map,
};

kind! {
    /// Trying again later may succeed.
    pub Retryable;
    /// The connection must be rebuilt first.
    pub NeedsReconnect;
    /// The storage is busy.
    pub StorageBusy: Retryable;
}

/// A storage driver's error, from a crate we do not own.
mod driver {
    #[derive(Debug)]
    pub enum Error {
        Closed,
        Busy,
        Corrupt,
    }
}

/// One classifier for the driver, registered once: `Closed` is both "rebuild
/// the connection" and "retryable", `Busy` is retryable, `Corrupt` is
/// neither.
#[derive(Default)]
pub struct DriverClassifier;

impl Classify<driver::Error> for DriverClassifier {
    fn classify(&self, error: &driver::Error) -> Kinds {
        match error {
            driver::Error::Closed => kinds![NeedsReconnect, Retryable],
            driver::Error::Busy => StorageBusy::ID.into(),
            driver::Error::Corrupt => Kinds::NONE,
        }
    }

    fn kinds(&self) -> Vec<KindId> {
        vec![NeedsReconnect::ID, Retryable::ID, StorageBusy::ID]
    }
}

impl ClassifiedBy<DriverClassifier> for driver::Error {}

fn classify_driver(error: &driver::Error) -> Kinds {
    DriverClassifier.classify(error)
}

#[derive(Debug, Signal)]
pub enum StoreError {
    /// Plain `forward`: the registered `DriverClassifier`.
    Driver(#[signal(forward)] driver::Error),
    /// Plain `forward` on `std::io::Error`: the built-in `IoClassifier`.
    Io(#[signal(forward)] io::Error),
    /// Inside containers, too.
    Shared(#[signal(forward)] Option<Arc<io::Error>>),
    Batch(#[signal(forward)] Vec<(u64, driver::Error)>),
    /// A filter on `forward_with`: only the reconnect question.
    ReconnectOnly(#[signal(forward_with = "classify_driver", only(NeedsReconnect))] driver::Error),
    /// A filter on `chain`: everything but retryable.
    NotRetryable(
        #[signal(chain(driver_error::Wrapped), except(Retryable))]
        Box<dyn std::error::Error + Send + Sync>,
    ),
}

mod driver_error {
    /// A foreign error wrapped as a std error, for the chain case.
    #[derive(Debug)]
    pub struct Wrapped(pub super::driver::Error);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "driver: {:?}", self.0)
        }
    }

    impl std::error::Error for Wrapped {}

    #[derive(Default)]
    pub struct WrappedClassifier;

    impl signal_core::Classify<Wrapped> for WrappedClassifier {
        fn classify(&self, error: &Wrapped) -> signal_core::Kinds {
            super::DriverClassifier.classify(&error.0)
        }
    }

    impl signal_core::ClassifiedBy<WrappedClassifier> for Wrapped {}
}

#[test]
fn test_forward_uses_the_registered_classifier() {
    let closed = StoreError::Driver(driver::Error::Closed);
    assert!(closed.has::<NeedsReconnect>());
    assert!(closed.has::<Retryable>());
    assert!(!closed.has::<StorageBusy>());
    let busy = StoreError::Driver(driver::Error::Busy);
    assert!(busy.has::<Retryable>());
    assert!(busy.has::<StorageBusy>());
    assert!(!busy.has::<NeedsReconnect>());
}

#[test]
fn test_forward_registered_classifier_negative_twin() {
    let corrupt = StoreError::Driver(driver::Error::Corrupt);
    assert!(!corrupt.has::<NeedsReconnect>());
    assert!(!corrupt.has::<Retryable>());
    assert!(corrupt.trace::<Retryable>().is_none());
}

#[test]
fn test_forward_on_io_error_uses_io_classifier() {
    let refused = StoreError::Io(io::Error::from(io::ErrorKind::ConnectionRefused));
    assert!(refused.has::<ConnectionRefused>());
    assert!(refused.has::<TransientNetwork>());
    assert_eq!(
        refused.trace::<TransientNetwork>().unwrap().to_string(),
        "StoreError::Io → IoClassifier (ConnectionRefused ⇒ TransientNetwork)"
    );
}

#[test]
fn test_forward_on_io_error_negative_twin() {
    let denied = StoreError::Io(io::Error::from(io::ErrorKind::PermissionDenied));
    assert!(!denied.has::<TransientNetwork>());
    assert!(!denied.has::<Retryable>());
}

/// A refused connection and a failed name resolution say the request
/// never left; a reset, a broken pipe or a timeout say it may have been
/// processed.
#[test]
fn test_refused_and_dns_failures_were_never_sent() {
    let refused = StoreError::Io(io::Error::from(io::ErrorKind::ConnectionRefused));
    assert!(refused.has::<NeverSent>());
    assert_eq!(
        refused.trace::<NeverSent>().unwrap().to_string(),
        "StoreError::Io → IoClassifier (ConnectionRefused ⇒ NeverSent)"
    );
    let dns = StoreError::Io(io::Error::other(
        "failed to lookup address information: Name or service not known",
    ));
    assert!(dns.has::<NeverSent>() && dns.has::<TransientNetwork>());
    assert!(signal_core::vocab::DnsFailure::implies::<NeverSent>());
}

#[test]
fn test_resets_and_timeouts_may_have_been_processed() {
    for kind in [
        io::ErrorKind::ConnectionReset,
        io::ErrorKind::ConnectionAborted,
        io::ErrorKind::BrokenPipe,
        io::ErrorKind::TimedOut,
        io::ErrorKind::UnexpectedEof,
    ] {
        let error = StoreError::Io(io::Error::from(kind));
        assert!(!error.has::<NeverSent>(), "{kind:?}");
    }
    // Still a network failure, only not a safe one to repeat.
    let reset = StoreError::Io(io::Error::from(io::ErrorKind::ConnectionReset));
    assert!(reset.has::<TransientNetwork>());
}

#[test]
fn test_forward_through_containers_of_classified_errors() {
    let shared = StoreError::Shared(Some(Arc::new(io::Error::from(io::ErrorKind::TimedOut))));
    assert!(shared.has::<TimedOut>());
    assert!(!StoreError::Shared(None).has::<TimedOut>());
    let shared_benign =
        StoreError::Shared(Some(Arc::new(io::Error::from(io::ErrorKind::NotFound))));
    assert!(!shared_benign.has::<TimedOut>());

    let batch = StoreError::Batch(vec![(1, driver::Error::Corrupt), (2, driver::Error::Busy)]);
    assert!(batch.has::<StorageBusy>());
    assert_eq!(
        batch.trace::<StorageBusy>().unwrap().to_string(),
        "StoreError::Batch[1].1 → DriverClassifier (StorageBusy)"
    );
    let clean = StoreError::Batch(vec![(1, driver::Error::Corrupt)]);
    assert!(!clean.has::<StorageBusy>());
}

#[test]
fn test_multi_kind_classifier_traces_each_question() {
    let closed = StoreError::Driver(driver::Error::Closed);
    assert_eq!(
        closed.trace::<NeedsReconnect>().unwrap().to_string(),
        "StoreError::Driver → DriverClassifier (NeedsReconnect)"
    );
    assert_eq!(
        closed.trace::<Retryable>().unwrap().to_string(),
        "StoreError::Driver → DriverClassifier (Retryable)"
    );
    assert_eq!(closed.traces::<Retryable>().len(), 1);
}

#[test]
fn test_only_on_forward_with() {
    let closed = StoreError::ReconnectOnly(driver::Error::Closed);
    assert!(closed.has::<NeedsReconnect>());
    assert!(closed.has_kind(NeedsReconnect::ID));
    // Held back: the classifier says retryable, the filter does not ask.
    assert!(!closed.has::<Retryable>());
    assert!(!closed.has_kind(Retryable::ID));
    assert!(closed.trace::<Retryable>().is_none());
}

#[test]
fn test_except_on_chain() {
    let wrapped: Box<dyn std::error::Error + Send + Sync> =
        Box::new(driver_error::Wrapped(driver::Error::Closed));
    let error = StoreError::NotRetryable(wrapped);
    assert!(error.has::<NeedsReconnect>());
    assert!(error.trace::<NeedsReconnect>().is_some());
    assert!(!error.has::<Retryable>());
    assert!(error.trace::<Retryable>().is_none());
}

#[test]
fn test_map_shows_every_kind_a_classifier_may_return() {
    let map = map::<StoreError>();
    let reconnect: Vec<String> = map
        .paths(NeedsReconnect::ID)
        .iter()
        .map(|path| path.to_string())
        .collect();
    assert!(
        reconnect
            .iter()
            .any(|path| path.contains("StoreError::Driver → DriverClassifier")),
        "{reconnect:?}"
    );
    // The filtered field appears for reconnect, and is held back for retry.
    assert!(
        reconnect.iter().any(|path| path.contains("ReconnectOnly")),
        "{reconnect:?}"
    );
    let retry: Vec<String> = map
        .paths(Retryable::ID)
        .iter()
        .map(|path| path.to_string())
        .collect();
    assert!(
        !retry.iter().any(|path| path.contains("ReconnectOnly")),
        "{retry:?}"
    );
    let io_kinds = IoClassifier.kinds();
    assert!(io_kinds.contains(&ConnectionRefused::ID));
    let io_paths = map.paths(TransientNetwork::ID);
    assert!(
        io_paths
            .iter()
            .any(|path| path.steps.contains(&StaticStep::Classifier("IoClassifier"))),
        "{io_paths:?}"
    );
}

#[test]
fn test_kinds_values() {
    let two = kinds![NeedsReconnect, Retryable];
    assert_eq!(two.as_slice(), &[NeedsReconnect::ID, Retryable::ID]);
    assert!(two.implies(Retryable::ID));
    assert!(!two.implies(StorageBusy::ID));
    assert!(Kinds::NONE.is_empty());
    assert_eq!(
        Kinds::from(Some(StorageBusy::ID)),
        Kinds::one(StorageBusy::ID)
    );
    assert!(Kinds::from(Some(StorageBusy::ID)).implies(Retryable::ID));
    assert_eq!(Kinds::from(None::<KindId>), Kinds::NONE);
}
