//! The bundled SQLite must not deadlock when connections to one WAL database
//! close at the same time. SQLite 3.51.1 (bundled by rusqlite 0.38) did: a
//! thread in `unixClose` holds the VFS's global mutex and waits for the
//! file's lock mutex, while the last connection's `sqlite3WalClose` holds
//! that lock mutex (in `unixLock`) and waits for the global one. Every later
//! `Connection::open` then queues behind them. The sync daemon hung this way
//! when a dropped pool's connections were closed while the rebuilt pool
//! opened new ones.
//!
//! Threads open a connection each, read, meet at a barrier and close
//! together, for a bounded number of rounds. With 3.51.1 this hangs within a
//! second or two; a watchdog turns the hang into a failure.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use rusqlite::Connection;

const THREADS: usize = 4;
const ROUNDS: u64 = 1_500;

#[test]
fn test_concurrent_close_of_wal_connections_does_not_deadlock() {
    let dir = std::env::temp_dir().join(format!(
        "sqlite-close-race-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    struct Remove(std::path::PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _remove = Remove(dir.clone());
    let path = dir.join("race.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();

    let rounds = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (path, rounds, barrier) = (path.clone(), Arc::clone(&rounds), Arc::clone(&barrier));
            std::thread::spawn(move || {
                for _ in 0..ROUNDS {
                    let conn = Connection::open(&path).unwrap();
                    conn.busy_timeout(Duration::from_secs(5)).unwrap();
                    let _: i64 = conn
                        .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
                        .unwrap();
                    barrier.wait();
                    drop(conn);
                    rounds.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    // Watchdog: fail if no connection closes for 20 s (the deadlocked
    // threads stay blocked; the test process ends with the test).
    let mut last = (0, Instant::now());
    while rounds.load(Ordering::Relaxed) < THREADS as u64 * ROUNDS {
        std::thread::sleep(Duration::from_millis(50));
        let now = rounds.load(Ordering::Relaxed);
        if now != last.0 {
            last = (now, Instant::now());
        }
        assert!(
            last.1.elapsed() < Duration::from_secs(20),
            "deadlocked after {now} closes: SQLite's unix VFS mutexes (SQLite {})",
            rusqlite::version()
        );
    }
    for thread in threads {
        thread.join().unwrap();
    }
}
