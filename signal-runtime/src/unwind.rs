//! Catching panics in the code the runtime calls on a worker's behalf.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The message of a panic's payload (`"Box<dyn Any>"` when it is not a
/// string).
pub(crate) fn panic_message(payload: Box<dyn Any + Send>) -> Arc<str> {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        Arc::from(*message)
    } else if let Some(message) = payload.downcast_ref::<String>() {
        Arc::from(message.as_str())
    } else {
        Arc::from("Box<dyn Any>")
    }
}

/// Calls `f`, turning a panic into its message.
pub(crate) fn call<R>(f: impl FnOnce() -> R) -> Result<R, Arc<str>> {
    catch_unwind(AssertUnwindSafe(f)).map_err(panic_message)
}

pin_project_lite::pin_project! {
    /// A future whose panics become its output's `Err`.
    pub(crate) struct Caught<F> {
        #[pin]
        inner: F,
    }
}

/// Runs `fut`, turning a panic in any of its polls into its message.
pub(crate) fn caught<F: Future>(fut: F) -> Caught<F> {
    Caught { inner: fut }
}

impl<F: Future> Future for Caught<F> {
    type Output = Result<F::Output, Arc<str>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.project().inner;
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(payload) => Poll::Ready(Err(panic_message(payload))),
        }
    }
}
