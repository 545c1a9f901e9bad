"""The outbox's rows: jobs of kind ``outbox`` (``store.jobs``), one per message to Slack.

A message is enqueued already leased to the process that writes it (it sends it at once),
or free for any replica's worker (``enqueue``). Whoever holds it
sends it, then :func:`settle` finishes the job and replaces its payload in the same
transaction (the content, secrets included, is wiped; what it was about stays). A
failure releases it to run again later (``JobStore.retry``); a holder that dies leaves it
to another replica once its lease runs out. Claiming is ``JobStore.claim_due`` (``FOR
UPDATE SKIP LOCKED`` on PostgreSQL), so each message is held by one replica at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from store.jobs import JobState, JobStore, NewJob, job_key
from store.leases import aware, db_later, db_now
from store.models import Job

KIND = "outbox"
_JOBS = cast(Table, Job.__table__)


def outbox_key(message_key: str) -> str:
    """The job key of the message with idempotency key ``message_key``."""
    return job_key(KIND, message_key)


class OutboxStore:
    """Enqueue, claim and settle outbox messages over the jobs table."""

    def __init__(self, engine: AsyncEngine, jobs: JobStore | None = None) -> None:
        self.jobs = jobs or JobStore(engine)
        self._engine = engine
        self._session = async_sessionmaker(engine, expire_on_commit=False)
        # The statements of every message (stored, noted, settled), built once: on Core
        # connections, no ORM session and no statement to build and key per message.
        dialect = self.jobs.dialect
        self._held: dict[timedelta, Any] = {}  # the insert of a held message, per lease
        held = _JOBS.c.id == bindparam("b_id")
        held = and_(held, _JOBS.c.owner == bindparam("b_owner"),
                    _JOBS.c.state == JobState.QUEUED)
        over = {"payload": bindparam("b_payload", type_=_JOBS.c.payload.type),
                "state": bindparam("b_state"), "finished_at": db_now(dialect),
                "lease_until": None}
        self._settle = update(_JOBS).where(held).values(**over)
        self._settle_failed = update(_JOBS).where(held).values(
            **over, last_error=bindparam("b_error"))
        self._note = update(_JOBS).where(held).values(last_error=bindparam("b_error"))

    def _held_insert(self, lease: timedelta) -> Any:
        statement = self._held.get(lease)
        if statement is None:
            dialect = self.jobs.dialect
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            statement = (
                insert(_JOBS)
                .values(lease_until=db_later(dialect, lease))
                .on_conflict_do_nothing(index_elements=[_JOBS.c.key])
                .returning(_JOBS.c.id)
            )
            self._held[lease] = statement
        return statement

    async def enqueue(
        self, key: str, payload: Mapping[str, Any], now: datetime, *, run_at: datetime | None = None
    ) -> bool:
        """Store a message for any replica's worker; False when its key is stored already."""
        return await self.jobs.enqueue(
            NewJob(KIND, outbox_key(key), run_at or now, payload=payload), now
        )

    async def enqueue_held(
        self, key: str, payload: Mapping[str, Any], owner: str, now: datetime, lease: timedelta
    ) -> Job | None:
        """Store a message leased to ``owner``, who sends it now; None when its key is stored
        already (sent, being sent, or waiting for a worker): then there is nothing to do.

        Unlike ``JobStore.claim_or_create`` a finished row is never armed again: a turn run
        a second time (after a crash) makes the same keys, and what was sent stays sent.
        """
        values = {"kind": KIND, "key": outbox_key(key), "payload": dict(payload),
                  "state": JobState.QUEUED, "run_at": now, "attempts": 1, "owner": owner,
                  "created_at": now}
        async with self._engine.begin() as conn:
            job_id = (await conn.execute(self._held_insert(lease), values)).scalar_one_or_none()
        if job_id is None:
            return None
        # What the row holds now, without reading it back (the lease's end is the database's).
        return Job(id=job_id, kind=KIND, key=outbox_key(key), payload=dict(payload),
                   state=JobState.QUEUED, run_at=aware(now), attempts=1, owner=owner,
                   created_at=aware(now))

    async def due(self, now: datetime) -> bool:
        """Whether any message is due and free (a read: no lock taken)."""
        return bool(await self.jobs.due([KIND], now, limit=1))

    async def claim_due(
        self, owner: str, now: datetime, lease: timedelta, limit: int = 1
    ) -> list[Job]:
        return await self.jobs.claim_due([KIND], owner, now, lease, limit)

    async def settle(
        self, job: Job, state: JobState, payload: Mapping[str, Any], error: str = ""
    ) -> bool:
        """Finish ``job`` (``done`` or ``dead``) with ``payload`` replacing its own, if still
        held by its claimer; one transaction, so no finished row keeps its content."""
        # One statement: the new payload and the end of the job (``finish_in``'s columns).
        params: dict[str, Any] = {"b_id": job.id, "b_owner": job.owner,
                                  "b_payload": dict(payload), "b_state": state}
        if error:
            params["b_error"] = error[:500]
        async with self._engine.begin() as conn:
            result = await conn.execute(self._settle_failed if error else self._settle, params)
            return int(getattr(result, "rowcount", 0) or 0) == 1

    async def note(self, job: Job, note: str) -> bool:
        """Write ``note`` in the row's ``last_error`` (what the holder is doing), if held."""
        params = {"b_id": job.id, "b_owner": job.owner, "b_error": note[:500]}
        async with self._engine.begin() as conn:
            result = await conn.execute(self._note, params)
            return int(getattr(result, "rowcount", 0) or 0) == 1

    async def renew_held(self, owner: str, lease: timedelta) -> int:
        """Extend the lease of every message ``owner`` holds; how many."""
        async with self._session.begin() as s:
            result = await s.execute(
                update(Job)
                .where(Job.kind == KIND, Job.owner == owner, Job.state == JobState.QUEUED,
                       Job.lease_until.is_not(None))
                .values(lease_until=db_later(self.jobs.dialect, lease))
                .execution_options(synchronize_session=False)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    async def retry(self, job: Job, run_at: datetime, error: str) -> bool:
        return await self.jobs.retry(job, run_at, error)

    async def prune(self, finished_before: datetime) -> int:
        return await self.jobs.prune(KIND, finished_before=finished_before)
