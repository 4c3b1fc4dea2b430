//! The sync daemon's command line: every flag the README, the tests and
//! `benches/fault-sweep.sh` use is read into the run's settings, and every
//! invalid argument is an error that names it (exit status 2), never a
//! panic and never a silently ignored value.

use std::path::PathBuf;
use std::process::Command as Process;
use std::time::Duration;

use signal_workspace::daemon::Config;
use signal_workspace::daemon::cli::{Command, USAGE, parse};
use tracing_subscriber::filter::LevelFilter;

fn run(args: &[&str]) -> (Config, LevelFilter) {
    match parse(args.iter().copied()) {
        Ok(Command::Run { config, log }) => (config, log),
        other => panic!("{args:?}: {other:?}"),
    }
}

fn error(args: &[&str]) -> String {
    match parse(args.iter().copied()) {
        Err(message) => message,
        Ok(command) => panic!("{args:?} was accepted: {command:?}"),
    }
}

#[test]
fn test_no_arguments_is_the_default_run_with_events_counted_not_printed() {
    let (config, log) = run(&[]);
    let default = Config::default();
    assert_eq!(config.jobs, default.jobs);
    assert_eq!(config.workers, default.workers);
    assert_eq!(config.seed, 42);
    assert_eq!(config.dir, None);
    assert!(config.progress);
    assert!(!config.keep);
    assert_eq!(log, LevelFilter::OFF);
}

#[test]
fn test_every_flag_is_read() {
    let (config, log) = run(&[
        "--jobs",
        "5000",
        "--workers",
        "64",
        "--fault-rate",
        "0.5",
        "--bad-rate",
        "0.01",
        "--seed",
        "7",
        "--duration",
        "2.5",
        "--dir",
        "/var/tmp/queue",
        "--keep",
        "--log",
        "warn",
        "--quiet",
    ]);
    assert_eq!(config.jobs, 5000);
    assert_eq!(config.workers, 64);
    assert_eq!(config.fault_rate, 0.5);
    assert_eq!(config.bad_credentials_rate, 0.01);
    assert_eq!(config.seed, 7);
    assert_eq!(config.max_duration, Duration::from_millis(2500));
    assert_eq!(config.dir, Some(PathBuf::from("/var/tmp/queue")));
    assert!(config.keep);
    assert!(!config.progress);
    assert_eq!(log, LevelFilter::WARN);
}

#[test]
fn test_values_may_follow_an_equals_sign() {
    let (config, log) = run(&["--jobs=10", "--fault-rate=0", "--log=off"]);
    assert_eq!(config.jobs, 10);
    assert_eq!(config.fault_rate, 0.0);
    assert_eq!(log, LevelFilter::OFF);
}

#[test]
fn test_rates_at_the_edges_are_accepted() {
    for rate in ["0", "0.0", "1", "1.0", "0.000001"] {
        let (config, _) = run(&["--fault-rate", rate, "--bad-rate", rate]);
        assert_eq!(config.fault_rate, rate.parse::<f64>().unwrap());
        assert_eq!(config.bad_credentials_rate, config.fault_rate);
    }
}

#[test]
fn test_log_levels() {
    for (text, level) in [
        ("off", LevelFilter::OFF),
        ("error", LevelFilter::ERROR),
        ("warn", LevelFilter::WARN),
        ("info", LevelFilter::INFO),
        ("debug", LevelFilter::DEBUG),
        ("trace", LevelFilter::TRACE),
    ] {
        assert_eq!(run(&["--log", text]).1, level, "{text}");
    }
}

#[test]
fn test_help() {
    for flag in ["--help", "-h"] {
        assert!(matches!(parse([flag]), Ok(Command::Help)), "{flag}");
    }
    // Every flag is in the usage text.
    for flag in [
        "--jobs",
        "--workers",
        "--fault-rate",
        "--bad-rate",
        "--seed",
        "--duration",
        "--dir",
        "--keep",
        "--log",
        "--quiet",
    ] {
        assert!(USAGE.contains(flag), "{flag}");
    }
}

#[test]
fn test_invalid_arguments_are_errors_that_name_them() {
    let cases: &[(&[&str], &str)] = &[
        (&["--jobs"], "--jobs"),
        (&["--jobs", "many"], "--jobs"),
        (&["--jobs", "-1"], "--jobs"),
        (&["--workers", "0"], "--workers"),
        (&["--workers", "1.5"], "--workers"),
        (&["--fault-rate", "1.5"], "--fault-rate"),
        (&["--fault-rate", "-0.1"], "--fault-rate"),
        (&["--fault-rate", "NaN"], "--fault-rate"),
        (&["--bad-rate", "2"], "--bad-rate"),
        (&["--seed", "-3"], "--seed"),
        (&["--duration", "0"], "--duration"),
        (&["--duration", "-5"], "--duration"),
        (&["--duration", "inf"], "--duration"),
        (&["--duration", "NaN"], "--duration"),
        (&["--duration", "soon"], "--duration"),
        (&["--dir", ""], "--dir"),
        (&["--log", "loud"], "--log"),
        (&["--verbose"], "--verbose"),
        (&["-q"], "-q"),
        (&["extra"], "extra"),
        (&["--keep=yes"], "--keep"),
    ];
    for (args, named) in cases {
        let message = error(args);
        assert!(message.contains(named), "{args:?}: {message}");
    }
}

/// The binary: `--help` prints the usage and exits 0; an invalid argument
/// exits 2 with the error and the usage on stderr, and runs nothing.
#[test]
fn test_binary_exit_status_for_help_and_invalid_arguments() {
    let daemon = env!("CARGO_BIN_EXE_sync_daemon");
    let help = Process::new(daemon).arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&help.stdout).trim_end(), USAGE);

    let bad = Process::new(daemon)
        .args(["--fault-rate", "2"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(bad.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("--fault-rate"), "{stderr}");
    assert!(stderr.contains(USAGE), "{stderr}");
}

/// Events are counted, not printed, unless `--log` asks: then each WARN and
/// ERROR event is a line on stderr, without colour codes when stderr is not
/// a terminal. The temporary directory is pointed into this test's own.
#[test]
fn test_log_prints_events_on_stderr_only_when_asked() {
    let daemon = env!("CARGO_BIN_EXE_sync_daemon");
    let tmp = std::env::temp_dir().join(format!("signal-cli-log-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let args = [
        "--jobs",
        "400",
        "--fault-rate",
        "0.05",
        "--bad-rate",
        "0.02",
        "--seed",
        "5",
    ];
    let quiet = Process::new(daemon)
        .args(args)
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    let logged = Process::new(daemon)
        .args(args)
        .args(["--log", "warn"])
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    let left = std::fs::read_dir(&tmp).unwrap().count();
    let _ = std::fs::remove_dir_all(&tmp);
    assert_eq!(left, 0, "temporary files left behind");

    assert!(quiet.status.success(), "{quiet:?}");
    assert!(
        quiet.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
    let stdout = String::from_utf8_lossy(&quiet.stdout);
    let events = stdout.lines().find(|l| l.starts_with("events: ")).unwrap();
    assert!(events.contains("BadCredentials"), "{stdout}");
    assert!(
        stdout.lines().last().unwrap().starts_with("jobs="),
        "{stdout}"
    );

    assert!(logged.status.success(), "{logged:?}");
    let stderr = String::from_utf8_lossy(&logged.stderr);
    let errors = stderr.lines().filter(|l| l.contains("ERROR")).count();
    assert!(errors > 0, "{stderr}");
    assert!(
        stderr
            .lines()
            .all(|l| l.contains("WARN") || l.contains("ERROR")),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "colour codes on a pipe: {stderr}"
    );
}
