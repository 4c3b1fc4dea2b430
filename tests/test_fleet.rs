//! The fleet over loopback: a real tonic server and client on 127.0.0.1,
//! the client's supervisor reacting to the kinds the server names. Each
//! case checks the accounting (nothing lost or acknowledged twice) and which
//! kinds the client saw, with a fault-free twin, and sweeps worker counts
//! and fault loads up to one under which nothing succeeds.

use std::time::Duration;

use signal_workspace::fleet::{Faults, Report, run};

const NO_FAULTS: Faults = Faults {
    pool_every: 0,
    pool_down: 0,
    timeout_every: 0,
};

fn assert_accounted(report: &Report) {
    assert_eq!(report.lost, 0, "{report}");
    assert_eq!(report.duplicated, 0, "{report}");
    assert_eq!(report.done + report.pending, report.jobs, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_client_backs_off_on_server_kinds_and_stops_on_bad_credentials() {
    let faults = Faults {
        pool_every: 20,
        pool_down: 3,
        timeout_every: 13,
    };
    let report = run(400, 4, faults, Duration::from_secs(60)).await.unwrap();
    assert_accounted(&report);
    assert_eq!(report.done, 400, "{report}");
    assert_eq!(report.stopped, 1, "only the stolen token stops: {report}");
    assert_eq!(report.failures_by_kind.get("BadCredentials"), Some(&1));
    assert!(
        report.failures_by_kind["fleet.db-reconnect"] > 0,
        "{report}"
    );
    assert!(report.failures_by_kind["TimedOut"] > 0, "{report}");
    assert!(report.retries > 0);
    assert!(!report.failures_by_kind.contains_key("(none)"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_without_faults_only_the_stolen_token_fails() {
    let report = run(200, 4, NO_FAULTS, Duration::from_secs(60))
        .await
        .unwrap();
    assert_accounted(&report);
    assert_eq!(report.done, 200);
    assert_eq!(report.retries, 0, "{report}");
    assert_eq!(report.stopped, 1);
    assert_eq!(report.failures_by_kind.len(), 1, "{report}");
    // Bad credentials never count against the store; nothing is retried.
    assert_eq!(
        (
            report.breaker_opened,
            report.fast_failed,
            report.budget_refused
        ),
        (0, 0, 0),
        "{report}"
    );
    assert!(
        report
            .to_string()
            .contains("breaker_opened=0 fast_failed=0 budget_refused=0"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_worker_counts_and_fault_loads() {
    // The heaviest load fails three calls in four (a pool drop every fourth
    // call, down for the next two, and a timeout every third).
    for (workers, pool_every, timeout_every) in [(1, 10, 7), (32, 10, 7), (8, 4, 3)] {
        let faults = Faults {
            pool_every,
            pool_down: 2,
            timeout_every,
        };
        let report = run(150, workers, faults, Duration::from_secs(60))
            .await
            .unwrap();
        assert_accounted(&report);
        assert_eq!(report.done, 150, "{workers} workers, {faults:?}: {report}");
        assert_eq!(report.stopped, 1, "{report}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_a_load_under_which_nothing_succeeds_ends_at_the_limit() {
    // The pool drops every second call and stays down for three, so almost
    // no call succeeds: the first call, and one more if the stolen token's
    // call (refused before the pool is looked at) takes an even number and
    // leaves a gap. (The server decides each call by its number under one
    // lock, so concurrent calls cannot open another gap.) The run must end
    // at its limit with every job accounted for, not hang.
    let faults = Faults {
        pool_every: 2,
        pool_down: 3,
        timeout_every: 0,
    };
    let report = run(50, 4, faults, Duration::from_secs(2)).await.unwrap();
    assert_accounted(&report);
    assert!(report.pending > 0, "{report}");
    assert!(report.done <= 2, "{report}");
    // A pool that is always down opens the calls' breaker, which then fails
    // calls fast.
    assert!(report.breaker_opened > 0, "{report}");
    assert!(report.fast_failed > 0, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_client_waits_for_the_servers_pushback() {
    use signal_core::wire::tonic::RemoteStatus;
    use signal_runtime::RetryAfter;
    use signal_workspace::fleet::{CallError, POOL_PUSHBACK};

    // A status carrying the pushback, as the store server answers while its
    // pool is down, is read by the call's error, which the policy asks.
    let mut status = tonic::Status::unavailable("pool down");
    signal_core::wire::tonic::set_retry_after(&mut status, POOL_PUSHBACK);
    let error = CallError::Remote(RemoteStatus::without_kinds(status));
    assert_eq!(error.retry_after(), Some(POOL_PUSHBACK));
    let plain = CallError::Remote(RemoteStatus::without_kinds(tonic::Status::unavailable("x")));
    assert_eq!(plain.retry_after(), None);
}
