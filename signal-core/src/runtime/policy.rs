//! Reactions by kind: what a supervisor does with a failure.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tracing::Level;

use super::backoff::Backoff;
use super::intensity::Intensity;
use super::resource::{Rebuildable, Resource};
use crate::{Kind, KindId, Signal};

/// What a supervisor does when its worker fails.
#[derive(Clone, Debug)]
pub enum Reaction {
    /// Wait for the next [`Backoff`] delay, then restart the worker.
    Retry,
    /// Rebuild the shared resource (once, however many workers ask at the
    /// same time), then restart the worker at once. If the rebuild fails, the
    /// worker backs off before restarting.
    Rebuild(ResourceRef),
    /// Stop the worker and surface a [`SupervisorError`](super::SupervisorError).
    /// A stopped worker waits for [`recover`](super::WorkerHandle::recover).
    Stop,
}

/// The name of a [`Reaction`], for logs and [`RetryState`](super::RetryState).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReactionKind {
    /// [`Reaction::Retry`].
    Retry,
    /// [`Reaction::Rebuild`].
    Rebuild,
    /// [`Reaction::Stop`].
    Stop,
}

impl ReactionKind {
    /// `"retry"`, `"rebuild"` or `"stop"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReactionKind::Retry => "retry",
            ReactionKind::Rebuild => "rebuild",
            ReactionKind::Stop => "stop",
        }
    }
}

impl fmt::Display for ReactionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Reaction {
    /// Rebuild `resource`, then restart.
    pub fn rebuild<T: Send + Sync + 'static>(resource: &Resource<T>) -> Reaction {
        Reaction::Rebuild(ResourceRef(resource.erased()))
    }

    /// This reaction's name.
    pub fn kind(&self) -> ReactionKind {
        match self {
            Reaction::Retry => ReactionKind::Retry,
            Reaction::Rebuild(_) => ReactionKind::Rebuild,
            Reaction::Stop => ReactionKind::Stop,
        }
    }

    /// The level a [`Response`] made from this reaction logs at: WARN for
    /// [`Retry`](Reaction::Retry) (the error was classified as worth retrying,
    /// typically a transient network blip), ERROR otherwise.
    pub fn default_level(&self) -> Level {
        match self {
            Reaction::Retry => Level::WARN,
            Reaction::Rebuild(_) | Reaction::Stop => Level::ERROR,
        }
    }

    /// This reaction, logged at `level`.
    pub fn at(self, level: Level) -> Response {
        Response {
            reaction: self,
            level,
        }
    }
}

/// A shared resource a [`Reaction::Rebuild`] rebuilds, whatever its type.
#[derive(Clone)]
pub struct ResourceRef(pub(crate) Arc<dyn Rebuildable>);

impl ResourceRef {
    /// The resource's name.
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// The resource's current generation.
    pub fn generation(&self) -> u64 {
        self.0.generation()
    }
}

impl fmt::Debug for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resource")
            .field("name", &self.name())
            .field("generation", &self.generation())
            .finish()
    }
}

/// A reaction and the level its events are logged at.
#[derive(Clone, Debug)]
pub struct Response {
    /// What to do.
    pub reaction: Reaction,
    /// The level of the event that reports it.
    pub level: Level,
}

impl From<Reaction> for Response {
    /// The reaction at its [default level](Reaction::default_level).
    fn from(reaction: Reaction) -> Self {
        let level = reaction.default_level();
        reaction.at(level)
    }
}

/// How a supervisor reacts to its worker's failures, and how fast it may
/// restart it.
///
/// Rules are tried in the order they were added, and the first kind the error
/// carries (checked with [`Signal::has_kind`], so through every wrapper the
/// error type forwards) picks the response; an error that carries none of them
/// gets the [`otherwise`](Self::otherwise) response. Panics get their own
/// response.
///
/// A policy holds no per-worker state: share one `Arc<Policy>` between many
/// workers.
///
/// ```
/// use std::time::Duration;
/// use signal_core::kind;
/// use signal_core::runtime::{Backoff, Intensity, Policy, Reaction};
///
/// kind! {
///     pub TransientNetwork;
///     pub BadCredentials;
/// }
///
/// let policy = Policy::new()
///     .on::<TransientNetwork>(Reaction::Retry) // WARN
///     .on::<BadCredentials>(Reaction::Stop) // ERROR
///     .backoff(Backoff::new(Duration::from_millis(200), Duration::from_secs(60)))
///     .intensity(Intensity::new(5, Duration::from_secs(30)))
///     .healthy_after(Duration::from_secs(120));
/// # let _ = policy;
/// ```
#[derive(Clone, Debug)]
pub struct Policy {
    rules: Vec<(KindId, Response)>,
    otherwise: Response,
    on_panic: Response,
    pub(crate) backoff: Backoff,
    pub(crate) intensity: Intensity,
    pub(crate) healthy_after: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::new()
    }
}

/// The response a [`Policy`] picked for one failure.
#[derive(Clone, Copy, Debug)]
pub struct Decision<'p> {
    /// The kind whose rule matched; `None` for the default and for panics.
    pub kind: Option<KindId>,
    /// The response to apply.
    pub response: &'p Response,
}

impl Policy {
    /// No rules; everything is retried with backoff and logged at ERROR
    /// (panics too); default [`Backoff`] and [`Intensity`]; a worker counts as
    /// healthy after 60 seconds without failing.
    pub fn new() -> Self {
        Policy {
            rules: Vec::new(),
            otherwise: Reaction::Retry.at(Level::ERROR),
            on_panic: Reaction::Retry.at(Level::ERROR),
            backoff: Backoff::default(),
            intensity: Intensity::default(),
            healthy_after: Duration::from_secs(60),
        }
    }

    /// Reacts with `response` to errors that carry `K`.
    pub fn on<K: Kind>(self, response: impl Into<Response>) -> Self {
        self.on_kind(K::ID, response)
    }

    /// Reacts with `response` to errors that carry `kind`.
    pub fn on_kind(mut self, kind: KindId, response: impl Into<Response>) -> Self {
        self.rules.push((kind, response.into()));
        self
    }

    /// Reacts with `response` to errors that match no rule.
    pub fn otherwise(mut self, response: impl Into<Response>) -> Self {
        self.otherwise = response.into();
        self
    }

    /// Reacts with `response` to a panic of the worker.
    pub fn on_panic(mut self, response: impl Into<Response>) -> Self {
        self.on_panic = response.into();
        self
    }

    /// Sets the backoff of [`Reaction::Retry`] and of failed rebuilds.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets the restart intensity.
    pub fn intensity(mut self, intensity: Intensity) -> Self {
        self.intensity = intensity;
        self
    }

    /// A worker whose run lasted at least `after` before failing starts its
    /// backoff over from the first delay (so does a run that called
    /// [`Ctx::mark_healthy`](super::Ctx::mark_healthy)).
    pub fn healthy_after(mut self, after: Duration) -> Self {
        self.healthy_after = after;
        self
    }

    /// The response to `error`: the first rule whose kind it carries, or the
    /// default.
    pub fn decide<E: Signal + ?Sized>(&self, error: &E) -> Decision<'_> {
        self.rules
            .iter()
            .find(|(kind, _)| error.has_kind(*kind))
            .map_or(
                Decision {
                    kind: None,
                    response: &self.otherwise,
                },
                |(kind, response)| Decision {
                    kind: Some(*kind),
                    response,
                },
            )
    }

    /// The response to a panic.
    pub fn decide_panic(&self) -> Decision<'_> {
        Decision {
            kind: None,
            response: &self.on_panic,
        }
    }

    /// The resources the rules may rebuild.
    pub(crate) fn resources(&self) -> impl Iterator<Item = &ResourceRef> {
        self.rules
            .iter()
            .map(|(_, response)| response)
            .chain([&self.otherwise, &self.on_panic])
            .filter_map(|response| match &response.reaction {
                Reaction::Rebuild(resource) => Some(resource),
                _ => None,
            })
    }
}
