"""Durable state of the password-expiry nudges: who was nudged, and the runs.

``NudgeStore(engine)`` shares the engine of :class:`store.db.Store` (the tables come
from migration ``0003``). Each method is one short transaction, and every transition
that must happen once is a single conditional statement: ``claim`` inserts the
nudge's row, keyed by user, password and threshold; of two sweepers (or replicas)
only one insert succeeds, so a nudge is sent at most once even if two sweeps ever
overlapped.

Which replica sweeps is not decided here: a sweep is a job (:mod:`store.jobs`) run
under its lease (:mod:`store.leases`).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from store.models import Base
from store.nudge_models import (
    NudgeRun,
    PasswordNudge,
    SlackDirectoryEntry,
    SlackDirectoryListing,
)

SENDING = "sending"
SENT = "sent"
UNCONFIRMED = "unconfirmed"


class RunStatus(enum.StrEnum):
    """Where a run stands; every status but ``running`` is how it ended."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    ABORTED = "aborted"  # it lost the sweep's lease and stopped
    INTERRUPTED = "interrupted"  # it never said how it ended; the next sweep says so


RUNNING = RunStatus.RUNNING
RUN_END_STATES = frozenset(RunStatus) - {RunStatus.RUNNING}


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone=True columns.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True, order=True)
class NudgeKey:
    """What makes a nudge unique: the user (by provider id), the password, the threshold."""

    provider: str
    user_id: str
    password_version: str
    threshold: int

    @property
    def digest(self) -> str:
        """A short stable hash of the key, carried in the Slack message to recognise it."""
        raw = f"{self.provider}\x1f{self.user_id}\x1f{self.password_version}\x1f{self.threshold}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Claim:
    """A nudge row left ``sending``: its key, the run and recipient, and when it was claimed."""

    key: NudgeKey
    run_id: str
    slack_user: str
    claimed_at: datetime


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A row of ``nudge_runs`` as plain values."""

    id: str
    trigger: str
    slot: datetime | None
    holder: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, Any]


def _run_record(row: NudgeRun) -> RunRecord:
    return RunRecord(
        row.id,
        row.trigger,
        _aware(row.slot) if row.slot else None,
        row.holder,
        row.status,
        _aware(row.started_at),
        _aware(row.finished_at) if row.finished_at else None,
        dict(row.counts or {}),
    )


def _key_of(row: PasswordNudge) -> NudgeKey:
    return NudgeKey(row.provider, row.user_id, row.password_version, row.threshold)


class NudgeStore:
    """Nudge records and runs, over the store's engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._session = async_sessionmaker(engine, expire_on_commit=False)

    # -- nudges ----------------------------------------------------------------------
    async def existing(self, keys: Iterable[NudgeKey]) -> set[NudgeKey]:
        """The keys among ``keys`` that already have a row (sent, sending or unconfirmed)."""
        wanted = set(keys)
        if not wanted:
            return set()
        found: set[NudgeKey] = set()
        by_provider: dict[str, set[str]] = {}
        for key in wanted:
            by_provider.setdefault(key.provider, set()).add(key.user_id)
        async with self._session() as s:
            for provider, user_ids in by_provider.items():
                ids = sorted(user_ids)
                for start in range(0, len(ids), 500):
                    rows = await s.execute(
                        select(
                            PasswordNudge.provider,
                            PasswordNudge.user_id,
                            PasswordNudge.password_version,
                            PasswordNudge.threshold,
                        ).where(
                            PasswordNudge.provider == provider,
                            PasswordNudge.user_id.in_(ids[start : start + 500]),
                        )
                    )
                    for row in rows:
                        key = NudgeKey(row[0], row[1], row[2], row[3])
                        if key in wanted:
                            found.add(key)
        return found

    async def claim(
        self,
        key: NudgeKey,
        *,
        run_id: str,
        slack_user: str,
        expires_at: datetime,
        now: datetime,
    ) -> bool:
        """Insert the nudge's row as ``sending``; False when the key already has one."""
        try:
            async with self._session.begin() as s:
                s.add(
                    PasswordNudge(
                        provider=key.provider,
                        user_id=key.user_id,
                        password_version=key.password_version,
                        threshold=key.threshold,
                        state=SENDING,
                        run_id=run_id,
                        slack_user=slack_user,
                        expires_at=expires_at,
                        claimed_at=now,
                    )
                )
        except IntegrityError:
            return False
        return True

    def _where(self, key: NudgeKey) -> Any:
        return (
            (PasswordNudge.provider == key.provider)
            & (PasswordNudge.user_id == key.user_id)
            & (PasswordNudge.password_version == key.password_version)
            & (PasswordNudge.threshold == key.threshold)
        )

    async def mark_sent(self, key: NudgeKey, *, channel: str, ts: str, now: datetime) -> bool:
        """Record the delivered message; False if the row is not ``sending``."""
        async with self._session.begin() as s:
            result = await s.execute(
                update(PasswordNudge)
                .where(self._where(key), PasswordNudge.state == SENDING)
                .values(state=SENT, channel=channel, ts=ts, sent_at=now)
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def mark_unconfirmed(self, key: NudgeKey, *, now: datetime) -> bool:
        """A ``sending`` row whose delivery cannot be checked: count it as sent."""
        async with self._session.begin() as s:
            result = await s.execute(
                update(PasswordNudge)
                .where(self._where(key), PasswordNudge.state == SENDING)
                .values(state=UNCONFIRMED, sent_at=now)
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def release(self, key: NudgeKey) -> bool:
        """Delete a ``sending`` row whose message did not go out, so a later run can send it."""
        async with self._session.begin() as s:
            result = await s.execute(
                delete(PasswordNudge).where(self._where(key), PasswordNudge.state == SENDING)
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def sending_claims(self, *, exclude_run: str) -> list[Claim]:
        """Rows left ``sending`` by other runs (crashed, or a lapsed holder still finishing)."""
        async with self._session() as s:
            rows = await s.scalars(
                select(PasswordNudge)
                .where(PasswordNudge.state == SENDING, PasswordNudge.run_id != exclude_run)
                .order_by(PasswordNudge.claimed_at)
            )
            return [
                Claim(_key_of(r), r.run_id, r.slack_user, _aware(r.claimed_at)) for r in rows
            ]

    async def records(self, *, run_id: str | None = None) -> list[PasswordNudge]:
        """Nudge rows (of one run, or all), oldest claim first; for reports and tests."""
        query = select(PasswordNudge).order_by(PasswordNudge.claimed_at)
        if run_id is not None:
            query = query.where(PasswordNudge.run_id == run_id)
        async with self._session() as s:
            return list((await s.scalars(query)).all())

    async def prune(self, *, older_than: datetime) -> int:
        """Delete nudge rows claimed before ``older_than``, runs started before it, and
        cached Slack directory entries last seen before it."""
        async with self._session.begin() as s:
            nudges = await s.execute(
                delete(PasswordNudge).where(
                    PasswordNudge.claimed_at < older_than, PasswordNudge.state != SENDING
                )
            )
            await s.execute(
                delete(NudgeRun).where(
                    NudgeRun.started_at < older_than, NudgeRun.status != RUNNING
                )
            )
            await s.execute(
                delete(SlackDirectoryEntry).where(SlackDirectoryEntry.seen_at < older_than)
            )
            return int(nudges.rowcount or 0)  # type: ignore[attr-defined]

    # -- runs ------------------------------------------------------------------------
    async def start_run(
        self, *, run_id: str, trigger: str, slot: datetime | None, holder: str, now: datetime
    ) -> None:
        """Record a run that starts now."""
        async with self._session.begin() as s:
            s.add(
                NudgeRun(
                    id=run_id,
                    trigger=trigger,
                    slot=slot,
                    holder=holder,
                    status=RUNNING,
                    started_at=now,
                    counts={},
                )
            )

    async def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        counts: dict[str, Any],
        now: datetime,
        error: str | None = None,
    ) -> None:
        """Record how a run ended and what it did."""
        assert status in RUN_END_STATES
        async with self._session.begin() as s:
            await s.execute(
                update(NudgeRun)
                .where(NudgeRun.id == run_id)
                .values(status=status, counts=counts, finished_at=now, error=error)
            )

    async def interrupt_others(self, *, except_run: str, now: datetime) -> list[str]:
        """Mark every other ``running`` run as ``interrupted``; call only under the lease."""
        async with self._session.begin() as s:
            ids = list(
                (
                    await s.scalars(
                        select(NudgeRun.id).where(
                            NudgeRun.status == RUNNING, NudgeRun.id != except_run
                        )
                    )
                ).all()
            )
            if ids:
                await s.execute(
                    update(NudgeRun)
                    .where(NudgeRun.id.in_(ids), NudgeRun.status == RUNNING)
                    .values(status=RunStatus.INTERRUPTED, finished_at=now)
                )
            return ids

    async def run_holders(self, run_ids: Sequence[str]) -> dict[str, str]:
        """The holder of each of ``run_ids`` that is recorded."""
        if not run_ids:
            return {}
        async with self._session() as s:
            rows = await s.execute(
                select(NudgeRun.id, NudgeRun.holder).where(NudgeRun.id.in_(list(run_ids)))
            )
            return {row[0]: row[1] for row in rows}

    async def runs_for_slot(self, slot: datetime) -> list[RunRecord]:
        """Every run of one scheduled slot, oldest first."""
        async with self._session() as s:
            rows = await s.scalars(
                select(NudgeRun).where(NudgeRun.slot == slot).order_by(NudgeRun.started_at)
            )
            return [_run_record(r) for r in rows]

    async def recent_runs(self, limit: int = 20) -> list[RunRecord]:
        """The latest runs, newest first."""
        async with self._session() as s:
            rows = await s.scalars(
                select(NudgeRun).order_by(NudgeRun.started_at.desc()).limit(limit)
            )
            return [_run_record(r) for r in rows]


@dataclass(frozen=True, slots=True)
class ListingState:
    """The current ``users.list`` pass (its next ``cursor``, when it began) and the last
    time a pass reached the end (``completed_at``)."""

    cursor: str | None
    started_at: datetime
    completed_at: datetime | None


class SlackDirectoryCache:
    """Email → Slack user id, kept between runs, and the position of the listing pass.

    A sweep killed half way through ``users.list`` leaves every page it read here and
    the cursor of the next one, so the run that resumes it neither reads those pages
    again nor waits for Tier 2 to let it.
    """

    LISTING = "users.list"

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._session = async_sessionmaker(engine, expire_on_commit=False)

    async def load(self, *, since: datetime) -> dict[str, str | None]:
        """Entries seen since ``since``: email → user id (None: no usable account)."""
        async with self._session() as s:
            rows = await s.execute(
                select(SlackDirectoryEntry.email, SlackDirectoryEntry.user_id).where(
                    SlackDirectoryEntry.seen_at >= since
                )
            )
            return {row[0]: row[1] for row in rows}

    async def listing(self) -> ListingState | None:
        """The last listing pass, if any."""
        async with self._session() as s:
            row = await s.get(SlackDirectoryListing, self.LISTING)
            if row is None:
                return None
            return ListingState(
                row.cursor,
                _aware(row.started_at),
                _aware(row.completed_at) if row.completed_at else None,
            )

    async def remember(
        self,
        entries: Sequence[tuple[str, str | None]],
        *,
        now: datetime,
        cursor: str | None = None,
        pass_started: datetime | None = None,
    ) -> None:
        """Upsert ``entries``; with ``pass_started``, also record the pass's next cursor."""
        async with self._session.begin() as s:
            if entries:
                values = [{"email": e, "user_id": u, "seen_at": now} for e, u in entries]
                insert = _insert(self.engine.dialect.name, SlackDirectoryEntry)
                statement = insert.values(values)
                await s.execute(
                    statement.on_conflict_do_update(
                        index_elements=["email"],
                        set_={
                            "user_id": statement.excluded.user_id,
                            "seen_at": statement.excluded.seen_at,
                        },
                    )
                )
            if pass_started is not None:
                row = await s.get(SlackDirectoryListing, self.LISTING)
                if row is None:
                    s.add(
                        SlackDirectoryListing(
                            name=self.LISTING, cursor=cursor, started_at=pass_started,
                            updated_at=now, completed_at=None,
                        )
                    )
                else:
                    row.cursor = cursor
                    row.started_at = pass_started
                    row.updated_at = now

    async def complete(self, *, pass_started: datetime, now: datetime) -> None:
        """The pass begun at ``pass_started`` reached the last page."""
        async with self._session.begin() as s:
            row = await s.get(SlackDirectoryListing, self.LISTING)
            if row is None:
                s.add(
                    SlackDirectoryListing(
                        name=self.LISTING, cursor=None, started_at=pass_started,
                        updated_at=now, completed_at=now,
                    )
                )
            else:
                row.cursor = None
                row.started_at = pass_started
                row.updated_at = now
                row.completed_at = now


def _insert(dialect: str, model: type[Base]) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (SQLite and PostgreSQL both do)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model)
