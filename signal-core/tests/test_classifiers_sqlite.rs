//! The built-in classifiers of `rusqlite`, `deadpool` and the pool crate on
//! top of them, against a real SQLite database: locked by another
//! connection, a constraint violation, a pool closed under its user, a pool
//! with every connection in use, a panicking blocking closure. Each positive
//! case next to a negative twin.

use std::path::{Path, PathBuf};
use std::time::Duration;

use deadpool_sqlite::{Config, Pool, PoolError, Runtime};
use signal_core::vocab::{
    Cancelled, NeedsReconnect, NeverSent, Panicked, ResourceBusy, TimedOut, TransientNetwork,
};
use signal_core::{Kind, Signal, map};

#[derive(Debug, Signal)]
pub enum StoreError {
    Sqlite(#[signal(forward)] rusqlite::Error),
    Pool(#[signal(forward)] PoolError),
    Interact(#[signal(forward)] deadpool_sqlite::InteractError),
}

/// A database file in a directory of its own, removed on drop.
struct TempDb {
    dir: PathBuf,
}

impl TempDb {
    fn new(name: &str) -> TempDb {
        let dir =
            std::env::temp_dir().join(format!("signal-classifiers-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDb { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.join("test.db")
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn open(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(Duration::ZERO).unwrap();
    conn
}

#[test]
fn test_database_locked_by_another_connection_is_busy() {
    let db = TempDb::new("locked");
    let holder = open(&db.path());
    holder
        .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY); BEGIN EXCLUSIVE;")
        .unwrap();
    let other = open(&db.path());
    let error = StoreError::Sqlite(other.execute("INSERT INTO t VALUES (1)", []).unwrap_err());
    assert!(error.has::<ResourceBusy>(), "{error:?}");
    assert_eq!(
        error.trace::<ResourceBusy>().unwrap().to_string(),
        "StoreError::Sqlite → RusqliteClassifier (ResourceBusy)"
    );
    assert!(!error.has::<TransientNetwork>());
    // The twin of a checkout timeout: the statement reached the database.
    assert!(!error.has::<NeverSent>());

    // The twin: once the lock is released, the same statement succeeds.
    holder.execute_batch("COMMIT").unwrap();
    other.execute("INSERT INTO t VALUES (1)", []).unwrap();
}

#[test]
fn test_constraint_violation_is_not_busy() {
    let db = TempDb::new("constraint");
    let conn = open(&db.path());
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);")
        .unwrap();
    let error = StoreError::Sqlite(conn.execute("INSERT INTO t VALUES (1)", []).unwrap_err());
    assert_eq!(
        error_code(&error),
        Some(rusqlite::ErrorCode::ConstraintViolation)
    );
    assert!(!error.has::<ResourceBusy>());
    assert!(error.trace::<ResourceBusy>().is_none());
    let syntax = StoreError::Sqlite(conn.execute("INSERT INTO", []).unwrap_err());
    assert!(!syntax.has::<ResourceBusy>());
}

fn error_code(error: &StoreError) -> Option<rusqlite::ErrorCode> {
    match error {
        StoreError::Sqlite(e) => e.sqlite_error_code(),
        _ => None,
    }
}

fn pool(path: &Path, max_size: usize, wait: Option<Duration>) -> Pool {
    Config::new(path)
        .builder(Runtime::Tokio1)
        .unwrap()
        .max_size(max_size)
        .wait_timeout(wait)
        .build()
        .unwrap()
}

#[tokio::test]
async fn test_pool_closed_under_its_user_needs_reconnect() {
    let db = TempDb::new("closed");
    let pool = pool(&db.path(), 2, None);
    // The twin first: an open pool hands out a working connection.
    let conn = pool.get().await.unwrap();
    let one: i64 = conn
        .interact(|c| c.query_row("SELECT 1", [], |row| row.get(0)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one, 1);
    drop(conn);

    pool.close();
    let error = StoreError::Pool(pool.get().await.unwrap_err());
    assert!(error.has::<NeedsReconnect>(), "{error:?}");
    assert!(error.has::<NeverSent>());
    assert!(!error.has::<ResourceBusy>());
    assert_eq!(
        error.trace::<NeedsReconnect>().unwrap().to_string(),
        "StoreError::Pool → PoolErrorClassifier (NeedsReconnect)"
    );
}

#[tokio::test]
async fn test_pool_with_every_connection_in_use_is_busy() {
    let db = TempDb::new("exhausted");
    let pool = pool(&db.path(), 1, Some(Duration::from_millis(50)));
    let held = pool.get().await.unwrap();
    let error = StoreError::Pool(pool.get().await.unwrap_err());
    assert!(error.has::<ResourceBusy>(), "{error:?}");
    assert!(error.has::<TimedOut>());
    assert!(!error.has::<NeedsReconnect>());
    // No connection was handed out: the query never left.
    assert!(error.has::<NeverSent>());
    // The twin: with the connection back, the pool hands it out again.
    drop(held);
    assert!(pool.get().await.is_ok());
}

#[tokio::test]
async fn test_pool_backend_errors_are_classified_by_their_own_classifier() {
    let db = TempDb::new("backend");
    let holder = open(&db.path());
    holder
        .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY); BEGIN EXCLUSIVE;")
        .unwrap();
    let busy = open(&db.path())
        .execute("INSERT INTO t VALUES (1)", [])
        .unwrap_err();
    let error = StoreError::Pool(PoolError::Backend(busy));
    assert!(error.has::<ResourceBusy>(), "{error:?}");
    assert!(!error.has::<NeedsReconnect>());

    // The twin: a backend error that is not busy (a database that cannot be
    // opened) raises nothing.
    let missing = db.dir.join("no-such-dir").join("x.db");
    let pool = pool(&missing, 1, None);
    let error = StoreError::Pool(pool.get().await.unwrap_err());
    assert!(
        matches!(error, StoreError::Pool(PoolError::Backend(_))),
        "{error:?}"
    );
    assert!(!error.has::<ResourceBusy>());
    assert!(!error.has::<NeedsReconnect>());
}

#[tokio::test]
async fn test_panicking_blocking_closure_is_panicked() {
    let db = TempDb::new("panic");
    let pool = pool(&db.path(), 1, None);
    let conn = pool.get().await.unwrap();
    let error = StoreError::Interact(
        conn.interact(|_| -> () { panic!("bug in a query") })
            .await
            .unwrap_err(),
    );
    assert!(error.has::<Panicked>());
    assert!(!error.has::<Cancelled>());
    assert!(!error.has::<ResourceBusy>());
}

#[test]
fn test_map_lists_the_builtin_classifiers() {
    let map = map::<StoreError>();
    let busy: Vec<String> = map
        .paths(ResourceBusy::ID)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        busy,
        [
            "StoreError::Sqlite → RusqliteClassifier (ResourceBusy)",
            "StoreError::Pool → PoolErrorClassifier (ResourceBusy)",
        ]
    );
    assert!(map.paths(TransientNetwork::ID).is_empty());
}
