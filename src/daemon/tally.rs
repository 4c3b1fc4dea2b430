//! Counts the supervisor's events by their structured fields: a `tracing`
//! layer, so the daemon's summary is built from the same events an operator
//! would see in the logs.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

/// What the events said.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Reactions by the kind that picked them (`"TransientNetwork"`,
    /// `"NeedsDbReconnect"`, ...).
    pub restarts_by_kind: BTreeMap<String, u64>,
    /// `retry` reactions.
    pub retries: u64,
    /// ERROR events.
    pub errors: u64,
    /// ERROR events whose kind is a transient network kind: must stay 0.
    pub errors_for_transient: u64,
    /// WARN events.
    pub warnings: u64,
    /// WARN events by the kind they name (`"other"` for events without one).
    pub warnings_by_kind: BTreeMap<String, u64>,
    /// ERROR events by the kind they name (`"other"` for events without one).
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Jobs dead-lettered (one ERROR event each).
    pub dead_letters: u64,
}

impl Counts {
    /// One line: WARN and ERROR events, each by kind, in kind order:
    /// `events: warn=290 (TransientNetwork 290) error=51 (BadCredentials 34,
    /// NeedsDbReconnect 17)`.
    pub fn summary(&self) -> String {
        fn by_kind(counts: &BTreeMap<String, u64>) -> String {
            if counts.is_empty() {
                return String::new();
            }
            let kinds: Vec<String> = counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
            format!(" ({})", kinds.join(", "))
        }
        format!(
            "events: warn={}{} error={}{}",
            self.warnings,
            by_kind(&self.warnings_by_kind),
            self.errors,
            by_kind(&self.errors_by_kind),
        )
    }
}

/// A shared tally, and the layer that feeds it.
#[derive(Clone, Debug, Default)]
pub struct Tally(Arc<Mutex<Counts>>);

impl Tally {
    /// A new, empty tally.
    pub fn new() -> Self {
        Tally::default()
    }

    /// The counts so far.
    pub fn counts(&self) -> Counts {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The layer to install in a subscriber.
    pub fn layer(&self) -> TallyLayer {
        TallyLayer(self.clone())
    }
}

/// A `tracing_subscriber` layer counting the events it sees.
pub struct TallyLayer(Tally);

#[derive(Default)]
struct Fields {
    reaction: Option<String>,
    kind: Option<String>,
    dead_letter: bool,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "reaction" => self.reaction = Some(value.to_owned()),
            "kind" => self.kind = Some(value.to_owned()),
            "outcome" => self.dead_letter = value == "dead-lettered",
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if matches!(field.name(), "reaction" | "kind" | "outcome") {
            let text = format!("{value:?}");
            self.record_str(field, text.trim_matches('"'));
        }
    }
}

/// Kinds that must never be logged at ERROR.
const TRANSIENT: &[&str] = &[
    "Retryable",
    "TransientNetwork",
    "ConnectionRefused",
    "ConnectionReset",
    "ConnectionAborted",
    "TimedOut",
    "HostUnreachable",
    "NetworkUnreachable",
    "BrokenPipe",
    "DnsFailure",
];

impl<S: Subscriber> Layer<S> for TallyLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let level = *event.metadata().level();
        let mut counts = (self.0).0.lock().unwrap_or_else(|e| e.into_inner());
        let kind = || fields.kind.clone().unwrap_or_else(|| "other".to_owned());
        if level == Level::ERROR {
            counts.errors += 1;
            *counts.errors_by_kind.entry(kind()).or_default() += 1;
            if fields
                .kind
                .as_deref()
                .is_some_and(|kind| TRANSIENT.contains(&kind))
            {
                counts.errors_for_transient += 1;
            }
        } else if level == Level::WARN {
            counts.warnings += 1;
            *counts.warnings_by_kind.entry(kind()).or_default() += 1;
        }
        if fields.dead_letter {
            counts.dead_letters += 1;
        }
        if let Some(reaction) = &fields.reaction {
            if reaction == "retry" {
                counts.retries += 1;
            }
            *counts.restarts_by_kind.entry(kind()).or_default() += 1;
        }
    }
}
