"""One audit record (store) and one audit log event per privileged action or refusal."""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from config import metrics, tracing
from config.logging import get_logger, scrub_text
from connectors.base import DirectoryUser
from store.db import Store
from store.models import AuditRecord

_correlation: ContextVar[str | None] = ContextVar("correlation_id", default=None)
log = get_logger("helpdesk.audit")


def new_correlation_id() -> str:
    """Start a correlation id for the current task (and its log events)."""
    import structlog

    cid = uuid.uuid4().hex[:16]
    _correlation.set(cid)
    structlog.contextvars.bind_contextvars(correlation_id=cid)
    tracing.correlation_started(cid)
    return cid


def correlation_id() -> str:
    return _correlation.get() or new_correlation_id()


def current_correlation_id() -> str:
    """The current task's correlation id, "" outside one (starts none, unlike the above)."""
    return _correlation.get() or ""


@dataclass(frozen=True)
class Actor:
    """Who asked: the Slack user (verified by the signed request) and their verified email."""

    slack_user_id: str
    email: str
    display_name: str = ""
    tz: str | None = None
    """The IANA time zone of their Slack profile (``Europe/Madrid``); None when unknown."""
    locale: str | None = None
    """The locale of their Slack profile (``es-ES``); None when unknown. The language of
    a turn is the message's, else this, else the organisation's (``config.i18n``)."""


class Auditor:
    """Writes the audit trail. ``detail`` must hold no secret; it is scrubbed anyway."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(
        self,
        actor: Actor,
        action: str,
        result: str,
        *,
        target: DirectoryUser | None = None,
        provider: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        clean = {k: scrub_text(str(v)) for k, v in (detail or {}).items()}
        cid = correlation_id()
        record = AuditRecord(
            at=datetime.now(UTC),
            correlation_id=cid,
            actor=actor.slack_user_id,
            actor_email=actor.email,
            action=action,
            provider=provider or (target.provider if target else None),
            target_user_id=target.id if target else None,
            target=target.email if target else None,
            result=result,
            detail=clean,
        )
        await self.store.add_audit(record)
        metrics.audited(action, result)
        log.info(
            "audit",
            actor=actor.slack_user_id,
            actor_email=actor.email,
            action=action,
            result=result,
            provider=record.provider,
            target_user_id=record.target_user_id,
            correlation_id=cid,
            detail=clean,
        )
