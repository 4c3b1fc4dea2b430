//! Graceful shutdown on real SQLite: a supervised worker that is in the
//! middle of a transaction when the supervisor shuts down either commits the
//! whole transaction (it observed cancellation in time) or leaves it to be
//! rolled back (it was cut off at the end of the grace period), never half of
//! it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;
use signal_core::Signal;
use signal_runtime::{Policy, RunContext, ShutdownReport, Supervisor, WorkerHandle};

const ROWS_PER_TX: i64 = 5;
const STEP: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error, Signal)]
enum TxError {
    #[error("sqlite")]
    Sqlite(#[signal(forward)] rusqlite::Error),
}

/// A temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "signal-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn create(path: &Path) {
    Connection::open(path)
        .unwrap()
        .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE rows (tx INTEGER, n INTEGER);")
        .unwrap();
}

/// Writes transactions of `ROWS_PER_TX` rows, one row per `STEP`, and checks
/// for cancellation between transactions only. The connection is owned by
/// the run: if the run is cut off mid-transaction, dropping it closes the
/// connection, and SQLite rolls the open transaction back.
async fn write_transactions(ctx: RunContext, path: PathBuf) -> Result<i64, TxError> {
    let conn = Connection::open(&path).map_err(TxError::Sqlite)?;
    let mut tx = 0;
    while !ctx.is_cancelled() {
        tx += 1;
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(TxError::Sqlite)?;
        for n in 0..ROWS_PER_TX {
            conn.execute("INSERT INTO rows VALUES (?1, ?2)", (tx, n))
                .map_err(TxError::Sqlite)?;
            tokio::time::sleep(STEP).await;
        }
        conn.execute_batch("COMMIT").map_err(TxError::Sqlite)?;
    }
    Ok(tx)
}

fn spawn_writer(supervisor: &Supervisor, path: &Path) -> WorkerHandle<i64, TxError> {
    let path = path.to_path_buf();
    supervisor.spawn("writer", Policy::new(), async move |ctx| {
        write_transactions(ctx, path.clone()).await
    })
}

/// (rows, distinct transactions, rows of the most complete transaction,
/// rows of the least complete one).
fn rows(path: &Path) -> (i64, i64, i64, i64) {
    let conn = Connection::open(path).unwrap();
    let total: i64 = conn
        .query_row("SELECT count(*) FROM rows", [], |row| row.get(0))
        .unwrap();
    let (txs, most, least): (i64, Option<i64>, Option<i64>) = conn
        .query_row(
            "SELECT count(*), max(c), min(c) FROM (SELECT count(*) AS c FROM rows GROUP BY tx)",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    (total, txs, most.unwrap_or(0), least.unwrap_or(0))
}

/// Two and a half transactions in (the third is open, with three of its five
/// rows written).
async fn mid_third_transaction() {
    tokio::time::sleep(STEP * (2 * ROWS_PER_TX as u32) + STEP * 5 / 2).await;
}

#[tokio::test(start_paused = true)]
async fn test_a_worker_mid_transaction_commits_it_within_the_grace_period() {
    let dir = TempDir::new("graceful-commit");
    let path = dir.0.join("rows.db");
    create(&path);
    let supervisor = Supervisor::new();
    let writer = spawn_writer(&supervisor, &path);
    mid_third_transaction().await;

    let report = supervisor.shutdown_within(Duration::from_secs(10)).await;

    assert_eq!(
        report,
        ShutdownReport {
            finished: 1,
            aborted: 0
        }
    );
    assert_eq!(writer.join().await.ok(), Some(3));
    assert_eq!(rows(&path), (3 * ROWS_PER_TX, 3, ROWS_PER_TX, ROWS_PER_TX));
}

/// The negative twin: cut off mid-transaction, the open transaction is rolled
/// back whole, and the committed ones stay.
#[tokio::test(start_paused = true)]
async fn test_a_worker_cut_off_mid_transaction_leaves_it_rolled_back() {
    let dir = TempDir::new("graceful-rollback");
    let path = dir.0.join("rows.db");
    create(&path);
    let supervisor = Supervisor::new();
    let writer = spawn_writer(&supervisor, &path);
    mid_third_transaction().await;

    // Less than the rest of the transaction.
    let report = supervisor.shutdown_within(STEP).await;

    assert_eq!(
        report,
        ShutdownReport {
            finished: 0,
            aborted: 1
        }
    );
    assert!(writer.join().await.unwrap_err().is_shutdown());
    assert_eq!(rows(&path), (2 * ROWS_PER_TX, 2, ROWS_PER_TX, ROWS_PER_TX));
}
