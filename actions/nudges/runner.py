"""Sweeps as jobs (one per slot, one at a time across replicas), and the dry run."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from actions.jobs import Handler, JobLease, JobRunner, LeaseLost, RetryPolicy
from actions.nudges.model import SWEEP_JOB, NudgeSource, NudgeTransport, RunSummary
from actions.nudges.sweep import NudgeSweep
from actions.ratelimit import Limiters
from config.clock import Now, utc_now
from config.logging import get_logger
from config.nudges import NudgeSettings
from store.jobs import JobStore, NewJob, job_key
from store.leases import Leases
from store.models import Job
from store.nudges import NudgeStore, RunStatus

log = get_logger("helpdesk.nudges")


class NudgeRunner:
    """Runs sweeps as jobs: one per scheduled slot (or manual run), one at a time.

    A sweep is a job of the exclusive kind ``nudge_sweep`` (:mod:`actions.jobs`),
    keyed by its slot, so a slot is swept by one replica at a time, under the job's
    lease, which the runner renews; a sweep that loses it stops before it claims
    another nudge (``aborted``). A slot whose sweep died with its process is swept
    again by the next replica that finds it due, once the lease has run out. A
    manual run (``helpdesk nudges --now``) is a job of its own and is not resumed.

    ``transport_factory`` makes a fresh transport per run (its Slack directory is
    per run); ``limiters`` outlive runs, like the servers' budgets they mirror.
    """

    def __init__(
        self,
        settings: NudgeSettings,
        sources: Sequence[NudgeSource],
        store: NudgeStore,
        transport_factory: Callable[[], NudgeTransport],
        limiters: Limiters,
        *,
        now: Now | None = None,
        on_progress: Callable[[RunSummary], None] | None = None,
        jobs: JobStore | None = None,
        leases: Leases | None = None,
    ) -> None:
        self.settings = settings
        self.sources = list(sources)
        self.store = store
        self.transport_factory = transport_factory
        self.limiters = limiters
        self._now = now or utc_now
        self.on_progress = on_progress
        self.jobs = JobRunner(
            jobs or JobStore(store.engine),
            leases or Leases(store.engine),
            {SWEEP_JOB: Handler(self._sweep_job, exclusive=True)},
            lease=settings.lease,
            # A sweep records its own failures (the scheduler retries a failed slot);
            # this is for the store failing under it.
            retry=RetryPolicy(timedelta(minutes=1), timedelta(minutes=15), 3),
            clock=lambda: self._now(),
        )
        self._results: dict[str, RunSummary | Exception | None] = {}

    @property
    def holder(self) -> str:
        """Who this runner is in the leases and the runs it records."""
        return self.jobs.owner

    async def run(
        self, *, trigger: str = "manual", slot: datetime | None = None
    ) -> RunSummary | None:
        """One sweep here, now; None when a sweep is running elsewhere (or the slot is done)."""
        subject = slot.isoformat() if slot is not None else f"{trigger}:{uuid.uuid4().hex}"
        key = job_key(SWEEP_JOB, subject)
        payload = {"trigger": trigger, "slot": slot.isoformat() if slot is not None else None}
        if not await self.jobs.run_now(NewJob(SWEEP_JOB, key, self._now(), payload=payload)):
            log.info("nudge_run_skipped", reason="a sweep is running elsewhere", trigger=trigger)
            return None
        result = self._results.pop(key, None)
        if isinstance(result, Exception):
            raise result
        return result

    async def _sweep_job(self, job: Job, lease: JobLease) -> None:
        payload = job.payload or {}
        trigger = str(payload.get("trigger") or "manual")
        slot = datetime.fromisoformat(payload["slot"]) if payload.get("slot") else None
        self._results[job.key] = None
        if slot is None and job.attempts > 1:
            log.info("nudge_manual_run_not_resumed", job_id=job.id)
            return
        if slot is not None and any(
            r.status == RunStatus.COMPLETED for r in await self.store.runs_for_slot(slot)
        ):
            return  # swept meanwhile, by another replica
        try:
            self._results[job.key] = await self._run_leased(job, lease, trigger, slot)
        except Exception as exc:  # the store failed under the run: the caller hears of it
            self._results[job.key] = exc
            raise

    async def _sweep(
        self, summary: RunSummary, transport: NudgeTransport, lease: JobLease
    ) -> str | None:
        """Run the sweep into ``summary``; the error that ended it early, if any."""
        error: str | None = None
        try:
            sweep = NudgeSweep(
                self.settings,
                self.sources,
                store=self.store,
                transport=transport,
                limiters=self.limiters,
                summary=summary,
                lease=lease,
                now=self._now,
                on_progress=self.on_progress,
            )
            await sweep.run()
            summary.status = RunStatus.FAILED if summary.incomplete else RunStatus.COMPLETED
        except* LeaseLost:
            summary.status = RunStatus.ABORTED
            error = "the sweep lease was lost to another replica"
        except* Exception as group:
            summary.status = RunStatus.FAILED
            error = "; ".join(f"{type(e).__name__}: {e}"[:300] for e in group.exceptions)
            log.error("nudge_run_failed", run_id=summary.run_id, error=error)
        if error:
            summary.errors.append(error)
        return error

    async def _run_leased(
        self, job: Job, lease: JobLease, trigger: str, slot: datetime | None
    ) -> RunSummary:
        started = self._now()
        summary = RunSummary(uuid.uuid4().hex, trigger, slot, False, started)
        interrupted = await self.store.interrupt_others(except_run=summary.run_id, now=started)
        if interrupted:
            log.info("nudge_runs_interrupted", runs=interrupted)
        await self.jobs.jobs.abandon(SWEEP_JOB, except_id=job.id, reason="interrupted")
        await self.store.start_run(
            run_id=summary.run_id, trigger=trigger, slot=slot, holder=self.holder, now=started,
        )
        transport = self.transport_factory()
        try:
            error = await self._sweep(summary, transport, lease)
            summary.finished_at = self._now()
            await self.store.finish_run(
                summary.run_id, status=summary.status, counts=summary.as_dict(),
                now=summary.finished_at, error=error,
            )
            if summary.status != RunStatus.ABORTED:
                await transport.post_summary(summary)
            oldest = summary.finished_at - self.settings.retention
            await self.store.prune(older_than=oldest)
            await self.jobs.jobs.prune(SWEEP_JOB, finished_before=oldest)
        finally:
            await transport.aclose()
        log.info(
            "nudge_run_finished",
            run_id=summary.run_id,
            status=summary.status,
            scanned=summary.scanned,
            nudged=summary.nudged,
            skipped=summary.skipped_total,
            failed=summary.failed_total,
            seconds=round(summary.seconds, 1),
        )
        return summary


async def dry_run(
    settings: NudgeSettings,
    sources: Sequence[NudgeSource],
    *,
    store: NudgeStore | None,
    transport: NudgeTransport | None,
    limiters: Limiters,
    now: Now | None = None,
    on_progress: Callable[[RunSummary], None] | None = None,
) -> RunSummary:
    """Who would be nudged now and why; writes nothing, sends nothing, needs no lease.

    With a ``transport`` it also looks each person up in Slack (read-only).
    """
    clock = now or utc_now
    summary = RunSummary(uuid.uuid4().hex, "dry_run", None, True, clock())
    sweep = NudgeSweep(
        settings,
        sources,
        store=store,
        transport=transport,
        limiters=limiters,
        summary=summary,
        now=clock,
        check_slack=transport is not None,
        record_decisions=True,
        on_progress=on_progress,
    )
    try:
        await sweep.run()
    finally:
        if transport is not None:
            await transport.aclose()
    summary.status = RunStatus.FAILED if summary.incomplete else RunStatus.COMPLETED
    summary.finished_at = clock()
    return summary
