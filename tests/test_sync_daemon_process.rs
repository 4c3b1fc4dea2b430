//! The sync daemon as a real child process (the `sync_daemon` binary, the
//! same program as the main example): killed with SIGKILL in the middle of a
//! run and restarted on the same `--dir`, it finishes the queue with every
//! job committed exactly once; a soak at fault rate 0.5 with 64 workers ends
//! with its accounting line; and a run without `--dir` leaves nothing behind,
//! also when interrupted with Ctrl-C.
//!
//! Every check of exactly-once reads the database itself, not only the
//! daemon's own accounting line.

#![cfg(unix)]

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

const DAEMON: &str = env!("CARGO_BIN_EXE_sync_daemon");

/// A directory under the system's temporary directory, removed when the
/// test ends (passed or failed).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "sync-daemon-test-{name}-{}-{stamp}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running daemon; killed if the test gives up on it.
struct Daemon {
    child: Child,
}

impl Daemon {
    fn start(args: &[&str], env: &[(&str, &Path)]) -> Daemon {
        let mut command = Command::new(DAEMON);
        command
            .args(["--quiet", "--log", "off"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        Daemon {
            child: command.spawn().expect("start the sync_daemon binary"),
        }
    }

    fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the daemon to exit by itself, failing the test after
    /// `limit` (a hang guard). Returns its status, stdout and stderr.
    fn finish(mut self, limit: Duration) -> (ExitStatus, String, String) {
        let started = Instant::now();
        // Read the pipes on threads, so a chatty child cannot block on them.
        let mut stdout = self.child.stdout.take().unwrap();
        let mut stderr = self.child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        });
        let err = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "the daemon did not exit within {limit:?}; stderr:\n{}",
                    err.join().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        (status, out.join().unwrap(), err.join().unwrap())
    }

    /// SIGKILL, then reap.
    fn kill(mut self) -> ExitStatus {
        self.child.kill().unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The `key=value` fields of the accounting line (the line starting with
/// `jobs=`).
fn accounting(stdout: &str) -> BTreeMap<String, String> {
    let line = stdout
        .lines()
        .find(|line| line.starts_with("jobs="))
        .unwrap_or_else(|| panic!("no accounting line in:\n{stdout}"));
    line.split_whitespace()
        .filter_map(|field| field.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

fn field(fields: &BTreeMap<String, String>, key: &str) -> u64 {
    fields
        .get(key)
        .unwrap_or_else(|| panic!("no {key}= in {fields:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("{key}= is not a number in {fields:?}"))
}

/// What the database holds, read directly.
#[derive(Debug, Default, PartialEq, Eq)]
struct Queue {
    jobs: u64,
    done: u64,
    dead: u64,
    pending: u64,
    claimed: u64,
    bad_credentials: u64,
    commits: u64,
    /// Done jobs with exactly one commit.
    done_once: u64,
    /// Commits of jobs that are not done, and commits beyond a job's first.
    stray_commits: u64,
}

impl Queue {
    /// `None` while the daemon has not created the queue yet.
    fn read(dir: &Path) -> Option<Queue> {
        let path = dir.join("jobs.db");
        if !path.exists() {
            return None;
        }
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        let one = |sql: &str| {
            conn.query_row(sql, [], |row| row.get::<_, i64>(0))
                .map(|n| n as u64)
        };
        // Before the first commit of the schema, the tables do not exist.
        let jobs = one("SELECT count(*) FROM jobs").ok()?;
        Some(Queue {
            jobs,
            done: one("SELECT count(*) FROM jobs WHERE state = 'done'").unwrap(),
            dead: one("SELECT count(*) FROM jobs WHERE state = 'dead'").unwrap(),
            pending: one("SELECT count(*) FROM jobs WHERE state = 'pending'").unwrap(),
            claimed: one("SELECT count(*) FROM jobs WHERE state = 'claimed'").unwrap(),
            bad_credentials: one("SELECT count(*) FROM jobs WHERE creds = 'bad'").unwrap(),
            commits: one("SELECT count(*) FROM commits").unwrap(),
            done_once: one(
                "SELECT count(*) FROM jobs j
                 JOIN (SELECT job_id FROM commits GROUP BY job_id HAVING count(*) = 1) c
                   ON c.job_id = j.id
                 WHERE j.state = 'done'",
            )
            .unwrap(),
            stray_commits: one(
                "SELECT (SELECT count(*) FROM commits c JOIN jobs j ON j.id = c.job_id AND j.state <> 'done')
                      + (SELECT count(*) - count(DISTINCT job_id) FROM commits)
                      + (SELECT count(*) FROM commits WHERE job_id NOT IN (SELECT id FROM jobs))",
            )
            .unwrap(),
        })
    }

    fn finished(&self) -> u64 {
        self.done + self.dead
    }

    /// Jobs done or dead-lettered, cheaply (for polling a running daemon).
    fn finished_in(dir: &Path) -> Option<u64> {
        let path = dir.join("jobs.db");
        if !path.exists() {
            return None;
        }
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
        conn.busy_timeout(Duration::from_secs(5)).ok()?;
        conn.query_row(
            "SELECT count(*) FROM jobs WHERE state IN ('done', 'dead')",
            [],
            |row| row.get::<_, i64>(0),
        )
        .ok()
        .map(|n| n as u64)
    }

    /// Exactly once, whatever is still to do: every done job has one
    /// commit, and no commit belongs to anything else.
    fn assert_consistent(&self) {
        assert_eq!(self.done_once, self.done, "{self:?}");
        assert_eq!(self.commits, self.done, "{self:?}");
        assert_eq!(self.stray_commits, 0, "{self:?}");
        assert_eq!(
            self.done + self.dead + self.pending + self.claimed,
            self.jobs,
            "{self:?}"
        );
    }
}

/// Waits until the daemon has finished at least `target` jobs, then kills it
/// with SIGKILL. Returns the queue as the dead process left it.
fn kill_after(mut daemon: Daemon, dir: &Path, target: u64) -> Queue {
    let started = Instant::now();
    loop {
        assert!(
            daemon.is_running(),
            "the daemon exited before it had finished {target} jobs"
        );
        if Queue::finished_in(dir).is_some_and(|finished| finished >= target) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the daemon did not finish {target} jobs within 120 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = daemon.kill();
    assert_eq!(status.signal(), Some(9), "killed with SIGKILL: {status:?}");
    Queue::read(dir).expect("the queue survives the kill")
}

const JOBS: u64 = 5_000;

fn run_args(dir: &Path) -> Vec<String> {
    [
        "--dir",
        dir.to_str().unwrap(),
        "--jobs",
        &JOBS.to_string(),
        "--workers",
        "8",
        "--fault-rate",
        "0.05",
        "--bad-rate",
        "0.01",
        "--seed",
        "3",
        "--duration",
        "120",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Kill -9 twice in the middle of a run, restart on the same directory each
/// time: the queue is enqueued once, the dead runs' claims are handed back,
/// and the last run ends with every job committed exactly once.
#[test]
fn test_sigkill_mid_run_then_resume_commits_exactly_once() {
    let dir = TempDir::new("kill");
    let args = run_args(dir.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let first = kill_after(Daemon::start(&args, &[]), dir.path(), JOBS / 10);
    println!("after the first kill: {first:?}");
    assert_eq!(first.jobs, JOBS);
    assert!(first.finished() < JOBS, "killed mid-run: {first:?}");
    first.assert_consistent();

    // The second run resumes, and is killed too.
    let second = kill_after(
        Daemon::start(&args, &[]),
        dir.path(),
        first.finished() + JOBS / 10,
    );
    println!("after the second kill: {second:?}");
    assert_eq!(second.jobs, JOBS, "nothing was enqueued twice");
    assert!(second.finished() < JOBS, "killed mid-run: {second:?}");
    second.assert_consistent();

    // The third run finishes.
    let (status, stdout, stderr) = Daemon::start(&args, &[]).finish(Duration::from_secs(180));
    println!("{stdout}");
    assert!(status.success(), "{status:?}\n{stdout}\n{stderr}");
    assert!(stdout.contains("resumed the queue"), "{stdout}");
    let fields = accounting(&stdout);
    assert_eq!(field(&fields, "jobs"), JOBS, "{stdout}");
    assert_eq!(field(&fields, "pending"), 0, "{stdout}");
    assert_eq!(field(&fields, "lost"), 0, "{stdout}");
    assert_eq!(field(&fields, "duplicated"), 0, "{stdout}");
    assert_eq!(
        field(&fields, "reclaimed"),
        second.claimed,
        "every claim of the killed run was handed back: {stdout}"
    );

    let last = Queue::read(dir.path()).unwrap();
    println!("at the end: {last:?}");
    last.assert_consistent();
    assert_eq!(last.jobs, JOBS, "nothing was enqueued twice");
    assert_eq!(last.finished(), JOBS, "{last:?}");
    assert_eq!((last.pending, last.claimed), (0, 0), "{last:?}");
    assert_eq!(last.dead, last.bad_credentials, "{last:?}");
    assert_eq!(field(&fields, "committed"), last.done, "{stdout}");
}

/// Fault rate 0.5 (half of all requests fail, and every commit has the pool
/// dropped) with 64 workers: the run is bounded, ends with its accounting
/// line, and loses or duplicates nothing, finished or not.
#[test]
fn test_soak_at_fault_rate_half_with_64_workers_ends_with_its_accounting() {
    let dir = TempDir::new("soak");
    let args = [
        "--dir",
        dir.path().to_str().unwrap(),
        "--jobs",
        "1000",
        "--workers",
        "64",
        "--fault-rate",
        "0.5",
        "--seed",
        "7",
        "--duration",
        "30",
    ];
    // Hang guard: the deadline, plus grace, accounting and a slow machine.
    let (status, stdout, stderr) = Daemon::start(&args, &[]).finish(Duration::from_secs(90));
    println!("{stdout}");
    let fields = accounting(&stdout);
    assert_eq!(field(&fields, "lost"), 0, "{stdout}");
    assert_eq!(field(&fields, "duplicated"), 0, "{stdout}");
    assert!(field(&fields, "pool_rebuilds") > 0, "{stdout}");
    let pending = field(&fields, "pending");
    let expected = if pending == 0 { 0 } else { 3 };
    assert_eq!(
        status.code(),
        Some(expected),
        "exit status 0 when done, 3 when work remains: {stdout}\n{stderr}"
    );

    let queue = Queue::read(dir.path()).unwrap();
    queue.assert_consistent();
    assert_eq!(queue.jobs, 1000);
    assert_eq!(queue.pending + queue.claimed, pending, "{queue:?}");
    assert_eq!(field(&fields, "committed"), queue.done, "{stdout}");
}

/// Without `--dir`, the temporary directory is removed at exit; `--keep`
/// keeps it, with the database and the signal map. (The child's temporary
/// directory is pointed into this test's own.)
#[test]
fn test_temporary_directory_is_removed_unless_kept() {
    let tmp = TempDir::new("tmp");
    let args = ["--jobs", "200", "--fault-rate", "0", "--bad-rate", "0"];
    let (status, stdout, stderr) =
        Daemon::start(&args, &[("TMPDIR", tmp.path())]).finish(Duration::from_secs(60));
    assert!(status.success(), "{status:?}\n{stdout}\n{stderr}");
    assert_eq!(field(&accounting(&stdout), "committed"), 200, "{stdout}");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");

    let mut kept = args.to_vec();
    kept.push("--keep");
    let (status, stdout, _) =
        Daemon::start(&kept, &[("TMPDIR", tmp.path())]).finish(Duration::from_secs(60));
    assert!(status.success(), "{stdout}");
    let dirs: Vec<PathBuf> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    assert!(dirs[0].join("jobs.db").exists());
    assert!(dirs[0].join("signal-map.md").exists());
    assert!(
        stdout.contains("signal map of WorkerError written to"),
        "{stdout}"
    );
}

/// Ctrl-C (SIGINT) stops a run as its deadline would: the workers commit
/// what they hold, the accounting runs, and the temporary directory is
/// removed. SIGKILL, which no program can handle, leaves it behind: the
/// same check sees it.
#[test]
fn test_interrupted_run_stops_cleanly_and_leaves_nothing() {
    let tmp = TempDir::new("interrupt");
    let args = ["--jobs", "100000", "--duration", "60"];
    let run_dir = |tmp: &Path| -> Option<PathBuf> {
        let dir = std::fs::read_dir(tmp).ok()?.next()?.ok()?.path();
        Queue::finished_in(&dir)
            .is_some_and(|n| n >= 200)
            .then_some(dir)
    };
    let wait_for_progress = |daemon: &mut Daemon| {
        let started = Instant::now();
        while run_dir(tmp.path()).is_none() {
            assert!(daemon.is_running(), "the daemon exited early");
            assert!(started.elapsed() < Duration::from_secs(60), "no progress");
            std::thread::sleep(Duration::from_millis(20));
        }
    };

    let mut daemon = Daemon::start(&args, &[("TMPDIR", tmp.path())]);
    wait_for_progress(&mut daemon);
    let pid = daemon.child.id().to_string();
    let kill = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(kill.success());
    let (status, stdout, stderr) = daemon.finish(Duration::from_secs(60));
    println!("{stdout}");
    assert_eq!(status.code(), Some(3), "{stdout}\n{stderr}");
    let fields = accounting(&stdout);
    assert!(stdout.contains("ended=interrupted"), "{stdout}");
    assert!(field(&fields, "pending") > 0, "{stdout}");
    assert_eq!(field(&fields, "lost"), 0, "{stdout}");
    assert_eq!(field(&fields, "duplicated"), 0, "{stdout}");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");

    let mut daemon = Daemon::start(&args, &[("TMPDIR", tmp.path())]);
    wait_for_progress(&mut daemon);
    assert_eq!(daemon.kill().signal(), Some(9));
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "SIGKILL leaves the directory: {left:?}");
}

/// A second daemon on a directory in use refuses to start, rather than
/// take over the first one's claims.
#[test]
fn test_second_daemon_on_the_same_directory_is_refused() {
    let dir = TempDir::new("busy");
    let dir_arg = dir.path().to_str().unwrap();
    let first = Daemon::start(
        &["--dir", dir_arg, "--jobs", "1000000", "--duration", "60"],
        &[],
    );
    // Wait until the first one holds the directory (its queue exists).
    let started = Instant::now();
    while Queue::read(dir.path()).is_none() {
        assert!(started.elapsed() < Duration::from_secs(60), "no queue yet");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, stdout, stderr) =
        Daemon::start(&["--dir", dir_arg, "--jobs", "10"], &[]).finish(Duration::from_secs(60));
    assert_eq!(status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("in use by another sync_daemon"), "{stderr}");
    drop(first); // killed
}

/// `--duration` bounds the process even when the database stops taking
/// writes: another connection holds its write lock, every worker waits on it
/// (busy timeout 5 s), the grace period (2 s) runs out and they are aborted;
/// the accounting still runs, and the run reports its unfinished jobs as
/// pending, not lost.
#[test]
fn test_deadline_with_a_wedged_database_aborts_workers_and_exits() {
    let dir = TempDir::new("wedged");
    let args = [
        "--dir",
        dir.path().to_str().unwrap(),
        "--jobs",
        "20000",
        "--fault-rate",
        "0.02",
        "--duration",
        "6",
    ];
    let mut daemon = Daemon::start(&args, &[]);
    let started = Instant::now();
    while Queue::finished_in(dir.path()).is_none_or(|finished| finished < 200) {
        assert!(daemon.is_running(), "the daemon exited before the lock");
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Take the write lock and keep it until the daemon is gone.
    let mut blocker = Connection::open(dir.path().join("jobs.db")).unwrap();
    blocker.busy_timeout(Duration::from_secs(10)).unwrap();
    let tx = blocker
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    tx.execute("UPDATE meta SET value = value", []).unwrap();
    assert!(daemon.is_running(), "the daemon exited before the lock");

    let (status, stdout, stderr) = daemon.finish(Duration::from_secs(60));
    drop(tx); // rolled back
    println!("{stdout}");
    let fields = accounting(&stdout);
    assert_eq!(status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("ended=deadline (") && stdout.contains("workers aborted)"),
        "{stdout}"
    );
    assert!(field(&fields, "pending") > 0, "{stdout}");
    assert_eq!(field(&fields, "lost"), 0, "{stdout}");
    assert_eq!(field(&fields, "duplicated"), 0, "{stdout}");
    let queue = Queue::read(dir.path()).unwrap();
    queue.assert_consistent();
    assert_eq!(
        queue.finished(),
        field(&fields, "committed") + field(&fields, "dead_lettered")
    );
}
