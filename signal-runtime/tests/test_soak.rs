//! A model-based soak: thousands of seeded random sequences of run outcomes
//! (each kind, panics, rebuild failures and panics, huge Retry-After),
//! recoveries, nudges, state updates, time passing and shutdown, against
//! 1 to 10,000 workers, on tokio's paused clock. After every step the
//! invariants are checked: no panic escapes, nothing hangs, no worker dies
//! without a reason in its status and `join`, restarts stay within the
//! intensity bound, rebuilds never outnumber the distinct generations that
//! were found dropped, and nothing is lost from a `State`.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use signal_core::{Kind, Signal, kind};
use signal_runtime::{
    Backoff, Intensity, Phase, Policy, Reaction, Resource, RetryAfter, State, StopReason,
    Supervisor, SupervisorError, Wake, WorkerHandle,
};

kind! {
    /// The pool is gone: rebuild it.
    pub PoolGone;
    /// Worth another try.
    pub Retryable;
}

#[derive(Debug, thiserror::Error, Signal)]
enum SoakError {
    #[error("busy")]
    #[signal(leaf = "Retryable")]
    Busy,
    #[error("throttled")]
    #[signal(leaf = "Retryable")]
    Throttled { retry_after: Duration },
    #[error("pool gone")]
    #[signal(leaf = "PoolGone")]
    PoolGone,
    #[error("corrupt")]
    Corrupt,
}

impl RetryAfter for SoakError {
    fn retry_after(&self) -> Option<Duration> {
        match self {
            SoakError::Throttled { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

/// What a worker's next run does, as the model scripts it.
#[derive(Clone, Copy, Debug)]
enum Outcome {
    Busy,
    Throttled(Duration),
    PoolGone,
    Corrupt,
    Panic,
    Succeed,
}

/// What the resource's next rebuild does.
#[derive(Clone, Copy, Debug)]
enum Rebuild {
    Fail,
    Panic,
}

/// What a worker keeps across its runs: how many it started, and what the
/// outside added.
#[derive(Clone, Debug, Default)]
struct Books {
    runs: u64,
    outside: u64,
}

/// One worker, as the model knows it.
struct Modelled {
    handle: WorkerHandle<(), SoakError>,
    script: Arc<Mutex<VecDeque<Outcome>>>,
    state: State<Books>,
    outside: u64,
    succeeded: bool,
}

/// One sequence's world.
struct World {
    supervisor: Supervisor,
    db: Resource<u32>,
    rebuilds: Arc<Mutex<VecDeque<Rebuild>>>,
    /// The generations a failing run found dropped.
    drops: Arc<Mutex<BTreeSet<u64>>>,
    workers: Vec<Modelled>,
    intensity: Intensity,
    shut_down: bool,
}

fn policy(db: &Resource<u32>, rng: &mut fastrand::Rng, intensity: Intensity) -> Policy {
    let max = match rng.u8(0..4) {
        0 => Duration::MAX,
        1 => Duration::from_secs(3600),
        _ => Duration::from_millis(rng.u64(10..5000)),
    };
    let retry = match rng.u8(0..3) {
        0 => Reaction::Retry.budget(rng.u32(1..6)),
        1 => Reaction::Retry.max_attempts(rng.u32(1..8)),
        _ => Reaction::Retry.into(),
    };
    Policy::new()
        .on::<PoolGone>(Reaction::rebuild(db))
        .on::<Retryable>(retry)
        .otherwise(Reaction::Stop)
        .on_panic(if rng.bool() {
            Reaction::Retry
        } else {
            Reaction::Stop
        })
        .honour_retry_after::<SoakError>()
        .backoff(
            Backoff::new(Duration::from_millis(rng.u64(1..100)), max)
                .with_jitter(rng.f64())
                .with_seed(rng.u64(..)),
        )
        .intensity(intensity)
        .healthy_after(Duration::from_secs(rng.u64(1..600)))
}

fn world(rng: &mut fastrand::Rng, count: usize) -> World {
    let rebuilds: Arc<Mutex<VecDeque<Rebuild>>> = Arc::default();
    let script = Arc::clone(&rebuilds);
    let db = Resource::builder("db")
        .backoff(
            Backoff::new(Duration::from_millis(10), Duration::from_secs(1)).with_seed(rng.u64(..)),
        )
        .build(0u32, move || {
            let next = script.lock().unwrap().pop_front();
            if let Some(Rebuild::Panic) = next {
                panic!("the soak's rebuild panicked");
            }
            async move {
                tokio::task::yield_now().await;
                match next {
                    Some(Rebuild::Fail) => Err(std::io::Error::other("the soak's rebuild failed")),
                    _ => Ok(1),
                }
            }
        });
    let intensity = Intensity::new(rng.u32(1..6), Duration::from_millis(rng.u64(100..120_000)));
    let policy = Arc::new(policy(&db, rng, intensity));
    let supervisor = Supervisor::new();
    let drops: Arc<Mutex<BTreeSet<u64>>> = Arc::default();
    let workers = (0..count)
        .map(|i| {
            let script: Arc<Mutex<VecDeque<Outcome>>> = Arc::default();
            let state = State::with_reset(Books::default(), |_| {});
            let (runs, pool, dropped) = (Arc::clone(&script), db.clone(), Arc::clone(&drops));
            let handle = supervisor.spawn_with_state(
                format!("w{}", i % 7), // some names repeat
                Arc::clone(&policy),
                state.clone(),
                move |ctx, state| {
                    let (script, pool, dropped) = (runs.clone(), pool.clone(), dropped.clone());
                    async move {
                        state.update(|books| books.runs += 1);
                        let lease = ctx.lease(&pool);
                        loop {
                            let next = script.lock().unwrap().pop_front();
                            match next {
                                Some(Outcome::Succeed) => return Ok(()),
                                Some(Outcome::Panic) => panic!("the soak's worker panicked"),
                                Some(Outcome::Busy) => return Err(SoakError::Busy),
                                Some(Outcome::Throttled(retry_after)) => {
                                    return Err(SoakError::Throttled { retry_after });
                                }
                                Some(Outcome::Corrupt) => return Err(SoakError::Corrupt),
                                Some(Outcome::PoolGone) => {
                                    dropped.lock().unwrap().insert(lease.generation());
                                    return Err(SoakError::PoolGone);
                                }
                                None => {
                                    if ctx.park(None).await == Wake::Cancelled {
                                        return Ok(());
                                    }
                                }
                            }
                        }
                    }
                },
            );
            Modelled {
                handle,
                script,
                state,
                outside: 0,
                succeeded: false,
            }
        })
        .collect();
    World {
        supervisor,
        db,
        rebuilds,
        drops,
        workers,
        intensity,
        shut_down: false,
    }
}

/// Lets every ready task run (the paused clock moves on only when nothing
/// else can).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

fn outcome(rng: &mut fastrand::Rng) -> Outcome {
    match rng.u8(0..20) {
        0..=5 => Outcome::Busy,
        6..=8 => Outcome::PoolGone,
        9 => Outcome::Corrupt,
        10..=11 => Outcome::Panic,
        12 => Outcome::Throttled(Duration::MAX),
        13 => Outcome::Throttled(Duration::from_secs(rng.u64(0..100_000))),
        14 => Outcome::Succeed,
        _ => Outcome::Busy,
    }
}

/// One random step against the world.
async fn step(world: &mut World, rng: &mut fastrand::Rng) {
    let count = world.workers.len();
    // Most steps touch one worker; some touch up to all of them.
    let many = if rng.u8(0..8) == 0 { count } else { 1 };
    let first = rng.usize(0..count);
    let chosen = (0..many).map(|k| (first + k) % count);
    match rng.u8(0..12) {
        0..=3 => {
            let next = outcome(rng);
            for i in chosen {
                let worker = &mut world.workers[i];
                if let Outcome::Succeed = next {
                    worker.succeeded = true;
                }
                worker.script.lock().unwrap().push_back(next);
                worker.handle.nudge();
            }
        }
        4 => {
            let next = if rng.bool() {
                Rebuild::Fail
            } else {
                Rebuild::Panic
            };
            world.rebuilds.lock().unwrap().push_back(next);
        }
        5 => {
            for i in chosen {
                world.workers[i].handle.recover();
            }
        }
        6 => {
            let kinds = [Retryable::ID];
            for i in chosen {
                let worker = &world.workers[i];
                if rng.bool() {
                    worker.handle.recover_on(&kinds);
                } else {
                    worker.handle.nudger().recover_on(&[PoolGone::ID]);
                }
            }
        }
        7 => {
            for i in chosen {
                world.workers[i].handle.nudge();
            }
        }
        8 => {
            for i in chosen {
                let worker = &mut world.workers[i];
                worker.state.update(|books| books.outside += 1);
                worker.outside += 1;
            }
        }
        9 | 10 => {
            let by = match rng.u8(0..4) {
                0 => Duration::from_secs(rng.u64(0..7200)),
                _ => Duration::from_millis(rng.u64(0..2000)),
            };
            tokio::time::sleep(by).await;
        }
        _ => {
            if rng.u8(0..6) == 0 && !world.shut_down {
                world.shut_down = true;
                let grace = match rng.u8(0..3) {
                    0 => Duration::MAX,
                    1 => Duration::ZERO,
                    _ => Duration::from_millis(rng.u64(0..5000)),
                };
                world.supervisor.shutdown_within(grace).await;
            }
        }
    }
}

/// The invariants, checked after every step; each violation is described.
fn check(world: &World, violations: &mut Vec<String>, at: &str) {
    let stats = world.db.stats();
    let drops = world.drops.lock().unwrap().len() as u64;
    if stats.rebuilds > drops {
        violations.push(format!(
            "{at}: {} rebuilds for {drops} dropped generations",
            stats.rebuilds
        ));
    }
    for (i, worker) in world.workers.iter().enumerate() {
        let status = worker.handle.status();
        let books = worker.state.get();
        if books.outside != worker.outside {
            violations.push(format!(
                "{at}: worker {i} lost state updates ({} of {})",
                books.outside, worker.outside
            ));
        }
        if books.runs != status.runs {
            violations.push(format!(
                "{at}: worker {i} counted {} runs in its state, {} in its status",
                books.runs, status.runs
            ));
        }
        let max = world.intensity.max_restarts as usize;
        let window = status.retry.restarts.len();
        let over = status.retry.stopped == Some(StopReason::IntensityExceeded);
        if window > max + usize::from(over) {
            violations.push(format!(
                "{at}: worker {i} holds {window} restarts in a window of {max}"
            ));
        }
        match status.phase {
            Phase::Stopped if status.error.is_none() || status.retry.stopped.is_none() => {
                violations.push(format!("{at}: worker {i} stopped without a reason"));
            }
            Phase::Done if !world.shut_down => match &status.error {
                None if worker.succeeded => {}
                Some(error) if !error.is_shutdown() => {}
                other => violations.push(format!(
                    "{at}: worker {i} ended silently ({:?})",
                    other.as_ref().map(ToString::to_string)
                )),
            },
            _ => {}
        }
    }
}

/// Runs one sequence of `steps` steps against `count` workers; returns the
/// steps taken.
async fn sequence(seed: u64, count: usize, steps: usize, violations: &mut Vec<String>) -> usize {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut world = world(&mut rng, count);
    settle().await;
    // Longer than the longest step (two hours of time passing).
    let hour = Duration::from_secs(4 * 3600);
    let mut taken = 0;
    for n in 0..steps {
        let at = format!("seed {seed}, step {n}");
        if tokio::time::timeout(hour, step(&mut world, &mut rng))
            .await
            .is_err()
        {
            violations.push(format!("{at}: the step hung"));
            return taken;
        }
        settle().await;
        check(&world, violations, &at);
        taken += 1;
    }
    let at = format!("seed {seed}, shutdown");
    let grace = Duration::from_millis(rng.u64(0..1000));
    if tokio::time::timeout(hour, world.supervisor.shutdown_within(grace))
        .await
        .is_err()
    {
        violations.push(format!("{at}: shutdown hung"));
        return taken;
    }
    world.shut_down = true;
    check(&world, violations, &at);
    for (i, worker) in world.workers.into_iter().enumerate() {
        let stopped = worker.handle.phase() == Phase::Stopped;
        match tokio::time::timeout(hour, worker.handle.join()).await {
            Err(_) => violations.push(format!("{at}: joining worker {i} hung")),
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                let named = matches!(
                    error,
                    SupervisorError::Stopped { .. }
                        | SupervisorError::Panicked { .. }
                        | SupervisorError::IntensityExceeded { .. }
                        | SupervisorError::Exhausted { .. }
                ) || (error.is_shutdown() && !stopped);
                if !named {
                    violations.push(format!("{at}: worker {i} joined with {error}"));
                }
            }
        }
    }
    taken
}

#[tokio::test(start_paused = true)]
async fn test_model_based_soak() {
    // The workers and rebuilds panic on purpose, thousands of times: keep
    // the output to the report.
    std::panic::set_hook(Box::new(|_| {}));
    let mut violations = Vec::new();
    let mut sequences = 0;
    let mut steps = 0;
    let mut rng = fastrand::Rng::with_seed(20);
    for seed in 0..2_000u64 {
        let count = match rng.u8(0..10) {
            0..=3 => 1,
            4..=6 => rng.usize(2..=10),
            7 | 8 => rng.usize(11..=100),
            _ => rng.usize(101..=300),
        };
        steps += sequence(seed, count, rng.usize(5..40), &mut violations).await;
        sequences += 1;
    }
    // The edges of the range: many workers, few steps each.
    for (seed, count) in [(1_000_001, 1_000), (1_000_002, 10_000)] {
        steps += sequence(seed, count, 12, &mut violations).await;
        sequences += 1;
    }
    println!(
        "soak: {sequences} sequences, {steps} steps, {} violations",
        violations.len()
    );
    for violation in violations.iter().take(20) {
        println!("  {violation}");
    }
    assert!(violations.is_empty(), "{} violations", violations.len());
}
