//! The pure core of a circuit breaker: its phases, its window of outcomes,
//! and the moves between them, for a time and a slot number given.

use std::time::Duration;

use tokio::time::Instant;

use super::breaker::{BreakerState, Outcome};
use super::time;
use signal_core::KindId;

/// How many slots a breaker's window is cut into.
pub(crate) const SLOTS: usize = 10;

/// A breaker's settings, checked by its builder.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) counts: Vec<KindId>,
    pub(crate) failure_rate: f64,
    pub(crate) min_calls: u32,
    pub(crate) window: Duration,
    pub(crate) open_for: Duration,
    pub(crate) probes: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { in_flight: u32, succeeded: u32 },
}

/// The outcomes of one slot of the window.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    number: u64,
    answered: u64,
    failed: u64,
}

/// What a call was let through in: the phase's epoch (a number that grows
/// at each move), and whether it took a probe's place. Its place and its
/// outcome belong to that phase only: a call let through while closed that
/// answers once the breaker has opened, or half-opened, is no probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticket {
    epoch: u64,
    probe: bool,
}

impl Ticket {
    /// Whether the call took a probe's place.
    pub(crate) fn is_probe(self) -> bool {
        self.probe
    }
}

/// The ticket of a call let through, or `None` for an outcome that was not
/// asked for (a worker's run, a `Policy::retry` first attempt).
pub(crate) type Probe = Option<Ticket>;

/// The state machine: pure, the time and slot are given.
#[derive(Debug)]
pub(crate) struct Machine {
    pub(crate) phase: Phase,
    slots: [Slot; SLOTS],
    /// How many times it has half-opened.
    pub(crate) half_opened: u64,
    /// The current phase's number: it grows at each move.
    epoch: u64,
}

impl Default for Machine {
    fn default() -> Self {
        Machine {
            phase: Phase::Closed,
            slots: [Slot::default(); SLOTS],
            half_opened: 0,
            epoch: 0,
        }
    }
}

impl Machine {
    /// `Ok(ticket)` to let a call through (a probe of the current half-open
    /// while half-open), or `Err(retry_in)`; and the state it moved to, if
    /// it moved.
    pub(crate) fn admit(
        &mut self,
        now: Instant,
        probes: u32,
    ) -> (Result<Ticket, Duration>, Option<BreakerState>) {
        let mut moved = None;
        if let Phase::Open { until } = self.phase {
            if now < until {
                return (Err(until - now), None);
            }
            self.half_open();
            moved = Some(BreakerState::HalfOpen);
        }
        let epoch = self.epoch;
        match &mut self.phase {
            Phase::Closed => (
                Ok(Ticket {
                    epoch,
                    probe: false,
                }),
                moved,
            ),
            Phase::HalfOpen {
                in_flight,
                succeeded,
            } => {
                if in_flight.saturating_add(*succeeded) < probes {
                    *in_flight += 1;
                    (Ok(Ticket { epoch, probe: true }), moved)
                } else {
                    (Err(Duration::ZERO), moved)
                }
            }
            Phase::Open { .. } => unreachable!("an open breaker whose time is up half-opened"),
        }
    }

    fn half_open(&mut self) {
        self.phase = Phase::HalfOpen {
            in_flight: 0,
            succeeded: 0,
        };
        self.half_opened = self.half_opened.wrapping_add(1);
        self.moved();
    }

    /// A new phase: the calls let through before it are stale.
    fn moved(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
    }

    /// Whether `ticket` was given in a phase that has since ended (a call
    /// let through while closed, then the breaker opened; a probe of a
    /// half-open that reopened or closed).
    fn stale(&self, ticket: Probe) -> bool {
        ticket.is_some_and(|ticket| ticket.epoch != self.epoch)
    }

    /// Gives back the place of a probe that ended without an outcome; a
    /// probe of an earlier half-open has no place in this one.
    pub(crate) fn release_probe(&mut self, ticket: Ticket) {
        if !ticket.probe || self.stale(Some(ticket)) {
            return;
        }
        if let Phase::HalfOpen { in_flight, .. } = &mut self.phase {
            *in_flight = in_flight.saturating_sub(1);
        }
    }

    pub(crate) fn record(
        &mut self,
        outcome: Outcome,
        probe: Probe,
        now: Instant,
        number: u64,
        settings: &Settings,
    ) -> Option<BreakerState> {
        let mut moved = None;
        if let Phase::Open { until } = self.phase
            && now >= until
        {
            // An outcome not asked for (a worker's run) after the open
            // period: it is the probe.
            self.half_open();
            moved = Some(BreakerState::HalfOpen);
        }
        if self.stale(probe) {
            // A call let through in a phase that has ended (before the
            // breaker opened, or a probe of an earlier half-open): too late
            // to count.
            return moved;
        }
        self.record_in_phase(outcome, probe, now, number, settings)
            .or(moved)
    }

    fn record_in_phase(
        &mut self,
        outcome: Outcome,
        probe: Probe,
        now: Instant,
        number: u64,
        settings: &Settings,
    ) -> Option<BreakerState> {
        match &mut self.phase {
            // An outcome not asked for, within the open period: nothing
            // the breaker waits for.
            Phase::Open { .. } => None,
            Phase::HalfOpen {
                in_flight,
                succeeded,
            } => {
                if probe.is_some_and(Ticket::is_probe) {
                    *in_flight = in_flight.saturating_sub(1);
                }
                match outcome {
                    Outcome::Failed => {
                        self.open(now, settings);
                        Some(BreakerState::Open)
                    }
                    Outcome::Answered => {
                        *succeeded = succeeded.saturating_add(1);
                        if *succeeded >= settings.probes {
                            self.phase = Phase::Closed;
                            self.slots = [Slot::default(); SLOTS];
                            self.moved();
                            Some(BreakerState::Closed)
                        } else {
                            None
                        }
                    }
                }
            }
            Phase::Closed => {
                let slot = &mut self.slots[(number % SLOTS as u64) as usize];
                if slot.number != number {
                    *slot = Slot {
                        number,
                        ..Slot::default()
                    };
                }
                match outcome {
                    Outcome::Answered => slot.answered = slot.answered.saturating_add(1),
                    Outcome::Failed => slot.failed = slot.failed.saturating_add(1),
                }
                let oldest = number.saturating_sub(SLOTS as u64 - 1);
                let (answered, failed) = self
                    .slots
                    .iter()
                    .filter(|slot| (oldest..=number).contains(&slot.number))
                    .fold((0u64, 0u64), |(a, f), slot| {
                        (
                            a.saturating_add(slot.answered),
                            f.saturating_add(slot.failed),
                        )
                    });
                let total = answered.saturating_add(failed);
                let over = failed as f64 >= settings.failure_rate * total as f64;
                if outcome == Outcome::Failed && total >= u64::from(settings.min_calls) && over {
                    self.open(now, settings);
                    Some(BreakerState::Open)
                } else {
                    None
                }
            }
        }
    }

    fn open(&mut self, now: Instant, settings: &Settings) {
        self.phase = Phase::Open {
            until: time::after(now, settings.open_for),
        };
        self.slots = [Slot::default(); SLOTS];
        self.moved();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A probe's ticket in the phase numbered `epoch`.
    fn probe(epoch: u64) -> Ticket {
        Ticket { epoch, probe: true }
    }

    fn settings(min_calls: u32, probes: u32) -> Settings {
        Settings {
            counts: Vec::new(),
            failure_rate: 0.5,
            min_calls,
            window: Duration::from_secs(10),
            open_for: Duration::from_secs(5),
            probes,
        }
    }

    #[test]
    fn opens_on_the_rate_of_enough_outcomes_then_probes_then_closes() {
        let settings = settings(4, 2);
        let now = Instant::now();
        let mut machine = Machine::default();
        // Three failures: below the minimum number of outcomes.
        for _ in 0..3 {
            assert_eq!(
                machine.record(Outcome::Failed, None, now, 0, &settings),
                None
            );
        }
        assert_eq!(
            machine.record(Outcome::Failed, None, now, 0, &settings),
            Some(BreakerState::Open)
        );
        assert_eq!(machine.admit(now, 2).0, Err(Duration::from_secs(5)));
        let later = now + Duration::from_secs(5);
        assert_eq!(
            machine.admit(later, 2),
            (Ok(probe(2)), Some(BreakerState::HalfOpen))
        );
        assert_eq!(machine.admit(later, 2), (Ok(probe(2)), None));
        // Both probes are out: a third call is refused.
        assert_eq!(machine.admit(later, 2).0, Err(Duration::ZERO));
        assert_eq!(
            machine.record(Outcome::Answered, Some(probe(2)), later, 0, &settings),
            None
        );
        assert_eq!(
            machine.record(Outcome::Answered, Some(probe(2)), later, 0, &settings),
            Some(BreakerState::Closed)
        );
        assert_eq!(
            machine.admit(later, 2),
            (
                Ok(Ticket {
                    epoch: 3,
                    probe: false
                }),
                None
            )
        );
    }

    #[test]
    fn a_failed_probe_reopens_and_a_released_one_is_given_back() {
        let settings = settings(1, 1);
        let now = Instant::now();
        let mut machine = Machine::default();
        machine.record(Outcome::Failed, None, now, 0, &settings);
        let later = now + Duration::from_secs(5);
        assert_eq!(machine.admit(later, 1).0, Ok(probe(2)));
        machine.release_probe(probe(2));
        assert_eq!(
            machine.admit(later, 1).0,
            Ok(probe(2)),
            "the probe was given back"
        );
        assert_eq!(
            machine.record(Outcome::Failed, Some(probe(2)), later, 0, &settings),
            Some(BreakerState::Open)
        );
        assert!(machine.admit(later, 1).0.is_err());
    }

    #[test]
    fn an_outcome_after_the_open_period_is_the_probe() {
        let settings = settings(1, 1);
        let now = Instant::now();
        let mut machine = Machine::default();
        machine.record(Outcome::Failed, None, now, 0, &settings);
        // Within the open period: ignored.
        assert_eq!(
            machine.record(Outcome::Answered, None, now, 0, &settings),
            None
        );
        assert!(machine.admit(now, 1).0.is_err());
        let later = now + Duration::from_secs(5);
        assert_eq!(
            machine.record(Outcome::Answered, None, later, 0, &settings),
            Some(BreakerState::Closed)
        );
    }

    #[test]
    fn answers_keep_the_rate_below_the_threshold_and_old_slots_leave() {
        let settings = settings(4, 1);
        let now = Instant::now();
        let mut machine = Machine::default();
        for _ in 0..10 {
            machine.record(Outcome::Answered, None, now, 0, &settings);
        }
        for _ in 0..9 {
            assert_eq!(
                machine.record(Outcome::Failed, None, now, 0, &settings),
                None
            );
        }
        // The tenth failure makes half.
        assert_eq!(
            machine.record(Outcome::Failed, None, now, 0, &settings),
            Some(BreakerState::Open)
        );
        // Failures spread over slots that leave the window never add up.
        let mut machine = Machine::default();
        for slot in 0..100 {
            machine.record(Outcome::Answered, None, now, slot * 10, &settings);
            assert_eq!(
                machine.record(Outcome::Failed, None, now, slot * 10, &settings),
                None
            );
        }
    }

    #[test]
    fn a_probe_of_an_ended_half_open_neither_frees_a_place_nor_counts() {
        let settings = settings(1, 2);
        let now = Instant::now();
        let mut machine = Machine::default();
        machine.record(Outcome::Failed, None, now, 0, &settings);
        let later = now + Duration::from_secs(5);
        let (old, _) = machine.admit(later, 2);
        assert_eq!(old, Ok(probe(2)));
        assert_eq!(machine.admit(later, 2).0, Ok(probe(2)));
        assert_eq!(
            machine.record(Outcome::Failed, Some(probe(2)), later, 0, &settings),
            Some(BreakerState::Open)
        );
        // Open: a probe of the half-open before counts for nothing.
        assert_eq!(
            machine.record(Outcome::Failed, Some(probe(2)), later, 0, &settings),
            None
        );
        let again = later + Duration::from_secs(5);
        assert_eq!(machine.admit(again, 2).0, Ok(probe(4)));
        assert_eq!(machine.admit(again, 2).0, Ok(probe(4)));
        machine.release_probe(probe(2));
        assert_eq!(machine.admit(again, 2).0, Err(Duration::ZERO));
        assert_eq!(
            machine.record(Outcome::Answered, Some(probe(2)), again, 0, &settings),
            None
        );
        assert_eq!(
            machine.record(Outcome::Answered, Some(probe(4)), again, 0, &settings),
            None
        );
        assert_eq!(
            machine.record(Outcome::Answered, Some(probe(4)), again, 0, &settings),
            Some(BreakerState::Closed)
        );
        // Closed: a late probe counts for nothing, and takes nothing back.
        machine.release_probe(probe(4));
        assert_eq!(
            machine.record(Outcome::Failed, Some(probe(4)), again, 0, &settings),
            None
        );
    }

    #[test]
    fn a_call_let_through_while_closed_is_no_probe_once_half_open() {
        let settings = settings(1, 1);
        let now = Instant::now();
        let mut machine = Machine::default();
        let (closed, _) = machine.admit(now, 1);
        let closed = closed.unwrap();
        assert!(!closed.is_probe());
        machine.record(Outcome::Failed, None, now, 0, &settings);
        let later = now + Duration::from_secs(5);
        let (probe, _) = machine.admit(later, 1);
        let probe = probe.unwrap();
        assert!(probe.is_probe());
        // The call from before the opening answers: neither a probe's
        // success nor a free place.
        assert_eq!(
            machine.record(Outcome::Answered, Some(closed), later, 0, &settings),
            None
        );
        machine.release_probe(closed);
        assert_eq!(machine.admit(later, 1).0, Err(Duration::ZERO));
        assert_eq!(
            machine.record(Outcome::Failed, Some(probe), later, 0, &settings),
            Some(BreakerState::Open)
        );
    }
}
