//! What asking a signal question costs, measured side by side with the
//! alternatives in one run.
//!
//! ```sh
//! cargo bench --bench signal              # full run (about a minute)
//! cargo bench --bench signal -- --quick   # a few seconds, for a smoke test
//! ```
//!
//! Prints Markdown tables on stdout (progress goes to stderr). Every group is
//! measured in interleaved rounds: in each round every contender of the group
//! takes one sample (the starting contender rotates), so slow drifts of the
//! machine hit all contenders alike. A sample times a batch of calls sized to
//! about one millisecond and is reported per call. Tables give the median, the
//! 10th–90th percentile spread of the samples, and the ratio of medians to the
//! group's baseline (its first row). The goals table also gives the spread of
//! the per-round ratios.
//!
//! Groups:
//!
//! - `has` through six nested enums (a hit at the deepest leaf, and a miss at
//!   the same depth): a hand-written `match` method per enum, the derive, the
//!   derive asked at run time through `&dyn Signal`, and a dynamic walk of the
//!   `Error::source()` chain with `downcast_ref` (how `anyhow` and
//!   `error-stack` users ask).
//! - An aggregate of 10,000 per-message errors with the carrier last, in the
//!   example hierarchy of `signal_workspace::hierarchy`.
//! - `trace` relative to `has`, and building and rendering the signal map of a
//!   40-type hierarchy.

use std::hint::black_box;
use std::time::{Duration, Instant};

use signal_core::{Kind, Signal};
use signal_workspace::hierarchy::{NeedsDbReconnect, PoolNeedsConnection, Retryable};

// ---------------------------------------------------------------------------
// Six nested enums, derived. The same layout is written by hand in `manual`.
// Variants that are never built are still part of the layout being measured:
// they are the arms each `match` has to test.

#[allow(dead_code)]
mod derived {
    use super::{PoolNeedsConnection, Retryable};
    use signal_core::Signal;

    #[derive(Debug, Signal)]
    pub enum StorageError {
        #[signal(leaf = "PoolNeedsConnection")]
        PoolNeedsConnection,
        DisconnectInTransaction,
        #[signal(leaf = "Retryable")]
        Busy,
        NotFound(String),
    }

    #[derive(Debug, Signal)]
    pub enum ProcessingError {
        Storage(#[signal(forward)] StorageError),
        MergeStagedCommit {
            #[signal(forward)]
            source: StorageError,
            epoch: u64,
        },
        InvalidPayload,
    }

    #[derive(Debug, Signal)]
    pub enum GroupError {
        Storage(#[signal(forward)] StorageError),
        Processing(#[signal(forward)] ProcessingError),
        NotFound,
    }

    #[derive(Debug, Signal)]
    pub enum ClientError {
        Storage(#[signal(forward)] StorageError),
        Group(#[signal(forward)] Box<GroupError>),
        Identity(String),
    }

    #[derive(Debug, Signal)]
    pub enum DeviceSyncError {
        Storage(#[signal(forward)] StorageError),
        Client(#[signal(forward)] ClientError),
        #[signal(leaf = "Retryable")]
        Timeout,
    }

    #[derive(Debug, Signal)]
    pub enum TaskWorkerError {
        DeviceSync(#[signal(forward)] DeviceSyncError),
        Storage(#[signal(forward)] StorageError),
        Cancelled,
    }

    /// `TaskWorkerError → DeviceSyncError → ClientError → Box<GroupError> →
    /// ProcessingError → StorageError`, with `leaf` at the bottom.
    pub fn deep(leaf: StorageError) -> TaskWorkerError {
        TaskWorkerError::DeviceSync(DeviceSyncError::Client(ClientError::Group(Box::new(
            GroupError::Processing(ProcessingError::Storage(leaf)),
        ))))
    }
}

// ---------------------------------------------------------------------------
// The same six enums with the methods people write by hand, and `Error`
// impls whose `source()` reports every wrapped error (so the dynamic walk
// can reach the leaf at all).

#[allow(dead_code)]
mod manual {
    use std::error::Error;
    use std::fmt;

    #[derive(Debug)]
    pub enum StorageError {
        PoolNeedsConnection,
        DisconnectInTransaction,
        Busy,
        NotFound(String),
    }

    #[derive(Debug)]
    pub enum ProcessingError {
        Storage(StorageError),
        MergeStagedCommit { source: StorageError, epoch: u64 },
        InvalidPayload,
    }

    #[derive(Debug)]
    pub enum GroupError {
        Storage(StorageError),
        Processing(ProcessingError),
        NotFound,
    }

    #[derive(Debug)]
    pub enum ClientError {
        Storage(StorageError),
        Group(Box<GroupError>),
        Identity(String),
    }

    #[derive(Debug)]
    pub enum DeviceSyncError {
        Storage(StorageError),
        Client(ClientError),
        Timeout,
    }

    #[derive(Debug)]
    pub enum TaskWorkerError {
        DeviceSync(DeviceSyncError),
        Storage(StorageError),
        Cancelled,
    }

    pub fn deep(leaf: StorageError) -> TaskWorkerError {
        TaskWorkerError::DeviceSync(DeviceSyncError::Client(ClientError::Group(Box::new(
            GroupError::Processing(ProcessingError::Storage(leaf)),
        ))))
    }

    impl StorageError {
        pub fn needs_reconnect(&self) -> bool {
            match self {
                StorageError::PoolNeedsConnection => true,
                StorageError::DisconnectInTransaction
                | StorageError::Busy
                | StorageError::NotFound(_) => false,
            }
        }
    }

    impl ProcessingError {
        pub fn needs_reconnect(&self) -> bool {
            match self {
                ProcessingError::Storage(e) => e.needs_reconnect(),
                ProcessingError::MergeStagedCommit { source, .. } => source.needs_reconnect(),
                ProcessingError::InvalidPayload => false,
            }
        }
    }

    impl GroupError {
        pub fn needs_reconnect(&self) -> bool {
            match self {
                GroupError::Storage(e) => e.needs_reconnect(),
                GroupError::Processing(e) => e.needs_reconnect(),
                GroupError::NotFound => false,
            }
        }
    }

    impl ClientError {
        pub fn needs_reconnect(&self) -> bool {
            match self {
                ClientError::Storage(e) => e.needs_reconnect(),
                ClientError::Group(e) => e.needs_reconnect(),
                ClientError::Identity(_) => false,
            }
        }
    }

    impl DeviceSyncError {
        pub fn needs_reconnect(&self) -> bool {
            match self {
                DeviceSyncError::Storage(e) => e.needs_reconnect(),
                DeviceSyncError::Client(e) => e.needs_reconnect(),
                DeviceSyncError::Timeout => false,
            }
        }
    }

    impl TaskWorkerError {
        pub fn needs_reconnect(&self) -> bool {
            match self {
                TaskWorkerError::DeviceSync(e) => e.needs_reconnect(),
                TaskWorkerError::Storage(e) => e.needs_reconnect(),
                TaskWorkerError::Cancelled => false,
            }
        }
    }

    /// The dynamic way: follow `source()` and downcast at every hop.
    pub fn dynamic_needs_reconnect(error: &(dyn Error + 'static)) -> bool {
        let mut next = Some(error);
        while let Some(error) = next {
            if let Some(StorageError::PoolNeedsConnection) = error.downcast_ref::<StorageError>() {
                return true;
            }
            next = error.source();
        }
        false
    }

    macro_rules! display_as_debug {
        ($($ty:ident)*) => {$(
            impl fmt::Display for $ty {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    fmt::Debug::fmt(self, f)
                }
            }
        )*};
    }

    display_as_debug!(StorageError ProcessingError GroupError ClientError DeviceSyncError TaskWorkerError);

    impl Error for StorageError {}

    impl Error for ProcessingError {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            match self {
                ProcessingError::Storage(e) => Some(e),
                ProcessingError::MergeStagedCommit { source, .. } => Some(source),
                ProcessingError::InvalidPayload => None,
            }
        }
    }

    impl Error for GroupError {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            match self {
                GroupError::Storage(e) => Some(e),
                GroupError::Processing(e) => Some(e),
                GroupError::NotFound => None,
            }
        }
    }

    impl Error for ClientError {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            match self {
                ClientError::Storage(e) => Some(e),
                ClientError::Group(e) => Some(&**e),
                ClientError::Identity(_) => None,
            }
        }
    }

    impl Error for DeviceSyncError {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            match self {
                DeviceSyncError::Storage(e) => Some(e),
                DeviceSyncError::Client(e) => Some(e),
                DeviceSyncError::Timeout => None,
            }
        }
    }

    impl Error for TaskWorkerError {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            match self {
                TaskWorkerError::DeviceSync(e) => Some(e),
                TaskWorkerError::Storage(e) => Some(e),
                TaskWorkerError::Cancelled => None,
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The example hierarchy with hand-written `needs_reconnect` functions (free
// functions: the types live in another crate). They follow the derive's
// forwards, filters and skips, for `NeedsDbReconnect`.

mod manual_hierarchy {
    use signal_workspace::hierarchy::*;

    pub fn storage(e: &StorageError) -> bool {
        match e {
            StorageError::PoolNeedsConnection => true,
            StorageError::DisconnectInTransaction
            | StorageError::Busy
            | StorageError::NotFound(_) => false,
        }
    }

    pub fn processing(e: &GroupMessageProcessingError) -> bool {
        match e {
            GroupMessageProcessingError::Storage(e) => storage(e),
            GroupMessageProcessingError::MergeStagedCommit { source, .. } => storage(source),
            GroupMessageProcessingError::InvalidPayload => false,
        }
    }

    pub fn process_summary(s: &ProcessSummary) -> bool {
        s.errored.iter().any(|(_, e)| processing(e))
    }

    pub fn sync_summary(s: &SyncSummary) -> bool {
        s.publish_errors.iter().any(group)
            || process_summary(&s.process)
            || s.post_commit_errors.iter().any(group)
            || s.other.as_deref().is_some_and(group)
    }

    pub fn group(e: &GroupError) -> bool {
        match e {
            GroupError::Storage(e) => storage(e),
            GroupError::Sync(s) | GroupError::SyncFailedToWait(s) => sync_summary(s),
            GroupError::Client(e) => client(e),
            GroupError::NotFound => false,
        }
    }

    pub fn client(e: &ClientError) -> bool {
        match e {
            ClientError::Storage(e) => storage(e),
            ClientError::Group(e) => group(e),
            ClientError::Identity(_) => false,
        }
    }

    pub fn commit_log(e: &CommitLogError) -> bool {
        match e {
            CommitLogError::SyncError(s) => sync_summary(s),
            CommitLogError::GroupError(e) => group(e),
            CommitLogError::FailedReadds(all) => all.iter().any(commit_log),
            CommitLogError::KeystoreError(e) => storage(e),
        }
    }

    pub fn device_sync(e: &DeviceSyncError) -> bool {
        match e {
            DeviceSyncError::Sync(s) => sync_summary(s),
            DeviceSyncError::Storage(e) => storage(e),
            // Skipped by the derive too: device sync never reconnects for these.
            DeviceSyncError::Client(_) => false,
        }
    }

    pub fn task_worker(e: &TaskWorkerError) -> bool {
        match e {
            TaskWorkerError::Group(e) => group(e),
            TaskWorkerError::DeviceSync(e) => device_sync(e),
            TaskWorkerError::CommitLog(e) => commit_log(e),
            TaskWorkerError::Cancelled => false,
        }
    }

    /// `TaskWorkerError::Group → GroupError::Sync → SyncSummary.process →
    /// ProcessSummary.errored[_]`, with `count` per-message errors that carry
    /// nothing, followed by one that needs a reconnect.
    pub fn aggregate(count: usize) -> TaskWorkerError {
        let mut errored: Vec<(Cursor, GroupMessageProcessingError)> = (0..count - 1)
            .map(|i| {
                let error = match i % 4 {
                    0 => GroupMessageProcessingError::InvalidPayload,
                    1 => GroupMessageProcessingError::Storage(StorageError::Busy),
                    2 => {
                        GroupMessageProcessingError::Storage(StorageError::DisconnectInTransaction)
                    }
                    _ => GroupMessageProcessingError::MergeStagedCommit {
                        source: StorageError::Busy,
                        epoch: i as u64,
                    },
                };
                (Cursor(i as u64), error)
            })
            .collect();
        errored.push((
            Cursor(count as u64 - 1),
            GroupMessageProcessingError::Storage(StorageError::PoolNeedsConnection),
        ));
        TaskWorkerError::Group(GroupError::Sync(Box::new(SyncSummary {
            process: ProcessSummary {
                errored,
                processed: count,
            },
            ..SyncSummary::default()
        })))
    }
}

// ---------------------------------------------------------------------------
// A 40-type hierarchy for the signal map: one root, 4 + 10 wrappers, 25 leaf
// enums, with boxes, vectors, options, a filter and a skip on every wrapper.
// Only the static map is built: no value is ever constructed.

#[allow(dead_code)]
mod wide {
    use signal_core::{Signal, kind};

    kind! {
        /// The connection must be re-established.
        pub Reconnect;
        /// The pool is gone. Implies [`Reconnect`].
        pub PoolGone: Reconnect;
        /// Trying again may succeed.
        pub Retry;
        /// A deadline passed. Implies [`Retry`].
        pub TimedOut: Retry;
        /// Nothing will help.
        pub Fatal;
    }

    macro_rules! leaves {
        ($($name:ident: $first:ident, $second:ident;)*) => {$(
            #[derive(Debug, Signal)]
            pub enum $name {
                #[signal(leaf = $first)]
                First,
                #[signal(leaf = $second)]
                Second { code: u32 },
                Plain(String),
                Quiet,
            }
        )*};
    }

    macro_rules! wrappers {
        ($($name:ident: $own:ident, $a:ident, $b:ident, $c:ident;)*) => {$(
            #[derive(Debug, Signal)]
            pub enum $name {
                #[signal(leaf = $own)]
                Own,
                Direct(#[signal(forward)] $a),
                Many(#[signal(forward)] Vec<$b>),
                Maybe(#[signal(forward(except(Retry)))] Option<Box<$c>>),
                Reported(#[signal(skip = "reported to the caller, never acted on")] $a),
                Data { id: u64, detail: String },
            }
        )*};
    }

    leaves! {
        L00: PoolGone, Retry;     L01: TimedOut, Fatal;     L02: Reconnect, Retry;
        L03: Fatal, TimedOut;     L04: PoolGone, Fatal;     L05: Retry, Reconnect;
        L06: TimedOut, PoolGone;  L07: Fatal, Retry;        L08: Reconnect, TimedOut;
        L09: PoolGone, TimedOut;  L10: Retry, Fatal;        L11: TimedOut, Reconnect;
        L12: Fatal, PoolGone;     L13: PoolGone, Retry;     L14: Retry, TimedOut;
        L15: Reconnect, Fatal;    L16: TimedOut, Retry;     L17: Fatal, Reconnect;
        L18: PoolGone, Fatal;     L19: Retry, PoolGone;     L20: TimedOut, Fatal;
        L21: Reconnect, Retry;    L22: Fatal, TimedOut;     L23: PoolGone, Reconnect;
        L24: Retry, Fatal;
    }

    wrappers! {
        M0: Fatal, L00, L10, L20;      M1: Retry, L01, L11, L21;
        M2: Reconnect, L02, L12, L22;  M3: TimedOut, L03, L13, L23;
        M4: PoolGone, L04, L14, L24;   M5: Fatal, L05, L15, L05;
        M6: Retry, L06, L16, L06;      M7: Reconnect, L07, L17, L07;
        M8: TimedOut, L08, L18, L08;   M9: PoolGone, L09, L19, L09;
        W0: Retry, M0, M4, M8;         W1: Fatal, M1, M5, M9;
        W2: TimedOut, M2, M6, M2;      W3: Reconnect, M3, M7, M3;
    }

    #[derive(Debug, Signal)]
    pub enum Root {
        Zero(#[signal(forward)] W0),
        One(#[signal(forward)] Box<W1>),
        Two(#[signal(forward)] Vec<W2>),
        Three(#[signal(forward(except(Retry)))] Option<W3>),
        Cancelled,
    }
}

// ---------------------------------------------------------------------------
// The harness.

struct Config {
    quick: bool,
    /// Target duration of one sample.
    sample: Duration,
    /// Busy time before the first group, so the clock has settled.
    spin_up: Duration,
    /// Interleaved warm-up per group.
    warmup: Duration,
    /// Samples per contender.
    rounds: usize,
}

impl Config {
    fn from_args() -> Config {
        let quick = std::env::args().skip(1).any(|arg| arg == "--quick");
        if quick {
            Config {
                quick,
                sample: Duration::from_micros(200),
                spin_up: Duration::from_millis(200),
                warmup: Duration::from_millis(30),
                rounds: 21,
            }
        } else {
            Config {
                quick,
                sample: Duration::from_millis(1),
                spin_up: Duration::from_millis(1000),
                warmup: Duration::from_millis(300),
                rounds: 301,
            }
        }
    }
}

type Run<'a> = Box<dyn FnMut(u64) -> Duration + 'a>;

struct Contender<'a> {
    name: &'static str,
    run: Run<'a>,
    iters: u64,
    /// Nanoseconds per call, one per round.
    samples: Vec<f64>,
}

/// A contender calling `op` on `input`. The input passes through
/// `black_box` on every call, so nothing about the value is known at compile
/// time, and so does the result, so the call is never elided.
fn contender<'a, I: ?Sized, R>(
    name: &'static str,
    input: &'a I,
    op: impl Fn(&I) -> R + 'a,
) -> Contender<'a> {
    Contender {
        name,
        run: Box::new(move |iters| timed(input, &op, iters)),
        iters: 1,
        samples: Vec::new(),
    }
}

#[inline(never)]
fn timed<I: ?Sized, R, F: Fn(&I) -> R>(input: &I, op: &F, iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        black_box(op(black_box(input)));
    }
    start.elapsed()
}

struct Row {
    name: &'static str,
    samples: Vec<f64>,
    median: f64,
    p10: f64,
    p90: f64,
}

struct Group {
    title: &'static str,
    rows: Vec<Row>,
}

impl Group {
    fn row(&self, name: &str) -> &Row {
        self.rows
            .iter()
            .find(|row| row.name == name)
            .unwrap_or_else(|| panic!("no contender {name:?} in {:?}", self.title))
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = p * (sorted.len() - 1) as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (rank - low as f64)
}

fn measure(config: &Config, title: &'static str, mut contenders: Vec<Contender<'_>>) -> Group {
    eprintln!("measuring: {title}");
    let target = config.sample.as_nanos() as f64;
    // Calibrate: the batch size that makes one sample last about `sample`.
    for c in &mut contenders {
        let mut iters = 1u64;
        loop {
            let elapsed = (c.run)(iters).as_nanos() as f64;
            if elapsed >= target / 4.0 {
                iters = ((iters as f64 * target / elapsed).round() as u64).max(1);
                break;
            }
            iters *= 4;
        }
        c.iters = iters;
    }
    // Warm up, interleaved.
    let start = Instant::now();
    while start.elapsed() < config.warmup {
        for c in &mut contenders {
            (c.run)(c.iters);
        }
    }
    // Measure: one sample per contender per round, rotating who goes first.
    let n = contenders.len();
    for round in 0..config.rounds {
        for k in 0..n {
            let c = &mut contenders[(round + k) % n];
            let elapsed = (c.run)(c.iters);
            c.samples.push(elapsed.as_nanos() as f64 / c.iters as f64);
        }
    }
    let rows = contenders
        .into_iter()
        .map(|c| {
            let mut sorted = c.samples.clone();
            sorted.sort_by(f64::total_cmp);
            Row {
                name: c.name,
                median: percentile(&sorted, 0.5),
                p10: percentile(&sorted, 0.1),
                p90: percentile(&sorted, 0.9),
                samples: c.samples,
            }
        })
        .collect();
    Group { title, rows }
}

fn ns(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2}")
    } else if value < 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    }
}

fn print_group(group: &Group) {
    println!("### {}\n", group.title);
    println!("| contender | median ns/call | p10–p90 ns/call | ratio to first row |");
    println!("|---|---:|---:|---:|");
    let base = group.rows[0].median;
    for row in &group.rows {
        println!(
            "| {} | {} | {}–{} | {:.2}× |",
            row.name,
            ns(row.median),
            ns(row.p10),
            ns(row.p90),
            row.median / base
        );
    }
    println!();
}

/// A ratio between two contenders: of medians, and the spread of the
/// per-round ratios.
struct Ratio {
    label: String,
    value: f64,
    p10: f64,
    p90: f64,
    goal: Option<Goal>,
}

#[derive(Clone, Copy)]
enum Goal {
    AtMost(f64),
    AtLeast(f64),
}

fn ratio(label: &str, top: &Row, bottom: &Row, goal: Option<Goal>) -> Ratio {
    let mut paired: Vec<f64> = top
        .samples
        .iter()
        .zip(&bottom.samples)
        .map(|(a, b)| a / b)
        .collect();
    paired.sort_by(f64::total_cmp);
    Ratio {
        label: label.to_owned(),
        value: top.median / bottom.median,
        p10: percentile(&paired, 0.1),
        p90: percentile(&paired, 0.9),
        goal,
    }
}

fn print_ratios(ratios: &[Ratio]) {
    println!("### Goals and derived ratios\n");
    println!("| ratio | measured (of medians) | per-round p10–p90 | goal | verdict |");
    println!("|---|---:|---:|---:|---|");
    for r in ratios {
        let (goal, verdict) = match r.goal {
            Some(Goal::AtMost(limit)) => (
                format!("≤ {limit:.2}×"),
                if r.value <= limit {
                    "met"
                } else {
                    "**missed**"
                },
            ),
            Some(Goal::AtLeast(limit)) => (
                format!("≥ {limit:.0}×"),
                if r.value >= limit {
                    "met"
                } else {
                    "**missed**"
                },
            ),
            None => ("—".to_owned(), "—"),
        };
        println!(
            "| {} | {:.2}× | {:.2}–{:.2}× | {} | {} |",
            r.label, r.value, r.p10, r.p90, goal, verdict
        );
    }
    println!();
}

// ---------------------------------------------------------------------------

const HAND: &str = "hand-written `match` methods";
const DERIVED: &str = "`#[derive(Signal)]` `has::<K>()`";
const DYN_KIND: &str = "derived, `has_kind(id)` on `&dyn Signal`";
const DYNAMIC: &str = "`source()` chain + `downcast_ref`";
const TRACE: &str = "derived `trace::<K>()`";
const TRACE_RENDER: &str = "derived `trace::<K>()` + `to_string()`";
const MAP: &str = "`signal_core::map::<Root>()`";
const MARKDOWN: &str = "`to_markdown()` (map built)";
const MERMAID: &str = "`to_mermaid()` (map built)";

fn main() {
    let config = Config::from_args();
    let id = NeedsDbReconnect::ID;

    // Sanity: every contender answers the same thing before it is timed.
    let derived_hit = derived::deep(derived::StorageError::PoolNeedsConnection);
    let derived_miss = derived::deep(derived::StorageError::DisconnectInTransaction);
    let manual_hit = manual::deep(manual::StorageError::PoolNeedsConnection);
    let manual_miss = manual::deep(manual::StorageError::DisconnectInTransaction);
    for (carries, d, m) in [
        (true, &derived_hit, &manual_hit),
        (false, &derived_miss, &manual_miss),
    ] {
        assert_eq!(d.has::<NeedsDbReconnect>(), carries);
        assert_eq!((d as &dyn Signal).has_kind(id), carries);
        assert_eq!(m.needs_reconnect(), carries);
        assert_eq!(manual::dynamic_needs_reconnect(m), carries);
    }
    assert!(derived_hit.has::<PoolNeedsConnection>() && !derived_hit.has::<Retryable>());

    let aggregate = manual_hierarchy::aggregate(10_000);
    assert!(aggregate.has::<NeedsDbReconnect>());
    assert!(manual_hierarchy::task_worker(&aggregate));
    assert_eq!(
        aggregate.trace::<NeedsDbReconnect>().unwrap().to_string(),
        "TaskWorkerError::Group → GroupError::Sync → SyncSummary.process → \
         ProcessSummary.errored[9999].1 → GroupMessageProcessingError::Storage → \
         StorageError::PoolNeedsConnection (PoolNeedsConnection ⇒ NeedsDbReconnect)"
    );

    let map = signal_core::map::<wide::Root>();
    assert_eq!(map.types().len(), 40, "the wide hierarchy has 40 types");

    let start = Instant::now();
    while start.elapsed() < config.spin_up {
        black_box(manual::dynamic_needs_reconnect(black_box(&manual_miss)));
    }

    let deep_hit = measure(
        &config,
        "`has` through six nested enums: hit at the deepest leaf",
        vec![
            contender(HAND, &manual_hit, |e| e.needs_reconnect()),
            contender(DERIVED, &derived_hit, |e| e.has::<NeedsDbReconnect>()),
            contender(DYN_KIND, &derived_hit as &dyn Signal, move |e| {
                e.has_kind(id)
            }),
            contender(
                DYNAMIC,
                &manual_hit as &(dyn std::error::Error + 'static),
                manual::dynamic_needs_reconnect,
            ),
        ],
    );
    let deep_miss = measure(
        &config,
        "`has` through six nested enums: miss (benign leaf at the same depth)",
        vec![
            contender(HAND, &manual_miss, |e| e.needs_reconnect()),
            contender(DERIVED, &derived_miss, |e| e.has::<NeedsDbReconnect>()),
            contender(DYN_KIND, &derived_miss as &dyn Signal, move |e| {
                e.has_kind(id)
            }),
            contender(
                DYNAMIC,
                &manual_miss as &(dyn std::error::Error + 'static),
                manual::dynamic_needs_reconnect,
            ),
        ],
    );
    let wide = measure(
        &config,
        "Aggregate: 10,000 per-message errors, carrier last (example hierarchy)",
        vec![
            contender("hand-written functions and loop", &aggregate, |e| {
                manual_hierarchy::task_worker(e)
            }),
            contender(DERIVED, &aggregate, |e| e.has::<NeedsDbReconnect>()),
            contender(DYN_KIND, &aggregate as &dyn Signal, move |e| e.has_kind(id)),
            contender(TRACE, &aggregate, |e| e.trace::<NeedsDbReconnect>()),
        ],
    );
    let trace = measure(
        &config,
        "`trace` against `has`: hit at the deepest of six nested enums",
        vec![
            contender(DERIVED, &derived_hit, |e| e.has::<NeedsDbReconnect>()),
            contender(TRACE, &derived_hit, |e| e.trace::<NeedsDbReconnect>()),
            contender(TRACE_RENDER, &derived_hit, |e| {
                e.trace::<NeedsDbReconnect>().map(|t| t.to_string())
            }),
        ],
    );
    let maps = measure(
        &config,
        "Signal map of a 40-type hierarchy (5 kinds, 2 implications)",
        vec![
            contender(MAP, &(), |_| signal_core::map::<wide::Root>()),
            contender(MARKDOWN, &map, |m| m.to_markdown()),
            contender(MERMAID, &map, |m| m.to_mermaid()),
        ],
    );

    let ratios = [
        ratio(
            "derived ÷ hand-written, deep hit",
            deep_hit.row(DERIVED),
            deep_hit.row(HAND),
            Some(Goal::AtMost(1.05)),
        ),
        ratio(
            "derived ÷ hand-written, deep miss",
            deep_miss.row(DERIVED),
            deep_miss.row(HAND),
            Some(Goal::AtMost(1.05)),
        ),
        ratio(
            "dynamic walk ÷ derived, deep hit",
            deep_hit.row(DYNAMIC),
            deep_hit.row(DERIVED),
            Some(Goal::AtLeast(10.0)),
        ),
        ratio(
            "dynamic walk ÷ derived, deep miss",
            deep_miss.row(DYNAMIC),
            deep_miss.row(DERIVED),
            Some(Goal::AtLeast(10.0)),
        ),
        ratio(
            "`has_kind` on `dyn Signal` ÷ derived `has`, deep hit",
            deep_hit.row(DYN_KIND),
            deep_hit.row(DERIVED),
            None,
        ),
        ratio(
            "derived ÷ hand-written loop, 10,000-error aggregate",
            wide.row(DERIVED),
            wide.rows.first().expect("baseline"),
            Some(Goal::AtMost(1.1)),
        ),
        ratio(
            "`has_kind` on `dyn Signal` ÷ derived `has`, aggregate",
            wide.row(DYN_KIND),
            wide.row(DERIVED),
            None,
        ),
        ratio(
            "`trace` ÷ `has`, deep hit",
            trace.row(TRACE),
            trace.row(DERIVED),
            None,
        ),
        ratio(
            "`trace` + render ÷ `has`, deep hit",
            trace.row(TRACE_RENDER),
            trace.row(DERIVED),
            None,
        ),
        ratio(
            "`trace` ÷ `has`, aggregate",
            wide.row(TRACE),
            wide.row(DERIVED),
            None,
        ),
    ];

    println!(
        "## Runtime benchmarks{}\n",
        if config.quick {
            " (--quick: indicative only)"
        } else {
            ""
        }
    );
    println!(
        "{} rounds per group, samples of about {} µs each, interleaved.\n",
        config.rounds,
        config.sample.as_micros()
    );
    for group in [&deep_hit, &deep_miss, &wide, &trace, &maps] {
        print_group(group);
    }
    print_ratios(&ratios);
}
