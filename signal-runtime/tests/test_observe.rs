//! What a supervised worker shows the outside: a tracing span per run, and
//! the signals of its errors through `SupervisorError` and `RebuildError`.

mod support;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};

use signal_core::Signal;
use signal_core::vocab::TransientNetwork;
use signal_runtime::{Policy, Reaction, Resource, Supervisor, SupervisorError};
use support::{
    HOUR_LIMIT, NeedsDbReconnect, Pool, PoolNeedsConnection, Retryable, StorageError, WorkerError,
    within,
};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// A span's or an event's fields, by name.
type FieldMap = BTreeMap<&'static str, String>;

/// The fields of each `worker` span, and for each event, its message and
/// the fields of the `worker` span it was emitted in (none outside one).
#[derive(Clone, Default)]
struct Spans {
    fields: Arc<Mutex<BTreeMap<u64, FieldMap>>>,
    events: Arc<Mutex<Vec<(String, FieldMap)>>>,
}

#[derive(Default)]
struct Fields(FieldMap, String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.1 = format!("{value:?}");
        } else {
            self.0.insert(field.name(), format!("{value:?}"));
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        if attrs.metadata().name() == "worker" {
            let mut fields = Fields::default();
            attrs.record(&mut fields);
            self.fields.lock().unwrap().insert(id.into_u64(), fields.0);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some(known) = self.fields.lock().unwrap().get_mut(&id.into_u64()) {
            let mut fields = Fields::default();
            values.record(&mut fields);
            known.extend(fields.0);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let span = ctx
            .event_span(event)
            .and_then(|span| {
                self.fields
                    .lock()
                    .unwrap()
                    .get(&span.id().into_u64())
                    .cloned()
            })
            .unwrap_or_default();
        self.events.lock().unwrap().push((fields.1, span));
    }
}

#[tokio::test(start_paused = true)]
async fn test_each_run_has_a_span_with_worker_run_and_generation() {
    within(HOUR_LIMIT, async {
        let spans = Spans::default();
        let _guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));
        let db = Resource::new("db", Pool::default(), async || {
            Ok::<_, io::Error>(Pool::default())
        });
        let policy = Policy::new().on::<NeedsDbReconnect>(Reaction::rebuild(&db));
        let supervisor = Supervisor::new();
        let pool = db.clone();
        let worker = supervisor.spawn("sync", policy, async move |ctx| {
            let lease = ctx.lease(&pool);
            tracing::info!("working");
            if lease.generation() == 0 {
                lease.drop_connection();
                lease.serve().await?;
            }
            Ok::<_, WorkerError>(())
        });
        worker.join().await.unwrap();
        supervisor.shutdown().await;

        let events = spans.events.lock().unwrap().clone();
        let working: Vec<_> = events
            .iter()
            .filter(|(message, _)| message == "working")
            .collect();
        assert_eq!(working.len(), 2);
        for (run, (_, span)) in working.iter().enumerate() {
            assert_eq!(
                span.get("worker").map(String::as_str),
                Some("\"sync\""),
                "{span:?}"
            );
            assert_eq!(span.get("run"), Some(&(run + 1).to_string()));
            assert_eq!(span.get("generation"), Some(&run.to_string()));
        }
        // The supervisor's reaction is reported inside the failed run's span.
        let (_, span) = events
            .iter()
            .find(|(message, _)| message.starts_with("worker failed"))
            .expect("a reaction event");
        assert_eq!(span.get("run").map(String::as_str), Some("1"));
    })
    .await;
}

/// The negative twin: an event from outside any worker is in no worker span.
#[tokio::test(start_paused = true)]
async fn test_events_outside_workers_are_in_no_worker_span() {
    within(HOUR_LIMIT, async {
        let spans = Spans::default();
        let _guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));
        let supervisor = Supervisor::new();
        let worker = supervisor.spawn(
            "quiet",
            Policy::new(),
            async |_ctx| Ok::<_, WorkerError>(()),
        );
        worker.join().await.unwrap();
        tracing::info!("outside");
        let events = spans.events.lock().unwrap().clone();
        let (_, span) = events
            .iter()
            .find(|(message, _)| message == "outside")
            .unwrap();
        assert!(span.is_empty(), "{span:?}");
        supervisor.shutdown().await;
    })
    .await;
}

/// A supervisor nested in a worker: the inner worker's stop error carries
/// its error's signals, so the outer policy reacts to them.
#[tokio::test(start_paused = true)]
async fn test_supervisor_error_forwards_the_last_error_signals() {
    within(HOUR_LIMIT, async {
        let supervisor = Supervisor::new();
        let stop = Policy::new().otherwise(Reaction::Stop);
        let worker = supervisor.spawn("inner", stop, async |_ctx| {
            Err::<(), _>(WorkerError::Storage(StorageError::PoolNeedsConnection))
        });
        let error: SupervisorError<WorkerError> = worker.join().await.unwrap_err();
        assert!(error.has::<NeedsDbReconnect>());
        assert!(error.has::<PoolNeedsConnection>());
        assert!(!error.has::<Retryable>());
        let trace = error.trace::<NeedsDbReconnect>().unwrap().to_string();
        assert!(trace.contains("SupervisorError::Stopped"), "{trace}");
        assert!(
            trace.contains("StorageError::PoolNeedsConnection"),
            "{trace}"
        );

        // The negative twin: an error without the kind, and a panic.
        let worker = supervisor.spawn(
            "corrupt",
            Policy::new().otherwise(Reaction::Stop),
            async |_ctx| Err::<(), _>(WorkerError::Corrupt("x".into())),
        );
        assert!(!worker.join().await.unwrap_err().has::<NeedsDbReconnect>());
        let panics = Policy::new().on_panic(Reaction::Stop);
        let worker = supervisor.spawn("panics", panics, async |_ctx| -> Result<(), WorkerError> {
            panic!("boom")
        });
        assert!(!worker.join().await.unwrap_err().has::<NeedsDbReconnect>());
        supervisor.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn test_rebuild_error_carries_the_signals_of_its_io_source() {
    within(HOUR_LIMIT, async {
        let refused = Resource::new("db", Pool::default(), async || {
            Err::<Pool, _>(io::Error::from(io::ErrorKind::ConnectionRefused))
        });
        let error = refused.rebuild_from(0).await.unwrap_err();
        assert!(error.has::<TransientNetwork>());

        // The negative twin: a source that is no network failure.
        let denied = Resource::new("db", Pool::default(), async || {
            Err::<Pool, _>(io::Error::from(io::ErrorKind::PermissionDenied))
        });
        assert!(
            !denied
                .rebuild_from(0)
                .await
                .unwrap_err()
                .has::<TransientNetwork>()
        );
    })
    .await;
}
