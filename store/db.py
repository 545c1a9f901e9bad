"""The async state store: SQLite by default, PostgreSQL for several replicas.

``Store.open(url)`` runs the migrations when the database is not at head (under an
advisory lock on PostgreSQL, so replicas starting together migrate once) and returns a
store whose methods are each one short transaction. Transitions that must happen once
(``mark_event_processed``, ``claim_pending``) are a single conditional statement,
so two replicas or a double click cannot both win.

Beside it, over the same engine: ``store.access`` (access requests,
:mod:`store.access`), ``store.jobs`` (durable jobs, :mod:`store.jobs`) and
``store.leases`` (named leases on the database's clock, :mod:`store.leases`) and
``store.inbox`` (Slack requests recorded before they are acknowledged, :mod:`store.inbox`).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    async_sessionmaker,
)

from store.access import AccessStore
from store.engine import normalise_url as normalise_url
from store.engine import open_engine
from store.inbox import InboxStore
from store.jobs import JobStore
from store.leases import Leases
from store.models import (
    AuditRecord,
    ConfirmationState,
    PendingAction,
    ProcessedEvent,
    SecretMessage,
)
from store.schema import engine_state

MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK_KEY = 7_340_111  # arbitrary, constant: the advisory lock that serialises migrations


def _now() -> datetime:
    return datetime.now(UTC)


def _upgrade(sync_conn: Connection) -> None:
    # Imported here: alembic (and mako, pygments) are for migrating only (store.schema).
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")


@dataclass(frozen=True)
class Claimed:
    """A pending action that this caller, and only this caller, now owns."""

    token: str
    kind: str
    slack_user: str
    payload: dict[str, Any]


class Store:
    """Durable state behind the bot; one instance per process."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._session = async_sessionmaker(engine, expire_on_commit=False)
        self.access = AccessStore(engine)
        self.jobs = JobStore(engine)
        self.inbox = InboxStore(engine)
        self._own: list[AsyncEngine] = []  # engines besides ``engine`` to close with the store
        self.leases = Leases(engine)

    @classmethod
    async def open(cls, url: str) -> Store:
        """Connect, create the SQLite folder if needed, and migrate to the latest schema."""
        url = normalise_url(url)
        if url.startswith("sqlite+aiosqlite:///") and ":memory:" not in url:
            Path(url.removeprefix("sqlite+aiosqlite:///")).parent.mkdir(
                parents=True, exist_ok=True
            )
        engine = open_engine(url)
        # The inbox has connections of its own: recording a request holds up Slack's ack,
        # so it must not queue for a connection behind the work's queries (SQLite's pool
        # is one connection; SQLite still lets one writer at a time, briefly, through).
        store = cls(engine)
        if ":memory:" not in url:  # another engine would be another database
            inbox_engine = open_engine(url, small=True, name="helpdesk-inbox")
            store.inbox = InboxStore(inbox_engine)
            store._own.append(inbox_engine)
        # At head already (the usual start, or ``helpdesk run`` migrated in a process of
        # its own: store.migrate): alembic is not even imported.
        if not (await engine_state(engine)).at_head:
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
        for other in self._own:
            await other.dispose()
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
                    state=ConfirmationState.PENDING,
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
                    PendingAction.state == ConfirmationState.PENDING,
                    PendingAction.expires_at > _now(),
                )
            )
            if row is None:
                return None
            return Claimed(row.token, row.kind, row.slack_user, dict(row.payload))

    async def claim_pending(
        self,
        token: str,
        slack_user: str,
        *,
        state: ConfirmationState = ConfirmationState.CLAIMED,
        by: str | None = None,
    ) -> Claimed | None:
        """Move a pending, unexpired action of ``slack_user`` to ``state``; ``None`` if not ours.

        One conditional UPDATE: of two concurrent callers exactly one gets a row. ``by``
        names the request claiming it (a Slack request's inbox key): the same request run
        again (its process died after the claim, before the outcome was stored) gets the
        claim back, to finish what it started; any other caller gets ``None``.
        """
        pending = and_(
            PendingAction.state == ConfirmationState.PENDING, PendingAction.expires_at > _now()
        )
        mine = (
            pending if by is None
            else or_(pending, and_(PendingAction.state == state, PendingAction.claimed_by == by))
        )
        async with self._session.begin() as s:
            result = await s.execute(
                update(PendingAction)
                .where(PendingAction.token == token, PendingAction.slack_user == slack_user, mine)
                .values(state=state, claimed_by=by)
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
