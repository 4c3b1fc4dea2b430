//! The command line of the sync daemon: `cargo run --release --example
//! sync_daemon -- --help`, or the `sync_daemon` binary.
//!
//! Standard output gets a few lines ending with the accounting line (the one
//! starting with `jobs=`); a terminal also gets a progress line on standard
//! error while the daemon runs. The supervisor's WARN and ERROR events are
//! counted by kind on the `events:` line; `--log warn` (or `error`, `info`,
//! `debug`) prints each of them on standard error as well.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{Layer, Registry};

use super::{Config, tally::Tally};

/// The usage text, printed by `--help` and after an invalid argument.
pub const USAGE: &str = "\
usage: sync_daemon [options]
  --jobs N          jobs to enqueue in a new database (default 20000)
  --workers N       supervised workers (default 8)
  --fault-rate F    faults per remote request, within 0..=1; pool drops at twice that per batch commit (default 0.005)
  --bad-rate F      share of jobs with rejected credentials, within 0..=1 (default 0.002)
  --seed N          seed of the fault schedule and of the rejected jobs (default 42)
  --duration SECS   stop after this long, even if jobs remain (default 120)
  --dir PATH        keep the database in PATH; a run on a PATH that has one resumes it
  --keep            keep the temporary directory (without --dir; default: removed at exit)
  --log LEVEL       print each event at LEVEL or above on stderr: error, warn, info, debug,
                    trace or off (default off: events are counted on the `events:` line)
  --quiet           no progress line (there is one only when stderr is a terminal)
  -h, --help        print this text

exit status: 0 every job committed exactly once or dead-lettered;
             3 jobs remain (nothing lost or duplicated; run again with the same --dir);
             1 a job was lost or duplicated, the accounting failed, or the run could not start;
             2 invalid arguments";

/// What the command line asks for.
#[derive(Clone, Debug)]
pub enum Command {
    /// Run the daemon, printing events at `log` or above.
    Run {
        /// The run's settings.
        config: Config,
        /// The level of the events printed on stderr.
        log: LevelFilter,
    },
    /// Print the usage text.
    Help,
}

/// Parses the arguments (without the program name). An invalid argument is
/// an error whose message names it; the caller adds [`USAGE`].
pub fn parse<I>(args: I) -> Result<Command, String>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    use lexopt::prelude::*;

    let mut config = Config::default();
    let mut log = LevelFilter::OFF;
    let mut parser = lexopt::Parser::from_args(args);
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Long("jobs") => config.jobs = value(&mut parser, "--jobs", str::parse)?,
            Long("workers") => config.workers = value(&mut parser, "--workers", workers)?,
            Long("fault-rate") => config.fault_rate = value(&mut parser, "--fault-rate", rate)?,
            Long("bad-rate") => {
                config.bad_credentials_rate = value(&mut parser, "--bad-rate", rate)?;
            }
            Long("seed") => config.seed = value(&mut parser, "--seed", str::parse)?,
            Long("duration") => {
                config.max_duration = value(&mut parser, "--duration", seconds)?;
            }
            Long("dir") => {
                config.dir = Some(PathBuf::from(value(&mut parser, "--dir", directory)?));
            }
            Long("keep") => config.keep = true,
            Long("log") => log = value(&mut parser, "--log", str::parse)?,
            Long("quiet") => config.progress = false,
            Short('h') | Long("help") => return Ok(Command::Help),
            _ => return Err(arg.unexpected().to_string()),
        }
    }
    Ok(Command::Run { config, log })
}

/// The value of `flag`, parsed by `parse`; the error names the flag.
fn value<T, E: std::fmt::Display>(
    parser: &mut lexopt::Parser,
    flag: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, String> {
    let raw = parser.value().map_err(|e| e.to_string())?;
    let text = raw
        .to_str()
        .ok_or_else(|| format!("invalid value for {flag}: {raw:?} is not UTF-8"))?;
    parse(text).map_err(|e| format!("invalid value for {flag}: {text:?}: {e}"))
}

/// A number of workers: at least 1.
fn workers(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(error) => Err(error.to_string()),
    }
}

/// A rate: a number within `0..=1`.
fn rate(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        Ok(_) => Err("must be within 0..=1".to_owned()),
        Err(error) => Err(error.to_string()),
    }
}

/// A duration in seconds, fractions allowed: more than 0, and finite.
fn seconds(value: &str) -> Result<Duration, String> {
    let secs: f64 = value
        .parse()
        .map_err(|e: std::num::ParseFloatError| e.to_string())?;
    if secs.is_nan() || secs <= 0.0 {
        return Err("must be more than 0 seconds".to_owned());
    }
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

/// A directory path: not empty.
fn directory(value: &str) -> Result<String, &'static str> {
    if value.is_empty() {
        Err("must not be empty")
    } else {
        Ok(value.to_owned())
    }
}

/// Runs the daemon with the process's arguments and returns its exit status.
pub fn main() -> ExitCode {
    let (config, log) = match parse(std::env::args_os().skip(1)) {
        Ok(Command::Run { config, log }) => (config, log),
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("sync_daemon: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let tally = Tally::new();
    let subscriber = Registry::default().with(tally.layer()).with(
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .with_filter(log),
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
            println!("{}", report.events.summary());
            println!("{}", report.costs);
            println!("{report}");
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
