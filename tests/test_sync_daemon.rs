//! The main example's scenario, smaller and with a fixed seed: real SQLite,
//! a real flapping remote on 127.0.0.1, real faults. The accounting must
//! balance: nothing lost, nothing duplicated, one pool rebuild per drop
//! however many workers saw it, transient faults never at ERROR, and every
//! job with bad credentials dead-lettered.

use std::sync::OnceLock;
use std::time::Duration;

use signal_workspace::daemon::tally::Tally;
use signal_workspace::daemon::{self, Config};
use tracing_subscriber::layer::SubscriberExt;

/// One global subscriber for this test binary (the daemon runs on many
/// threads); each test reads the difference it made.
fn tally() -> &'static Tally {
    static TALLY: OnceLock<Tally> = OnceLock::new();
    TALLY.get_or_init(|| {
        let tally = Tally::new();
        let subscriber = tracing_subscriber::registry().with(tally.layer());
        tracing::subscriber::set_global_default(subscriber)
            .expect("one subscriber per test binary");
        tally
    })
}

fn config(seed: u64, fault_rate: f64) -> Config {
    Config {
        jobs: 3_000,
        workers: 6,
        fault_rate,
        bad_credentials_rate: 0.01,
        seed,
        batch: 20,
        call_deadline: Duration::from_millis(200),
        max_duration: Duration::from_secs(120),
        progress: false,
        dir: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_faulty_run_balances() {
    let tally = tally();
    let before = tally.counts();
    let report = daemon::run(config(7, 0.02), tally).await.unwrap();
    let events = tally.counts();
    println!("{report}");

    assert!(!report.timed_out, "{report}");
    assert_eq!(report.counts.jobs, 3_000);
    assert_eq!(report.counts.lost, 0, "{report}");
    assert_eq!(report.counts.duplicated, 0, "{report}");
    assert_eq!(
        report.counts.committed + report.counts.dead_lettered,
        3_000,
        "{report}"
    );
    assert_eq!(report.failed_workers, 0, "{report}");

    // Faults happened, and were survived.
    assert!(report.network_faults >= 20, "{report}");
    assert!(report.pool_drops >= 2, "{report}");
    // One rebuild per drop at most, however many workers saw it.
    assert!(report.pool_rebuilds >= 1, "{report}");
    assert!(report.pool_rebuilds <= report.pool_drops, "{report}");
    assert!(
        report.rebuild_requests >= 2 * report.pool_rebuilds,
        "{report}"
    );

    // Transient network failures are retried at WARN, never logged at ERROR.
    assert!(events.retries > before.retries, "{report}");
    assert!(events.warnings > before.warnings);
    assert_eq!(
        events.errors_for_transient, before.errors_for_transient,
        "{events:?}"
    );

    // Every job with bad credentials, and only those, is dead-lettered.
    assert!(report.counts.bad_credentials > 0);
    assert_eq!(
        report.counts.dead_lettered, report.counts.bad_credentials,
        "{report}"
    );
    assert_eq!(
        events.dead_letters - before.dead_letters,
        report.counts.bad_credentials
    );

    let map = std::fs::read_to_string(&report.signal_map).unwrap();
    assert!(map.contains("## NeedsDbReconnect"), "{map}");
    assert!(map.contains("IoClassifier"), "{map}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_run_without_faults_rebuilds_and_retries_nothing() {
    let tally = tally();
    let report = daemon::run(
        Config {
            bad_credentials_rate: 0.0,
            ..config(11, 0.0)
        },
        tally,
    )
    .await
    .unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.counts.committed, 3_000);
    assert_eq!(report.network_faults + report.pool_drops, 0);
    assert_eq!(report.pool_rebuilds, 0, "{report}");
    assert_eq!(report.rebuild_requests, 0, "{report}");
    assert_eq!(report.counts.dead_lettered, 0);
}
