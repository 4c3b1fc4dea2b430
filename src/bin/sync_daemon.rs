//! The sync daemon of `examples/sync_daemon.rs`, as a binary: the end-to-end
//! tests run it as a child process (`CARGO_BIN_EXE_sync_daemon`), kill it and
//! restart it.

fn main() -> std::process::ExitCode {
    signal_workspace::daemon::cli::main()
}
