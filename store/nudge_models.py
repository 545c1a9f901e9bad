"""Tables of the password-expiry nudges (migration ``0003``), on the store's one ``Base``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base


class PasswordNudge(Base):
    """One nudge: at most one row per user, password and threshold (the primary key).

    ``password_version`` identifies the password (its change time), so a new password
    starts a new set of keys. A row is written (``sending``) before the message goes
    out and becomes ``sent`` with the message's channel and ts afterwards; a crash in
    between leaves ``sending``, which the next run reconciles with Slack.
    ``unconfirmed`` is a crash leftover Slack could not confirm, counted as sent.
    """

    __tablename__ = "password_nudges"

    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    password_version: Mapped[str] = mapped_column(String(64), primary_key=True)
    threshold: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    run_id: Mapped[str] = mapped_column(String(32), index=True)
    slack_user: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(64))
    ts: Mapped[str | None] = mapped_column(String(32))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_password_nudges_state_claimed", "state", "claimed_at"),)


class NudgeRun(Base):
    """One sweep: who ran it, for which scheduled slot, how it ended and its counts."""

    __tablename__ = "nudge_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    trigger: Mapped[str] = mapped_column(String(16))
    slot: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    holder: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class SlackDirectoryEntry(Base):
    """An email's Slack user id, as ``users.list`` or a lookup last said (None: unusable)."""

    __tablename__ = "slack_directory"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SlackDirectoryListing(Base):
    """How far the current ``users.list`` pass got (its next cursor) and when one completed."""

    __tablename__ = "slack_directory_listing"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
