//! The probes' order of precedence, type by type: every type with a
//! built-in classifier probes as built-in (never as type-erased, even where a
//! bound says it is both), a type-erased error as type-erased, and plain data
//! as data. A wrong tier is a compile error of this file (an ambiguity, or a
//! marker of the wrong type), or a wrong answer below.

use std::error::Error;
use std::ops::Deref;

use signal_core::__private::traits::forward::*;
use signal_core::__private::traits::probe::*;
use signal_core::__private::{BuiltinClassified, Lf};
use signal_core::classifiers::Builtin;
use signal_core::{ClassifiedError, NoSignals, Probe, Signal, TypeErasedError};

fn builtin(_: BuiltinClassified) -> &'static str {
    "built-in"
}

fn classified(_: ClassifiedError) -> &'static str {
    "classified"
}

/// Each built-in type, through both probes.
macro_rules! assert_builtin {
    ($($(#[$cfg:meta])* $ty:ty),* $(,)?) => {$(
        $(#[$cfg])*
        {
            assert_eq!(builtin(Lf::<$ty>::new().__signal_leaf()), "built-in", stringify!($ty));
            assert_eq!(classified(Probe::<$ty>::new().__signal_probe()), "classified", stringify!($ty));
        }
    )*};
}

#[test]
fn test_each_builtin_type_probes_as_builtin() {
    assert_builtin!(
        std::io::Error,
        #[cfg(feature = "http")]
        http::StatusCode,
        #[cfg(feature = "hyper")]
        hyper::Error,
        #[cfg(feature = "reqwest")]
        reqwest::Error,
        #[cfg(feature = "reqwest-0-13")]
        reqwest_0_13::Error,
        #[cfg(feature = "deadpool")]
        deadpool_sync::InteractError,
        #[cfg(feature = "rusqlite")]
        rusqlite::Error,
        #[cfg(feature = "tokio")]
        tokio::time::error::Elapsed,
        #[cfg(feature = "tokio")]
        tokio::task::JoinError,
        #[cfg(feature = "tonic")]
        tonic::Status,
        #[cfg(feature = "tonic")]
        tonic::transport::Error,
    );
}

#[test]
fn test_type_erased_and_data_probe_as_such() {
    fn erased(_: TypeErasedError) -> &'static str {
        "erased"
    }
    fn data(_: NoSignals) -> &'static str {
        "data"
    }
    assert_eq!(
        erased(Lf::<Box<dyn Error + Send + Sync>>::new().__signal_leaf()),
        "erased"
    );
    assert_eq!(
        erased(Probe::<Box<dyn Error>>::new().__signal_probe()),
        "erased"
    );
    assert_eq!(data(Lf::<u32>::new().__signal_leaf()), "data");
    assert_eq!(data(Probe::<String>::new().__signal_probe()), "data");
}

/// A type parameter bounded as both built-in and type-erased: the built-in
/// tier wins, as it does for concrete types.
#[allow(dead_code)]
#[derive(Debug, Signal)]
pub struct BothBounds<T>
where
    T: Builtin + Deref<Target = dyn Error + Send + Sync> + Error + Send + Sync + 'static,
{
    #[signal(chain(T))]
    source: Box<dyn Error + Send + Sync>,
    #[signal(skip = "kept for the log")]
    kept: Option<T>,
}

/// The generic body's tier is what this checks, by compiling (no type is
/// both: `Builtin` is sealed).
#[allow(dead_code)]
fn probe_of_both<T: Builtin + Deref<Target = dyn Error + Send + Sync>>() -> &'static str {
    builtin(Lf::<T>::new().__signal_leaf())
}

/// Its shape, through the derived impl (compiled, like the probe above).
#[allow(dead_code)]
fn shape_of_both<T>() -> signal_core::Shape
where
    T: Builtin + Deref<Target = dyn Error + Send + Sync> + Error + Send + Sync + 'static,
{
    BothBounds::<T>::shape()
}
