"""Tables of the state store. Changing one means a new migration in ``store/migrations``."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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


class Lease(Base):
    """A named lease (``store.leases``): ``holder`` has it until ``expires_at`` (database clock)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ConfirmationState(enum.StrEnum):
    """Where a confirmation offered to an employee stands."""

    PENDING = "pending"
    CLAIMED = "claimed"
    CANCELLED = "cancelled"


class PendingAction(Base):
    """A confirmation offered to one Slack user; claimed at most once, before it expires."""

    __tablename__ = "pending_actions"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    slack_user: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=ConfirmationState.PENDING)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: The Slack request (its inbox key) that claimed it: run again after a crash, the same
    #: request gets its claim back and finishes what it started.
    claimed_by: Mapped[str | None] = mapped_column(String(200), default=None)


class SecretMessage(Base):
    """A DM that shows a secret; it is edited to hide the secret at ``hide_at``."""

    __tablename__ = "secret_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(64))
    ts: Mapped[str] = mapped_column(String(32))
    hide_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    hidden: Mapped[bool] = mapped_column(default=False)
    replacement: Mapped[str] = mapped_column(Text)


class AccessRequest(Base):
    """A request to join a catalogue group; ``state`` moves only by conditional updates.

    States: pending → approved → fulfilled → revoked; pending → denied | expired |
    cancelled; approved → failed. ``open_key`` is ``<requester>:<group_key>`` while the
    request is pending or approved and NULL afterwards: its unique constraint keeps one
    open request per person and group, across replicas.
    """

    __tablename__ = "access_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    requester: Mapped[str] = mapped_column(String(64), index=True)
    requester_email: Mapped[str] = mapped_column(String(320))
    directory_user_id: Mapped[str] = mapped_column(String(128))
    group_key: Mapped[str] = mapped_column(String(128))
    group_name: Mapped[str] = mapped_column(String(256))
    provider: Mapped[str] = mapped_column(String(64))
    provider_group: Mapped[str] = mapped_column(String(256))
    provider_group_id: Mapped[str] = mapped_column(String(256))
    justification: Mapped[str | None] = mapped_column(Text)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), index=True)
    approvals_required: Mapped[int] = mapped_column(Integer)
    approvals: Mapped[int] = mapped_column(Integer, default=0)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    open_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    correlation_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fulfilled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    access_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AccessApprover(Base):
    """Who may decide a request, resolved to Slack user ids when it was made."""

    __tablename__ = "access_approvers"

    request_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("access_requests.id", ondelete="CASCADE"), primary_key=True
    )
    approver: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class AccessDecision(Base):
    """One approver's vote; unique per request and approver, so approvals are distinct people."""

    __tablename__ = "access_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("access_requests.id", ondelete="CASCADE")
    )
    approver: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("request_id", "approver", name="uq_access_decisions_request_approver"),
    )


class AccessMessage(Base):
    """A message about a request (to an approver or a channel), kept to be updated in place."""

    __tablename__ = "access_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("access_requests.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64))
    ts: Mapped[str] = mapped_column(String(32))


class Job(Base):
    """Durable work (``store.jobs``): a kind, a unique key, when it is due, who holds it.

    ``key`` makes enqueueing idempotent (``fulfil:<request id>``, one sweep per slot).
    A claim sets ``owner`` and ``lease_until`` (database clock); a crashed owner's
    lease runs out and another worker claims the job again. Access jobs name their
    request in ``request_id``; other kinds carry what they need in ``payload``.
    """

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200))
    request_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("access_requests.id", ondelete="CASCADE"), index=True
    )
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("key", name="uq_jobs_key"),
        Index("ix_jobs_state_run_at", "state", "run_at"),
    )


class InboxEvent(Base):
    """A request from Slack recorded before it was acknowledged (``store.inbox``).

    ``key`` is Slack's own identity for it (the event id, the click's action ts), so
    a redelivery finds the row already there. ``payload`` is the request as JSON text
    (not a JSON column: PostgreSQL's ``jsonb`` refuses NUL characters). A claim sets
    ``owner`` and ``lease_until`` (database clock); a crashed owner's lease runs out
    and another replica claims the row again.
    """

    __tablename__ = "inbox_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    deliveries: Mapped[int] = mapped_column(Integer, default=1)
    owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("key", name="uq_inbox_events_key"),
        Index("ix_inbox_events_state_id", "state", "id"),
    )
