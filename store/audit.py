"""Reading the audit trail in bulk and pruning it: functions over a :class:`~store.db.Store`.

``iter_audit`` streams every record a filter matches, oldest first, in pages keyed
by ``(at, id)`` rather than by offset, so an export of millions of rows keeps a
constant cost per page and never skips or repeats a row when records arrive
meanwhile. ``prune_audit`` deletes records older than a cut-off a batch at a time:
on SQLite a single huge DELETE would hold the one writer lock the bot also needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.db import Store
from store.models import AuditRecord


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime (naive values, as SQLite returns them, are UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which records to read; every field set must match, ``None`` matches anything.

    ``user`` matches a record about that person whichever side they were on: the
    actor's Slack id or email, or the target's email or directory id. Emails are
    compared without case. ``since`` is inclusive, ``until`` exclusive.
    """

    user: str | None = None
    actor: str | None = None
    target: str | None = None
    actions: tuple[str, ...] = ()
    results: tuple[str, ...] = ()
    provider: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        """The WHERE clauses of this filter."""
        found: list[ColumnElement[bool]] = []
        if self.user:
            folded = self.user.strip().lower()
            found.append(
                or_(
                    AuditRecord.actor == self.user.strip(),
                    func.lower(AuditRecord.actor_email) == folded,
                    func.lower(AuditRecord.target) == folded,
                    AuditRecord.target_user_id == self.user.strip(),
                )
            )
        if self.actor:
            folded = self.actor.strip().lower()
            found.append(
                or_(
                    AuditRecord.actor == self.actor.strip(),
                    func.lower(AuditRecord.actor_email) == folded,
                )
            )
        if self.target:
            folded = self.target.strip().lower()
            found.append(
                or_(
                    func.lower(AuditRecord.target) == folded,
                    AuditRecord.target_user_id == self.target.strip(),
                )
            )
        if self.actions:
            found.append(AuditRecord.action.in_(self.actions))
        if self.results:
            found.append(AuditRecord.result.in_(self.results))
        if self.provider:
            found.append(AuditRecord.provider == self.provider)
        if self.since is not None:
            found.append(AuditRecord.at >= as_utc(self.since))
        if self.until is not None:
            found.append(AuditRecord.at < as_utc(self.until))
        return found


async def iter_audit(
    store: Store,
    flt: AuditFilter | None = None,
    *,
    limit: int | None = None,
    page_size: int = 1000,
) -> AsyncIterator[AuditRecord]:
    """Yield the matching records oldest first (by time, then id), at most ``limit``.

    Each page is its own short read, so a slow consumer (a SIEM upload) holds no
    transaction open.
    """
    clauses = (flt or AuditFilter()).clauses()
    last: tuple[datetime, int] | None = None
    sent = 0
    while limit is None or sent < limit:
        size = page_size if limit is None else min(page_size, limit - sent)
        query = select(AuditRecord).where(*clauses)
        if last is not None:
            at, rid = last
            query = query.where(
                or_(AuditRecord.at > at, and_(AuditRecord.at == at, AuditRecord.id > rid))
            )
        query = query.order_by(AuditRecord.at, AuditRecord.id).limit(size)
        async with AsyncSession(store.engine, expire_on_commit=False) as session:
            rows = list((await session.scalars(query)).all())
        for row in rows:
            yield row
        sent += len(rows)
        if len(rows) < size:
            return
        last = (rows[-1].at, rows[-1].id)


async def latest_audit(
    store: Store, flt: AuditFilter | None = None, limit: int = 100
) -> list[AuditRecord]:
    """The ``limit`` most recent matching records, oldest first."""
    clauses = (flt or AuditFilter()).clauses()
    query = (
        select(AuditRecord)
        .where(*clauses)
        .order_by(AuditRecord.at.desc(), AuditRecord.id.desc())
        .limit(limit)
    )
    async with AsyncSession(store.engine, expire_on_commit=False) as session:
        rows = list((await session.scalars(query)).all())
    rows.reverse()
    return rows


async def count_audit(store: Store, flt: AuditFilter | None = None) -> int:
    """How many records match ``flt``."""
    clauses = (flt or AuditFilter()).clauses()
    query = select(func.count()).select_from(AuditRecord).where(*clauses)
    async with AsyncSession(store.engine) as session:
        return int(await session.scalar(query) or 0)


async def oldest_audit(store: Store) -> datetime | None:
    """When the oldest record was written (``None`` for an empty trail)."""
    async with AsyncSession(store.engine) as session:
        value = await session.scalar(select(func.min(AuditRecord.at)))
    return as_utc(value) if value is not None else None


async def prune_audit(store: Store, before: datetime, *, batch: int = 5000) -> int:
    """Delete records written before ``before``, ``batch`` per transaction; return how many."""
    cutoff = as_utc(before)
    total = 0
    while True:
        async with AsyncSession(store.engine) as session, session.begin():
            ids = list(
                (
                    await session.scalars(
                        select(AuditRecord.id)
                        .where(AuditRecord.at < cutoff)
                        .order_by(AuditRecord.id)
                        .limit(batch)
                    )
                ).all()
            )
            if ids:
                await session.execute(delete(AuditRecord).where(AuditRecord.id.in_(ids)))
        total += len(ids)
        if len(ids) < batch:
            return total
