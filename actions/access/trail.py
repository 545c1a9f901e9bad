"""The audit trail of access requests: one record per step, logged as it is stored.

Records carry the request id and group, never a secret; free text in the detail
(a reason, a justification) is scrubbed first. Transitions hand their record to the
store, which writes it in the transition's own transaction (see ``store.access``);
it is logged once that transaction has won.
"""

from __future__ import annotations

from typing import Any

from actions.access.model import AccessSnapshot
from actions.audit import Actor, correlation_id
from config import metrics
from config.clock import Now
from config.logging import get_logger, scrub_text
from config.settings import CatalogueEntry
from connectors.base import DirectoryUser
from store.access import AuditFactory
from store.db import Store
from store.models import AccessRequest, AuditRecord

audit_log = get_logger("helpdesk.audit")

SYSTEM = "system"


class AccessTrail:
    """Builds, stores and logs the audit records of access requests."""

    def __init__(self, store: Store, clock: Now) -> None:
        self.store = store
        self.clock = clock

    def record(
        self,
        actor: str,
        actor_email: str | None,
        action: str,
        result: str,
        req: AccessRequest,
        detail: dict[str, Any],
        *,
        target: DirectoryUser | None = None,
    ) -> AuditRecord:
        clean = {k: scrub_text(str(v)) for k, v in detail.items()}
        clean.update(request_id=req.id, group=req.group_key)
        return AuditRecord(
            at=self.clock(),
            correlation_id=req.correlation_id or correlation_id(),
            actor=actor,
            actor_email=actor_email,
            action=action,
            provider=req.provider,
            target_user_id=target.id if target else req.directory_user_id,
            target=target.email if target else req.requester_email,
            result=result,
            detail=clean,
        )

    def factory(
        self, actor: Actor | None, action: str, req: AccessRequest, detail: dict[str, Any]
    ) -> AuditFactory:
        """A record builder for a transition whose result the store decides (a vote)."""

        def make(result: str, extra: dict[str, Any]) -> AuditRecord:
            return self.record(
                actor.slack_user_id if actor else SYSTEM, actor.email if actor else None,
                action, result, req, {**detail, **extra},
            )

        return make

    def log(self, record: AuditRecord) -> None:
        metrics.audited(record.action, record.result)
        audit_log.info(
            "audit", actor=record.actor, action=record.action, result=record.result,
            provider=record.provider, target_user_id=record.target_user_id,
            correlation_id=record.correlation_id, detail=record.detail,
        )

    def log_step(self, actor: str, action: str, result: str, req: AccessRequest) -> None:
        """Log a transition whose record the store wrote (built by a :meth:`factory`)."""
        metrics.audited(action, result)
        audit_log.info(
            "audit", actor=actor, action=action, result=result,
            provider=req.provider, target_user_id=req.directory_user_id,
            correlation_id=req.correlation_id,
            detail={"request_id": req.id, "group": req.group_key},
        )

    async def write(self, record: AuditRecord) -> None:
        """Store and log a record that stands on its own (no transition with it)."""
        await self.store.add_audit(record)
        self.log(record)

    async def note(self, snap: AccessSnapshot, action: str, detail: dict[str, Any]) -> None:
        """Audit a step the system took on its own (a reminder, a warning)."""
        await self.write(self.record(SYSTEM, None, action, "sent", snap.request, detail))

    async def decision_refused(self, actor: Actor, snap: AccessSnapshot, why: str) -> None:
        await self.write(self.record(actor.slack_user_id, actor.email, "access_decide",
                                     "refused", snap.request, {"reason": why}))

    async def request_refused(
        self, actor: Actor, why: str, entry: CatalogueEntry, user: DirectoryUser
    ) -> None:
        await self.write(AuditRecord(
            at=self.clock(), correlation_id=correlation_id(), actor=actor.slack_user_id,
            actor_email=actor.email, action="access_request", provider=user.provider,
            target_user_id=user.id, target=user.email, result="refused",
            detail={"reason": why, "group": entry.key},
        ))
