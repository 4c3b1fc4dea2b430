//! The main example's scenario, smaller and with a fixed seed: real SQLite,
//! a real flapping remote on 127.0.0.1, real faults. The accounting must
//! balance: nothing lost, nothing duplicated, one pool rebuild per drop
//! however many workers saw it, transient faults never at ERROR, and every
//! job with bad credentials dead-lettered. The deadline stops a run with its
//! work `pending`, not lost.

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
        grace: Duration::from_secs(2),
        accounting_timeout: Duration::from_secs(10),
        progress: false,
        dir: None,
        keep: false,
    }
}

/// Removes a kept run directory when the test ends, passed or failed.
struct Cleanup(std::path::PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_faulty_run_balances() {
    let tally = tally();
    let before = tally.counts();
    let kept = Config {
        keep: true,
        ..config(7, 0.02)
    };
    let report = daemon::run(kept, tally).await.unwrap();
    let _cleanup = Cleanup(report.dir.clone());
    let events = tally.counts();
    println!("{report}");

    assert!(!report.timed_out(), "{report}");
    assert_eq!(report.exit_code(), 0, "{report}");
    let counts = report.counts.expect("the accounting finished");
    assert_eq!(counts.jobs, 3_000);
    assert_eq!(counts.pending, 0, "{report}");
    assert_eq!(counts.lost, 0, "{report}");
    assert_eq!(counts.duplicated, 0, "{report}");
    assert_eq!(counts.committed + counts.dead_lettered, 3_000, "{report}");
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
    assert!(counts.bad_credentials > 0);
    assert_eq!(counts.dead_lettered, counts.bad_credentials, "{report}");
    assert_eq!(
        events.dead_letters - before.dead_letters,
        counts.bad_credentials
    );

    // --keep: the directory and the signal map outlive the run.
    assert!(report.dir.join("jobs.db").exists());
    let map = std::fs::read_to_string(report.signal_map.as_ref().unwrap()).unwrap();
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
    let counts = report.counts.unwrap();
    assert_eq!(counts.committed, 3_000);
    assert_eq!(report.network_faults + report.pool_drops, 0);
    assert_eq!(report.pool_rebuilds, 0, "{report}");
    assert_eq!(report.rebuild_requests, 0, "{report}");
    assert_eq!(counts.dead_lettered, 0);
    // Without `dir` or `keep`, the temporary directory is gone.
    assert!(report.signal_map.is_none());
    assert!(
        !report.dir.exists(),
        "{} was left behind",
        report.dir.display()
    );
}

/// The deadline bounds the run: workers stop, the rest is `pending` (not
/// lost), and the exit status says work remains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_deadline_stops_the_run_and_reports_pending_work() {
    let tally = tally();
    let started = std::time::Instant::now();
    let report = daemon::run(
        Config {
            jobs: 50_000,
            max_duration: Duration::from_millis(1_500),
            // No dead letters: the other tests count theirs in the shared tally.
            bad_credentials_rate: 0.0,
            ..config(5, 0.02)
        },
        tally,
    )
    .await
    .unwrap();
    let took = started.elapsed();
    println!("{report} (returned after {took:?})");
    assert!(report.timed_out(), "{report}");
    let counts = report.counts.expect("the accounting finished");
    assert!(counts.pending > 0, "{report}");
    assert_eq!(counts.lost, 0, "{report}");
    assert_eq!(counts.duplicated, 0, "{report}");
    assert_eq!(
        counts.committed + counts.dead_lettered + counts.pending,
        50_000,
        "{report}"
    );
    assert_eq!(report.exit_code(), 3, "{report}");
    assert!(report.to_string().contains(" pending="), "{report}");
    // A hang guard, not a timing target: deadline, grace and accounting.
    assert!(took < Duration::from_secs(60), "{took:?}");
    assert!(!report.dir.exists());
}
