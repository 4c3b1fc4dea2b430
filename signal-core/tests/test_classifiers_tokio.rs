//! The built-in classifiers of tokio's errors, with real ones: an expired
//! timeout, a panicked task and an aborted task, each next to a negative
//! twin.

use std::time::Duration;

use signal_core::vocab::{Cancelled, Panicked, TimedOut, TransientNetwork};
use signal_core::{Signal, kind};
use tokio::task::JoinError;
use tokio::time::error::Elapsed;

kind! {
    /// Our policy: a timeout is worth another try.
    pub Retryable: includes(TimedOut);
}

#[derive(Debug, Signal)]
pub enum TaskError {
    Timeout(#[signal(forward)] Elapsed),
    Join(#[signal(forward)] JoinError),
}

#[tokio::test(start_paused = true)]
async fn test_elapsed_timeout_is_timed_out_not_network() {
    let error = TaskError::Timeout(
        tokio::time::timeout(Duration::from_millis(10), std::future::pending::<()>())
            .await
            .unwrap_err(),
    );
    assert!(error.has::<TimedOut>());
    assert!(error.has::<Retryable>());
    assert!(!error.has::<TransientNetwork>());
    assert_eq!(
        error.trace::<Retryable>().unwrap().to_string(),
        "TaskError::Timeout → ElapsedClassifier (TimedOut ⇒ Retryable)"
    );
    // The twin: a future that finishes in time gives no error.
    assert!(
        tokio::time::timeout(Duration::from_millis(10), async {})
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn test_panicked_task_is_panicked() {
    let error = TaskError::Join(tokio::spawn(async { panic!("bug") }).await.unwrap_err());
    assert!(error.has::<Panicked>());
    assert!(!error.has::<Cancelled>());
    assert!(!error.has::<Retryable>());
}

#[tokio::test]
async fn test_aborted_task_is_cancelled() {
    let task = tokio::spawn(std::future::pending::<()>());
    task.abort();
    let error = TaskError::Join(task.await.unwrap_err());
    assert!(error.has::<Cancelled>());
    assert!(!error.has::<Panicked>());
    // The twin: a task that finishes joins without error.
    assert_eq!(tokio::spawn(async { 7 }).await.unwrap(), 7);
}
