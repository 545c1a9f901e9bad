"""Tables of the state store. Changing one means a new migration in ``store/migrations``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class AuditRecord(Base):
    """One privileged action (or refusal): who, on whom, what, how it ended. Never a secret."""

    __tablename__ = "audit_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    correlation_id: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    actor_email: Mapped[str | None] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str | None] = mapped_column(String(64))
    target_user_id: Mapped[str | None] = mapped_column(String(128))
    target: Mapped[str | None] = mapped_column(String(320))
    result: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_audit_actor_action_at", "actor", "action", "at"),)


class ProcessedEvent(Base):
    """Slack event ids already handled: redeliveries and duplicates are dropped."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class PendingAction(Base):
    """A confirmation offered to one Slack user; claimed at most once, before it expires."""

    __tablename__ = "pending_actions"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    slack_user: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SecretMessage(Base):
    """A DM that shows a secret; it is edited to hide the secret at ``hide_at``."""

    __tablename__ = "secret_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(64))
    ts: Mapped[str] = mapped_column(String(32))
    hide_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    hidden: Mapped[bool] = mapped_column(default=False)
    replacement: Mapped[str] = mapped_column(Text)
