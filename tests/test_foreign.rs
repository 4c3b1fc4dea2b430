//! Leaves the user does not own, with real errors: a refused TCP connection,
//! an expired tokio timeout, a failed name resolution, a busy SQLite
//! database and a constraint violation, each next to a negative twin. An
//! auth-style error is never transient network.

use std::error::Error;
use std::fmt;
use std::io;
use std::time::Duration;

use signal_core::classifiers::io::{IoClassifier, classify_io};
use signal_core::vocab::{ConnectionRefused, DnsFailure, TimedOut, TransientNetwork};
use signal_core::{Kind, KindId, MAX_CHAIN, Signal, StaticStep, kind, map};

kind! {
    /// Trying again later may succeed.
    pub Retryable;
    /// The database was busy or locked.
    pub DatabaseBusy: Retryable;
    /// The server rejected our credentials: fatal for this request.
    pub BadCredentials;
    /// The pool must be rebuilt.
    pub NeedsDbReconnect;
}

/// A database driver's `#[non_exhaustive]` error, classified by code: only
/// busy and locked are retryable; everything else raises nothing.
fn classify_sqlite(error: &rusqlite::Error) -> Option<KindId> {
    use rusqlite::ErrorCode::{DatabaseBusy as Busy, DatabaseLocked};
    match error.sqlite_error_code() {
        Some(Busy | DatabaseLocked) => Some(DatabaseBusy::ID),
        _ => None,
    }
}

/// The same, registered for the type: plain `forward` classifies a
/// `rusqlite::Error` with it. signal-core's built-in classifier for the type
/// (feature `rusqlite`, on in this package) raises `ResourceBusy` instead; a
/// registration of the user's own takes precedence.
#[derive(Default)]
struct SqliteClassifier;

impl signal_core::Classify<rusqlite::Error> for SqliteClassifier {
    fn classify(&self, error: &rusqlite::Error) -> signal_core::Kinds {
        classify_sqlite(error).into()
    }
}

impl signal_core::ClassifiedBy<SqliteClassifier> for rusqlite::Error {}

#[derive(Debug, thiserror::Error, Signal)]
pub enum StorageError {
    #[error("pool needs a connection")]
    #[signal(leaf = "NeedsDbReconnect")]
    PoolGone,
    #[error("row not found")]
    NotFound,
}

#[derive(Debug, thiserror::Error, Signal)]
pub enum SyncError {
    #[error(transparent)]
    Io(#[signal(forward_with = "classify_io")] io::Error),
    #[error(transparent)]
    Network(#[signal(forward_with = "IoClassifier")] io::Error),
    #[error(transparent)]
    Db(#[signal(forward_with = "classify_sqlite")] rusqlite::Error),
    #[error("server answered {status}")]
    #[signal(leaf = "BadCredentials", when = "SyncError::is_unauthorized")]
    Http { status: u16 },
    #[error(transparent)]
    Dynamic(
        #[signal(chain(StorageError, io::Error(classify_io), rusqlite::Error(classify_sqlite)))]
        Box<dyn Error + Send + Sync>,
    ),
    #[error(transparent)]
    Flattened(
        #[signal(chain(text(TimedOut("deadline has elapsed"), DnsFailure("dns error"))))]
        Box<dyn Error + Send + Sync>,
    ),
    #[error(transparent)]
    FlattenedWithoutRules(#[signal(chain(StorageError))] Box<dyn Error + Send + Sync>),
}

impl SyncError {
    fn is_unauthorized(&self) -> bool {
        matches!(self, SyncError::Http { status: 401 | 403 })
    }
}

/// A library error that keeps its source.
#[derive(Debug, thiserror::Error)]
#[error("request failed")]
struct RequestError {
    #[source]
    source: io::Error,
}

/// A library error that flattens its cause into a string.
#[derive(Debug)]
struct Flattening(String);

impl fmt::Display for Flattening {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Flattening {}

async fn refused() -> io::Error {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    tokio::net::TcpStream::connect(addr).await.unwrap_err()
}

async fn elapsed() -> tokio::time::error::Elapsed {
    tokio::time::timeout(Duration::from_millis(1), std::future::pending::<()>())
        .await
        .unwrap_err()
}

fn not_found() -> io::Error {
    std::fs::read("/nonexistent/signal-test-file").unwrap_err()
}

#[tokio::test]
async fn test_refused_connection_is_transient_network() {
    let error = SyncError::Io(refused().await);
    assert!(error.to_string().contains("refused"), "{error}");
    assert!(error.has::<ConnectionRefused>());
    assert!(error.has::<TransientNetwork>());
    assert!(!error.has::<BadCredentials>());
    assert_eq!(
        error.trace::<TransientNetwork>().unwrap().to_string(),
        "SyncError::Io → classify_io (ConnectionRefused ⇒ TransientNetwork)"
    );
}

#[tokio::test]
async fn test_missing_file_is_not_transient_network() {
    let error = SyncError::Io(not_found());
    assert!(!error.has::<TransientNetwork>());
    assert!(error.trace::<TransientNetwork>().is_none());
}

#[tokio::test]
async fn test_expired_timeout_is_timed_out() {
    let error = SyncError::Io(io::Error::from(elapsed().await));
    assert!(error.has::<TimedOut>());
    // A timeout around a future is not a network failure: the future may
    // not touch the network at all.
    assert!(!error.has::<TransientNetwork>());
    // The twin: the same future finishing in time produces no error at all,
    // and an I/O error of another kind is not a timeout.
    assert!(
        tokio::time::timeout(Duration::from_secs(5), async {})
            .await
            .is_ok()
    );
    assert!(!SyncError::Io(not_found()).has::<TimedOut>());
}

#[tokio::test]
async fn test_failed_name_resolution_is_dns_failure() {
    // `.invalid` is reserved and never resolves, with or without a network.
    let Err(error) = tokio::net::lookup_host("signal-test.invalid:80").await else {
        panic!("a name under .invalid resolved");
    };
    assert_eq!(
        classify_io(&error).as_slice(),
        [DnsFailure::ID],
        "{error:?}"
    );
    let error = SyncError::Network(error);
    assert!(error.has::<DnsFailure>());
    assert!(error.has::<TransientNetwork>());
}

#[tokio::test]
async fn test_resolving_localhost_is_not_an_error() {
    let mut addrs = tokio::net::lookup_host("localhost:80").await.unwrap();
    assert!(addrs.next().is_some());
    // And an error that merely mentions lookups is not a resolver error.
    let lookalike = io::Error::new(io::ErrorKind::InvalidInput, "lookup table missing");
    assert!(classify_io(&lookalike).is_empty());
}

fn busy_database() -> rusqlite::Error {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("signal-busy-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("jobs.db");
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder
        .execute_batch("CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY); BEGIN EXCLUSIVE;")
        .unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.busy_timeout(Duration::ZERO).unwrap();
    let error = other
        .execute("INSERT INTO jobs (id) VALUES (1)", [])
        .unwrap_err();
    drop(holder);
    let _ = std::fs::remove_dir_all(dir);
    error
}

fn constraint_violation() -> rusqlite::Error {
    let db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute_batch("CREATE TABLE jobs (id INTEGER PRIMARY KEY); INSERT INTO jobs VALUES (1);")
        .unwrap();
    db.execute("INSERT INTO jobs (id) VALUES (1)", [])
        .unwrap_err()
}

#[test]
fn test_busy_sqlite_is_retryable() {
    let error = SyncError::Db(busy_database());
    assert!(error.has::<DatabaseBusy>(), "{error:?}");
    assert!(error.has::<Retryable>());
    assert!(!error.has::<TransientNetwork>());
}

#[test]
fn test_sqlite_constraint_violation_is_not_retryable() {
    let error = SyncError::Db(constraint_violation());
    assert!(error.to_string().contains("UNIQUE"), "{error}");
    assert!(!error.has::<Retryable>());
    assert!(!error.has::<DatabaseBusy>());
}

#[test]
fn test_auth_error_is_never_transient_network() {
    let unauthorized = SyncError::Http { status: 401 };
    assert!(unauthorized.has::<BadCredentials>());
    assert!(!unauthorized.has::<TransientNetwork>());
    assert!(!unauthorized.has::<Retryable>());
}

#[test]
fn test_conditional_leaf_false_raises_nothing() {
    let unavailable = SyncError::Http { status: 503 };
    assert!(!unavailable.has::<BadCredentials>());
    assert!(unavailable.trace::<BadCredentials>().is_none());
}

#[tokio::test]
async fn test_dynamic_chain_finds_typed_errors_at_depth() {
    let boxed: Box<dyn Error + Send + Sync> = Box::new(RequestError {
        source: refused().await,
    });
    let error = SyncError::Dynamic(boxed);
    assert!(error.has::<TransientNetwork>());
    assert_eq!(
        error.trace::<TransientNetwork>().unwrap().to_string(),
        "SyncError::Dynamic.source() ⇢ classify_io (ConnectionRefused ⇒ TransientNetwork)"
    );
    let carrier = SyncError::Dynamic(Box::new(StorageError::PoolGone));
    assert!(carrier.has::<NeedsDbReconnect>());
    assert_eq!(
        carrier.trace::<NeedsDbReconnect>().unwrap().to_string(),
        "SyncError::Dynamic ⇢ StorageError::PoolGone (NeedsDbReconnect)"
    );
    let busy = SyncError::Dynamic(Box::new(busy_database()));
    assert!(busy.has::<Retryable>());
}

#[tokio::test]
async fn test_dynamic_chain_negative_twins() {
    let error = SyncError::Dynamic(Box::new(RequestError {
        source: not_found(),
    }));
    assert!(!error.has::<TransientNetwork>());
    let error = SyncError::Dynamic(Box::new(StorageError::NotFound));
    assert!(!error.has::<NeedsDbReconnect>());
    // A type not listed is never downcast to, even if it carries.
    let unlisted = SyncError::FlattenedWithoutRules(Box::new(RequestError {
        source: refused().await,
    }));
    assert!(!unlisted.has::<TransientNetwork>());
}

/// An error whose `source()` is itself.
#[derive(Debug)]
struct Loop;

impl fmt::Display for Loop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("loop")
    }
}

impl Error for Loop {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self)
    }
}

/// A chain `depth` errors long, ending in `last`.
#[derive(Debug)]
struct Link(Option<Box<Link>>, Option<StorageError>);

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("link")
    }
}

impl Error for Link {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match (&self.0, &self.1) {
            (Some(next), _) => Some(&**next),
            (None, Some(last)) => Some(last),
            (None, None) => None,
        }
    }
}

fn chain(depth: usize) -> Link {
    let mut link = Link(None, Some(StorageError::PoolGone));
    for _ in 1..depth {
        link = Link(Some(Box::new(link)), None);
    }
    link
}

#[test]
fn test_cyclic_and_overlong_chains_are_cut() {
    let cyclic = SyncError::Dynamic(Box::new(Loop));
    assert!(!cyclic.has::<NeedsDbReconnect>());
    assert_eq!(signal_core::chain_of(&Loop).count(), 1);
    // Within the guard, found; past it, cut off (and documented as such).
    let near = SyncError::Dynamic(Box::new(chain(MAX_CHAIN - 1)));
    assert!(near.has::<NeedsDbReconnect>());
    assert!(
        near.trace::<NeedsDbReconnect>()
            .unwrap()
            .to_string()
            .contains(".source()")
    );
    let far = SyncError::Dynamic(Box::new(chain(MAX_CHAIN + 10)));
    assert!(!far.has::<NeedsDbReconnect>());
}

#[tokio::test]
async fn test_text_rules_match_flattened_errors_when_listed() {
    let message = format!("sync failed: {}", elapsed().await);
    let error = SyncError::Flattened(Box::new(Flattening(message.clone())));
    assert!(error.has::<TimedOut>(), "{message}");
    // A deadline alone is not a network failure: tokio's timeout may wrap
    // any future.
    assert!(!error.has::<TransientNetwork>());
    assert_eq!(
        error.trace::<TimedOut>().unwrap().to_string(),
        "SyncError::Flattened ⇢ text \"deadline has elapsed\" (TimedOut)"
    );
}

#[tokio::test]
async fn test_text_never_matches_by_default() {
    // The same flattened message, on a chain that lists no text rules.
    let message = format!("sync failed: {}", elapsed().await);
    let error = SyncError::FlattenedWithoutRules(Box::new(Flattening(message)));
    assert!(!error.has::<TimedOut>());
    assert!(!error.has::<TransientNetwork>());
    // And a message without the pattern does not match either.
    let error = SyncError::Flattened(Box::new(Flattening("invalid token".into())));
    assert!(!error.has::<TransientNetwork>());
}

#[test]
fn test_map_shows_classifiers_chains_and_conditions() {
    let map = map::<SyncError>();
    let transient: Vec<String> = map
        .paths(TransientNetwork::ID)
        .iter()
        .map(ToString::to_string)
        .collect();
    // A classifier type lists its kinds; a plain function's are known at run time.
    assert!(
        transient.contains(
            &"SyncError::Network → IoClassifier (ConnectionRefused ⇒ TransientNetwork)".to_string()
        ),
        "{transient:#?}"
    );
    assert!(
        transient.contains(&"SyncError::Io → classify_io (dynamic: known at run time)".to_string()),
        "{transient:#?}"
    );
    let timed_out: Vec<String> = map
        .paths(TimedOut::ID)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        timed_out.contains(
            &"SyncError::Flattened ⇢ text \"deadline has elapsed\" (TimedOut)".to_string()
        ),
        "{timed_out:#?}"
    );
    assert!(
        !transient
            .iter()
            .any(|path| path.contains("deadline has elapsed")),
        "{transient:#?}"
    );
    let reconnect: Vec<String> = map
        .paths(NeedsDbReconnect::ID)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        reconnect.contains(
            &"SyncError::Dynamic ⇢ StorageError::PoolGone (NeedsDbReconnect)".to_string()
        ),
        "{reconnect:#?}"
    );
    // Plain-function classifiers do not say what they return, so every kind
    // lists them as known only at run time; the one real leaf is the `when`.
    let auth: Vec<_> = map
        .paths(BadCredentials::ID)
        .iter()
        .filter(|p| p.leaf().is_some())
        .collect();
    assert_eq!(auth.len(), 1);
    assert!(
        auth[0]
            .steps
            .contains(&StaticStep::When("SyncError::is_unauthorized"))
    );
    assert_eq!(
        auth[0].to_string(),
        "SyncError::Http if SyncError::is_unauthorized (BadCredentials)"
    );
}
