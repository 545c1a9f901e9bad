"""Self-service workflows, free of Slack: reset, unlock, MFA reset, password expiry.

Every workflow resolves the requester in the connector configured for the
capability (by their verified email, then by the provider's id), refuses
protected accounts and users over their limit, calls the connector once, and
writes one audit record. Connector errors become refusals through
``actions.errors.connector_call``. Business refusals are ``Refusal`` with a
message safe to show; anything else is a bug and propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from actions.audit import Actor, Auditor
from actions.busy import busy_notice
from actions.errors import Refusal, connector_call, protections_that_count
from actions.lost_answers import AnswerLost, Target
from actions.notices import Change, ChangeNotices
from actions.providers import Providers
from actions.turns import turn_key
from actions.verification import ApprovalGate, PushPrompter, Verification, Verified
from config import metrics
from config.clock import SYSTEM_CLOCK, Clock, Now, utc_now
from config.i18n import N_, current, duration_words, t
from config.logging import get_logger
from config.settings import HelpdeskConfig, Limit
from config.verification import Method
from connectors.base import (
    Capability,
    MfaFactor,
    PasswordResetGrant,
    PasswordStatus,
    ResetDelivery,
    UnlockResult,
    UserStatus,
)
from connectors.emails import lookalike
from connectors.errors import ConnectorError, OutcomeUnknown, Unavailable, UserNotFound
from store.db import Store
from store.leases import new_holder

log = get_logger("helpdesk.self_service")

# The cross-replica action lease: held while one action runs (its connector calls are
# bounded well inside LEASE_TTL, after which a crashed replica's lease is cleared); a second
# action for the same person and capability waits up to LEASE_WAIT, then is told to retry.
LEASE_TTL = timedelta(minutes=5)
LEASE_WAIT = 20.0
LEASE_POLL = 0.2


def action_lease(slack_user: str, capability: str) -> str:
    """The name of the lease held while one action runs for an employee and capability."""
    return f"action:{slack_user}:{capability}"


class Notifier(Protocol):
    async def security_notice(self, text: str) -> None:
        """Tell the security team (a Slack channel, or the terminal in the demo)."""
        ...


@dataclass(frozen=True)
class ResetOutcome:
    target: Target
    grant: PasswordResetGrant


#: Account states no self-service action can change, in the words the employee is told.
INACTIVE_STATES: dict[UserStatus, str] = {
    UserStatus.SUSPENDED: N_("suspended"),
    UserStatus.DEPROVISIONED: N_("deactivated"),
    UserStatus.STAGED: N_("not activated yet"),
}

_LIMIT_OF: dict[Capability, str] = {
    Capability.PASSWORD_RESET: "password_reset",
    Capability.UNLOCK: "unlock",
    Capability.MFA_RESET: "mfa_reset",
}


class SelfService(AnswerLost):
    """The self-service workflows for one deployment."""

    def __init__(
        self,
        cfg: HelpdeskConfig,
        providers: Providers,
        store: Store,
        notifier: Notifier,
        *,
        clock: Now = utc_now,
        prompter: PushPrompter | None = None,
        approval: ApprovalGate | None = None,
        notices: ChangeNotices | None = None,
        waits: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.cfg = cfg
        # Times a slow write, after which the employee is told the directory is busy.
        self.waits = waits
        # After every change: an email and a DM with a "This wasn't me" link.
        self.notices = notices
        self.providers = providers
        self.store = store
        self.auditor = Auditor(store)
        self.notifier = notifier
        self.clock = clock
        # Before every change: prove it is the employee (``verification:``), never after.
        self.verification = Verification(
            cfg, providers, store, notifier.security_notice, prompter=prompter,
            approval=approval, clock=clock, where_to_go=self._where_to_go,
        )
        # One action per (employee, capability) at a time in this process: the limit is
        # counted and the action audited under it, so two confirmations clicked at once
        # cannot both pass a "1 per 24 hours" limit.
        self._serial: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    @contextlib.asynccontextmanager
    async def _one_at_a_time(self, actor: Actor, capability: Capability) -> AsyncIterator[None]:
        """Hold the (employee, capability) lock: in this process, then across replicas.

        The store's lease makes two replicas handling two confirmations of the same person
        take turns too; the second then counts the first's audit record against the limit.
        """
        key = (actor.slack_user_id, capability.label)
        lock = self._serial.get(key)
        if lock is None:
            lock = self._serial[key] = asyncio.Lock()
        async with lock:
            # Named after the request when there is one: the same request run again after
            # its process died (holding this lease) takes it back instead of waiting it out.
            request = turn_key()
            lease = action_lease(*key)
            holder = f"request:{request}" if request else new_holder()
            deadline = asyncio.get_running_loop().time() + LEASE_WAIT
            while not await self.store.leases.take(
                lease, holder, LEASE_TTL, again=request is not None
            ):
                if asyncio.get_running_loop().time() > deadline:
                    log.warning("action_busy", slack_user=actor.slack_user_id,
                                capability=capability.label)
                    raise Refusal(
                        "busy",
                        t(
                            "I'm still working on your previous request for this. "
                            "Please try again in a minute."
                        ),
                    )
                await asyncio.sleep(LEASE_POLL)
            try:
                yield
            finally:
                await self.store.leases.release(lease, holder)

    # -- shared steps -----------------------------------------------------------
    def _where_to_go(self) -> str:
        return self.cfg.organisation.where_to_go()

    async def resolve(self, actor: Actor, capability: Capability) -> Target:
        """Find the requester's own account in the connector serving ``capability``."""
        conn = self.providers.provider_for(capability)
        if conn is None:
            raise Refusal(
                "not_available",
                t("I can't help with that here. Please ask {where}.", where=self._where_to_go()),
            )
        label = self.providers.label(conn)
        if lookalike(actor.email):
            # Matching is exact (``connectors.emails``), so this finds nobody anyway; a chat
            # profile imitating a plain address is worth a human's look, though.
            await self.auditor.record(
                actor, capability.label, "refused", provider=conn.name,
                detail={"reason": "lookalike_email"},
            )
            await self._notify_security(
                f"<@{actor.slack_user_id}> asked the helpdesk bot for "
                f"{capability.label.replace('_', ' ')} with a Slack profile email that imitates "
                f"a plain address ({actor.email.encode('ascii', 'backslashreplace').decode()}). "
                "Nothing was changed; please check that Slack account.",
                capability,
            )
            raise Refusal(
                "unknown_user",
                t(
                    "I couldn't find an account for your Slack email in {label}. "
                    "Please contact {where}.",
                    label=label, where=self._where_to_go(),
                ),
            )
        try:
            async with connector_call(label, self._where_to_go(), catch=Unavailable):
                user = await conn.find_user_by_email(actor.email)
        except UserNotFound:
            await self.auditor.record(
                actor, capability.label, "refused", provider=conn.name,
                detail={"reason": "unknown_user"},
            )
            raise Refusal(
                "unknown_user",
                t(
                    "I couldn't find an account for {email} in {label}. Please contact {where}.",
                    email=actor.email, label=label, where=self._where_to_go(),
                ),
            ) from None
        return Target(conn, user, label)

    async def _guard(self, actor: Actor, target: Target, capability: Capability) -> None:
        protected = self.cfg.protected
        async with connector_call(target.label, self._where_to_go(), catch=Unavailable):
            found = await target.connector.protections(target.user, protected.groups)
        reasons = [str(p) for p in protections_that_count(found, protected.refuse_admin_roles)]
        if reasons:
            await self.auditor.record(
                actor, capability.label, "refused", target=target.user,
                detail={"reason": "protected", "why": "; ".join(reasons)},
            )
            # "Sent to a human": the people who can help hear of it, not only the employee.
            await self._notify_security(
                f"<@{actor.slack_user_id}> ({actor.email}) asked the helpdesk bot for "
                f"{capability.label.replace('_', ' ')} on a protected {target.label} account "
                f"({'; '.join(reasons)}). Nothing was changed; please follow up with them.",
                capability,
            )
            raise Refusal(
                "protected",
                t(
                    "Your account has elevated access, so I won't change it from chat. "
                    "A person from IT will help: please ask {where}.",
                    where=self._where_to_go(),
                ),
            )
        limit_name = _LIMIT_OF.get(capability)
        if limit_name is None:
            return
        limit: Limit = getattr(self.cfg.limits, limit_name)
        used = await self.store.count_actions(
            actor.slack_user_id, capability.label, self.clock() - limit.per
        )
        if used >= limit.count:
            await self.auditor.record(
                actor, capability.label, "refused", target=target.user,
                detail={"reason": "rate_limited", "used": used, "limit": limit.count},
            )
            raise Refusal(
                "rate_limited",
                t(
                    "You've reached the limit for this ({count} per {period}). "
                    "If you're stuck, please ask {where}.",
                    count=limit.count, period=duration_words(limit.per, weeks=False),
                    where=self._where_to_go(),
                ),
            )

    async def _notify_security(self, text: str, capability: Capability) -> None:
        """Tell the security channel; a failure is logged, never shown as the action's."""
        try:
            await self.notifier.security_notice(text)
        except Exception as exc:
            # Whatever the action did is done and audited, and the employee is still
            # told; the notice's failure (a channel the bot left...) is an error for IT.
            log.error("security_notice_failed", error=type(exc).__name__, action=capability.label)

    def _calling(
        self, actor: Actor, target: Target, capability: Capability, *, writes: bool = False
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """Connector errors become refusals (``refusal_for``); the failure is audited."""

        async def audit(exc: ConnectorError, refusal: Refusal) -> None:
            await self.auditor.record(
                actor, capability.label, "failed", target=target.user,
                detail={
                    "reason": refusal.code, "error": type(exc).__name__, "code": exc.code or "",
                },
            )

        call = connector_call(target.label, self._where_to_go(), writes=writes, on_refusal=audit)
        if not writes:
            return call
        return _busy_told(call, busy_notice(target.label, self.waits))

    async def preflight(self, actor: Actor, capability: Capability) -> Target:
        """Everything short of acting: resolve, account state, protection, limits.

        Run before anything is offered, so that a button is never offered for an
        account the connector would refuse to change.
        """
        target = await self.resolve(actor, capability)
        await self._usable(actor, target, capability)
        await self._guard(actor, target, capability)
        return target

    async def _verify(self, actor: Actor, target: Target, capability: Capability) -> Verified:
        """The verification step: after the checks, before the change (``Refusal`` if not)."""
        return await self.verification.verify(actor, target.user, target.label, capability)

    async def _usable(self, actor: Actor, target: Target, capability: Capability) -> None:
        """Refuse at once for an account that is suspended, deprovisioned or not yet active."""
        state = INACTIVE_STATES.get(target.user.status)
        if state is None:
            return
        await self.auditor.record(
            actor, capability.label, "refused", target=target.user,
            detail={"reason": "account_inactive", "status": target.user.status.value},
        )
        raise Refusal(
            "account_inactive",
            t(
                "Your {label} account is {state}, so I can't change it from chat. "
                "Please ask {where}: they can tell you why and reactivate it.",
                label=target.label, state=t(state), where=self._where_to_go(),
            ),
        )

    def _announce(
        self, actor: Actor, target: Target, capability: Capability, verified: Verified
    ) -> None:
        """Start the change's notices (background: they never delay or undo the change)."""
        if self.notices is None:
            return
        self.notices.changed(Change(
            actor, target.user, target.label, capability, _verified_words(verified),
            self.clock(), current(),
        ))

    # -- workflows ----------------------------------------------------------------
    async def reset_password(
        self, actor: Actor, delivery: ResetDelivery | None = None
    ) -> ResetOutcome:
        cap = Capability.PASSWORD_RESET
        async with self._one_at_a_time(actor, cap):
            target = await self.preflight(actor, cap)
            verified = await self._verify(actor, target, cap)
            role = self.providers.resetter()
            chosen = delivery or self.cfg.password_reset.delivery
            answer_lost = False
            async with self._calling(actor, target, cap, writes=True):
                try:
                    grant = await role.start_password_reset(target.user, chosen)
                except OutcomeUnknown as exc:
                    answer_lost = True
                    grant = await self._reset_after_unknown(actor, target, chosen, exc)
            await self.auditor.record(
                actor, cap.label, "success", target=target.user,
                detail={"delivery": grant.delivery.value, "verified_by": verified.method.value,
                        **({"reissued_after": "answer_lost"} if answer_lost else {})},
            )
        self._announce(actor, target, cap, verified)
        return ResetOutcome(target, grant)

    async def unlock(self, actor: Actor) -> tuple[Target, UnlockResult]:
        cap = Capability.UNLOCK
        async with self._one_at_a_time(actor, cap):
            target = await self.preflight(actor, cap)
            verified = await self._verify(actor, target, cap)
            role = self.providers.unlocker()
            async with self._calling(actor, target, cap, writes=True):
                try:
                    result = await role.unlock(target.user)
                except OutcomeUnknown as exc:
                    result = await self._unlock_after_unknown(actor, target, exc)
            outcome = "success" if result is UnlockResult.UNLOCKED else "noop"
            await self.auditor.record(
                actor, cap.label, outcome, target=target.user,
                detail={"result": result.value, "verified_by": verified.method.value},
            )
        if result is UnlockResult.UNLOCKED:
            self._announce(actor, target, cap, verified)
        return target, result

    async def mfa_factors(self, actor: Actor) -> tuple[Target, Sequence[MfaFactor]]:
        cap = Capability.MFA_RESET
        target = await self.preflight(actor, cap)
        role = self.providers.mfa()
        async with self._calling(actor, target, cap):
            factors = await role.list_factors(target.user)
        return target, factors

    async def reset_mfa(self, actor: Actor) -> tuple[Target, int]:
        cap = Capability.MFA_RESET
        async with self._one_at_a_time(actor, cap):
            target = await self.preflight(actor, cap)
            verified = await self._verify(actor, target, cap)
            role = self.providers.mfa()
            async with self._calling(actor, target, cap, writes=True):
                try:
                    removed = await role.reset_factors(target.user)
                except OutcomeUnknown as exc:
                    removed = await self._mfa_after_unknown(actor, target, exc)
            await self.auditor.record(
                actor, cap.label, "success", target=target.user,
                detail={"factors_removed": removed, "verified_by": verified.method.value},
            )
        if removed:
            self._announce(actor, target, cap, verified)
        await self._notify_security(
            f"MFA reset through the helpdesk bot: <@{actor.slack_user_id}> ({actor.email}) "
            f"removed {removed} factor{'' if removed == 1 else 's'} from their "
            f"{target.label} account. "
            "If this wasn't expected, investigate.",
            cap,
        )
        return target, removed

    async def password_expiry(self, actor: Actor) -> tuple[Target, PasswordStatus]:
        cap = Capability.PASSWORD_EXPIRY
        target = await self.resolve(actor, cap)
        role = self.providers.expiry()
        async with self._calling(actor, target, cap):
            status = await role.password_status(target.user)
        # A read: not audited, so counted here (its refusals and failures are audited).
        metrics.audited(cap.label, "success")
        return target, status


@contextlib.asynccontextmanager
async def _busy_told(
    call: contextlib.AbstractAsyncContextManager[None],
    notice: contextlib.AbstractAsyncContextManager[None],
) -> AsyncIterator[None]:
    """A write: its errors become refusals, and a slow one is announced first."""
    async with call, notice:
        yield


def _verified_words(verified: Verified) -> str:
    """How the employee was verified, in a notice's words."""
    if verified.method is Method.PUSH:
        return N_("a push approved on the phone")
    if verified.method is Method.APPROVAL:
        return N_("a colleague's confirmation in Slack")
    return N_("no check (the bot is configured without one)")
