"""The ``approval`` method: a second person vouches for the employee, through the approvals engine.

An identity check is an access request whose group key is ``verify:<capability>``
(:data:`actions.access.model.IDENTITY_PREFIX`), so it has everything a group request
has: approvers resolved by :class:`~actions.access.policy.ApprovalPolicy` (the
employee's manager, named people, user groups; channels only show the card),
``approvals_required`` distinct approvals and never the requester's own, expiry,
reminders, the approvers' card kept current, the App Home's "waiting for me", and an
audit record for every step. Its fulfilment changes no group: it marks the employee
vouched for (``verification_approved``) and tells them they can go ahead.

The first time the employee asks for the change, the check is sent to the approvers and
nothing is changed (the employee is told who was asked). Once it is approved the
employee asks again (the news carries the button) and, within ``valid_for`` of the
approval, the check is used up (moved to ``revoked``, once: a conditional update) and
the change goes ahead. When too few approvers can be found, the method does not apply.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from contextvars import ContextVar

from actions.access import AccessService, RequestState
from actions.access.jobs import access_job
from actions.access.model import IDENTITY_PREFIX, TRANSITIONS, Action, JobKind
from actions.audit import Actor, correlation_id
from actions.errors import Refusal
from actions.verification.service import Verified
from config.clock import Now, utc_now
from config.i18n import N_, t
from config.settings import CatalogueEntry, HelpdeskConfig
from config.verification import Method
from connectors.base import Capability, DirectoryUser
from store.jobs import NewJob
from store.models import AccessRequest

#: What each check is called on the approvers' card and in the employee's news.
CHECK_NAMES: dict[str, str] = {
    "password_reset": N_("password reset"),
    "unlock": N_("account unlock"),
    "mfa_reset": N_("MFA reset"),
}


#: The employee's own words for the change being verified ("new phone, authenticator is
#: empty"), set by the conversation for the turn (and kept with a confirmation button):
#: the approvers' card shows it as the reason. Their words, never a proof of anything.
REQUEST_REASON: ContextVar[str | None] = ContextVar("helpdesk_request_reason", default=None)
MAX_REASON = 300


def reason_of(text: str | None) -> str | None:
    """The words as the card shows them: one line, at most ``MAX_REASON`` characters."""
    if not text:
        return None
    line = " ".join(text.split())
    return (line[: MAX_REASON - 1] + "…") if len(line) > MAX_REASON else (line or None)


def identity_key(capability: Capability) -> str:
    return IDENTITY_PREFIX + capability.label


class ApprovalVerifier:
    """The ``ApprovalGate`` of :class:`~actions.verification.Verification`."""

    def __init__(
        self,
        cfg: HelpdeskConfig,
        access: AccessService,
        *,
        clock: Now = utc_now,
        where_to_go: Callable[[], str] = lambda: "the IT service desk",
    ) -> None:
        self.cfg = cfg
        self.settings = cfg.verification.approval
        self.access = access
        self.store = access.store
        self.clock = clock
        self.where_to_go = where_to_go

    def entry(self, capability: Capability) -> CatalogueEntry:
        """The check as the approvals engine sees a requestable item."""
        return CatalogueEntry(
            key=identity_key(capability),
            display_name=CHECK_NAMES.get(capability.label, capability.label.replace("_", " ")),
            provider_group=capability.label,
            approvers=list(self.settings.approvers),
            approvals_required=self.settings.approvals_required,
        )

    async def __call__(
        self, actor: Actor, user: DirectoryUser, label: str, capability: Capability
    ) -> Verified | None:
        used = await self._use_approved(actor, capability)
        if used is not None:
            return used
        key = identity_key(capability)
        open_one = await self.store.access.open_request(actor.slack_user_id, key)
        if open_one is not None:
            raise Refusal(
                "approval_pending",
                t(
                    "I'm still waiting for someone to confirm it's really you. I'll tell you "
                    "here as soon as they have; nothing has been changed."
                ),
            )
        return await self._ask(actor, user, label, capability)

    async def _use_approved(self, actor: Actor, capability: Capability) -> Verified | None:
        """Use up a fresh approved check of this employee for this change, once."""
        key = identity_key(capability)
        now = self.clock()
        for req in await self.store.access.requests_of(actor.slack_user_id, limit=20):
            if req.group_key != key or req.state != RequestState.FULFILLED:
                continue
            if req.fulfilled_at is None or req.fulfilled_at < now - self.settings.valid_for:
                continue
            snap = await self.access.notices.snapshot(req.id)
            approved_by = ", ".join(snap.approved_by)
            audit = self.access.trail.record(
                actor.slack_user_id, actor.email, "verification_used", "success", req,
                {"approved_by": approved_by},
            )
            if await self.store.access.transition(
                req.id, TRANSITIONS[Action.REVOKE], now, audit, values={"revoked_at": now}
            ):
                self.access.trail.log(audit)
                return Verified(Method.APPROVAL, {"approved_by": approved_by,
                                                  "request_id": req.id})
        return None

    async def _ask(
        self, actor: Actor, user: DirectoryUser, label: str, capability: Capability
    ) -> Verified | None:
        entry = self.entry(capability)
        policy = self.access.policy
        directory = self.access.providers.connectors.get(user.provider)
        if directory is None:
            return None
        approvers = await policy.approvers(entry, user, directory)
        if not policy.enough(entry, approvers, actor.slack_user_id):
            await self.access.trail.request_refused(actor, "no_approvers", entry, user)
            return None
        now = self.clock()
        ttl = self.settings.ttl
        row = AccessRequest(
            id=secrets.token_urlsafe(12),
            requester=actor.slack_user_id,
            requester_email=actor.email,
            directory_user_id=user.id,
            group_key=entry.key,
            group_name=entry.display_name,
            provider=user.provider,
            provider_group=entry.provider_group,
            provider_group_id=entry.provider_group,
            justification=reason_of(REQUEST_REASON.get()),
            duration_seconds=None,
            state=RequestState.PENDING,
            approvals_required=entry.approvals_required,
            approvals=0,
            channels=list(approvers.channels),
            decided_by=None,
            decided_at=None,
            correlation_id=correlation_id(),
            created_at=now,
            updated_at=now,
            expires_at=now + ttl,
        )
        jobs: list[NewJob] = [access_job(JobKind.EXPIRE, row.id, row.expires_at)]
        if self.settings.remind_after < ttl:
            jobs.append(access_job(JobKind.REMIND, row.id, now + self.settings.remind_after))
        audit = self.access.trail.record(
            actor.slack_user_id, actor.email, "verification_requested", "submitted", row,
            {"approvers": len(approvers.eligible(actor.slack_user_id)), "system": label},
        )
        if not await self.store.access.create(row, sorted(approvers.deciders), jobs, audit):
            raise Refusal(
                "approval_pending",
                t(
                    "I'm still waiting for someone to confirm it's really you. I'll tell you "
                    "here as soon as they have; nothing has been changed."
                ),
            )
        self.access.trail.log(audit)
        snap = await self.access.notices.snapshot(row.id)
        notified = await self.access.notices.ask(snap, approvers)
        who = _people(notified) or t("the approvers")
        raise Refusal(
            "approval_requested",
            t(
                "Before I go ahead with your {name}, someone must confirm it's really you. "
                "I've asked {who}; I'll tell you here when they have, and then you can go "
                "ahead. Nothing has been changed yet.",
                name=t(entry.display_name), who=who,
            ),
        )


def _people(destinations: list[str]) -> str:
    names = [d if d.startswith("#") else
             (f"<#{d}>" if d[:1] in {"C", "G"} else f"<@{d}>") for d in destinations]
    if len(names) <= 1:
        return names[0] if names else ""
    return t("{names} and {last}", names=", ".join(names[:-1]), last=names[-1])
