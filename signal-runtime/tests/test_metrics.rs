//! Metrics through the `metrics` facade (feature `metrics`), read by a
//! recorder that keeps every counter and histogram.

#![cfg(feature = "metrics")]

mod support;

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use metrics::{
    Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use signal_runtime::{Backoff, Policy, Reaction, Resource, Supervisor};
use support::{HOUR_LIMIT, NeedsDbReconnect, Pool, Retryable, StorageError, WorkerError, within};

/// Metric name and sorted labels → total (counters) or recorded values
/// (histograms).
#[derive(Default)]
struct Store {
    counters: Mutex<BTreeMap<String, u64>>,
    histograms: Mutex<BTreeMap<String, Vec<f64>>>,
}

fn render(key: &Key) -> String {
    let mut labels: Vec<_> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    labels.sort();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

struct Handle(Arc<Store>, String);

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        *self
            .0
            .counters
            .lock()
            .unwrap()
            .entry(self.1.clone())
            .or_default() += value;
    }
    fn absolute(&self, value: u64) {
        self.0
            .counters
            .lock()
            .unwrap()
            .insert(self.1.clone(), value);
    }
}

impl HistogramFn for Handle {
    fn record(&self, value: f64) {
        self.0
            .histograms
            .lock()
            .unwrap()
            .entry(self.1.clone())
            .or_default()
            .push(value);
    }
}

struct Keeping(Arc<Store>);

impl Recorder for Keeping {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(Handle(Arc::clone(&self.0), render(key))))
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(Handle(Arc::clone(&self.0), render(key))))
    }
}

/// The process-wide store (a global recorder is set once per process; each
/// test uses its own worker and resource names).
fn store() -> &'static Arc<Store> {
    static STORE: OnceLock<Arc<Store>> = OnceLock::new();
    STORE.get_or_init(|| {
        let store = Arc::new(Store::default());
        metrics::set_global_recorder(Keeping(Arc::clone(&store))).expect("one recorder");
        store
    })
}

fn counter(name: &str) -> u64 {
    store()
        .counters
        .lock()
        .unwrap()
        .get(name)
        .copied()
        .unwrap_or(0)
}

fn histogram(name: &str) -> Vec<f64> {
    store()
        .histograms
        .lock()
        .unwrap()
        .get(name)
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(start_paused = true)]
async fn test_restarts_by_kind_rebuilds_stops_and_backoff_time_are_counted() {
    store();
    within(HOUR_LIMIT, async {
        let db = Resource::new("metrics-db", Pool::default(), async || {
            Ok::<_, io::Error>(Pool::default())
        });
        let policy = Policy::new()
            .on::<NeedsDbReconnect>(Reaction::rebuild(&db))
            .on::<Retryable>(Reaction::Retry.max_attempts(4))
            .backoff(
                Backoff::new(Duration::from_millis(100), Duration::from_secs(1)).with_jitter(0.0),
            );
        let supervisor = Supervisor::new();
        let runs = Arc::new(AtomicU32::new(0));
        let (pool, counted) = (db.clone(), Arc::clone(&runs));
        // Run 1 loses the pool, runs 2 and 3 find the database busy, run 4
        // too, and its rule allows no fifth attempt.
        let worker = supervisor.spawn("metrics-sync", policy, async move |ctx| {
            let lease = ctx.lease(&pool);
            if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                lease.drop_connection();
                lease.serve().await?;
            }
            Err::<(), _>(WorkerError::Storage(StorageError::Busy))
        });
        assert!(worker.join().await.is_err());
        supervisor.shutdown().await;

        let restarts = "signal_runtime_restarts_total";
        assert_eq!(
            counter(&format!(
                "{restarts}{{kind=NeedsDbReconnect,reaction=rebuild,worker=metrics-sync}}"
            )),
            1
        );
        assert_eq!(
            counter(&format!(
                "{restarts}{{kind=Retryable,reaction=retry,worker=metrics-sync}}"
            )),
            2
        );
        assert_eq!(
            counter("signal_runtime_stops_total{reason=exhausted,worker=metrics-sync}"),
            1
        );
        assert_eq!(
            counter("signal_runtime_rebuilds_total{outcome=ok,resource=metrics-db}"),
            1
        );
        // Two backoffs, of the first and second delays of the attempts that
        // failed busy (attempts 2 and 3: 200 ms and 400 ms).
        assert_eq!(
            histogram("signal_runtime_backoff_seconds{worker=metrics-sync}"),
            [0.2, 0.4]
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_call_retries_are_counted_and_successes_are_not() {
    store();
    within(HOUR_LIMIT, async {
        let policy = Policy::new().on::<Retryable>(Reaction::Retry);
        let calls = AtomicU32::new(0);
        let result = policy
            .retry("metrics-call", async || {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => Err(WorkerError::Storage(StorageError::Busy)),
                    _ => Ok(()),
                }
            })
            .await;
        assert!(result.is_ok());
        assert_eq!(
            counter(
                "signal_runtime_call_retries_total{call=metrics-call,kind=Retryable,reaction=retry}"
            ),
            2
        );
        // The negative twin: a call that succeeds at once counts nothing.
        policy
            .retry("metrics-quiet", async || Ok::<_, WorkerError>(()))
            .await
            .unwrap();
        assert!(
            !store()
                .counters
                .lock()
                .unwrap()
                .keys()
                .any(|key| key.contains("metrics-quiet"))
        );
    })
    .await;
}

/// A tower request's retries and its giving up are counted, as a call's.
#[cfg(feature = "tower")]
#[tokio::test(start_paused = true)]
async fn test_tower_retries_and_stops_are_counted() {
    use tower::{ServiceBuilder, ServiceExt};
    store();
    within(HOUR_LIMIT, async {
        let policy = Policy::new()
            .on::<Retryable>(Reaction::Retry.max_attempts(3))
            .backoff(Backoff::new(Duration::from_millis(10), Duration::from_millis(10)));
        let result = ServiceBuilder::new()
            .retry(policy.tower("metrics-tower"))
            .service_fn(|_request: u8| async { Err::<(), _>(WorkerError::Storage(StorageError::Busy)) })
            .oneshot(1)
            .await;
        assert!(result.is_err());
        assert_eq!(
            counter(
                "signal_runtime_call_retries_total{call=metrics-tower,kind=Retryable,reaction=retry}"
            ),
            2
        );
        assert_eq!(
            counter("signal_runtime_call_stops_total{call=metrics-tower,reason=exhausted}"),
            1
        );
        // The twin: a request that succeeds at once counts nothing.
        ServiceBuilder::new()
            .retry(policy.tower("metrics-tower-quiet"))
            .service_fn(|_request: u8| async { Ok::<_, WorkerError>(()) })
            .oneshot(1)
            .await
            .unwrap();
        assert!(
            !store()
                .counters
                .lock()
                .unwrap()
                .keys()
                .any(|key| key.contains("metrics-tower-quiet"))
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_a_budget_stop_is_counted_with_its_reason() {
    store();
    within(HOUR_LIMIT, async {
        let empty =
            signal_runtime::RetryBudget::new("metrics-budget", 0.0, 0, Duration::from_secs(10))
                .unwrap();
        let policy = Policy::new()
            .on::<Retryable>(Reaction::Retry)
            .retry_budget(&empty);
        let result = policy
            .retry("metrics-budget-call", async || {
                Err::<(), _>(WorkerError::Storage(StorageError::Busy))
            })
            .await;
        assert!(result.is_err());
        assert_eq!(
            counter(
                "signal_runtime_call_stops_total{call=metrics-budget-call,reason=budget_exhausted}"
            ),
            1
        );
        let supervisor = Supervisor::new();
        let worker = supervisor.spawn("metrics-budget-worker", policy, async |_ctx| {
            Err::<(), _>(WorkerError::Storage(StorageError::Busy))
        });
        assert!(worker.join().await.is_err());
        supervisor.shutdown().await;
        assert_eq!(
            counter(
                "signal_runtime_stops_total{reason=budget_exhausted,worker=metrics-budget-worker}"
            ),
            1
        );
        // The twin: the same call without the budget is not stopped by it.
        let unbudgeted = Policy::new().on::<Retryable>(Reaction::Retry.max_attempts(2));
        let _ = unbudgeted
            .retry("metrics-unbudgeted", async || {
                Err::<(), _>(WorkerError::Storage(StorageError::Busy))
            })
            .await;
        assert_eq!(
            counter(
                "signal_runtime_call_stops_total{call=metrics-unbudgeted,reason=budget_exhausted}"
            ),
            0
        );
        assert_eq!(
            counter("signal_runtime_call_stops_total{call=metrics-unbudgeted,reason=exhausted}"),
            1
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_breaker_transitions_and_fail_fast_stops_are_counted() {
    store();
    within(HOUR_LIMIT, async {
        let breaker = signal_runtime::CircuitBreaker::builder("metrics-breaker")
            .counts::<Retryable>()
            .min_calls(2)
            .build()
            .unwrap();
        let policy = Policy::new()
            .on::<Retryable>(Reaction::Retry.max_attempts(5))
            .breaker(&breaker);
        let result = policy
            .call("metrics-breaker-call")
            .run(async |_| Err::<(), _>(WorkerError::Storage(StorageError::Busy)))
            .await;
        assert!(result.is_err());
        let transitions = "signal_runtime_breaker_transitions_total";
        assert_eq!(
            counter(&format!(
                "{transitions}{{breaker=metrics-breaker,state=open}}"
            )),
            1
        );
        assert_eq!(
            counter(
                "signal_runtime_call_stops_total{call=metrics-breaker-call,reason=circuit_open}"
            ),
            1
        );
        // A call refused before any attempt is counted too.
        let refused = policy
            .call("metrics-breaker-call")
            .run(async |_| Ok::<_, WorkerError>(()))
            .await;
        assert!(refused.is_err());
        assert_eq!(
            counter(
                "signal_runtime_call_stops_total{call=metrics-breaker-call,reason=circuit_open}"
            ),
            2
        );
        // The twin: nothing closed it yet, and nothing half-opened it.
        assert_eq!(
            counter(&format!(
                "{transitions}{{breaker=metrics-breaker,state=closed}}"
            )),
            0
        );
        assert_eq!(
            counter(&format!(
                "{transitions}{{breaker=metrics-breaker,state=half_open}}"
            )),
            0
        );
    })
    .await;
}
