//! The job queue, in an embedded SQLite database (WAL, `synchronous=FULL`)
//! behind a `deadpool-sqlite` pool.
//!
//! Exactly-once: a job moves `pending → claimed (by a worker) → done` or
//! `→ dead`, and the commit of its result and its move to `done` happen in
//! one transaction guarded by `state = 'claimed' AND claimed_by = worker`. A
//! worker that restarts first finishes the jobs it had claimed.
//!
//! The queue survives the process: jobs are enqueued once per database (the
//! `meta` table records it, in the same transaction), and a run that starts
//! on an existing database first hands the jobs a dead run had claimed back
//! to the queue ([`prepare`]). Only one process may use a database at a time
//! ([`lock_dir`]), so at start-up no claim can belong to a live worker.

use std::fs::File;
use std::path::{Path, PathBuf};

use deadpool_sqlite::{Config, Pool, PoolError, Runtime};
use rusqlite::{Connection, TransactionBehavior, params};

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

/// What happened to a processed job, waiting to be committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The remote's result, to be committed and the job moved to `done`.
    Done(String),
    /// The remote rejected the job's credentials: move it to `dead`. Holds
    /// the trace of the rejection, for the log.
    Dead(String),
}

/// What one [`finish`] transaction did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Finished {
    /// Results committed (jobs moved to `done`).
    pub committed: usize,
    /// Jobs moved to `dead`, with the trace of their rejection.
    pub dead: Vec<(JobId, String)>,
}

/// What the queue holds, for the final accounting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Jobs enqueued.
    pub jobs: u64,
    /// Jobs done, with exactly one committed result counted per job.
    pub committed: u64,
    /// Jobs not done yet: pending, or claimed by a worker (a claim left by a
    /// stopped or killed run goes back to the queue when the next run
    /// starts). Not a loss.
    pub pending: u64,
    /// Work that vanished: jobs marked done without a committed result, and
    /// jobs claimed by nobody.
    pub lost: u64,
    /// Committed results beyond the first for the same job, and results of
    /// jobs that are not done.
    pub duplicated: u64,
    /// Jobs dead-lettered.
    pub dead_lettered: u64,
    /// Jobs enqueued with bad credentials.
    pub bad_credentials: u64,
}

impl Counts {
    /// Whether every job was committed exactly once or dead-lettered.
    pub fn is_complete(&self) -> bool {
        self.pending == 0 && self.lost == 0 && self.duplicated == 0
    }
}

/// What [`prepare`] found and did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prepared {
    /// Jobs this call enqueued: 0 when the database already had its queue.
    pub enqueued: u64,
    /// Jobs in the queue.
    pub jobs: u64,
    /// Claims of an earlier run handed back to the queue.
    pub reclaimed: u64,
    /// Jobs already done or dead-lettered by earlier runs.
    pub finished: u64,
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

/// The durability settings of every connection.
const PRAGMAS: &str = "PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;";

/// Runs `f` on a pooled connection, with the durability settings applied.
pub async fn with_conn<R: Send + 'static>(
    pool: &Pool,
    f: impl FnOnce(&mut Connection) -> rusqlite::Result<R> + Send + 'static,
) -> Result<R, StorageError> {
    let conn = pool.get().await.map_err(storage)?;
    conn.interact(move |conn| {
        conn.execute_batch(PRAGMAS)?;
        f(conn)
    })
    .await
    .map_err(|error| StorageError::Task(error.to_string()))?
    .map_err(StorageError::Sqlite)
}

/// Takes the lock of `dir` (the file `daemon.lock` in it) for as long as the
/// returned file is open: a second process on the same directory gets
/// `Ok(None)`. The operating system releases the lock when the process
/// dies, however it dies.
pub fn lock_dir(dir: &Path) -> std::io::Result<Option<File>> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("daemon.lock"))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(error)) => Err(error),
    }
}

/// Opens (or creates) the queue at `path`: creates the schema if needed,
/// enqueues `jobs` jobs if this database never had its queue (those marked in
/// `bad` carry credentials the remote rejects), and hands the jobs an earlier
/// run had claimed back to the queue. One transaction: a run killed in the
/// middle leaves the database as it was.
///
/// The caller must hold the directory's lock ([`lock_dir`]).
pub fn prepare(path: &Path, jobs: u64, bad: &[bool]) -> rusqlite::Result<Prepared> {
    let mut conn = Connection::open(path)?;
    conn.execute_batch("PRAGMA journal_mode = WAL;")?;
    conn.execute_batch(PRAGMAS)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS jobs (
             id INTEGER PRIMARY KEY,
             state TEXT NOT NULL CHECK (state IN ('pending', 'claimed', 'done', 'dead')),
             claimed_by TEXT,
             creds TEXT NOT NULL
         );
         CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, claimed_by);
         -- No UNIQUE constraint: a duplicate commit must be visible, not prevented here.
         CREATE TABLE IF NOT EXISTS commits (job_id INTEGER NOT NULL, worker TEXT NOT NULL, result TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);",
    )?;
    let enqueued_before: Option<i64> = tx
        .query_row("SELECT value FROM meta WHERE key = 'enqueued'", [], |row| {
            row.get(0)
        })
        .map(Some)
        .or_else(|error| match error {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            error => Err(error),
        })?;
    let mut prepared = Prepared::default();
    let has_jobs: bool =
        tx.query_row("SELECT EXISTS (SELECT 1 FROM jobs)", [], |row| row.get(0))?;
    if enqueued_before.is_none() && has_jobs {
        // A queue from before the `meta` table: it was enqueued.
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('enqueued', (SELECT count(*) FROM jobs))",
            [],
        )?;
    } else if enqueued_before.is_none() {
        {
            let mut insert =
                tx.prepare("INSERT INTO jobs (id, state, creds) VALUES (?1, 'pending', ?2)")?;
            for id in 1..=jobs {
                let bad = bad.get(id as usize - 1).copied().unwrap_or(false);
                insert.execute(params![id as i64, if bad { "bad" } else { "ok" }])?;
            }
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('enqueued', ?1)",
            [jobs as i64],
        )?;
        prepared.enqueued = jobs;
    }
    // Nobody else holds the directory: every claim belongs to a dead run.
    prepared.reclaimed = tx.execute(
        "UPDATE jobs SET state = 'pending', claimed_by = NULL WHERE state = 'claimed'",
        [],
    )? as u64;
    let one = |sql: &str| {
        tx.query_row(sql, [], |row| row.get::<_, i64>(0))
            .map(|n| n as u64)
    };
    prepared.jobs = one("SELECT count(*) FROM jobs")?;
    prepared.finished = one("SELECT count(*) FROM jobs WHERE state IN ('done', 'dead')")?;
    tx.commit()?;
    Ok(prepared)
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
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
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

/// Commits the outcomes of processed jobs in one transaction: results are
/// recorded and their jobs moved to `done`, rejected jobs move to `dead`. A
/// job no longer claimed by `worker` is left alone, so finishing the same
/// outcomes twice commits them once.
pub async fn finish(
    pool: &Pool,
    worker: &str,
    outcomes: Vec<(JobId, Outcome)>,
) -> Result<Finished, StorageError> {
    if outcomes.is_empty() {
        return Ok(Finished::default());
    }
    let worker = worker.to_owned();
    with_conn(pool, move |conn| {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut finished = Finished::default();
        {
            let mut done = tx.prepare_cached(
                "UPDATE jobs SET state = 'done' WHERE id = ?1 AND state = 'claimed' AND claimed_by = ?2",
            )?;
            let mut dead = tx.prepare_cached(
                "UPDATE jobs SET state = 'dead' WHERE id = ?1 AND state = 'claimed' AND claimed_by = ?2",
            )?;
            let mut record = tx.prepare_cached(
                "INSERT INTO commits (job_id, worker, result) VALUES (?1, ?2, ?3)",
            )?;
            for (id, outcome) in outcomes {
                match outcome {
                    Outcome::Done(result) => {
                        if done.execute(params![id.0, worker])? == 1 {
                            record.execute(params![id.0, worker, result])?;
                            finished.committed += 1;
                        }
                    }
                    Outcome::Dead(trace) => {
                        if dead.execute(params![id.0, worker])? == 1 {
                            finished.dead.push((id, trace));
                        }
                    }
                }
            }
        }
        tx.commit()?;
        Ok(finished)
    })
    .await
}

/// Hands the jobs `worker` claimed back to the queue (a worker stopping
/// before it processed them). Returns how many.
pub async fn release(pool: &Pool, worker: &str) -> Result<u64, StorageError> {
    let worker = worker.to_owned();
    with_conn(pool, move |conn| {
        conn.execute(
            "UPDATE jobs SET state = 'pending', claimed_by = NULL WHERE state = 'claimed' AND claimed_by = ?1",
            [worker],
        )
        .map(|n| n as u64)
    })
    .await
}

/// The final accounting, read with a fresh connection.
pub fn count(path: &Path) -> rusqlite::Result<Counts> {
    let conn = Connection::open(path)?;
    conn.execute_batch(PRAGMAS)?;
    let one = |sql: &str| {
        conn.query_row(sql, [], |row| row.get::<_, i64>(0))
            .map(|n| n as u64)
    };
    let committed = one(
        "SELECT count(DISTINCT c.job_id) FROM commits c JOIN jobs j ON j.id = c.job_id AND j.state = 'done'",
    )?;
    Ok(Counts {
        jobs: one("SELECT count(*) FROM jobs")?,
        committed,
        pending: one("SELECT count(*) FROM jobs
             WHERE state = 'pending' OR (state = 'claimed' AND claimed_by IS NOT NULL)")?,
        lost: one("SELECT count(*) FROM jobs
             WHERE (state = 'claimed' AND claimed_by IS NULL)
                OR (state = 'done' AND id NOT IN (SELECT job_id FROM commits))")?,
        duplicated: one("SELECT count(*) FROM commits")? - committed,
        dead_lettered: one("SELECT count(*) FROM jobs WHERE state = 'dead'")?,
        bad_credentials: one("SELECT count(*) FROM jobs WHERE creds = 'bad'")?,
    })
}

/// A fresh directory name for a run's database.
pub fn run_dir() -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    std::env::temp_dir().join(format!("sync-daemon-{}-{stamp}", std::process::id()))
}
