"""The conversation: what the bot answers to a message, a command or a button, with no Slack in it.

The Slack surface and the terminal demo both drive ``Conversation`` and
render its ``Reply`` objects their own way (Block Kit, numbered choices).
Confirmations are durable tokens in the store, claimed once, so a double
click or a redelivered action cannot act twice.

Group access requests are worded here too: the request prompt and its form,
the approvers' card (``approval_card``), the requester's news
(``requester_news``) and the App Home (``Home``); the workflow itself is
``actions.access``. The IT admins' view (extra App Home ``sections``,
``/helpdesk status``) is an ``AdminDesk`` the Slack surface plugs in
(``bot.admin_view``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from actions.access import (
    AccessService,
    Decision,
    DecisionOutcome,
    Event,
    Submitted,
    is_request_id,
)
from actions.audit import Actor, new_correlation_id
from actions.errors import Refusal
from actions.self_service import SelfService
from bot.routing import Intent, Router
from config.settings import CatalogueEntry, approver_kind
from connectors.base import Capability, ResetDelivery, UnlockResult
from store.db import AccessSnapshot, Store
from store.models import AccessRequest

CONFIRM_TTL = timedelta(minutes=10)

# Button action ids. A value carries a pending-action token or an intent name.
CONFIRM = "hd_confirm"
CANCEL = "hd_cancel"
START = "hd_start"
SECRET_DONE = "hd_secret_done"
# Group access. PICK carries a catalogue key; REQUEST and FORM a pending-action token;
# APPROVE, DENY and WITHDRAW a request id.
ACCESS_PICK = "hd_access_pick"
ACCESS_REQUEST = "hd_access_request"
ACCESS_FORM = "hd_access_form"
ACCESS_APPROVE = "hd_access_approve"
ACCESS_DENY = "hd_access_deny"
ACCESS_WITHDRAW = "hd_access_withdraw"
#: Buttons whose click opens a form rather than acting.
FORM_ACTIONS = frozenset({ACCESS_FORM, ACCESS_DENY})
ACCESS_KIND = "access_request"
MAX_REASON = 500


@dataclass(frozen=True)
class Button:
    label: str
    action: str
    value: str
    style: str | None = None  # "primary" | "danger"


@dataclass(frozen=True)
class FormField:
    """One input of a form: free text, or a choice among ``(label, value)`` pairs."""

    name: str
    label: str
    multiline: bool = False
    min_length: int = 0
    max_length: int = MAX_REASON
    choices: Sequence[tuple[str, str]] = ()
    hint: str = ""


@dataclass(frozen=True)
class Form:
    """Questions to ask before acting; submitted back with ``on_form(action, value, values)``."""

    action: str
    value: str
    title: str
    submit: str
    intro: str
    fields: Sequence[FormField]


@dataclass(frozen=True)
class FormResult:
    """A form submission's outcome: ``errors`` by field (the form stays open) or replies."""

    errors: Mapping[str, str] = field(default_factory=dict)
    replies: Sequence[Reply] = ()


@dataclass(frozen=True)
class Reply:
    """One message to the employee.

    ``replaces_prompt``: this answers a button click; the message holding the
    button is updated to ``text`` instead of a new message being posted
    (``in_place_only``: and dropped when there is no such message, e.g. a click
    on the App Home). ``secret_hide_at``: the message shows a secret and must be
    edited to ``secret_replacement`` at that time. ``ephemeral``: shown only to
    the person who clicked, where they clicked. ``form``: open this form.
    """

    text: str
    buttons: Sequence[Button] = ()
    replaces_prompt: bool = False
    secret_hide_at: datetime | None = None
    secret_replacement: str = ""
    ephemeral: bool = False
    fields: Sequence[tuple[str, str]] = field(default_factory=tuple)
    in_place_only: bool = False
    form: Form | None = None


@dataclass(frozen=True)
class HomeSection:
    """A titled summary on the App Home (the IT admins' view): lines, fields, "and N more".

    ``lines`` are mrkdwn, one item each; ``more`` counts items left out already;
    ``empty`` is shown when there is nothing to list.
    """

    title: str
    lines: Sequence[str] = ()
    fields: Sequence[tuple[str, str]] = ()
    more: int = 0
    empty: str = ""


@dataclass(frozen=True)
class Home:
    """The App Home: what the bot does, my requests, requests waiting for me, extra sections."""

    help: Reply
    mine: Sequence[Reply] = ()
    waiting: Sequence[Reply] = ()
    sections: Sequence[HomeSection] = ()


class AdminDesk(Protocol):
    """The IT admins' view (``bot.admin_view.AdminView``), plugged in by the Slack surface."""

    async def home_sections(self, actor: Actor) -> Sequence[HomeSection]:
        """The admin sections of ``actor``'s App Home; none unless they are an IT admin."""
        ...

    async def status(self, actor: Actor) -> list[Reply]:
        """``/helpdesk status``: connector health for an IT admin, a refusal for others."""
        ...


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

    def __init__(
        self,
        service: SelfService,
        router: Router,
        store: Store,
        access: AccessService | None = None,
        admin: AdminDesk | None = None,
    ) -> None:
        self.service = service
        self.router = router
        self.store = store
        self.cfg = service.cfg
        self.access = access
        # The IT admins' view needs to know who they are, which only a chat surface can tell.
        self.admin = admin

    # -- entry points ---------------------------------------------------------------
    async def on_message(self, actor: Actor, text: str) -> list[Reply]:
        new_correlation_id()
        routed = self.router.classify(text)
        if routed.needs_clarification:
            return [self._clarify(routed.alternatives)]
        return await self.start(actor, routed.intent, text, routed.group)

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
        if word == "status":
            return await self._admin_status(actor)
        first, _, rest = word.partition(" ")
        if first in {"request", "access"}:
            return await self._group_access(actor, None, rest)
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
        if action.startswith("hd_access_"):
            return await self._access_button(actor, action, value)
        return [self._stale()]

    # -- routing --------------------------------------------------------------------
    async def start(
        self, actor: Actor, intent: Intent, text: str, group: str | None = None
    ) -> list[Reply]:
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
            return await self._group_access(actor, group, text)
        if intent is Intent.THANKS:
            return [Reply("You're welcome! Message me any time you need help.")]
        if intent is Intent.GREETING:
            return [self._help(greeting=True)]
        if intent is Intent.HELP:
            return [self._help()]
        return [self._out_of_scope()]

    def _offered(self) -> list[Intent]:
        offered: list[Intent] = [
            i for i, cap in _CAPABILITY_OF.items()
            if i is not Intent.GROUP_ACCESS and self.service.providers.offers(cap)
        ]
        if self.access is not None and self.access.offered:
            offered.append(Intent.GROUP_ACCESS)
        return offered

    def _help(self, greeting: bool = False) -> Reply:
        lines = {
            Intent.PASSWORD_RESET: "reset your password (\"I forgot my password\")",
            Intent.ACCOUNT_UNLOCK: "unlock your account (\"I'm locked out\")",
            Intent.MFA_RESET: "reset your MFA when you've lost or replaced your phone",
            Intent.PASSWORD_EXPIRY: "tell you when your password expires",
            Intent.GROUP_ACCESS: "request access to a group or app (\"I need Figma\"), "
            "with approval in Slack",
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
        except ValueError:
            # Another flow's token (an access request's) behind a confirm button: forged.
            return [self._stale()]
        try:
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

    # -- group access -----------------------------------------------------------------
    def _suggest(self, text: str) -> list[str]:
        """Catalogue keys the text may name, best first (forgiving about spelling)."""
        assert self.access is not None
        # The intent model's matcher, when the router has one (adapters keep it as ``model``).
        match = getattr(self.router, "match_groups", None) or getattr(
            getattr(self.router, "model", None), "match_groups", None
        )
        found: list[str] = []
        if callable(match):
            found = [str(key) for key, _score in match(text)]
        else:
            wanted = "".join(ch for ch in text.lower() if ch.isalnum())
            for entry in self.access.catalogue.values():
                names = (entry.key, entry.display_name, *entry.aliases)
                if wanted and any(
                    "".join(ch for ch in n.lower() if ch.isalnum()) in wanted for n in names
                ):
                    found.append(entry.key)
        return [k for k in dict.fromkeys(found) if k in self.access.catalogue]

    async def _group_access(self, actor: Actor, group: str | None, text: str) -> list[Reply]:
        if self.access is None or not self.access.offered:
            return [self._group_access_elsewhere()]
        if group is None or group not in self.access.catalogue:
            suggestions = self._suggest(text) if text.strip() else []
            if len(suggestions) == 1:
                group = suggestions[0]
            elif suggestions:
                return [
                    Reply(
                        "Which one do you mean?",
                        [self._pick(k) for k in suggestions[:5]],
                    )
                ]
            else:
                return [self._catalogue_menu(asked=bool(text.strip()))]
        return await self._offer_access(actor, group)

    def _pick(self, key: str) -> Button:
        assert self.access is not None
        return Button(self.access.catalogue[key].display_name, ACCESS_PICK, key)

    def _catalogue_menu(self, asked: bool) -> Reply:
        assert self.access is not None
        entries = list(self.access.catalogue.values())
        names = ", ".join(e.display_name for e in entries)
        head = (
            "I can only request access to groups in the catalogue, and I couldn't tell "
            "which one you mean. "
            if asked
            else ""
        )
        return Reply(
            f"{head}You can ask for: {names}. For anything else, please ask "
            f"{self.service._where_to_go()}.",
            [self._pick(e.key) for e in entries[:5]],
        )

    async def _offer_access(self, actor: Actor, key: str) -> list[Reply]:
        assert self.access is not None
        try:
            prepared = await self.access.prepare(actor, key)
        except Refusal as refusal:
            return [Reply(refusal.user_message)]
        entry = prepared.entry
        if prepared.existing is not None:
            return [_already_open(prepared.existing)]
        if prepared.already_member:
            return [Reply(f"You're already a member of *{entry.display_name}*. Nothing to do.")]
        token = await self.store.create_pending(
            actor.slack_user_id, ACCESS_KIND, {"group": key}, CONFIRM_TTL
        )
        needs_form = entry.justification_required or bool(prepared.durations)
        lines = [f"Request access to *{entry.display_name}* ({prepared.label})?"]
        if entry.description:
            lines.append(entry.description)
        lines.append(_approval_path(entry))
        if needs_form:
            lines.append(
                "I'll ask "
                + " and ".join(
                    w for w, on in (("why you need it", entry.justification_required),
                                    ("for how long", bool(prepared.durations))) if on
                )
                + "."
            )
        action = ACCESS_FORM if needs_form else ACCESS_REQUEST
        return [
            Reply(
                "\n".join(lines),
                [
                    Button("Request access", action, token, "primary"),
                    Button("Cancel", CANCEL, token),
                ],
            )
        ]

    async def _access_button(self, actor: Actor, action: str, value: str) -> list[Reply]:
        if self.access is None:
            return [self._stale()]
        if action == ACCESS_PICK:
            if value not in self.access.catalogue:
                return [self._stale()]
            return await self._offer_access(actor, value)
        if action == ACCESS_REQUEST:
            claimed = await self._claim_access(actor, value)
            if claimed is None:
                return [self._stale()]
            return await self._submit(actor, claimed, "", None)
        if action == ACCESS_FORM:
            return await self._request_form(actor, value)
        if action == ACCESS_WITHDRAW:
            return [self._withdrawn(await self.access.cancel(actor, value))]
        if action == ACCESS_DENY:
            return await self._deny_form(actor, value)
        if action == ACCESS_APPROVE:
            try:
                decision = await self.access.decide(actor, value, approve=True)
            except Refusal as refusal:
                return [Reply(refusal.user_message, ephemeral=True)]
            return self._decided(decision)
        return [self._stale()]

    async def _claim_access(self, actor: Actor, token: str) -> str | None:
        """Claim an access-request confirmation of ``actor``; the catalogue key, or None.

        Looked at before claiming, so a token of another flow is left alone.
        """
        pending = await self.store.peek_pending(token, actor.slack_user_id)
        if pending is None or pending.kind != ACCESS_KIND:
            return None
        claimed = await self.store.claim_pending(token, actor.slack_user_id)
        return str(claimed.payload.get("group", "")) if claimed is not None else None

    async def _request_form(self, actor: Actor, token: str) -> list[Reply]:
        assert self.access is not None
        pending = await self.store.peek_pending(token, actor.slack_user_id)
        entry = self.access.catalogue.get(str(pending.payload.get("group"))) if pending else None
        if entry is None:
            return [self._stale()]
        fields: list[FormField] = []
        if entry.justification_required:
            fields.append(
                FormField(
                    "justification", "Why do you need it?", multiline=True,
                    min_length=self.access.settings.justification_min_length,
                    hint="Your approvers will read this.",
                )
            )
        durations = self.access.durations_for(entry)
        if durations:
            fields.append(
                FormField(
                    "duration", "For how long?",
                    choices=[(_human(d), str(int(d.total_seconds()))) for d in durations],
                    hint="You'll be removed from the group when this ends.",
                )
            )
        form = Form(
            ACCESS_FORM, token, "Request access", "Send request",
            f"Access to *{entry.display_name}*. {_approval_path(entry)}", fields,
        )
        return [Reply(form.intro, form=form)]

    async def _deny_form(self, actor: Actor, request_id: str) -> list[Reply]:
        assert self.access is not None
        try:
            snap = await self.access.authorise(actor, request_id)
        except Refusal as refusal:
            return [Reply(refusal.user_message, ephemeral=True)]
        if snap is None:
            return [self._gone()]
        if snap.request.state != "pending":
            return self._decided(Decision(DecisionOutcome.ALREADY_DECIDED, snap))
        req = snap.request
        form = Form(
            ACCESS_DENY, req.id, "Deny access", "Deny",
            f"Deny <@{req.requester}>'s request for *{req.group_name}*? They will see your reason.",
            [FormField("reason", "Reason", multiline=True, min_length=3)],
        )
        return [Reply(form.intro, form=form)]

    async def form_errors(
        self, slack_user: str, action: str, value: str, values: Mapping[str, str]
    ) -> dict[str, str]:
        """Problems with a submitted form, by field; empty when it can be acted on.

        Cheap (no directory call): Slack needs the answer within three seconds.
        """
        if self.access is None:
            return {}
        errors: dict[str, str] = {}
        if action == ACCESS_DENY:
            if len(values.get("reason", "").strip()) < 3:
                errors["reason"] = "Please give a reason: the requester will see it."
            return errors
        if action != ACCESS_FORM:
            return errors
        pending = await self.store.peek_pending(value, slack_user)
        entry = self.access.catalogue.get(str(pending.payload.get("group"))) if pending else None
        if entry is None:
            return errors  # stale: answered with a message once the form closes
        minimum = self.access.settings.justification_min_length
        if entry.justification_required and len(values.get("justification", "").strip()) < minimum:
            errors["justification"] = f"Please write at least {minimum} characters."
        durations = self.access.durations_for(entry)
        if durations and _duration(values.get("duration", "")) not in durations:
            errors["duration"] = "Please choose how long you need it."
        return errors

    async def on_form(
        self, actor: Actor, action: str, value: str, values: Mapping[str, str]
    ) -> FormResult:
        """A submitted form: the request with its justification and duration, or a denial."""
        new_correlation_id()
        errors = await self.form_errors(actor.slack_user_id, action, value, values)
        if errors:
            return FormResult(errors=errors)
        if self.access is None:
            return FormResult(replies=[self._stale()])
        if action == ACCESS_DENY:
            reason = " ".join(values.get("reason", "").split())[:MAX_REASON]
            try:
                decision = await self.access.decide(actor, value, approve=False, reason=reason)
            except Refusal as refusal:
                return FormResult(replies=[Reply(refusal.user_message)])
            return FormResult(replies=self._decided(decision))
        if action != ACCESS_FORM:
            return FormResult(replies=[self._stale()])
        key = await self._claim_access(actor, value)
        if key is None:
            return FormResult(replies=[self._stale()])
        replies = await self._submit(
            actor, key, values.get("justification", ""), _duration(values.get("duration", ""))
        )
        return FormResult(replies=replies)

    async def _submit(
        self, actor: Actor, key: str, justification: str, duration: timedelta | None
    ) -> list[Reply]:
        assert self.access is not None
        try:
            submitted = await self.access.submit(actor, key, justification, duration)
        except Refusal as refusal:
            return [Reply(refusal.user_message, replaces_prompt=True)]
        return [_submitted(submitted, self.service._where_to_go())]

    def _decided(self, decision: Decision) -> list[Reply]:
        """What the clicking approver sees; the approval messages themselves are updated."""
        snap = decision.snapshot
        outcome = decision.outcome
        if outcome is DecisionOutcome.UNKNOWN or snap is None:
            return [self._gone()]
        if outcome is DecisionOutcome.ALREADY_DECIDED:
            return [
                Reply(_already_decided(snap), ephemeral=True),
                _in_place(approval_card(snap)),
            ]
        if outcome is DecisionOutcome.ALREADY_VOTED:
            return [Reply(_already_voted(snap), ephemeral=True)]
        return []

    def _withdrawn(self, decision: Decision) -> Reply:
        snap = decision.snapshot
        if decision.outcome is DecisionOutcome.CANCELLED and snap is not None:
            return Reply(
                f"Cancelled your request for *{snap.request.group_name}*. Nothing was changed.",
                replaces_prompt=True,
            )
        if snap is None:
            return self._stale()
        return Reply(
            f"Your request for *{snap.request.group_name}* can't be cancelled any more: "
            f"{_status(snap)}",
            replaces_prompt=True,
        )

    def _gone(self) -> Reply:
        return Reply(
            "This access request no longer exists, so nothing was changed.",
            replaces_prompt=True,
            in_place_only=True,
        )

    async def home(self, actor: Actor) -> Home:
        """The App Home: help, the employee's own requests and requests waiting for them.

        An IT admin also gets the admin sections (from ``admin``); anyone else none.
        """
        help_reply = self._help()
        sections = await self.admin.home_sections(actor) if self.admin is not None else ()
        if self.access is None:
            return Home(help_reply, sections=sections)
        mine = [_my_request(r) for r in await self.access.my_requests(actor)]
        waiting: list[Reply] = []
        for row in await self.access.waiting_for_me(actor):
            snap = await self.access.snapshot(row.id)
            if snap is not None:
                waiting.append(approval_card(snap))
        return Home(help_reply, mine, waiting, sections)

    # -- the IT admins' view --------------------------------------------------------------
    async def _admin_status(self, actor: Actor) -> list[Reply]:
        if self.admin is None:
            return [
                Reply(
                    "Connector status isn't available here. "
                    f"Please ask {self.service._where_to_go()}."
                )
            ]
        return await self.admin.status(actor)


# -- wording of access requests (shared by Slack and the terminal) ---------------------
_STATE_WORDS = {
    "pending": "waiting for approval",
    "approved": "approved, being added",
    "fulfilled": "granted",
    "denied": "denied",
    "expired": "expired",
    "cancelled": "cancelled",
    "failed": "approved, but adding failed",
    "revoked": "ended",
}


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}" if n == 1 else f"{n} {unit}s"
    return f"{seconds} seconds"


def _duration(value: str) -> timedelta | None:
    return timedelta(seconds=int(value)) if value.isdigit() else None


def _escape(text: str) -> str:
    """Employee-written text shown in mrkdwn: no mentions, links or @channel smuggled in."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _in_place(reply: Reply) -> Reply:
    return Reply(reply.text, reply.buttons, replaces_prompt=True, fields=reply.fields,
                 in_place_only=True)


def _who(users: Sequence[str]) -> str:
    names = [f"<@{u}>" for u in users]
    if len(names) <= 1:
        return names[0] if names else "an approver"
    return ", ".join(names[:-1]) + " and " + names[-1]


def _approval_path(entry: CatalogueEntry) -> str:
    if entry.auto_approve:
        return "It's approved automatically."
    words = {"user": "named approvers", "usergroup": "the approvers' group",
             "manager": "your manager", "channel": ""}
    who = [w for w in dict.fromkeys(words[approver_kind(a)] for a in entry.approvers) if w]
    many = entry.approvals_required
    needed = "one approval" if many == 1 else f"{many} approvals from different people"
    return f"It needs {needed} ({' or '.join(who)})."


def _destination(ref: str) -> str:
    if ref.startswith("#"):
        return ref
    return f"<#{ref}>" if ref[:1] in {"C", "G"} else f"<@{ref}>"


def _already_open(snap: AccessSnapshot) -> Reply:
    req = snap.request
    if req.state == "approved":
        return Reply(f"Your request for *{req.group_name}* is approved; I'm adding you now.")
    return Reply(
        f"You already have a request for *{req.group_name}*, sent {_when(req.created_at)} and "
        f"{_progress(snap)}. I'll tell you when it's decided.",
        [Button("Cancel request", ACCESS_WITHDRAW, req.id, "danger")],
    )


def _progress(snap: AccessSnapshot) -> str:
    req = snap.request
    if req.approvals_required > 1:
        return f"waiting for approval ({req.approvals} of {req.approvals_required} so far)"
    return "waiting for approval"


def _submitted(submitted: Submitted, where_to_go: str) -> Reply:
    snap = submitted.snapshot
    req = snap.request
    if not submitted.created:
        open_reply = _already_open(snap)
        return Reply(open_reply.text, open_reply.buttons, replaces_prompt=True)
    if req.state == "fulfilled":
        return Reply(f"Done: you're now a member of *{req.group_name}*.{_until(req)}",
                     replaces_prompt=True)
    if req.state == "approved":
        return Reply(
            f"Your request for *{req.group_name}* is approved. The directory isn't answering "
            "right now; I'll add you as soon as it does and tell you here.",
            replaces_prompt=True,
        )
    if req.state == "failed":
        return Reply(
            f"Your request for *{req.group_name}* was approved, but I couldn't add you. "
            f"Please ask {where_to_go}.",
            replaces_prompt=True,
        )
    sent_to = ", ".join(_destination(d) for d in submitted.notified) or "the approvers"
    return Reply(
        f"Sent: your request for *{req.group_name}* is with {sent_to}. I'll tell you here when "
        f"it's decided; it expires {_when(req.expires_at)} if nobody does.",
        [Button("Cancel request", ACCESS_WITHDRAW, req.id, "danger")],
        replaces_prompt=True,
    )


def _until(req: AccessRequest) -> str:
    return f" Your access ends {_when(req.access_until)}." if req.access_until else ""


def _status(snap: AccessSnapshot) -> str:
    """One line: what became of the request, by whom."""
    req = snap.request
    approved = _who(snap.approved_by) if snap.approved_by else ""
    if req.state == "pending":
        if snap.approved_by:
            return (f"Approved by {approved} ({req.approvals} of {req.approvals_required}); "
                    "waiting for another approver.")
        return "Waiting for a decision."
    if req.state == "approved":
        return f"Approved by {approved or _who([req.decided_by or req.requester])}; adding now."
    if req.state == "fulfilled":
        by = f" by {approved}" if approved else " automatically"
        granted = _when(req.fulfilled_at or req.updated_at)
        return f"Approved{by}: access granted {granted}.{_until(req)}"
    if req.state == "denied":
        return f"Denied by <@{req.decided_by}>: {_escape(req.reason or 'no reason given')}"
    if req.state == "expired":
        return f"Expired {_when(req.decided_at or req.updated_at)}: nobody decided in time."
    if req.state == "cancelled":
        return "Cancelled by the requester."
    if req.state == "failed":
        return f"Approved by {approved}, but adding failed ({req.reason}). IT will follow up."
    if req.state == "revoked":
        ended = _when(req.revoked_at or req.updated_at)
        return f"Approved by {approved or 'the approvers'}; the access ended {ended}."
    return req.state


def approval_card(snap: AccessSnapshot) -> Reply:
    """The approvers' message: who, what, why, for how long; Approve/Deny while pending."""
    req = snap.request
    text = (
        f"*Access request*: <@{req.requester}> ({req.requester_email}) asks to join "
        f"*{req.group_name}* ({req.provider}).\n{_status(snap)}"
    )
    duration = (
        _human(timedelta(seconds=req.duration_seconds)) if req.duration_seconds else "No end date"
    )
    fields = [
        ("Why", _escape(req.justification or "Not given")),
        ("For how long", duration),
        ("Approvals needed", str(req.approvals_required)),
        ("Requested", _when(req.created_at)),
    ]
    buttons: list[Button] = []
    if req.state == "pending":
        buttons = [
            Button("Approve", ACCESS_APPROVE, req.id, "primary"),
            Button("Deny", ACCESS_DENY, req.id, "danger"),
        ]
    return Reply(text, buttons, fields=tuple(fields))


def reminder_text(snap: AccessSnapshot) -> str:
    req = snap.request
    return (
        f"Reminder: <@{req.requester}>'s request for *{req.group_name}* is still waiting for a "
        f"decision. It expires {_when(req.expires_at)}."
    )


def requester_news(snap: AccessSnapshot, event: Event) -> Reply:
    """What the requester is told when something happens to their request."""
    req = snap.request
    name = f"*{req.group_name}*"
    cancel = [Button("Cancel request", ACCESS_WITHDRAW, req.id, "danger")]
    if event is Event.APPROVAL_RECORDED:
        more = req.approvals_required - req.approvals
        return Reply(
            f"{_who(snap.approved_by)} approved your request for {name}; it needs {more} more "
            f"approval{'s' if more != 1 else ''}.",
        )
    if event is Event.FULFILLED:
        by = f" (approved by {_who(snap.approved_by)})" if snap.approved_by else ""
        return Reply(f"You're now a member of {name}{by}.{_until(req)}")
    if event is Event.DENIED:
        return Reply(
            f"Your request for {name} was denied by <@{req.decided_by}>: "
            f"{_escape(req.reason or 'no reason given')}"
        )
    if event is Event.EXPIRED:
        return Reply(
            f"Your request for {name} expired: nobody decided in time. You can ask again."
        )
    if event is Event.REMINDED:
        return Reply(
            f"Your request for {name} is still waiting; I've reminded the approvers.", cancel
        )
    if event is Event.RETRYING:
        return Reply(
            f"Your request for {name} is approved, but the directory isn't answering. I'll keep "
            "trying and tell you when you're in."
        )
    if event is Event.FAILED:
        return Reply(
            f"Your request for {name} was approved, but I couldn't add you "
            f"({req.reason}). IT has the details in the audit trail; please ask them."
        )
    if event is Event.ENDING_SOON:
        return Reply(
            f"Heads-up: your access to {name} ends {_when(req.access_until or req.updated_at)}. "
            "Ask again if you still need it."
        )
    return Reply(f"Your time-bound access to {name} has ended; you've been removed from it.")


def _already_decided(snap: AccessSnapshot) -> str:
    req = snap.request
    return f"This request for *{req.group_name}* was already handled: {_status(snap)}"


def _already_voted(snap: AccessSnapshot) -> str:
    if snap.request.state == "pending":
        return "You already approved this request; it's waiting for another approver."
    return _already_decided(snap)


def _my_request(req: AccessRequest) -> Reply:
    text = f"*{req.group_name}*: {_STATE_WORDS.get(req.state, req.state)} ({_when(req.created_at)})"
    if req.state == "fulfilled" and req.access_until:
        text += f", until {_when(req.access_until)}"
    buttons = (
        [Button("Cancel request", ACCESS_WITHDRAW, req.id, "danger")]
        if req.state == "pending"
        else []
    )
    return Reply(text, buttons)


__all__ = [
    "ACCESS_APPROVE",
    "ACCESS_DENY",
    "ACCESS_FORM",
    "ACCESS_PICK",
    "ACCESS_REQUEST",
    "ACCESS_WITHDRAW",
    "CANCEL",
    "CONFIRM",
    "FORM_ACTIONS",
    "SECRET_DONE",
    "START",
    "AdminDesk",
    "Button",
    "Conversation",
    "Form",
    "FormField",
    "FormResult",
    "Home",
    "HomeSection",
    "Reply",
    "approval_card",
    "is_request_id",
    "reminder_text",
    "requester_news",
]


