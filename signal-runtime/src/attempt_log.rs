//! Every attempt's error, bounded: what a retried call that gave up keeps
//! of each attempt.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use signal_core::vocab::{
    BadCredentials, BrokenPipe, Cancelled, ConnectionAborted, ConnectionRefused, ConnectionReset,
    DnsFailure, HostUnreachable, NeedsReconnect, NetworkUnreachable, NeverSent, Panicked,
    PermissionDenied, RateLimited, ResourceBusy, TimedOut, TransientNetwork, Unavailable,
};
use signal_core::{Kind, KindId, Signal, Trace};

use super::policy::Policy;

/// The standard vocabulary's kinds, looked for in every failed attempt.
const VOCABULARY: &[KindId] = &[
    TransientNetwork::ID,
    NeverSent::ID,
    ConnectionRefused::ID,
    ConnectionReset::ID,
    ConnectionAborted::ID,
    HostUnreachable::ID,
    NetworkUnreachable::ID,
    BrokenPipe::ID,
    DnsFailure::ID,
    TimedOut::ID,
    RateLimited::ID,
    Unavailable::ID,
    BadCredentials::ID,
    PermissionDenied::ID,
    ResourceBusy::ID,
    NeedsReconnect::ID,
    Cancelled::ID,
    Panicked::ID,
];

/// One failed attempt of a retried call, as its [`AttemptLog`] keeps it:
/// names, kinds and durations only, never the error's values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRecord {
    /// The attempt's number, counted from 1.
    pub number: u32,
    /// The kinds its error carries, among the kinds the policy's rules name
    /// and the [standard vocabulary](signal_core::vocab): the matched rule's
    /// kind first.
    pub kinds: Vec<KindId>,
    /// The path through which the error carries the matched rule's kind;
    /// `None` when the default rule picked it.
    pub trace: Option<Trace>,
    /// The wait chosen before the next attempt; `None` for the attempt the
    /// call gave up on.
    pub delay: Option<Duration>,
    /// The error's type name.
    pub error_type: &'static str,
}

impl AttemptRecord {
    pub(crate) fn of<E: Signal + 'static>(
        policy: &Policy,
        number: u32,
        matched: Option<KindId>,
        trace: Option<Trace>,
        error: &E,
    ) -> Self {
        let mut kinds: Vec<KindId> = matched.into_iter().collect();
        for kind in policy.rule_kinds().chain(VOCABULARY.iter().copied()) {
            if !kinds.contains(&kind) && error.has_kind(kind) {
                kinds.push(kind);
            }
        }
        AttemptRecord {
            number,
            kinds,
            trace,
            delay: None,
            error_type: std::any::type_name::<E>(),
        }
    }
}

impl fmt::Display for AttemptRecord {
    /// `attempt 2: [TimedOut, TransientNetwork] via A::B → C::D, then waited
    /// 200ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "attempt {}: [", self.number)?;
        for (i, kind) in self.kinds.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(kind.name())?;
        }
        f.write_str("]")?;
        if let Some(trace) = &self.trace {
            write!(f, " via {trace}")?;
        }
        match self.delay {
            Some(delay) => write!(f, ", then waited {delay:?}"),
            None => f.write_str(", gave up"),
        }
    }
}

/// Every attempt of a retried call that gave up, bounded: the first attempt
/// and the [`LATEST`](Self::LATEST) latest are kept, the ones between are
/// only counted ([`omitted`](Self::omitted)), so a call retried for days
/// keeps a log of eight records at most.
///
/// ```
/// use std::time::Duration;
/// use signal_runtime::{Backoff, Intensity, Policy, Reaction};
/// use signal_core::{Kind, Signal, kind};
///
/// kind! { pub Blip; }
///
/// #[derive(Debug, Signal)]
/// enum FetchError {
///     #[signal(leaf = "Blip")]
///     Blip,
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let policy = Policy::new()
///     .on::<Blip>(Reaction::Retry.max_attempts(20))
///     .backoff(Backoff::new(Duration::from_millis(1), Duration::from_millis(1)))
///     .intensity(Intensity::new(100, Duration::from_secs(60)));
/// let error = policy.call("fetch").run(async |_| Err::<(), _>(FetchError::Blip)).await.unwrap_err();
/// let log = error.log();
/// assert_eq!(log.len(), 20);
/// assert_eq!(log.omitted(), 12);
/// let numbers: Vec<u32> = log.iter().map(|attempt| attempt.number).collect();
/// assert_eq!(numbers, [1, 14, 15, 16, 17, 18, 19, 20]);
/// assert_eq!(log.last().unwrap().kinds, [Blip::ID]);
/// assert!(error.to_string().starts_with("call `fetch` failed after 20 attempts"));
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttemptLog {
    first: Option<AttemptRecord>,
    latest: VecDeque<AttemptRecord>,
    omitted: u32,
    /// An attempt's error did not carry `NeverSent`: it may have reached
    /// the peer (the omitted attempts included).
    any_sent: bool,
}

impl AttemptLog {
    /// How many of the latest attempts are kept, besides the first.
    pub const LATEST: usize = 7;

    /// Adds an attempt: the first is kept for good, the latest
    /// [`LATEST`](Self::LATEST) after it, and those pushed out are counted.
    pub(crate) fn push(&mut self, record: AttemptRecord) {
        self.any_sent |= !record.kinds.contains(&NeverSent::ID);
        if self.first.is_none() {
            self.first = Some(record);
            return;
        }
        self.latest.push_back(record);
        if self.latest.len() > Self::LATEST {
            self.latest.pop_front();
            self.omitted = self.omitted.saturating_add(1);
        }
    }

    /// How many attempts failed in all, the omitted ones included.
    pub fn len(&self) -> u32 {
        let kept = u32::try_from(self.latest.len()).unwrap_or(u32::MAX);
        u32::from(self.first.is_some())
            .saturating_add(kept)
            .saturating_add(self.omitted)
    }

    /// Whether no attempt failed.
    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// How many attempts between the first and the latest kept were only
    /// counted.
    pub fn omitted(&self) -> u32 {
        self.omitted
    }

    /// The kept attempts, oldest first: the first attempt, then the latest.
    pub fn iter(&self) -> impl Iterator<Item = &AttemptRecord> {
        self.first.iter().chain(&self.latest)
    }

    /// Whether any attempt may have reached the peer: its error did not
    /// carry [`NeverSent`] (the omitted attempts included). `false` when
    /// every attempt's error said the request never left, or when no
    /// attempt was made.
    pub fn any_sent(&self) -> bool {
        self.any_sent
    }

    /// The first attempt.
    pub fn first(&self) -> Option<&AttemptRecord> {
        self.first.as_ref()
    }

    /// The last attempt: the one the call gave up on.
    pub fn last(&self) -> Option<&AttemptRecord> {
        self.latest.back().or(self.first.as_ref())
    }
}

impl fmt::Display for AttemptLog {
    /// One attempt a line, with a line for the omitted ones.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut records = self.iter();
        if let Some(first) = records.next() {
            write!(f, "{first}")?;
        }
        if self.omitted > 0 {
            write!(f, "\n({} attempts omitted)", self.omitted)?;
        }
        for record in records {
            write!(f, "\n{record}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(number: u32) -> AttemptRecord {
        AttemptRecord {
            number,
            kinds: Vec::new(),
            trace: None,
            delay: Some(Duration::from_millis(u64::from(number))),
            error_type: "E",
        }
    }

    fn numbers(log: &AttemptLog) -> Vec<u32> {
        log.iter().map(|record| record.number).collect()
    }

    #[test]
    fn keeps_the_first_and_the_latest_and_counts_the_rest() {
        let mut log = AttemptLog::default();
        assert!(log.is_empty());
        assert_eq!((log.len(), log.omitted()), (0, 0));
        assert!(log.last().is_none());
        for n in 1..=8 {
            log.push(record(n));
        }
        // Eight fit: nothing omitted.
        assert_eq!(numbers(&log), [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!((log.len(), log.omitted()), (8, 0));
        log.push(record(9));
        assert_eq!(numbers(&log), [1, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!((log.len(), log.omitted()), (9, 1));
        for n in 10..=1000 {
            log.push(record(n));
        }
        assert_eq!(numbers(&log), [1, 994, 995, 996, 997, 998, 999, 1000]);
        assert_eq!((log.len(), log.omitted()), (1000, 992));
        assert_eq!(log.first().unwrap().number, 1);
        assert_eq!(log.last().unwrap().number, 1000);
    }

    #[test]
    fn one_attempt_is_first_and_last() {
        let mut log = AttemptLog::default();
        log.push(AttemptRecord {
            delay: None,
            ..record(1)
        });
        assert_eq!(log.first(), log.last());
        assert_eq!(log.to_string(), "attempt 1: [], gave up");
    }

    #[test]
    fn display_marks_the_omitted_attempts() {
        let mut log = AttemptLog::default();
        for n in 1..=10 {
            log.push(record(n));
        }
        let text = log.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 9);
        assert_eq!(lines[0], "attempt 1: [], then waited 1ms");
        assert_eq!(lines[1], "(2 attempts omitted)");
        assert_eq!(lines[2], "attempt 4: [], then waited 4ms");
    }
}
