//! A sync daemon on a real embedded database, with injected faults: the
//! program behind `cargo run --release --example sync_daemon`.
//!
//! Workers claim batches of jobs from a SQLite queue, send each job to a
//! remote over TCP, and commit the results. Faults are injected for real: the
//! connection pool is closed under the workers (one rebuild follows, however
//! many workers notice), the remote on 127.0.0.1 resets, stalls and refuses
//! connections (transient network: logged at WARN and retried with backoff),
//! and jobs with bad credentials are rejected (dead-lettered, logged at ERROR,
//! never retried and never called transient). At the end the database is
//! checked: every job committed exactly once or dead-lettered.
//!
//! A run is bounded by [`Config::max_duration`]: at the deadline the workers
//! are asked to stop (they commit what they have processed and hand their
//! other claims back), then aborted after [`Config::grace`], and the final
//! accounting has its own timeout. The database may outlive the run
//! ([`Config::dir`]): the next run on it resumes the queue.

pub mod cli;
pub mod errors;
pub mod faults;
pub mod remote;
pub mod store;
pub mod tally;

use std::fmt;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_sqlite::Pool;
use signal_core::vocab::BadCredentials;
use signal_core::{Kind, Signal};
use signal_runtime::{
    Backoff, Intensity, Phase, Policy, Reaction, Resource, RunContext, Supervisor, WorkerHandle,
};
use tokio::time::timeout;

use errors::{
    BatchSummary, JobError, JobId, NeedsDbReconnect, RemoteError, Retryable, WorkerError,
};
use faults::Faults;
use remote::{Client, Remote};
use store::{Counts, Outcome, Prepared};

/// How a run is set up.
#[derive(Clone, Debug)]
pub struct Config {
    /// Jobs to enqueue (ignored when the database already has its queue).
    pub jobs: u64,
    /// Supervised workers.
    pub workers: usize,
    /// Faults per remote request (and twice that per batch commit, for pool
    /// drops).
    pub fault_rate: f64,
    /// Share of jobs enqueued with credentials the remote rejects.
    pub bad_credentials_rate: f64,
    /// The seed of the fault schedule and of the bad-credential jobs.
    pub seed: u64,
    /// Jobs claimed per batch (one commit, one fsync, per batch).
    pub batch: usize,
    /// The deadline of one remote call.
    pub call_deadline: Duration,
    /// Stop (and report) after this long, even if jobs remain.
    pub max_duration: Duration,
    /// How long workers get to stop by themselves at the deadline before
    /// they are aborted.
    pub grace: Duration,
    /// How long the final accounting may take.
    pub accounting_timeout: Duration,
    /// Print a status line while running (only if stderr is a terminal).
    pub progress: bool,
    /// Where to keep the database. `None`: a fresh temporary directory,
    /// removed at the end of the run unless [`keep`](Self::keep) is set.
    pub dir: Option<PathBuf>,
    /// Keep the temporary directory (and write the signal map into it).
    pub keep: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            jobs: 20_000,
            workers: 8,
            fault_rate: 0.005,
            bad_credentials_rate: 0.002,
            seed: 42,
            batch: 50,
            call_deadline: Duration::from_millis(200),
            max_duration: Duration::from_secs(120),
            grace: Duration::from_secs(2),
            accounting_timeout: Duration::from_secs(4),
            progress: true,
            dir: None,
            keep: false,
        }
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Every worker finished: the queue ran dry (or only stopped workers'
    /// claims were left).
    Drained,
    /// The deadline passed; `aborted` workers did not stop within the grace
    /// period and were aborted.
    Deadline {
        /// Workers aborted after the grace period.
        aborted: usize,
    },
    /// The process was interrupted (Ctrl-C); the run stopped as at the
    /// deadline, and its directory is cleaned up as usual.
    Interrupted {
        /// Workers aborted after the grace period.
        aborted: usize,
    },
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::Drained => f.write_str("drained"),
            Ending::Deadline { aborted: 0 } => f.write_str("deadline"),
            Ending::Deadline { aborted } => write!(f, "deadline ({aborted} workers aborted)"),
            Ending::Interrupted { aborted: 0 } => f.write_str("interrupted"),
            Ending::Interrupted { aborted } => {
                write!(f, "interrupted ({aborted} workers aborted)")
            }
        }
    }
}

/// Where a run's time went: what the faults cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Costs {
    /// Workers.
    pub workers: usize,
    /// Requests the remote read.
    pub requests: u64,
    /// Calls that got no answer before their deadline (a `Stall`, usually).
    pub stalled_calls: u64,
    /// The deadline of one call.
    pub call_deadline: Duration,
    /// Connection attempts refused (the remote was not listening).
    pub refused_connects: u64,
    /// How long the remote was not listening, in total.
    pub remote_down: Duration,
    /// Time between a failed run and the next run (backoff, waiting for a
    /// rebuild), summed over every worker.
    pub restart_waits: Duration,
    /// Outcomes a failed run held and a later run committed, without calling
    /// the remote again.
    pub held_over: u64,
}

impl fmt::Display for Costs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stalled = self.call_deadline * u32::try_from(self.stalled_calls).unwrap_or(u32::MAX);
        write!(
            f,
            "costs: requests={} stalled_calls={} ({:.1} worker-s at {} ms) refused_connects={} \
             remote_down={:.1}s restart_waits={:.1} worker-s held_over={} (of {} workers)",
            self.requests,
            self.stalled_calls,
            stalled.as_secs_f64(),
            self.call_deadline.as_millis(),
            self.refused_connects,
            self.remote_down.as_secs_f64(),
            self.restart_waits.as_secs_f64(),
            self.held_over,
            self.workers,
        )
    }
}

/// Counters the workers share.
#[derive(Debug, Default)]
struct Counters {
    /// Jobs finished (committed or dead-lettered) by this run.
    processed: AtomicU64,
    stalled_calls: AtomicU64,
    refused_connects: AtomicU64,
    held_over: AtomicU64,
    restart_waits_us: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// What a run did, checked against the database.
#[derive(Clone, Debug)]
pub struct Report {
    /// The queue's final accounting; `None` if it did not finish within
    /// [`Config::accounting_timeout`] (or failed: see `accounting_error`).
    pub counts: Option<Counts>,
    /// Why the accounting is missing.
    pub accounting_error: Option<String>,
    /// What the run found in the database when it started.
    pub prepared: Prepared,
    /// Pool rebuilds that succeeded.
    pub pool_rebuilds: u64,
    /// Rebuild requests from workers that saw the pool gone.
    pub rebuild_requests: u64,
    /// Network faults the remote injected.
    pub network_faults: u64,
    /// Pool drops injected.
    pub pool_drops: u64,
    /// What the supervisor's events said.
    pub events: tally::Counts,
    /// Where the time went.
    pub costs: Costs,
    /// Workers that ended with an error instead of finishing.
    pub failed_workers: usize,
    /// How the run ended.
    pub ending: Ending,
    /// How long it took.
    pub elapsed: Duration,
    /// The directory of the database.
    pub dir: PathBuf,
    /// Whether the directory outlives the run.
    pub kept: bool,
    /// Where the signal map of the error hierarchy was written, if the
    /// directory is kept.
    pub signal_map: Option<PathBuf>,
}

impl Report {
    /// Whether the deadline ended the run.
    pub fn timed_out(&self) -> bool {
        matches!(self.ending, Ending::Deadline { .. })
    }

    /// Whether every job was committed exactly once or dead-lettered.
    pub fn is_clean(&self) -> bool {
        self.counts.is_some_and(|c| c.is_complete())
    }

    /// The process's exit status: 0 if every job was committed exactly once
    /// or dead-lettered; 3 if work remains (jobs pending, nothing lost or
    /// duplicated: run again on the same `--dir` to finish); 1 if anything
    /// was lost or duplicated, or the accounting did not finish.
    pub fn exit_code(&self) -> u8 {
        match self.counts {
            Some(c) if c.lost > 0 || c.duplicated > 0 => 1,
            Some(c) if c.pending > 0 => 3,
            Some(_) => 0,
            None => 1,
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known = |pick: fn(&Counts) -> u64| {
            self.counts
                .as_ref()
                .map_or_else(|| "?".to_owned(), |c| pick(c).to_string())
        };
        let kinds: Vec<String> = self
            .events
            .restarts_by_kind
            .iter()
            .map(|(kind, n)| format!("{kind}: {n}"))
            .collect();
        write!(
            f,
            "jobs={} committed={} pending={} lost={} duplicated={} dead_lettered={} \
             reclaimed={} pool_rebuilds={} (requested by {} workers) retries={} \
             restarts_by_kind={{{}}} faults={} (network {}, pool drops {}) elapsed={:.1}s \
             ended={}",
            known(|c| c.jobs),
            known(|c| c.committed),
            known(|c| c.pending),
            known(|c| c.lost),
            known(|c| c.duplicated),
            known(|c| c.dead_lettered),
            self.prepared.reclaimed,
            self.pool_rebuilds,
            self.rebuild_requests,
            self.events.retries,
            kinds.join(", "),
            self.network_faults + self.pool_drops,
            self.network_faults,
            self.pool_drops,
            self.elapsed.as_secs_f64(),
            self.ending,
        )?;
        if let Some(error) = &self.accounting_error {
            write!(f, " accounting={error}")?;
        }
        Ok(())
    }
}

/// Why a run could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Setting up the database failed.
    #[error("setting up the database: {0}")]
    Setup(#[from] rusqlite::Error),
    /// Opening the pool failed.
    #[error("opening the pool: {0}")]
    Pool(#[from] errors::StorageError),
    /// Another process uses the directory.
    #[error("{} is in use by another sync_daemon", .0.display())]
    DirInUse(PathBuf),
    /// Starting the remote, or writing a file, failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A background task failed.
    #[error("task: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The supervision policy: a dropped pool is rebuilt (once), transient
/// network and busy-database failures back off and retry, anything else
/// stops the worker. At most 200 restarts a second per worker.
pub fn policy(db: &Resource<Pool>) -> Policy {
    Policy::new()
        .on::<NeedsDbReconnect>(Reaction::rebuild(db))
        .on::<Retryable>(Reaction::Retry)
        .otherwise(Reaction::Stop)
        .backoff(Backoff::new(
            Duration::from_millis(5),
            Duration::from_millis(250),
        ))
        .intensity(Intensity::new(200, Duration::from_secs(1)))
        .healthy_after(Duration::from_millis(500))
}

/// The run's directory; a temporary one is removed when the run ends.
struct RunDir {
    path: PathBuf,
    remove: bool,
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if self.remove
            && let Err(error) = std::fs::remove_dir_all(&self.path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %self.path.display(), %error, "could not remove the run's directory");
        }
    }
}

/// Runs the daemon until the queue is drained or `max_duration` passes, and
/// checks the result.
pub async fn run(config: Config, tally: &tally::Tally) -> Result<Report, DaemonError> {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + config.max_duration;
    let dir = RunDir {
        remove: config.dir.is_none() && !config.keep,
        path: config.dir.clone().unwrap_or_else(store::run_dir),
    };
    std::fs::create_dir_all(&dir.path)?;
    let _lock =
        store::lock_dir(&dir.path)?.ok_or_else(|| DaemonError::DirInUse(dir.path.clone()))?;
    let path = dir.path.join("jobs.db");

    let mut rng = fastrand::Rng::with_seed(config.seed);
    let bad: Vec<bool> = (0..config.jobs)
        .map(|_| faults::chance(&mut rng, config.bad_credentials_rate))
        .collect();
    let prepared = {
        let path = path.clone();
        let jobs = config.jobs;
        tokio::task::spawn_blocking(move || store::prepare(&path, jobs, &bad)).await??
    };

    let faults = Arc::new(Faults::new(config.seed, config.fault_rate));
    let remote = Remote::start(Arc::clone(&faults)).await?;
    let db = {
        let path = path.clone();
        Resource::new("jobs-db", store::open_pool(&path)?, move || {
            let path = path.clone();
            async move { store::open_pool(&path) }
        })
    };
    let policy = Arc::new(policy(&db));
    let supervisor = Supervisor::new();
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));

    let handles: Vec<WorkerHandle<(), WorkerError>> = (0..config.workers)
        .map(|i| {
            let worker = Worker {
                db: db.clone(),
                addr: remote.addr(),
                faults: Arc::clone(&faults),
                counters: Arc::clone(&counters),
                stop: Arc::clone(&stop),
                held: Arc::default(),
                failed_at: Arc::default(),
                batch: config.batch,
                deadline: config.call_deadline,
            };
            supervisor.spawn(format!("sync-{i}"), Arc::clone(&policy), move |ctx| {
                let worker = worker.clone();
                async move { worker.supervised(&ctx).await }
            })
        })
        .collect();

    let mut up = Some(remote.up());
    let progress = config.progress && std::io::stderr().is_terminal();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut timed_out = false;
    let mut interrupted = false;
    // Ctrl-C stops the run like the deadline does, so that the temporary
    // directory is removed and the accounting still runs.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut listening = true;
    loop {
        tokio::select! {
            changed = async { up.as_mut()?.changed().await.ok() }, if up.is_some() => {
                if changed.is_none() {
                    up = None; // the remote is gone: nothing more to wait for
                    continue;
                }
                // The remote is listening again: an external event that ends
                // any backoff or stop caused by its absence.
                for handle in &handles {
                    if matches!(handle.phase(), Phase::BackingOff | Phase::Stopped) {
                        handle.recover();
                    }
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                timed_out = true;
                break;
            }
            heard = &mut ctrl_c, if listening => {
                if heard.is_ok() {
                    interrupted = true;
                    break;
                }
                listening = false; // no signal handler: run on
            }
            _ = tick.tick() => {
                if progress {
                    eprint!(
                        "\r\x1b[2K{} / {} jobs, {} faults injected, pool generation {}",
                        prepared.finished + counters.processed.load(Ordering::Relaxed),
                        prepared.jobs,
                        faults.network_faults() + faults.pool_drops(),
                        db.generation(),
                    );
                }
                if handles.iter().all(WorkerHandle::is_finished) {
                    break;
                }
                // Workers still running can take over nothing a stopped worker
                // holds: recover it once the others have finished.
                let stopped = handles.iter().filter(|h| h.phase() == Phase::Stopped).count();
                if stopped > 0 && handles.iter().all(|h| h.is_finished() || h.phase() == Phase::Stopped) {
                    for handle in &handles {
                        handle.recover();
                    }
                }
            }
        }
    }
    if progress {
        // The progress line is transient: the summary replaces it.
        eprint!("\r\x1b[2K");
    }

    // Stop: ask the workers, give them `grace` to commit what they processed
    // and hand back their claims, then abort the rest.
    stop.store(true, Ordering::SeqCst);
    // Wakes the stopped and backing-off workers (a running one refuses).
    for handle in &handles {
        handle.recover();
    }
    let all_finished = async {
        for handle in &handles {
            handle.wait_for(|status| status.phase == Phase::Done).await;
        }
    };
    let _ = timeout(config.grace, all_finished).await;
    let aborted = handles.iter().filter(|h| !h.is_finished()).count();
    if timeout(Duration::from_secs(1), supervisor.shutdown())
        .await
        .is_err()
    {
        tracing::error!("workers did not stop within 1 s of being aborted");
    }
    let mut failed_workers = 0;
    for handle in handles {
        if !handle.is_finished() {
            failed_workers += 1;
            continue;
        }
        if handle.join().await.is_err() {
            failed_workers += 1;
        }
    }
    let _ = timeout(Duration::from_secs(1), remote.stop()).await;
    let stats = db.stats();
    drop(db);

    let kept = !dir.remove;
    let signal_map = if kept {
        let map = dir.path.join("signal-map.md");
        std::fs::write(&map, signal_core::map::<WorkerError>().to_markdown())?;
        Some(map)
    } else {
        None
    };
    let (counts, accounting_error) = {
        let path = path.clone();
        let count = tokio::task::spawn_blocking(move || store::count(&path));
        match timeout(config.accounting_timeout, count).await {
            Ok(Ok(Ok(counts))) => (Some(counts), None),
            Ok(Ok(Err(error))) => (None, Some(format!("failed ({error})"))),
            Ok(Err(error)) => (None, Some(format!("failed ({error})"))),
            Err(_) => (
                None,
                Some(format!(
                    "timed-out after {:.1}s",
                    config.accounting_timeout.as_secs_f64()
                )),
            ),
        }
    };
    let events = tally.counts();
    let costs = Costs {
        workers: config.workers,
        requests: faults.requests(),
        stalled_calls: counters.stalled_calls.load(Ordering::Relaxed),
        call_deadline: config.call_deadline,
        refused_connects: counters.refused_connects.load(Ordering::Relaxed),
        remote_down: faults.refused_for(),
        restart_waits: Duration::from_micros(counters.restart_waits_us.load(Ordering::Relaxed)),
        held_over: counters.held_over.load(Ordering::Relaxed),
    };
    Ok(Report {
        counts,
        accounting_error,
        prepared,
        pool_rebuilds: stats.rebuilds,
        rebuild_requests: stats.requests,
        network_faults: faults.network_faults(),
        pool_drops: faults.pool_drops(),
        events,
        costs,
        failed_workers,
        ending: if interrupted {
            Ending::Interrupted { aborted }
        } else if timed_out {
            Ending::Deadline { aborted }
        } else {
            Ending::Drained
        },
        elapsed: started.elapsed(),
        dir: dir.path.clone(),
        kept,
        signal_map,
    })
}

/// Outcomes a worker has from the remote and has not committed yet. They
/// outlive a failed run, so a pool dropped before the commit costs a retried
/// commit, not the remote calls again.
type Held = Arc<Mutex<Vec<(JobId, Outcome)>>>;

/// One supervised worker's setup; each run starts from it.
#[derive(Clone)]
struct Worker {
    db: Resource<Pool>,
    addr: std::net::SocketAddr,
    faults: Arc<Faults>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    held: Held,
    /// When the last run failed.
    failed_at: Arc<Mutex<Option<Instant>>>,
    batch: usize,
    deadline: Duration,
}

impl Worker {
    /// One run, timing the wait since the previous one failed.
    async fn supervised(&self, ctx: &RunContext) -> Result<(), WorkerError> {
        if let Some(failed_at) = self
            .failed_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let waited = u64::try_from(failed_at.elapsed().as_micros()).unwrap_or(u64::MAX);
            Counters::add(&self.counters.restart_waits_us, waited);
        }
        let result = self.run(ctx).await;
        if result.is_err() {
            *self.failed_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        }
        result
    }

    /// Claims and processes batches until the queue is empty, or until it is
    /// asked to stop. A run that fails leaves its claimed jobs claimed and its
    /// processed outcomes held; the next run commits and finishes them.
    async fn run(&self, ctx: &RunContext) -> Result<(), WorkerError> {
        let name = ctx.name();
        let mut client = Client::new(self.addr, self.deadline);
        loop {
            // Noted as this run's generation: a failure asks for a rebuild
            // of the pool it actually used.
            let lease = ctx.lease(&self.db);
            let pool: &Pool = &lease;
            // Outcomes held by a run that failed before committing them.
            let held_over = self.commit_held(pool, name).await?;
            if held_over > 0 {
                Counters::add(&self.counters.held_over, held_over as u64);
                ctx.mark_healthy();
            }
            if self.stopping() {
                store::release(pool, name)
                    .await
                    .map_err(WorkerError::Storage)?;
                return Ok(());
            }
            let jobs = store::claim(pool, name, self.batch)
                .await
                .map_err(WorkerError::Storage)?;
            if jobs.is_empty() {
                return Ok(());
            }
            let mut failed = Vec::new();
            for job in jobs {
                if self.stopping() {
                    break;
                }
                match client.process(&job).await {
                    Ok(result) => self.hold(job.id, Outcome::Done(result)),
                    Err(error) if error.has::<BadCredentials>() => {
                        let trace = error
                            .trace::<BadCredentials>()
                            .map(|t| t.to_string())
                            .unwrap_or_default();
                        self.hold(job.id, Outcome::Dead(trace));
                    }
                    Err(error) => {
                        self.count(&error);
                        failed.push((job.id, JobError::Remote(error)));
                        break;
                    }
                }
            }
            let finished = self.commit_held(pool, name).await?;
            if finished > 0 {
                // Progress: a failure after it starts the backoff over.
                ctx.mark_healthy();
                if self.faults.drop_pool_now() {
                    // The pool goes away under every worker at once.
                    pool.close();
                }
            }
            if !failed.is_empty() {
                return Err(WorkerError::Batch(Box::new(BatchSummary {
                    failed,
                    committed: finished,
                })));
            }
        }
    }

    fn count(&self, error: &RemoteError) {
        match error {
            RemoteError::Timeout => Counters::add(&self.counters.stalled_calls, 1),
            RemoteError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                Counters::add(&self.counters.refused_connects, 1);
            }
            _ => {}
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn hold(&self, id: JobId, outcome: Outcome) {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, outcome));
    }

    /// Commits the held outcomes; they stay held if the commit fails.
    /// Returns how many jobs were finished (committed or dead-lettered).
    async fn commit_held(&self, pool: &Pool, name: &str) -> Result<usize, WorkerError> {
        let outcomes = self.held.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if outcomes.is_empty() {
            return Ok(0);
        }
        let finished = store::finish(pool, name, outcomes)
            .await
            .map_err(WorkerError::Storage)?;
        self.held.lock().unwrap_or_else(|e| e.into_inner()).clear();
        for (id, trace) in &finished.dead {
            tracing::error!(
                worker = name,
                job = id.0,
                outcome = "dead-lettered",
                kind = BadCredentials::NAME,
                trace = %trace,
                "the remote rejected the job's credentials; dead-lettered, not retried"
            );
        }
        let finished_jobs = finished.committed + finished.dead.len();
        Counters::add(&self.counters.processed, finished_jobs as u64);
        Ok(finished_jobs)
    }
}
