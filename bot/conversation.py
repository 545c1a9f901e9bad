"""The conversation: what the bot answers to a message, a command or a button, with no Slack in it.

The Slack surface and the terminal demo both drive ``Conversation`` and
render its ``Reply`` objects their own way (Block Kit, numbered choices).
Confirmations are durable tokens in the store, claimed once, so a double
click or a redelivered action cannot act twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from actions.audit import Actor, new_correlation_id
from actions.self_service import Refusal, SelfService
from bot.routing import Intent, Router
from connectors.base import Capability, ResetDelivery, UnlockResult
from store.db import Store

CONFIRM_TTL = timedelta(minutes=10)

# Button action ids. A value carries a pending-action token or an intent name.
CONFIRM = "hd_confirm"
CANCEL = "hd_cancel"
START = "hd_start"
SECRET_DONE = "hd_secret_done"


@dataclass(frozen=True)
class Button:
    label: str
    action: str
    value: str
    style: str | None = None  # "primary" | "danger"


@dataclass(frozen=True)
class Reply:
    """One message to the employee.

    ``replaces_prompt``: this answers a button click; the message holding the
    button is updated to ``text`` instead of a new message being posted.
    ``secret_hide_at``: the message shows a secret and must be edited to
    ``secret_replacement`` at that time.
    """

    text: str
    buttons: Sequence[Button] = ()
    replaces_prompt: bool = False
    secret_hide_at: datetime | None = None
    secret_replacement: str = ""
    ephemeral: bool = False
    fields: Sequence[tuple[str, str]] = field(default_factory=tuple)


_START_LABEL: dict[Intent, str] = {
    Intent.PASSWORD_RESET: "Reset my password",
    Intent.ACCOUNT_UNLOCK: "Unlock my account",
    Intent.MFA_RESET: "Reset my MFA",
    Intent.PASSWORD_EXPIRY: "When does my password expire?",
    Intent.GROUP_ACCESS: "Request access to a group",
}

_CAPABILITY_OF: dict[Intent, Capability] = {
    Intent.PASSWORD_RESET: Capability.PASSWORD_RESET,
    Intent.ACCOUNT_UNLOCK: Capability.UNLOCK,
    Intent.MFA_RESET: Capability.MFA_RESET,
    Intent.PASSWORD_EXPIRY: Capability.PASSWORD_EXPIRY,
    Intent.GROUP_ACCESS: Capability.GROUPS,
}


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%a %d %b %Y, %H:%M UTC")


class Conversation:
    """Answers an employee. Stateless between calls except for the store."""

    def __init__(self, service: SelfService, router: Router, store: Store) -> None:
        self.service = service
        self.router = router
        self.store = store
        self.cfg = service.cfg

    # -- entry points ---------------------------------------------------------------
    async def on_message(self, actor: Actor, text: str) -> list[Reply]:
        new_correlation_id()
        routed = self.router.classify(text)
        if routed.needs_clarification:
            return [self._clarify(routed.alternatives)]
        return await self.start(actor, routed.intent, text)

    async def on_command(self, actor: Actor, text: str) -> list[Reply]:
        """``/helpdesk reset-password`` and friends; free text falls back to routing."""
        new_correlation_id()
        word = text.strip().lower().replace("_", "-")
        commands = {
            "": Intent.HELP,
            "help": Intent.HELP,
            "reset-password": Intent.PASSWORD_RESET,
            "password": Intent.PASSWORD_RESET,
            "unlock": Intent.ACCOUNT_UNLOCK,
            "mfa": Intent.MFA_RESET,
            "reset-mfa": Intent.MFA_RESET,
            "expiry": Intent.PASSWORD_EXPIRY,
            "password-expiry": Intent.PASSWORD_EXPIRY,
        }
        if word in commands:
            return await self.start(actor, commands[word], text)
        return await self.on_message(actor, text)

    async def on_button(self, actor: Actor, action: str, value: str) -> list[Reply]:
        new_correlation_id()
        if action == START:
            try:
                intent = Intent(value)
            except ValueError:
                return [self._stale()]
            return await self.start(actor, intent, "")
        if action == CANCEL:
            claimed = await self.store.claim_pending(value, actor.slack_user_id, state="cancelled")
            if claimed is None:
                return [self._stale()]
            return [Reply("Cancelled. Nothing was changed.", replaces_prompt=True)]
        if action == CONFIRM:
            claimed = await self.store.claim_pending(value, actor.slack_user_id)
            if claimed is None:
                return [self._stale()]
            return await self._confirmed(actor, claimed.kind)
        if action == SECRET_DONE:
            return [Reply(self._hidden_text(), replaces_prompt=True)]
        return [self._stale()]

    # -- routing --------------------------------------------------------------------
    async def start(self, actor: Actor, intent: Intent, text: str) -> list[Reply]:
        try:
            if intent is Intent.PASSWORD_RESET:
                return await self._offer(actor, Capability.PASSWORD_RESET)
            if intent is Intent.MFA_RESET:
                return await self._offer(actor, Capability.MFA_RESET)
            if intent is Intent.ACCOUNT_UNLOCK:
                return await self._unlock(actor)
            if intent is Intent.PASSWORD_EXPIRY:
                return await self._expiry(actor)
        except Refusal as refusal:
            return [Reply(refusal.user_message)]
        if intent is Intent.GROUP_ACCESS:
            return [self._group_access_elsewhere()]
        if intent is Intent.GREETING:
            return [self._help(greeting=True)]
        if intent is Intent.HELP:
            return [self._help()]
        return [self._out_of_scope()]

    def _offered(self) -> list[Intent]:
        return [i for i, cap in _CAPABILITY_OF.items() if self.service.providers.offers(cap)]

    def _help(self, greeting: bool = False) -> Reply:
        lines = {
            Intent.PASSWORD_RESET: "reset your password (\"I forgot my password\")",
            Intent.ACCOUNT_UNLOCK: "unlock your account (\"I'm locked out\")",
            Intent.MFA_RESET: "reset your MFA when you've lost or replaced your phone",
            Intent.PASSWORD_EXPIRY: "tell you when your password expires",
        }
        offered = [i for i in self._offered() if i in lines]
        head = "Hi! " if greeting else ""
        body = "\n".join(f"• {lines[i]}" for i in offered) or "• point you to the right people"
        text = (
            f"{head}I'm the IT helpdesk bot. Here's what I can do for you, right here:\n{body}\n"
            f"For anything else, ask {self.service._where_to_go()}."
        )
        buttons = [Button(_START_LABEL[i], START, i.value) for i in offered if i in lines]
        return Reply(text, buttons)

    def _out_of_scope(self) -> Reply:
        return Reply(
            "Sorry, that's not something I can help with. "
            f"Please ask {self.service._where_to_go()}. "
            "Type *help* to see what I can do."
        )

    def _group_access_elsewhere(self) -> Reply:
        return Reply(
            "Access requests aren't handled in this chat yet. "
            f"Please ask {self.service._where_to_go()}."
        )

    def _clarify(self, alternatives: Sequence[Intent]) -> Reply:
        offered = set(self._offered())
        choices = [i for i in alternatives if i in offered and i in _START_LABEL][:3]
        if not choices:
            return self._out_of_scope()
        return Reply(
            "I'm not sure I understood. Did you mean:",
            [Button(_START_LABEL[i], START, i.value) for i in choices],
        )

    def _stale(self) -> Reply:
        return Reply(
            "This request has expired or was already handled, so nothing was changed. "
            "Send me a new message if you still need help.",
            replaces_prompt=True,
        )

    def _hidden_text(self) -> str:
        return "Your one-time password reset details were here and have been removed."

    # -- flows ----------------------------------------------------------------------
    async def _offer(self, actor: Actor, capability: Capability) -> list[Reply]:
        target = await self.service.preflight(actor, capability)
        token = await self.store.create_pending(
            actor.slack_user_id, capability.label, {"provider": target.connector.name}, CONFIRM_TTL
        )
        cancel = Button("Cancel", CANCEL, token)
        if capability is Capability.PASSWORD_RESET:
            how = (
                "a one-time reset link"
                if self.cfg.password_reset.delivery is ResetDelivery.LINK
                else "a temporary password you must change when you next sign in"
            )
            return [
                Reply(
                    f"I can reset your {target.label} password ({target.user.email}). "
                    f"I'll send {how} here, in this private chat only. Go ahead?",
                    [Button("Reset my password", CONFIRM, token, "primary"), cancel],
                )
            ]
        _, factors = await self.service.mfa_factors(actor)
        if not factors:
            await self.store.claim_pending(token, actor.slack_user_id, state="cancelled")
            return [
                Reply(
                    f"You have no MFA factors enrolled in {target.label}, so there's nothing "
                    "to reset. You'll be asked to set one up at your next sign-in."
                )
            ]
        names = ", ".join(sorted({f.name for f in factors}))
        return [
            Reply(
                f"This removes *all* {len(factors)} MFA factor(s) on your {target.label} "
                f"account ({names}). You'll set up a new one at your next sign-in. "
                "The security team is told about every MFA reset. Go ahead?",
                [Button("Reset my MFA", CONFIRM, token, "danger"), cancel],
            )
        ]

    async def _confirmed(self, actor: Actor, kind: str) -> list[Reply]:
        try:
            capability = Capability.parse(kind)
            if capability is Capability.PASSWORD_RESET:
                return self._deliver_reset(await self.service.reset_password(actor))
            if capability is Capability.MFA_RESET:
                target, removed = await self.service.reset_mfa(actor)
                return [
                    Reply(
                        f"Done: I removed {removed} MFA factor(s) from your {target.label} "
                        "account. At your next sign-in you'll be asked to enrol a new one.",
                        replaces_prompt=True,
                    )
                ]
        except Refusal as refusal:
            return [Reply(refusal.user_message, replaces_prompt=True)]
        return [self._stale()]

    def _deliver_reset(self, outcome: object) -> list[Reply]:
        from actions.self_service import ResetOutcome

        assert isinstance(outcome, ResetOutcome)
        grant = outcome.grant
        now = datetime.now(UTC)
        hide_at = now + self.cfg.password_reset.hide_secret_after
        if grant.expires_at is not None:
            hide_at = min(hide_at, grant.expires_at)
        label = outcome.target.label
        if grant.delivery is ResetDelivery.LINK:
            expiry = (
                f" It works once and expires {_when(grant.expires_at)}." if grant.expires_at else ""
            )
            text = (
                f"Here is your one-time {label} password reset link:\n{grant.secret.reveal()}\n"
                f"Open it to choose a new password.{expiry} I'll remove it from this chat "
                f"at {_when(hide_at)}."
            )
        else:
            text = (
                f"Your temporary {label} password is: `{grant.secret.reveal()}`\n"
                "Sign in with it now; you'll be asked to choose a new password straight away. "
                f"I'll remove it from this chat at {_when(hide_at)}."
            )
        return [
            Reply("Confirmed. Your reset details follow.", replaces_prompt=True),
            Reply(
                text,
                [Button("Done, hide it", SECRET_DONE, "hide")],
                secret_hide_at=hide_at,
                secret_replacement=self._hidden_text(),
            ),
        ]

    async def _unlock(self, actor: Actor) -> list[Reply]:
        target, result = await self.service.unlock(actor)
        if result is UnlockResult.UNLOCKED:
            return [
                Reply(
                    f"Your {target.label} account is unlocked. You can sign in again now. "
                    "If you've forgotten your password, I can reset it.",
                    self._reset_offer(),
                )
            ]
        return [
            Reply(
                f"Your {target.label} account isn't locked. If you can't sign in, your password "
                "may be the problem: want me to reset it?",
                self._reset_offer(),
            )
        ]

    def _reset_offer(self) -> list[Button]:
        if not self.service.providers.offers(Capability.PASSWORD_RESET):
            return []
        return [Button("Reset my password", START, Intent.PASSWORD_RESET.value)]

    async def _expiry(self, actor: Actor) -> list[Reply]:
        target, status = await self.service.password_expiry(actor)
        if status.never_expires or status.expires_at is None:
            return [Reply(f"Your {target.label} password never expires.")]
        now = datetime.now(UTC)
        days = status.days_left(now)
        assert days is not None
        if status.expires_at <= now:
            return [
                Reply(
                    f"Your {target.label} password expired on {_when(status.expires_at)}.",
                    self._reset_offer(),
                )
            ]
        when = "today" if days == 0 else ("in 1 day" if days == 1 else f"in {days} days")
        return [
            Reply(
                f"Your {target.label} password expires {when}, on {_when(status.expires_at)}."
            )
        ]
