//! The supervisor's reaction to one failed run: the ladder's step, carried
//! out (back off, rebuild, stop), and recovery.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::backoff::Jitter;
use super::breaker::{CircuitBreaker, Permit};
use super::error::{Failure, SupervisorError};
use super::ladder::{Failed, Step};
use super::lock;
use super::log::{self, Report, Subject};
use super::metrics;
use super::names::StopReason;
use super::policy::Policy;
use super::state::{RunOutcome, RunRecord};
use super::time;
use super::worker::{History, OnRecover, Phase, Shared};
use signal_core::Signal;

/// A worker's state while the supervisor reacts to one of its failures: a
/// working copy of its history, published at each change. It lives in the
/// (boxed) reaction only, so an idle worker's task does not hold it.
pub(crate) struct Run<'a, T, E> {
    shared: &'a Shared<T, E>,
    runs: u64,
    /// The worker's number in its supervisor.
    index: u32,
    h: History<E>,
    /// The probe place in the policy's half-open breaker the failed run
    /// took, then the one the next run takes: the supervising loop holds it
    /// while the run runs, so a run that ends without an outcome (a
    /// shutdown, an abort) gives it back.
    pub(crate) probe: Option<Permit>,
}

impl<'a, T, E> Run<'a, T, E>
where
    T: Send + 'static,
    E: Signal + Send + Sync + 'static,
{
    pub(crate) fn load(shared: &'a Shared<T, E>) -> Self {
        let record = lock(&shared.record);
        Run {
            shared,
            runs: record.runs,
            index: record.index,
            h: record.history.as_deref().cloned().unwrap_or_default(),
            probe: None,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.shared.core.name
    }

    /// The jitter stream of this reaction: the worker's name, its number
    /// in its supervisor and its failure count, so that with a seed each
    /// worker (two of the same name too) gets its own delays, reproducible
    /// from one run of the program to the next, and each failure a fresh
    /// draw.
    pub(crate) fn jitter_stream(&self) -> u64 {
        let name = self
            .name()
            .bytes()
            .fold(0xCBF2_9CE4_8422_2325_u64, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3)
            });
        name ^ u64::from(self.index).wrapping_mul(0xD6E8_FEB8_6659_FD93)
            ^ self.h.failures.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// Writes the working copy back, without announcing it.
    pub(crate) fn save(&self) {
        let mut record = lock(&self.shared.record);
        match &mut record.history {
            Some(history) => (**history).clone_from(&self.h),
            None => record.history = Some(Box::new(self.h.clone())),
        }
    }

    pub(crate) fn publish(&self, phase: Phase) {
        self.save();
        lock(&self.shared.record).phase = phase;
        self.shared.core.changed.notify_waiters();
    }

    /// Adds how a run ended to the recent runs (published with the next
    /// status change).
    pub(crate) fn record(&mut self, started: Instant, outcome: RunOutcome) {
        let run = self.runs;
        self.h.record(RunRecord {
            run,
            started,
            lasted: started.elapsed(),
            outcome,
        });
    }

    /// Reacts to one failed run, by the step the reaction ladder gives.
    /// Returns when the worker should run again, or (with `Break`) when it
    /// should end because the supervisor is shutting down.
    pub(crate) async fn fail(
        &mut self,
        mut failure: Failure<E>,
        started: Instant,
        policy: &Policy,
        jitter: &mut Jitter,
    ) -> ControlFlow<()> {
        let now = Instant::now();
        let marked_healthy = self.shared.core.healthy.swap(false, Ordering::Relaxed);
        if marked_healthy || now.saturating_duration_since(started) >= policy.healthy_after {
            self.h.retry.forget_backoff();
        }
        self.h.retry.attempt = self.h.retry.attempt.saturating_add(1);
        let attempt = self.h.retry.attempt;
        self.h.failures += 1;
        let mut matched = match &failure {
            Failure::Error(error) => policy.rule_for(&**error),
            Failure::Panic(_) => policy.rule_for_panic(),
        };
        let (mut proposed, reader_panic) =
            policy.delay_after(matched.rule, attempt, failure.error(), jitter);
        if let Some(message) = reader_panic {
            // A panic in what the supervisor calls for the run is a panic
            // of the run: the panic rule answers it.
            failure = Failure::Panic(Arc::from(format!(
                "the Retry-After reader panicked: {message}"
            )));
            matched = policy.rule_for_panic();
            proposed = policy
                .delay_after::<E>(matched.rule, attempt, None, jitter)
                .0;
        }
        if let Some(breaker) = policy.circuit_breaker() {
            // A panic is a bug, not the dependency's health, and a refusal
            // by a breaker on the run's way sent nothing: not counted.
            let outcome = failure
                .error()
                .and_then(|error| breaker.outcome_of::<(), E>(Err(error)));
            breaker.record_run(self.probe.take(), outcome);
        }
        self.h.last_failure = Some(failure.clone());
        let spent = self.h.retry.spend(matched.key);
        let seen = matched
            .resource()
            .map_or(0, |resource| self.shared.core.seen(resource));
        let failed = Failed {
            matched,
            attempt,
            spent,
            seen,
            proposed: Some(proposed),
            // A worker has no deadline, and may always run again.
            remaining: None,
            may_be_processed: false,
        };
        let step = policy.step_worker(failed, &mut self.h.retry.restarts, now);
        let rule = matched.rule;
        self.h.retry.last_reaction = Some(rule.reaction.name());
        self.record(
            started,
            match failure {
                Failure::Error(_) => RunOutcome::Failed {
                    kind: matched.kind,
                    reaction: step.reaction(),
                },
                Failure::Panic(_) => RunOutcome::Panicked {
                    reaction: step.reaction(),
                },
            },
        );
        let trace = matched
            .kind
            .zip(failure.error())
            .and_then(|(kind, error)| error.trace_kind(kind));
        let shared = self.shared;
        let report = Report {
            subject: Subject::Worker,
            worker: &shared.core.name,
            attempt,
            kind: matched.kind,
            trace: trace.as_ref(),
            error_type: match failure {
                Failure::Error(_) => std::any::type_name::<E>(),
                Failure::Panic(_) => "panic",
            },
        };
        let restarts = self.h.retry.restarts.len();
        report.step(rule.level, &step, policy, restarts);
        let stopped = match step {
            Step::Stop(reason) => Some(reason),
            _ => None,
        };
        metrics::step(
            Subject::Worker,
            self.name(),
            step.reaction(),
            stopped,
            matched.kind,
            failure.is_panic(),
        );

        let worker = || Arc::from(&*shared.core.name);
        // A restart withdrew from the budget, now: given back if the worker
        // shuts down (or its task is dropped) before the restart is made.
        let withdrawn = match step {
            Step::Stop(_) => None,
            Step::Retry { .. } | Step::Rebuild { .. } => {
                policy.budget().map(|budget| budget.hold(Some(now)))
            }
        };
        let made = |flow: ControlFlow<()>| {
            if flow.is_continue()
                && let Some(withdrawn) = withdrawn
            {
                withdrawn.made();
            }
            flow
        };
        match step {
            Step::Stop(reason) => {
                let error = match (reason, failure) {
                    (StopReason::Reaction, Failure::Error(error)) => SupervisorError::Stopped {
                        worker: worker(),
                        attempt,
                        error,
                    },
                    (StopReason::Reaction, Failure::Panic(message)) => SupervisorError::Panicked {
                        worker: worker(),
                        attempt,
                        message,
                    },
                    // A worker has no deadline and is idempotent: the
                    // ladder never stops it for either, and would it, it
                    // is out of attempts.
                    (
                        StopReason::Exhausted
                        | StopReason::DeadlineExceeded
                        | StopReason::MaybeProcessed
                        | StopReason::CircuitOpen,
                        last,
                    ) => SupervisorError::Exhausted {
                        worker: worker(),
                        attempts: attempt,
                        last,
                    },
                    (StopReason::BudgetExhausted, last) => SupervisorError::BudgetExhausted {
                        worker: worker(),
                        budget: Arc::from(policy.budget().map_or("", |budget| budget.name())),
                        attempt,
                        last,
                    },
                    (StopReason::IntensityExceeded, last) => SupervisorError::IntensityExceeded {
                        worker: worker(),
                        restarts,
                        within: policy.intensity.within,
                        last,
                    },
                };
                self.park(reason, error).await
            }
            Step::Rebuild {
                resource,
                from,
                after_failure,
            } => {
                self.publish(Phase::Rebuilding);
                let rebuilt = tokio::select! {
                    biased;
                    () = shared.core.cancel.cancelled() => return ControlFlow::Break(()),
                    rebuilt = resource.0.rebuild_from(from) => rebuilt,
                };
                if let Err(error) = rebuilt {
                    self.h.last_rebuild_error = Some(error);
                    report.rebuild_failed(resource.name(), after_failure);
                    if self.back_off(after_failure).await.is_break() {
                        return ControlFlow::Break(());
                    }
                }
                // The rebuilt resource is used against the same dependency:
                // the restart waits for the breaker as a retry's does.
                made(self.admit_restart(policy, proposed).await)
            }
            Step::Retry { delay } => {
                if self.back_off(delay).await.is_break() {
                    return ControlFlow::Break(());
                }
                made(self.admit_restart(policy, delay).await)
            }
        }
    }

    /// Before a restart, once its own wait is over: the breaker may have
    /// opened meanwhile (other workers' failures, or the failure itself),
    /// so the worker waits for it too, unless it was recovered meanwhile
    /// (which resets its attempts). Half-open, the restart takes a probe
    /// place, or waits `busy` again (at least [`BUSY_FLOOR`]) while the
    /// probes are all out: workers that waited together do not all probe
    /// together, and a zero backoff does not ask the breaker in a loop.
    async fn admit_restart(&mut self, policy: &Policy, busy: Duration) -> ControlFlow<()> {
        let busy = busy.max(BUSY_FLOOR);
        while self.h.retry.attempt > 0
            && let Some(breaker) = policy.circuit_breaker()
        {
            let flow = match breaker.admit() {
                Ok(permit) => {
                    self.probe = Some(permit);
                    break;
                }
                Err(open) if open.retry_in.is_zero() => self.back_off(busy).await,
                Err(open) => self.back_off(open.retry_in).await,
            };
            if flow.is_break() {
                return flow;
            }
        }
        ControlFlow::Continue(())
    }

    /// Waits out `delay`, or less if the worker is recovered; `Break` if the
    /// supervisor shuts down meanwhile.
    pub(crate) async fn back_off(&mut self, delay: Duration) -> ControlFlow<()> {
        match self.wait(delay).await {
            Waited::ShuttingDown => ControlFlow::Break(()),
            Waited::Over | Waited::Recovered => ControlFlow::Continue(()),
        }
    }

    /// Before a worker's first run: waits while the policy's breaker
    /// refuses, as a restart does, and takes a probe place once it half-opens (or waits the
    /// policy's first backoff again while the probes are all out). A
    /// recovery ends the wait, and the run goes without asking; `Break` if
    /// the supervisor shuts down meanwhile.
    pub(crate) async fn wait_for_breaker(
        &mut self,
        breaker: &CircuitBreaker,
        policy: &Policy,
    ) -> ControlFlow<()> {
        loop {
            let wait = match breaker.admit() {
                Ok(permit) => {
                    self.probe = Some(permit);
                    return ControlFlow::Continue(());
                }
                Err(open) if open.retry_in.is_zero() => policy
                    .backoff
                    .delays()
                    .next()
                    .unwrap_or_default()
                    .max(BUSY_FLOOR),
                Err(open) => open.retry_in,
            };
            match self.wait(wait).await {
                Waited::Over => {}
                Waited::Recovered => return ControlFlow::Continue(()),
                Waited::ShuttingDown => return ControlFlow::Break(()),
            }
        }
    }

    /// Waits out `delay`, published as a backoff: how the wait ended.
    async fn wait(&mut self, delay: Duration) -> Waited {
        let until = time::after(Instant::now(), delay);
        self.h.retry.backoff_until = Some(until);
        self.h.retry.last_delay = Some(delay);
        self.publish(Phase::BackingOff);
        let shared = self.shared;
        let started = Instant::now();
        let waited = tokio::select! {
            biased;
            () = shared.core.cancel.cancelled() => Waited::ShuttingDown,
            () = shared.core.recovery_requested() => {
                self.recovered();
                Waited::Recovered
            }
            () = tokio::time::sleep_until(until) => {
                self.h.retry.backoff_until = None;
                Waited::Over
            }
        };
        metrics::backoff(self.name(), started.elapsed());
        waited
    }

    /// Stops with `error` until the worker is recovered; `Break` if the
    /// supervisor shuts down first.
    pub(crate) async fn park(
        &mut self,
        reason: StopReason,
        error: SupervisorError<E>,
    ) -> ControlFlow<()> {
        self.h.retry.stopped = Some(reason);
        self.h.error = Some(error);
        self.publish(Phase::Stopped);
        let shared = self.shared;
        tokio::select! {
            biased;
            () = shared.core.cancel.cancelled() => return ControlFlow::Break(()),
            () = shared.core.recovery_requested() => self.recovered(),
        }
        ControlFlow::Continue(())
    }

    pub(crate) fn recovered(&mut self) {
        self.h.retry.reset();
        self.h.error = None;
        recovered_with(&self.shared.core.name, self.h.on_recover.as_ref());
    }
}

/// The shortest wait of a worker for a half-open breaker whose probes are
/// all out.
const BUSY_FLOOR: Duration = Duration::from_millis(1);

/// How a worker's wait ended.
enum Waited {
    Over,
    Recovered,
    ShuttingDown,
}

/// A worker was recovered: logged, and its state reset (a reset that
/// panics is logged and leaves the state as it was).
pub(crate) fn recovered_with(worker: &str, on_recover: Option<&OnRecover>) {
    log::recovered(worker);
    if let Some(reset) = on_recover
        && reset().is_err()
    {
        tracing::error!(
            worker,
            "the state's reset panicked; the state is kept as it was"
        );
    }
}
