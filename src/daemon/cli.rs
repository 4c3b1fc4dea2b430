//! The command line of the sync daemon: `cargo run --release --example
//! sync_daemon -- --help`, or the `sync_daemon` binary.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{Layer, Registry};

use super::{Config, tally::Tally};

const USAGE: &str = "\
usage: sync_daemon [options]
  --jobs N          jobs to enqueue in a new database (default 20000)
  --workers N       supervised workers (default 8)
  --fault-rate F    faults per remote request; pool drops at twice that per batch commit (default 0.005)
  --bad-rate F      share of jobs with rejected credentials (default 0.002)
  --seed N          seed of the fault schedule (default 42)
  --duration SECS   stop after this long, even if jobs remain (default 120)
  --dir PATH        keep the database in PATH; a run on a PATH that has one resumes it
  --keep            keep the temporary directory (without --dir; default: removed at exit)
  --log LEVEL       error, warn, info, debug or off (default warn)
  --quiet           no progress line

exit status: 0 every job committed exactly once or dead-lettered;
             3 jobs remain (nothing lost or duplicated; run again with the same --dir);
             1 a job was lost or duplicated, the accounting failed, or the run could not start;
             2 invalid arguments";

/// Parses the command line.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<(Config, LevelFilter), String> {
    let mut config = Config::default();
    let mut level = LevelFilter::WARN;
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--quiet" => {
                config.progress = false;
                continue;
            }
            "--keep" => {
                config.keep = true;
                continue;
            }
            "--help" | "-h" => return Err(USAGE.to_owned()),
            _ => {}
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
                let secs: f64 = value.parse().map_err(|_| bad())?;
                config.max_duration = Duration::try_from_secs_f64(secs).map_err(|_| bad())?;
            }
            "--dir" => config.dir = Some(PathBuf::from(value)),
            "--log" => level = value.parse().map_err(|_| bad())?,
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    if config.workers == 0 || config.batch == 0 {
        return Err(format!("--workers must be at least 1\n{USAGE}"));
    }
    if !(0.0..=1.0).contains(&config.fault_rate) {
        return Err(format!("--fault-rate must be within 0..=1\n{USAGE}"));
    }
    Ok((config, level))
}

/// Runs the daemon with the process's arguments and returns its exit status.
pub fn main() -> ExitCode {
    let (config, level) = match parse(std::env::args().skip(1)) {
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
        "sync_daemon: {} workers, fault rate {}, seed {}, database in {}",
        config.workers,
        config.fault_rate,
        config.seed,
        config.dir.as_ref().map_or_else(
            || "a temporary directory".to_owned(),
            |d| d.display().to_string()
        ),
    );
    let result = runtime.block_on(super::run(config, &tally));
    // A database call stuck in a blocking thread must not keep the process
    // alive: the accounting is done (or has timed out) by now.
    runtime.shutdown_timeout(Duration::from_millis(500));
    match result {
        Ok(report) => {
            let prepared = &report.prepared;
            if prepared.enqueued == prepared.jobs && prepared.finished == 0 {
                println!("enqueued {} jobs", prepared.enqueued);
            } else {
                println!(
                    "resumed the queue in {}: {} of {} jobs were finished, {} claims of an earlier run handed back",
                    report.dir.display(),
                    prepared.finished,
                    prepared.jobs,
                    prepared.reclaimed,
                );
            }
            if let Some(map) = &report.signal_map {
                println!("signal map of WorkerError written to {}", map.display());
            }
            println!("{report}");
            println!("{}", report.costs);
            let code = report.exit_code();
            match code {
                0 => {}
                3 => eprintln!(
                    "INCOMPLETE: {} jobs remain; nothing was lost or duplicated",
                    report.counts.map_or(0, |c| c.pending)
                ),
                _ => eprintln!("FAILED: jobs were lost or duplicated, or the accounting failed"),
            }
            ExitCode::from(code)
        }
        Err(error) => {
            eprintln!("sync_daemon failed: {error}");
            ExitCode::FAILURE
        }
    }
}
