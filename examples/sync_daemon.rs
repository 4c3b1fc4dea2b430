//! A sync daemon on a real embedded database, with injected faults.
//!
//! ```sh
//! cargo run --release --example sync_daemon
//! cargo run --release --example sync_daemon -- --jobs 100000 --fault-rate 0.01 --seed 7
//! cargo run --release --example sync_daemon -- --dir /var/tmp/queue --duration 30   # resumable
//! ```
//!
//! Workers claim jobs from a SQLite queue (WAL, `synchronous=FULL`, through a
//! `deadpool-sqlite` pool), send each to a remote served on 127.0.0.1 by this
//! program, and commit the results. The pool is closed under the workers,
//! the remote resets, stalls and refuses connections, and some jobs carry
//! credentials the remote rejects. The supervisor rebuilds the pool once per
//! drop, retries network blips at WARN with backoff, dead-letters rejected
//! jobs at ERROR, and the program checks that every job was committed exactly
//! once. `--duration` (or Ctrl-C) ends the run; jobs left then are
//! `pending`, and a run on the same `--dir` finishes them.
//!
//! It prints a few lines ending with the accounting line (a progress line
//! too, while it runs, when standard error is a terminal). The supervisor's
//! events are counted by kind on the `events:` line; `--log warn` prints
//! each of them. The README shows a run and says which numbers vary.
//!
//! The code is in `src/daemon/` (the command line in `src/daemon/cli.rs`);
//! the same program is built as the `sync_daemon` binary, which the
//! end-to-end tests kill and restart.

fn main() -> std::process::ExitCode {
    signal_workspace::daemon::cli::main()
}
