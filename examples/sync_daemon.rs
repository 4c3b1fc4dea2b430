//! A sync daemon on a real embedded database, with injected faults.
//!
//! ```sh
//! cargo run --release --example sync_daemon
//! cargo run --release --example sync_daemon -- --jobs 100000 --fault-rate 0.01 --seed 7
//! ```
//!
//! Workers claim jobs from a SQLite queue (WAL, `synchronous=FULL`, through a
//! `deadpool-sqlite` pool), send each to a remote served on 127.0.0.1 by this
//! program, and commit the results. The pool is closed under the workers,
//! the remote resets, stalls and refuses connections, and some jobs carry
//! credentials the remote rejects. The supervisor rebuilds the pool once per
//! drop, retries network blips at WARN with backoff, dead-letters rejected
//! jobs at ERROR, and the program checks that every job was committed exactly
//! once. It exits non-zero if any job was lost or duplicated.

use std::process::ExitCode;
use std::time::Duration;

use signal_workspace::daemon::{self, Config, tally::Tally};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{Layer, Registry};

const USAGE: &str = "\
usage: sync_daemon [options]
  --jobs N          jobs to enqueue (default 20000)
  --workers N       supervised workers (default 8)
  --fault-rate F    faults per remote request; pool drops at twice that per batch (default 0.005)
  --bad-rate F      share of jobs with rejected credentials (default 0.002)
  --seed N          seed of the fault schedule (default 42)
  --duration SECS   give up after this long (default 120)
  --log LEVEL       error, warn, info, debug or off (default warn)
  --quiet           no progress line";

fn parse() -> Result<(Config, LevelFilter), String> {
    let mut config = Config::default();
    let mut level = LevelFilter::WARN;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--quiet" {
            config.progress = false;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.to_owned());
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = || format!("invalid value for {flag}: {value}\n{USAGE}");
        match flag.as_str() {
            "--jobs" => config.jobs = value.parse().map_err(|_| bad())?,
            "--workers" => config.workers = value.parse().map_err(|_| bad())?,
            "--fault-rate" => config.fault_rate = value.parse().map_err(|_| bad())?,
            "--bad-rate" => config.bad_credentials_rate = value.parse().map_err(|_| bad())?,
            "--seed" => config.seed = value.parse().map_err(|_| bad())?,
            "--duration" => {
                config.max_duration = Duration::from_secs(value.parse().map_err(|_| bad())?)
            }
            "--log" => level = value.parse().map_err(|_| bad())?,
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    if config.workers == 0 || config.batch == 0 {
        return Err(format!("--workers must be at least 1\n{USAGE}"));
    }
    Ok((config, level))
}

fn main() -> ExitCode {
    let (config, level) = match parse() {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let tally = Tally::new();
    let subscriber = Registry::default().with(tally.layer()).with(
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_filter(level),
    );
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        eprintln!("a tracing subscriber is already installed");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "sync_daemon: {} jobs, {} workers, fault rate {}, seed {}",
        config.jobs, config.workers, config.fault_rate, config.seed
    );
    match runtime.block_on(daemon::run(config, &tally)) {
        Ok(report) => {
            println!(
                "signal map of WorkerError written to {}",
                report.signal_map.display()
            );
            println!("{report}");
            if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                eprintln!("FAILED: jobs were lost or duplicated, or the run timed out");
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("sync_daemon failed: {error}");
            ExitCode::FAILURE
        }
    }
}
