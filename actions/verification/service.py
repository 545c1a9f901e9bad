"""The verification step before every self-service change, free of Slack.

``Verification.verify`` runs after the request's checks (account found, not
protected, under its limit) and before the connector is asked to change anything.
It tries the capability's methods (``verification:`` in the configuration) in
order and applies the first one the employee can use:

* ``push``: usable when a connector that sends pushes (the capability's own, else
  ``verification.verifier``, where the employee is found by the verified email of
  their chat profile) knows an active push factor of theirs, a prompter can show the
  number, and they are under ``push.per_hour``. The push is sent, the number shown,
  and the transaction polled until it is approved, rejected or times out. Approved:
  the change goes ahead. Rejected: nothing is changed, the employee is told and the
  security channel hears of a possible attack. Timed out: nothing is changed.
* ``approval``: a second person vouches (``actions.verification.approval``).
* ``none``: nothing is checked (an explicit opt-out).

When no method applies, nothing is changed and the employee is sent to IT. Every
push sent, every answer and every refusal is an audit record (``verify_push``); each
verification's outcome is one ``verification`` record: ``approved``, ``rejected``,
``timed_out`` or ``refused``, with the ``method`` and, for a push, the verifier, factor and
number shown, for an approval, who approved (``approved_by``). A change made under ``none``
says so in its own record's ``verified_by``. The push counter is the audit trail itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from actions.audit import Actor, Auditor
from actions.errors import Refusal, connector_call
from actions.providers import Providers
from actions.verification.ports import PushPrompter
from config.clock import SYSTEM_CLOCK, Clock, Now, utc_now
from config.i18n import t
from config.logging import get_logger
from config.settings import HelpdeskConfig
from config.verification import Method
from connectors.base import (
    Capability,
    Directory,
    DirectoryUser,
    MfaFactor,
    PushChallenge,
    PushState,
    PushVerifier,
)
from connectors.errors import ConnectorError, UserNotFound
from store.db import Store

log = get_logger("helpdesk.verification")

#: Audit action of a push: one ``sent`` record per push (the per-hour counter), then its answer.
PUSH_ACTION = "verify_push"
#: Audit action of the verification step as a whole: which method applied, or why none did.
STEP_ACTION = "verification"


@dataclass(frozen=True)
class Verified:
    """The employee was verified (or ``none`` was configured) by ``method``."""

    method: Method
    detail: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PushRoute:
    """Where a push for this employee goes: the connector, their account there, the factor."""

    verifier: PushVerifier
    connector: Directory
    user: DirectoryUser
    factor: MfaFactor
    label: str


ApprovalGate = Callable[[Actor, DirectoryUser, str, Capability], Awaitable[Verified | None]]
"""The approval method: ``Verified`` when a person already vouched for this change (the
grant is used up), ``None`` when it does not apply; ``Refusal`` once it asked for one."""

SecurityNotice = Callable[[str], Awaitable[None]]


class Verification:
    """Verifies an employee before a change, as ``verification:`` says, one process."""

    def __init__(
        self,
        cfg: HelpdeskConfig,
        providers: Providers,
        store: Store,
        security: SecurityNotice,
        *,
        prompter: PushPrompter | None = None,
        approval: ApprovalGate | None = None,
        clock: Now = utc_now,
        timer: Clock = SYSTEM_CLOCK,
        where_to_go: Callable[[], str] = lambda: "the IT service desk",
    ) -> None:
        self.cfg = cfg
        self.settings = cfg.verification
        self.providers = providers
        self.store = store
        self.auditor = Auditor(store)
        self.security = security
        self.prompter = prompter
        self.approval = approval
        self.clock = clock
        self.timer = timer
        self.where_to_go = where_to_go

    def methods(self, capability: Capability) -> list[Method]:
        return self.settings.methods(capability.label)

    async def verify(
        self, actor: Actor, user: DirectoryUser, label: str, capability: Capability
    ) -> Verified:
        """Verify ``actor`` before changing ``user`` (their own account); ``Refusal`` if not."""
        skipped: list[str] = []
        for method in self.methods(capability):
            if method is Method.NONE:
                # Nothing checked: the change's own audit record says ``verified_by: none``.
                return Verified(Method.NONE)
            if method is Method.PUSH:
                route, why = await self._push_route(actor, user, capability)
                if route is None:
                    skipped.append(f"push: {why}")
                    continue
                return await self._push(actor, user, route, capability)
            if method is Method.APPROVAL:
                if self.approval is None:
                    skipped.append("approval: not available here")
                    continue
                verified = await self.approval(actor, user, label, capability)
                if verified is not None:
                    await self._step(actor, user, capability, "approved",
                                     {"method": Method.APPROVAL.value, **verified.detail})
                    return verified
                skipped.append("approval: no approvers")
        await self._step(
            actor, user, capability, "refused",
            {"reason": "no_method", "skipped": "; ".join(skipped)},
        )
        raise Refusal(
            "unverified",
            t(
                "Before I change your account I must check it's really you, and I have no way "
                "to do that right now. Please ask {where}; they will verify you and help.",
                where=self.where_to_go(),
            ),
        )

    async def _step(
        self, actor: Actor, user: DirectoryUser, capability: Capability, result: str,
        detail: dict[str, object],
    ) -> None:
        await self.auditor.record(
            actor, STEP_ACTION, result, target=user,
            detail={"capability": capability.label, **detail},
        )

    # -- push -------------------------------------------------------------------
    def _verifier_for(self, user: DirectoryUser) -> Directory | None:
        """The connector that sends pushes: the account's own, else ``verification.verifier``."""
        own = self.providers.connectors.get(user.provider)
        if own is not None and Capability.PUSH_VERIFY in own.capabilities:
            return own
        name = self.settings.verifier
        chosen = self.providers.connectors.get(name) if name else None
        if chosen is not None and Capability.PUSH_VERIFY in chosen.capabilities:
            return chosen
        return None

    async def _push_route(
        self, actor: Actor, user: DirectoryUser, capability: Capability
    ) -> tuple[PushRoute | None, str]:
        if self.prompter is None:
            return None, "no chat surface to show the number"
        conn = self._verifier_for(user)
        if conn is None:
            return None, "no connector sends pushes"
        assert isinstance(conn, PushVerifier)
        label = self.providers.label(conn)
        where = self.where_to_go()
        async with connector_call(label, where):
            if conn.name == user.provider:
                account = user
            else:
                try:
                    account = await conn.find_user_by_email(actor.email)
                except UserNotFound:
                    return None, f"no account in {label}"
            factors = await conn.push_factors(account)
        if not factors:
            return None, f"no push factor in {label}"
        since = self.clock() - timedelta(hours=1)
        sent = await self.store.count_actions(actor.slack_user_id, PUSH_ACTION, since, "sent")
        if sent >= self.settings.push.per_hour:
            await self.auditor.record(
                actor, PUSH_ACTION, "refused", target=user,
                detail={"capability": capability.label, "reason": "push_limit", "sent": sent,
                        "limit": self.settings.push.per_hour},
            )
            return None, "push limit reached"
        return PushRoute(conn, conn, account, factors[0], label), ""

    async def _push(
        self, actor: Actor, user: DirectoryUser, route: PushRoute, capability: Capability
    ) -> Verified:
        where = self.where_to_go()

        async def failed(exc: ConnectorError, refusal: Refusal) -> None:
            await self.auditor.record(
                actor, PUSH_ACTION, "failed", target=user,
                detail={"capability": capability.label, "error": type(exc).__name__},
            )

        async with connector_call(route.label, where, on_refusal=failed):
            challenge = await route.verifier.start_push(
                route.user, route.factor, number_matching=self.settings.push.number_matching
            )
        await self.auditor.record(
            actor, PUSH_ACTION, "sent", target=user,
            detail={"capability": capability.label, "verifier": route.connector.name,
                    "factor": route.factor.name, "number": _number(challenge)},
        )
        assert self.prompter is not None
        try:
            await self.prompter.push_sent(actor, challenge, route.label)
        except Exception as exc:
            # The employee can't see the number: their answer can't be an informed one.
            log.error("push_prompt_failed", error=type(exc).__name__)
            raise Refusal(
                "push_prompt_failed",
                t(
                    "I couldn't show you the push's number, so I changed nothing. "
                    "Please try again, or ask {where}.",
                    where=where,
                ),
            ) from None
        async with connector_call(route.label, where, on_refusal=failed):
            state = await self._wait(route.verifier, challenge)
        detail: dict[str, object] = {
            "capability": capability.label, "verifier": route.connector.name,
            "number": _number(challenge),
        }
        await self.auditor.record(actor, PUSH_ACTION, state.value, target=user, detail=detail)
        await self._step(actor, user, capability, state.value,
                         {"method": Method.PUSH.value, "verifier": route.connector.name,
                          "factor": route.factor.name, "number": _number(challenge)})
        if state is PushState.APPROVED:
            return Verified(Method.PUSH, {"verifier": route.connector.name,
                                          "number": _number(challenge)})
        what = capability.label.replace("_", " ")
        if state is PushState.REJECTED:
            await self._notify_security(
                f"Possible account takeover attempt: <@{actor.slack_user_id}> ({actor.email}) "
                f"asked the helpdesk bot for a {what}, and the push to "
                f"{route.factor.name} was denied on the device. Nothing was changed. Someone "
                "else may hold their Slack session: please contact them by phone or in person."
            )
            raise Refusal(
                "push_rejected",
                t(
                    "The push to your phone was denied, so I changed nothing. If that wasn't "
                    "you, someone may be using your Slack account: the security team has been "
                    "told. Otherwise, ask me again, or ask {where}.",
                    where=where,
                ),
            )
        raise Refusal(
            "push_timeout",
            t(
                "The push to your phone wasn't answered in time, so I changed nothing. "
                "Ask me again when you have your phone at hand."
            ),
        )

    async def _wait(self, verifier: PushVerifier, challenge: PushChallenge) -> PushState:
        push = self.settings.push
        loop = asyncio.get_running_loop()
        deadline = loop.time() + push.wait.total_seconds()
        while True:
            state = await verifier.push_state(challenge)
            if state is not PushState.WAITING:
                return state
            if loop.time() >= deadline:
                return PushState.TIMED_OUT
            await self.timer.sleep(min(push.poll_interval.total_seconds(),
                                 max(deadline - loop.time(), 0.0)))

    async def _notify_security(self, text: str) -> None:
        try:
            await self.security(text)
        except Exception as exc:
            log.error("security_notice_failed", error=type(exc).__name__, action=PUSH_ACTION)


def _number(challenge: PushChallenge) -> str:
    return "" if challenge.number is None else str(challenge.number)
