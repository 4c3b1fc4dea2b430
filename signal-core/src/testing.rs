//! Test helpers: one-line propagation assertions, case tables, and snapshots
//! of a type's signal map.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;
use std::path::Path;

use crate::kind::KindId;
use crate::signal::Signal;

pub use crate::fixture::{Fixture, FixtureCx};

/// Asserts that a value carries a kind; on failure, says so with the value's
/// type. On success, returns nothing; use [`Signal::trace`] to inspect the
/// path.
///
/// ```
/// # use signal_core::{kind, Signal, assert_signal, assert_no_signal};
/// # kind! { pub Reconnect; }
/// # #[derive(Signal)] enum E { #[signal(leaf = "Reconnect")] Gone, Fine }
/// assert_signal!(E::Gone, Reconnect);
/// assert_no_signal!(E::Fine, Reconnect);
/// ```
#[macro_export]
macro_rules! assert_signal {
    ($value:expr, $kind:ty $(,)?) => {
        $crate::testing::__assert_signal(
            &$value,
            <$kind as $crate::Kind>::ID,
            ::core::stringify!($value),
        )
    };
}

/// Asserts that a value does not carry a kind; on failure, prints every path
/// through which it does.
///
/// ```should_panic
/// use signal_core::{Signal, assert_no_signal, kind};
///
/// kind! { pub Retryable; }
///
/// #[derive(Signal)]
/// enum JobError {
///     #[signal(leaf = "Retryable")]
///     Busy,
/// }
///
/// // Panics: "expected `vec![JobError::Busy]` not to carry Retryable, but it
/// // does through:\n  [0] → JobError::Busy (Retryable)"
/// assert_no_signal!(vec![JobError::Busy], Retryable);
/// ```
#[macro_export]
macro_rules! assert_no_signal {
    ($value:expr, $kind:ty $(,)?) => {
        $crate::testing::__assert_no_signal(
            &$value,
            <$kind as $crate::Kind>::ID,
            ::core::stringify!($value),
        )
    };
}

/// Checks a table of cases for one kind in one call: every value after
/// `carries:` must carry it, every value after `clean:` must not. All cases
/// are checked before failing, and the failure lists each wrong one with its
/// paths.
///
/// ```
/// # use signal_core::{kind, Signal, assert_cases};
/// # kind! { pub Reconnect; }
/// # #[derive(Signal)] enum E { #[signal(leaf = "Reconnect")] Gone, Fine }
/// # #[derive(Signal)] enum W { E(#[signal(forward)] E) }
/// assert_cases!(Reconnect;
///     carries: [E::Gone, W::E(E::Gone), vec![E::Fine, E::Gone]],
///     clean: [E::Fine, W::E(E::Fine), Vec::<E>::new()],
/// );
/// ```
#[macro_export]
macro_rules! assert_cases {
    ($kind:ty; carries: [$($yes:expr),* $(,)?], clean: [$($no:expr),* $(,)?] $(,)?) => {{
        let mut __cases = $crate::testing::Cases::new(<$kind as $crate::Kind>::ID);
        $(__cases.expect(true, &$yes, ::core::stringify!($yes));)*
        $(__cases.expect(false, &$no, ::core::stringify!($no));)*
        __cases.finish();
    }};
}

#[doc(hidden)]
#[track_caller]
pub fn __assert_signal(value: &dyn Signal, kind: KindId, expr: &str) {
    if !value.has_kind(kind) {
        panic!(
            "expected `{expr}` to carry {kind}, but no path reaches a leaf raising it \
             (a wrapper on the way may be skipped, filtered, or missing a leaf)"
        );
    }
}

#[doc(hidden)]
#[track_caller]
pub fn __assert_no_signal(value: &dyn Signal, kind: KindId, expr: &str) {
    let traces = value.traces_kind(kind);
    if !traces.is_empty() {
        let mut message =
            alloc::format!("expected `{expr}` not to carry {kind}, but it does through:");
        for trace in traces {
            let _ = write!(message, "\n  {trace}");
        }
        panic!("{message}");
    }
}

/// A table of positive and negative cases for one kind. Built by
/// [`assert_cases!`](crate::assert_cases!); usable directly, for cases
/// built in a loop.
///
/// ```
/// use signal_core::testing::Cases;
/// use signal_core::{Kind, Signal, kind};
///
/// kind! { pub Retryable; }
///
/// #[derive(Signal)]
/// enum HttpError {
///     #[signal(leaf = "Retryable", when = "HttpError::is_server_side")]
///     Status(u16),
/// }
///
/// impl HttpError {
///     fn is_server_side(&self) -> bool {
///         matches!(self, HttpError::Status(500..=599))
///     }
/// }
///
/// let mut cases = Cases::new(Retryable::ID);
/// for status in [400, 401, 404, 499, 500, 503, 599] {
///     let error = HttpError::Status(status);
///     cases.expect(status >= 500, &error, &format!("HttpError::Status({status})"));
/// }
/// cases.finish(); // panics listing every wrong case, if any
/// ```
pub struct Cases {
    kind: KindId,
    failures: Vec<String>,
    checked: usize,
}

impl Cases {
    /// An empty table for `kind`.
    pub fn new(kind: KindId) -> Self {
        Cases {
            kind,
            failures: Vec::new(),
            checked: 0,
        }
    }

    /// Records one case: `value` (written as `expr`) should carry the kind
    /// exactly when `carries`.
    pub fn expect(&mut self, carries: bool, value: &dyn Signal, expr: &str) {
        self.checked += 1;
        let traces = value.traces_kind(self.kind);
        match (carries, traces.is_empty()) {
            (true, true) => self
                .failures
                .push(alloc::format!("`{expr}` should carry it, and does not")),
            (false, false) => {
                let mut line = alloc::format!("`{expr}` should not carry it, but does through:");
                for trace in traces {
                    let _ = write!(line, "\n      {trace}");
                }
                self.failures.push(line);
            }
            _ => {}
        }
    }

    /// Panics listing every failed case, if any.
    #[track_caller]
    pub fn finish(self) {
        if !self.failures.is_empty() {
            let mut message = alloc::format!(
                "{} of {} cases for {} failed:",
                self.failures.len(),
                self.checked,
                self.kind
            );
            for failure in &self.failures {
                let _ = write!(message, "\n  - {failure}");
            }
            panic!("{message}");
        }
    }
}

/// Compares the Markdown signal map of a type with a committed file,
/// relative to the calling crate's manifest directory. Fails with a line diff
/// when a path appears or disappears. With `SIGNAL_SNAPSHOT=overwrite` in the
/// environment, rewrites the file instead (and creates it if missing).
///
/// ```no_run
/// # use signal_core::{kind, Signal};
/// # kind! { pub Reconnect; }
/// # #[derive(Signal)] enum WorkerError { #[signal(leaf = "Reconnect")] Gone }
/// signal_core::assert_map_snapshot!(WorkerError, "docs/worker-error-signals.md");
/// ```
#[macro_export]
macro_rules! assert_map_snapshot {
    ($ty:ty, $path:expr $(,)?) => {
        $crate::testing::check_snapshot(
            &$crate::map::<$ty>().to_markdown(),
            &::std::path::Path::new(::core::env!("CARGO_MANIFEST_DIR")).join($path),
        )
    };
}

/// The result of comparing rendered text with a snapshot file.
#[derive(Debug, PartialEq, Eq)]
pub enum SnapshotOutcome {
    /// The file matched.
    Matched,
    /// The file was written (overwrite mode).
    Written,
}

/// Compares `actual` with the file at `path` (see
/// [`assert_map_snapshot!`](crate::assert_map_snapshot!)): with
/// `SIGNAL_SNAPSHOT=overwrite` in the environment, writes it instead.
///
/// ```no_run
/// use signal_core::testing::{SnapshotOutcome, check_snapshot};
/// use std::path::Path;
///
/// let rendered = "# Signal map of `Worker`\n";
/// let outcome = check_snapshot(rendered, Path::new("docs/worker-signals.md"));
/// assert_eq!(outcome, SnapshotOutcome::Matched); // or `Written`, in overwrite mode
/// ```
///
/// # Panics
///
/// When the file differs or is missing, outside overwrite mode.
#[track_caller]
pub fn check_snapshot(actual: &str, path: &Path) -> SnapshotOutcome {
    let overwrite = std::env::var("SIGNAL_SNAPSHOT").is_ok_and(|mode| mode == "overwrite");
    match compare_snapshot(actual, path, overwrite) {
        Ok(outcome) => outcome,
        Err(message) => panic!("{message}"),
    }
}

/// Like [`check_snapshot`], returning the failure message instead of
/// panicking; `overwrite` replaces the environment variable.
///
/// ```
/// use signal_core::testing::compare_snapshot;
/// use std::path::Path;
///
/// let missing = Path::new("no-such-directory/signals.md");
/// let failure = compare_snapshot("# Signal map\n", missing, false).unwrap_err();
/// assert!(failure.contains("create it with SIGNAL_SNAPSHOT=overwrite"));
/// ```
pub fn compare_snapshot(
    actual: &str,
    path: &Path,
    overwrite: bool,
) -> Result<SnapshotOutcome, String> {
    if overwrite {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| alloc::format!("creating {}: {e}", dir.display()))?;
        }
        std::fs::write(path, actual)
            .map_err(|e| alloc::format!("writing {}: {e}", path.display()))?;
        return Ok(SnapshotOutcome::Written);
    }
    let expected = std::fs::read_to_string(path).map_err(|e| {
        alloc::format!(
            "cannot read signal map snapshot {}: {e}\n\
             create it with SIGNAL_SNAPSHOT=overwrite",
            path.display()
        )
    })?;
    if expected == actual {
        return Ok(SnapshotOutcome::Matched);
    }
    Err(alloc::format!(
        "signal map differs from {}:\n{}\n\
         if the change is intended, rerun with SIGNAL_SNAPSHOT=overwrite and commit the file",
        path.display(),
        line_diff(&expected, actual)
    ))
}

/// The lines that differ between two texts: `- ` before a line only in
/// `expected`, `+ ` before a line only in `actual`, in order. Equal lines
/// are left out. Empty when the texts have the same lines.
///
/// Computed with `similar`'s Myers diff: time and memory grow with the
/// length of the texts and the number of changes, not with their product.
///
/// ```
/// use signal_core::testing::line_diff;
///
/// let expected = "# Signal map\n- `A → B`\n- `A → C`\n";
/// let actual = "# Signal map\n- `A → C`\n- `A → D`\n";
/// assert_eq!(line_diff(expected, actual), "- - `A → B`\n+ - `A → D`\n");
/// assert_eq!(line_diff(expected, expected), "");
/// ```
pub fn line_diff(expected: &str, actual: &str) -> String {
    let diff = similar::TextDiff::from_lines(expected, actual);
    let mut out = String::new();
    for change in diff.iter_all_changes() {
        let sign = match change.tag() {
            similar::ChangeTag::Equal => continue,
            similar::ChangeTag::Delete => '-',
            similar::ChangeTag::Insert => '+',
        };
        let line = change.value();
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let _ = writeln!(out, "{sign} {line}");
    }
    out
}

/// One value of `E` per static path to a leaf that the derive can build
/// without help: unit leaves, leaves whose fields all implement `Default`,
/// and forwarded fields wrapped in `Box`, `Arc`, `Rc`, `Option`, `Vec`,
/// `VecDeque` or tuples, with every other field `Default`. Each recursive
/// type is entered once per path.
///
/// Not generated: a variant with a field that is neither forwarded nor
/// `Default`, and a tuple with a data element that is not `Default` (give the
/// type a `Default`, or build the case by hand);
/// leaves inside arrays, slices, references and map values; paths through
/// trait objects or hand-written impls.
///
/// Use [`assert_fixtures!`](crate::assert_fixtures!) to check them all.
///
/// Needs the `fixtures` feature (in dev-dependencies: it multiplies the code
/// the derive emits):
///
/// ```toml
/// [dev-dependencies]
/// signal-core = { version = "0.1", features = ["fixtures"] }
/// ```
///
/// ```
/// use signal_core::{Signal, kind};
///
/// kind! {
///     pub Retryable;
///     pub NeedsReconnect;
/// }
///
/// #[derive(Debug, Signal)]
/// enum Storage {
///     #[signal(leaf = "Retryable")]
///     Busy,
///     #[signal(leaf = "NeedsReconnect")]
///     PoolGone,
/// }
///
/// #[derive(Debug, Signal)]
/// struct Batch {
///     #[signal(forward(except(Retryable)))]
///     errors: Vec<(u64, Storage)>,
/// }
///
/// let fixtures = signal_core::testing::fixtures::<Batch>();
/// assert_eq!(fixtures.len(), 2); // one per leaf reachable through `errors`
/// let carries: Vec<bool> = fixtures.iter().map(|f| f.value.has::<Retryable>()).collect();
/// assert_eq!(carries, [false, false]); // held back by `except`
/// ```
#[cfg(feature = "fixtures")]
#[cfg_attr(docsrs, doc(cfg(feature = "fixtures")))]
pub fn fixtures<E: Signal>() -> Vec<Fixture<E>> {
    E::__fixtures(&mut FixtureCx::default())
}

/// Builds every [`fixtures`] value of a type and checks each against every
/// kind of its signal map: it must carry exactly the kinds its leaf implies
/// and its path's filters let through — a positive and a negative test per
/// path and kind. Evaluates to the number of fixtures checked.
///
/// ```
/// # use signal_core::{kind, Signal};
/// # kind! { pub Reconnect; pub Retryable; }
/// # #[derive(Signal)] enum Storage { #[signal(leaf = "Reconnect")] Gone, #[signal(leaf = "Retryable")] Busy }
/// #[derive(Signal)]
/// enum Worker {
///     Storage(#[signal(forward)] Box<Storage>),
///     Batch(#[signal(forward(except(Retryable)))] Vec<(u64, Storage)>),
/// }
/// assert_eq!(signal_core::assert_fixtures!(Worker), 4);
/// ```
#[cfg(feature = "fixtures")]
#[cfg_attr(docsrs, doc(cfg(feature = "fixtures")))]
#[macro_export]
macro_rules! assert_fixtures {
    ($ty:ty $(,)?) => {
        $crate::testing::check_fixtures::<$ty>(::core::stringify!($ty))
    };
}

#[cfg(feature = "fixtures")]
#[doc(hidden)]
#[track_caller]
pub fn check_fixtures<E: Signal>(name: &str) -> usize {
    let kinds: Vec<KindId> = crate::map::map::<E>()
        .sections()
        .iter()
        .map(|section| section.kind)
        .collect();
    let all = fixtures::<E>();
    let mut failures = Vec::new();
    for fixture in &all {
        for &kind in &kinds {
            let expected = fixture.should_carry(kind);
            let traces = fixture.value.traces_kind(kind);
            if expected == traces.is_empty() {
                let mut line = alloc::format!(
                    "a fixture built for leaf {} {} carry {kind}",
                    fixture.leaf,
                    if expected {
                        "should but does not"
                    } else {
                        "should not but does"
                    },
                );
                for trace in traces {
                    let _ = write!(line, "\n      {trace}");
                }
                failures.push(line);
            }
        }
    }
    if !failures.is_empty() {
        let mut message = alloc::format!("{} fixture checks of `{name}` failed:", failures.len());
        for failure in failures {
            let _ = write!(message, "\n  - {failure}");
        }
        panic!("{message}");
    }
    all.len()
}
