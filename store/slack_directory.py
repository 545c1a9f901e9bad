"""Slack people the bot knows, shared by replicas: their profiles and their DM channels.

The tables come from migration ``delivery`` (``0006_delivery.py``):

- ``slack_profiles``: what the identity rules read (email and whether it is confirmed,
  team and Enterprise Grid organisation, deactivated/bot/guest/external flags, time
  zone, locale), one row per Slack user, written from ``users.list`` pages,
  ``users.info`` and the ``user_change``/``team_join`` events. ``updated`` is Slack's
  own ``user.updated`` (epoch seconds): a row is only replaced by a profile at least as
  new, so an old ``users.list`` page cannot undo a newer event.
- ``slack_dm_channels``: the app's DM channel with each person. A row whose
  ``channel_id`` is empty is a claim: one replica is calling ``conversations.open`` for
  that person and the others wait for its answer, so the method is called at most once
  per person (a claim older than ``stale_after`` is taken over: its holder died).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, DateTime, Integer, String, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute, Mapped, mapped_column

from store.models import Base

__all__ = ["SlackDirectoryStore", "SlackDmChannel", "SlackProfile", "StoredProfile"]


class SlackProfile(Base):
    """One Slack user's profile as the bot last saw it."""

    __tablename__ = "slack_profiles"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    enterprise_id: Mapped[str] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    email_confirmed: Mapped[bool | None] = mapped_column(Boolean)
    real_name: Mapped[str] = mapped_column(String(256))
    deleted: Mapped[bool] = mapped_column(Boolean)
    is_bot: Mapped[bool] = mapped_column(Boolean)
    is_restricted: Mapped[bool] = mapped_column(Boolean)
    is_ultra_restricted: Mapped[bool] = mapped_column(Boolean)
    is_external: Mapped[bool] = mapped_column(Boolean)
    tz: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(16))
    updated: Mapped[int] = mapped_column(Integer)
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SlackDmChannel(Base):
    """The app's DM channel with one person (empty ``channel_id``: being opened)."""

    __tablename__ = "slack_dm_channels"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True, slots=True)
class StoredProfile:
    """A Slack user's profile, as stored (``updated``: Slack's ``user.updated``)."""

    user_id: str
    team_id: str
    enterprise_id: str
    email: str | None
    email_confirmed: bool | None
    real_name: str
    deleted: bool
    is_bot: bool
    is_restricted: bool
    is_ultra_restricted: bool
    is_external: bool
    tz: str | None
    locale: str | None
    updated: int


_PROFILE_FIELDS = tuple(f.name for f in fields(StoredProfile))
_PROFILE = select(*(getattr(SlackProfile, name) for name in _PROFILE_FIELDS)).where(
    SlackProfile.user_id == bindparam("user_id")
)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone=True columns.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class SlackDirectoryStore:
    """Profiles and DM channels over the store's engine; each method one short transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._session = async_sessionmaker(engine, expire_on_commit=False)

    def _insert(self, table: Any) -> Any:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    # -- profiles ---------------------------------------------------------------------
    async def profile(self, user_id: str) -> StoredProfile | None:
        # Core, with a statement built once: read for the first message to each person.
        async with self.engine.connect() as conn:
            row = (await conn.execute(_PROFILE, {"user_id": user_id})).first()
        if row is None:
            return None
        return StoredProfile(**{name: row._mapping[name] for name in _PROFILE_FIELDS})

    async def save_profiles(self, profiles: Iterable[StoredProfile]) -> int:
        """Insert or replace profiles (each only by one at least as new); how many given."""
        now = _now()
        rows = [
            {**{name: getattr(p, name) for name in _PROFILE_FIELDS}, "stored_at": now}
            for p in profiles
        ]
        if not rows:
            return 0
        table = SlackProfile.__table__
        stmt = self._insert(table)
        changes = {name: stmt.excluded[name] for name in (*_PROFILE_FIELDS, "stored_at")}
        del changes["user_id"]
        stmt = stmt.on_conflict_do_update(
            index_elements=["user_id"],
            set_=changes,
            where=stmt.excluded.updated >= table.c.updated,
        )
        async with self._session.begin() as s:
            await s.execute(stmt, rows)
        return len(rows)

    async def profile_by_email(self, email: str) -> StoredProfile | None:
        """The stored profile with exactly this email (an active one first), if any."""
        async with self._session() as s:
            rows = (
                await s.scalars(
                    select(SlackProfile)
                    .where(SlackProfile.email == email.strip())
                    .order_by(SlackProfile.deleted, SlackProfile.updated.desc())
                    .limit(1)
                )
            ).all()
        if not rows:
            return None
        return StoredProfile(**{name: getattr(rows[0], name) for name in _PROFILE_FIELDS})

    async def zones_by_email(self) -> dict[str, str]:
        """Each stored person's time zone by lower-cased email (active people with both)."""
        return await self._by_email(SlackProfile.tz)

    async def locales_by_email(self) -> dict[str, str]:
        """Each stored person's Slack locale by lower-cased email (active people with both)."""
        return await self._by_email(SlackProfile.locale)

    async def _by_email(self, column: InstrumentedAttribute[str | None]) -> dict[str, str]:
        async with self._session() as s:
            rows = await s.execute(
                select(SlackProfile.email, column).where(
                    SlackProfile.email.is_not(None),
                    column.is_not(None),
                    SlackProfile.deleted.is_(False),
                )
            )
            return {str(email).lower(): str(value) for email, value in rows}

    # -- DM channels ------------------------------------------------------------------
    async def dm_channel(self, user_id: str) -> str | None:
        """The person's DM channel, when known (not while it is being opened)."""
        async with self._session() as s:
            channel = await s.scalar(
                select(SlackDmChannel.channel_id).where(SlackDmChannel.user_id == user_id)
            )
        return channel or None

    async def dm_owner(self, channel_id: str) -> str | None:
        """The person whose DM channel with the app this is, when known."""
        async with self._session() as s:
            user = await s.scalar(
                select(SlackDmChannel.user_id).where(SlackDmChannel.channel_id == channel_id)
            )
        return user or None

    async def remember_dm(self, user_id: str, channel_id: str) -> None:
        """Keep the DM channel Slack named (an event from it, or conversations.open's answer)."""
        table = SlackDmChannel.__table__
        stmt = self._insert(table).values(
            user_id=user_id, channel_id=channel_id, opened_at=_now()
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["user_id"], set_={"channel_id": stmt.excluded.channel_id}
        )
        async with self._session.begin() as s:
            await s.execute(stmt)

    async def claim_dm(self, user_id: str, stale_after: timedelta) -> bool:
        """Become the one to open the person's DM: True when no one has, or a claim is stale."""
        now = _now()
        table = SlackDmChannel.__table__
        stmt = (
            self._insert(table)
            .values(user_id=user_id, channel_id="", opened_at=now)
            .on_conflict_do_nothing(index_elements=["user_id"])
        )
        async with self._session.begin() as s:
            if _rowcount(await s.execute(stmt)) == 1:
                return True
            taken = await s.execute(
                update(SlackDmChannel)
                .where(
                    SlackDmChannel.user_id == user_id,
                    SlackDmChannel.channel_id == "",
                    SlackDmChannel.opened_at < now - stale_after,
                )
                .values(opened_at=now)
            )
            return _rowcount(taken) == 1

    async def release_dm(self, user_id: str) -> None:
        """Give up a claim whose conversations.open failed: the next caller tries again."""
        async with self._session.begin() as s:
            await s.execute(
                delete(SlackDmChannel).where(
                    SlackDmChannel.user_id == user_id, SlackDmChannel.channel_id == ""
                )
            )
