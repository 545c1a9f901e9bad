"""The durable inbox: Slack requests recorded before they are acknowledged, worked on once.

A request is a row of ``inbox_events`` (:class:`store.models.InboxEvent`), keyed by
Slack's own identity for it (the event id; the click's user and action ts), so a
redelivery (``X-Slack-Retry-Num``) finds its row and adds nothing. Recording many
requests is one statement in one transaction (``record``): the ingress acknowledges
each only once that transaction has committed.

Working on a request means claiming it: on PostgreSQL the oldest free rows are picked
with ``SELECT ... FOR UPDATE SKIP LOCKED`` and leased, so replicas claiming at once
take different rows without waiting for each other; on SQLite (one writer at a time) a
conditional ``UPDATE`` is enough. The lease is on the database's clock
(:mod:`store.leases`): a replica that dies holding rows stops renewing them and
another claims them once the lease runs out. Only the owner finishes, renews or hands
back a row.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Integer, Table, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from store.leases import db_later, db_now
from store.models import InboxEvent

_EVENTS = cast(Table, InboxEvent.__table__)
CLICK = "action"  # the kind of a click's row (its key is ``action:<user>:<action ts>``)


class InboxState(enum.StrEnum):
    """Where a recorded request stands."""

    QUEUED = "queued"  # waiting, or being worked on under a lease
    DONE = "done"
    DEAD = "dead"  # given up: it took down every replica that tried it


@dataclass(frozen=True)
class Incoming:
    """A request to record: its key, its kind (for metrics) and its payload as JSON text."""

    key: str
    kind: str
    payload: str


@dataclass(frozen=True)
class Claimed:
    """A row this owner now holds: work on it, then ``finish`` or ``hand_back``."""

    id: int
    key: str
    kind: str
    payload: str
    attempts: int


class InboxStore:
    """``inbox_events`` over the store's engine; each method is one short transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.dialect = engine.dialect.name
        self._engine = engine
        self._session = async_sessionmaker(engine, expire_on_commit=False)
        # A claim (several a second under clicks) and a finish run statements built once,
        # on Core connections: per lane, the pick of free rows; per lease, the claim.
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        # One statement for many rows (SQLAlchemy's "insertmanyvalues": compiled once and
        # cached, no SQL expression per row); a key already there counts one more delivery.
        self._record = insert(_EVENTS).on_conflict_do_update(
            index_elements=[_EVENTS.c.key], set_={"deliveries": _EVENTS.c.deliveries + 1}
        ).returning(_EVENTS.c.key, _EVENTS.c.deliveries)
        self._picks: dict[bool | None, Any] = {}
        self._claims: dict[tuple[timedelta, bool | None], Any] = {}
        self._finish = (
            update(_EVENTS)
            .where(_EVENTS.c.id.in_(bindparam("b_ids", expanding=True)),
                   _EVENTS.c.owner == bindparam("b_owner"),
                   _EVENTS.c.state == InboxState.QUEUED)
            .values(state=bindparam("b_state"), lease_until=None,
                    finished_at=db_now(self.dialect))
        )

    def _free(self) -> ColumnElement[bool]:
        return or_(InboxEvent.lease_until.is_(None), InboxEvent.lease_until < db_now(self.dialect))

    def _claimable(self) -> ColumnElement[bool]:
        return and_(InboxEvent.state == InboxState.QUEUED, self._free())

    async def record(self, incoming: Sequence[Incoming]) -> list[bool]:
        """Record ``incoming`` in one transaction; per item, True when it is new.

        A key already recorded (now, or earlier in the same batch) is a redelivery: its
        row is left as it is (its ``deliveries`` count goes up) and its answer is False.
        Raises when the transaction fails: then nothing of the batch is recorded.
        """
        first: dict[str, Incoming] = {}
        for item in incoming:
            first.setdefault(item.key, item)
        if not first:
            return []
        now = datetime.now(UTC)
        async with self._engine.begin() as conn:  # Core, not a session: the ack waits on it
            rows = (await conn.execute(self._record, [
                {"key": i.key, "kind": i.kind, "payload": i.payload, "state": InboxState.QUEUED,
                 "attempts": 0, "deliveries": 1, "received_at": now}
                for i in first.values()
            ])).all()
        # A key recorded before (now, by another process too) comes back with more deliveries.
        new = {str(key) for key, deliveries in rows if int(deliveries) == 1}
        seen: set[str] = set()
        answers: list[bool] = []
        for item in incoming:
            answers.append(item.key in new and item.key not in seen)
            seen.add(item.key)
        return answers

    async def claim(
        self, owner: str, lease: timedelta, limit: int, *, clicks: bool | None = None
    ) -> list[Claimed]:
        """Lease up to ``limit`` free, queued rows to ``owner``, oldest first.

        ``clicks``: only clicks (True), only the rest (False) or any (None): someone is
        looking at a button, so clicks are not left waiting behind a burst of messages.
        """
        if limit <= 0:
            return []
        pick, claim = self._statements(lease, clicks)
        params: dict[str, Any] = {"b_owner": owner}
        if self.dialect != "postgresql":
            # SQLite: an UPDATE takes the one write lock even when it changes nothing; a
            # poll that finds nothing to claim should not.
            async with self._engine.connect() as conn:
                if (await conn.execute(pick, {"b_limit": 1})).first() is None:
                    return []
            params["b_limit"] = limit
        async with self._engine.begin() as conn:
            if self.dialect == "postgresql":
                locked = (await conn.execute(pick, {"b_limit": limit})).scalars().all()
                if not locked:
                    return []
                params["b_ids"] = list(locked)
            rows = (await conn.execute(claim, params)).all()
        claimed = [Claimed(int(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4])) for r in rows]
        return sorted(claimed, key=lambda c: c.id)

    def _statements(self, lease: timedelta, clicks: bool | None) -> tuple[Any, Any]:
        """The pick of a lane's free rows (locked, on PostgreSQL) and the claim of them."""
        pick = self._picks.get(clicks)
        if pick is None:
            which = self._claimable()
            if clicks is not None:
                lane = (_EVENTS.c.kind == CLICK) if clicks else (_EVENTS.c.kind != CLICK)
                which = and_(which, lane)
            pick = (
                select(_EVENTS.c.id)
                .where(which)
                .order_by(_EVENTS.c.id)
                .limit(bindparam("b_limit", type_=Integer))
            )
            if self.dialect == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            self._picks[clicks] = pick
        claim = self._claims.get((lease, clicks))
        if claim is None:
            claim = (
                update(_EVENTS)
                .values(owner=bindparam("b_owner"),
                        lease_until=db_later(self.dialect, lease),
                        attempts=_EVENTS.c.attempts + 1)
                .returning(_EVENTS.c.id, _EVENTS.c.key, _EVENTS.c.kind, _EVENTS.c.payload,
                           _EVENTS.c.attempts)
            )
            if self.dialect == "postgresql":
                # The rows the pick locked: theirs until commit.
                claim = claim.where(_EVENTS.c.id.in_(bindparam("b_ids", expanding=True)))
            else:
                # One writer at a time: a conditional UPDATE cannot be raced.
                mine = self._picks[clicks]
                claim = claim.where(
                    _EVENTS.c.id.in_(mine.correlate(None).scalar_subquery()),
                    self._claimable(),
                )
            self._claims[(lease, clicks)] = claim
        return pick, claim

    async def finish(
        self, owner: str, ids: Sequence[int], state: InboxState = InboxState.DONE
    ) -> int:
        """Mark ``owner``'s rows over; how many were still ``owner``'s."""
        if not ids:
            return 0
        async with self._engine.begin() as conn:
            result = await conn.execute(
                self._finish, {"b_ids": list(ids), "b_owner": owner, "b_state": state}
            )
            return _rowcount(result)

    async def hand_back(self, owner: str, ids: Sequence[int]) -> int:
        """Release ``owner``'s rows unfinished, for any replica to claim at once."""
        if not ids:
            return 0
        async with self._session.begin() as s:
            result = await s.execute(
                update(InboxEvent)
                .where(InboxEvent.id.in_(list(ids)), InboxEvent.owner == owner,
                       InboxEvent.state == InboxState.QUEUED)
                .values(owner=None, lease_until=None, attempts=InboxEvent.attempts - 1)
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result)

    async def renew(self, owner: str, ids: Sequence[int], lease: timedelta) -> int:
        """Extend the lease of ``owner``'s rows among ``ids``; how many are still held."""
        if not ids:
            return 0
        async with self._session.begin() as s:
            result = await s.execute(
                update(InboxEvent)
                .where(InboxEvent.id.in_(list(ids)), InboxEvent.owner == owner,
                       InboxEvent.state == InboxState.QUEUED)
                .values(lease_until=db_later(self.dialect, lease))
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result)

    async def waiting(self) -> int:
        """Rows recorded and not over (held or not): the inbox's depth."""
        async with self._session() as s:
            value = await s.scalar(
                select(func.count()).select_from(InboxEvent)
                .where(InboxEvent.state == InboxState.QUEUED)
            )
            return int(value or 0)

    async def prune(self, finished_before: datetime) -> int:
        """Forget rows over before ``finished_before`` (Slack redelivers within minutes)."""
        async with self._session.begin() as s:
            result = await s.execute(
                delete(InboxEvent).where(InboxEvent.state != InboxState.QUEUED,
                                         InboxEvent.finished_at < finished_before)
            )
            return _rowcount(result)

    async def rows(self) -> list[dict[str, Any]]:
        """Every row's key, state, attempts and deliveries (for tests and diagnosis)."""
        async with self._session() as s:
            found = await s.execute(
                select(InboxEvent.key, InboxEvent.state, InboxEvent.attempts,
                       InboxEvent.deliveries).order_by(InboxEvent.id)
            )
            return [
                {"key": k, "state": st, "attempts": a, "deliveries": d}
                for k, st, a, d in found.all()
            ]


def _rowcount(result: Any) -> int:
    return int(result.rowcount or 0)
