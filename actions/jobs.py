"""The durable job runner: claim due jobs, keep their leases, retry, give up, wake on demand.

A :class:`JobRunner` serves a table of handlers, one per job kind. It claims due
jobs of those kinds from :class:`store.jobs.JobStore` (``SKIP LOCKED`` on
PostgreSQL, so replicas share the work without waiting for each other), runs each
with its handler while a background task renews the job's lease every third of
its life, and then:

* the handler returned: the job is done (unless the handler already finished it,
  or asked for it again later, itself: both are the owner's moves in the store);
* the handler raised: the job runs again after a backoff that doubles per attempt
  up to a cap, and is dead-lettered (``dead``) once it has had ``max_attempts``;
* the job's lease was lost (a renewal said it is someone else's now, or none
  succeeded for a whole lease): :meth:`JobLease.check` raises :class:`LeaseLost`,
  so a long handler stops before its next irreversible step.

A kind marked ``exclusive`` runs one job at a time across every replica: the runner
takes the kind's named lease (:mod:`store.leases`) before claiming and renews it
with the job's. Every lease is on the database's clock.

``worker()`` runs due jobs every ``poll_interval``, at once after ``wake()`` or a
wakeup from the store (``wakeups``, :mod:`store.job_wakeups`: PostgreSQL's
``LISTEN/NOTIFY`` across replicas, an in-process event on SQLite), and again straight
away after a full round (a burst). ``run_job(id)`` runs one job now
(the click that approves runs its fulfilment at once); ``run_now(job)`` enqueues a
job and runs it here in one step, or does nothing when it is held elsewhere;
``run_claimed(job)`` runs a job this runner's owner already holds (written claimed
with the decision that made it, :func:`store.jobs.add_claimed`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from config.clock import SYSTEM_CLOCK, Clock, Now, utc_now
from config.logging import get_logger, scrub_text
from store.job_wakeups import JobWakeups
from store.jobs import JobState, JobStore, NewJob
from store.leases import Leases, new_holder
from store.models import Job

log = get_logger("helpdesk.jobs")


class LeaseLost(Exception):
    """The job's lease is someone else's now (or cannot be vouched for): stop working on it."""


class JobLease:
    """The hold on one running job, kept by the runner; handlers ask :meth:`check`.

    The hold counts as valid for a lease's length after the start of the last renewal
    that succeeded (a monotonic clock: the holder's own view, which never outlives the
    database's), and never again once a renewal found the job taken.
    """

    def __init__(self, job: Job, ttl: timedelta, monotonic: Callable[[], float]) -> None:
        self.job = job
        self.ttl = ttl
        self._monotonic = monotonic
        self._valid_until = monotonic() + ttl.total_seconds()
        self.lost = False

    def renewed(self, started: float) -> None:
        self._valid_until = started + self.ttl.total_seconds()

    def check(self) -> None:
        """Raise :class:`LeaseLost` unless the job is still ours."""
        if self.lost or self._monotonic() >= self._valid_until:
            raise LeaseLost(self.job.key)


JobHandler = Callable[[Job, JobLease], Awaitable[None]]


@dataclass(frozen=True)
class Handler:
    """How to run one kind of job; ``exclusive``: one at a time across replicas."""

    run: JobHandler
    exclusive: bool = False


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff ``first * 2^(attempt-1)`` capped at ``cap``; dead after ``max_attempts``."""

    first: timedelta
    cap: timedelta
    max_attempts: int

    def delay(self, attempts: int, hint: float | None = None) -> timedelta:
        """The wait before the next attempt; at least ``hint`` seconds (a Retry-After)."""
        base: timedelta = self.first * (2 ** max(0, attempts - 1))
        delay: timedelta = min(base, self.cap)
        if hint is not None:
            delay = max(delay, timedelta(seconds=hint))
        return delay


def exclusive_lease(kind: str) -> str:
    """The name of the lease held while a job of an exclusive ``kind`` runs."""
    return f"jobs:{kind}"


class JobRunner:
    """Runs jobs of the kinds in ``handlers`` for one process; see the module docstring."""

    def __init__(
        self,
        jobs: JobStore,
        leases: Leases,
        handlers: Mapping[str, Handler],
        *,
        lease: timedelta,
        retry: RetryPolicy,
        poll_interval: timedelta = timedelta(seconds=5),
        clock: Now = utc_now,
        owner: str | None = None,
        timer: Clock = SYSTEM_CLOCK,
        wakeups: JobWakeups | None = None,
    ) -> None:
        self.jobs = jobs
        self.leases = leases
        self.handlers = dict(handlers)
        self.lease = lease
        self.retry = retry
        self.poll_interval = poll_interval
        self.clock = clock
        # Unique per runner (random), readable in the jobs table; never parsed.
        self.owner = owner or new_holder()
        self._monotonic = timer.monotonic
        self._wake = asyncio.Event()
        self._backlog = False
        self.wakeups = wakeups

    @property
    def _shared_kinds(self) -> list[str]:
        return [k for k, h in self.handlers.items() if not h.exclusive]

    @property
    def _exclusive_kinds(self) -> list[str]:
        return [k for k, h in self.handlers.items() if h.exclusive]

    # -- the loop -----------------------------------------------------------------------
    async def worker(self) -> None:
        """Run due jobs until cancelled: every ``poll_interval``, or at once when woken."""
        if self.wakeups is not None:
            try:
                await self.wakeups.start(self._woken)
            except Exception as exc:  # the poll still finds every job
                log.warning("job_wakeups_unavailable", error=type(exc).__name__)
        try:
            await self._loop()
        finally:
            if self.wakeups is not None:
                await self.wakeups.stop()

    def _woken(self, kinds: frozenset[str]) -> None:
        """A wakeup from the store: look now if it names a kind served here (or none)."""
        if not kinds or not kinds.isdisjoint(self.handlers):
            self.wake()

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_due()
            except Exception as exc:
                self._backlog = False  # the store is failing: wait before the next round
                log.warning("jobs_round_failed", error=type(exc).__name__)
            if self._backlog:
                continue  # a full round: more may be due already (a burst of expiries)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval.total_seconds())
            self._wake.clear()

    def wake(self) -> None:
        """Make the worker look for due jobs now."""
        self._wake.set()

    async def run_due(self, limit: int = 50, concurrency: int = 8) -> int:
        """Claim and run due jobs, ``concurrency`` at a time, up to ``limit``; how many ran."""
        budget = limit

        async def lane() -> int:
            nonlocal budget
            ran = 0
            while budget > 0:
                budget -= 1
                claimed = await self.jobs.claim_due(
                    self._shared_kinds, self.owner, self.clock(), self.lease
                )
                if not claimed:
                    budget = 0  # nothing left now: every lane stops
                    break
                await self._run_claimed(claimed[0], None)
                ran += 1
            return ran

        ran = sum(await asyncio.gather(*(lane() for _ in range(concurrency))))
        for kind in self._exclusive_kinds:
            ids = await self.jobs.due([kind], self.clock(), 1)
            if ids and await self.run_job(ids[0]):
                ran += 1
        self._backlog = ran >= limit
        return ran

    async def enqueue(self, new: NewJob) -> bool:
        """Add a job (once per key) and wake the worker; True when it was new."""
        added = await self.jobs.enqueue(new, self.clock())
        if added:
            self.wake()
        return added

    # -- one job --------------------------------------------------------------------------
    async def run_job(self, job_id: int) -> bool:
        """Claim one job and run it; False when someone else holds it or it is not due."""
        found = await self.jobs.get(job_id)
        if found is None:
            return False
        free, kind_lease = await self._exclusive(found.kind)
        if not free:
            return False
        job = await self.jobs.claim(job_id, self.owner, self.clock(), self.lease)
        if job is None:
            await self._let_go(kind_lease)
            return False
        await self._run_claimed(job, kind_lease)
        return True

    async def run_now(self, new: NewJob) -> bool:
        """Enqueue ``new`` (or re-arm the job its key names) and run it here, now.

        False, and nothing done, when its kind is exclusive and another job of it is
        running, or when the job of that key is held by another worker.
        """
        free, kind_lease = await self._exclusive(new.kind)
        if not free:
            return False
        job = await self.jobs.claim_or_create(new, self.owner, self.clock(), self.lease)
        if job is None:
            await self._let_go(kind_lease)
            return False
        await self._run_claimed(job, kind_lease)
        return True

    async def run_claimed(self, job: Job) -> bool:
        """Run ``job``, which this runner's owner already holds; False when it is not ours.

        For a job written claimed (:func:`store.jobs.add_claimed`): no claim of its own.
        A job of an exclusive kind also needs the kind's lease: when another runs, the
        job is released to run when that one is over.
        """
        if job.owner != self.owner or job.state != JobState.QUEUED:
            return False
        free, kind_lease = await self._exclusive(job.kind)
        if not free:
            await self.jobs.retry(job, self.clock(), "exclusive kind busy")
            return False
        await self._run_claimed(job, kind_lease)
        return True

    async def _exclusive(self, kind: str) -> tuple[bool, str | None]:
        """Whether a job of ``kind`` may run here now, and the kind's lease if one was taken."""
        handler = self.handlers.get(kind)
        if handler is None or not handler.exclusive:
            return True, None
        name = exclusive_lease(kind)
        if not await self.leases.take(name, self.owner, self.lease):
            return False, None
        return True, name

    async def _let_go(self, kind_lease: str | None) -> None:
        if kind_lease is not None:
            with contextlib.suppress(Exception):
                await self.leases.release(kind_lease, self.owner)

    async def _run_claimed(self, job: Job, kind_lease: str | None) -> None:
        handler = self.handlers.get(job.kind)
        if handler is None:
            log.error("job_unknown_kind", job_id=job.id, kind=job.kind)
            await self.jobs.finish(job, JobState.DEAD, "no handler for this kind")
            await self._let_go(kind_lease)
            return
        lease = JobLease(job, self.lease, self._monotonic)
        keeper = asyncio.create_task(self._keep(lease, kind_lease), name=f"lease:{job.key}")
        try:
            await handler.run(job, lease)
        except LeaseLost:
            log.warning("job_lease_lost", job_id=job.id, kind=job.kind)
        except Exception as exc:
            await self._failed(job, exc)
        else:
            if job.state == JobState.QUEUED:  # not finished by the handler itself
                await self.jobs.finish(job)
        finally:
            keeper.cancel()
            # Wait for the keeper without taking its CancelledError as ours: a cancellation
            # of this task (a shutdown) must still reach it, never be swallowed here.
            await asyncio.wait([keeper])
            await self._let_go(kind_lease)

    async def _failed(self, job: Job, exc: Exception) -> None:
        """A bug or an unexpected failure: try again later, a bounded number of times."""
        error = type(exc).__name__
        log.error("job_crashed", job_id=job.id, kind=job.kind, attempts=job.attempts,
                  error=error, detail=scrub_text(str(exc))[:300])
        if job.attempts >= self.retry.max_attempts:
            await self.jobs.finish(job, JobState.DEAD, error)
        else:
            await self.retry_later(job, error)

    async def _keep(self, lease: JobLease, kind_lease: str | None) -> None:
        """Renew the job's lease (and its kind's) every third of its life until cancelled."""
        every = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(every)
            started = self._monotonic()
            try:
                held = await self.jobs.renew(lease.job, self.lease)
                if held and kind_lease is not None:
                    held = await self.leases.renew(kind_lease, self.owner, self.lease)
            except Exception as exc:  # a store outage: keep trying until the lease lapses
                log.warning("job_lease_renewal_failed", job_id=lease.job.id,
                            error=type(exc).__name__)
                continue
            if not held:
                lease.lost = True
                log.warning("job_lease_taken", job_id=lease.job.id, kind=lease.job.kind)
                return
            lease.renewed(started)

    # -- for handlers -------------------------------------------------------------------
    def backoff(self, job: Job, hint: float | None = None) -> timedelta:
        """The wait before ``job``'s next attempt (``hint``: a Retry-After, in seconds)."""
        return self.retry.delay(job.attempts, hint)

    async def retry_later(self, job: Job, error: str, hint: float | None = None) -> bool:
        """Release ``job`` to run again after its backoff."""
        return await self.jobs.retry(job, self.clock() + self.backoff(job, hint), error)


__all__ = [
    "Handler",
    "JobHandler",
    "JobLease",
    "JobRunner",
    "LeaseLost",
    "RetryPolicy",
    "exclusive_lease",
]
