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

pub mod errors;
pub mod faults;
pub mod remote;
pub mod store;
pub mod tally;

use std::fmt;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use deadpool_sqlite::Pool;
use signal_core::net::TransientNetwork;
use signal_core::runtime::{
    Backoff, Intensity, Phase, Policy, Reaction, Resource, Supervisor, SupervisorError,
    WorkerHandle,
};
use signal_core::{Kind, Signal};

use errors::{BadCredentials, BatchSummary, DatabaseBusy, JobError, NeedsDbReconnect, WorkerError};
use faults::{Faults, Rng};
use remote::{Client, Remote};

/// How a run is set up.
#[derive(Clone, Debug)]
pub struct Config {
    /// Jobs to enqueue.
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
    /// Print a status line while running (only if stderr is a terminal).
    pub progress: bool,
    /// Where to put the database; a fresh temporary directory if `None`.
    pub dir: Option<PathBuf>,
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
            progress: true,
            dir: None,
        }
    }
}

/// What a run did, checked against the database.
#[derive(Clone, Debug)]
pub struct Report {
    /// The queue's final accounting.
    pub counts: store::Counts,
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
    /// Workers that ended with an error instead of finishing.
    pub failed_workers: usize,
    /// Whether the run hit `max_duration`.
    pub timed_out: bool,
    /// How long it took.
    pub elapsed: Duration,
    /// Where the signal map of the error hierarchy was written.
    pub signal_map: PathBuf,
}

impl Report {
    /// Whether every job was committed exactly once or dead-lettered.
    pub fn is_clean(&self) -> bool {
        self.counts.lost == 0 && self.counts.duplicated == 0 && !self.timed_out
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counts;
        let kinds: Vec<String> = self
            .events
            .restarts_by_kind
            .iter()
            .map(|(kind, n)| format!("{kind}: {n}"))
            .collect();
        write!(
            f,
            "jobs={} committed={} lost={} duplicated={} dead_lettered={} pool_rebuilds={} \
             (requested by {} workers) retries={} restarts_by_kind={{{}}} faults={} \
             (network {}, pool drops {}) elapsed={:.1}s",
            c.jobs,
            c.committed,
            c.lost,
            c.duplicated,
            c.dead_lettered,
            self.pool_rebuilds,
            self.rebuild_requests,
            self.events.retries,
            kinds.join(", "),
            self.network_faults + self.pool_drops,
            self.network_faults,
            self.pool_drops,
            self.elapsed.as_secs_f64(),
        )
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
        .on::<TransientNetwork>(Reaction::Retry)
        .on::<DatabaseBusy>(Reaction::Retry)
        .otherwise(Reaction::Stop)
        .backoff(Backoff::new(
            Duration::from_millis(5),
            Duration::from_millis(250),
        ))
        .intensity(Intensity::new(200, Duration::from_secs(1)))
        .healthy_after(Duration::from_millis(500))
}

/// Runs the daemon to completion (or `max_duration`) and checks the result.
pub async fn run(config: Config, tally: &tally::Tally) -> Result<Report, DaemonError> {
    let started = Instant::now();
    let dir = config.dir.clone().unwrap_or_else(store::run_dir);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("jobs.db");

    let mut rng = Rng::new(config.seed);
    let bad: Vec<bool> = (0..config.jobs)
        .map(|_| rng.chance(config.bad_credentials_rate))
        .collect();
    {
        let path = path.clone();
        let jobs = config.jobs;
        tokio::task::spawn_blocking(move || store::create(&path, jobs, &bad)).await??;
    }

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
    let processed = Arc::new(AtomicU64::new(0));

    let handles: Vec<WorkerHandle<(), WorkerError>> = (0..config.workers)
        .map(|i| {
            let worker = Worker {
                db: db.clone(),
                addr: remote.addr(),
                faults: Arc::clone(&faults),
                processed: Arc::clone(&processed),
                batch: config.batch,
                deadline: config.call_deadline,
            };
            supervisor.spawn(format!("sync-{i}"), Arc::clone(&policy), move |ctx| {
                let worker = worker.clone();
                async move { worker.run(ctx.name()).await }
            })
        })
        .collect();

    let mut up = remote.up();
    let progress = config.progress && std::io::stderr().is_terminal();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut timed_out = false;
    loop {
        tokio::select! {
            _ = up.changed() => {
                // The remote is listening again: an external event that ends
                // any backoff or stop caused by its absence.
                for handle in &handles {
                    if matches!(handle.phase(), Phase::BackingOff | Phase::Stopped) {
                        handle.recover();
                    }
                }
            }
            _ = tick.tick() => {
                if progress {
                    eprint!(
                        "\r\x1b[2K{} / {} jobs, {} faults injected, pool generation {}",
                        processed.load(Ordering::Relaxed),
                        config.jobs,
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
                    handles.iter().for_each(WorkerHandle::recover);
                }
                if started.elapsed() > config.max_duration {
                    timed_out = true;
                    break;
                }
            }
        }
    }
    if progress {
        eprintln!();
    }
    supervisor.shutdown().await;
    let mut failed_workers = 0;
    for handle in handles {
        match handle.join().await {
            Ok(()) => {}
            Err(SupervisorError::Shutdown { .. }) if timed_out => failed_workers += 1,
            Err(_) => failed_workers += 1,
        }
    }
    remote.stop().await;

    let signal_map = dir.join("signal-map.md");
    std::fs::write(&signal_map, signal_core::map::<WorkerError>().to_markdown())?;
    let counts = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || store::count(&path)).await??
    };
    let stats = db.stats();
    Ok(Report {
        counts,
        pool_rebuilds: stats.rebuilds,
        rebuild_requests: stats.requests,
        network_faults: faults.network_faults(),
        pool_drops: faults.pool_drops(),
        events: tally.counts(),
        failed_workers,
        timed_out,
        elapsed: started.elapsed(),
        signal_map,
    })
}

/// One supervised worker's setup; each run starts from it.
#[derive(Clone)]
struct Worker {
    db: Resource<Pool>,
    addr: std::net::SocketAddr,
    faults: Arc<Faults>,
    processed: Arc<AtomicU64>,
    batch: usize,
    deadline: Duration,
}

impl Worker {
    /// Claims and processes batches until the queue is empty. A run that
    /// fails leaves its claimed jobs claimed; the next run finishes them.
    async fn run(&self, name: &str) -> Result<(), WorkerError> {
        let mut client = Client::new(self.addr, self.deadline);
        loop {
            let lease = self.db.get();
            let pool: &Pool = lease.value();
            let jobs = store::claim(pool, name, self.batch)
                .await
                .map_err(WorkerError::Storage)?;
            if jobs.is_empty() {
                return Ok(());
            }
            let mut done = Vec::with_capacity(jobs.len());
            let mut failed = Vec::new();
            for job in jobs {
                match client.process(&job).await {
                    Ok(result) => done.push((job.id, result)),
                    Err(error) if error.has::<BadCredentials>() => {
                        store::dead_letter(pool, name, job.id)
                            .await
                            .map_err(WorkerError::Storage)?;
                        self.processed.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(
                            worker = name,
                            job = job.id.0,
                            outcome = "dead-lettered",
                            kind = BadCredentials::NAME,
                            trace = %error.trace::<BadCredentials>().map(|t| t.to_string()).unwrap_or_default(),
                            "the remote rejected the job's credentials; dead-lettered, not retried"
                        );
                    }
                    Err(error) => {
                        failed.push((job.id, JobError::Remote(error)));
                        break;
                    }
                }
            }
            let committed = store::commit(pool, name, done)
                .await
                .map_err(WorkerError::Storage)?;
            self.processed
                .fetch_add(committed as u64, Ordering::Relaxed);
            if self.faults.drop_pool_now() {
                // The pool goes away under every worker at once.
                pool.close();
            }
            if !failed.is_empty() {
                return Err(WorkerError::Batch(Box::new(BatchSummary {
                    failed,
                    committed,
                })));
            }
        }
    }
}
