"""The async state store: SQLite by default, PostgreSQL for several replicas.

``Store.open(url)`` runs the migrations (under an advisory lock on PostgreSQL,
so replicas starting together migrate once) and returns a store whose methods
are each one short transaction. Transitions that must happen once
(``mark_event_processed``, ``claim_pending``, every access-request transition
in ``AccessStore``) are a single conditional statement, so two replicas or a
double click cannot both win.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, case, delete, event, exists, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from store.models import (
    AccessApprover,
    AccessDecision,
    AccessMessage,
    AccessRequest,
    ActionLease,
    AuditRecord,
    Job,
    PendingAction,
    ProcessedEvent,
    SecretMessage,
)

MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK_KEY = 7_340_111  # arbitrary, constant: the advisory lock that serialises migrations


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone=True columns.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _upgrade(sync_conn: Connection) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer; NORMAL syncs at checkpoints, not every
    # commit (still durable across a crash of the process, which is what matters here).
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@dataclass(frozen=True)
class Claimed:
    """A pending action that this caller, and only this caller, now owns."""

    token: str
    kind: str
    slack_user: str
    payload: dict[str, Any]


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` and ``sqlite:///`` URLs; use the async drivers."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url[len("postgresql://") :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


class Store:
    """Durable state behind the bot; one instance per process."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._session = async_sessionmaker(engine, expire_on_commit=False)
        self.access = AccessStore(self._session)

    @classmethod
    async def open(cls, url: str) -> Store:
        """Connect, create the SQLite folder if needed, and migrate to the latest schema."""
        url = normalise_url(url)
        if url.startswith("sqlite+aiosqlite:///") and ":memory:" not in url:
            Path(url.removeprefix("sqlite+aiosqlite:///")).parent.mkdir(
                parents=True, exist_ok=True
            )
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            # SQLite has one writer at a time: more connections only add waiting threads.
            kwargs.update(connect_args={"timeout": 30}, pool_size=1, max_overflow=0)
        else:
            kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=10)
        engine = create_async_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        store = cls(engine)
        await store.migrate()
        return store

    async def migrate(self) -> None:
        async with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY}
                )
            await conn.run_sync(_upgrade)

    async def close(self) -> None:
        await self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # -- events ---------------------------------------------------------------
    async def mark_event_processed(self, event_id: str) -> bool:
        """Record a Slack event id; ``False`` when it was already recorded (a duplicate)."""
        try:
            async with self._session.begin() as s:
                s.add(ProcessedEvent(event_id=event_id, received_at=_now()))
        except IntegrityError:
            return False
        return True

    async def prune_events(self, older_than: timedelta) -> int:
        async with self._session.begin() as s:
            result = await s.execute(
                delete(ProcessedEvent).where(ProcessedEvent.received_at < _now() - older_than)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # -- action leases ----------------------------------------------------------
    async def take_lease(self, key: str, holder: str, ttl: timedelta) -> bool:
        """Hold ``key`` for ``ttl`` unless someone else holds it; True when taken.

        One conditional upsert: it inserts, or takes over a lease that has expired (left
        by a crashed replica), or changes nothing; the row count says which.
        """
        now = _now()
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        statement = (
            insert(ActionLease)
            .values(key=key, holder=holder, expires_at=now + ttl)
            .on_conflict_do_update(
                index_elements=[ActionLease.key],
                set_={"holder": holder, "expires_at": now + ttl},
                where=ActionLease.expires_at < now,
            )
        )
        async with self._session.begin() as s:
            result = await s.execute(statement)
            return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]

    async def release_lease(self, key: str, holder: str) -> None:
        async with self._session.begin() as s:
            await s.execute(
                delete(ActionLease).where(ActionLease.key == key, ActionLease.holder == holder)
            )

    # -- audit ----------------------------------------------------------------
    async def add_audit(self, record: AuditRecord) -> None:
        async with self._session.begin() as s:
            s.add(record)

    async def count_actions(
        self, actor: str, action: str, since: datetime, result: str = "success"
    ) -> int:
        """How many times ``actor`` did ``action`` with ``result`` since ``since``."""
        async with self._session() as s:
            value = await s.scalar(
                select(func.count())
                .select_from(AuditRecord)
                .where(
                    AuditRecord.actor == actor,
                    AuditRecord.action == action,
                    AuditRecord.result == result,
                    AuditRecord.at >= since,
                )
            )
            return int(value or 0)

    async def list_audit(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
    ) -> Sequence[AuditRecord]:
        query = select(AuditRecord).order_by(AuditRecord.at, AuditRecord.id).limit(limit)
        if actor:
            query = query.where(AuditRecord.actor == actor)
        if action:
            query = query.where(AuditRecord.action == action)
        if since:
            query = query.where(AuditRecord.at >= since)
        if until:
            query = query.where(AuditRecord.at < until)
        async with self._session() as s:
            return list((await s.scalars(query)).all())

    # -- pending confirmations -----------------------------------------------
    async def create_pending(
        self, slack_user: str, kind: str, payload: dict[str, Any], ttl: timedelta
    ) -> str:
        token = secrets.token_urlsafe(18)
        now = _now()
        async with self._session.begin() as s:
            s.add(
                PendingAction(
                    token=token,
                    slack_user=slack_user,
                    kind=kind,
                    state="pending",
                    payload=payload,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
        return token

    async def peek_pending(self, token: str, slack_user: str) -> Claimed | None:
        """The pending, unexpired action of ``slack_user``, without claiming it."""
        async with self._session() as s:
            row = await s.scalar(
                select(PendingAction).where(
                    PendingAction.token == token,
                    PendingAction.slack_user == slack_user,
                    PendingAction.state == "pending",
                    PendingAction.expires_at > _now(),
                )
            )
            if row is None:
                return None
            return Claimed(row.token, row.kind, row.slack_user, dict(row.payload))

    async def claim_pending(
        self, token: str, slack_user: str, *, state: str = "claimed"
    ) -> Claimed | None:
        """Move a pending, unexpired action of ``slack_user`` to ``state``; ``None`` if not ours.

        One conditional UPDATE: of two concurrent callers exactly one gets a row.
        """
        async with self._session.begin() as s:
            result = await s.execute(
                update(PendingAction)
                .where(
                    PendingAction.token == token,
                    PendingAction.slack_user == slack_user,
                    PendingAction.state == "pending",
                    PendingAction.expires_at > _now(),
                )
                .values(state=state)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = await s.get(PendingAction, token)
            assert row is not None
            return Claimed(row.token, row.kind, row.slack_user, dict(row.payload))

    # -- secrets on screen ----------------------------------------------------
    async def remember_secret_message(
        self, channel: str, ts: str, hide_at: datetime, replacement: str
    ) -> int:
        async with self._session.begin() as s:
            row = SecretMessage(
                channel=channel, ts=ts, hide_at=hide_at, hidden=False, replacement=replacement
            )
            s.add(row)
            await s.flush()
            return row.id

    async def due_secret_messages(self, now: datetime | None = None) -> list[SecretMessage]:
        async with self._session() as s:
            rows = await s.scalars(
                select(SecretMessage)
                .where(SecretMessage.hidden.is_(False), SecretMessage.hide_at <= (now or _now()))
                .order_by(SecretMessage.hide_at)
                .limit(200)
            )
            return list(rows.all())

    async def mark_secret_hidden(self, message_id: int) -> bool:
        async with self._session.begin() as s:
            result = await s.execute(
                update(SecretMessage)
                .where(SecretMessage.id == message_id, SecretMessage.hidden.is_(False))
                .values(hidden=True)
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def find_secret_message(self, channel: str, ts: str) -> SecretMessage | None:
        async with self._session() as s:
            return await s.scalar(
                select(SecretMessage).where(
                    SecretMessage.channel == channel, SecretMessage.ts == ts
                )
            )


# -- access requests ------------------------------------------------------------------
#: States in which a request still holds its ``open_key`` (one per person and group).
OPEN_STATES = ("pending", "approved")
#: What became of a request, for the people who look at it.
FINAL_STATES = ("denied", "expired", "cancelled", "fulfilled", "failed", "revoked")


class _Lost(Exception):
    """Raised inside a transaction whose condition no longer held: roll back, report."""


@dataclass(frozen=True)
class AccessSnapshot:
    """A request with who may decide it and the votes cast, read in one transaction."""

    request: AccessRequest
    approvers: tuple[str, ...]
    decisions: tuple[AccessDecision, ...]

    @property
    def approved_by(self) -> tuple[str, ...]:
        return tuple(d.approver for d in self.decisions if d.decision == "approve")

    @property
    def denied_by(self) -> str | None:
        return next((d.approver for d in self.decisions if d.decision == "deny"), None)

    def has_voted(self, approver: str) -> bool:
        return any(d.approver == approver for d in self.decisions)


@dataclass(frozen=True)
class Vote:
    """The result of one approval click.

    ``outcome``: ``approved`` (this vote completed the approvals; ``job_id`` is the
    fulfilment job), ``recorded`` (more approvals needed), ``duplicate`` (this
    approver already voted) or ``not_pending`` (decided, expired or cancelled).
    """

    outcome: str
    job_id: int | None = None


AuditFactory = Callable[[str, dict[str, Any]], AuditRecord]
"""Builds the audit record of a transition from its result and extra detail."""


class AccessStore:
    """Access requests, their votes and message references, and the durable jobs.

    Every transition is one transaction whose UPDATE is conditioned on the
    current state; the audit record and any follow-up job are written in the
    same transaction, so a transition, its audit record and its jobs exist
    together or not at all. Times are passed in (``now``) so tests control them.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._session = sessions

    # -- reading --------------------------------------------------------------
    async def snapshot(self, request_id: str) -> AccessSnapshot | None:
        async with self._session() as s:
            row = await s.get(AccessRequest, request_id)
            if row is None:
                return None
            approvers = await s.scalars(
                select(AccessApprover.approver)
                .where(AccessApprover.request_id == request_id)
                .order_by(AccessApprover.approver)
            )
            decisions = await s.scalars(
                select(AccessDecision)
                .where(AccessDecision.request_id == request_id)
                .order_by(AccessDecision.at, AccessDecision.id)
            )
            _aware_request(row)
            return AccessSnapshot(row, tuple(approvers.all()), tuple(decisions.all()))

    async def open_request(self, requester: str, group_key: str) -> AccessRequest | None:
        """The requester's pending or approved request for this group, if any."""
        async with self._session() as s:
            key = _open_key(requester, group_key)
            row = await s.scalar(select(AccessRequest).where(AccessRequest.open_key == key))
            return _aware_request(row) if row is not None else None

    async def requests_of(self, requester: str, limit: int = 10) -> list[AccessRequest]:
        """The requester's latest requests, newest first."""
        async with self._session() as s:
            rows = await s.scalars(
                select(AccessRequest)
                .where(AccessRequest.requester == requester)
                .order_by(AccessRequest.created_at.desc(), AccessRequest.id)
                .limit(limit)
            )
            return [_aware_request(r) for r in rows.all()]

    async def waiting_for(
        self, approver: str, now: datetime, limit: int = 20
    ) -> list[AccessRequest]:
        """Pending requests this approver may decide and has not voted on, oldest first."""
        voted = exists().where(
            AccessDecision.request_id == AccessRequest.id, AccessDecision.approver == approver
        )
        async with self._session() as s:
            rows = await s.scalars(
                select(AccessRequest)
                .join(AccessApprover, AccessApprover.request_id == AccessRequest.id)
                .where(
                    AccessApprover.approver == approver,
                    AccessRequest.state == "pending",
                    AccessRequest.expires_at > now,
                    AccessRequest.requester != approver,
                    ~voted,
                )
                .order_by(AccessRequest.created_at, AccessRequest.id)
                .limit(limit)
            )
            return [_aware_request(r) for r in rows.all()]

    async def messages(self, request_id: str) -> list[AccessMessage]:
        async with self._session() as s:
            rows = await s.scalars(
                select(AccessMessage)
                .where(AccessMessage.request_id == request_id)
                .order_by(AccessMessage.id)
            )
            return list(rows.all())

    async def add_message(
        self, request_id: str, role: str, recipient: str | None, channel: str, ts: str
    ) -> None:
        async with self._session.begin() as s:
            s.add(
                AccessMessage(
                    request_id=request_id, role=role, recipient=recipient, channel=channel, ts=ts
                )
            )

    # -- transitions ------------------------------------------------------------
    async def create(
        self,
        row: AccessRequest,
        approvers: Sequence[str],
        jobs: Sequence[tuple[str, datetime]],
        audit: AuditRecord,
    ) -> bool:
        """Insert a new request with its approvers, jobs and audit record.

        ``False`` when the requester already has an open request for the group
        (the ``open_key`` constraint), even one another replica just made.
        """
        row.open_key = _open_key(row.requester, row.group_key)
        try:
            async with self._session.begin() as s:
                s.add(row)
                await s.flush()
                s.add_all(AccessApprover(request_id=row.id, approver=a) for a in set(approvers))
                s.add_all(_job(row.id, kind, at, row.created_at) for kind, at in jobs)
                s.add(audit)
        except IntegrityError:
            return False
        return True

    async def approve(
        self, request_id: str, approver: str, now: datetime, audit: AuditFactory
    ) -> Vote:
        """Record one approval; the vote that reaches ``approvals_required`` approves.

        The decision row (unique per approver) and the conditional UPDATE are one
        transaction: on PostgreSQL the UPDATE of a concurrent vote waits for this
        one's row lock and then sees its count, so two last votes cannot both
        approve and two half votes cannot both miss.
        """
        r = AccessRequest
        completes = r.approvals + 1 >= r.approvals_required
        try:
            async with self._session.begin() as s:
                s.add(AccessDecision(request_id=request_id, approver=approver,
                                     decision="approve", at=now))
                await s.flush()
                result = await s.execute(
                    update(r)
                    .where(r.id == request_id, r.state == "pending", r.expires_at > now)
                    .values(
                        approvals=r.approvals + 1,
                        state=case((completes, "approved"), else_="pending"),
                        decided_by=case((completes, approver), else_=r.decided_by),
                        decided_at=case((completes, now), else_=r.decided_at),
                        updated_at=now,
                    )
                    .returning(r.state, r.approvals)
                    .execution_options(synchronize_session=False)
                )
                found = result.first()
                if found is None:
                    raise _Lost
                state, approvals = str(found[0]), int(found[1])
                job_id: int | None = None
                if state == "approved":
                    job = _job(request_id, "fulfil", now, now)
                    s.add(job)
                    await s.flush()
                    job_id = job.id
                outcome = "approved" if state == "approved" else "recorded"
                s.add(audit(outcome, {"approvals": approvals}))
        except IntegrityError:
            return Vote("duplicate")
        except _Lost:
            return Vote("not_pending")
        return Vote(outcome, job_id)

    async def deny(
        self, request_id: str, approver: str, reason: str, now: datetime, audit: AuditFactory
    ) -> Vote:
        """Deny a pending request; ``outcome`` is ``denied``, ``duplicate`` or ``not_pending``."""
        r = AccessRequest
        try:
            async with self._session.begin() as s:
                s.add(AccessDecision(request_id=request_id, approver=approver, decision="deny",
                                     reason=reason, at=now))
                await s.flush()
                result = await s.execute(
                    update(r)
                    .where(r.id == request_id, r.state == "pending", r.expires_at > now)
                    .values(state="denied", open_key=None, decided_by=approver, decided_at=now,
                            reason=reason, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
                if _rowcount(result) != 1:
                    raise _Lost
                s.add(audit("denied", {}))
        except IntegrityError:
            return Vote("duplicate")
        except _Lost:
            return Vote("not_pending")
        return Vote("denied")

    async def cancel(
        self, request_id: str, requester: str, now: datetime, audit: AuditFactory
    ) -> bool:
        """The requester withdraws a pending request of theirs."""
        r = AccessRequest
        return await self._transition(
            update(r)
            .where(r.id == request_id, r.requester == requester, r.state == "pending")
            .values(state="cancelled", open_key=None, decided_by=requester, decided_at=now,
                    updated_at=now),
            audit("cancelled", {}),
        )

    async def expire(self, request_id: str, now: datetime, audit: AuditFactory) -> bool:
        """A pending request whose time is up becomes ``expired``."""
        r = AccessRequest
        return await self._transition(
            update(r)
            .where(r.id == request_id, r.state == "pending", r.expires_at <= now)
            .values(state="expired", open_key=None, decided_at=now, updated_at=now),
            audit("expired", {}),
        )

    async def fulfil(
        self,
        request_id: str,
        job: Job,
        now: datetime,
        access_until: datetime | None,
        follow_up: Sequence[tuple[str, datetime]],
        audit: AuditRecord,
    ) -> bool:
        """approved → fulfilled, the job done, follow-up jobs (warn, revoke) queued."""
        r = AccessRequest
        return await self._transition(
            update(r)
            .where(r.id == request_id, r.state == "approved")
            .values(state="fulfilled", open_key=None, fulfilled_at=now,
                    access_until=access_until, updated_at=now),
            audit,
            job=job,
            now=now,
            follow_up=follow_up,
        )

    async def fail(
        self, request_id: str, job: Job, now: datetime, reason: str, audit: AuditRecord
    ) -> bool:
        """approved → failed (the directory refused for good); the job is given up."""
        r = AccessRequest
        return await self._transition(
            update(r)
            .where(r.id == request_id, r.state == "approved")
            .values(state="failed", open_key=None, reason=reason, updated_at=now),
            audit,
            job=job,
            now=now,
            job_state="dead",
        )

    async def revoke(self, request_id: str, job: Job, now: datetime, audit: AuditRecord) -> bool:
        """fulfilled → revoked, when time-bound access has been removed."""
        r = AccessRequest
        return await self._transition(
            update(r)
            .where(r.id == request_id, r.state == "fulfilled")
            .values(state="revoked", revoked_at=now, updated_at=now),
            audit,
            job=job,
            now=now,
        )

    async def _transition(
        self,
        statement: Any,
        audit: AuditRecord,
        *,
        job: Job | None = None,
        now: datetime | None = None,
        job_state: str = "done",
        follow_up: Sequence[tuple[str, datetime]] = (),
    ) -> bool:
        """Run one conditional UPDATE; when it wins, add the audit record and jobs with it.

        When it loses, the job that asked for it (if any) is finished anyway:
        there is nothing left for it to do.
        """
        won = False
        async with self._session.begin() as s:
            result = await s.execute(statement.execution_options(synchronize_session=False))
            won = _rowcount(result) == 1
            if won:
                s.add(audit)
                if follow_up and job is not None:
                    s.add_all(_job(job.request_id, k, at, now or at) for k, at in follow_up)
            if job is not None:
                await _finish(s, job, now or _now(), job_state if won else "done")
        return won

    # -- jobs -----------------------------------------------------------------
    async def due_jobs(self, now: datetime, limit: int = 50) -> list[int]:
        """Ids of queued jobs that are due and not leased (or whose lease ran out)."""
        async with self._session() as s:
            rows = await s.scalars(
                select(Job.id)
                .where(
                    Job.state == "queued",
                    Job.run_at <= now,
                    or_(Job.locked_until.is_(None), Job.locked_until < now),
                )
                .order_by(Job.run_at, Job.id)
                .limit(limit)
            )
            return list(rows.all())

    async def claim_job(
        self, job_id: int, owner: str, now: datetime, lease: timedelta
    ) -> Job | None:
        """Lease a due job to ``owner``; ``None`` when someone else holds it or it is not due."""
        async with self._session.begin() as s:
            result = await s.execute(
                update(Job)
                .where(
                    Job.id == job_id,
                    Job.state == "queued",
                    Job.run_at <= now,
                    or_(Job.locked_until.is_(None), Job.locked_until < now),
                )
                .values(lease_owner=owner, locked_until=now + lease, attempts=Job.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(result) != 1:
                return None
            job = await s.get(Job, job_id, populate_existing=True)
            assert job is not None
            job.run_at = _aware(job.run_at)
            return job

    async def finish_job(self, job: Job, now: datetime, state: str = "done") -> bool:
        async with self._session.begin() as s:
            return await _finish(s, job, now, state)

    async def retry_job(
        self, job: Job, run_at: datetime, error: str, *, reset_attempts: bool = False
    ) -> bool:
        """Release the lease and run the job again at ``run_at``."""
        values: dict[str, Any] = {
            "run_at": run_at, "lease_owner": None, "locked_until": None, "last_error": error[:500]
        }
        if reset_attempts:
            values["attempts"] = 0
        async with self._session.begin() as s:
            result = await s.execute(
                update(Job)
                .where(Job.id == job.id, Job.lease_owner == job.lease_owner, Job.state == "queued")
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result) == 1

    async def renew_lease(self, job: Job, until: datetime) -> bool:
        """Extend the lease of a job still held by its owner (a long directory call)."""
        async with self._session.begin() as s:
            result = await s.execute(
                update(Job)
                .where(Job.id == job.id, Job.lease_owner == job.lease_owner, Job.state == "queued")
                .values(locked_until=until)
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result) == 1

    async def jobs_of(self, request_id: str) -> list[Job]:
        async with self._session() as s:
            rows = await s.scalars(select(Job).where(Job.request_id == request_id).order_by(Job.id))
            return list(rows.all())


async def _finish(s: AsyncSession, job: Job, now: datetime, state: str) -> bool:
    # Only the lease holder may finish a job: a worker whose lease ran out and was
    # taken over must not mark the new owner's run as done.
    result = await s.execute(
        update(Job)
        .where(Job.id == job.id, Job.lease_owner == job.lease_owner, Job.state == "queued")
        .values(state=state, finished_at=now, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def _job(request_id: str, kind: str, run_at: datetime, now: datetime) -> Job:
    return Job(kind=kind, request_id=request_id, state="queued", run_at=run_at, attempts=0,
               created_at=now)


def _open_key(requester: str, group_key: str) -> str:
    return f"{requester}:{group_key}"


def _rowcount(result: Any) -> int:
    return int(result.rowcount or 0)


def _aware_request(row: AccessRequest) -> AccessRequest:
    for name in ("created_at", "updated_at", "expires_at", "decided_at", "fulfilled_at",
                 "access_until", "revoked_at"):
        value = getattr(row, name)
        if value is not None:
            setattr(row, name, _aware(value))
    return row
