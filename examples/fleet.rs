//! Two services on 127.0.0.1 that agree on kinds across gRPC.
//!
//! ```sh
//! cargo run --example fleet
//! cargo run --example fleet -- 5000 16     # jobs, workers
//! ```
//!
//! A store server's database pool drops every 40 calls (and stays down for
//! 5) and its upstream times out every 25: both answer `UNAVAILABLE`, and
//! only the `signal-kinds` entry of the status tells them apart. A client
//! with 8 supervised workers syncs 2,000 jobs; a ninth worker holds a stolen
//! token. Each call is retried behind a circuit breaker that counts only the
//! pool's kind and a retry budget the workers share; the workers' policy
//! backs off on the server's retryable kinds and stops the ninth worker on
//! `BadCredentials`. The last line accounts for every job, and for the
//! breaker and the budget (`breaker_opened`, `fast_failed`,
//! `budget_refused`): exit status 0 when all are done, 3 when some are still
//! pending after 60 s, 1 if any was lost or acknowledged twice. The code is
//! in `src/fleet.rs`.

use signal_workspace::fleet::{Faults, run};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: u64| match args.get(i) {
        None => Ok(default),
        Some(text) => text
            .parse::<u64>()
            .map_err(|_| format!("expected a whole number, found `{text}`")),
    };
    let (jobs, workers) = match (number(0, 2_000), number(1, 8)) {
        (Ok(jobs), Ok(workers)) if args.len() <= 2 && workers <= 1_000 => (jobs, workers as usize),
        (Err(error), _) | (_, Err(error)) => return usage(&error),
        _ => return usage("at most two arguments, and at most 1000 workers"),
    };
    let faults = Faults {
        pool_every: 40,
        pool_down: 5,
        timeout_every: 25,
    };
    match run(jobs, workers, faults, std::time::Duration::from_secs(60)).await {
        Ok(report) => {
            println!("{report}");
            if report.lost > 0 || report.duplicated > 0 {
                std::process::ExitCode::FAILURE
            } else if report.pending > 0 {
                std::process::ExitCode::from(3)
            } else {
                std::process::ExitCode::SUCCESS
            }
        }
        Err(error) => {
            eprintln!("fleet: {error}");
            std::process::ExitCode::from(2)
        }
    }
}

fn usage(error: &str) -> std::process::ExitCode {
    eprintln!("fleet: {error}\nusage: cargo run --example fleet -- [JOBS] [WORKERS]");
    std::process::ExitCode::from(2)
}
