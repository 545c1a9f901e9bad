"""Durable jobs: enqueue idempotently by key, claim under a lease, finish or retry.

A job is a row of ``jobs`` (see :class:`store.models.Job`). Claiming is one
transaction: on PostgreSQL the due rows are picked with ``SELECT ... FOR UPDATE
SKIP LOCKED`` and then leased, so concurrent claimers (several replicas) take
different jobs without waiting for each other; SQLite has one writer at a time, so
a plain conditional ``UPDATE`` is enough there. Either way a job is held by one
owner at a time.

Two clocks, on purpose: whether a job is *due* (``run_at``) is the application's
decision, so callers pass ``now`` (tests move it); who *holds* a job
(``lease_until``) is decided by the database's clock, like every lease
(:mod:`store.leases`), so a replica with a fast clock cannot take a job that is
still held.

Only the owner finishes, retries or renews a job it claimed: a worker whose lease
ran out and was taken over cannot mark the new owner's run as done.

Inside a caller's transaction (a decision and its consequence, together):
:func:`queue_jobs` enqueues idempotently by key and, on PostgreSQL, sends the jobs'
wakeup (:mod:`store.job_wakeups`) with the same commit, so every replica's runner looks
at once rather than at its next poll; :func:`add_claimed` enqueues a job already leased
to the caller (the replica that took the click runs it next, with no claim of its own and
no race with another replica's worker).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, case, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from store.job_wakeups import notify_in, wake_after_commit
from store.leases import aware, db_later, db_now
from store.models import Job


class JobState(enum.StrEnum):
    """Where a job stands: waiting or running (``queued``), or over."""

    QUEUED = "queued"
    DONE = "done"
    DEAD = "dead"  # given up: out of attempts, or nothing more can be done


@dataclass(frozen=True)
class NewJob:
    """A job to enqueue: its kind, its unique key, when it is due, and what it is about."""

    kind: str
    key: str
    run_at: datetime
    request_id: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)


def job_key(kind: str, subject: str) -> str:
    """The key of the one job of ``kind`` for ``subject`` (a request id, a slot)."""
    return f"{kind}:{subject}"


@dataclass(frozen=True)
class Claim:
    """Who takes a job as it is written (a runner's ``owner``), and for how long."""

    owner: str
    lease: timedelta


def _insert(dialect: str) -> Any:
    return pg_insert if dialect == "postgresql" else sqlite_insert


def _values(job: NewJob, now: datetime) -> dict[str, Any]:
    return {"kind": job.kind, "key": job.key, "request_id": job.request_id,
            "payload": dict(job.payload) or None, "state": JobState.QUEUED,
            "run_at": job.run_at, "attempts": 0, "created_at": now}


async def queue_jobs(session: AsyncSession, jobs: Sequence[NewJob], now: datetime) -> list[int]:
    """Enqueue ``jobs`` in the caller's transaction, once per key; the ids of those added.

    On PostgreSQL the runners' wakeup is sent in the same transaction (``pg_notify``
    is delivered at commit, and not at all on a rollback); on SQLite the caller wakes
    its runner after commit (:func:`store.job_wakeups.wake_local`).
    """
    if not jobs:
        return []
    dialect = session.get_bind().dialect.name
    added: list[int] = []
    for job in jobs:
        statement = (
            _insert(dialect)(Job).values(**_values(job, now))
            .on_conflict_do_nothing(index_elements=[Job.key])
            .returning(Job.id)
        )
        job_id = (await session.execute(statement)).scalar_one_or_none()
        if job_id is not None:
            added.append(int(job_id))
    due = {j.kind for j in jobs if j.run_at <= now}
    if added and due:
        await _wake_with(session, due)
    return added


async def _wake_with(session: AsyncSession, kinds: Collection[str]) -> None:
    """The runners' wakeup, sent with the session's transaction (see store.job_wakeups)."""
    if session.get_bind().dialect.name == "postgresql":
        await notify_in(session, kinds)
    else:
        wake_after_commit(session, kinds)


async def add_claimed(
    session: AsyncSession, job: NewJob, claim: Claim, now: datetime
) -> Job | None:
    """Enqueue ``job`` in the caller's transaction already leased to ``claim.owner``.

    The caller runs it once the transaction commits (one round trip fewer than enqueue
    then claim, and no other replica's worker can take it first); if the caller dies,
    its lease runs out and any runner takes the job over. None when a job with that
    key exists already (it is left as it is).
    """
    dialect = session.get_bind().dialect.name
    statement = (
        _insert(dialect)(Job)
        .values(**{**_values(job, now), "attempts": 1, "owner": claim.owner,
                   "lease_until": db_later(dialect, claim.lease)})
        .on_conflict_do_nothing(index_elements=[Job.key])
        .returning(Job)
    )
    return (await session.execute(statement)).scalar_one_or_none()


def add_jobs(session: AsyncSession, jobs: Sequence[NewJob], now: datetime) -> list[Job]:
    """Add ``jobs`` to a transaction the caller owns (so they commit with its other rows)."""
    rows = [
        Job(kind=j.kind, key=j.key, request_id=j.request_id, payload=dict(j.payload) or None,
            state=JobState.QUEUED, run_at=j.run_at, attempts=0, created_at=now)
        for j in jobs
    ]
    session.add_all(rows)
    return rows


_FINISH: dict[str, Any] = {}  # per dialect: finish_in's UPDATE, built once


async def finish_in(session: AsyncSession, job: Job, state: JobState) -> bool:
    """Finish ``job`` inside the caller's transaction, if its claimer still owns it."""
    dialect = session.get_bind().dialect.name
    statement = _FINISH.get(dialect)
    if statement is None:
        jobs = cast(Table, Job.__table__)
        table = jobs.c
        statement = _FINISH[dialect] = (
            update(jobs)
            .where(table.id == bindparam("b_id"), table.owner == bindparam("b_owner"),
                   table.state == JobState.QUEUED)
            .values(state=bindparam("b_state"), finished_at=db_now(dialect), lease_until=None)
        )
    result = await session.execute(
        statement, {"b_id": job.id, "b_owner": job.owner, "b_state": state}
    )
    return _rowcount(result) == 1


class JobStore:
    """The jobs table over the store's engine; each method is one short transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._session = async_sessionmaker(engine, expire_on_commit=False)

    def _free(self) -> ColumnElement[bool]:
        """Not held by anyone: never claimed, released, or its lease ran out."""
        return or_(Job.lease_until.is_(None), Job.lease_until < db_now(self.dialect))

    def _claimable(self, now: datetime) -> ColumnElement[bool]:
        return and_(Job.state == JobState.QUEUED, Job.run_at <= now, self._free())

    # -- reading ----------------------------------------------------------------------
    async def due(self, kinds: Collection[str], now: datetime, limit: int = 50) -> list[int]:
        """Ids of jobs of ``kinds`` that are due and free, oldest first."""
        async with self._session() as s:
            rows = await s.scalars(
                select(Job.id)
                .where(self._claimable(now), Job.kind.in_(list(kinds)))
                .order_by(Job.run_at, Job.id)
                .limit(limit)
            )
            return list(rows.all())

    async def get(self, job_id: int) -> Job | None:
        async with self._session() as s:
            job = await s.get(Job, job_id)
        return _aware_job(job) if job is not None else None

    async def of_request(self, request_id: str) -> list[Job]:
        """The jobs of one access request, in the order they were made."""
        async with self._session() as s:
            rows = await s.scalars(select(Job).where(Job.request_id == request_id).order_by(Job.id))
            found = list(rows.all())
        return [_aware_job(j) for j in found]

    # -- enqueueing and claiming ---------------------------------------------------------
    async def enqueue(self, job: NewJob, now: datetime) -> bool:
        """Add ``job`` unless a job with its key exists (in any state); True when added."""
        statement = (
            _insert(self.dialect)(Job)
            .values(**_values(job, now))
            .on_conflict_do_nothing(index_elements=[Job.key])
        )
        async with self._session.begin() as s:
            added = _rowcount(await s.execute(statement)) == 1
            if added and job.run_at <= now:
                await _wake_with(s, [job.kind])
            return added

    async def queue(self, jobs: Sequence[NewJob], now: datetime) -> list[int]:
        """:func:`queue_jobs` in a transaction of its own (the wakeup sent with its commit)."""
        async with self._session.begin() as s:
            return await queue_jobs(s, jobs, now)

    async def claim(self, job_id: int, owner: str, now: datetime, lease: timedelta) -> Job | None:
        """Lease one due job to ``owner``; None when someone holds it or it is not due."""
        claimed = await self._claim(Job.id == job_id, owner, now, lease, 1)
        return claimed[0] if claimed else None

    async def claim_due(
        self, kinds: Collection[str], owner: str, now: datetime, lease: timedelta, limit: int = 1
    ) -> list[Job]:
        """Lease up to ``limit`` due jobs of ``kinds`` to ``owner``, oldest first."""
        return await self._claim(Job.kind.in_(list(kinds)), owner, now, lease, limit)

    async def _claim(
        self, which: ColumnElement[bool], owner: str, now: datetime, lease: timedelta,
        limit: int,
    ) -> list[Job]:
        pick = (
            select(Job.id)
            .where(which, self._claimable(now))
            .order_by(Job.run_at, Job.id)
            .limit(limit)
        )
        claim = (
            update(Job)
            .values(owner=owner, lease_until=db_later(self.dialect, lease),
                    attempts=Job.attempts + 1)
            .returning(Job.id)
            .execution_options(synchronize_session=False)
        )
        async with self._session.begin() as s:
            if self.dialect == "postgresql":
                # Lock the picked rows first, skipping those another claimer holds; they
                # stay ours until commit. (Inside the UPDATE, the planner may run the
                # subquery once per row and so pick more than ``limit``.)
                locked = (await s.scalars(pick.with_for_update(skip_locked=True))).all()
                if not locked:
                    return []
                statement = claim.where(Job.id.in_(list(locked)))
            else:
                # One writer at a time: a conditional UPDATE cannot be raced.
                statement = claim.where(
                    Job.id.in_(pick.correlate(None).scalar_subquery()), self._claimable(now)
                )
            ids = list((await s.scalars(statement)).all())
            if not ids:
                return []
            rows = await s.scalars(
                select(Job).where(Job.id.in_(ids)).order_by(Job.run_at, Job.id)
                .execution_options(populate_existing=True)
            )
            claimed = list(rows.all())
        return [_aware_job(j) for j in claimed]

    async def claim_or_create(
        self, job: NewJob, owner: str, now: datetime, lease: timedelta
    ) -> Job | None:
        """Enqueue ``job`` already leased to ``owner``, or claim the row its key names.

        An existing row is claimed when it is free (its attempts go on) or over (it is
        armed again, attempts from one); None when someone else holds it.
        """
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        until = db_later(self.dialect, lease)
        payload = dict(job.payload) or None
        statement = (
            insert(Job)
            .values(kind=job.kind, key=job.key, request_id=job.request_id, payload=payload,
                    state=JobState.QUEUED, run_at=job.run_at, attempts=1, owner=owner,
                    lease_until=until, created_at=now)
            .on_conflict_do_update(
                index_elements=[Job.key],
                set_={
                    "attempts": case((Job.state == JobState.QUEUED, Job.attempts + 1), else_=1),
                    "state": JobState.QUEUED, "owner": owner, "lease_until": until,
                    "payload": payload, "run_at": job.run_at, "finished_at": None,
                },
                where=or_(Job.state != JobState.QUEUED, self._free()),
            )
            .returning(Job.id)
        )
        async with self._session.begin() as s:
            job_id = (await s.execute(statement)).scalar_one_or_none()
            if job_id is None:
                return None
            row = await s.get(Job, job_id, populate_existing=True)
            assert row is not None
        return _aware_job(row)

    # -- the owner's moves --------------------------------------------------------------
    async def renew(self, job: Job, lease: timedelta) -> bool:
        """Extend the lease of a job its claimer still owns (a long directory call)."""
        async with self._session.begin() as s:
            result = await s.execute(
                update(Job)
                .where(Job.id == job.id, Job.owner == job.owner, Job.state == JobState.QUEUED)
                .values(lease_until=db_later(self.dialect, lease))
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result) == 1

    async def finish(self, job: Job, state: JobState = JobState.DONE, error: str = "") -> bool:
        """Mark the job over (``done`` or ``dead``); False if its claimer lost it meanwhile."""
        async with self._session.begin() as s:
            if error:
                await s.execute(
                    update(Job).where(Job.id == job.id, Job.owner == job.owner)
                    .values(last_error=error[:500])
                    .execution_options(synchronize_session=False)
                )
            finished = await finish_in(s, job, state)
        if finished:
            job.state = state  # committed: the runner need not finish it again
        return finished

    async def retry(
        self, job: Job, run_at: datetime, error: str, *, reset_attempts: bool = False
    ) -> bool:
        """Release the lease and run the job again at ``run_at``."""
        values: dict[str, Any] = {
            "run_at": run_at, "owner": None, "lease_until": None, "last_error": error[:500]
        }
        if reset_attempts:
            values["attempts"] = 0
        async with self._session.begin() as s:
            result = await s.execute(
                update(Job)
                .where(Job.id == job.id, Job.owner == job.owner, Job.state == JobState.QUEUED)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result) == 1

    # -- housekeeping -----------------------------------------------------------------
    async def abandon(self, kind: str, *, except_id: int, reason: str) -> int:
        """Give up every other free, unfinished job of ``kind``; how many there were."""
        async with self._session.begin() as s:
            result = await s.execute(
                update(Job)
                .where(Job.kind == kind, Job.id != except_id, Job.state == JobState.QUEUED,
                       self._free())
                .values(state=JobState.DEAD, finished_at=db_now(self.dialect),
                        last_error=reason[:500])
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result)

    async def prune(self, kind: str, *, finished_before: datetime) -> int:
        """Delete jobs of ``kind`` that finished before ``finished_before``."""
        async with self._session.begin() as s:
            result = await s.execute(
                delete(Job).where(Job.kind == kind, Job.state != JobState.QUEUED,
                                  Job.finished_at < finished_before)
            )
            return _rowcount(result)


def aware_job(job: Job) -> Job:
    """``job`` with UTC attached to its times (read after the transaction that wrote it)."""
    return _aware_job(job)


def _aware_job(job: Job) -> Job:
    """``job`` with UTC attached to its times; call it outside any transaction that commits."""
    for name in ("run_at", "lease_until", "created_at", "finished_at"):
        value = getattr(job, name)
        if value is not None:
            setattr(job, name, aware(value))
    return job


def _rowcount(result: Any) -> int:
    return int(result.rowcount or 0)
