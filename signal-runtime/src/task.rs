//! One worker's task: its runs, each caught, and the loop that reacts to
//! their failures.

use std::future::Future;
use std::ops::ControlFlow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;

use tokio::time::Instant;
use tracing::{Instrument, Span};

use super::backoff::Jitter;
use super::breaker::{BreakerState, Outcome, Permit};
use super::cancel::Cancel;
use super::error::{Failure, SupervisorError};
use super::handle::RunContext;
use super::lock;
use super::names::ReactionName;
use super::policy::Policy;
use super::react::{Run, recovered_with};
use super::state::{RunOutcome, RunRecord};
use super::unwind::{self, panic_message};
use super::worker::{Core, CoreRef, Phase, Shared};
use signal_core::{KindId, Signal};

/// One worker's task, as its supervising future holds it. Dropping it (the
/// task finished, or was cancelled, even before its first poll) publishes
/// the outcome.
pub(crate) struct Task<T, E> {
    pub(crate) shared: Arc<Shared<T, E>>,
}

impl<T, E> Drop for Task<T, E> {
    fn drop(&mut self) {
        let _ended = Ended(&self.shared.core.cancel);
        {
            let mut record = lock(&self.shared.record);
            if record.phase == Phase::Done {
                return; // it finished with a value
            }
            let history = record.history();
            let worker = Arc::from(&*self.shared.core.name);
            let error = match history.error.clone() {
                Some(error) => error,
                // A backstop: a panic the supervisor did not catch is
                // unwinding out of the task. Not a shutdown: the supervisor
                // may well be running.
                None if std::thread::panicking() => SupervisorError::Panicked {
                    worker,
                    attempt: history.retry.attempt,
                    message: Arc::from(
                        "the worker's task panicked outside its runs (see the panic's own report)",
                    ),
                },
                None => SupervisorError::Shutdown {
                    worker,
                    last: history.last_failure.clone(),
                },
            };
            history.error = Some(error.clone());
            record.phase = Phase::Done;
            record.outcome = Some(Box::new(Err(error)));
        }
        self.shared.core.changed.notify_waiters();
    }
}

/// Counts a task as gone when dropped, after the task has published its
/// outcome.
struct Ended<'a>(&'a Cancel);

impl Drop for Ended<'_> {
    fn drop(&mut self) {
        self.0.task_ended();
    }
}

impl<T, E> Task<T, E> {
    pub(crate) fn new(shared: Arc<Shared<T, E>>) -> Self {
        shared.core.cancel.task_started();
        Task { shared }
    }

    /// Starts a run: returns its number and attempt.
    ///
    /// A recovery taken while the worker was leaving its backoff (its delay
    /// ran out as the request came) is applied here, so a request that was
    /// taken is never left pending into the run.
    pub(crate) fn begin_run(&self) -> (u64, u32) {
        let (started, recovered) = {
            let mut record = lock(&self.shared.record);
            record.runs += 1;
            record.phase = Phase::Running;
            let mut recovered = None;
            if self.shared.core.recover.swap(false, Ordering::SeqCst) {
                let history = record.history();
                history.retry.reset();
                history.error = None;
                recovered = Some(history.on_recover.clone());
            }
            let attempt = record.history.as_ref().map_or(0, |h| h.retry.attempt);
            ((record.runs, attempt), recovered)
        };
        if let Some(on_recover) = recovered {
            recovered_with(&self.shared.core.name, on_recover.as_ref());
        }
        self.shared.core.changed.notify_waiters();
        started
    }

    /// The run returned `value`: the worker is done.
    pub(crate) fn succeed(&self, value: T, started: Instant) {
        {
            let mut record = lock(&self.shared.record);
            let run = record.runs;
            record.history().record(RunRecord {
                run,
                started,
                lasted: started.elapsed(),
                outcome: RunOutcome::Succeeded,
            });
            record.phase = Phase::Done;
            record.outcome = Some(Box::new(Ok(value)));
        }
        self.shared.core.changed.notify_waiters();
    }

    /// Code the supervisor called for the worker (what `during` says)
    /// panicked: the worker ends with the panic as its error.
    pub(crate) fn end_panicked(&self, during: &str, message: Arc<str>) {
        tracing::error!(
            worker = &*self.shared.core.name,
            panic = &*message,
            "{during} panicked; worker ended"
        );
        {
            let mut record = lock(&self.shared.record);
            let history = record.history();
            let error = SupervisorError::Panicked {
                worker: Arc::from(&*self.shared.core.name),
                attempt: history.retry.attempt,
                message,
            };
            history.error = Some(error.clone());
            record.phase = Phase::Done;
            record.outcome = Some(Box::new(Err(error)));
        }
        self.shared.core.changed.notify_waiters();
    }

    /// The run failed while the supervisor shuts down: recorded, not reacted
    /// to (dropping the task then reports it as the last failure).
    pub(crate) fn fail_in_shutdown(
        &self,
        failure: Failure<E>,
        kind: Option<KindId>,
        started: Instant,
    ) {
        let mut record = lock(&self.shared.record);
        let run = record.runs;
        let history = record.history();
        let reaction = ReactionName::Stop;
        history.record(RunRecord {
            run,
            started,
            lasted: started.elapsed(),
            outcome: match failure {
                Failure::Error(_) => RunOutcome::Failed { kind, reaction },
                Failure::Panic(_) => RunOutcome::Panicked { reaction },
            },
        });
        history.failures += 1;
        history.last_failure = Some(failure);
    }
}

/// The task of one worker.
pub(crate) async fn supervise<F, Fut, T, E>(task: Task<T, E>, policy: Arc<Policy>, factory: F)
where
    F: FnOnce(RunContext) -> Fut + Clone,
    Fut: Future<Output = Result<T, E>>,
    T: Send + 'static,
    E: Signal + Send + Sync + 'static,
{
    // The probe place the next run took in the policy's half-open breaker.
    let mut probe = None;
    let mut first_run = true;
    loop {
        if std::mem::take(&mut first_run)
            && let Some(breaker) = policy.circuit_breaker()
            && breaker.state() != BreakerState::Closed
        {
            // The first run waits for an open breaker, as a restart does (a
            // recovered worker runs at once), and takes a probe's place in a
            // half-open one. Boxed, as a reaction: rare.
            let (shared, policy) = (&*task.shared, &*policy);
            let waited = async move {
                let mut run = Run::load(shared);
                let flow = run.wait_for_breaker(breaker, policy).await;
                run.save();
                (flow, run.probe.take())
            };
            // It calls code that is not the runtime's (tracing subscribers,
            // a metrics recorder): a panic there ends the worker with it.
            match Box::pin(unwind::caught(waited)).await {
                Ok((ControlFlow::Continue(()), next)) => probe = next,
                Ok((ControlFlow::Break(()), _)) => return,
                Err(message) => {
                    return task.end_panicked("waiting for the circuit breaker", message);
                }
            }
        }
        // Everything a run starts with is made in `begin`, outside this
        // future: only the run's own future stays here while it runs.
        // `begin` clones the factory (a `Clone` impl that is not the
        // runtime's): if that panics, the worker ends with the panic.
        let run = match unwind::call(|| begin(&task, &policy, &factory)) {
            Ok(run) => run,
            Err(message) => return task.end_panicked("starting a run", message),
        };
        // The run's probe place is held in its core while it runs, so that
        // `mark_healthy` can answer the probe.
        let held = HeldProbe::new(&task.shared.core, probe.take());
        let (result, span, started) = run.await;
        probe = held.take();
        let failure = match result {
            Ok(Ok(value)) => {
                if let Some(breaker) = policy.circuit_breaker() {
                    breaker.record_run(probe.take(), Some(Outcome::Answered));
                }
                return task.succeed(value, started);
            }
            Ok(Err(error)) => Failure::Error(Arc::new(error)),
            Err(message) => Failure::Panic(message),
        };
        if task.shared.core.cancel.is_cancelled() {
            // Shutting down: no restart. The kind comes from the error's
            // `Signal` impl, which is not the runtime's: if it panics, the
            // failure is still recorded and the panic is the worker's error.
            let kind = unwind::call(|| {
                failure
                    .error()
                    .and_then(|error| policy.rule_for(error).kind)
            });
            return match kind {
                Ok(kind) => task.fail_in_shutdown(failure, kind, started),
                Err(message) => {
                    task.fail_in_shutdown(failure, None, started);
                    task.end_panicked("classifying a failure during shutdown", message);
                }
            };
        }
        // Boxed: failures are rare, and an idle worker's task then holds
        // neither the reaction nor the worker's history.
        let shared = &*task.shared;
        let policy = &*policy;
        let failed_probe = probe.take();
        let reaction = async move {
            let mut run = Run::load(shared);
            run.probe = failed_probe;
            let mut jitter = Jitter::new(run.jitter_stream());
            let flow = run.fail(failure, started, policy, &mut jitter).await;
            run.save();
            (flow, run.probe.take())
        };
        // The reaction calls code that is not the runtime's (the error's
        // `Signal` impl, tracing subscribers): if that panics, the worker
        // ends with the panic as its error, never silently.
        match Box::pin(unwind::caught(reaction.instrument(span))).await {
            Ok((ControlFlow::Continue(()), next)) => probe = next,
            Ok((ControlFlow::Break(()), _)) => return,
            Err(message) => return task.end_panicked("the reaction to a failure", message),
        }
    }
}

/// The probe place a run took, in its core while it runs: taken back when
/// the run ends (unless `mark_healthy` answered the probe with it), given
/// back to the breaker if the task is dropped meanwhile (a shutdown, an
/// abort).
struct HeldProbe<'a>(&'a Core);

impl<'a> HeldProbe<'a> {
    fn new(core: &'a Core, probe: Option<Permit>) -> Self {
        *lock(&core.probe) = probe;
        HeldProbe(core)
    }

    fn take(self) -> Option<Permit> {
        lock(&self.0.probe).take()
    }
}

impl Drop for HeldProbe<'_> {
    fn drop(&mut self) {
        let probe = lock(&self.0.probe).take();
        drop(probe);
    }
}

/// Starts a run: its number and attempt published, its context and span
/// made, and the future that will call a clone of the factory.
fn begin<F, Fut, T, E>(task: &Task<T, E>, policy: &Policy, factory: &F) -> Caught<F, Fut>
where
    F: FnOnce(RunContext) -> Fut + Clone,
    T: Send + 'static,
    E: Signal + Send + Sync + 'static,
{
    let core = &task.shared.core;
    core.snapshot(policy);
    core.healthy.store(false, Ordering::Relaxed);
    let (run, attempt) = task.begin_run();
    core.attempt.store(attempt, Ordering::Relaxed);
    if attempt == 0 {
        // A run that is not a restart is a request, once it is let go.
        policy.deposit();
    }
    let ctx = RunContext {
        core: Arc::clone(&task.shared) as Arc<dyn CoreRef>,
    };
    let span = tracing::info_span!(
        "worker",
        worker = &*task.shared.core.name,
        run,
        generation = tracing::field::Empty,
    );
    if let Some(resource) = policy.resources().next() {
        span.record("generation", resource.generation());
    }
    Caught::new(factory.clone(), ctx, span)
}

pin_project_lite::pin_project! {
    /// Calls the factory on first poll and runs its future inside the run's
    /// span, turning a panic in either into its message. (A hand-written
    /// future: an `async fn` would keep the worker's future twice, once as a
    /// local and once pinned.)
    #[project = CaughtProj]
    enum Caught<F, Fut> {
        Start { factory: Option<F>, ctx: Option<RunContext>, span: Span, started: Instant },
        Running { #[pin] fut: Fut, span: Span, started: Instant },
    }
}

impl<F, Fut> Caught<F, Fut> {
    pub(crate) fn new(factory: F, ctx: RunContext, span: Span) -> Self {
        Caught::Start {
            factory: Some(factory),
            ctx: Some(ctx),
            span,
            started: Instant::now(),
        }
    }
}

impl<F, Fut, T, E> Future for Caught<F, Fut>
where
    F: FnOnce(RunContext) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    /// The run's result (or its panic's message), its span back, and when
    /// it started.
    type Output = (Result<Result<T, E>, Arc<str>>, Span, Instant);

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Self::Output> {
        loop {
            match self.as_mut().project() {
                CaughtProj::Start {
                    factory,
                    ctx,
                    span,
                    started,
                } => {
                    let (span, started) = (std::mem::replace(span, Span::none()), *started);
                    let (Some(factory), Some(ctx)) = (factory.take(), ctx.take()) else {
                        let done = Err(Arc::from("polled after completion"));
                        return Poll::Ready((done, span, started));
                    };
                    let made = span.in_scope(|| catch_unwind(AssertUnwindSafe(|| factory(ctx))));
                    match made {
                        Ok(fut) => self.set(Caught::Running { fut, span, started }),
                        Err(payload) => {
                            return Poll::Ready((Err(panic_message(payload)), span, started));
                        }
                    }
                }
                CaughtProj::Running { fut, span, started } => {
                    let polled = {
                        let _entered = span.enter();
                        catch_unwind(AssertUnwindSafe(|| fut.poll(cx)))
                    };
                    let result = match polled {
                        Ok(Poll::Pending) => return Poll::Pending,
                        Ok(Poll::Ready(result)) => Ok(result),
                        Err(payload) => Err(panic_message(payload)),
                    };
                    let span = std::mem::replace(span, Span::none());
                    return Poll::Ready((result, span, *started));
                }
            }
        }
    }
}
