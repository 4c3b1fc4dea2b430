//! What a [`RetryError`] carries: its own leaf, the last error's signals,
//! and "never sent" only as a fact of the whole call.
//!
//! Written by hand, since whether the last error's `NeverSent` is passed on
//! depends on the call's other attempts (its [`AttemptLog`]), which no
//! static forwarding rule can say. The static shape is a derived mirror's:
//! the paths through which the error *may* carry each kind.

use std::ops::ControlFlow;

use super::breaker::BreakerOpen;
use super::retry_error::RetryError;
use signal_core::vocab::{NeverSent, TimedOut, Unavailable};
use signal_core::{FieldName, Kind, KindId, Node, Shape, Signal, Step, Trace, Walker};

/// How paths name the type.
const NAME: &str = "RetryError";

/// One variant's carriers.
struct Parts<'a, E> {
    variant: &'static str,
    leaf: Option<KindId>,
    /// The breaker's refusal, passed on only when nothing was sent.
    open: Option<&'a BreakerOpen>,
    last: Option<&'a E>,
    /// An attempt may have reached the peer: what the last error raises
    /// through `NeverSent` is held back.
    any_sent: bool,
}

impl<E> RetryError<E> {
    fn parts(&self) -> Parts<'_, E> {
        let any_sent = self.log().any_sent();
        let (variant, leaf, open) = match self {
            RetryError::Failed { .. } => ("Failed", None, None),
            RetryError::DeadlineExceeded { .. } => ("DeadlineExceeded", Some(TimedOut::ID), None),
            RetryError::BudgetExhausted { .. } => ("BudgetExhausted", None, None),
            RetryError::MaybeProcessed { .. } => ("MaybeProcessed", None, None),
            RetryError::CircuitOpen { open, .. } => (
                "CircuitOpen",
                Some(Unavailable::ID),
                (!any_sent).then_some(open),
            ),
        };
        Parts {
            variant,
            leaf,
            open,
            last: self.last(),
            any_sent,
        }
    }
}

/// How the last error is consulted for a kind.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    /// As it is.
    All,
    /// Not at all: the kind is `NeverSent` or implies it.
    Not,
    /// Only by the paths whose leaf reaches the kind other than through
    /// `NeverSent` (the kind is broader than `NeverSent`).
    AvoidingNeverSent,
}

impl<E> Parts<'_, E> {
    /// How the last error is consulted for `kind`.
    fn last_for(&self, kind: KindId) -> Last {
        if !self.any_sent {
            Last::All
        } else if kind.implies(NeverSent::ID) {
            Last::Not
        } else if NeverSent::ID.implies(kind) {
            Last::AvoidingNeverSent
        } else {
            Last::All
        }
    }

    fn node(&self, field: Option<&'static str>) -> Node {
        Node {
            ty: NAME,
            variant: Some(self.variant),
            field: field.map(FieldName::Named),
        }
    }
}

/// Whether raising `leaf` raises `query` other than through `NeverSent`:
/// along its implications, or a kind `query` includes, never stepping on
/// `NeverSent` itself.
fn reaches_avoiding_never_sent(leaf: KindId, query: KindId) -> bool {
    if leaf == NeverSent::ID {
        return false;
    }
    leaf == query
        || leaf
            .direct_implications()
            .iter()
            .any(|&next| reaches_avoiding_never_sent(next, query))
        || query.direct_inclusions().iter().any(|&included| {
            included != NeverSent::ID && reaches_avoiding_never_sent(leaf, included)
        })
}

/// The paths through which `last` carries `kind` other than through
/// `NeverSent`.
fn traces_avoiding_never_sent<E: Signal>(last: &E, kind: KindId) -> Vec<Trace> {
    let mut traces = last.traces_kind(kind);
    traces.retain(|trace| {
        trace
            .leaf()
            .is_some_and(|leaf| reaches_avoiding_never_sent(leaf, kind))
    });
    traces
}

/// Walks `steps` (a path found in the last error) again, through `walker`.
fn replay(walker: &mut Walker<'_>, steps: &[Step]) -> ControlFlow<()> {
    match steps {
        [via, Step::Leaf(leaf)] => walker.leaf_via(*via, *leaf),
        [first, rest @ ..] => walker.enter(*first, |walker| replay(walker, rest)),
        [] => ControlFlow::Continue(()),
    }
}

impl<E: Signal> Signal for RetryError<E> {
    #[inline]
    fn has<K: Kind>(&self) -> bool {
        let parts = self.parts();
        parts.leaf.is_some_and(|leaf| leaf.implies(K::ID))
            || parts.open.is_some_and(|open| open.has::<K>())
            || parts.last.is_some_and(|last| match parts.last_for(K::ID) {
                Last::All => last.has::<K>(),
                Last::Not => false,
                Last::AvoidingNeverSent => {
                    last.has::<K>() && !traces_avoiding_never_sent(last, K::ID).is_empty()
                }
            })
    }

    fn walk(&self, walker: &mut Walker<'_>) -> ControlFlow<()> {
        let parts = self.parts();
        if let Some(leaf) = parts.leaf {
            walker.leaf(parts.node(None), leaf)?;
        }
        if let Some(open) = parts.open {
            walker.enter(Step::Node(parts.node(Some("open"))), |walker| {
                open.walk(walker)
            })?;
        }
        let Some(last) = parts.last else {
            return ControlFlow::Continue(());
        };
        let field = Step::Node(parts.node(Some("last")));
        match parts.last_for(walker.kind()) {
            Last::All => walker.enter(field, |walker| last.walk(walker)),
            Last::Not => ControlFlow::Continue(()),
            Last::AvoidingNeverSent => {
                let traces = traces_avoiding_never_sent(last, walker.kind());
                walker.enter(field, |walker| {
                    for trace in &traces {
                        replay(walker, trace.steps())?;
                    }
                    ControlFlow::Continue(())
                })
            }
        }
    }

    fn shape() -> Shape {
        <mirror::RetryError<E> as Signal>::shape()
    }
}

/// The static shape of [`RetryError`], derived: every path through which
/// it may carry a kind.
mod mirror {
    #![allow(dead_code)]

    use super::BreakerOpen;
    use signal_core::Signal;

    #[derive(Signal)]
    pub(super) enum RetryError<E> {
        Failed {
            #[signal(forward)]
            last: E,
        },
        #[signal(leaf = "signal_core::vocab::TimedOut")]
        DeadlineExceeded {
            #[signal(forward)]
            last: E,
        },
        BudgetExhausted {
            #[signal(forward)]
            last: E,
        },
        MaybeProcessed {
            #[signal(forward)]
            last: E,
        },
        #[signal(leaf = "signal_core::vocab::Unavailable")]
        CircuitOpen {
            #[signal(forward)]
            open: BreakerOpen,
            #[signal(forward)]
            last: Option<E>,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::attempt_log::{AttemptLog, AttemptRecord};
    use crate::breaker::BreakerRefused;
    use crate::names::StopReason;
    use signal_core::vocab::{ConnectionRefused, TransientNetwork};

    #[derive(Debug, Signal)]
    enum Io {
        #[signal(leaf = "signal_core::vocab::ConnectionRefused")]
        Refused,
        #[signal(leaf = "signal_core::vocab::ConnectionReset")]
        Reset,
    }

    /// A log of attempts whose errors carried `kinds`, one list each.
    fn log(attempts: &[&[KindId]]) -> AttemptLog {
        let mut log = AttemptLog::default();
        for (n, kinds) in attempts.iter().enumerate() {
            log.push(AttemptRecord {
                number: u32::try_from(n).unwrap() + 1,
                kinds: kinds.to_vec(),
                trace: None,
                delay: None,
                error_type: "Io",
            });
        }
        log
    }

    fn open() -> BreakerOpen {
        BreakerOpen {
            breaker: Arc::from("api"),
            retry_in: Duration::from_secs(1),
        }
    }

    fn failed(log: AttemptLog, last: Io) -> RetryError<Io> {
        RetryError::Failed {
            name: Arc::from("call"),
            reason: StopReason::Exhausted,
            log,
            last,
        }
    }

    const REFUSED: &[KindId] = &[ConnectionRefused::ID, NeverSent::ID, TransientNetwork::ID];
    const RESET: &[KindId] = &[TransientNetwork::ID];

    #[test]
    fn the_last_errors_never_sent_is_passed_on_only_when_nothing_was_sent() {
        let none_sent = failed(log(&[REFUSED, REFUSED]), Io::Refused);
        assert!(none_sent.has::<NeverSent>());
        assert!(none_sent.has_kind(NeverSent::ID));
        assert!(none_sent.has::<ConnectionRefused>());
        assert_eq!(
            none_sent.trace::<NeverSent>().unwrap().to_string(),
            "RetryError::Failed.last → Io::Refused (ConnectionRefused ⇒ NeverSent)"
        );
        let one_sent = failed(log(&[RESET, REFUSED]), Io::Refused);
        for carries in [
            one_sent.has::<NeverSent>(),
            one_sent.has_kind(NeverSent::ID),
            one_sent.has::<ConnectionRefused>(),
            one_sent.trace::<NeverSent>().is_some(),
        ] {
            assert!(!carries);
        }
        // What does not imply it is passed on, by `has` and by `walk`.
        assert!(one_sent.has::<TransientNetwork>());
        assert!(one_sent.has_kind(TransientNetwork::ID));
        let reset = failed(log(&[REFUSED, RESET]), Io::Reset);
        assert!(!reset.has::<NeverSent>() && reset.has::<TransientNetwork>());
    }

    signal_core::kind! {
        /// Raised only by what never left.
        pub SafeToRetry: includes(NeverSent);
        /// Raised by a network blip or by what never left.
        pub Retryable: includes(TransientNetwork, NeverSent);
    }

    #[test]
    fn a_kind_raised_only_through_never_sent_is_held_back_too() {
        let one_sent = failed(log(&[RESET, REFUSED]), Io::Refused);
        assert!(!one_sent.has::<SafeToRetry>());
        assert!(!one_sent.has_kind(SafeToRetry::ID));
        assert!(one_sent.trace::<SafeToRetry>().is_none());
        // A kind the last error also reaches another way is passed on, by
        // that way only.
        assert!(one_sent.has::<Retryable>());
        assert!(one_sent.has_kind(Retryable::ID));
        let traces = one_sent.traces::<Retryable>();
        assert_eq!(traces.len(), 1, "{traces:?}");
        assert_eq!(
            traces[0].to_string(),
            "RetryError::Failed.last → Io::Refused (ConnectionRefused ⇒ TransientNetwork ⇒ Retryable)"
        );
        // The twin: nothing sent, everything passed on.
        let none_sent = failed(log(&[REFUSED]), Io::Refused);
        assert!(none_sent.has::<SafeToRetry>() && none_sent.has_kind(SafeToRetry::ID));
        assert!(none_sent.trace::<SafeToRetry>().is_some());
    }

    #[test]
    fn a_circuit_open_before_anything_was_sent_carries_the_refusal() {
        let refused = |log, last| RetryError::CircuitOpen {
            name: Arc::from("call"),
            open: open(),
            log,
            last,
        };
        let before_any = refused(AttemptLog::default(), None);
        assert!(before_any.has::<Unavailable>());
        assert!(before_any.has::<BreakerRefused>());
        assert!(before_any.has::<NeverSent>());
        assert_eq!(
            before_any.trace::<NeverSent>().unwrap().to_string(),
            "RetryError::CircuitOpen.open → BreakerOpen (BreakerRefused ⇒ NeverSent)"
        );
        let after_refusals = refused(log(&[REFUSED]), Some(Io::Refused));
        assert!(after_refusals.has::<NeverSent>());
        // The twin: after an attempt that may have been processed.
        let after_a_reset = refused(log(&[RESET]), Some(Io::Reset));
        assert!(after_a_reset.has::<Unavailable>());
        assert!(!after_a_reset.has::<BreakerRefused>());
        assert!(!after_a_reset.has::<NeverSent>());
        assert!(!after_a_reset.has_kind(NeverSent::ID));
    }

    #[test]
    fn the_static_shape_names_every_variant_and_its_carriers() {
        let map = signal_core::map::<RetryError<Io>>();
        let markdown = map.to_markdown();
        for path in [
            "RetryError::Failed.last",
            "RetryError::CircuitOpen.open",
            "RetryError::DeadlineExceeded",
        ] {
            assert!(markdown.contains(path), "{path} not in\n{markdown}");
        }
        assert!(!map.paths(NeverSent::ID).is_empty());
        assert!(!map.paths(TransientNetwork::ID).is_empty());
        assert!(!map.paths(ConnectionRefused::ID).is_empty());
    }
}
