//! The job queue, in an embedded SQLite database (WAL, `synchronous=FULL`)
//! behind a `deadpool-sqlite` pool.
//!
//! Exactly-once: a job moves `pending → claimed (by a worker) → done` or
//! `→ dead`, and the commit of its result and its move to `done` happen in
//! one transaction guarded by `state = 'claimed' AND claimed_by = worker`. A
//! worker that restarts first finishes the jobs it had claimed.

use std::path::{Path, PathBuf};

use deadpool_sqlite::{Config, Pool, PoolError, Runtime};
use rusqlite::{Connection, params};

use super::errors::{JobId, StorageError};

/// A claimed job.
#[derive(Clone, Debug)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// The credentials it is sent with (`"ok"`, or `"bad"` for a job the
    /// remote will reject).
    pub creds: String,
}

/// What the queue holds, for the final accounting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Jobs enqueued.
    pub jobs: u64,
    /// Distinct jobs with a committed result.
    pub committed: u64,
    /// Committed results beyond the first for the same job.
    pub duplicated: u64,
    /// Jobs neither done nor dead-lettered, or done without a result.
    pub lost: u64,
    /// Jobs dead-lettered.
    pub dead_lettered: u64,
    /// Jobs enqueued with bad credentials.
    pub bad_credentials: u64,
}

/// Opens a pool on the database at `path`.
pub fn open_pool(path: &Path) -> Result<Pool, StorageError> {
    Config::new(path)
        .create_pool(Runtime::Tokio1)
        .map_err(|error| StorageError::Task(error.to_string()))
}

fn storage(error: PoolError) -> StorageError {
    match error {
        PoolError::Closed => StorageError::PoolClosed,
        PoolError::Backend(error) => StorageError::Connect(error),
        other => StorageError::Task(other.to_string()),
    }
}

/// Runs `f` on a pooled connection, with the durability settings applied.
pub async fn with_conn<R: Send + 'static>(
    pool: &Pool,
    f: impl FnOnce(&mut Connection) -> rusqlite::Result<R> + Send + 'static,
) -> Result<R, StorageError> {
    let conn = pool.get().await.map_err(storage)?;
    conn.interact(move |conn| {
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;")?;
        f(conn)
    })
    .await
    .map_err(|error| StorageError::Task(error.to_string()))?
    .map_err(StorageError::Sqlite)
}

/// Creates the schema and enqueues `jobs` jobs; those marked in `bad` carry
/// credentials the remote rejects.
pub fn create(path: &Path, jobs: u64, bad: &[bool]) -> rusqlite::Result<()> {
    let mut conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         CREATE TABLE jobs (
             id INTEGER PRIMARY KEY,
             state TEXT NOT NULL CHECK (state IN ('pending', 'claimed', 'done', 'dead')),
             claimed_by TEXT,
             creds TEXT NOT NULL
         );
         CREATE INDEX jobs_state ON jobs (state, claimed_by);
         -- No UNIQUE constraint: a duplicate commit must be visible, not prevented here.
         CREATE TABLE commits (job_id INTEGER NOT NULL, worker TEXT NOT NULL, result TEXT NOT NULL);",
    )?;
    let tx = conn.transaction()?;
    {
        let mut insert =
            tx.prepare("INSERT INTO jobs (id, state, creds) VALUES (?1, 'pending', ?2)")?;
        for id in 1..=jobs {
            let bad = bad.get(id as usize - 1).copied().unwrap_or(false);
            insert.execute(params![id as i64, if bad { "bad" } else { "ok" }])?;
        }
    }
    tx.commit()
}

/// The jobs `worker` had claimed and not finished (after a restart), or up
/// to `batch` newly claimed pending jobs.
pub async fn claim(pool: &Pool, worker: &str, batch: usize) -> Result<Vec<Job>, StorageError> {
    let worker = worker.to_owned();
    with_conn(pool, move |conn| {
        let read = |row: &rusqlite::Row<'_>| {
            Ok(Job {
                id: JobId(row.get(0)?),
                creds: row.get(1)?,
            })
        };
        let mine: Vec<Job> = conn
            .prepare_cached("SELECT id, creds FROM jobs WHERE state = 'claimed' AND claimed_by = ?1 ORDER BY id")?
            .query_map([&worker], read)?
            .collect::<rusqlite::Result<_>>()?;
        if !mine.is_empty() {
            return Ok(mine);
        }
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let claimed: Vec<Job> = tx
            .prepare_cached(
                "UPDATE jobs SET state = 'claimed', claimed_by = ?1
                 WHERE id IN (SELECT id FROM jobs WHERE state = 'pending' ORDER BY id LIMIT ?2)
                 RETURNING id, creds",
            )?
            .query_map(params![worker, batch as i64], read)?
            .collect::<rusqlite::Result<_>>()?;
        tx.commit()?;
        Ok(claimed)
    })
    .await
}

/// Commits the results of `done` and moves them to `done`, in one
/// transaction. A job no longer claimed by `worker` is not committed again.
/// Returns how many were committed.
pub async fn commit(
    pool: &Pool,
    worker: &str,
    done: Vec<(JobId, String)>,
) -> Result<usize, StorageError> {
    if done.is_empty() {
        return Ok(0);
    }
    let worker = worker.to_owned();
    with_conn(pool, move |conn| {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut committed = 0;
        {
            let mut finish = tx.prepare_cached(
                "UPDATE jobs SET state = 'done' WHERE id = ?1 AND state = 'claimed' AND claimed_by = ?2",
            )?;
            let mut record = tx.prepare_cached("INSERT INTO commits (job_id, worker, result) VALUES (?1, ?2, ?3)")?;
            for (id, result) in &done {
                if finish.execute(params![id.0, worker])? == 1 {
                    record.execute(params![id.0, worker, result])?;
                    committed += 1;
                }
            }
        }
        tx.commit()?;
        Ok(committed)
    })
    .await
}

/// Moves a job to the dead-letter state.
pub async fn dead_letter(pool: &Pool, worker: &str, id: JobId) -> Result<(), StorageError> {
    let worker = worker.to_owned();
    with_conn(pool, move |conn| {
        conn.execute(
            "UPDATE jobs SET state = 'dead' WHERE id = ?1 AND state = 'claimed' AND claimed_by = ?2",
            params![id.0, worker],
        )?;
        Ok(())
    })
    .await
}

/// Jobs not yet done or dead.
pub async fn remaining(pool: &Pool) -> Result<u64, StorageError> {
    with_conn(pool, |conn| {
        conn.query_row(
            "SELECT count(*) FROM jobs WHERE state IN ('pending', 'claimed')",
            [],
            |row| row.get::<_, i64>(0),
        )
    })
    .await
    .map(|n| n as u64)
}

/// The final accounting, read with a fresh connection.
pub fn count(path: &Path) -> rusqlite::Result<Counts> {
    let conn = Connection::open(path)?;
    let one = |sql: &str| {
        conn.query_row(sql, [], |row| row.get::<_, i64>(0))
            .map(|n| n as u64)
    };
    Ok(Counts {
        jobs: one("SELECT count(*) FROM jobs")?,
        committed: one("SELECT count(DISTINCT job_id) FROM commits")?,
        duplicated: one("SELECT count(*) - count(DISTINCT job_id) FROM commits")?,
        lost: one(
            "SELECT count(*) FROM jobs WHERE state IN ('pending', 'claimed')
                OR (state = 'done' AND id NOT IN (SELECT job_id FROM commits))",
        )?,
        dead_lettered: one("SELECT count(*) FROM jobs WHERE state = 'dead'")?,
        bad_credentials: one("SELECT count(*) FROM jobs WHERE creds = 'bad'")?,
    })
}

/// A fresh directory for a run's database.
pub fn run_dir() -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    std::env::temp_dir().join(format!("sync-daemon-{}-{stamp}", std::process::id()))
}
