//! A classifier the user registers for a type takes precedence over the
//! built-in one: here `std::io::Error`, whose built-in classifier raises the
//! network leaves, is registered with a classifier that calls a permission
//! error what it is to this service. Its own crate-wide registration, so a
//! test binary of its own.

use std::io;

use signal_core::classifiers::io::IoClassifier;
use signal_core::vocab::{ConnectionRefused, TransientNetwork};
use signal_core::{ClassifiedBy, Classify, Kind, KindId, Kinds, Signal, kind};

kind! {
    /// The service account lost access to a file.
    pub LostAccess;
}

/// The built-in answers, plus one of ours.
#[derive(Default)]
struct ServiceIo;

impl Classify<io::Error> for ServiceIo {
    fn classify(&self, error: &io::Error) -> Kinds {
        match error.kind() {
            io::ErrorKind::PermissionDenied => LostAccess::ID.into(),
            _ => IoClassifier.classify(error),
        }
    }

    fn kinds(&self) -> Vec<KindId> {
        let mut kinds = IoClassifier.kinds();
        kinds.push(LostAccess::ID);
        kinds
    }
}

impl ClassifiedBy<ServiceIo> for io::Error {}

#[derive(Debug, Signal)]
pub enum FileError {
    Io(#[signal(forward)] io::Error),
}

#[test]
fn test_user_registration_wins_over_builtin() {
    let denied = FileError::Io(io::Error::from(io::ErrorKind::PermissionDenied));
    assert!(denied.has::<LostAccess>());
    assert_eq!(
        denied.trace::<LostAccess>().unwrap().to_string(),
        "FileError::Io → ServiceIo (LostAccess)"
    );
    let refused = FileError::Io(io::Error::from(io::ErrorKind::ConnectionRefused));
    assert!(refused.has::<ConnectionRefused>());
    assert!(!refused.has::<LostAccess>());
    // The built-in classifier alone does not raise it.
    assert!(
        !IoClassifier
            .classify(&io::Error::from(io::ErrorKind::PermissionDenied))
            .implies(LostAccess::ID)
    );
    assert!(!denied.has::<TransientNetwork>());
    let map = signal_core::map::<FileError>();
    assert_eq!(
        map.paths(LostAccess::ID)[0].to_string(),
        "FileError::Io → ServiceIo (LostAccess)"
    );
}

/// Two fields reach the same registered type (its classifier is neither
/// `Clone` nor `Copy`): both read through the registration.
#[derive(Debug, Signal)]
pub enum BatchError {
    Read(#[signal(forward)] io::Error),
    Batch(#[signal(forward)] Vec<io::Error>),
}

#[test]
fn test_two_fields_of_one_registered_type_both_use_the_registration() {
    let denied = || io::Error::from(io::ErrorKind::PermissionDenied);
    assert!(BatchError::Read(denied()).has::<LostAccess>());
    assert!(BatchError::Batch(vec![denied()]).has::<LostAccess>());
    assert_eq!(
        BatchError::Batch(vec![denied()])
            .trace::<LostAccess>()
            .unwrap()
            .to_string(),
        "BatchError::Batch[0] → ServiceIo (LostAccess)"
    );
}

#[test]
fn test_two_fields_of_one_registered_type_raise_nothing_else() {
    let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
    assert!(!BatchError::Read(refused).has::<LostAccess>());
    assert!(!BatchError::Batch(Vec::new()).has::<LostAccess>());
}
