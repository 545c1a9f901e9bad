"""Password reset, MFA reset and unlock: the offer, the confirmation, the secret's delivery.

A reset is offered with a confirmation button whose token is kept in the store
and claimed once, so a double click or a redelivered action cannot act twice.
The reset's secret is shown once, in the private chat, and hidden later.
"""

from __future__ import annotations

from datetime import UTC, datetime

from actions.audit import Actor
from actions.errors import Refusal
from actions.self_service import ResetOutcome, SelfService
from actions.turns import turn_key
from actions.verification.approval import REQUEST_REASON
from bot.dialogues.common import CONFIRM_TTL, ButtonHandler, reset_offer, stale
from bot.replies import ActionId, Button, Reply
from bot.views.text import when
from config.i18n import N_, current, speak, t, tn
from connectors.base import Capability, ResetDelivery, UnlockResult
from store.db import Store
from store.models import ConfirmationState

HIDDEN = N_("Your one-time password reset details were here and have been removed.")


class SelfServiceDialogue:
    """Offers and confirms resets and MFA resets; unlocks at once."""

    def __init__(self, service: SelfService, store: Store) -> None:
        self.service = service
        self.store = store
        self.cfg = service.cfg

    def buttons(self) -> dict[ActionId, ButtonHandler]:
        """This dialogue's rows of the conversation's button table."""
        return {ActionId.CONFIRM: self.confirm, ActionId.SECRET_DONE: self.secret_done}

    async def offer_reset(self, actor: Actor) -> list[Reply]:
        """Checks done, ask to confirm the password reset (or say why not)."""
        return await self._offer(actor, Capability.PASSWORD_RESET)

    async def offer_mfa_reset(self, actor: Actor) -> list[Reply]:
        """Checks done, list the factors and ask to confirm removing them (or say why not)."""
        return await self._offer(actor, Capability.MFA_RESET)

    async def _offer(self, actor: Actor, capability: Capability) -> list[Reply]:
        try:
            return await self._offer_or_refuse(actor, capability)
        except Refusal as refusal:
            return [Reply(refusal.user_message)]

    async def _offer_or_refuse(self, actor: Actor, capability: Capability) -> list[Reply]:
        target = await self.service.preflight(actor, capability)
        payload = {
            "provider": target.connector.name,
            "reason": REQUEST_REASON.get() or "",
            "lang": current(),
        }
        token = await self.store.create_pending(
            actor.slack_user_id, capability.label, payload, CONFIRM_TTL
        )
        cancel = Button(t("Cancel"), ActionId.CANCEL, token)
        if capability is Capability.PASSWORD_RESET:
            if self.cfg.password_reset.delivery is ResetDelivery.LINK:
                text = t(
                    "I can reset your {label} password ({email}). I'll send a one-time reset "
                    "link here, in this private chat only. Go ahead?",
                    label=target.label, email=target.user.email,
                )
            else:
                text = t(
                    "I can reset your {label} password ({email}). I'll send a temporary "
                    "password you must change when you next sign in here, in this private "
                    "chat only. Go ahead?",
                    label=target.label, email=target.user.email,
                )
            return [
                Reply(
                    text,
                    [Button(t("Reset my password"), ActionId.CONFIRM, token, "primary"), cancel],
                )
            ]
        _, factors = await self.service.mfa_factors(actor)
        if not factors:
            await self.store.claim_pending(
                token, actor.slack_user_id, state=ConfirmationState.CANCELLED
            )
            return [
                Reply(
                    t(
                        "You have no MFA factors enrolled in {label}, so there's nothing to "
                        "reset. You'll be asked to set one up at your next sign-in.",
                        label=target.label,
                    )
                )
            ]
        names = ", ".join(sorted({f.name for f in factors}))
        return [
            Reply(
                tn(
                    "This removes *all* {count} MFA factor on your {label} account ({names}). "
                    "You'll set up a new one at your next sign-in. The security team is told "
                    "about every MFA reset. Go ahead?",
                    "This removes *all* {count} MFA factors on your {label} account ({names}). "
                    "You'll set up a new one at your next sign-in. The security team is told "
                    "about every MFA reset. Go ahead?",
                    len(factors), label=target.label, names=names,
                ),
                [Button(t("Reset my MFA"), ActionId.CONFIRM, token, "danger"), cancel],
            )
        ]

    async def confirm(self, actor: Actor, token: str) -> list[Reply]:
        """The confirmation button: claim its token once, then act."""
        claimed = await self.store.claim_pending(token, actor.slack_user_id, by=turn_key())
        if claimed is None:
            return [stale()]
        REQUEST_REASON.set(str(claimed.payload.get("reason") or "") or None)
        speak(str(claimed.payload.get("lang") or ""))
        try:
            capability = Capability.parse(claimed.kind)
        except ValueError:
            # Another flow's token (an access request's) behind a confirm button: forged.
            return [stale()]
        try:
            if capability is Capability.PASSWORD_RESET:
                return self._deliver_reset(await self.service.reset_password(actor))
            if capability is Capability.MFA_RESET:
                target, removed = await self.service.reset_mfa(actor)
                return [
                    Reply(
                        tn(
                            "Done: I removed {count} MFA factor from your {label} account. "
                            "At your next sign-in you'll be asked to enrol a new one.",
                            "Done: I removed {count} MFA factors from your {label} account. "
                            "At your next sign-in you'll be asked to enrol a new one.",
                            removed, label=target.label,
                        ),
                        replaces_prompt=True,
                    )
                ]
        except Refusal as refusal:
            return [Reply(refusal.user_message, replaces_prompt=True)]
        return [stale()]

    async def secret_done(self, actor: Actor, value: str) -> list[Reply]:
        """The "Done, hide it" button: the secret's message is edited to say it was removed."""
        return [Reply(t(HIDDEN), replaces_prompt=True)]

    def _deliver_reset(self, outcome: ResetOutcome) -> list[Reply]:
        grant = outcome.grant
        now = datetime.now(UTC)
        hide_at = now + self.cfg.password_reset.hide_secret_after
        if grant.expires_at is not None:
            hide_at = min(hide_at, grant.expires_at)
        label = outcome.target.label
        if grant.delivery is ResetDelivery.LINK:
            expiry = (
                " " + t("It works once and expires {at}.", at=when(grant.expires_at))
                if grant.expires_at
                else ""
            )
            # The secret is joined after translation: it never passes through a catalogue.
            text = (
                t("Here is your one-time {label} password reset link:", label=label)
                + f"\n{grant.secret.reveal()}\n"
                + t("Open it to choose a new password.")
                + expiry
                + " "
                + t("I'll remove it from this chat at {at}.", at=when(hide_at))
            )
        else:
            text = (
                t("Your temporary {label} password is:", label=label)
                + f" `{grant.secret.reveal()}`\n"
                + t(
                    "Sign in with it now; you'll be asked to choose a new password straight "
                    "away. I'll remove it from this chat at {at}.",
                    at=when(hide_at),
                )
            )
        return [
            Reply(t("Confirmed. Your reset details follow."), replaces_prompt=True),
            Reply(
                text,
                [Button(t("Done, hide it"), ActionId.SECRET_DONE, "hide")],
                secret_hide_at=hide_at,
                secret_replacement=t(HIDDEN),
                secrets=(grant.secret,),
            ),
        ]

    async def unlock(self, actor: Actor) -> list[Reply]:
        """Unlock at once (nothing to confirm: it only gives back what was theirs)."""
        try:
            target, result = await self.service.unlock(actor)
        except Refusal as refusal:
            return [Reply(refusal.user_message)]
        if result is UnlockResult.UNLOCKED:
            return [
                Reply(
                    t(
                        "Your {label} account is unlocked. You can sign in again now. "
                        "If you've forgotten your password, I can reset it.",
                        label=target.label,
                    ),
                    reset_offer(self.service),
                )
            ]
        return [
            Reply(
                t(
                    "Your {label} account isn't locked. If you can't sign in, your password "
                    "may be the problem: want me to reset it?",
                    label=target.label,
                ),
                reset_offer(self.service),
            )
        ]
