"""Directory writes whose answer was lost: re-read the account, then say only what is true.

A timeout (or a dropped connection) after a write was sent is an unknown outcome, not a
failure (:class:`~connectors.errors.OutcomeUnknown`). The workflow re-reads the account:

* the write shows (a reset status, a new password-changed time, an unlocked account, no
  factors left): the flow is finished (a fresh link or password replaces the lost one),
  audited ``success``;
* nothing changed (same status, same password-changed time, every factor still there):
  "nothing was changed", audited ``failed``;
* anything else, or the re-read fails too: the employee is told the outcome is unknown,
  audited ``unknown``, and IT is alerted.
"""

from __future__ import annotations

from dataclasses import dataclass

from actions.audit import Actor, Auditor
from actions.errors import Refusal, outcome_unknown, outcome_unknown_alert, unavailable
from actions.providers import Providers
from config.logging import get_logger
from connectors.base import (
    PASSWORD_CHANGED,
    Capability,
    Directory,
    DirectoryUser,
    PasswordResetGrant,
    ResetDelivery,
    UnlockResult,
    UserStatus,
)
from connectors.errors import ConnectorError, OutcomeUnknown

log = get_logger("helpdesk.self_service")

#: The status a password reset leaves the account in, by delivery.
_RESET_STATUS: dict[ResetDelivery, UserStatus] = {
    ResetDelivery.LINK: UserStatus.RECOVERY,
    ResetDelivery.TEMP_PASSWORD: UserStatus.PASSWORD_EXPIRED,
}

#: Statuses of an account that is no longer locked out (after an unlock whose answer was lost).
_UNLOCKED_STATES = frozenset({UserStatus.ACTIVE, UserStatus.PASSWORD_EXPIRED, UserStatus.RECOVERY})


@dataclass(frozen=True)
class Target:
    """The requester's own account in the connector serving a capability."""

    connector: Directory
    user: DirectoryUser
    label: str


def reset_shows(before: DirectoryUser, now: DirectoryUser, chosen: ResetDelivery) -> bool | None:
    """Whether the re-read account shows the reset: True, False (untouched), None (can't tell).

    An account already in the reset state counts as reset: a fresh reset is harmless there.
    """
    changed = now.attributes.get(PASSWORD_CHANGED) != before.attributes.get(PASSWORD_CHANGED)
    if now.status is _RESET_STATUS[chosen] or (
        changed and now.attributes.get(PASSWORD_CHANGED) is not None
    ):
        return True
    if now.status is before.status and not changed:
        return False
    return None


class AnswerLost:
    """The re-read steps of :class:`~actions.self_service.SelfService` (a mixin)."""

    auditor: Auditor
    providers: Providers

    def _where_to_go(self) -> str:
        raise NotImplementedError

    async def _notify_security(self, text: str, capability: Capability) -> None:
        raise NotImplementedError

    async def _reread(self, target: Target, capability: Capability) -> DirectoryUser | None:
        """The account as the directory has it now; None when it cannot be read either."""
        try:
            return await target.connector.get_user(target.user.id)
        except ConnectorError as exc:
            log.warning("reread_failed", action=capability.label, error=type(exc).__name__)
            return None

    async def _not_applied(
        self, actor: Actor, target: Target, capability: Capability, exc: OutcomeUnknown
    ) -> Refusal:
        """The re-read shows the write was not applied: audited failed, "nothing was changed"."""
        await self.auditor.record(
            actor, capability.label, "failed", target=target.user,
            detail={"reason": "unavailable", "error": type(exc).__name__,
                    "confirmed_by": "reread"},
        )
        return unavailable(target.label)

    async def _unknown(
        self, actor: Actor, target: Target, capability: Capability, exc: ConnectorError
    ) -> Refusal:
        """The outcome cannot be learned: audited unknown, IT alerted, the employee told so."""
        await self.auditor.record(
            actor, capability.label, "unknown", target=target.user,
            detail={"reason": "outcome_unknown", "error": type(exc).__name__,
                    "code": exc.code or ""},
        )
        await self._notify_security(
            outcome_unknown_alert(
                f"<@{actor.slack_user_id}> ({actor.email})",
                capability.label.replace("_", " "), target.label,
            ),
            capability,
        )
        return outcome_unknown(target.label, self._where_to_go())

    async def _reset_after_unknown(
        self, actor: Actor, target: Target, chosen: ResetDelivery, exc: OutcomeUnknown
    ) -> PasswordResetGrant:
        """The reset's answer was lost: its link or password can never be delivered, so when
        the account shows the reset, a fresh one is issued (it replaces the lost one)."""
        cap = Capability.PASSWORD_RESET
        current = await self._reread(target, cap)
        if current is None:
            raise await self._unknown(actor, target, cap, exc)
        shown = reset_shows(target.user, current, chosen)
        if shown is False:
            raise await self._not_applied(actor, target, cap, exc)
        if shown is None:
            raise await self._unknown(actor, target, cap, exc)
        log.warning("reset_applied_answer_lost", reissue=True)
        try:
            return await self.providers.resetter().start_password_reset(current, chosen)
        except ConnectorError as again:
            # The account is in a reset state with nothing the employee can use.
            raise await self._unknown(actor, target, cap, again) from None

    async def _unlock_after_unknown(
        self, actor: Actor, target: Target, exc: OutcomeUnknown
    ) -> UnlockResult:
        cap = Capability.UNLOCK
        current = await self._reread(target, cap)
        if current is None:
            raise await self._unknown(actor, target, cap, exc)
        if current.status is UserStatus.LOCKED_OUT:
            raise await self._not_applied(actor, target, cap, exc)
        if current.status in _UNLOCKED_STATES:
            return UnlockResult.UNLOCKED
        raise await self._unknown(actor, target, cap, exc)

    async def _mfa_after_unknown(
        self, actor: Actor, target: Target, exc: OutcomeUnknown
    ) -> int:
        """How many factors the lost reset removed, as the re-read factors show.

        ``exc.planned`` is how many the reset was removing; a connector that removes them
        one by one may have removed some: that is neither done nor "nothing was changed".
        """
        cap = Capability.MFA_RESET
        try:
            left = await self.providers.mfa().list_factors(target.user)
        except ConnectorError as again:
            log.warning("reread_failed", action=cap.label, error=type(again).__name__)
            raise await self._unknown(actor, target, cap, exc) from None
        if left and (exc.planned is None or len(left) >= exc.planned):
            raise await self._not_applied(actor, target, cap, exc)
        if left or exc.planned is None:
            raise await self._unknown(actor, target, cap, exc)
        return exc.planned
