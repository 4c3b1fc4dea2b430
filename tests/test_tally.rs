//! The daemon's event tally: WARN and ERROR events are counted by the kind
//! they name, and the `events:` line says so; other levels are not counted
//! as warnings or errors, and an event without a kind counts as `other`.

use signal_workspace::daemon::tally::Tally;
use tracing_subscriber::layer::SubscriberExt;

fn tally_of(emit: impl FnOnce()) -> Tally {
    let tally = Tally::new();
    let subscriber = tracing_subscriber::registry().with(tally.layer());
    tracing::subscriber::with_default(subscriber, emit);
    tally
}

#[test]
fn test_warnings_and_errors_are_counted_by_kind() {
    let tally = tally_of(|| {
        for _ in 0..3 {
            tracing::warn!(reaction = "retry", kind = "TransientNetwork", "retrying");
        }
        tracing::warn!(reaction = "retry", kind = "DatabaseBusy", "retrying");
        tracing::error!(
            reaction = "rebuild",
            kind = "NeedsDbReconnect",
            "rebuilding"
        );
        tracing::error!(
            outcome = "dead-lettered",
            kind = "BadCredentials",
            "dead-lettered"
        );
        tracing::error!(
            outcome = "dead-lettered",
            kind = "BadCredentials",
            "dead-lettered"
        );
        tracing::warn!("could not remove the run's directory");
    });
    let counts = tally.counts();
    assert_eq!(counts.warnings, 5);
    assert_eq!(counts.errors, 3);
    assert_eq!(counts.retries, 4);
    assert_eq!(counts.dead_letters, 2);
    assert_eq!(counts.errors_for_transient, 0);
    assert_eq!(
        counts.summary(),
        "events: warn=5 (DatabaseBusy 1, TransientNetwork 3, other 1) \
         error=3 (BadCredentials 2, NeedsDbReconnect 1)"
    );
}

#[test]
fn test_other_levels_are_not_warnings_or_errors() {
    let tally = tally_of(|| {
        tracing::info!(worker = "sync-0", "worker recovered; retrying at once");
        tracing::debug!(kind = "TransientNetwork", "a debug event");
        tracing::trace!(kind = "NeedsDbReconnect", "a trace event");
    });
    let counts = tally.counts();
    assert_eq!((counts.warnings, counts.errors), (0, 0));
    assert_eq!(counts.summary(), "events: warn=0 error=0");
}

#[test]
fn test_a_transient_kind_at_error_is_counted_as_a_misclassification() {
    let tally = tally_of(|| {
        tracing::error!(reaction = "stop", kind = "ConnectionReset", "stopped");
        tracing::error!(reaction = "stop", kind = "BadCredentials", "stopped");
    });
    let counts = tally.counts();
    assert_eq!(counts.errors_for_transient, 1);
    assert_eq!(
        counts.summary(),
        "events: warn=0 error=2 (BadCredentials 1, ConnectionReset 1)"
    );
}
